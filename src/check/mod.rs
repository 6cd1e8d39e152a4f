//! Rubric checks over a transcript: named checks with points, prerequisites, and hints that
//! point at the likely cause, as a careful teaching assistant would give them.
//!
//! Checks read only the normalised transcript, and of its entries what they carry as data:
//! messages between roles, lines printed (`Entry::printed`), exits, the reasons of actors
//! that never started (`record::Unstarted`), packets (`record::PacketLine`); never the text
//! of a packet or a reason. The patterns that printed lines and messages are matched with
//! are the scenario's (`scenario::Pattern`), which validates them when it reads the file.

mod answers;
mod close_wait;
mod exchanges;
mod lifecycle;

use serde::{Deserialize, Serialize};

use crate::record::{Kind, Outcome};
use crate::scenario::{CheckPlan, Expect, Plan};
use crate::transcript::{Entry, Transcript};

/// The result of one check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    /// `None` when skipped because a prerequisite failed.
    pub passed: Option<bool>,
    pub points: u32,
    pub max_points: u32,
    /// What was observed.
    pub message: String,
    /// What to look at, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// Pass or fail. (A run that could not be graded at all has no rubric verdict: `labrun
/// grade` calls it `error` in its own outcomes.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Verdict {
    Pass,
    Fail,
}

/// The rubric's verdict on one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Report {
    pub scenario: String,
    pub verdict: Verdict,
    pub score: u32,
    pub max_score: u32,
    /// The roles whose programs were graded.
    pub graded: Vec<String>,
    pub checks: Vec<CheckResult>,
}

/// Grades the programs playing `graded` roles with the plan's checks for them; `None` when
/// the plan has no check for any of them.
pub(crate) fn grade(plan: &Plan, transcript: &Transcript, graded: &[String]) -> Option<Report> {
    let checks: Vec<&CheckPlan> = plan
        .checks
        .iter()
        .filter(|c| graded.contains(&c.grades))
        .collect();
    if checks.is_empty() {
        return None;
    }
    let ids: Vec<(String, String)> = plan
        .actors
        .iter()
        .map(|a| (a.role.clone(), a.id.clone()))
        .collect();
    let view = View {
        entries: &transcript.entries,
        packets: &transcript.packets,
    };
    let mut results: Vec<CheckResult> = Vec::new();
    for check in checks {
        let failed_prerequisite = check.requires.iter().find(|r| {
            results
                .iter()
                .any(|done| &done.name == *r && done.passed != Some(true))
        });
        let result = match failed_prerequisite {
            Some(r) => CheckResult {
                name: check.name.clone(),
                passed: None,
                points: 0,
                max_points: check.points,
                message: format!("skipped: `{r}` did not pass"),
                hint: None,
            },
            None => {
                let outcome = evaluate(check, plan, &view, &ids);
                let passed = outcome.is_ok();
                let (message, hint) = match outcome {
                    Ok(message) => (message, None),
                    Err((message, hint)) => (message, Some(check.hint.clone().unwrap_or(hint))),
                };
                CheckResult {
                    name: check.name.clone(),
                    passed: Some(passed),
                    points: if passed { check.points } else { 0 },
                    max_points: check.points,
                    message,
                    hint,
                }
            }
        };
        results.push(result);
    }
    let score = results.iter().map(|r| r.points).sum();
    let max_score = results.iter().map(|r| r.max_points).sum();
    let verdict = if results.iter().all(|r| r.passed == Some(true)) {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    Some(Report {
        scenario: plan.name.clone(),
        verdict,
        score,
        max_score,
        graded: graded.to_vec(),
        checks: results,
    })
}

struct View<'t> {
    entries: &'t [Entry],
    packets: &'t [Entry],
}

