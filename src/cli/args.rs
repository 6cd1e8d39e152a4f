//! The command-line arguments (clap derive): the commands, and the options of each, as
//! they were typed. The commands resolve them into what they run.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::sandbox::users::UidRange;
use crate::scenario;

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
