//! What a command came to: the summary values and the errors that the command line
//! ([`crate::cli`]) prints and turns into an exit code once, at the end.
//!
//! Every command gives a [`Summary`] or an [`Error`]. A summary says how the work went
//! (a scenario matched its snapshot or differed, a class passed, slices were merged,
//! a signal stopped it all); an error says that the work could not be done, and of
//! which kind: the input is invalid (exit 2: the command line, a scenario, a course, the
//! slices given to `merge-grades`) or labrun itself could not do its work (exit 3: its
//! files, its runtime, the machine).
//!
//! `run_scenario` runs one scenario into its [`ScenarioRun`]; what it shows as it goes
//! (the live view, the transcript, warnings, files written) it hands to a `Reporter`,
//! and prints nothing itself.

mod run;

pub use run::PROTECTION_LACKING;
pub(crate) use run::{Notice, Reporter, RunEngine, Settings, run_scenario};

use std::path::PathBuf;
use std::time::Duration;

use crate::actor::ExternalError;
use crate::autograder::{AutograderError, Platform};
use crate::engine::EngineError;
use crate::grade::{ClassSummary, CourseError, GradeError, Outcome};
use crate::merge::MergeError;
use crate::sandbox::network::NetworkError;
use crate::sandbox::users::RangeError;
use crate::scenario::ScenarioError;
use crate::snapshot::SnapshotError;

/// What a command came to, when it could do its work.
#[derive(Debug)]
pub enum Summary {
    /// `labrun SCENARIO`: one scenario ran.
    Scenario(ScenarioRun),
    /// `labrun SCENARIO…`: each scenario ran in a labrun of its own, in order.
    Scenarios {
        /// How each labrun ended, in the order of the scenarios that ran.
        ends: Vec<ChildEnd>,
        /// The SIGINT or SIGTERM that stopped the scenarios before the last one.
        interrupted: Option<i32>,
    },
    /// `labrun grade`: the whole class (or slice) was graded and its results written.
    Class {
        summary: ClassSummary,
        /// Where the feedback and the summary are.
        out: PathBuf,
    },
    /// `labrun grade` stopped by a signal: what was graded so far, no summary written.
    ClassInterrupted { signal: i32, outcomes: Vec<Outcome> },
    /// `labrun merge-grades`: `count` submissions merged into `out`.
    Merged { count: usize, out: PathBuf },
    /// `labrun autograder`: the package for `platform` written to `out`.
    Packaged { platform: Platform, out: PathBuf },
    /// `labrun doctor`: the report, for standard output.
    Diagnosis(String),
    /// `labrun doctor --probe`: whether the first thing tried was allowed.
    Probe { allowed: bool },
    /// `labrun ref`: a lab program run by hand, with the exit status the C program would
    /// have (its own, not labrun's table).
    Program { status: i32 },
}

/// One scenario's run.
#[derive(Debug)]
pub struct ScenarioRun {
    /// The scenario's name.
    pub name: String,
    /// How long the run took, in real time.
    pub elapsed: Duration,
    pub verdict: ScenarioVerdict,
}

/// What one scenario's run came to.
#[derive(Debug)]
pub enum ScenarioVerdict {
    /// The transcript matches its snapshot.
    Matched {
        snapshot: PathBuf,
        compared: Compared,
    },
    /// `--update` (or a first run outside CI) wrote the snapshot.
    Updated { snapshot: PathBuf },
    /// The transcript differs from its snapshot: `expected` and `actual` are what was
    /// compared, for the difference.
    Differed {
        snapshot: PathBuf,
        expected: String,
        actual: String,
        compared: Compared,
    },
    /// There is no snapshot to compare with.
    NoSnapshot {
        snapshot: PathBuf,
        compared: Compared,
    },
    /// `--no-snapshot`: the run was only printed.
    Unchecked { timed_out: bool },
    /// With `--with` and a rubric, the rubric decides; `help` is the reference snapshot and
    /// this run's transcript when they differ (shown as help, not the verdict).
    Rubric {
        passed: bool,
        help: Option<(String, String)>,
    },
    /// A SIGINT or SIGTERM stopped the run: what ran was printed, compared with nothing.
    Interrupted { signal: i32 },
}

