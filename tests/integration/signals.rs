//! SIGINT and SIGTERM: labrun stops its programs within a second, removes its run
//! directories, prints what ran so far and exits 130 or 143.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Scratch, fixture, labrun, processes_running, root};

/// Sends `signal` to `child` once it has run for `after`, and returns (exit code, how
/// long it took to end after the signal, stdout, stderr).
fn interrupt(
    child: Child,
    after: Duration,
    signal: i32,
) -> (Option<i32>, Duration, String, String) {
    interrupt_as(child, after, signal, false)
}

/// [`interrupt`], to the child's whole process group with `group` (as a terminal's Ctrl-C
/// does; the child must lead a group of its own).
fn interrupt_as(
    mut child: Child,
    after: Duration,
    signal: i32,
    group: bool,
) -> (Option<i32>, Duration, String, String) {
    use std::io::Read;
    std::thread::sleep(after);
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("a pid"));
    let signal = nix::sys::signal::Signal::try_from(signal).expect("a signal");
    if group {
        nix::sys::signal::killpg(pid, signal).expect("signal labrun's group");
    } else {
        nix::sys::signal::kill(pid, signal).expect("signal labrun");
    }
    let sent = Instant::now();
    let status = child.wait().expect("labrun ends");
    let took = sent.elapsed();
    let (mut out, mut err) = (String::new(), String::new());
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read stdout");
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read stderr");
    (status.code(), took, out, err)
}

/// A labrun of `tcp_sleep` with the lab's C server under a name of the test's own
/// (`serveur-LABEL`, so that other tests' programs are not counted), and the folder that
/// holds it.
fn tcp_sleep_with_server(label: &str) -> (Scratch, Command, String) {
    let scratch = Scratch::new(label);
    let name = format!("serveur-{label}");
    let server = scratch.path().join(&name);
    std::fs::copy(fixture("serveur"), &server).expect("copy the server");
    let mut command = labrun();
    command
        .args(["scenarios/tcp_sleep.toml", "--with"])
        .arg(format!("server={}", server.display()));
    (scratch, command, name)
}

/// `labrun grade` of one correct TCP submission on `scenarios`, out in the class folder.
fn grade_one_student(label: &str, scenarios: &[&str]) -> (Scratch, Command) {
    let class = Scratch::new(label);
    let student = class.path().join("alice");
    std::fs::create_dir_all(&student).expect("a submission");
    for file in ["serveur.c", "clientt.c"] {
        std::fs::copy(root().join("tests/fixtures").join(file), student.join(file)).expect("copy");
    }
    let mut command = labrun();
    command.args(["grade", "courses/tp-sockets.toml"]);
    for scenario in scenarios {
        command.args(["--scenario", scenario]);
    }
    command
        .arg("--out")
        .arg(class.path().join("grades"))
        .arg(&student);
    (class, command)
}

/// The run directories of process `pid` left in the temporary folder.
fn run_dirs_of(pid: u32) -> Vec<String> {
    let prefix = format!("labrun-p{pid}-");
    std::fs::read_dir(std::env::temp_dir())
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with(&prefix))
        .collect()
}

#[test]
fn sigint_stops_a_run_at_once_and_prints_what_ran() {
    // A copy under a name of its own, so that other tests' programs are not counted.
    let (_scratch, mut command, server) = tcp_sleep_with_server("sigint");
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("labrun starts");
    let pid = child.id();
    let (code, took, out, err) = interrupt(child, Duration::from_millis(2500), libc::SIGINT);
    assert_eq!(code, Some(130), "{err}");
    assert!(took < Duration::from_secs(1), "took {took:?} to stop");
    assert!(err.contains("interrupted by SIGINT"), "{err}");
    // What ran so far: the first exchanges, and how the programs were stopped.
    assert!(out.contains("# B=000"), "{out}");
    assert!(out.contains("interrupted"), "{out}");
    assert!(
        run_dirs_of(pid).is_empty(),
        "left behind: {:?}",
        run_dirs_of(pid)
    );
    assert!(processes_running(&server).is_empty());
}

