//! Many clients at once against a per-client reference server (`count`, `concurrency`):
//! every client gets its replies, the counter stays one for all, and the server's waits
//! overlap instead of adding up. The thousand-client runs are in the benchmark.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{run, stderr};

/// A scenario of `clients` clients of 3 exchanges against one server, written to a file.
fn scenario(name: &str, protocol: &str, concurrency: &str, clients: u32) -> PathBuf {
    // The test build's own folder, not the machine's temporary one.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scale");
    std::fs::create_dir_all(&dir).expect("a folder for the scenario");
    let path = dir.join(format!("{name}.toml"));
    let text = format!(
        "[[server]]\nprotocol = \"{protocol}\"\nid = \"S\"\nport = 4000\nreply-delay = \"2s\"\n\
         concurrency = \"{concurrency}\"\n\n[[client]]\nid = \"c\"\ncount = {clients}\n"
    );
    std::fs::write(&path, text).expect("write the scenario");
    path
}

/// The transcript's entries (without packets), as JSON values.
fn entries(path: &Path, extra: &[&str]) -> Vec<Value> {
    let path = path.to_str().expect("a UTF-8 path");
    let mut args = vec![path, "--no-snapshot", "--format", "json"];
    args.extend_from_slice(extra);
    let output = run(&args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "labrun {args:?} failed:\n{}",
        stderr(&output)
    );
    let value: Value = serde_json::from_slice(&output.stdout).expect("valid JSON");
    value["entries"].as_array().expect("entries").clone()
}

fn field<'a>(entry: &'a Value, key: &str) -> &'a str {
    entry[key].as_str().unwrap_or_default()
}

/// The server's replies, in transcript order: (receiver, counter).
fn replies(entries: &[Value]) -> Vec<(String, u32)> {
    entries
        .iter()
        .filter(|e| field(e, "role") == "server" && field(e, "kind") == "msg")
        .map(|e| {
            let to = e["message"]["to"].as_str().unwrap_or_default().to_string();
            let text = e["message"]["text"].as_str().unwrap_or_default();
            let digits: String = text
                .trim_end_matches('#')
                .chars()
                .rev()
                .take_while(char::is_ascii_digit)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            (to, digits.parse().expect("a counter in the reply"))
        })
        .collect()
}

/// Every client got its three replies and exited at 4 s of scenario time; the counter
/// numbered every reply once, from 000; the server stopped at 6 s.
fn assert_everyone_served(entries: &[Value], clients: u32) {
    let replies = replies(entries);
    for n in 1..=clients {
        let role = format!("client{n}");
        let got = replies.iter().filter(|(to, _)| *to == role).count();
        assert_eq!(got, 3, "{role} got {got} replies");
        let received = entries
            .iter()
            .filter(|e| field(e, "role") == role && field(e, "text").contains("recoit de"))
            .count();
        assert_eq!(received, 3, "{role} printed {received} replies");
        let exit = entries
            .iter()
            .find(|e| field(e, "role") == role && field(e, "kind") == "exit")
            .unwrap_or_else(|| panic!("{role} has no exit"));
        assert_eq!(field(exit, "text"), "exited with status 0");
        // Its own three exchanges only: two sleeps of the server, whoever else it serves.
        assert_eq!(exit["time_tenths"], 40, "{role} ended late: {exit}");
    }
    let numbers: BTreeSet<u32> = replies.iter().map(|(_, n)| *n).collect();
    let expected: BTreeSet<u32> = (0..3 * clients).collect();
    assert_eq!(numbers, expected, "each reply numbered once, from 000");
    let server_exit = entries
        .iter()
        .find(|e| field(e, "role") == "server" && field(e, "kind") == "exit")
        .expect("the server's end");
    assert_eq!(server_exit["time_tenths"], 60, "{server_exit}");
}

#[test]
fn per_client_tcp_server_serves_fifty_clients_at_once() {
    let path = scenario("per_client_tcp_50", "tcp", "per-client", 50);
    assert_everyone_served(&entries(&path, &["--time-scale", "0"]), 50);
    assert_everyone_served(&entries(&path, &["--time-scale", "0.02"]), 50);
}

#[test]
fn per_client_udp_server_serves_fifty_clients_at_once() {
    let path = scenario("per_client_udp_50", "udp", "per-client", 50);
    assert_everyone_served(&entries(&path, &["--time-scale", "0"]), 50);
    assert_everyone_served(&entries(&path, &["--time-scale", "0.02"]), 50);
}

/// The per-client server's sleeps overlap: the last client's first reply comes before the
/// first client's last one, at real (scaled) time as at time scale 0. An iterative server
/// would make the twentieth client wait for the nineteen before it.
#[test]
fn per_client_server_overlaps_its_clients_waits() {
    for protocol in ["tcp", "udp"] {
        let path = scenario(&format!("overlap_{protocol}"), protocol, "per-client", 20);
        for scale in ["0", "0.1"] {
            let replies = replies(&entries(&path, &["--time-scale", scale]));
            let first_to_last = replies.iter().position(|(to, _)| to == "client20");
            let last_to_first = replies.iter().rposition(|(to, _)| to == "client1");
            assert!(
                first_to_last < last_to_first,
                "{protocol} at scale {scale}: replies not interleaved: {replies:?}"
            );
        }
    }
}

/// `count` with the lab's iterative server: the clients are served one after another.
#[test]
fn counted_clients_of_an_iterative_tcp_server_wait_their_turn() {
    let path = scenario("iterative_tcp_3", "tcp", "iterative", 3);
    let entries = entries(&path, &["--time-scale", "0"]);
    let replies = replies(&entries);
    let order: Vec<&str> = replies.iter().map(|(to, _)| to.as_str()).collect();
    assert_eq!(
        order,
        [
            "client1", "client1", "client1", "client2", "client2", "client2", "client3", "client3",
            "client3"
        ]
    );
    let counters: Vec<u32> = replies.iter().map(|(_, n)| *n).collect();
    assert_eq!(counters, (0..9).collect::<Vec<_>>());
    let exit = entries
        .iter()
        .find(|e| field(e, "role") == "client3" && field(e, "kind") == "exit")
        .expect("client3 ends");
    assert_eq!(exit["time_tenths"], 160, "{exit}");
}
