//! `[[check]]` tables: the rubric, each check resolved into a [`CheckPlan`] with its
//! roles checked against the plan's and its pattern compiled.

use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::scenario::{CheckPlan, Diagnostic, Expect, Plan, Show};

use super::Walk;
use super::values::unknown;

const CHECK_KEYS: &[&str] = &[
    "name",
    "points",
    "grades",
    "requires",
    "hint",
    "expect",
    "from",
    "to",
    "count",
    "pattern",
    "counter",
    "role",
    "gap",
    "tolerance",
    "status",
    "show",
];
const EXPECTATIONS: &[&str] = &[
    "ready",
    "starts",
    "no-crash",
    "exit-status",
    "still-serving",
    "messages",
    "message-text",
    "output",
    "timing",
    "no-stray-packets",
    "shared-counter",
    "replies-to-sender",
    "answers",
    "close-wait",
];

impl Walk {
    /// `[[check]]` tables: the rubric.
    pub(super) fn checks(&mut self, root: &DeTable<'_>, plan: &Plan) -> Vec<CheckPlan> {
        let mut roles: Vec<&str> = plan.actors.iter().map(|a| a.role.as_str()).collect();
        roles.dedup();
        let mut checks: Vec<CheckPlan> = Vec::new();
        for (t, _) in self.tables(root, "check", CHECK_KEYS, &["name", "grades", "expect"]) {
            let role = |walk: &mut Self, key: &str| -> Option<String> {
                let r = walk.string(t, key)?;
                if roles.contains(&r.get_ref().as_str()) {
                    Some(r.into_inner())
                } else {
                    walk.errors.push(unknown(&r, "role", &roles));
                    None
                }
            };
            let grades = role(self, "grades");
            let (from, to, other) = (role(self, "from"), role(self, "to"), role(self, "role"));
            let name = self.string(t, "name");
            if let Some(name) = &name
                && checks.iter().any(|c| &c.name == name.get_ref())
            {
                self.errors.push(Diagnostic::new(
                    name.span(),
                    format!("duplicate check `{}`", name.get_ref()),
                ));
            }
            let points = self
                .integer(t, "points")
                .map_or(1, |p| u32::try_from(*p.get_ref()).unwrap_or(0));
            let requires: Vec<Spanned<String>> = self.strings(t, "requires");
            for r in &requires {
                if !checks.iter().any(|c| &c.name == r.get_ref()) {
                    let known: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
                    let mut d = unknown(r, "check", &known);
                    d.message
                        .push_str(" (a check can only require one listed before it)");
                    self.errors.push(d);
                }
            }
            let hint = self.string(t, "hint").map(Spanned::into_inner);
            let count = self
                .integer(t, "count")
                .map(|c| u32::try_from(*c.get_ref()).unwrap_or(0));
            let pattern = self.string(t, "pattern");
            if let Some(p) = &pattern {
                let ids: Vec<(String, String)> = plan
                    .actors
                    .iter()
                    .map(|a| (a.role.clone(), a.id.clone()))
                    .collect();
                if let Err(why) = crate::scenario::Pattern::new(p.get_ref(), &ids) {
                    self.errors.push(Diagnostic::new(p.span(), why));
                }
            }
            let counter = match t.get("counter").map(|v| v.get_ref()) {
                Some(DeValue::Boolean(b)) => *b,
                Some(other) => {
                    self.type_error(&t["counter"], "counter", "true or false", other);
                    false
                }
                None => false,
            };
            let gap = self.duration(t, "gap");
            let tolerance = self.duration(t, "tolerance");
            let status = self
                .integer(t, "status")
                .map(|s| i32::try_from(*s.get_ref()).unwrap_or(-1));
            let Some(expect) = self.string(t, "expect") else {
                continue;
            };
            let missing = |walk: &mut Self, what: &str| {
                walk.errors.push(Diagnostic::new(
                    expect.span(),
                    format!("`expect = \"{}\"` needs {what}", expect.get_ref()),
                ));
            };
            let expect = match expect.get_ref().as_str() {
                "ready" => Some(Expect::Ready),
                "starts" => Some(Expect::Starts),
                "no-crash" => Some(Expect::NoCrash),
                "still-serving" => Some(Expect::StillServing),
                "no-stray-packets" => Some(Expect::NoStrayPackets),
                "exit-status" => Some(Expect::ExitStatus(status.unwrap_or(0))),
                "messages" => match (from, to, count) {
                    (Some(from), Some(to), Some(count)) => {
                        Some(Expect::Messages { from, to, count })
                    }
                    _ => {
                        missing(self, "`from`, `to` and `count`");
                        None
                    }
                },
                "message-text" => match (from, to, pattern) {
                    (Some(from), Some(to), Some(pattern)) => Some(Expect::MessageText {
                        from,
                        to,
                        pattern: pattern.into_inner(),
                        counter,
                    }),
                    _ => {
                        missing(self, "`from`, `to` and `pattern`");
                        None
                    }
                },
                "output" => match (other, pattern) {
                    (Some(role), Some(pattern)) => Some(Expect::Output {
                        role,
                        pattern: pattern.into_inner(),
                        count: count.unwrap_or(1),
                        from,
                    }),
                    _ => {
                        missing(self, "`role` and `pattern`");
                        None
                    }
                },
                "timing" => match (from, to, gap) {
                    (Some(from), Some(to), Some(gap)) => Some(Expect::Timing {
                        from,
                        to,
                        gap,
                        tolerance: tolerance.unwrap_or(Duration::from_millis(500)),
                    }),
                    _ => {
                        missing(self, "`from`, `to` and `gap`");
                        None
                    }
                },
                "shared-counter" => match (from, pattern) {
                    (Some(from), Some(pattern)) => Some(Expect::SharedCounter {
                        from,
                        pattern: pattern.into_inner(),
                    }),
                    _ => {
                        missing(self, "`from` and `pattern`");
                        None
                    }
                },
                "close-wait" => match gap {
                    Some(gap) => Some(Expect::CloseWait {
                        gap,
                        tolerance: tolerance.unwrap_or(Duration::from_millis(500)),
                    }),
                    None => {
                        missing(self, "`gap`");
                        None
                    }
                },
                "answers" => match self.string(t, "show") {
                    Some(show) => match show.get_ref().as_str() {
                        "name" => Some(Expect::Answers { show: Show::Name }),
                        "aliases" => Some(Expect::Answers {
                            show: Show::Aliases,
                        }),
                        "addresses" => Some(Expect::Answers {
                            show: Show::Addresses,
                        }),
                        "address-count" => Some(Expect::Answers {
                            show: Show::AddressCount,
                        }),
                        _ => {
                            self.errors.push(unknown(
                                &show,
                                "value of `show`",
                                &["name", "aliases", "addresses", "address-count"],
                            ));
                            None
                        }
                    },
                    None => {
                        missing(self, "`show` (name, aliases, addresses or address-count)");
                        None
                    }
                },
                "replies-to-sender" => match from {
                    Some(from) => Some(Expect::RepliesToSender { from }),
                    None => {
                        missing(self, "`from`");
                        None
                    }
                },
                _ => {
                    self.errors
                        .push(unknown(&expect, "expectation", EXPECTATIONS));
                    None
                }
            };
            if let (Some(name), Some(grades), Some(expect)) = (name, grades, expect) {
                checks.push(CheckPlan {
                    name: name.into_inner(),
                    points,
                    grades,
                    requires: requires.into_iter().map(Spanned::into_inner).collect(),
                    hint,
                    expect,
                });
            }
        }
        checks
    }
}