#[test]
fn sigterm_stops_a_run_with_exit_143() {
    let child = labrun()
        .args(["scenarios/tcp_sleep.toml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("labrun starts");
    let (code, took, out, err) = interrupt(child, Duration::from_millis(1500), libc::SIGTERM);
    assert_eq!(code, Some(143), "{err}");
    assert!(took < Duration::from_secs(1), "took {took:?} to stop");
    assert!(out.contains("# B=000"), "{out}");
}

#[test]
fn sigterm_to_labrun_grade_stops_every_run_and_says_what_was_done() {
    let (class, mut command) =
        grade_one_student("grade-sigterm", &["tcp_basic", "tcp_two_clients"]);
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("labrun grade starts");
    let grade = child.id();
    // The builds take a moment; the runs last 6 s and more.
    let (code, took, _, err) = interrupt(child, Duration::from_secs(3), libc::SIGTERM);
    assert_eq!(code, Some(143), "{err}");
    assert!(took < Duration::from_secs(2), "took {took:?} to stop");
    assert!(err.contains("interrupted by SIGTERM"), "{err}");
    assert!(
        !class.path().join("grades/summary.csv").exists(),
        "a summary of part of the class"
    );
    // Its runs' programs are built into its work folder: none of them is left running.
    let left = processes_running(&format!("labrun-p{grade}-"));
    assert!(left.is_empty(), "{left:?}");
}

/// `labrun grade` killed outright (a CI timeout, the OOM killer): its runs, and their
/// programs, end with it instead of going on as orphans.
#[test]
fn the_runs_of_a_killed_grade_end_with_it() {
    let (_class, mut command) = grade_one_student("grade-sigkill", &["tcp_basic"]);
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("labrun grade starts");
    let grade = child.id();
    let mark = format!("labrun-p{grade}-");
    // Its runs are under way once labrun runs write reports into its work folder.
    let runs = || -> Vec<String> {
        processes_running(&mark)
            .into_iter()
            .filter(|p| p.contains("--report-json"))
            .collect()
    };
    let started = Instant::now();
    while runs().is_empty() && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!runs().is_empty(), "no run started");
    // Well into them: their programs run.
    std::thread::sleep(Duration::from_secs(1));
    child.kill().expect("SIGKILL labrun grade");
    child.wait().expect("reap it");
    let killed = Instant::now();
    while !processes_running(&mark).is_empty() && killed.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left = processes_running(&mark);
    // What a killed grade leaves in the temporary folder is this test's to remove.
    for entry in std::fs::read_dir(std::env::temp_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        if entry.file_name().to_string_lossy().starts_with(&mark) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    assert!(left.is_empty(), "still running 2 s after: {left:?}");
}

/// Ctrl-C on a terminal signals the whole foreground group: `labrun grade` gets it once,
/// its runs (each in a group of its own) get it once from it, and all end cleanly.
#[test]
fn ctrl_c_to_the_group_of_labrun_grade_stops_it_with_130() {
    use std::os::unix::process::CommandExt;
    let (_class, mut command) = grade_one_student("grade-ctrl-c", &["tcp_basic"]);
    let child = command
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("labrun grade starts");
    let group = child.id();
    let (code, took, _, err) = interrupt_as(child, Duration::from_secs(3), libc::SIGINT, true);
    assert_eq!(code, Some(130), "{err}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(err.contains("interrupted by SIGINT"), "{err}");
    let left = processes_running(&format!("labrun-p{group}-"));
    assert!(left.is_empty(), "{left:?}");
}

/// Ctrl-C on a terminal signals labrun's whole group: the run, in a pid namespace of its
/// own, gets it once and ends cleanly, with 130 and nothing left behind.
#[test]
fn ctrl_c_to_the_group_of_a_run_stops_it_cleanly() {
    use std::os::unix::process::CommandExt;
    let (_scratch, mut command, server) = tcp_sleep_with_server("ctrl-c");
    let child = command
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("labrun starts");
    let (code, took, _, err) = interrupt_as(child, Duration::from_millis(2500), libc::SIGINT, true);
    assert_eq!(code, Some(130), "{err}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert!(err.contains("interrupted by SIGINT"), "{err}");
    assert!(processes_running(&server).is_empty());
}

/// `pkill labrun` signals both processes of a run in its pid namespace (the first one and
/// the run): the run gets SIGTERM twice, once directly and once passed on, and still
/// stops its programs and ends with 143.
#[test]
fn a_signal_to_both_processes_of_a_run_still_ends_it_cleanly() {
    let (_scratch, mut command, server) = tcp_sleep_with_server("pkill");
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("labrun starts");
    std::thread::sleep(Duration::from_millis(2500));
    let first = child.id();
    let children =
        std::fs::read_to_string(format!("/proc/{first}/task/{first}/children")).unwrap_or_default();
    let mut pids = vec![first];
    pids.extend(
        children
            .split_whitespace()
            .filter_map(|p| p.parse::<u32>().ok()),
    );
    for pid in &pids {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(*pid).expect("a pid"));
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    }
    let sent = Instant::now();
    let status = child.wait().expect("labrun ends");
    let took = sent.elapsed();
    let mut err = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read");
    assert_eq!(status.code(), Some(143), "{err}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    // Ended by its own clean-up, which says what ran, not by a second signal.
    assert!(err.contains("interrupted by SIGTERM"), "{err}");
    let gone = Instant::now();
    while !processes_running(&server).is_empty() && gone.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(processes_running(&server).is_empty());
}
