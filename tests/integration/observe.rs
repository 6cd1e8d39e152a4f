//! What the lab asks students to look at: socket states like netstat, packets like
//! Wireshark, in each run's private network.

use crate::common::{Scratch, run, stderr, transcript};

/// The rows of the netstat table called `label`.
fn table<'t>(text: &'t str, label: &str) -> Vec<&'t str> {
    let mut lines = text
        .lines()
        .skip_while(|l| !l.contains(&format!("table  {label}:")));
    lines
        .next()
        .unwrap_or_else(|| panic!("no table {label:?} in:\n{text}"));
    lines.take_while(|l| l.contains("  sock  ")).collect()
}

fn has_row(rows: &[&str], role: &str, state: &str) -> bool {
    rows.iter()
        .any(|r| r.contains(&format!(" {role} ")) && r.trim_end().ends_with(state))
}

#[test]
fn tcp_sleep_shows_the_states_the_lab_expects() {
    let text = transcript("tcp_sleep", &[]);
    let ready = table(&text, "after server:ready");
    assert_eq!(ready.len(), 1, "{ready:?}");
    assert!(has_row(&ready, "server", "LISTEN"), "{ready:?}");

    let during = table(&text, "at 3s");
    assert!(has_row(&during, "client", "ESTABLISHED"), "{during:?}");
    assert!(has_row(&during, "server", "ESTABLISHED"), "{during:?}");

    // Questions 8-9: during the server's sleep before close().
    let sleeping = table(&text, "at 7s");
    assert!(has_row(&sleeping, "server", "CLOSE_WAIT"), "{sleeping:?}");
    assert!(has_row(&sleeping, "client", "FIN_WAIT2"), "{sleeping:?}");
    let server_sockets = sleeping.iter().filter(|r| r.contains(" server ")).count();
    assert_eq!(
        server_sockets, 2,
        "the listening socket and the connection: {sleeping:?}"
    );

    let end = table(&text, "at end");
    assert!(has_row(&end, "client", "TIME_WAIT"), "{end:?}");
    assert!(!end.iter().any(|r| r.contains(" server ")), "{end:?}");

    assert!(
        text.contains(
            "tcp client ↔ server: 19 packets: 2 SYN, 2 FIN, 0 RST, 6 with data, 9 pure ACKs"
        ),
        "{text}"
    );
    assert!(
        text.contains("[FIN, ACK] seq=25 ack=28 len=0  · client FIN_WAIT1, server CLOSE_WAIT"),
        "{text}"
    );
}

#[test]
fn the_handshake_and_the_teardown_are_in_the_packets() {
    let text = transcript("tcp_basic", &[]);
    for expected in [
        "tcp → server [SYN] seq=0 len=0  · client SYN_SENT, server SYN_RECV",
        "tcp → client [SYN, ACK] seq=0 ack=1 len=0  · client ESTABLISHED",
        "tcp → server [ACK] seq=1 ack=1 len=0  · server ESTABLISHED",
        "tcp → server [PSH, ACK] seq=1 ack=1 len=8 \"# B=000\\0\" (8 bytes)",
        "· server LAST_ACK, client TIME_WAIT",
        "· server CLOSED",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn udp_has_one_datagram_per_message_and_an_unchanged_server_socket() {
    let text = transcript("udp_basic", &[]);
    assert!(text.contains("udp client ↔ server: 6 datagrams"), "{text}");
    assert!(!text.contains("SYN"), "{text}");
    let before = table(&text, "after server:ready");
    let after = table(&text, "after client:exited");
    let strip = |rows: &[&str]| rows.iter().map(|r| r[5..].to_string()).collect::<Vec<_>>();
    assert_eq!(strip(&before), strip(&after));
}

#[test]
fn a_client_sending_where_nobody_listens_gets_an_icmp_and_hangs() {
    let text = transcript("udp_no_server", &[]);
    assert!(
        text.contains("icmp → client port unreachable: nobody on udp 127.0.0.1:4001"),
        "{text}"
    );
    assert!(text.contains("1 ICMP port unreachable"), "{text}");
    assert!(
        text.contains("client   exit   timed out after 2s and killed"),
        "{text}"
    );
}

#[test]
fn the_same_port_in_two_runs_at_once() {
    // Each run has its own network: both servers bind 4000 and both runs pass.
    let runs: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(|| run(&["scenarios/tcp_sleep.toml", "--time-scale", "0", "-q"]))
        })
        .collect();
    for handle in runs {
        let output = handle.join().expect("run thread");
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    }
}

#[test]
fn the_pcap_opens_in_tshark_with_the_same_packets() {
    let scratch = Scratch::new("pcap");
    let pcap = &scratch.arg("run.pcap");
    let output = run(&[
        "scenarios/tcp_sleep.toml",
        "--time-scale",
        "0",
        "-q",
        "--pcap",
        pcap,
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let listed = transcript("tcp_sleep", &[])
        .lines()
        .filter(|l| l.contains("  pkt  "))
        .count();
    let tshark = std::process::Command::new("tshark")
        .args(["-r", pcap])
        .output();
    let Ok(tshark) = tshark else {
        // CI installs tshark and sets LABRUN_REQUIRE_TSHARK; a newcomer's machine may not
        // have it, and `cargo test` must still pass there.
        assert!(
            std::env::var_os("LABRUN_REQUIRE_TSHARK").is_none(),
            "tshark is not installed"
        );
        eprintln!("skipped: tshark is not installed (apt-get install tshark)");
        return;
    };
    assert!(
        tshark.status.success(),
        "{}",
        String::from_utf8_lossy(&tshark.stderr)
    );
    let summary = String::from_utf8_lossy(&tshark.stdout);
    assert_eq!(summary.lines().count(), listed, "{summary}");
    assert_eq!(summary.matches("[SYN]").count(), 1, "{summary}");
    assert!(summary.contains("4000 → "), "{summary}");
}
