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

use serde::{Deserialize, Serialize};

use crate::scenario::Pattern;

use crate::record::{Data, Found, Kind, Outcome, Protocol, Segment, Unstarted, seconds};
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

/// Pass, fail, or error (the run itself could not be graded).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Error,
}

/// The rubric's verdict on one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
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
pub fn grade(plan: &Plan, transcript: &Transcript, graded: &[String]) -> Option<Report> {
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
    let port = plan
        .actors
        .iter()
        .find(|a| a.role == role)
        .map_or(0, |a| a.port());
    match &check.expect {
        Expect::Ready => {
            if view.of(role, Kind::Ready).next().is_some() {
                return Ok(format!("`{role}` is ready on port {port}"));
            }
            let swapped = view.entries.iter().any(|e| {
                matches!(
                    e.data,
                    Data::NotStarted(Unstarted::NotReady { found: Some(Found::PortSwapped { .. }), .. })
                )
            });
            let hint = match swapped {
                true => format!(
                    "it listens on port {} instead of {port}: the port must be converted to network byte order, `sin_port = htons(port)`",
                    port.swap_bytes()
                ),
                false => format!(
                    "nothing listened on port {port}: check socket(), bind() (with htons on the port) and, for TCP, listen(); see its output"
                ),
            };
            Err((format!("`{role}` never became ready on port {port}"), hint))
        }
        Expect::Starts => {
            let usage = view
                .of(role, Kind::Err)
                .filter_map(Entry::printed)
                .any(|line| line.to_lowercase().contains("usage"));
            // A program that sent something started, even if it then gave up with an error
            // (a UDP client told "connection refused" on a connected socket, for instance).
            let quick_exit = matches!(view.outcome(role), Some(Outcome::Exited { code }) if *code != 0)
                && view.entries.iter().all(|e| e.kind != Kind::Msg || e.role != role)
                && view.packets.iter().all(|p| p.role != role);
            if usage || quick_exit {
                let args = view.of(role, Kind::Start).next().map_or(String::new(), |e| e.text.clone());
                Err((
                    format!("`{role}` stopped at once{}", if usage { " with a usage message" } else { "" }),
                    format!("the program does not start with the lab's arguments `{args}`: check how it tests argc and reads argv (usage error)"),
                ))
            } else {
                Ok(format!("`{role}` started"))
            }
        }
        Expect::NoCrash => match view
            .of(role, Kind::Exit)
            .filter_map(|e| e.outcome.as_ref())
            .find(|o| matches!(o, Outcome::Signaled { .. }))
        {
            Some(Outcome::Signaled { signal }) => {
                let name = nix::sys::signal::Signal::try_from(*signal).map_or("?", |s| s.as_str());
                Err((
                    format!("`{role}` crashed: killed by signal {signal} ({name})"),
                    format!(
                        "the program crashed with {name}: a NULL or invalid pointer is used, for instance the result of gethostbyname() or a buffer, without a check"
                    ),
                ))
            }
            _ => Ok(format!("`{role}` did not crash")),
        },
        Expect::ExitStatus(status) => match view.outcome(role) {
            Some(Outcome::Exited { code }) if code == status => Ok(format!("`{role}` exited with status {code}")),
            other => Err((
                format!("`{role}` {}", other.map_or("never ended".into(), crate::transcript::describe)),
                format!("the program should end by itself with status {status} once its exchanges are done"),
            )),
        },
        Expect::StillServing => match view.outcome(role) {
            Some(Outcome::Stopped) => Ok(format!("`{role}` was still serving when its clients were done")),
            Some(Outcome::Exited { code }) => Err((
                format!("`{role}` exited by itself with status {code}"),
                "the server stopped after its first client: it must loop around accept() (or recvfrom()) and serve the next one".into(),
            )),
            other => Err((
                format!("`{role}` {}", other.map_or("never ended".into(), crate::transcript::describe)),
                "the server must keep serving clients until it is stopped".into(),
            )),
        },
        Expect::Messages { from, to, count } => {
            let seen = view.messages(from, to).count() as u32;
            let what = format!("{seen} message(s) from `{from}` to `{to}`, {count} expected");
            if seen == *count {
                return Ok(what);
            }
            // A datagram of `from` to an address no actor owns.
            let sent_elsewhere = view.packets.iter().filter(|p| &p.role == from).filter_map(Entry::packet).any(|p| {
                p.protocol == Protocol::Udp && p.segment == Segment::Datagram && p.to.role.is_none()
            });
            let graded_sender = from == &check.grades;
            let hint = if seen == 0 && sent_elsewhere {
                format!("`{from}` sends its replies to an address where no client is: reply to the address recvfrom() gave you (the sender's)")
            } else if seen == 0 && graded_sender {
                format!("`{from}` sends no reply: after reading a message it must send one back to `{to}` (sendto() to the sender's address, or write() on the connection)")
            } else if seen == 0 {
                format!("nothing from `{from}` reached `{to}`: does it send (sendto()/write()) to the peer's address, and does `{to}` read (recvfrom()/read())?")
            } else if seen < *count {
                format!("only {seen} of the {count} exchanges happened: check the loop around the exchanges (3 exchanges in the lab)")
            } else {
                format!("{seen} messages instead of {count}: check the loop bound (3 exchanges in the lab)")
            };
            Err((what, hint))
        }
        Expect::MessageText { from, to, pattern, counter } => {
            let pattern = Pattern::new(pattern, ids).map_err(|e| (e.clone(), e))?;
            let texts: Vec<&str> = view.messages(from, to).filter_map(|e| e.message.as_ref()).map(|m| m.text.as_str()).collect();
            if texts.is_empty() {
                return Err((format!("no message from `{from}` to `{to}`"), format!("`{from}` sent nothing to `{to}`")));
            }
            let mut numbers = Vec::new();
            for text in &texts {
                match pattern.captures(text) {
                    Some(n) => numbers.extend(n.first().copied()),
                    None => {
                        return Err((
                            format!("`{text}` does not read like `{}`", pattern.source),
                            format!("wrong message format: check the sprintf() format against the lab's `{}`", pattern.source),
                        ));
                    }
                }
            }
            if *counter && numbers.windows(2).any(|w| w[0].checked_add(1) != Some(w[1])) {
                let hint = if numbers.windows(2).all(|w| w[0] == w[1]) {
                    "every reply carries the same number: the reply counter is not incremented (nb_reponse++)".to_string()
                } else {
                    format!("the reply numbers go {numbers:?}: the counter must count up by one per reply")
                };
                return Err((format!("numbers {numbers:?}"), hint));
            }
            Ok(format!("{} message(s) read like `{}`", texts.len(), pattern.source))
        }
        Expect::Output { role: printer, pattern, count, from } => {
            let pattern = Pattern::new(pattern, ids).map_err(|e| (e.clone(), e))?;
            let lines: Vec<&str> = view.of(printer, Kind::Out).filter_map(Entry::printed).filter(|line| pattern.matches(line)).collect();
            let seen = lines.len() as u32;
            if seen < *count {
                let example = view.of(printer, Kind::Out).find_map(Entry::printed).map_or("nothing".to_string(), |line| format!("`{line}`"));
                return Err((
                    format!("{seen} line(s) of `{printer}` read like `{}`, {count} expected; it printed {example}", pattern.source),
                    format!("the program's output should read like `{}` (one line per message); check its printf() format", pattern.source),
                ));
            }
            if let Some(from) = from {
                quotes(view, from, printer, &lines, *count as usize)?;
                return Ok(format!(
                    "{seen} line(s) of `{printer}` read like `{}`, each message from `{from}` quoted in order",
                    pattern.source
                ));
            }
            Ok(format!("{seen} line(s) of `{printer}` read like `{}`", pattern.source))
        }
        Expect::Timing { from, to, gap, tolerance } => {
            let times: Vec<u64> = view.messages(from, to).map(|e| e.tenths).collect();
            let least = gap.saturating_sub(*tolerance).as_millis() as u64 / 100;
            let short = times.windows(2).map(|w| w[1].saturating_sub(w[0])).find(|&d| d < least);
            match short {
                Some(d) => Err((
                    format!("two messages from `{from}` came {} s apart", seconds(d)),
                    format!(
                        "replies come faster than {} apart: the sleep() after each reply is missing",
                        crate::scenario::duration::display(*gap)
                    ),
                )),
                None => Ok(format!("messages from `{from}` are at least {} apart", crate::scenario::duration::display(*gap))),
            }
        }
        Expect::NoStrayPackets => {
            // Packets of `role` to a loopback address that no actor owns.
            let stray: Vec<&Entry> = view
                .packets
                .iter()
                .filter(|p| p.role == role)
                .filter(|p| {
                    p.packet().is_some_and(|p| {
                        p.to.role.is_none() && matches!(p.to.address.ip(), std::net::IpAddr::V4(ip) if ip.octets()[0] == 127)
                    })
                })
                .collect();
            match stray.first() {
                Some(p) => Err((
                    format!("`{role}` sent a packet to nobody: {}", p.text),
                    "replies go to an address where no client is: reply to the address recvfrom() gave you (the sender's), not a fixed one".into(),
                )),
                None => Ok(format!("every packet of `{role}` went to an actor")),
            }
        }
        Expect::SharedCounter { from, pattern } => {
            let pattern = Pattern::new(pattern, ids).map_err(|e| (e.clone(), e))?;
            shared_counter(view, plan, from, &pattern)
        }
        Expect::RepliesToSender { from } => replies_to_sender(view, plan, from),
        Expect::Answers { show } => answers::check(plan, view.entries, role, *show),
        Expect::CloseWait { gap, tolerance } => {
            close_wait::check(view.entries, view.packets, role, *gap, *tolerance)
        }
    }
}

