//! labrun runs socket-programming lab scenarios for real and checks what happened.
//!
//! # Layout
//!
//! One flow, left to right; each arrow hands a plain data type to the next stage:
//!
//! ```text
//! scenario.toml ──scenario──> Plan ──engine──> Events ──transcript──> Transcript ──snapshot──> verdict
//!                                   │   ▲
//!                            actor ─┘   └─ observe
//!            (reference tasks or external     (socket tables: readiness,
//!             programs on a pseudo-terminal)   who owns a port)
//! ```
//!
//! - [`scenario`]: the TOML schema, validation with positions, the resolved [`scenario::Plan`].
//! - [`actor`]: the lab's four programs as reference tasks, and external programs.
//! - [`sandbox`]: the run's network, chosen once ([`sandbox::network`]): a private namespace,
//!   or the machine's with ports of the run's own ([`sandbox::ports`]); what keeps its
//!   programs from harming it, each other and the machine: users of their own
//!   ([`sandbox::users`]), a pid namespace with its own `/proc` and `/tmp`
//!   ([`sandbox::pids`]), process caps.
//! - [`engine`]: runs a plan (start order, readiness, delays, timeouts, shutdown) into events;
//!   on a shared network it runs the plan with the real ports and hands back a record
//!   with the declared ones.
//! - [`observe`]: the kernel's socket tables and the packet capture on the run's loopback.
//! - [`transcript`]: the event model, normalisation (ports, scenario time, order), rendering.
//! - [`snapshot`]: `.snap` files in insta's format, update modes, diffs.
//! - [`check`]: rubric checks over a transcript, with points and hints.
//! - [`report`]: reports of a graded run (JSON, JUnit, Gradescope).
//! - [`diagram`]: sequence diagrams of a transcript, for the terminal, Mermaid and SVG.
//! - [`html`]: the self-contained HTML page of a run, and a class's index page.
//! - [`grade`]: a whole class: builds, parallel runs, feedback files, summaries.
//! - [`journal`]: what `labrun grade` has finished, written as it goes: each submission's
//!   results and a journal line, for `--resume` and against crashes.
//! - [`merge`]: the slices of a class graded on several machines (`--partition`), each
//!   saying what it is in `slice.json`, checked and merged into the class's results.
//! - [`autograder`]: a submission's Gradescope and PrairieLearn results, and the packages
//!   those platforms take.
//! - [`doctor`]: what the machine allows a run, and how to get the full isolation.
//! - [`signals`]: SIGINT and SIGTERM stop a run or a class cleanly (exit 130, 143).
//! - [`scratch`]: labrun's scratch folders, one locked folder per process, swept when its
//!   process is gone.
//! - [`cli`]: the command line, what is printed, exit codes.
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

pub mod actor;
pub mod autograder;
pub mod check;
pub mod cli;
pub mod diagram;
pub mod doctor;
pub mod engine;
#[doc(hidden)]
pub mod fuzz;
pub mod grade;
pub mod html;
mod instance;
pub mod journal;
pub mod merge;
mod netlink;
pub mod observe;
pub mod record;
pub mod report;
pub mod sandbox;
pub mod scenario;
pub mod scratch;
pub mod signals;
pub mod snapshot;
mod term;
pub mod transcript;
