//! The command line: `labrun SCENARIO…`, `labrun grade`, `labrun ref PROGRAM …` and the
//! others. Each command returns what it came to ([`crate::session`]): a summary or an
//! error; [`exit_code`] alone turns it into the exit code, at the end (ripgrep's
//! `main`/`try_main`).

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::actor::{ExternalCommand, RefParams, RefProgram, run_standalone};
use crate::autograder::AutograderError;
use crate::diagram::Diagram;
use crate::engine::{self, RunOptions};
use crate::grade::{ClassSummary, GradeError};
use crate::html::{Page, Reference};
use crate::merge::MergeError;
use crate::sandbox;
use crate::sandbox::users::UidRange;
use crate::scenario::{self, Plan, ScenarioError};
use crate::session::{
    ChildEnd, Compared, Error, ScenarioRun, ScenarioVerdict, Summary, UsageError,
};
use crate::snapshot::{self, UpdateMode, Verdict};
use crate::transcript;

pub use crate::exit;

/// Runs socket-programming lab scenarios for real and checks their transcripts.
#[derive(Debug, Parser)]
#[command(
    name = "labrun",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one of the lab's programs by hand, on the host: `labrun ref tcp-server A 4000`.
    #[command(subcommand)]
    Ref(RefCommand),
    /// Grade a whole class: `labrun grade courses/tp-sockets.toml submissions/*`.
    Grade(GradeArgs),
    /// What this machine allows a run (namespaces, capture, quick ACKs, …), which isolation
    /// runs get, and how to get the full one.
    Doctor(DoctorArgs),
    /// Package a ready autograder for a grading platform.
    #[command(subcommand)]
    Autograder(AutograderCommand),
    /// Merge the `--out` folders of `labrun grade --partition` slices into one: exit 2 when
    /// they are not every slice of one class, graded with one course and `--scenario`.
    MergeGrades {
        /// Where the merged summary and feedback go.
        #[arg(long, default_value = "grades")]
        out: PathBuf,
        /// The slices' `--out` folders.
        #[arg(required = true)]
        partials: Vec<PathBuf>,
    },
}

/// Options of `labrun doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Try one thing in this short-lived process (labrun starts it itself).
    #[arg(long, value_enum, hide = true)]
    pub probe: Option<crate::doctor::Probe>,
}

/// The platforms `labrun autograder` packages for.
#[derive(Debug, Subcommand)]
pub enum AutograderCommand {
    /// The zip to upload as a Gradescope programming assignment's autograder.
    Gradescope {
        /// The course file (its scenarios go in with it).
        course: PathBuf,
        /// The zip to write.
        #[arg(long, value_name = "FILE.zip")]
        out: PathBuf,
    },
    /// The grader folder to put in a PrairieLearn course's `serverFilesCourse`.
    Prairielearn {
        /// The course file (its scenarios go in with it).
        course: PathBuf,
        /// The folder to write (new, empty, or made by labrun before).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

/// Options of `labrun grade`.
#[derive(Debug, Args)]
pub struct GradeArgs {
    /// The course file: which file of a submission plays which role of which scenario.
    pub course: PathBuf,
    /// Submission folders (sources or binaries).
    #[arg(required = true)]
    pub submissions: Vec<PathBuf>,
    /// Runs at once (they mostly sleep, so far more than cores). Default: as many as the
    /// machine holds (its memory, open files and uids to lend).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Grade only what an earlier `labrun grade` of the same course into the same `--out`
    /// did not finish, or whose files changed since; then write the class's summary.
    #[arg(long)]
    pub resume: bool,
    /// Grade only this scenario (repeatable).
    #[arg(long = "scenario", value_name = "NAME")]
    pub scenarios: Vec<String>,
    /// Grade the K-th of N slices of the class (1-based), for a CI matrix.
    /// `K/N` or `count:K/N` (every N-th of the sorted class), or `hash:K/N` (by the
    /// submission's name: adding one moves no other).
    #[arg(long, value_name = "K/N", value_parser = crate::grade::Partition::parse)]
    pub partition: Option<crate::grade::Partition>,
    /// Where feedback files and the class summary go.
    #[arg(long, default_value = "grades")]
    pub out: PathBuf,
    /// Write Gradescope's `results.json` for the submission, all its directions: to FILE
    /// when one submission is graded; with several, each gets its own in its `--out`
    /// folder, named like FILE (`OUT/SUBMISSION/results.json`).
    #[arg(long, value_name = "FILE")]
    pub gradescope: Option<PathBuf>,
    /// Write PrairieLearn's external-grader `results.json`, as `--gradescope` does.
    #[arg(long, value_name = "FILE")]
    pub prairielearn: Option<PathBuf>,
    /// When labrun is root: the uids (and gids) that programs and compilers run as, one
    /// of its own each (default: `LABRUN_UID_RANGE`, else 61000-61999).
    #[arg(long, value_name = "FIRST-LAST")]
    pub uid_range: Option<UidRange>,
}

/// Options for running scenarios.
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// Scenario files to run (each in its own private network).
    #[arg(required = true, value_name = "SCENARIO")]
    pub scenarios: Vec<PathBuf>,
    /// Play ROLE with PROGRAM (`server=./serveur`), or a full command line with `{id}`,
    /// `{host}` and `{port}` (`"client=./clientt {id} localhost {port}"`). Repeatable.
    #[arg(long = "with", value_name = "ROLE=PROGRAM")]
    pub with: Vec<String>,
    /// Multiply the reference programs' delays by F (0 = no waiting). Transcripts show
    /// scenario time, so they are the same at any scale.
    #[arg(long, value_name = "F", default_value = "1", value_parser = parse_scale)]
    pub time_scale: f64,
    /// Write the snapshot with this run's transcript (accept it).
    #[arg(long, conflicts_with = "no_snapshot")]
    pub update: bool,
    /// Only run and print the transcript; compare with no snapshot.
    #[arg(long)]
    pub no_snapshot: bool,
    /// Transcript format on standard output.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Folder of the snapshot files (default: `snapshots/` beside the scenario's folder).
    #[arg(long, value_name = "DIR")]
    pub snapshot_dir: Option<PathBuf>,
    /// Print no transcript, only the verdict.
    #[arg(long, short)]
    pub quiet: bool,
    /// Write the packets captured on the run's loopback to FILE (pcap, for Wireshark and
    /// tshark). With several scenarios, each gets FILE with its name added.
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// Capture no packets (the socket tables are still taken): for measuring what the
    /// capture costs.
    #[arg(long)]
    pub no_capture: bool,
    /// Write the rubric's report as JSON (with `--with`, when the scenario grades that role).
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,
    /// Write the rubric's report as JUnit XML.
    #[arg(long, value_name = "FILE")]
    pub report_junit: Option<PathBuf>,
    /// Write the rubric's report as Gradescope's `results.json`.
    #[arg(long, value_name = "FILE")]
    pub report_gradescope: Option<PathBuf>,
    /// Print the run as a sequence diagram instead of the transcript: `text` (Unicode
    /// lanes, 100 columns), `mermaid` (for Markdown) or `svg`.
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "text",
        conflicts_with = "format"
    )]
    pub diagram: Option<DiagramFormat>,
    /// Write a self-contained HTML page of the run into DIR (`DIR/SCENARIO.html`): the
    /// checks, the sequence diagram, the socket states, the transcript, the difference
    /// with the reference, the scenario.
    #[arg(long, value_name = "DIR")]
    pub report_html: Option<PathBuf>,
    /// When labrun is root: the uids (and gids) that external programs run as, one of its
    /// own each (default: `LABRUN_UID_RANGE`, else 61000-61999).
    #[arg(long, value_name = "FIRST-LAST")]
    pub uid_range: Option<UidRange>,
    /// A folder the external programs must not see, where the run can have mounts of its
    /// own: it shows empty to them (`labrun grade` hides the submissions and its outputs).
    /// Repeatable.
    #[arg(long, value_name = "DIR")]
    pub hide: Vec<PathBuf>,
}

