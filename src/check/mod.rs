//! Rubric checks over a transcript: named checks with points, prerequisites, and hints that
//! point at the likely cause, as a careful teaching assistant would give them.
//!
//! Checks read only the normalised transcript (plain data): messages between roles, lines
//! printed, exits, the skip reasons of actors that never started, packets.

mod pattern;

use serde::Serialize;

pub(crate) use pattern::Pattern;

use crate::scenario::{CheckPlan, Expect, Plan};
use crate::transcript::{Entry, Outcome, Transcript};

/// The result of one check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub name: String,
    /// `None` when skipped because a prerequisite failed.
    pub passed: Option<bool>,
    pub points: u32,
    pub max_points: u32,
    /// What was observed.
    pub message: String,
    /// What to look at, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
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
    fn of<'a>(&'a self, role: &'a str, kind: &'a str) -> impl Iterator<Item = &'a Entry> + 'a {
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
                    .filter(|e| e.kind == "msg")
                    .filter(between),
            )
        }
    }

    fn outcome<'a>(&'a self, role: &'a str) -> Option<&'a Outcome> {
        self.of(role, "exit")
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
            if view.of(role, "ready").next().is_some() {
                return Ok(format!("`{role}` is ready on port {port}"));
            }
            let reasons: Vec<&str> = view.entries.iter().filter(|e| e.kind == "skip").map(|e| e.text.as_str()).collect();
            let swapped = reasons.iter().find(|r| r.contains("htons"));
            let hint = match swapped {
                Some(_) => format!(
                    "it listens on port {} instead of {port}: the port must be converted to network byte order, `sin_port = htons(port)`",
                    port.swap_bytes()
                ),
                None => format!(
                    "nothing listened on port {port}: check socket(), bind() (with htons on the port) and, for TCP, listen(); see its output"
                ),
            };
            Err((format!("`{role}` never became ready on port {port}"), hint))
        }
        Expect::Starts => {
            let usage = view.of(role, "err").any(|e| e.text.to_lowercase().contains("usage"));
            let quick_exit = matches!(view.outcome(role), Some(Outcome::Exited { code }) if *code != 0)
                && view.entries.iter().all(|e| e.kind != "msg" || e.role != role);
            if usage || quick_exit {
                let args = view.of(role, "start").next().map_or(String::new(), |e| e.text.clone());
                Err((
                    format!("`{role}` stopped at once{}", if usage { " with a usage message" } else { "" }),
                    format!("the program does not start with the lab's arguments `{args}`: check how it tests argc and reads argv (usage error)"),
                ))
            } else {
                Ok(format!("`{role}` started"))
            }
        }
        Expect::NoCrash => match view
            .of(role, "exit")
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
            let sent_elsewhere = view
                .packets
                .iter()
                .any(|p| &p.role == from && p.text.starts_with("udp → ") && !plan.actors.iter().any(|a| p.text.starts_with(&format!("udp → {} ", a.role))));
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
            if *counter && numbers.windows(2).any(|w| w[1] != w[0] + 1) {
                let hint = if numbers.windows(2).all(|w| w[0] == w[1]) {
                    "every reply carries the same number: the reply counter is not incremented (nb_reponse++)".to_string()
                } else {
                    format!("the reply numbers go {numbers:?}: the counter must count up by one per reply")
                };
                return Err((format!("numbers {numbers:?}"), hint));
            }
            Ok(format!("{} message(s) read like `{}`", texts.len(), pattern.source))
        }
        Expect::Output { role: printer, pattern, count } => {
            let pattern = Pattern::new(pattern, ids).map_err(|e| (e.clone(), e))?;
            let seen = view.of(printer, "out").filter(|e| pattern.matches(&e.text)).count() as u32;
            if seen >= *count {
                Ok(format!("{seen} line(s) of `{printer}` read like `{}`", pattern.source))
            } else {
                let example = view.of(printer, "out").next().map_or("nothing".to_string(), |e| format!("`{}`", e.text));
                Err((
                    format!("{seen} line(s) of `{printer}` read like `{}`, {count} expected; it printed {example}", pattern.source),
                    format!("the program's output should read like `{}` (one line per message); check its printf() format", pattern.source),
                ))
            }
        }
        Expect::Timing { from, to, gap, tolerance } => {
            let times: Vec<u64> = view.messages(from, to).map(|e| e.tenths).collect();
            let least = gap.saturating_sub(*tolerance).as_millis() as u64 / 100;
            let short = times.windows(2).map(|w| w[1].saturating_sub(w[0])).find(|&d| d < least);
            match short {
                Some(d) => Err((
                    format!("two messages from `{from}` came {}.{} s apart", d / 10, d % 10),
                    format!(
                        "replies come faster than {} apart: the sleep() after each reply is missing",
                        crate::scenario::duration::display(*gap)
                    ),
                )),
                None => Ok(format!("messages from `{from}` are at least {} apart", crate::scenario::duration::display(*gap))),
            }
        }
        Expect::NoStrayPackets => {
            let stray: Vec<&Entry> = view
                .packets
                .iter()
                .filter(|p| p.role == role && p.text.contains(" → 127.") )
                .collect();
            match stray.first() {
                Some(p) => Err((
                    format!("`{role}` sent a packet to nobody: {}", p.text),
                    "replies go to an address where no client is: reply to the address recvfrom() gave you (the sender's), not a fixed one".into(),
                )),
                None => Ok(format!("every packet of `{role}` went to an actor")),
            }
        }
    }
}
