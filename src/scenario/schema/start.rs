//! Start conditions: `start-after = "ROLE:MILESTONE"` references, read and resolved into
//! [`Milestone`]s (which `checkpoints` also uses), and the refusal of conditions that wait
//! on each other in a circle.

use std::collections::HashMap;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::scenario::{ActorPlan, Diagnostic, Milestone, MilestoneKind};

use super::Walk;
use super::actors::Draft;
use super::values::{quoted_list, unknown};

impl Walk {
    /// Start conditions that wait on each other in a circle can never start.
    pub(super) fn check_cycles(&mut self, actors: &[ActorPlan], drafts: &[Draft]) {
        // 0 = unvisited, 1 = on the current path, 2 = done. The path is a stack of its own,
        // each actor with the next of its conditions to follow, not recursion: a chain of
        // thousands of start conditions must not overflow the stack.
        fn visit(root: usize, actors: &[ActorPlan], state: &mut [u8]) -> Option<Vec<usize>> {
            let mut path: Vec<(usize, usize)> = vec![(root, 0)];
            state[root] = 1;
            while let Some(&(i, next)) = path.last() {
                let Some(m) = actors[i].start.after.get(next) else {
                    state[i] = 2;
                    path.pop();
                    continue;
                };
                if let Some(top) = path.last_mut() {
                    top.1 += 1;
                }
                match state[m.actor] {
                    1 => {
                        let start = path.iter().position(|&(p, _)| p == m.actor).unwrap_or(0);
                        return Some(path[start..].iter().map(|&(p, _)| p).collect());
                    }
                    0 => {
                        state[m.actor] = 1;
                        path.push((m.actor, 0));
                    }
                    _ => {}
                }
            }
            None
        }
        let mut state = vec![0u8; actors.len()];
        for i in 0..actors.len() {
            if state[i] == 0
                && let Some(cycle) = visit(i, actors, &mut state)
            {
                let names: Vec<&str> = cycle.iter().map(|&a| actors[a].role.as_str()).collect();
                let first = cycle[0];
                let span = drafts[first]
                    .after
                    .first()
                    .map_or(drafts[first].span.clone(), Spanned::span);
                self.errors.push(
                    Diagnostic::new(
                        span,
                        format!(
                            "start conditions wait on each other in a circle: {} → {}",
                            circle(&names),
                            names[0]
                        ),
                    )
                    .help("remove one `start-after` so that some actor can start first"),
                );
                return;
            }
        }
    }

    pub(super) fn milestone(
        &mut self,
        reference: &Spanned<String>,
        index: &HashMap<&str, usize>,
        roles: &[&str],
    ) -> Option<Milestone> {
        let text = reference.get_ref();
        let (role, what) = text.split_once(':').unwrap_or((text, "started"));
        let Some(what) = MilestoneKind::from_name(what) else {
            self.errors.push(
                Diagnostic::new(
                    reference.span(),
                    format!("unknown milestone `{what}` in `{text}`"),
                )
                .help(format!("use one of {}", quoted_list(&MilestoneKind::NAMES))),
            );
            return None;
        };
        let Some(&actor) = index.get(role) else {
            let mut d = unknown(
                &Spanned::new(reference.span(), role.to_string()),
                "role",
                roles,
            );
            d.message = format!("`start-after` names an unknown role `{role}`");
            self.errors.push(d);
            return None;
        };
        Some(Milestone { actor, what })
    }

    pub(super) fn after(&mut self, t: &DeTable<'_>) -> Vec<Spanned<String>> {
        let Some(v) = t.get("start-after") else {
            return Vec::new();
        };
        match v.get_ref() {
            DeValue::String(s) => vec![Spanned::new(v.span(), s.to_string())],
            DeValue::Array(items) => items
                .iter()
                .filter_map(|item| match item.get_ref() {
                    DeValue::String(s) => Some(Spanned::new(item.span(), s.to_string())),
                    other => {
                        self.type_error(item, "start-after", "a string", other);
                        None
                    }
                })
                .collect(),
            other => {
                self.type_error(v, "start-after", "a string or a list of strings", other);
                Vec::new()
            }
        }
    }
}

/// The roles of a circle of start conditions, joined by arrows; a long one keeps its
/// first eight and last two, so that the message stays readable.
fn circle(names: &[&str]) -> String {
    if names.len() <= 12 {
        return names.join(" → ");
    }
    format!(
        "{} → … ({} more) → {}",
        names[..8].join(" → "),
        names.len() - 10,
        names[names.len() - 2..].join(" → ")
    )
}