/// The first `count` messages `from` sent to `printer`, each quoted by one of `lines` (in
/// order, a line each): the lines show what came, not the same text again or what the
/// program expected. Spaces do not count (`#B=000` for `# B=000`).
fn quotes(
    view: &View<'_>,
    from: &str,
    printer: &str,
    lines: &[&str],
    count: usize,
) -> Result<(), (String, String)> {
    let bare = |text: &str| {
        text.chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
    };
    let mut rest = lines.iter();
    let messages = view
        .messages(from, printer)
        .filter_map(|e| e.message.as_ref());
    for (n, message) in messages.take(count).enumerate() {
        let text = bare(&message.text);
        if text.is_empty() {
            continue;
        }
        if !rest.any(|line| bare(line).contains(&text)) {
            let printed: Vec<String> = lines.iter().map(|line| format!("`{line}`")).collect();
            return Err((
                format!(
                    "message {} from `{from}`, `{}`, is in no line of `{printer}` after the one for the message before it; its lines: {}",
                    n + 1,
                    message.text,
                    printed.join(", ")
                ),
                format!(
                    "the lines do not show what came from `{from}`: print the buffer that read() or recvfrom() has just filled, after each call, not a copy made earlier"
                ),
            ));
        }
    }
    Ok(())
}

/// One counter for all the peers of `from`: the numbers of its messages, to whoever they
/// go, count up by one in the order they were sent.
fn shared_counter(
    view: &View<'_>,
    plan: &Plan,
    from: &str,
    pattern: &Pattern,
) -> Result<String, (String, String)> {
    let is_actor = |role: &str| plan.actors.iter().any(|a| a.role == role);
    // (recipient, number) in the order sent.
    let mut numbered: Vec<(&str, u64)> = Vec::new();
    for e in view.all_messages().filter(|e| e.role == from) {
        let Some(message) = &e.message else { continue };
        if !is_actor(&message.to) || message.to == from {
            continue;
        }
        match pattern
            .captures(&message.text)
            .and_then(|n| n.first().copied())
        {
            Some(n) => numbered.push((message.to.as_str(), n)),
            None => {
                return Err((
                    format!("`{}` does not read like `{}`", message.text, pattern.source),
                    format!(
                        "wrong message format: check the sprintf() format against the lab's `{}`",
                        pattern.source
                    ),
                ));
            }
        }
    }
    if numbered.is_empty() {
        return Err((
            format!("no message from `{from}` to another actor"),
            format!("`{from}` sent nothing to its clients"),
        ));
    }
    let numbers: Vec<u64> = numbered.iter().map(|(_, n)| *n).collect();
    let mut peers: Vec<&str> = numbered.iter().map(|(to, _)| *to).collect();
    peers.sort_unstable();
    peers.dedup();
    if numbers
        .windows(2)
        .all(|w| w[0].checked_add(1) == Some(w[1]))
    {
        return Ok(format!(
            "{} message(s) to {} numbered {numbers:?}: one counter for all",
            numbers.len(),
            quoted(&peers)
        ));
    }
    let per_peer = |peer: &str| -> Vec<u64> {
        numbered
            .iter()
            .filter(|(to, _)| *to == peer)
            .map(|(_, n)| *n)
            .collect()
    };
    let each_counts = peers.iter().all(|p| {
        per_peer(p)
            .windows(2)
            .all(|w| w[0].checked_add(1) == Some(w[1]))
    });
    let restarts = peers.len() > 1
        && each_counts
        && peers
            .iter()
            .map(|p| per_peer(p).first().copied())
            .collect::<Vec<_>>()
            .windows(2)
            .all(|w| w[0] == w[1]);
    let hint = if numbers.windows(2).all(|w| w[0] == w[1]) {
        "every reply carries the same number: the reply counter is not incremented (nb_reponse++)"
            .to_string()
    } else if restarts {
        "the numbering starts again for each client: the reply counter must be one for all \
         clients, a global variable that is never reset for a new client (a server that \
         fork()s a child per client counts in each child's own copy, so the clients cannot \
         share it)"
            .to_string()
    } else {
        format!(
            "the reply numbers go {numbers:?} in the order the replies were sent: one counter \
             for all clients must count up by one per reply, whoever it goes to"
        )
    };
    let listing: Vec<String> = peers
        .iter()
        .map(|p| format!("`{p}` got {:?}", per_peer(p)))
        .collect();
    Err((
        format!("numbers {numbers:?} in order ({})", listing.join(", ")),
        hint,
    ))
}