/// The renderings of `--diagram`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagramFormat {
    Text,
    Mermaid,
    Svg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// The lab's four programs, runnable alone.
#[derive(Debug, Subcommand)]
pub enum RefCommand {
    /// `serveuru ID PORT`: the UDP server.
    UdpServer(ServerArgs),
    /// `clientu ID HOST PORT`: the UDP client.
    UdpClient(ClientArgs),
    /// `serveur ID PORT`: the iterative TCP server.
    TcpServer(ServerArgs),
    /// `clientt ID HOST PORT`: the TCP client.
    TcpClient(ClientArgs),
    /// Exercise 1.1: official name, aliases and addresses of NAME (`gethostbyname`).
    ResolveName { name: String },
    /// Exercise 1.1: official name, aliases and addresses of ADDR (`gethostbyaddr`).
    ResolveAddr { addr: String },
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    pub id: String,
    pub port: u16,
    /// Exchanges per connection (TCP).
    #[arg(long, default_value_t = 3)]
    pub exchanges: u32,
    /// Sleep after each reply.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub reply_delay: Duration,
    /// Sleep before closing a connection (lab question 8).
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub close_delay: Duration,
}

#[derive(Debug, Args)]
pub struct ClientArgs {
    pub id: String,
    pub host: String,
    pub port: u16,
    #[arg(long, default_value_t = 3)]
    pub exchanges: u32,
    /// Pause between a reply and the next question.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub pause: Duration,
}

fn parse_scale(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if !value.is_finite() || !(0.0..=1000.0).contains(&value) {
        return Err(format!("`{text}` is not a time scale between 0 and 1000"));
    }
    Ok(value)
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    scenario::duration::parse(text)
}

/// Runs the command line and returns the process exit code: the command gives a summary
/// or an error, and `finish` prints it and maps it to the code, once.
pub fn main(cli: Cli) -> i32 {
    crate::scratch::sweep_dead();
    finish(try_main(cli))
}

/// Runs the command: what it prints along the way (transcripts, progress, warnings) it
/// prints itself; what it came to is the value it returns.
fn try_main(cli: Cli) -> Result<Summary, Error> {
    match cli.command {
        Some(Command::Ref(command)) => run_ref(command),
        Some(Command::Grade(args)) => run_grade(&args),
        Some(Command::Doctor(DoctorArgs { probe: Some(kind) })) => Ok(Summary::Probe {
            allowed: crate::doctor::run_probe(kind),
        }),
        Some(Command::Doctor(DoctorArgs { probe: None })) => {
            Ok(Summary::Diagnosis(crate::doctor::diagnose().text()))
        }
        Some(Command::Autograder(command)) => run_autograder(&command),
        Some(Command::MergeGrades { out, partials }) => {
            let count = crate::merge::merge(&out, &partials).map_err(Error::Merge)?;
            Ok(Summary::Merged { count, out })
        }
        None if cli.run.scenarios.len() > 1 => run_each(&cli.run),
        None => run_one(&cli.run, &cli.run.scenarios[0]).map(Summary::Scenario),
    }
}

/// Prints what a command came to, its verdict or its error, and returns its exit code:
/// the one place where both are decided.
fn finish(result: Result<Summary, Error>) -> i32 {
    match &result {
        Ok(summary) => print_summary(summary),
        // The diagnostics of a scenario are lines of their own, each with its position.
        Err(Error::Scenario(ScenarioError::Invalid(diagnostics))) => tell_raw!("{diagnostics}"),
        Err(error) => tell!("labrun: {error}"),
    }
    exit_code(&result)
}

/// The exit code of what a command came to, as the README's table gives them: 0 when
/// everything matched or passed, 1 when something differed or failed, 2 for invalid
/// input, 3 when labrun could not do its work, 130 and 143 for SIGINT and SIGTERM.
pub fn exit_code(result: &Result<Summary, Error>) -> i32 {
    let failed_unless = |ok: bool| if ok { exit::OK } else { exit::FAILED };
    match result {
        Ok(Summary::Scenario(run)) => match &run.verdict {
            ScenarioVerdict::Matched { .. } | ScenarioVerdict::Updated { .. } => exit::OK,
            ScenarioVerdict::Differed { .. } | ScenarioVerdict::NoSnapshot { .. } => exit::FAILED,
            ScenarioVerdict::Unchecked { timed_out } => failed_unless(!timed_out),
            ScenarioVerdict::Rubric { passed, .. } => failed_unless(*passed),
            ScenarioVerdict::Interrupted { signal } => crate::signals::exit_code(*signal),
        },
        Ok(Summary::Scenarios {
            interrupted: Some(signal),
            ..
        })
        | Ok(Summary::ClassInterrupted { signal, .. }) => crate::signals::exit_code(*signal),
        // Each labrun decided its own code; the worst of them is the run's.
        Ok(Summary::Scenarios {
            ends,
            interrupted: None,
        }) => ends
            .iter()
            .map(|end| match end {
                ChildEnd::Exited(code) => *code,
                ChildEnd::Killed | ChildEnd::NotStarted => exit::ERROR,
            })
            .fold(exit::OK, i32::max),
        Ok(Summary::Class { summary, .. }) => failed_unless(summary.all_pass()),
        Ok(Summary::Merged { .. } | Summary::Packaged { .. } | Summary::Diagnosis(_)) => exit::OK,
        Ok(Summary::Probe { allowed }) => failed_unless(*allowed),
        Ok(Summary::Program { status }) => *status,
        Err(error) => match error {
            Error::Scenario(_)
            | Error::Usage(_)
            | Error::UidRange(_)
            | Error::Course(_)
            | Error::Grade(GradeError::Invalid(_))
            | Error::Autograder(AutograderError::Course(_)) => exit::USAGE,
            Error::Merge(MergeError::Write(_)) => exit::ERROR,
            Error::Merge(_) => exit::USAGE,
            Error::Grade(GradeError::Files(_))
            | Error::Slice(_)
            | Error::Autograder(AutograderError::Io { .. })
            | Error::OwnExecutable(_)
            | Error::Runtime(_)
            | Error::Network(_)
            | Error::StaticResolver { .. }
            | Error::Engine(_)
            | Error::Snapshot(_)
            | Error::NoCaptureToWrite { .. }
            | Error::Write { .. } => exit::ERROR,
        },
    }
}

