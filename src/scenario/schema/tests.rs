//! The schema's tests: scenarios as text in, a plan or positioned diagnostics out.

use std::path::Path;
use std::time::Duration;

use super::parse;
use crate::scenario::{
    ActorKind, Concurrency, Diagnostics, Milestone, MilestoneKind, Plan, Protocol,
};

fn plan(text: &str) -> Result<Plan, Diagnostics> {
    parse(Path::new("scenarios/t.toml"), text)
}

fn errors(text: &str) -> String {
    plan(text).expect_err("should be invalid").to_string()
}

const BASIC: &str = r#"
[[server]]
protocol = "tcp"
id = "A"
port = 4000

[[client]]
id = "B"
"#;

#[test]
fn basic_scenario_resolves_defaults() {
    let plan = plan(BASIC).unwrap();
    assert_eq!(plan.name, "t");
    assert_eq!(plan.actors.len(), 2);
    let (server, client) = (&plan.actors[0], &plan.actors[1]);
    assert_eq!(server.role, "server");
    assert_eq!(client.role, "client");
    assert_eq!(client.protocol, Protocol::Tcp);
    assert_eq!(client.port(), 4000);
    assert_eq!(
        client.start.after,
        vec![Milestone {
            actor: 0,
            what: MilestoneKind::Ready
        }]
    );
    assert_eq!(client.expand_args(&client.args), ["B", "127.0.0.1", "4000"]);
    assert_eq!(server.expand_args(&server.args), ["A", "4000"]);
    match server.kind {
        ActorKind::Server {
            exchanges,
            reply_delay,
            ..
        } => {
            assert_eq!(exchanges, 3);
            assert_eq!(reply_delay, Duration::from_secs(2));
        }
        _ => panic!("not a server"),
    }
}

#[test]
fn several_clients_are_numbered() {
    let text = format!("{BASIC}\n[[client]]\nid = \"C\"\n");
    let plan = plan(&text).unwrap();
    assert_eq!(plan.actors[1].role, "client1");
    assert_eq!(plan.actors[2].role, "client2");
}

#[test]
fn unknown_key_gets_a_suggestion_and_position() {
    let text = BASIC.replace("id = \"B\"", "id = \"B\"\nexchange = 3");
    let out = errors(&text);
    assert!(
        out.contains("t.toml:9:1: error: unknown key `exchange` in a [[client]]"),
        "{out}"
    );
    assert!(out.contains("did you mean `exchanges`?"), "{out}");
}

