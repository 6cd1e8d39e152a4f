//! Failures and hostile programs: servers that never listen, listen on the wrong port,
//! crash, exit at once or ignore SIGTERM; programs that never answer or print garbage;
//! timeouts and missing snapshots. labrun must end in bounded time, say what happened,
//! leave nothing running and give the documented exit code.
//!
//! The hostile programs are C files in `tests/fixtures/hostile/`, compiled here with gcc.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::{Scratch, fixture, labrun, processes_running, stderr, stdout};

/// Every run here must end well within this (a bound, not a benchmark).
const BOUND: Duration = Duration::from_secs(15);

/// A hostile C program of `tests/fixtures/hostile/`, compiled.
fn hostile(name: &str) -> PathBuf {
    fixture(&format!("hostile/{name}"))
}

/// A folder of its own holding `robustness.toml` (and snapshots).
struct TempDir(Scratch);

impl TempDir {
    fn scenario(&self) -> String {
        self.0.arg("robustness.toml")
    }

    fn snapshots(&self) -> PathBuf {
        self.0.path().join("snapshots")
    }
}

/// The limits of a one-server, one-client TCP scenario.
struct Limits {
    run: &'static str,
    ready: &'static str,
    client: &'static str,
}

const LIMITS: Limits = Limits {
    run: "20s",
    ready: "1s",
    client: "3s",
};

/// A scenario of `text`, written to a folder of its own.
fn written(label: &str, text: &str) -> TempDir {
    let dir = TempDir(Scratch::new(label));
    std::fs::write(dir.scenario(), text).expect("write scenario");
    dir
}

/// A TCP scenario, server `A` on port 4000 and client `B`, written to a folder of its own.
fn scenario(limits: &Limits) -> TempDir {
    let text = format!(
        "[run]\ntimeout = \"{}\"\nready-timeout = \"{}\"\nstop-grace = \"200ms\"\n\n\
         [[server]]\nprotocol = \"tcp\"\nid = \"A\"\nport = 4000\n\n\
         [[client]]\nid = \"B\"\ntimeout = \"{}\"\n",
        limits.run, limits.ready, limits.client
    );
    written("robustness", &text)
}

/// `--with ROLE=PROGRAM`.
fn with(role: &str, program: &Path) -> String {
    format!("{role}={}", program.display())
}

/// Runs `command` and measures how long it took.
fn timed(command: &mut Command) -> (Output, Duration) {
    let start = Instant::now();
    let output = command.output().expect("labrun runs");
    (output, start.elapsed())
}

/// Runs the scenario at `--time-scale 0` without snapshot, with one role played by
/// `program`.
fn run_with(dir: &TempDir, role: &str, program: &Path) -> (Output, Duration) {
    timed(labrun().args([
        &dir.scenario(),
        "--time-scale",
        "0",
        "--no-snapshot",
        "--with",
        &with(role, program),
    ]))
}

fn assert_has(text: &str, part: &str) {
    assert!(text.contains(part), "missing {part:?} in:\n{text}");
}

/// The texts of the transcript lines of `role` and `kind`, whatever the columns' widths.
fn texts<'a>(transcript: &'a str, role: &str, kind: &str) -> Vec<&'a str> {
    transcript
        .lines()
        .filter_map(|line| {
            let mut rest = line.trim_start();
            let mut field = || {
                let (word, after) = rest.split_once(' ').unwrap_or((rest, ""));
                rest = after.trim_start();
                word
            };
            let (time, r, k) = (field(), field(), field());
            (time.parse::<f64>().is_ok() && r == role && k == kind).then_some(rest)
        })
        .collect()
}

/// Asserts that the transcript has a line `role kind text`.
fn assert_line(transcript: &str, role: &str, kind: &str, text: &str) {
    assert!(
        texts(transcript, role, kind).contains(&text),
        "missing `{role} {kind} {text}` in:\n{transcript}"
    );
}