/// Prints a summary's last lines: a scenario's verdict, a class's count, what was written.
fn print_summary(summary: &Summary) {
    match summary {
        Summary::Scenario(run) => print_scenario(run),
        Summary::Class { summary, out } => tell!(
            "labrun: {} of {} submissions pass; feedback and summary in {}",
            summary.passed,
            summary.submissions,
            out.display()
        ),
        Summary::ClassInterrupted { signal, outcomes } => {
            print_interrupted_grade(outcomes, *signal)
        }
        Summary::Merged { count, out } => {
            tell!("labrun: {count} submissions merged into {}", out.display());
        }
        Summary::Packaged {
            platform: crate::autograder::Platform::Gradescope,
            out,
        } => tell!(
            "labrun: wrote {}: upload it as the autograder of a Gradescope programming assignment",
            out.display()
        ),
        Summary::Packaged {
            platform: crate::autograder::Platform::PrairieLearn,
            out,
        } => {
            tell!(
                "labrun: wrote {}: put it in the course's serverFilesCourse/, and in the question's info.json:",
                out.display()
            );
            say!("{}", crate::autograder::prairielearn_info(out));
        }
        Summary::Diagnosis(text) => {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }
        // Each labrun printed its own verdict; a probe and a lab program print as they go.
        Summary::Scenarios { .. } | Summary::Probe { .. } | Summary::Program { .. } => {}
    }
}

/// A scenario's verdict: the line that says it, and the difference with the snapshot.
fn print_scenario(run: &ScenarioRun) {
    let name = &run.name;
    let took = format!("{:.1}s", run.elapsed.as_secs_f64());
    let color = crate::term::color_on_stderr();
    let (ok, cross) = if color {
        ("\x1b[32m✓\x1b[0m", "\x1b[31m✗\x1b[0m")
    } else {
        ("✓", "✗")
    };
    match &run.verdict {
        ScenarioVerdict::Matched {
            snapshot,
            compared: Compared::Whole { .. },
        } => tell!(
            "{ok} {name}: transcript matches {} ({took})",
            snapshot.display()
        ),
        ScenarioVerdict::Matched {
            snapshot,
            compared: Compared::ButPackets,
        } => tell!(
            "✓ {name}: transcript matches {} but for the packets, which this run could not capture ({took})",
            snapshot.display()
        ),
        ScenarioVerdict::Updated { snapshot } => {
            tell!("{ok} {name}: wrote {} ({took})", snapshot.display());
        }
        ScenarioVerdict::Differed {
            snapshot,
            expected,
            actual,
            compared,
        } => {
            if let Compared::Whole { pending } = compared {
                tell!(
                    "{cross} {name}: transcript differs from {} ({took}); - snapshot, + this run:",
                    snapshot.display()
                );
                tell_raw!("{}", snapshot::diff(expected, actual, color));
                hint_pending(pending.as_deref());
            } else {
                tell!(
                    "✗ {name}: transcript differs from {} ({took}; packets not compared: no capture); - snapshot, + this run:",
                    snapshot.display()
                );
                tell_raw!("{}", snapshot::diff(expected, actual, color));
            }
        }
        ScenarioVerdict::NoSnapshot { snapshot, compared } => {
            if let Compared::Whole { pending } = compared {
                tell!(
                    "{cross} {name}: no snapshot at {} ({took})",
                    snapshot.display()
                );
                hint_pending(pending.as_deref());
            } else {
                tell!(
                    "✗ {name}: no snapshot at {} ({took}); this run has no packet capture to write one",
                    snapshot.display()
                );
            }
        }
        ScenarioVerdict::Unchecked { .. } => {}
        ScenarioVerdict::Rubric { help, .. } => {
            if let Some((expected, actual)) = help {
                tell!(
                    "  (help, not the verdict) differences with the reference transcript, - reference, + this run:"
                );
                tell_raw!("{}", snapshot::diff(expected, actual, color));
            }
        }
        ScenarioVerdict::Interrupted { signal } => tell!(
            "labrun: {name}: interrupted by {} after {:.1}s; its programs are stopped, and what ran so far is above (not compared with anything)",
            crate::signals::name(*signal),
            run.elapsed.as_secs_f64()
        ),
    }
}

fn run_grade(args: &GradeArgs) -> Result<Summary, Error> {
    crate::signals::catch();
    let course = crate::grade::load_course(&args.course)?;
    let mut distinct = args.submissions.clone();
    distinct.sort();
    distinct.dedup();
    let one = distinct.len() == 1;
    if let (Some(a), Some(b)) = (&args.gradescope, &args.prairielearn) {
        let clash = if one {
            a == b
        } else {
            a.file_name() == b.file_name()
        };
        if clash {
            return Err(UsageError::SameResultsFile {
                per_submission: !one,
            }
            .into());
        }
    }
    if let Some(submission) = args.submissions.iter().find(|s| !s.is_dir()) {
        return Err(UsageError::NotAFolder {
            path: submission.clone(),
        }
        .into());
    }
    let uid_range = sandbox::users::range_from(args.uid_range)?;
    let options = crate::grade::GradeOptions {
        uid_range,
        jobs: args.jobs,
        only: args.scenarios.clone(),
        resume: args.resume,
        partition: args.partition,
        out: args.out.clone(),
        progress: std::io::stderr().is_terminal(),
        color: crate::term::color_on_stderr(),
    };
    crate::grade::check_out(&args.out)?;
    // Until this grade has written its results, its folder is no slice to merge.
    crate::merge::forget_slice(&args.out).map_err(Error::Slice)?;
    let outcomes = crate::grade::grade_class(&args.course, &course, &args.submissions, &options)?;
    if let Some(line) = outcomes.iter().find_map(|o| o.isolation.as_deref()) {
        tell!("{line}");
    }
    if let Some(signal) = crate::signals::received() {
        return Ok(Summary::ClassInterrupted { signal, outcomes });
    }
    crate::grade::write_results(&args.out, &outcomes)?;
    let platforms = [
        (crate::autograder::Platform::Gradescope, &args.gradescope),
        (
            crate::autograder::Platform::PrairieLearn,
            &args.prairielearn,
        ),
    ];
    for (platform, file) in platforms {
        if let Some(file) = file {
            crate::autograder::write_results(platform, file, &args.out, &outcomes, one)?;
        }
    }
    // Last: a slice.json says that everything above is there, for merge-grades.
    crate::merge::Slice::of_grade(
        &args.course,
        &args.scenarios,
        args.partition,
        &args.submissions,
        &outcomes,
    )
    .and_then(|slice| slice.write(&args.out))
    .map_err(Error::Slice)?;
    Ok(Summary::Class {
        summary: ClassSummary::of(&outcomes),
        out: args.out.clone(),
    })
}