#[test]
fn every_error_is_reported_at_once() {
    let text = r#"
[[server]]
protocol = "tcpp"
id = "A"
port = 70000
reply-delay = "-2s"

[[client]]
id = "B"
server = "srever"
exchanges = 0
pause = 2
"#;
    let out = errors(text);
    for expected in [
        "unknown protocol `tcpp`",
        "port 70000 is out of range",
        "invalid duration for `reply-delay`",
        "unknown server `srever`",
        "did you mean `server`?",
        "`exchanges` must be at least 1",
        "`pause` is a duration",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    assert!(out.contains("6 errors"), "{out}");
}

#[test]
fn duplicate_roles_and_port_zero() {
    let text = r#"
[[server]]
protocol = "udp"
id = "A"
port = 0

[[client]]
role = "x"
id = "B"

[[client]]
role = "x"
id = "C"
"#;
    let out = errors(text);
    assert!(out.contains("port 0"), "{out}");
    assert!(out.contains("duplicate role `x`"), "{out}");
}

#[test]
fn start_cycles_are_refused() {
    let text = format!(
        "{}\nstart-after = \"client2:ready\"\n[[client]]\nid = \"C\"\nstart-after = \"client1\"\n",
        BASIC
    );
    let out = errors(&text);
    assert!(
        out.contains("in a circle: client1 → client2 → client1"),
        "{out}"
    );
}

#[test]
fn toml_syntax_errors_have_positions() {
    let out = errors("[[server]\nid = 1");
    assert!(out.contains("t.toml:1:"), "{out}");
    assert!(out.contains("not valid TOML"), "{out}");
}

#[test]
fn wrong_types_and_missing_keys() {
    let out = errors("[[server]]\nprotocol = 4\n[[client]]\nid = \"B\"\n");
    assert!(
        out.contains("`protocol` must be a string, not an integer"),
        "{out}"
    );
    assert!(out.contains("has no `id`"), "{out}");
    assert!(out.contains("has no `port`"), "{out}");
}

#[test]
fn empty_file_has_no_actors() {
    assert!(errors("").contains("no actors"));
}

#[test]
fn concurrency_defaults_to_iterative_and_reads_per_client() {
    let concurrency = |plan: &Plan| match plan.actors[0].kind {
        ActorKind::Server { concurrency, .. } => concurrency,
        _ => panic!("not a server"),
    };
    assert_eq!(concurrency(&plan(BASIC).unwrap()), Concurrency::Iterative);
    let text = BASIC.replace("port = 4000", "port = 4000\nconcurrency = \"per-client\"");
    assert_eq!(concurrency(&plan(&text).unwrap()), Concurrency::PerClient);
    let text = BASIC.replace("port = 4000", "port = 4000\nconcurrency = \"iterative\"");
    assert_eq!(concurrency(&plan(&text).unwrap()), Concurrency::Iterative);
}

#[test]
fn unknown_concurrency_gets_a_suggestion_and_position() {
    let text = BASIC.replace("port = 4000", "port = 4000\nconcurrency = \"per_client\"");
    let out = errors(&text);
    assert!(
        out.contains("t.toml:6:15: error: unknown concurrency `per_client`"),
        "{out}"
    );
    assert!(out.contains("did you mean `per-client`?"), "{out}");
    let out = errors(&BASIC.replace("port = 4000", "port = 4000\nconcurrency = \"forking\""));
    assert!(
        out.contains("expected one of `iterative`, `per-client`"),
        "{out}"
    );
    let out = errors(&BASIC.replace("port = 4000", "port = 4000\nconcurrency = 2"));
    assert!(
        out.contains("`concurrency` must be a string, not an integer"),
        "{out}"
    );
    // Only servers have a concurrency, only clients a count.
    let out = errors(&BASIC.replace("id = \"B\"", "id = \"B\"\nconcurrency = \"per-client\""));
    assert!(
        out.contains("unknown key `concurrency` in a [[client]]"),
        "{out}"
    );
    let out = errors(&BASIC.replace("port = 4000", "port = 4000\ncount = 2"));
    assert!(out.contains("unknown key `count` in a [[server]]"), "{out}");
}

#[test]
fn count_expands_into_numbered_clients() {
    let text = format!("{BASIC}count = 3\nstart-delay = \"1s\"\n\n[[client]]\nid = \"Z\"\n");
    let plan = plan(&text).unwrap();
    let clients: Vec<(&str, &str)> = plan.actors[1..]
        .iter()
        .map(|a| (a.role.as_str(), a.id.as_str()))
        .collect();
    assert_eq!(
        clients,
        [
            ("client1", "B1"),
            ("client2", "B2"),
            ("client3", "B3"),
            ("client4", "Z")
        ]
    );
    for client in &plan.actors[1..4] {
        assert_eq!(client.start.delay, Duration::from_secs(1));
        assert_eq!(client.port(), 4000);
        assert_eq!(client.start.after[0].actor, 0);
    }
    assert_eq!(
        plan.actors[2].expand_args(&plan.actors[2].args),
        ["B2", "127.0.0.1", "4000"]
    );
    // A named role gets the numbers too, and its copies can be named elsewhere.
    let text = format!(
        "{}count = 2\nrole = \"c\"\n\n[[client]]\nid = \"Z\"\nstart-after = \"c2:exited\"\n",
        BASIC
    );
    let plan = super::parse(Path::new("scenarios/t.toml"), &text).unwrap();
    let roles: Vec<&str> = plan.actors.iter().map(|a| a.role.as_str()).collect();
    assert_eq!(roles, ["server", "c1", "c2", "client3"]);
    assert_eq!(plan.actors[3].start.after[1].actor, 2);
    // `count = 1` is one client, as written.
    let plan = super::parse(Path::new("t.toml"), &format!("{BASIC}count = 1\n")).unwrap();
    assert_eq!(
        (plan.actors[1].role.as_str(), plan.actors[1].id.as_str()),
        ("client", "B")
    );
}

#[test]
fn count_out_of_range_is_refused_with_its_position() {
    let out = errors(&format!("{BASIC}count = 0\n"));
    assert!(
        out.contains("t.toml:9:9: error: `count` must be at least 1, not 0"),
        "{out}"
    );
    let out = errors(&format!("{BASIC}count = 10001\n"));
    assert!(
        out.contains("`count` is 10001, more than the 10000 clients a scenario may have"),
        "{out}"
    );
    let out = errors(&format!("{BASIC}count = \"many\"\n"));
    assert!(
        out.contains("`count` must be an integer, not a string"),
        "{out}"
    );
    let out = errors(&format!("{BASIC}count = 99999999999999999999\n"));
    assert!(out.contains("`count` is far too large"), "{out}");
    // The limit holds for the scenario, not only for each table.
    let text = format!("{BASIC}count = 6000\n\n[[client]]\nid = \"C\"\ncount = 5000\n");
    let out = errors(&text);
    assert!(
        out.contains(
            "with this table the scenario has 11000 clients, more than the 10000 it may have"
        ),
        "{out}"
    );
    assert!(out.contains("t.toml:13:9"), "{out}");
    // Written one table each after a `count`, too; said once.
    let text = format!(
        "{BASIC}count = 9999
{}",
        "\n[[client]]\nid = \"D\"\n".repeat(3)
    );
    let out = errors(&text);
    assert_eq!(out.matches("10001 clients").count(), 1, "{out}");
    assert!(!out.contains("10002 clients"), "{out}");
}

#[test]
fn a_long_circle_of_start_conditions_is_found_without_recursion() {
    let n = 9_999;
    let mut text = String::from("[[server]]\nprotocol = \"udp\"\nid = \"A\"\nport = 4000\n");
    for i in 1..=n {
        let next = if i == n { 1 } else { i + 1 };
        text.push_str(&format!(
            "[[client]]\nrole = \"c{i}\"\nid = \"B\"\nstart-after = \"c{next}:exited\"\n"
        ));
    }
    let out = errors(&text);
    assert!(
        out.contains("in a circle: c1 → c2 → c3 → c4 → c5 → c6 → c7 → c8 → … (9989 more) → c9998 → c9999 → c1"),
        "{}",
        &out[..out.len().min(400)]
    );
}

#[test]
fn a_thousand_clients_resolve_quickly() {
    let text = BASIC.replace("port = 4000", "port = 4000\nconcurrency = \"per-client\"")
        + "count = 1000\n";
    let plan = plan(&text).unwrap();
    assert_eq!(plan.actors.len(), 1001);
    assert_eq!(plan.actors[1000].role, "client1000");
    assert_eq!(plan.actors[1000].id, "B1000");
}

#[test]
fn bad_placeholder_in_args() {
    let text = BASIC.replace("id = \"B\"", "id = \"B\"\nargs = \"{id} {hots}\"");
    assert!(errors(&text).contains("unknown placeholder `{hots}`"));
}
