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

/// The lab's C server and client, both external: the transcript keeps cause before effect
/// from what the capture saw, and is the same every run. The client starts before anything
/// quotes its question; a line that quotes a message comes after the packet that carried
/// it, and after the sender's line that printed it.
#[test]
fn two_external_programs_keep_cause_before_effect() {
    let mut first: Option<String> = None;
    for run in 0..5 {
        let output = crate::common::labrun()
            .args(["scenarios/tcp_basic.toml", "--no-snapshot", "--with"])
            .arg(with("server", "serveur"))
            .arg("--with")
            .arg(with("client", "clientt"))
            .output()
            .expect("labrun runs");
        let (out, err) = (stdout(&output), stderr(&output));
        assert!(output.status.success(), "run {run}:\n{out}\n{err}");
        let client_checks: Vec<&str> = err
            .lines()
            .map(str::trim_start)
            .filter(|l| l.starts_with("✓ client") || l.starts_with("✗ client"))
            .collect();
        assert!(client_checks.len() >= 5, "run {run}: {err}");
        assert!(
            client_checks.iter().all(|l| l.starts_with('✓')),
            "run {run}:\n{err}"
        );
        assert_cause_before_effect(&out);
        match &first {
            None => first = Some(out),
            Some(first) => assert_eq!(*first, out, "run {run} differs from the first"),
        }
    }
}

/// One transcript line: time in tenths, role, kind, text.
struct Line<'a> {
    tenths: u64,
    role: &'a str,
    kind: &'a str,
    text: &'a str,
}

fn lines_of(section: &str) -> Vec<Line<'_>> {
    section
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let time = words.next()?;
            let role = words.next()?;
            let kind = words.next()?;
            let (whole, tenth) = time.split_once('.')?;
            let tenths = whole.parse::<u64>().ok()? * 10 + tenth.parse::<u64>().ok()?;
            let text = line
                .split_once(&format!(" {kind} "))
                .map(|(_, t)| t.trim())?;
            Some(Line {
                tenths,
                role,
                kind,
                text,
            })
        })
        .collect()
}

fn assert_cause_before_effect(transcript: &str) {
    let (entries, rest) = transcript
        .split_once("\n== packets")
        .expect("a packets section");
    let entries = lines_of(entries);
    let packets = lines_of(rest);
    let position = |role: &str, kind: &str, from: usize| {
        entries
            .iter()
            .skip(from)
            .position(|l| l.role == role && l.kind == kind)
            .map(|p| p + from)
    };
    let client_start = position("client", "start", 0).expect("the client starts");
    let mut cursors = std::collections::HashMap::new();
    let mut quoted = 0;
    for packet in packets.iter().filter(|p| p.kind == "pkt") {
        // `tcp → server [PSH, ACK] seq=1 ack=1 len=8 "# B=000\0" (8 bytes)`
        let Some((_, payload)) = packet.text.split_once('"') else {
            continue;
        };
        let message = payload.split(['"', '\\']).next().unwrap_or_default();
        let receiver = packet.text.split_whitespace().nth(2).expect("a receiver");
        let cursor = cursors.entry(receiver).or_insert(0usize);
        let Some(line) = entries
            .iter()
            .skip(*cursor)
            .position(|l| l.role == receiver && l.kind == "out" && l.text.contains(message))
            .map(|p| p + *cursor)
        else {
            continue;
        };
        *cursor = line + 1;
        quoted += 1;
        assert!(
            entries[line].tenths >= packet.tenths,
            "{:?} is listed before the packet that carried it:\n{transcript}",
            entries[line].text
        );
        assert!(
            client_start < line,
            "{:?} before the client started:\n{transcript}",
            entries[line].text
        );
        let printed = entries[..line]
            .iter()
            .rposition(|l| l.role == packet.role && l.text.contains(message));
        let printed_later = entries[line..]
            .iter()
            .any(|l| l.role == packet.role && l.kind == "out" && l.text.contains(message));
        assert!(
            printed.is_some() || !printed_later,
            "{:?} comes before the sender printed what it sent:\n{transcript}",
            entries[line].text
        );
    }
    // The server prints the three questions, the client the three replies.
    assert_eq!(quoted, 6, "{transcript}");
}
