//! One scenario's run, as a value: loaded, checked against the command's programs, run
//! on the network the machine allows, normalised, written where asked (pcap, reports,
//! HTML page) and compared with its snapshot or graded by its rubric. What the run shows
//! as it goes goes to a [`Reporter`]; nothing here prints.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Compared, Error, ScenarioRun, ScenarioVerdict, UsageError};
use crate::actor::ExternalCommand;
use crate::check::Report;
use crate::engine::{self, EngineError, RunOptions};
use crate::html::{Page, Reference};
use crate::record::{RunRecord, Seen};
use crate::sandbox::{self, users::UidRange};
use crate::scenario::{self, Plan};
use crate::snapshot::{self, UpdateMode, Verdict};
use crate::transcript::{self, Transcript};

/// What a scenario's run is asked for, resolved from the command line.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// `--with ROLE=PROGRAM` (or a full command line), as given: read against the plan's
    /// roles once it is loaded.
    pub(crate) with: Vec<String>,
    /// The factor on the reference programs' delays.
    pub(crate) time_scale: f64,
    /// Write the snapshot with this run's transcript.
    pub(crate) update: bool,
    /// Compare with no snapshot.
    pub(crate) no_snapshot: bool,
    /// The folder of the snapshots, when not `snapshots/` beside the scenario's folder.
    pub(crate) snapshot_dir: Option<PathBuf>,
    /// Capture the packets on the run's loopback (when the machine allows it).
    pub(crate) capture: bool,
    /// Where the captured packets go, as pcap.
    pub(crate) pcap: Option<PathBuf>,
    /// Where the rubric's report goes, as JSON, JUnit XML and Gradescope's `results.json`.
    pub(crate) report_json: Option<PathBuf>,
    pub(crate) report_junit: Option<PathBuf>,
    pub(crate) report_gradescope: Option<PathBuf>,
    /// The folder of the run's HTML page.
    pub(crate) report_html: Option<PathBuf>,
    /// The uids external programs run as, when labrun is root.
    pub(crate) uid_range: Option<UidRange>,
    /// Folders the external programs must not see.
    pub(crate) hide: Vec<PathBuf>,
}

