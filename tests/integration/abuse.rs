//! The reference servers under abuse: odd datagrams, clients that say nothing, send one
//! byte at a time, half-close, reset or flood. Like the lab's servers, they note it and go
//! on serving: a well-behaved client that comes next gets its three replies.
//!
//! The abusive clients are C files in `tests/fixtures/abusive/`, compiled here with gcc.

use std::time::{Duration, Instant};

use crate::common::{Scratch, fixture, labrun, stderr, stdout};

/// A run here must end well within this (a bound, not a benchmark).
const BOUND: Duration = Duration::from_secs(20);

/// Server `A` of `protocol` on port 4000 (100 ms replies); `client1`, played by the
/// abusive program; then `client2`, the reference client, once `client1` has exited.
fn scenario(protocol: &str) -> String {
    format!(
        "[run]\ntimeout = \"30s\"\nstop-grace = \"300ms\"\n\n\
         [[server]]\nprotocol = \"{protocol}\"\nid = \"A\"\nport = 4000\nreply-delay = \"100ms\"\n\n\
         [[client]]\nid = \"B\"\ntimeout = \"5s\"\n\n\
         [[client]]\nid = \"C\"\nstart-after = \"client1:exited\"\n"
    )
}

/// Runs `scenario(protocol)` with `client1` played by `tests/fixtures/abusive/NAME.c`,
/// and returns the transcript once the run is over, after checking how it ended.
fn abused(protocol: &str, name: &str) -> String {
    let folder = Scratch::new(&format!("abuse-{name}"));
    let path = folder.write("abuse.toml", scenario(protocol));
    let program = fixture(&format!("abusive/{name}"));
    let start = Instant::now();
    let output = labrun()
        .arg(&path)
        .args(["--no-snapshot", "--with"])
        .arg(format!("client1={}", program.display()))
        .output()
        .expect("labrun runs");
    let text = stdout(&output);
    assert!(
        start.elapsed() < BOUND,
        "{name}: took {:?}:\n{text}",
        start.elapsed()
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{name}:\n{text}\n{}",
        stderr(&output)
    );
    text
}

/// The texts of `role`'s lines of `kind`.
fn lines<'a>(text: &'a str, role: &str, kind: &str) -> Vec<&'a str> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let _time = words.next()?;
            (words.next()? == role && words.next()? == kind).then(|| {
                let at = line.find(kind).unwrap_or(0) + kind.len();
                line[at..].trim()
            })
        })
        .collect()
}

/// The server went on: the well-behaved client got its three replies, and the server was
/// still there to be stopped at the end.
fn assert_still_serving(text: &str, name: &str) {
    let replies = lines(text, "client2", "out")
        .iter()
        .filter(|l| l.contains("recoit de"))
        .count();
    assert_eq!(replies, 3, "{name}: client2 got {replies} replies:\n{text}");
    assert_eq!(
        lines(text, "server", "exit"),
        ["stopped by labrun: its clients were done"],
        "{name}:\n{text}"
    );
}

#[test]
fn the_udp_server_survives_empty_huge_and_garbage_datagrams() {
    let text = abused("udp", "udp_odd_datagrams");
    assert_still_serving(&text, "udp_odd_datagrams");
    let received = lines(&text, "server", "out");
    assert!(
        received.len() >= 3 + 3,
        "the server did not report the odd datagrams:\n{text}"
    );
}

#[test]
fn the_tcp_server_survives_a_client_that_says_nothing() {
    assert_still_serving(&abused("tcp", "tcp_silent"), "tcp_silent");
}

#[test]
fn the_tcp_server_survives_a_client_sending_one_byte_at_a_time() {
    assert_still_serving(&abused("tcp", "tcp_bytewise"), "tcp_bytewise");
}

#[test]
fn the_tcp_server_survives_a_half_close() {
    assert_still_serving(&abused("tcp", "tcp_half_close"), "tcp_half_close");
}

#[test]
fn the_tcp_server_survives_a_reset() {
    assert_still_serving(&abused("tcp", "tcp_reset"), "tcp_reset");
}

#[test]
fn the_tcp_server_survives_a_flood() {
    assert_still_serving(&abused("tcp", "tcp_flood"), "tcp_flood");
}
