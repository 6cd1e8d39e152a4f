//! Every shipped scenario against its snapshot, through insta and through labrun itself.

use crate::common::{run, scenario_names, stderr, transcript};

#[test]
fn every_scenario_matches_its_snapshot_through_insta() {
    for name in scenario_names() {
        let text = transcript(&name, &[]);
        insta::with_settings!({
            snapshot_path => "../../snapshots",
            prepend_module_to_snapshot => false,
        }, {
            insta::assert_snapshot!(name.as_str(), text);
        });
    }
}

#[test]
fn every_scenario_matches_its_snapshot_through_labrun() {
    for name in scenario_names() {
        let path = format!("scenarios/{name}.toml");
        let output = run(&[&path, "--time-scale", "0", "--quiet"]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "labrun {path} did not match its snapshot:\n{}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("transcript matches"),
            "{}",
            stderr(&output)
        );
    }
}

#[test]
fn transcripts_hold_the_labs_exact_lines() {
    let udp = transcript("udp_basic", &[]);
    for line in [
        "client  B: (0.0.0.0,   0) envoie a (127.0.0.1,4000): # B=000",
        "serveur A a reçu le message # B=000 de 127.0.0.1:[client.port]",
        "client  B: (0.0.0.0,[client.port]) recoit de (127.0.0.1,4000) : serveur# A reponse000#",
        "→ server \"# B=000\\0\" (8 bytes)",
    ] {
        assert!(udp.contains(line), "missing {line:?} in:\n{udp}");
    }
    let tcp = transcript("tcp_basic", &[]);
    for line in [
        "client  B: (127.0.0.1,[client.port]) envoie a  (127.0.0.1,4000) : # B=000",
        "serveur A reçu de (127.0.0.1,[client.port]) : # B=000",
        "client  B: (127.0.0.1,[client.port]) recoit de (127.0.0.1,4000) : # A=002#",
        "→ client \"# A=000#\\0\" (9 bytes)",
    ] {
        assert!(tcp.contains(line), "missing {line:?} in:\n{tcp}");
    }
}

#[test]
fn the_iterative_server_makes_the_second_client_wait() {
    let text = transcript("tcp_two_clients", &[]);
    let first_reply_to_c = text
        .lines()
        .find(|l| l.contains("→ client2"))
        .expect("client2 gets a reply");
    assert!(
        first_reply_to_c.trim_start().starts_with("6.0"),
        "{first_reply_to_c}"
    );
    assert!(
        text.contains("\"# A=003#\\0\""),
        "the counter goes on across clients:\n{text}"
    );
}

#[test]
fn the_udp_counter_runs_across_clients() {
    let text = transcript("udp_two_clients", &[]);
    assert!(
        text.contains("recoit de (127.0.0.1,4000) : serveur# A reponse003#"),
        "{text}"
    );
}

#[test]
fn json_format_carries_the_same_entries() {
    let output = run(&[
        "scenarios/udp_basic.toml",
        "--time-scale",
        "0",
        "--no-snapshot",
        "--format",
        "json",
    ]);
    assert!(output.status.success());
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("valid JSON");
    assert_eq!(value["scenario"], "udp_basic");
    let entries = value["entries"].as_array().expect("entries");
    let packets = value["packets"].as_array().expect("packets");
    let text = transcript("udp_basic", &[]);
    let events_part = text.split("\n== packets").next().expect("events");
    assert_eq!(entries.len(), events_part.lines().count());
    assert_eq!(packets.len(), 6, "one datagram per message and per reply");
    assert_eq!(entries[0]["role"], "server");
    assert_eq!(entries[0]["kind"], "start");
}