impl View<'_> {
    fn of<'a>(&'a self, role: &'a str, kind: Kind) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries
            .iter()
            .filter(move |e| e.role == role && e.kind == kind)
    }

    /// Messages from one role to another: the data packets captured on the run's loopback
    /// (they are there whoever sent or received them), or, without a capture, the messages
    /// the reference programs saw.
    fn messages<'a>(
        &'a self,
        from: &'a str,
        to: &'a str,
    ) -> Box<dyn Iterator<Item = &'a Entry> + 'a> {
        let between =
            move |e: &&Entry| e.role == from && e.message.as_ref().is_some_and(|m| m.to == to);
        if self.packets.iter().any(|p| p.message.is_some()) {
            Box::new(self.packets.iter().filter(between))
        } else {
            Box::new(
                self.entries
                    .iter()
                    .filter(|e| e.kind == Kind::Msg)
                    .filter(between),
            )
        }
    }

    /// Every message, whoever sent it to whom: from the capture when there is one, as
    /// [`View::messages`] reads them.
    fn all_messages(&self) -> Box<dyn Iterator<Item = &Entry> + '_> {
        if self.packets.iter().any(|p| p.message.is_some()) {
            Box::new(self.packets.iter().filter(|p| p.message.is_some()))
        } else {
            Box::new(
                self.entries
                    .iter()
                    .filter(|e| e.kind == Kind::Msg && e.message.is_some()),
            )
        }
    }

    fn outcome<'a>(&'a self, role: &'a str) -> Option<&'a Outcome> {
        self.of(role, Kind::Exit)
            .filter_map(|e| e.outcome.as_ref())
            .last()
    }
}