/// Each message from `from` goes back to an actor that sent it a message not answered yet.
/// Messages in the same tenth of a second are taken questions first, as a reply cannot
/// come before its question.
fn replies_to_sender(view: &View<'_>, plan: &Plan, from: &str) -> Result<String, (String, String)> {
    let is_actor = |role: &str| plan.actors.iter().any(|a| a.role == role);
    // (time, 0 for a question to `from` or 1 for a reply from it, the peer).
    let mut events: Vec<(u64, u8, &str)> = view
        .all_messages()
        .filter_map(|e| {
            let to = e.message.as_ref()?.to.as_str();
            if e.role == from && to != from {
                Some((e.tenths, 1, to))
            } else if to == from && e.role != from {
                Some((e.tenths, 0, e.role.as_str()))
            } else {
                None
            }
        })
        .collect();
    events.sort_by_key(|&(tenths, kind, _)| (tenths, kind));
    let mut waiting: Vec<(&str, u32)> = Vec::new();
    let mut replies = 0;
    for (tenths, kind, peer) in events {
        let slot = match waiting.iter().position(|(p, _)| *p == peer) {
            Some(i) => i,
            None => {
                waiting.push((peer, 0));
                waiting.len() - 1
            }
        };
        if kind == 0 {
            waiting[slot].1 += 1;
            continue;
        }
        replies += 1;
        let at = format!("{} s", seconds(tenths));
        if !is_actor(peer) {
            return Err((
                format!("`{from}` sent a reply to {peer} at {at}, where no client is"),
                "replies go to an address where no client is: reply to the address recvfrom() \
                 gave you with this message (the sender's), not a fixed one"
                    .into(),
            ));
        }
        if waiting[slot].1 == 0 {
            return Err((
                format!(
                    "`{from}` sent `{peer}` a reply at {at}, but `{peer}` had no question waiting"
                ),
                format!(
                    "a reply went to `{peer}`, which had not asked: reply to the address \
                     recvfrom() filled in for this very message (the sender's), not to another \
                     client's"
                ),
            ));
        }
        waiting[slot].1 -= 1;
    }
    if replies == 0 {
        return Err((
            format!("no reply from `{from}`"),
            format!(
                "`{from}` sends no reply: after reading a message it must send one back to its \
                 sender (sendto() to the address recvfrom() gave)"
            ),
        ));
    }
    Ok(format!(
        "each of the {replies} replies of `{from}` went to the client that asked"
    ))
}

fn quoted(roles: &[&str]) -> String {
    roles
        .iter()
        .map(|r| format!("`{r}`"))
        .collect::<Vec<_>>()
        .join(", ")
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
