//! `labrun SCENARIO…`: one scenario run in this process, or several, each in a labrun of
//! its own.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::ValueEnum;

use super::args::{DiagramFormat, Format, RunArgs};
use crate::actor::ExternalCommand;
use crate::diagram::Diagram;
use crate::engine::{self, RunOptions};
use crate::html::{Page, Reference};
use crate::sandbox;
use crate::scenario::{self, Plan};
use crate::session::{
    ChildEnd, Compared, Error, ScenarioRun, ScenarioVerdict, Summary, UsageError,
};
use crate::snapshot::{self, UpdateMode, Verdict};
use crate::transcript;

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

/// One scenario, in this process: prints its transcript (or diagram) and the run's
/// warnings as it goes, and returns its verdict.
pub(crate) fn run_one(args: &RunArgs, path: &Path) -> Result<ScenarioRun, Error> {
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