/// `Ok(what was seen)` or `Err((what was seen, hint))`.
fn evaluate(
    check: &CheckPlan,
    plan: &Plan,
    view: &View<'_>,
    ids: &[(String, String)],
) -> Result<String, (String, String)> {
    let role = check.grades.as_str();
    match &check.expect {
        Expect::Ready => lifecycle::ready(plan, view, role),
        Expect::Starts => lifecycle::starts(view, role),
        Expect::NoCrash => lifecycle::no_crash(view, role),
        Expect::ExitStatus(status) => lifecycle::exit_status(view, role, *status),
        Expect::StillServing => lifecycle::still_serving(view, role),
        Expect::Messages { from, to, count } => exchanges::messages(view, role, from, to, *count),
        Expect::MessageText {
            from,
            to,
            pattern,
            counter,
        } => exchanges::message_text(view, ids, from, to, pattern, *counter),
        Expect::Output {
            role: printer,
            pattern,
            count,
            from,
        } => exchanges::output(view, ids, printer, pattern, *count, from.as_deref()),
        Expect::Timing {
            from,
            to,
            gap,
            tolerance,
        } => exchanges::timing(view, from, to, *gap, *tolerance),
        Expect::NoStrayPackets => exchanges::no_stray_packets(view, role),
        Expect::SharedCounter { from, pattern } => {
            exchanges::shared_counter(view, plan, ids, from, pattern)
        }
        Expect::RepliesToSender { from } => exchanges::replies_to_sender(view, plan, from),
        Expect::Answers { show } => answers::check(plan, view.entries, role, *show),
        Expect::CloseWait { gap, tolerance } => {
            close_wait::check(view.entries, view.packets, role, *gap, *tolerance)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// A two-client UDP scenario whose rubric has the checks under test.
    const TWO_CLIENTS: &str = r#"
[[server]]
protocol = "udp"
id = "A"
port = 4000

[[client]]
id = "B"

[[client]]
id = "C"

[[check]]
name = "counter"
grades = "server"
expect = "shared-counter"
from = "server"
pattern = "serveur#{server.id} reponse{n3}#"

[[check]]
name = "sender"
grades = "server"
expect = "replies-to-sender"
from = "server"

[[check]]
name = "starts"
grades = "client1"
expect = "starts"
"#;

    fn plan() -> Plan {
        crate::scenario::parse(Path::new("scenarios/t.toml"), TWO_CLIENTS).expect("valid")
    }

    /// A captured data packet from `from` to `to` at `tenths`.
    fn packet(tenths: u64, from: &str, to: &str, text: &str) -> Entry {
        let line = crate::record::fixtures::udp(from, to, format!("{text}\0").as_bytes());
        Entry::for_packet(tenths, from, line)
    }

    fn question(tenths: u64, client: &str, n: u32) -> Entry {
        let id = if client == "client1" { "B" } else { "C" };
        packet(tenths, client, "server", &format!("# {id}={n:03}"))
    }

    fn reply(tenths: u64, to: &str, n: u32) -> Entry {
        packet(tenths, "server", to, &format!("serveur# A reponse{n:03}#"))
    }

    fn transcript(entries: Vec<Entry>, packets: Vec<Entry>) -> Transcript {
        Transcript {
            scenario: "t".into(),
            entries,
            packets,
            counts: Vec::new(),
        }
    }

    fn result(report: &Report, name: &str) -> CheckResult {
        report
            .checks
            .iter()
            .find(|c| c.name == name)
            .cloned()
            .unwrap_or_else(|| panic!("no check {name}"))
    }

    fn grade_server(packets: Vec<Entry>) -> Report {
        grade(
            &plan(),
            &transcript(Vec::new(), packets),
            &["server".into()],
        )
        .expect("graded")
    }

    /// The reference run: replies interleaved between the clients, numbered across both.
    fn interleaved(numbers: [u32; 6], to: [&str; 6]) -> Vec<Entry> {
        vec![
            question(0, "client1", 0),
            reply(0, to[0], numbers[0]),
            question(0, "client1", 1),
            question(10, "client2", 0),
            reply(20, to[1], numbers[1]),
            question(20, "client1", 2),
            reply(40, to[2], numbers[2]),
            question(40, "client2", 1),
            reply(60, to[3], numbers[3]),
            reply(80, to[4], numbers[4]),
            question(80, "client2", 2),
            reply(100, to[5], numbers[5]),
        ]
    }

    const TO: [&str; 6] = [
        "client1", "client1", "client2", "client1", "client2", "client2",
    ];

    #[test]
    fn one_counter_across_clients_passes() {
        let report = grade_server(interleaved([0, 1, 2, 3, 4, 5], TO));
        assert_eq!(report.verdict, Verdict::Pass, "{report:#?}");
        assert!(
            result(&report, "counter")
                .message
                .contains("[0, 1, 2, 3, 4, 5]")
        );
    }

    #[test]
    fn a_counter_per_client_fails_with_a_hint_about_sharing_it() {
        // A server that fork()s per client: each client's replies count from 000.
        let packets = vec![
            question(0, "client1", 0),
            reply(0, "client1", 0),
            question(0, "client1", 1),
            question(10, "client2", 0),
            reply(10, "client2", 0),
            question(10, "client2", 1),
            reply(20, "client1", 1),
            reply(30, "client2", 1),
        ];
        let counter = result(&grade_server(packets), "counter");
        assert_eq!(counter.passed, Some(false));
        let hint = counter.hint.expect("a hint");
        assert!(hint.contains("one for all clients"), "{hint}");
        assert!(hint.contains("fork()"), "{hint}");
        assert!(
            counter.message.contains("`client2` got [0, 1]"),
            "{}",
            counter.message
        );
    }

    #[test]
    fn a_counter_at_the_largest_number_fails_without_overflowing() {
        let packets = vec![
            question(0, "client1", 0),
            packet(
                0,
                "server",
                "client1",
                "serveur# A reponse18446744073709551615#",
            ),
            question(0, "client1", 1),
            packet(20, "server", "client1", "serveur# A reponse0#"),
        ];
        let counter = result(&grade_server(packets), "counter");
        assert_eq!(counter.passed, Some(false));
    }

    #[test]
    fn a_stuck_counter_and_a_jumping_one_get_their_own_hints() {
        let stuck = result(&grade_server(interleaved([0; 6], TO)), "counter");
        assert!(stuck.hint.expect("hint").contains("not incremented"));
        let jumps = result(
            &grade_server(interleaved([0, 1, 2, 4, 5, 6], TO)),
            "counter",
        );
        assert_eq!(jumps.passed, Some(false));
        assert!(
            jumps
                .hint
                .expect("hint")
                .contains("count up by one per reply")
        );
    }

    #[test]
    fn the_shared_counter_checks_the_format_too() {
        let mut packets = interleaved([0, 1, 2, 3, 4, 5], TO);
        packets[1] = packet(0, "server", "client1", "serveur# A reponse 0#");
        let counter = result(&grade_server(packets), "counter");
        assert_eq!(counter.passed, Some(false));
        assert!(counter.hint.expect("hint").contains("format"));
    }

    #[test]
    fn each_reply_must_go_to_the_client_that_asked() {
        assert_eq!(
            result(&grade_server(interleaved([0, 1, 2, 3, 4, 5], TO)), "sender").passed,
            Some(true)
        );
        // The third reply goes to client1, which has no question waiting.
        let mut swapped = TO;
        swapped[2] = "client1";
        let sender = result(
            &grade_server(interleaved([0, 1, 2, 3, 4, 5], swapped)),
            "sender",
        );
        assert_eq!(sender.passed, Some(false));
        assert!(
            sender.message.contains("had no question waiting"),
            "{}",
            sender.message
        );
        assert!(sender.hint.expect("hint").contains("sender"));
        // Replies to a fixed address, where no client is.
        let mut fixed = TO;
        fixed[0] = "127.0.0.1:5000";
        let sender = result(
            &grade_server(interleaved([0, 1, 2, 3, 4, 5], fixed)),
            "sender",
        );
        assert!(
            sender.message.contains("127.0.0.1:5000"),
            "{}",
            sender.message
        );
        assert!(sender.hint.expect("hint").contains("not a fixed one"));
    }

    #[test]
    fn a_reply_in_the_same_tenth_as_its_question_is_after_it() {
        // Listed reply first (same tenth): still the answer to that question.
        let packets = vec![reply(0, "client1", 0), question(0, "client1", 0)];
        assert_eq!(result(&grade_server(packets), "sender").passed, Some(true));
    }

    #[test]
    fn no_reply_at_all_is_not_replying_to_the_sender() {
        let packets = vec![question(0, "client1", 0), question(10, "client2", 0)];
        let report = grade_server(packets);
        let sender = result(&report, "sender");
        assert_eq!(sender.passed, Some(false));
        assert!(sender.hint.expect("hint").contains("sends no reply"));
        assert_eq!(result(&report, "counter").passed, Some(false));
    }

    #[test]
    fn a_program_that_sent_something_has_started_even_if_it_then_fails() {
        let exit = |code| Entry {
            outcome: Some(Outcome::Exited { code }),
            ..Entry::new(0, "client1", Kind::Exit, "")
        };
        let sent = packet(0, "client1", "127.0.0.1:4001", "# B=000");
        let graded = ["client1".to_string()];
        let report =
            grade(&plan(), &transcript(vec![exit(1)], vec![sent]), &graded).expect("graded");
        assert_eq!(report.verdict, Verdict::Pass, "{report:#?}");
        // Exiting with an error before sending anything is still a start-up failure.
        let report =
            grade(&plan(), &transcript(vec![exit(1)], Vec::new()), &graded).expect("graded");
        assert_eq!(report.verdict, Verdict::Fail);
    }

    #[test]
    fn the_new_expectations_need_their_fields() {
        for (expect, needs) in [
            ("shared-counter", "`from` and `pattern`"),
            ("replies-to-sender", "`from`"),
        ] {
            let text = format!(
                "[[server]]\nprotocol = \"udp\"\nid = \"A\"\nport = 4000\n\n[[client]]\nid = \"B\"\n\n\
                 [[check]]\nname = \"x\"\ngrades = \"server\"\nexpect = \"{expect}\"\n"
            );
            let err = crate::scenario::parse(Path::new("scenarios/t.toml"), &text)
                .expect_err("invalid")
                .to_string();
            assert!(err.contains(needs), "{err}");
        }
    }

    /// A client's output quoting `replies`, one line each, and the three replies that came.
    fn grade_client_output(replies: [u32; 3]) -> CheckResult {
        let plan = crate::scenario::parse(
            Path::new("scenarios/t.toml"),
            "[[server]]\nprotocol = \"udp\"\nid = \"A\"\nport = 4000\n[[client]]\nid = \"B\"\n\
             [[check]]\nname = \"prints\"\ngrades = \"client\"\nexpect = \"output\"\nrole = \"client\"\n\
             from = \"server\"\npattern = \"{any}serveur#{server.id} reponse{n}#{any}\"\ncount = 3\n",
        )
        .expect("valid");
        let lines = replies
            .iter()
            .map(|n| {
                let text =
                    format!("client  B: recoit de (127.0.0.1,4000) : serveur# A reponse{n:03}#");
                Entry::new(0, "client", Kind::Out, text)
            })
            .collect();
        let packets = (0..3).map(|n| reply(n * 20, "client", n as u32)).collect();
        let report = grade(&plan, &transcript(lines, packets), &["client".into()]).expect("graded");
        result(&report, "prints")
    }

    /// Lines that read like replies are not enough: each reply that came must be printed,
    /// by value and in order.
    #[test]
    fn printed_lines_quote_the_messages_that_came() {
        assert_eq!(grade_client_output([0, 1, 2]).passed, Some(true));
        let stale = grade_client_output([0, 0, 0]);
        assert_eq!(stale.passed, Some(false));
        assert!(stale.message.contains("message 2"), "{}", stale.message);
        assert!(stale.hint.expect("a hint").contains("just filled"));
        assert_eq!(grade_client_output([1, 0, 2]).passed, Some(false));
    }
}