/// The engine's run of a plan, handed to [`Reporter::watch`] with the observer of what the
/// run sees.
pub(crate) type RunEngine<'a> =
    dyn FnMut(&mut dyn FnMut(Seen<'_>)) -> Result<RunRecord, EngineError> + 'a;

/// What a scenario's run shows as it goes, in the order it happens; the command line's
/// terminal is one. The verdict is not among them: it is the value [`run_scenario`]
/// returns.
pub(crate) trait Reporter {
    /// Runs `engine`, which runs the plan, handing it the observer of what the run sees
    /// (the live view, or nothing), and returns what it returns.
    fn watch(
        &mut self,
        plan: &Plan,
        time_scale: f64,
        engine: &mut RunEngine<'_>,
    ) -> Result<RunRecord, EngineError>;
    /// The run is over and normalised: its transcript, and `text`, the transcript as text
    /// (what the snapshot holds).
    fn transcript(&mut self, transcript: &Transcript, text: &str);
    /// Something the run has to say before its verdict.
    fn notice(&mut self, notice: Notice<'_>);
    /// The rubric's report, before its files are written.
    fn rubric(&mut self, report: &Report);
}

/// What a scenario's run has to say along the way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Notice<'a> {
    /// The run's one warning line about what its network and isolation lack.
    Isolation { line: &'a str },
    /// External programs run in real time: the `time_scale` asked for is ignored.
    RealTime { ignored: f64 },
    /// Processes the programs left behind, stopped once the run was over.
    Leftovers { count: usize },
    /// The capture failed: the packets are not all there.
    CaptureFailed { error: &'a str },
    /// `count` packets written to `path` as pcap.
    PacketsWritten { count: usize, path: &'a Path },
    /// The run went over the scenario's `timeout` and was stopped.
    TimedOut { name: &'a str, timeout: Duration },
    /// The run's HTML page was written to `path`.
    PageWritten { path: &'a Path },
}

/// Runs the scenario at `path` in this process, as `settings` ask, and returns its
/// verdict; what it shows on the way goes to `reporter`, in order.
pub(crate) fn run_scenario(
    path: &Path,
    settings: &Settings,
    reporter: &mut dyn Reporter,
) -> Result<ScenarioRun, Error> {
    // Ctrl-C stops the programs and removes the run's directory, then prints what ran.
    crate::signals::catch();
    let plan = scenario::load(path)?;
    let externals = externals(&plan, &settings.with)?;
    let external = externals.iter().any(Option::is_some);
    // Before any namespace: the pool keeps a way to the machine's /proc.
    let own_users = if external {
        let range = sandbox::users::range_from(settings.uid_range)?;
        sandbox::users::enable(range).map_err(|why| tracing::debug!("no users of their own: {why}"))
    } else {
        Err(())
    };
    let network = sandbox::network::set_up(&needs(&plan, &externals, settings.capture))?;
    if let Some(program) = static_resolver(&plan, &externals, &network) {
        return Err(Error::StaticResolver { program });
    }
    let mut lacks = Vec::new();
    if external {
        sandbox::pids::hide(&settings.hide);
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
        reporter.notice(Notice::Isolation { line: &line });
    }
    // External programs sleep for real; scaling only the reference programs' delays would
    // mix two clocks and give orders of events that never happen at real time.
    let mut time_scale = settings.time_scale;
    if external && time_scale != 1.0 {
        reporter.notice(Notice::RealTime {
            ignored: time_scale,
        });
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
    sandbox::adopt_orphans();
    let record = reporter.watch(&plan, time_scale, &mut |observer| {
        engine::run(&plan, &options, observer)
    });
    let leftovers = sandbox::kill_leftovers();
    if leftovers > 0 {
        reporter.notice(Notice::Leftovers { count: leftovers });
    }
    let record = record?;
    let run = |verdict| ScenarioRun {
        name: plan.name.clone(),
        elapsed: record.elapsed,
        verdict,
    };
    let transcript = transcript::normalize(&plan, &record);
    let text = transcript.to_text();
    reporter.transcript(&transcript, &text);
    // A signal that came as the run was ending is still a signal.
    if let Some(signal) = record.interrupted.or_else(crate::signals::received) {
        return Ok(run(ScenarioVerdict::Interrupted { signal }));
    }
    if let Some(error) = &record.capture_error {
        reporter.notice(Notice::CaptureFailed { error });
    }
    if let Some(path) = &settings.pcap {
        crate::observe::capture::write_pcap(path, &record.packets).map_err(|source| {
            Error::Write {
                path: path.clone(),
                source,
            }
        })?;
        reporter.notice(Notice::PacketsWritten {
            count: record.packets.len(),
            path,
        });
    }
    if record.timed_out {
        reporter.notice(Notice::TimedOut {
            name: &plan.name,
            timeout: plan.timeout,
        });
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
    if let Some(dir) = &settings.report_html {
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
            settings,
            &plan,
            &transcript,
            &text,
            report.as_ref(),
            warnings,
            &path,
        ) {
            return Err(Error::Write { path, source });
        }
        reporter.notice(Notice::PageWritten { path: &path });
    }
    if let Some(report) = report {
        return rubric_verdict(settings, reporter, &plan, &text, &report).map(run);
    }
    if settings.no_snapshot {
        return Ok(run(ScenarioVerdict::Unchecked {
            timed_out: record.timed_out,
        }));
    }
    let captured = options.capture && record.capture_error.is_none();
    if captured {
        verdict(settings, &plan, &text).map(run)
    } else {
        verdict_without_capture(settings, &plan, &text).map(run)
    }
}

/// A run without a packet capture is compared with its snapshot but for the packets: what
/// the kernel's socket tables and the programs showed must still match.
fn verdict_without_capture(
    settings: &Settings,
    plan: &Plan,
    text: &str,
) -> Result<ScenarioVerdict, Error> {
    let path = snapshot::path_for(&plan.path, &plan.name, settings.snapshot_dir.as_deref());
    if settings.update {
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
    settings: &Settings,
    plan: &Plan,
    transcript: &Transcript,
    text: &str,
    report: Option<&Report>,
    warnings: Vec<String>,
    path: &Path,
) -> std::io::Result<()> {
    let snapshot = snapshot::path_for(&plan.path, &plan.name, settings.snapshot_dir.as_deref());
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
    settings: &Settings,
    reporter: &mut dyn Reporter,
    plan: &Plan,
    text: &str,
    report: &Report,
) -> Result<ScenarioVerdict, Error> {
    reporter.rubric(report);
    let outputs = [
        (&settings.report_json, crate::report::json(report)),
        (&settings.report_junit, crate::report::junit(report)),
        (
            &settings.report_gradescope,
            crate::report::gradescope(report),
        ),
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
    if !settings.no_snapshot {
        let path = snapshot::path_for(&plan.path, &plan.name, settings.snapshot_dir.as_deref());
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

fn verdict(settings: &Settings, plan: &Plan, text: &str) -> Result<ScenarioVerdict, Error> {
    let path = snapshot::path_for(&plan.path, &plan.name, settings.snapshot_dir.as_deref());
    let mode = if settings.update {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A reporter that keeps what it is told, in order.
    #[derive(Default)]
    struct Heard(Vec<String>);

    impl Reporter for Heard {
        fn watch(
            &mut self,
            _: &Plan,
            _: f64,
            engine: &mut RunEngine<'_>,
        ) -> Result<RunRecord, EngineError> {
            self.0.push("watch".into());
            engine(&mut |_| {})
        }
        fn transcript(&mut self, _: &Transcript, _: &str) {
            self.0.push("transcript".into());
        }
        fn notice(&mut self, notice: Notice<'_>) {
            self.0.push(format!("{notice:?}"));
        }
        fn rubric(&mut self, _: &Report) {
            self.0.push("rubric".into());
        }
    }

    fn settings(with: &[&str]) -> Settings {
        Settings {
            with: with.iter().map(|w| (*w).to_owned()).collect(),
            time_scale: 0.0,
            update: false,
            no_snapshot: true,
            snapshot_dir: None,
            capture: false,
            pcap: None,
            report_json: None,
            report_junit: None,
            report_gradescope: None,
            report_html: None,
            uid_range: None,
            hide: Vec::new(),
        }
    }

    /// A `--with` naming no role of the scenario is refused before anything runs, and
    /// nothing is reported.
    #[test]
    fn an_unknown_role_is_refused_before_the_run() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/tcp_basic.toml");
        let mut heard = Heard::default();
        let error = run_scenario(&path, &settings(&["proxy=./proxy"]), &mut heard)
            .expect_err("no role proxy");
        assert!(
            matches!(error, Error::Usage(UsageError::UnknownRole { ref role, .. }) if role == "proxy"),
            "{error:?}"
        );
        assert_eq!(heard.0, Vec::<String>::new());
    }
}
