//! `labrun SCENARIO…`: one scenario run in this process (by [`crate::session`], shown on
//! the terminal by [`super::print::Terminal`]), or several, each in a labrun of its own.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::ValueEnum;

use super::args::{Format, RunArgs};
use super::print::Terminal;
use crate::session::{self, ChildEnd, Error, ScenarioRun, Settings, Summary};

/// One scenario, in this process: its transcript (or diagram) and the run's warnings are
/// printed as it goes, and its verdict is returned.
pub(crate) fn run_one(args: &RunArgs, path: &Path) -> Result<ScenarioRun, Error> {
    let mut terminal = Terminal::new(args);
    session::run_scenario(path, &settings(args), &mut terminal)
}

/// Several scenarios: each runs in a labrun process of its own, so that each gets a fresh
/// network namespace, and prints its own verdict; the exit code is the worst of theirs.
pub(crate) fn run_each(args: &RunArgs) -> Result<Summary, Error> {
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

/// What the run is asked for, of the options: those of what is printed stay with the
/// terminal.
fn settings(args: &RunArgs) -> Settings {
    Settings {
        with: args.with.clone(),
        time_scale: args.time_scale,
        update: args.update,
        no_snapshot: args.no_snapshot,
        snapshot_dir: args.snapshot_dir.clone(),
        capture: !args.no_capture,
        pcap: args.pcap.clone(),
        report_json: args.report_json.clone(),
        report_junit: args.report_junit.clone(),
        report_gradescope: args.report_gradescope.clone(),
        report_html: args.report_html.clone(),
        uid_range: args.uid_range,
        hide: args.hide.clone(),
    }
}