/// `labrun grade` stopped by a signal: what was graded so far, and no summary written (a
/// summary of part of the class would read as the class's).
fn print_interrupted_grade(outcomes: &[crate::grade::Outcome], signal: i32) {
    let done: Vec<&crate::grade::Outcome> =
        outcomes.iter().filter(|o| o.verdict != "error").collect();
    tell!(
        "labrun: interrupted by {}: {} of {} runs were done; each submission graded whole has \
         its feedback, no summary is written (`labrun grade … --resume` grades the rest)",
        crate::signals::name(signal),
        done.len(),
        outcomes.len()
    );
    let mut names: Vec<&str> = done.iter().map(|o| o.submission.as_str()).collect();
    names.dedup();
    for name in names {
        let mine: Vec<&&crate::grade::Outcome> =
            done.iter().filter(|o| o.submission == name).collect();
        let score: u64 = mine.iter().map(|o| o.score).sum();
        let max: u64 = mine.iter().map(|o| o.max_score).sum();
        let graded: Vec<String> = mine
            .iter()
            .map(|o| format!("{}:{} {}", o.scenario, o.role, o.verdict))
            .collect();
        tell!("  {name}: {score}/{max} so far ({})", graded.join(", "));
    }
}

fn run_autograder(command: &AutograderCommand) -> Result<Summary, Error> {
    use crate::autograder::{self, Platform};
    let exe = std::env::current_exe().map_err(Error::OwnExecutable)?;
    let (platform, out) = match command {
        AutograderCommand::Gradescope { course, out } => {
            autograder::gradescope_zip(course, &exe, out)?;
            (Platform::Gradescope, out)
        }
        AutograderCommand::Prairielearn { course, out } => {
            autograder::prairielearn_folder(course, &exe, out)?;
            (Platform::PrairieLearn, out)
        }
    };
    Ok(Summary::Packaged {
        platform,
        out: out.clone(),
    })
}

fn run_ref(command: RefCommand) -> Result<Summary, Error> {
    let server = |program, a: ServerArgs| {
        let params = RefParams {
            id: a.id,
            host: "0.0.0.0".into(),
            port: a.port,
            exchanges: a.exchanges,
            reply_delay: a.reply_delay,
            close_delay: a.close_delay,
            pause: Duration::ZERO,
        };
        run_standalone(program, params)
    };
    let client = |program, a: ClientArgs| {
        let params = RefParams {
            id: a.id,
            host: a.host,
            port: a.port,
            exchanges: a.exchanges,
            reply_delay: Duration::ZERO,
            close_delay: Duration::ZERO,
            pause: a.pause,
        };
        run_standalone(program, params)
    };
    let status = match command {
        RefCommand::UdpServer(a) => server(RefProgram::UdpServer, a),
        RefCommand::TcpServer(a) => server(RefProgram::TcpServer, a),
        RefCommand::UdpClient(a) => client(RefProgram::UdpClient, a),
        RefCommand::TcpClient(a) => client(RefProgram::TcpClient, a),
        RefCommand::ResolveName { name } => {
            Ok(resolve_standalone(crate::scenario::Lookup::Name, &name))
        }
        RefCommand::ResolveAddr { addr } => {
            Ok(resolve_standalone(crate::scenario::Lookup::Address, &addr))
        }
    }
    .map_err(Error::Runtime)?;
    Ok(Summary::Program { status })
}

fn resolve_standalone(lookup: crate::scenario::Lookup, query: &str) -> i32 {
    let (lines, code) = crate::actor::resolver::run(lookup, query, None);
    for (stdout, line) in lines {
        if stdout {
            say!("{line}");
        } else {
            tell!("{line}");
        }
    }
    code
}

/// Several scenarios: each runs in a labrun process of its own, so that each gets a fresh
/// network namespace, and prints its own verdict; the exit code is the worst of theirs.
fn run_each(args: &RunArgs) -> Result<Summary, Error> {
    let exe = std::env::current_exe().map_err(Error::OwnExecutable)?;
    let mut ends = Vec::new();
    for scenario in &args.scenarios {
        let mut command = std::process::Command::new(&exe);
        command
            .args(pass_through(args))
            .args(per_scenario(args, scenario))
            .arg(scenario);
        let end = match run_child(&mut command) {
            Ok(status) => status.code().map_or(ChildEnd::Killed, ChildEnd::Exited),
            Err(e) => {
                // Said now, among the scenarios' own verdicts; the others still run.
                tell!("labrun: cannot run {}: {e}", scenario.display());
                ChildEnd::NotStarted
            }
        };
        ends.push(end);
        if let Some(signal) = crate::signals::received() {
            return Ok(Summary::Scenarios {
                ends,
                interrupted: Some(signal),
            });
        }
    }
    Ok(Summary::Scenarios {
        ends,
        interrupted: None,
    })
}

