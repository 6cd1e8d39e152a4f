//! `labrun ref …`: the lab's programs run by hand on the host's loopback.

use std::process::Stdio;
use std::time::Duration;

use crate::common::{labrun, stdout};

fn free_port(udp: bool) -> u16 {
    if udp {
        std::net::UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr())
    } else {
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|s| s.local_addr())
    }
    .expect("a free port")
    .port()
}

fn exchange(kind: &str, udp: bool) -> (String, String) {
    let port = free_port(udp).to_string();
    let mut server = labrun()
        .args([
            "ref",
            &format!("{kind}-server"),
            "A",
            &port,
            "--reply-delay",
            "0s",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("server starts");
    // The server binds within milliseconds; the client retries are the lab's own concern.
    std::thread::sleep(Duration::from_millis(300));
    let client = labrun()
        .args(["ref", &format!("{kind}-client"), "B", "127.0.0.1", &port])
        .output()
        .expect("client runs");
    let _ = server.kill();
    let server = server.wait_with_output().expect("server output");
    (stdout(&server), stdout(&client))
}

#[test]
fn tcp_programs_by_hand() {
    let (server, client) = exchange("tcp", false);
    assert_eq!(server.lines().count(), 3, "{server}");
    assert!(
        server.starts_with("serveur A reçu de (127.0.0.1,"),
        "{server}"
    );
    assert!(client.contains(") recoit de (127.0.0.1,"), "{client}");
    assert!(client.trim_end().ends_with(": # A=002#"), "{client}");
}

#[test]
fn udp_programs_by_hand() {
    let (server, client) = exchange("udp", true);
    assert!(
        server.starts_with("serveur A a reçu le message # B=000 de 127.0.0.1:"),
        "{server}"
    );
    assert!(
        client.starts_with("client  B: (0.0.0.0,   0) envoie a (127.0.0.1,"),
        "{client}"
    );
    assert!(client.contains("serveur# A reponse002#"), "{client}");
}
