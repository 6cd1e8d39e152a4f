//! One direction of one submission run: a `labrun` process of its own on the scenario,
//! with the submission's program in the graded role, known while it runs so that a SIGINT
//! or SIGTERM is passed on to it; then its JSON report read back. Hands on the direction's
//! [`Outcome`]: verdict, score, the student's feedback and the run's isolation line.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use super::pool::{STARTED_WITH, relock};
use super::{Direction, Outcome};

/// How a run's line about its isolation starts (see `sandbox::Network::warning`).
pub(super) const ISOLATION_LINE: &str = "labrun: warning: this run has ";

/// What every run of a class shares.
pub(crate) struct Runner<'a> {
    pub(crate) exe: &'a Path,
    pub(crate) scenarios: &'a Path,
    pub(crate) work: &'a Path,
    pub(crate) pages: &'a Path,
    pub(crate) uid_range: crate::sandbox::users::UidRange,
    pub(crate) hidden: &'a [PathBuf],
}

pub(crate) fn run_one(
    runner: &Runner<'_>,
    submission: &str,
    direction: &Direction,
    program: Result<PathBuf, String>,
) -> Outcome {
    let Runner {
        exe,
        scenarios,
        work,
        pages,
        uid_range,
        hidden,
    } = *runner;
    let mut outcome = Outcome {
        submission: submission.to_string(),
        scenario: direction.scenario.clone(),
        role: direction.role.clone(),
        verdict: "fail".into(),
        score: 0,
        max_score: 0,
        feedback: String::new(),
        checks: Vec::new(),
        finished: Duration::ZERO,
        isolation: None,
    };
    let scenario = scenarios.join(format!("{}.toml", direction.scenario));
    let program = match program {
        Ok(program) => program,
        Err(why) => {
            // Nothing ran: every point of the direction is lost, and the student reads why.
            outcome.max_score = direction_points(&scenario, &direction.role);
            outcome.feedback = format!(
                "{}: {} not graded: {why}\n",
                direction.scenario, direction.role
            );
            return outcome;
        }
    };
    let report = work.join(format!(
        "{submission}-{}-{}.json",
        direction.scenario, direction.role
    ));
    let result = &mut Command::new(exe);
    result
        .arg(&scenario)
        .arg("--with")
        .arg(format!("{}={}", direction.role, program.display()))
        .args(["--no-snapshot", "-q", "--report-json"])
        .arg(&report)
        .arg("--report-html")
        .arg(pages)
        .arg(format!("--uid-range={uid_range}"))
        .args(
            hidden
                .iter()
                .flat_map(|h| [std::ffi::OsStr::new("--hide"), h.as_os_str()]),
        )
        .env("NO_COLOR", "1")
        .env(crate::scratch::NO_SWEEP, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let result = output_of(result);
    let stderr = result
        .as_ref()
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .unwrap_or_default();
    let (isolation, feedback): (Vec<&str>, Vec<&str>) = stderr
        .split_inclusive('\n')
        .partition(|line| line.starts_with(ISOLATION_LINE));
    outcome.isolation = isolation.first().map(|l| l.trim_end().to_string());
    outcome.feedback = feedback.concat();
    let parsed: Option<serde_json::Value> = std::fs::read_to_string(&report)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let _ = std::fs::remove_file(&report);
    match parsed {
        Some(report) => {
            outcome.verdict = report["verdict"].as_str().unwrap_or("error").to_string();
            outcome.score = report["score"].as_u64().unwrap_or(0);
            outcome.max_score = report["max_score"].as_u64().unwrap_or(0);
            outcome.checks = serde_json::from_value(report["checks"].clone()).unwrap_or_default();
        }
        None => {
            outcome.verdict = "error".into();
            // Out of the direction's points, so that totals do not shrink when labrun fails.
            outcome.max_score = direction_points(&scenario, &direction.role);
            if outcome.feedback.is_empty() {
                outcome.feedback = format!(
                    "{}: {}: labrun gave no report\n",
                    direction.scenario, direction.role
                );
            }
        }
    }
    outcome
}

/// The points a scenario's rubric gives `role`.
fn direction_points(scenario: &Path, role: &str) -> u64 {
    crate::scenario::load(scenario).map_or(0, |plan| {
        plan.checks
            .iter()
            .filter(|c| c.grades == role)
            .map(|c| u64::from(c.points))
            .sum()
    })
}

/// The outcome of a direction that labrun could not grade: an error out of the
/// direction's points.
pub(crate) fn failed(
    submission: &str,
    direction: &Direction,
    runner: &Runner<'_>,
    why: &str,
) -> Outcome {
    let scenario = runner
        .scenarios
        .join(format!("{}.toml", direction.scenario));
    Outcome {
        submission: submission.to_string(),
        scenario: direction.scenario.clone(),
        role: direction.role.clone(),
        verdict: "error".into(),
        score: 0,
        max_score: direction_points(&scenario, &direction.role),
        feedback: format!("{}: {}: {why}\n", direction.scenario, direction.role),
        checks: Vec::new(),
        finished: Duration::ZERO,
        isolation: None,
    }
}

/// The child runs in flight, by pid: a SIGINT or SIGTERM that `labrun grade` gets is
/// passed on to them, each in a process group of its own.
static IN_FLIGHT: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// `command.output()`, with the child known to [`pass_on_signals`] while it runs.
fn output_of(command: &mut Command) -> std::io::Result<std::process::Output> {
    use std::os::unix::process::CommandExt;
    // When labrun grade dies (killed, out of memory), its runs stop their programs and end
    // too, instead of going on as orphans; and a program that closes every descriptor up
    // to its limit must not find a million. The run itself asks for both
    // (`signals::follow_grader`): no code between fork and exec, so that the start is a
    // `posix_spawn`, which does not copy this process's page tables.
    let (variable, value) = crate::signals::for_runs(STARTED_WITH.get().copied());
    command.env(variable, value);
    // A group of its own: a terminal's Ctrl-C reaches labrun grade alone, which passes it
    // on once (a second signal would end a run at once, without its clean-up).
    command.process_group(0);
    let child = command.spawn()?;
    let pid = child.id();
    relock(&IN_FLIGHT).push(pid);
    // A signal that came while it started, after the others were told.
    if let Some(signal) = crate::signals::received() {
        signal_child(pid, signal);
    }
    let output = child.wait_with_output();
    relock(&IN_FLIGHT).retain(|&p| p != pid);
    output
}

/// Passes a SIGINT or SIGTERM on to every child run, until `over`.
pub(crate) fn pass_on_signals(over: &std::sync::atomic::AtomicBool) {
    let mut told: Vec<u32> = Vec::new();
    while !over.load(std::sync::atomic::Ordering::SeqCst) {
        if let Some(signal) = crate::signals::received() {
            for &pid in relock(&IN_FLIGHT).iter() {
                if !told.contains(&pid) {
                    signal_child(pid, signal);
                    told.push(pid);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal_child(pid: u32, signal: i32) {
    use nix::sys::signal::{Signal, kill};
    // Never pid 0 or -1: those would signal labrun's own group, or every process.
    if let (Ok(pid), Ok(signal)) = (i32::try_from(pid), Signal::try_from(signal))
        && pid > 0
    {
        let _ = kill(nix::unistd::Pid::from_raw(pid), signal);
    }
}