/// Runs a labrun of its own for one scenario; a SIGINT or SIGTERM labrun gets is passed on
/// to it.
fn run_child(command: &mut std::process::Command) -> std::io::Result<std::process::ExitStatus> {
    use std::os::unix::process::CommandExt;
    crate::signals::catch();
    // A group of its own: a terminal's Ctrl-C reaches this labrun alone, which passes it on
    // once (a second signal ends a labrun at once, without its clean-up).
    command.process_group(0);
    let mut child = command.spawn()?;
    let mut passed_on = false;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if let Some(signal) = crate::signals::received()
            && !passed_on
        {
            passed_on = true;
            if let (Ok(pid), Ok(signal)) = (
                i32::try_from(child.id()),
                nix::sys::signal::Signal::try_from(signal),
            ) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Files given once for several scenarios get the scenario's name:
/// `capture.pcap` for scenario `tcp_basic` is `capture-tcp_basic.pcap`.
fn per_scenario(args: &RunArgs, scenario: &Path) -> Vec<OsString> {
    let mut out: Vec<OsString> = Vec::new();
    let files = [
        ("--pcap", &args.pcap),
        ("--report-json", &args.report_json),
        ("--report-junit", &args.report_junit),
        ("--report-gradescope", &args.report_gradescope),
    ];
    for (flag, file) in files {
        if let Some(file) = file {
            out.push(flag.into());
            out.push(per_scenario_file(file, scenario).into());
        }
    }
    out
}

fn per_scenario_file(pcap: &Path, scenario: &Path) -> PathBuf {
    let name = scenario.file_stem().unwrap_or_default().to_string_lossy();
    let stem = pcap.file_stem().unwrap_or_default().to_string_lossy();
    let file = match pcap.extension() {
        Some(ext) => format!("{stem}-{name}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{name}"),
    };
    pcap.with_file_name(file)
}

fn pass_through(args: &RunArgs) -> Vec<OsString> {
    let mut out: Vec<OsString> = Vec::new();
    for with in &args.with {
        out.push("--with".into());
        out.push(with.into());
    }
    out.push("--time-scale".into());
    out.push(args.time_scale.to_string().into());
    if args.update {
        out.push("--update".into());
    }
    if args.no_snapshot {
        out.push("--no-snapshot".into());
    }
    if args.quiet {
        out.push("--quiet".into());
    }
    if args.format == Format::Json {
        out.push("--format=json".into());
    }
    if args.no_capture {
        out.push("--no-capture".into());
    }
    if let Some(dir) = &args.snapshot_dir {
        out.push("--snapshot-dir".into());
        out.push(dir.into());
    }
    if let Some(format) = args.diagram {
        let name = format
            .to_possible_value()
            .map_or_else(|| "text".to_string(), |v| v.get_name().to_string());
        out.push(format!("--diagram={name}").into());
    }
    // Pages are named after their scenario: one folder serves every scenario.
    if let Some(dir) = &args.report_html {
        out.push("--report-html".into());
        out.push(dir.into());
    }
    if let Some(range) = args.uid_range {
        out.push(format!("--uid-range={range}").into());
    }
    for dir in &args.hide {
        out.push("--hide".into());
        out.push(dir.into());
    }
    out
}

/// One scenario, in this process: prints its transcript (or diagram) and the run's
/// warnings as it goes, and returns its verdict.
fn run_one(args: &RunArgs, path: &Path) -> Result<ScenarioRun, Error> {
    // Ctrl-C stops the programs and removes the run's directory, then prints what ran.
    crate::signals::catch();
    let plan = scenario::load(path)?;
    let externals = externals(&plan, &args.with)?;
    let external = externals.iter().any(Option::is_some);
    // Before any namespace: the pool keeps a way to the machine's /proc.
    let own_users = if external {
        let range = sandbox::users::range_from(args.uid_range)?;
        sandbox::users::enable(range).map_err(|why| tracing::debug!("no users of their own: {why}"))
    } else {
        Err(())
    };
    let network = sandbox::network::set_up(&needs(&plan, &externals, !args.no_capture))?;
    if let Some(program) = static_resolver(&plan, &externals, &network) {
        return Err(Error::StaticResolver { program });
    }
    let mut lacks = Vec::new();
    if external {
        sandbox::pids::hide(&args.hide);
        lacks.extend(confine(own_users.is_ok()));
    }
    // A user of its own caps a program's processes already (RLIMIT_NPROC).
    if external
        && own_users.is_err()
        && let Err(reason) = sandbox::cgroup::ProcessCap::probe()
    {
        lacks.push(format!(
            "a cap on the programs' processes ({reason}), so a fork loop can load the machine until the run's timeout"
        ));
    }
    if let Some(line) = network.warning(&lacks) {
        tell!("{line}");
    }
    // External programs sleep for real; scaling only the reference programs' delays would
    // mix two clocks and give orders of events that never happen at real time.
    let mut time_scale = args.time_scale;
    if external && time_scale != 1.0 {
        tell!(
            "labrun: note: external programs run in real time, and so does this run (--time-scale {time_scale} ignored)"
        );
        time_scale = 1.0;
    }
    let capture = network.capture;
    let options = RunOptions {
        time_scale,
        externals,
        capture,
        shared: network.shared.clone(),
        hosts: network.hosts.clone(),
    };
    let stdout = std::io::stdout();
    let live = args.format == Format::Text
        && !args.quiet
        && args.diagram.is_none()
        && stdout.is_terminal();
    sandbox::adopt_orphans();
    let record = if live {
        let color = std::env::var_os("NO_COLOR").is_none();
        transcript::watch(&plan, time_scale, color, |observer| {
            engine::run(&plan, &options, observer)
        })
    } else {
        engine::run(&plan, &options, &mut |_| {})
    };
    let leftovers = sandbox::kill_leftovers();
    if leftovers > 0 {
        tell!("labrun: stopped {leftovers} process(es) the programs left behind");
    }
    let record = record?;
    let run = |verdict| ScenarioRun {
        name: plan.name.clone(),
        elapsed: record.elapsed,
        verdict,
    };
    let transcript = transcript::normalize(&plan, &record);
    let text = transcript.to_text();
    if let Some(format) = args.diagram {
        let diagram = Diagram::new(&transcript);
        let out = match format {
            DiagramFormat::Text => crate::diagram::terminal(&diagram),
            DiagramFormat::Mermaid => crate::diagram::mermaid(&diagram),
            DiagramFormat::Svg => crate::diagram::svg(&diagram),
        };
        let _ = stdout.lock().write_all(out.as_bytes());
    } else if !args.quiet {
        let out = match (args.format, live) {
            // The events went by live; what the kernel showed comes once the run is over.
            (Format::Text, true) => transcript.observations_text(),
            (Format::Text, false) => text.clone(),
            (Format::Json, _) => transcript.to_json() + "\n",
        };
        // A closed pipe (`| head`) is not an error worth reporting.
        let _ = stdout.lock().write_all(out.as_bytes());
    }
    // A signal that came as the run was ending is still a signal.
    if let Some(signal) = record.interrupted.or_else(crate::signals::received) {
        return Ok(run(ScenarioVerdict::Interrupted { signal }));
    }
    if let Some(error) = &record.capture_error {
        tell!("labrun: warning: {error}");
    }
    if let Some(path) = &args.pcap {
        crate::observe::capture::write_pcap(path, &record.packets).map_err(|source| {
            Error::Write {
                path: path.clone(),
                source,
            }
        })?;
        tell!(
            "labrun: {} packets written to {}",
            record.packets.len(),
            path.display()
        );
    }
    if record.timed_out {
        tell!(
            "labrun: {}: the run went over its timeout of {} and was stopped",
            plan.name,
            scenario::duration::display(plan.timeout)
        );
    }
    let mut graded: Vec<String> = plan
        .actors
        .iter()
        .zip(&options.externals)
        .filter(|(_, e)| e.is_some())
        .map(|(a, _)| a.role.clone())
        .collect();
    graded.dedup();
    let report = crate::check::grade(&plan, &transcript, &graded);
    if let Some(dir) = &args.report_html {
        let mut warnings = Vec::new();
        if record.timed_out {
            warnings.push(format!(
                "The run went over its timeout of {} and was stopped.",
                scenario::duration::display(plan.timeout)
            ));
        }
        warnings.extend(
            record
                .capture_error
                .iter()
                .map(|e| format!("Capture: {e}.")),
        );
        let graded = report.as_ref().map_or(&[][..], |r| &r.graded[..]);
        let path = dir.join(crate::html::page_name(&plan.name, graded));
        if let Err(source) = write_page(
            args,
            &plan,
            &transcript,
            &text,
            report.as_ref(),
            warnings,
            &path,
        ) {
            return Err(Error::Write { path, source });
        }
        if !args.quiet {
            tell!("labrun: report page written to {}", path.display());
        }
    }
    if let Some(report) = report {
        return rubric_verdict(args, &plan, &text, &report).map(run);
    }
    if args.no_snapshot {
        return Ok(run(ScenarioVerdict::Unchecked {
            timed_out: record.timed_out,
        }));
    }
    let captured = options.capture && record.capture_error.is_none();
    if captured {
        verdict(args, &plan, &text).map(run)
    } else {
        verdict_without_capture(args, &plan, &text).map(run)
    }
}

/// A run without a packet capture is compared with its snapshot but for the packets: what
/// the kernel's socket tables and the programs showed must still match.
fn verdict_without_capture(
    args: &RunArgs,
    plan: &Plan,
    text: &str,
) -> Result<ScenarioVerdict, Error> {
    let path = snapshot::path_for(&plan.path, &plan.name, args.snapshot_dir.as_deref());
    if args.update {
        return Err(Error::NoCaptureToWrite {
            name: plan.name.clone(),
            snapshot: path,
        });
    }
    let Some(expected) = snapshot::read(&path)? else {
        return Ok(ScenarioVerdict::NoSnapshot {
            snapshot: path,
            compared: Compared::ButPackets,
        });
    };
    let (expected, actual) = (
        snapshot::without_capture(&expected),
        snapshot::without_capture(text),
    );
    Ok(if expected == actual {
        ScenarioVerdict::Matched {
            snapshot: path,
            compared: Compared::ButPackets,
        }
    } else {
        ScenarioVerdict::Differed {
            snapshot: path,
            expected,
            actual,
            compared: Compared::ButPackets,
        }
    })
}

/// Moves the run into a pid namespace of its own, where one can be made (see
/// [`sandbox::pids`]). Returns what the run lacks, for its one warning line, when programs
/// run as labrun's own user and no namespace can be made either.
fn confine(own_users: bool) -> Option<String> {
    match sandbox::pids::enter() {
        Ok(()) => None,
        // Users of their own already keep programs from signalling or reading labrun.
        Err(why) if own_users => {
            tracing::debug!("no pid namespace: {why}");
            None
        }
        Err(why) => {
            tracing::debug!("no pid namespace: {why}");
            Some(PROTECTION_LACKING.to_string())
        }
    }
}

/// What a run lacks where its programs run as labrun's own user in labrun's own pid
/// namespace.
pub const PROTECTION_LACKING: &str = "protection from its programs: they run as your own \
     user, so a hostile program can signal labrun and read your files (see labrun doctor)";

/// Writes the run's HTML page to `path`, with the difference to the reference snapshot
/// when there is one (read even with `--no-snapshot`: it is help, not the verdict).
fn write_page(
    args: &RunArgs,
    plan: &Plan,
    transcript: &transcript::Transcript,
    text: &str,
    report: Option<&crate::check::Report>,
    warnings: Vec<String>,
    path: &Path,
) -> std::io::Result<()> {
    let snapshot = snapshot::path_for(&plan.path, &plan.name, args.snapshot_dir.as_deref());
    let actual = snapshot::normalize(text);
    let reference = match snapshot::read(&snapshot) {
        Ok(Some(expected)) if expected == actual => Reference::Matches,
        Ok(Some(expected)) => Reference::Differs {
            diff: snapshot::diff(&expected, &actual, false),
        },
        Ok(None) | Err(_) => Reference::Missing,
    };
    let source = std::fs::read_to_string(&plan.path).unwrap_or_default();
    let html = crate::html::page(&Page {
        transcript,
        text,
        source: (plan.path.display().to_string(), source),
        report,
        reference,
        warnings,
    });
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, html)
}

/// With `--with`, the rubric decides: every check must pass. The difference with the
/// reference transcript is shown as help.
fn rubric_verdict(
    args: &RunArgs,
    plan: &Plan,
    text: &str,
    report: &crate::check::Report,
) -> Result<ScenarioVerdict, Error> {
    let color = crate::term::color_on_stderr();
    tell_raw!("{}", crate::report::terminal(report, color));
    let outputs = [
        (&args.report_json, crate::report::json(report)),
        (&args.report_junit, crate::report::junit(report)),
        (&args.report_gradescope, crate::report::gradescope(report)),
    ];
    for (path, content) in outputs {
        if let Some(path) = path
            && let Err(source) = std::fs::write(path, content + "\n")
        {
            return Err(Error::Write {
                path: path.clone(),
                source,
            });
        }
    }
    let mut help = None;
    if !args.no_snapshot {
        let path = snapshot::path_for(&plan.path, &plan.name, args.snapshot_dir.as_deref());
        let actual = snapshot::normalize(text);
        if let Ok(Some(expected)) = snapshot::read(&path)
            && expected != actual
        {
            help = Some((expected, actual));
        }
    }
    Ok(ScenarioVerdict::Rubric {
        passed: report.verdict == crate::check::Verdict::Pass,
        help,
    })
}

fn verdict(args: &RunArgs, plan: &Plan, text: &str) -> Result<ScenarioVerdict, Error> {
    let path = snapshot::path_for(&plan.path, &plan.name, args.snapshot_dir.as_deref());
    let mode = if args.update {
        UpdateMode::Always
    } else {
        UpdateMode::Auto
    };
    let source = plan.path.display().to_string();
    Ok(match snapshot::check(&path, &source, text, mode)? {
        Verdict::Matches => ScenarioVerdict::Matched {
            snapshot: path,
            compared: Compared::Whole { pending: None },
        },
        Verdict::Written => ScenarioVerdict::Updated { snapshot: path },
        Verdict::Differs { pending, .. } => {
            let expected = snapshot::read(&path).ok().flatten().unwrap_or_default();
            ScenarioVerdict::Differed {
                snapshot: path,
                expected,
                actual: snapshot::normalize(text),
                compared: Compared::Whole { pending },
            }
        }
        Verdict::Missing { pending } => ScenarioVerdict::NoSnapshot {
            snapshot: path,
            compared: Compared::Whole { pending },
        },
    })
}

fn hint_pending(pending: Option<&Path>) {
    match pending {
        Some(path) => tell!(
            "  wrote {}: accept it with `labrun --update …` or `cargo insta accept`",
            path.display()
        ),
        None => tell!("  (CI is set: no .snap.new written; run with --update to accept)"),
    }
}

/// What the run needs of its network.
fn needs(plan: &Plan, externals: &[Option<ExternalCommand>], capture: bool) -> sandbox::Needs {
    sandbox::Needs {
        ports: plan.actors.iter().map(|a| a.port()).collect(),
        hosts: plan.hosts.as_deref().map(scenario::hosts_file),
        external_resolver: plan
            .actors
            .iter()
            .zip(externals)
            .any(|(a, e)| e.is_some() && matches!(a.kind, scenario::ActorKind::Resolver { .. })),
        capture,
    }
}

/// The external resolver that cannot be graded here, if any: it is statically linked, so
/// it ignores `LD_PRELOAD` and would read the machine's `/etc/hosts`, not the run's.
fn static_resolver(
    plan: &Plan,
    externals: &[Option<ExternalCommand>],
    network: &sandbox::Network,
) -> Option<PathBuf> {
    if !matches!(network.hosts, sandbox::Hosts::Tables { .. }) {
        return None;
    }
    plan.actors
        .iter()
        .zip(externals)
        .find_map(|(actor, external)| {
            let external = external.as_ref()?;
            let resolver = matches!(actor.kind, scenario::ActorKind::Resolver { .. });
            (resolver && crate::actor::elf::is_static(&external.program))
                .then(|| external.program.clone())
        })
}

/// Reads `--with ROLE=PROGRAM` options into one program per actor.
fn externals(plan: &Plan, with: &[String]) -> Result<Vec<Option<ExternalCommand>>, UsageError> {
    let mut externals = vec![None; plan.actors.len()];
    for option in with {
        let Some((role, program)) = option.split_once('=') else {
            return Err(UsageError::WithNotRole {
                option: option.clone(),
            });
        };
        let role = role.trim();
        let indexes: Vec<usize> = (0..plan.actors.len())
            .filter(|&i| plan.actors[i].role == role)
            .collect();
        let Some(&index) = indexes.first() else {
            let mut roles: Vec<String> = plan.actors.iter().map(|a| a.role.clone()).collect();
            roles.dedup();
            return Err(UsageError::UnknownRole {
                role: role.to_string(),
                scenario: plan.name.clone(),
                roles,
            });
        };
        if externals[index].is_some() {
            return Err(UsageError::RoleTwice {
                role: role.to_string(),
            });
        }
        let command = ExternalCommand::parse(program).map_err(|source| UsageError::Program {
            role: role.to_string(),
            source,
        })?;
        // A resolver's role runs once per query: the program plays every one of them.
        for i in indexes {
            externals[i] = Some(command.clone());
        }
    }
    Ok(externals)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::grade::Outcome;

    fn scenario(verdict: ScenarioVerdict) -> Result<Summary, Error> {
        Ok(Summary::Scenario(ScenarioRun {
            name: "tcp_basic".into(),
            elapsed: Duration::from_millis(10),
            verdict,
        }))
    }

    fn snap() -> PathBuf {
        PathBuf::from("snapshots/tcp_basic.snap")
    }

    fn io() -> std::io::Error {
        std::io::Error::from(std::io::ErrorKind::PermissionDenied)
    }

    fn outcome(submission: &str, verdict: &str) -> Outcome {
        Outcome {
            submission: submission.into(),
            scenario: "tcp_basic".into(),
            role: "server".into(),
            verdict: verdict.into(),
            score: 0,
            max_score: 10,
            feedback: String::new(),
            checks: Vec::new(),
            finished: Duration::ZERO,
            isolation: None,
        }
    }

    #[test]
    fn a_scenario_exits_by_its_verdict() {
        let whole = Compared::Whole { pending: None };
        let cases = [
            (
                ScenarioVerdict::Matched {
                    snapshot: snap(),
                    compared: whole.clone(),
                },
                exit::OK,
            ),
            (
                ScenarioVerdict::Matched {
                    snapshot: snap(),
                    compared: Compared::ButPackets,
                },
                exit::OK,
            ),
            (ScenarioVerdict::Updated { snapshot: snap() }, exit::OK),
            (
                ScenarioVerdict::Differed {
                    snapshot: snap(),
                    expected: "a".into(),
                    actual: "b".into(),
                    compared: whole.clone(),
                },
                exit::FAILED,
            ),
            (
                ScenarioVerdict::NoSnapshot {
                    snapshot: snap(),
                    compared: Compared::ButPackets,
                },
                exit::FAILED,
            ),
            (ScenarioVerdict::Unchecked { timed_out: false }, exit::OK),
            (ScenarioVerdict::Unchecked { timed_out: true }, exit::FAILED),
            (
                ScenarioVerdict::Rubric {
                    passed: true,
                    help: Some(("a".into(), "b".into())),
                },
                exit::OK,
            ),
            (
                ScenarioVerdict::Rubric {
                    passed: false,
                    help: None,
                },
                exit::FAILED,
            ),
            (
                ScenarioVerdict::Interrupted {
                    signal: libc::SIGINT,
                },
                exit::INTERRUPTED,
            ),
            (
                ScenarioVerdict::Interrupted {
                    signal: libc::SIGTERM,
                },
                exit::TERMINATED,
            ),
        ];
        for (verdict, code) in cases {
            let text = format!("{verdict:?}");
            assert_eq!(exit_code(&scenario(verdict)), code, "{text}");
        }
    }

    #[test]
    fn several_scenarios_exit_with_the_worst_of_their_codes() {
        let ends = |ends: &[ChildEnd]| {
            exit_code(&Ok(Summary::Scenarios {
                ends: ends.to_vec(),
                interrupted: None,
            }))
        };
        assert_eq!(ends(&[]), exit::OK);
        assert_eq!(
            ends(&[ChildEnd::Exited(0), ChildEnd::Exited(1)]),
            exit::FAILED
        );
        assert_eq!(
            ends(&[ChildEnd::Exited(2), ChildEnd::Exited(1)]),
            exit::USAGE
        );
        assert_eq!(ends(&[ChildEnd::Exited(0), ChildEnd::Killed]), exit::ERROR);
        assert_eq!(ends(&[ChildEnd::NotStarted]), exit::ERROR);
        assert_eq!(ends(&[ChildEnd::Exited(143)]), exit::TERMINATED);
        let stopped = Summary::Scenarios {
            ends: vec![ChildEnd::Exited(0)],
            interrupted: Some(libc::SIGINT),
        };
        assert_eq!(exit_code(&Ok(stopped)), exit::INTERRUPTED);
    }

    #[test]
    fn a_class_exits_0_only_when_every_submission_passes() {
        let class = |outcomes: &[Outcome]| {
            exit_code(&Ok(Summary::Class {
                summary: ClassSummary::of(outcomes),
                out: "grades".into(),
            }))
        };
        let (alice, bob) = (outcome("alice", "pass"), outcome("bob", "pass"));
        assert_eq!(class(&[alice.clone(), bob.clone()]), exit::OK);
        assert_eq!(class(&[alice, outcome("bob", "fail"), bob]), exit::FAILED);
        assert_eq!(class(&[outcome("carol", "error")]), exit::FAILED);
        let summary = ClassSummary::of(&[
            outcome("alice", "pass"),
            outcome("alice", "pass"),
            outcome("bob", "fail"),
        ]);
        assert_eq!(
            summary,
            ClassSummary {
                submissions: 2,
                passed: 1
            }
        );
        let stopped = Summary::ClassInterrupted {
            signal: libc::SIGTERM,
            outcomes: vec![outcome("alice", "pass")],
        };
        assert_eq!(exit_code(&Ok(stopped)), exit::TERMINATED);
    }

    #[test]
    fn the_other_commands_exit_by_their_summary() {
        let cases = [
            (
                Summary::Merged {
                    count: 3,
                    out: "grades".into(),
                },
                exit::OK,
            ),
            (
                Summary::Packaged {
                    platform: crate::autograder::Platform::Gradescope,
                    out: "a.zip".into(),
                },
                exit::OK,
            ),
            (Summary::Diagnosis("ok\n".into()), exit::OK),
            (Summary::Probe { allowed: true }, exit::OK),
            (Summary::Probe { allowed: false }, exit::FAILED),
            // A lab program run by hand exits as the C program would.
            (Summary::Program { status: 2 }, 2),
        ];
        for (summary, code) in cases {
            let text = format!("{summary:?}");
            assert_eq!(exit_code(&Ok(summary)), code, "{text}");
        }
    }

    #[test]
    fn invalid_input_is_2() {
        let errors: Vec<Error> = vec![
            ScenarioError::TooLong {
                path: "s.toml".into(),
                limit: 1,
            }
            .into(),
            ScenarioError::Read {
                path: "s.toml".into(),
                source: io(),
            }
            .into(),
            UsageError::RoleTwice {
                role: "server".into(),
            }
            .into(),
            UsageError::NotAFolder {
                path: "alice".into(),
            }
            .into(),
            crate::sandbox::users::RangeError {
                reason: "`x` is not a uid".into(),
            }
            .into(),
            crate::grade::CourseError::Read {
                path: "course.toml".into(),
                source: io(),
            }
            .into(),
            GradeError::Invalid("no scenario".into()).into(),
            Error::Merge(MergeError::Missing {
                missing: vec!["2/3".into()],
                given: "1/3".into(),
            }),
            Error::Merge(MergeError::Read {
                path: "slice".into(),
                source: io(),
            }),
            AutograderError::Course("cannot find course c.toml".into()).into(),
        ];
        for error in errors {
            assert_eq!(exit_code(&Err(error)), exit::USAGE);
        }
    }

    #[test]
    fn labrun_failing_at_its_own_work_is_3() {
        let errors: Vec<Error> = vec![
            GradeError::Files("cannot write to grades".into()).into(),
            Error::Merge(MergeError::Write("cannot write to merged".into())),
            // grade's own slice.json, even when what fails is reading the course again.
            Error::Slice(MergeError::Invalid {
                path: "course.toml".into(),
                reason: "gone".into(),
            }),
            AutograderError::Io {
                what: "create",
                path: "out".into(),
                source: io(),
            }
            .into(),
            Error::OwnExecutable(io()),
            Error::Runtime(io()),
            crate::sandbox::network::NetworkError::Ports("none left".into()).into(),
            Error::StaticResolver {
                program: "./resolve".into(),
            },
            crate::engine::EngineError::Workdir(io()).into(),
            crate::snapshot::SnapshotError::Write {
                path: snap(),
                source: io(),
            }
            .into(),
            Error::NoCaptureToWrite {
                name: "tcp_basic".into(),
                snapshot: snap(),
            },
            Error::Write {
                path: "capture.pcap".into(),
                source: io(),
            },
        ];
        for error in errors {
            let text = format!("{error:?}");
            assert_eq!(exit_code(&Err(error)), exit::ERROR, "{text}");
        }
    }

    /// The case `labrun grade` once got wrong (exit 2): an `--out` folder that cannot be
    /// made is labrun unable to do its work.
    #[test]
    fn an_out_folder_that_cannot_be_made_is_3() {
        let dir = tempfile::tempdir().expect("a folder");
        let file = dir.path().join("not-a-folder");
        std::fs::write(&file, "").expect("a file");
        let out = file.join("grades");
        let error = crate::grade::check_out(&out).expect_err("no folder in a file");
        assert_eq!(exit_code(&Err(error.into())), exit::ERROR);
        let error = crate::autograder::write_results(
            crate::autograder::Platform::Gradescope,
            &out.join("results.json"),
            &out,
            &[outcome("alice", "pass")],
            true,
        )
        .expect_err("no folder in a file");
        let error = Error::from(error);
        assert!(
            error
                .to_string()
                .starts_with(&format!("cannot create {}: ", out.display())),
            "{error}"
        );
        assert_eq!(exit_code(&Err(error)), exit::ERROR);
    }

    #[test]
    fn errors_say_what_labrun_printed_before_they_were_typed() {
        let cases: Vec<(Error, String)> = vec![
            (
                UsageError::SameResultsFile {
                    per_submission: false,
                }
                .into(),
                "--gradescope and --prairielearn would write the same file; give them different names".into(),
            ),
            (
                UsageError::SameResultsFile {
                    per_submission: true,
                }
                .into(),
                "--gradescope and --prairielearn would write the same file in each submission's folder; give them different names".into(),
            ),
            (
                UsageError::WithNotRole {
                    option: "server".into(),
                }
                .into(),
                "`--with server` must be ROLE=PROGRAM, such as `server=./serveur`".into(),
            ),
            (
                UsageError::UnknownRole {
                    role: "proxy".into(),
                    scenario: "tcp_basic".into(),
                    roles: vec!["server".into(), "client".into()],
                }
                .into(),
                "unknown role `proxy` in `--with`; the roles of tcp_basic are: server, client"
                    .into(),
            ),
            (
                UsageError::Program {
                    role: "server".into(),
                    source: crate::actor::ExternalError::Empty,
                }
                .into(),
                "--with server: the program is empty".into(),
            ),
            (
                ScenarioError::Read {
                    path: "s.toml".into(),
                    source: io(),
                }
                .into(),
                format!("cannot read scenario s.toml: {}", io()),
            ),
            (
                crate::engine::EngineError::Workdir(io()).into(),
                format!("cannot create a working directory for the run: {}", io()),
            ),
            (
                Error::OwnExecutable(io()),
                format!("cannot find its own executable: {}", io()),
            ),
            (
                Error::Write {
                    path: "capture.pcap".into(),
                    source: io(),
                },
                format!("cannot write capture.pcap: {}", io()),
            ),
            (
                crate::sandbox::users::RangeError {
                    reason: "`x` is not a uid".into(),
                }
                .into(),
                "LABRUN_UID_RANGE: `x` is not a uid".into(),
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
    }

    /// The README's table lists exactly the codes labrun exits with.
    #[test]
    fn the_readme_table_lists_the_exit_codes() {
        let readme = include_str!("../README.md");
        let table = readme
            .split("### Exit codes")
            .nth(1)
            .expect("an exit-code section");
        let codes: Vec<i32> = table
            .lines()
            .skip_while(|line| !line.starts_with('|'))
            .take_while(|line| line.starts_with('|'))
            .filter_map(|line| line.split('|').nth(1)?.trim().parse().ok())
            .collect();
        let want = [
            exit::OK,
            exit::FAILED,
            exit::USAGE,
            exit::ERROR,
            exit::INTERRUPTED,
            exit::TERMINATED,
        ];
        assert_eq!(codes, want);
    }
}
