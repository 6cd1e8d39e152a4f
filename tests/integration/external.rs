//! Students' programs through `--with`: gcc-compiled C versions of the lab's programs,
//! in both directions, give the reference transcript.

use crate::common::{fixture, processes_running, run, stderr, stdout, transcript};

fn with(role: &str, program: &str) -> String {
    format!("{role}={}", fixture(program).display())
}

/// labrun compares the run with the committed snapshot of the reference programs.
fn assert_matches_snapshot(scenario: &str, withs: &[String]) {
    let path = format!("scenarios/{scenario}.toml");
    let mut args = vec![path.as_str(), "--time-scale", "0"];
    for w in withs {
        args.push("--with");
        args.push(w);
    }
    let output = run(&args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{scenario} with {withs:?} differs from the reference:\n{}\n{}",
        stdout(&output),
        stderr(&output)
    );
}

#[test]
fn c_tcp_server_with_reference_client() {
    assert_matches_snapshot("tcp_basic", &[with("server", "serveur")]);
}

#[test]
fn reference_tcp_server_with_c_client() {
    assert_matches_snapshot("tcp_basic", &[with("client", "clientt")]);
}

#[test]
fn c_udp_server_with_reference_client() {
    assert_matches_snapshot("udp_basic", &[with("server", "serveuru")]);
}

#[test]
fn reference_udp_server_with_c_client() {
    assert_matches_snapshot("udp_basic", &[with("client", "clientu")]);
}

#[test]
fn two_c_clients_against_the_reference_tcp_server() {
    assert_matches_snapshot(
        "tcp_two_clients",
        &[with("client1", "clientt"), with("client2", "clientt")],
    );
}

#[test]
fn c_programs_on_both_sides_print_their_lines() {
    let text = transcript(
        "tcp_basic",
        &[
            "--with",
            &with("server", "serveur"),
            "--with",
            &with("client", "clientt"),
        ],
    );
    for line in [
        "out    serveur A reçu de (127.0.0.1,[client.port]) : # B=002",
        "out    client  B: (127.0.0.1,[client.port]) recoit de (127.0.0.1,4000) : # A=002#",
        "exit   exited with status 0",
        "exit   stopped by labrun: its clients were done",
        "tcp client ↔ server: 19 packets",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}

#[test]
fn a_full_command_line_is_accepted() {
    let program = format!("server={} {{id}} {{port}}", fixture("serveur").display());
    let text = transcript("tcp_basic", &["--with", &program]);
    assert!(text.contains("serveur A reçu de"), "{text}");
}

#[test]
fn unflushed_output_of_a_server_that_never_exits_is_kept() {
    // serveur.c never calls fflush and never exits: on a pipe its lines would be lost
    // when labrun stops it.
    let text = transcript("udp_basic", &["--with", &with("server", "serveuru")]);
    assert_eq!(
        text.matches("serveur A a reçu le message").count(),
        3,
        "{text}"
    );
}

#[test]
fn nothing_is_left_running_after_a_run() {
    // A copy under a name of its own, so that other tests' runs are not counted.
    let server = fixture("serveur").with_file_name("serveur-left-behind");
    std::fs::copy(fixture("serveur"), &server).expect("copy fixture");
    transcript(
        "tcp_basic",
        &["--with", &format!("server={}", server.display())],
    );
    let left = processes_running(&server.display().to_string());
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Two external programs and no sleeps: the client is gone before labrun can look at its
/// sockets, and its port is known only from the capture. It is credited to the client,
/// the one program it can be, every run: every check of the client passes.
#[test]
fn a_quick_external_client_of_an_external_server_is_credited_its_messages() {
    let server = fixture("students/tcp_server_no_sleep");
    let client = fixture("clientt");
    for run in 0..10 {
        let output = crate::common::labrun()
            .args(["scenarios/tcp_basic.toml", "--no-snapshot", "--with"])
            .arg(format!("server={}", server.display()))
            .arg("--with")
            .arg(format!("client={}", client.display()))
            .output()
            .expect("labrun runs");
        let (out, err) = (stdout(&output), stderr(&output));
        // One report grades both: the client's checks are named after it.
        let client_checks: Vec<&str> = err
            .lines()
            .map(str::trim_start)
            .filter(|l| l.starts_with("✓ client") || l.starts_with("✗ client"))
            .collect();
        assert!(
            client_checks.len() >= 5,
            "run {run}: client not graded:\n{err}"
        );
        assert!(
            client_checks.iter().all(|l| l.starts_with('✓')),
            "run {run}:\n{err}"
        );
        assert!(
            !out.contains("  ?  "),
            "run {run}: a message credited to nobody:\n{out}"
        );
    }
}