/// What a transcript was compared with its snapshot on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compared {
    /// Everything. `pending` is the `.snap.new` written beside the snapshot when the
    /// transcript differs or has none (none is written in CI).
    Whole { pending: Option<PathBuf> },
    /// All but the packets: this run has no capture (and writes no `.snap.new`).
    ButPackets,
}

/// How the labrun of one of several scenarios ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildEnd {
    /// It exited with this code.
    Exited(i32),
    /// It ended without an exit code (killed by a signal).
    Killed,
    /// It could not be started.
    NotStarted,
}

/// Why a command could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A scenario file cannot be read or is invalid.
    #[error("{}", chain(.0))]
    Scenario(ScenarioError),
    /// The command line asks for something that cannot be.
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// `--uid-range` or `LABRUN_UID_RANGE` is no range of uids.
    #[error(transparent)]
    UidRange(#[from] RangeError),
    /// The course file cannot be read or is invalid.
    #[error(transparent)]
    Course(#[from] CourseError),
    /// A class cannot be graded: invalid (exit 2) or labrun's own files (exit 3).
    #[error(transparent)]
    Grade(#[from] GradeError),
    /// `merge-grades`: folders that are not the slices of one class (exit 2), or the merged
    /// results could not be written (exit 3).
    #[error(transparent)]
    Merge(MergeError),
    /// `labrun grade` could not write, or remove, its own `slice.json`.
    #[error(transparent)]
    Slice(MergeError),
    /// A package cannot be made: its course is invalid (exit 2) or its files (exit 3).
    #[error("{}", chain(.0))]
    Autograder(AutograderError),
    /// labrun cannot find its own executable, to run itself.
    #[error("cannot find its own executable: {0}")]
    OwnExecutable(#[source] std::io::Error),
    /// The async runtime of a lab program run by hand cannot start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The run's network cannot be had on this machine.
    #[error(transparent)]
    Network(#[from] NetworkError),
    /// An external resolver is statically linked where it would read the machine's
    /// `/etc/hosts`.
    #[error(
        "{} is statically linked: without a private /etc/hosts (none can be made here) it would read the machine's, so its answers cannot be graded; link it dynamically (no -static) or run labrun where it may create namespaces",
        .program.display()
    )]
    StaticResolver { program: PathBuf },
    /// The run could not take place.
    #[error("{}", chain(.0))]
    Engine(#[from] EngineError),
    /// The snapshot could not be read or written.
    #[error("{}", chain(.0))]
    Snapshot(#[from] SnapshotError),
    /// `--update` of a run without a capture: the snapshot would lose its packets.
    #[error(
        "{name}: not written to {}: this run has no packet capture, and the snapshot would lose its packets",
        .snapshot.display()
    )]
    NoCaptureToWrite { name: String, snapshot: PathBuf },
    /// A file the command line asked for (`--pcap`, reports, pages) could not be written.
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<ScenarioError> for Error {
    fn from(error: ScenarioError) -> Self {
        Error::Scenario(error)
    }
}

impl From<AutograderError> for Error {
    fn from(error: AutograderError) -> Self {
        Error::Autograder(error)
    }
}

/// What the command line itself finds invalid (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("`--with {option}` must be ROLE=PROGRAM, such as `server=./serveur`")]
    WithNotRole { option: String },
    #[error("unknown role `{role}` in `--with`; the roles of {scenario} are: {}", .roles.join(", "))]
    UnknownRole {
        role: String,
        scenario: String,
        roles: Vec<String>,
    },
    #[error("role `{role}` is given twice with `--with`")]
    RoleTwice { role: String },
    #[error("--with {role}: {source}")]
    Program {
        role: String,
        #[source]
        source: ExternalError,
    },
    #[error(
        "--gradescope and --prairielearn would write the same file{}; give them different names",
        if *.per_submission { " in each submission's folder" } else { "" }
    )]
    SameResultsFile { per_submission: bool },
    #[error("submission {} is not a folder", .path.display())]
    NotAFolder { path: PathBuf },
}

/// `error`'s message followed by those of its sources, each after `: `.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
