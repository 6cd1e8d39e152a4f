//! `[[netstat]]` tables: when to take the run's socket table, after a milestone or at a
//! scenario time, resolved into [`Checkpoint`]s.

use std::collections::HashMap;

use toml::de::DeTable;

use crate::scenario::duration;
use crate::scenario::{Checkpoint, Diagnostic, Plan, When};

use super::Walk;
use super::values::header_span;

const NETSTAT_KEYS: &[&str] = &["after", "at"];

impl Walk {
    /// `[[netstat]]` tables: `after = "ROLE:MILESTONE"`, or `at = "7s"` or `at = "end"`.
    pub(super) fn checkpoints(&mut self, root: &DeTable<'_>, plan: &Plan) -> Vec<Checkpoint> {
        let index: HashMap<&str, usize> = plan
            .actors
            .iter()
            .enumerate()
            .map(|(i, a)| (a.role.as_str(), i))
            .collect();
        let roles: Vec<&str> = plan.actors.iter().map(|a| a.role.as_str()).collect();
        let mut checkpoints = Vec::new();
        for (table, span) in self.tables(root, "netstat", NETSTAT_KEYS, &[]) {
            let after = self.string(table, "after");
            let at = self.string(table, "at");
            let checkpoint = match (after, at) {
                (Some(after), None) => self.milestone(&after, &index, &roles).map(|m| Checkpoint {
                    label: format!("after {}", after.get_ref()),
                    when: When::After(m),
                }),
                (None, Some(at)) if at.get_ref() == "end" => Some(Checkpoint {
                    label: "at end".into(),
                    when: When::End,
                }),
                (None, Some(at)) => match duration::parse(at.get_ref()) {
                    Ok(d) => Some(Checkpoint {
                        label: format!("at {}", duration::display(d)),
                        when: When::At(d),
                    }),
                    Err(why) => {
                        self.errors.push(
                            Diagnostic::new(at.span(), format!("invalid `at`: {why}"))
                                .help("write a scenario time such as \"7s\", or \"end\""),
                        );
                        None
                    }
                },
                _ => {
                    self.errors.push(
                        Diagnostic::new(
                            header_span(span),
                            "a [[netstat]] needs exactly one of `after` and `at`",
                        )
                        .help("write `after = \"server:ready\"`, `at = \"7s\"` or `at = \"end\"`"),
                    );
                    None
                }
            };
            checkpoints.extend(checkpoint);
        }
        checkpoints
    }
}