/// The text of the only line of `role` and `kind`.
fn only<'a>(transcript: &'a str, role: &str, kind: &str) -> &'a str {
    match texts(transcript, role, kind)[..] {
        [text] => text,
        _ => panic!("not one `{role} {kind}` line in:\n{transcript}"),
    }
}

fn assert_bounded(elapsed: Duration, output: &Output) {
    assert!(
        elapsed < BOUND,
        "took {elapsed:?}:\n{}\n{}",
        stdout(output),
        stderr(output)
    );
}

fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{}\n{}",
        stdout(output),
        stderr(output)
    );
}

/// Processes whose command line mentions `needle`, once those being killed have gone.
fn left_running(needle: &str) -> Vec<String> {
    let give_up = Instant::now() + Duration::from_secs(2);
    loop {
        let left = processes_running(needle);
        if left.is_empty() || Instant::now() >= give_up {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A copy of a hostile program under a name no other test uses, for `left_running`.
fn unique_copy(name: &str, suffix: &str) -> PathBuf {
    let copy = hostile(name).with_file_name(format!("{name}-{suffix}"));
    std::fs::copy(hostile(name), &copy).expect("copy hostile fixture");
    copy
}

#[test]
fn a_server_that_never_listens_is_given_up_after_the_ready_timeout() {
    let dir = scenario(&LIMITS);
    let server = unique_copy("never_listens", "given-up");
    let (output, elapsed) = run_with(&dir, "server", &server);
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert_line(
        &text,
        "server",
        "out",
        "never_listens: sleeping instead of listening",
    );
    assert_eq!(
        only(&text, "client", "skip"),
        "not started: `server` was not ready after 1s: nothing listening on tcp port 4000"
    );
    assert_eq!(
        only(&text, "server", "exit"),
        "stopped by labrun: its clients were done"
    );
    assert!(texts(&text, "client", "start").is_empty(), "{text}");
    assert!(
        elapsed >= Duration::from_secs(1),
        "gave up before the ready-timeout: {elapsed:?}"
    );
    assert_bounded(elapsed, &output);
    let left = left_running(&server.display().to_string());
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
#[cfg(target_endian = "little")]
fn a_server_that_forgot_htons_is_told_so() {
    let dir = scenario(&LIMITS);
    let server = unique_copy("wrong_port", "told");
    let (output, elapsed) = run_with(&dir, "server", &server);
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert_eq!(
        only(&text, "client", "skip"),
        "not started: `server` was not ready after 1s: nothing listening on tcp port 4000; \
         it is on port 40975, which is 4000 with its two bytes swapped: was htons() forgotten?"
    );
    assert_eq!(
        only(&text, "server", "exit"),
        "stopped by labrun: its clients were done"
    );
    assert_bounded(elapsed, &output);
    let left = left_running(&server.display().to_string());
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_server_that_crashes_at_start_is_reported_and_its_client_skipped() {
    // A long ready-timeout: labrun must see the crash, not wait for the timeout.
    let dir = scenario(&Limits {
        ready: "10s",
        ..LIMITS
    });
    let (output, elapsed) = run_with(&dir, "server", &hostile("crash_at_start"));
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert_line(&text, "server", "out", "crash_at_start: about to crash");
    assert_eq!(
        only(&text, "server", "exit"),
        "killed by signal 11 (SIGSEGV)"
    );
    assert_eq!(
        only(&text, "client", "skip"),
        "not started: `server` ended without ever becoming ready"
    );
    assert!(texts(&text, "client", "start").is_empty(), "{text}");
    assert!(
        elapsed < Duration::from_secs(8),
        "waited for the ready-timeout after the crash: {elapsed:?}"
    );
}

#[test]
fn a_server_that_exits_with_a_usage_error_shows_its_stderr() {
    let dir = scenario(&Limits {
        ready: "10s",
        ..LIMITS
    });
    let server = hostile("exits_at_once");
    let (output, elapsed) = run_with(&dir, "server", &server);
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert_eq!(
        only(&text, "server", "err"),
        format!("usage: {} id port close_delay", server.display())
    );
    assert_eq!(only(&text, "server", "exit"), "exited with status 1");
    assert_eq!(
        only(&text, "client", "skip"),
        "not started: `server` ended without ever becoming ready"
    );
    assert!(
        elapsed < Duration::from_secs(8),
        "waited for the ready-timeout after the exit: {elapsed:?}"
    );
}

#[test]
fn a_server_that_ignores_sigterm_is_killed_with_its_children() {
    // ignores_sigterm also forks a child that ignores SIGTERM: the whole group must go.
    let dir = scenario(&Limits {
        client: "1s",
        ..LIMITS
    });
    let server = unique_copy("ignores_sigterm", "killed");
    let (output, elapsed) = run_with(&dir, "server", &server);
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert_line(&text, "server", "ready", "tcp 0.0.0.0:4000 listening");
    assert_eq!(
        only(&text, "client", "exit"),
        "timed out after 1s and killed"
    );
    // The line says `stopped by labrun: its clients were done`, SIGKILL or not.
    only(&text, "server", "exit");
    assert_bounded(elapsed, &output);
    let left = left_running(&server.display().to_string());
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_client_is_killed_by_its_own_wall_clock_timeout() {
    let dir = scenario(&LIMITS);
    let (output, elapsed) = run_with(&dir, "server", &hostile("never_answers"));
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert_line(&text, "client", "msg", "→ server \"# B=000\\0\" (8 bytes)");
    assert_eq!(
        only(&text, "client", "exit"),
        "timed out after 3s and killed"
    );
    assert_eq!(
        only(&text, "server", "exit"),
        "stopped by labrun: its clients were done"
    );
    assert!(!text.contains("recoit de"), "{text}");
    // Wall-clock: `--time-scale 0` does not shorten it.
    assert!(
        elapsed >= Duration::from_secs(3),
        "killed before its timeout: {elapsed:?}"
    );
    assert_bounded(elapsed, &output);
}

#[test]
fn the_whole_run_timeout_stops_everything_and_fails() {
    let dir = scenario(&Limits {
        run: "2s",
        client: "60s",
        ..LIMITS
    });
    let (output, elapsed) = run_with(&dir, "server", &hostile("never_answers"));
    assert_exit(&output, 1);
    assert_has(
        &stderr(&output),
        "labrun: robustness: the run went over its timeout of 2s and was stopped",
    );
    let text = stdout(&output);
    assert_eq!(
        only(&text, "server", "exit"),
        "killed: the whole run went over its timeout of 2s"
    );
    only(&text, "client", "exit");
    assert!(
        elapsed >= Duration::from_secs(2),
        "stopped before the run timeout: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(8),
        "the run timeout did not stop the run: {elapsed:?}"
    );
}

#[test]
fn a_client_stopped_by_the_run_timeout_is_not_said_to_reach_its_own_timeout() {
    let dir = scenario(&Limits {
        run: "2s",
        client: "60s",
        ..LIMITS
    });
    let (output, elapsed) = run_with(&dir, "server", &hostile("never_answers"));
    assert_exit(&output, 1);
    assert!(elapsed < Duration::from_secs(8), "{elapsed:?}");
    let text = stdout(&output);
    assert!(!text.contains("timed out after 60s"), "{text}");
    assert!(
        text.contains("killed: the whole run went over its timeout of 2s"),
        "{text}"
    );
}

#[test]
fn a_missing_snapshot_fails_then_is_accepted_with_update() {
    let dir = scenario(&LIMITS);
    let snapshots = dir.snapshots();
    let snap = snapshots.join("robustness.snap");
    let pending = snapshots.join("robustness.snap.new");
    let run = |update: bool, ci: bool| {
        let mut command = labrun();
        command.args([
            &dir.scenario(),
            "--time-scale",
            "0",
            "--snapshot-dir",
            snapshots.to_str().expect("utf-8 path"),
        ]);
        if update {
            command.arg("--update");
        }
        if ci {
            command.env("CI", "true");
        }
        let (output, elapsed) = timed(&mut command);
        assert_bounded(elapsed, &output);
        output
    };

    // In CI a missing snapshot just fails.
    let output = run(false, true);
    assert_exit(&output, 1);
    assert_has(
        &stderr(&output),
        &format!("robustness: no snapshot at {}", snap.display()),
    );
    assert!(!pending.exists(), "CI wrote {}", pending.display());
    assert!(!snap.exists());

    // Outside CI it fails and writes the run as `.snap.new`, in insta's format.
    let output = run(false, false);
    assert_exit(&output, 1);
    assert_has(&stderr(&output), "no snapshot at");
    assert_has(&stderr(&output), &format!("wrote {}", pending.display()));
    let written = std::fs::read_to_string(&pending).expect("a .snap.new is written");
    assert!(written.starts_with("---\n"), "{written}");
    let body = written
        .splitn(3, "---\n")
        .nth(2)
        .expect("a header between `---` lines");
    assert_eq!(body.trim_end(), stdout(&output).trim_end());
    assert!(!snap.exists());

    // `--update` accepts it.
    let output = run(true, false);
    assert_exit(&output, 0);
    assert_has(&stderr(&output), &format!("wrote {}", snap.display()));
    assert!(!pending.exists(), "--update left {}", pending.display());
    let accepted = std::fs::read_to_string(&snap).expect("a .snap is written");
    assert!(accepted.starts_with("---\n"), "{accepted}");
    let accepted_body = accepted.splitn(3, "---\n").nth(2).expect("a header");
    assert_eq!(
        only(accepted_body, "client", "exit"),
        "exited with status 0"
    );

    // A plain run now matches, and removes a `.snap.new` left over.
    std::fs::write(&pending, written).expect("write a stale .snap.new");
    let output = run(false, false);
    assert_exit(&output, 0);
    assert_has(&stderr(&output), "transcript matches");
    assert!(!pending.exists(), "{} is still there", pending.display());

    // And so does a run in CI.
    assert_exit(&run(false, true), 0);
}

#[test]
fn garbage_output_does_not_crash_labrun() {
    let dir = scenario(&LIMITS);
    let client = hostile("garbage_output");
    let (output, elapsed) = run_with(&dir, "client", &client);
    assert_exit(&output, 0);
    assert_bounded(elapsed, &output);
    let text = stdout(&output);
    assert_line(&text, "client", "out", "bad \u{fffd}\u{fffd} bytes");
    assert_eq!(only(&text, "client", "exit"), "exited with status 0");
    // The 10 000 `x` without newline are cut into lines of at most 4096 bytes; none is
    // lost.
    let pieces: Vec<&str> = texts(&text, "client", "out")
        .into_iter()
        .filter(|rest| rest.starts_with('x'))
        .collect();
    assert!(pieces.len() >= 2, "the long line was not cut:\n{text}");
    assert!(pieces.iter().all(|p| p.len() <= 4096), "{pieces:?}");
    assert!(pieces.iter().all(|p| p.bytes().all(|b| b == b'x')));
    assert_eq!(pieces.iter().map(|p| p.len()).sum::<usize>(), 10_000);

    // The JSON transcript stays valid JSON.
    let (output, _) = timed(labrun().args([
        &dir.scenario(),
        "--time-scale",
        "0",
        "--no-snapshot",
        "--format",
        "json",
        "--with",
        &with("client", &client),
    ]));
    assert_exit(&output, 0);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("valid JSON");
    assert!(
        value["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .any(|e| e["text"] == "bad \u{fffd}\u{fffd} bytes"),
        "{value}"
    );
}

#[test]
fn output_over_the_cap_is_dropped_with_a_note() {
    // floods_output prints about 3 MB.
    let dir = scenario(&LIMITS);
    let (output, elapsed) = run_with(&dir, "client", &hostile("floods_output"));
    assert_exit(&output, 0);
    assert_bounded(elapsed, &output);
    let text = stdout(&output);
    assert!(
        texts(&text, "client", "out")[0].starts_with("line 00000 "),
        "{text}"
    );
    assert!(
        only(&text, "client", "note").starts_with("output over the cap: "),
        "{text}"
    );
    assert_eq!(only(&text, "client", "exit"), "exited with status 0");
    assert!(!text.contains("line 29999"), "nothing was dropped");
    assert!(text.len() < 2 << 20, "{} bytes of transcript", text.len());
}

#[test]
fn a_long_line_of_valid_utf8_is_kept_intact_and_deterministic() {
    let dir = scenario(&LIMITS);
    let client = hostile("long_utf8_line");
    let texts: Vec<String> = (0..5)
        .map(|_| {
            let (output, elapsed) = run_with(&dir, "client", &client);
            assert_exit(&output, 0);
            assert_bounded(elapsed, &output);
            stdout(&output)
        })
        .collect();
    for text in &texts {
        assert!(
            !text.contains('\u{fffd}'),
            "valid UTF-8 shown as U+FFFD:\n{text}"
        );
    }
    // The pieces and their order, not their times: an external program's lines are timed
    // by the real clock, which a loaded machine may move by a tenth of a second.
    let untimed = |text: &str| -> Vec<String> {
        text.lines()
            .map(|line| {
                line.trim_start()
                    .split_once(' ')
                    .map_or(line, |(_, rest)| rest)
            })
            .map(str::to_string)
            .collect()
    };
    for (i, text) in texts.iter().enumerate() {
        assert_eq!(
            untimed(text),
            untimed(&texts[0]),
            "run {i} differs from run 0"
        );
    }
}

#[test]
fn a_program_that_detaches_a_child_leaves_nothing_behind() {
    let dir = scenario(&LIMITS);
    // A copy under a name of its own, so that other tests' runs are not counted.
    let program = hostile("detaches").with_file_name("detaches-left-behind");
    std::fs::copy(hostile("detaches"), &program).expect("copy fixture");
    let (output, elapsed) = run_with(&dir, "client", &program);
    assert_exit(&output, 0);
    assert_bounded(elapsed, &output);
    let left = left_running(program.to_str().expect("utf-8 path"));
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_fork_loop_is_capped_and_everything_it_made_is_killed() {
    // Without a control group there is no cap for root: do not fork-bomb the machine.
    if let Err(reason) = labrun::sandbox::cgroup::ProcessCap::probe() {
        assert!(
            std::env::var_os("LABRUN_REQUIRE_CGROUP").is_none(),
            "no process cap here: {reason}"
        );
        eprintln!("SKIPPED: no process cap on this machine ({reason})");
        return;
    }
    let dir = scenario(&Limits {
        client: "1s",
        ..LIMITS
    });
    let server = unique_copy("forks_forever", "capped");
    let (output, elapsed) = run_with(&dir, "server", &server);
    assert_bounded(elapsed, &output);
    let text = stdout(&output);
    let made: u32 = only(&text, "server", "out")
        .strip_prefix("made ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of children in:\n{text}"));
    assert!(
        made < labrun::sandbox::cgroup::MAX_PROCESSES,
        "{made} children: the cap did not hold"
    );
    let left = left_running(&server.display().to_string());
    assert!(left.is_empty(), "left behind: {} processes", left.len());
    let groups: Vec<_> = std::fs::read_dir("/sys/fs/cgroup/pids")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("labrun-"))
        .map(|e| e.path())
        .collect();
    // Other tests' runs may hold groups right now; none of them is this run's, which has
    // exited: its groups are named after its pid, which is gone.
    for group in groups {
        let name = group
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let pid: Option<u32> = name.split('-').nth(1).and_then(|p| p.parse().ok());
        if let Some(pid) = pid {
            assert!(
                std::path::Path::new(&format!("/proc/{pid}")).exists(),
                "control group {} outlived its run",
                group.display()
            );
        }
    }
}

#[test]
fn a_server_that_reads_its_standard_input_gets_end_of_file_at_once() {
    let dir = scenario(&LIMITS);
    let (output, elapsed) = run_with(&dir, "server", &hostile("reads_stdin"));
    assert_bounded(elapsed, &output);
    let text = stdout(&output);
    assert_line(
        &text,
        "server",
        "out",
        "entree lue (0 caracteres, fin de fichier)",
    );
    assert_line(&text, "server", "ready", "tcp 0.0.0.0:4000 listening");
}
/// Runs `command` and returns its output with the highest resident memory seen.
fn peak_memory(command: &mut Command) -> (Output, u64) {
    let child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("labrun runs");
    let status = format!("/proc/{}/status", child.id());
    let watcher = std::thread::spawn(move || {
        let mut peak = 0;
        while let Ok(text) = std::fs::read_to_string(&status) {
            let kib = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
            match kib {
                Some(kib) => peak = kib,
                None => break, // a zombie: it has exited
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        peak
    });
    let output = child.wait_with_output().expect("labrun ends");
    (output, watcher.join().expect("watcher") * 1024)
}

#[test]
fn a_udp_server_flooding_its_client_is_captured_within_bounds() {
    // 20,000 datagrams of 64 KB (1.3 GB) for each question: the capture keeps a bounded
    // part, says so, and the run ends on time.
    let dir = written(
        "flood",
        "[run]\ntimeout = \"20s\"\nstop-grace = \"300ms\"\n\n\
         [[server]]\nprotocol = \"udp\"\nid = \"A\"\nport = 4000\n\n\
         [[client]]\nid = \"B\"\ntimeout = \"5s\"\n",
    );
    let start = Instant::now();
    let (output, peak) = peak_memory(labrun().args([
        &dir.scenario(),
        "--no-snapshot",
        "--with",
        &with("server", &hostile("floods_udp_client")),
    ]));
    let elapsed = start.elapsed();
    assert_bounded(elapsed, &output);
    assert!(
        peak < 400 << 20,
        "labrun's memory went up to {} MiB",
        peak >> 20
    );
    let text = stdout(&output);
    assert_has(&text, "more packets not kept");
    assert!(
        text.lines().count() < 200_000,
        "{} transcript lines",
        text.lines().count()
    );
}

#[test]
fn a_start_waiting_on_an_actor_that_never_starts_is_decided_at_once() {
    // client1 waits for client2 to start; client2 never does (its server exits at once).
    // That is known at 0 s, and the run must end then, not at its timeout.
    let dir = written(
        "never-starts",
        "[run]\ntimeout = \"20s\"\nready-timeout = \"1s\"\n\n\
         [[server]]\nprotocol = \"tcp\"\nid = \"A\"\nport = 4000\n\n\
         [[server]]\nprotocol = \"tcp\"\nid = \"B\"\nport = 4001\n\n\
         [[client]]\nid = \"C\"\nserver = \"server1\"\nstart-after = \"client2:started\"\n\n\
         [[client]]\nid = \"D\"\nserver = \"server2\"\n",
    );
    let (output, elapsed) = run_with(&dir, "server2", &hostile("exits_at_once"));
    assert!(
        elapsed < Duration::from_secs(10),
        "took {elapsed:?}:\n{}",
        stdout(&output)
    );
    let text = stdout(&output);
    assert!(only(&text, "client1", "skip").contains("client2"), "{text}");
}
