//! labrun runs socket-programming lab scenarios for real and checks what happened.
//!
//! # Layout
//!
//! One flow, left to right; each arrow hands a plain data type to the next stage:
//!
//! ```text
//! scenario.toml ──scenario──> Plan ──engine──> RunRecord ──transcript──> Transcript ──snapshot──> verdict
//!                                   │   ▲                                    └──check──> Report
//!                            actor ─┘   └─ observe
//!            (reference tasks or external     (socket tables: readiness,
//!             programs on a pseudo-terminal)   who owns a port; the capture)
//! ```
//!
//! Around that flow, the commands, each ending in a value that one function turns into the
//! exit code:
//!
//! ```text
//! labrun SCENARIO ──cli──> session::run_scenario (the flow above; what it shows goes to a
//!                          Reporter) ──> ScenarioRun ─┐
//! labrun grade ─────cli──> grade (builds; one labrun child per submission × direction;
//!                          journal, feedback, summaries) ──> ClassSummary ─┼──> Summary or
//! labrun merge-grades, autograder, doctor ──cli──> merge, autograder, doctor ┘    Error
//!                                                       ──cli::exit_code──> exit code
//! ```
//!
//! The data on the arrows lives at the bottom, in [`record`], which uses no stage; each
//! stage uses only the ones before it and the modules below them all. (A test,
//! `tests/integration/layout.rs`, computes the module graph and fails on a cycle.)
//!
//! The stages:
//!
//! - [`scenario`]: the TOML schema, validation with positions, the resolved [`scenario::Plan`],
//!   and the tolerant patterns its checks are written in.
//! - [`actor`]: the lab's four programs as reference tasks, and external programs; they
//!   report what they do as [`record::EventKind`]s.
//! - [`sandbox`]: the run's network, chosen once ([`sandbox::network`], which also asks
//!   whether packets can be captured): a private namespace,
//!   or the machine's with ports of the run's own ([`sandbox::ports`]); what keeps its
//!   programs from harming it, each other and the machine: users of their own
//!   ([`sandbox::users`]), a pid namespace with its own `/proc` and `/tmp`
//!   ([`sandbox::pids`]), process caps.
//! - [`engine`]: runs a plan (start order, readiness, delays, timeouts, shutdown) into a
//!   [`record::RunRecord`]; on a shared network it runs the plan with the real ports and
//!   hands back a record with the declared ones.
//! - [`observe`]: the kernel's socket tables and the packet capture on the run's loopback.
//! - [`transcript`]: normalisation of a record (ports, scenario time, order), rendering,
//!   and the live view of a run.
//! - [`snapshot`]: `.snap` files in insta's format, update modes, diffs.
//! - [`check`]: rubric checks over a transcript, with points and hints.
//! - [`report`]: reports of a graded run (JSON, JUnit, Gradescope).
//! - [`diagram`]: sequence diagrams of a transcript, for the terminal, Mermaid and SVG.
//! - [`html`]: the self-contained HTML page of a run, and a class's index page.
//! - [`grade`]: a whole class: builds, parallel runs, feedback files, summaries; its
//!   [`grade::journal`] keeps what is finished as it goes, for `--resume` and against crashes.
//! - [`merge`]: the slices of a class graded on several machines (`--partition`), each
//!   saying what it is in `slice.json`, checked and merged into the class's results.
//! - [`autograder`]: a submission's Gradescope and PrairieLearn results, and the packages
//!   those platforms take.
//! - [`doctor`]: what the machine allows a run, and how to get the full isolation.
//! - [`signals`]: SIGINT and SIGTERM stop a run or a class cleanly (exit 130, 143).
//! - [`scratch`]: labrun's scratch folders, one locked folder per process, swept when its
//!   process is gone.
//! - [`session`]: what a command came to, as values: a scenario's verdict, a class's
//!   summary, what was merged or packaged, and typed errors (invalid input, or labrun unable
//!   to do its work); and one scenario's run into its verdict, printing nothing (what it
//!   shows as it goes goes to a reporter).
//! - [`cli`]: the command line, one file per command family, the terminal's reporter and
//!   what is printed, and the one function that maps a command's summary or error to its
//!   exit code.
//!
//! At the bottom, using no stage:
//!
//! - [`record`]: the run record (events, packets, socket rows, checkpoints, why an actor
//!   never started), protocols, TCP flags and states, the kinds and data of transcript
//!   entries, C-string rendering, time scaling and scenario time as text.
//! - `netlink`: the framing of netlink messages, for the sandbox's route change and the
//!   observers' socket dump.
//! - `term`: whether to colour, the terminal's size, text fitted to a width.
//! - `instance`: this labrun process's id outside its namespaces.
//!
//! Only the engine and the actors are async; everything else is plain functions over data.

/// `eprintln!` for labrun's own messages, shrugging off a closed standard error
/// (`labrun … 2>&1 | head`): a message nobody reads must not become a panic.
macro_rules! tell {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// [`tell!`] without the newline.
macro_rules! tell_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

/// `println!` shrugging off a closed standard output, like [`tell!`].
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

pub(crate) mod actor;
pub(crate) mod autograder;
pub(crate) mod check;
pub mod cli;
pub(crate) mod diagram;
pub(crate) mod doctor;
pub(crate) mod engine;
pub mod exit;
#[doc(hidden)]
pub mod fuzz;
pub(crate) mod grade;
pub(crate) mod html;
mod instance;
pub(crate) mod merge;
mod netlink;
pub(crate) mod observe;
pub(crate) mod record;
pub(crate) mod report;
pub mod sandbox;
pub mod scenario;
pub mod scratch;
pub(crate) mod session;
pub mod signals;
pub mod snapshot;
mod term;
pub(crate) mod transcript;
