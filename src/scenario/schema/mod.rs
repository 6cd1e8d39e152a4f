//! The scenario schema, checked by one walk over the spanned TOML tree.
//!
//! This file owns the walk (`Walk`, which gathers every diagnostic) and the top of a
//! scenario (`name`, `description`, `[run]`); each section of the file has a module of its
//! own, and they hand their part of the [`Plan`] back here:
//!
//! - `values`: typed reads of spanned values (strings, integers, durations, tables),
//!   each mistake a positioned diagnostic with a suggestion.
//! - `actors`: `[[server]]` and `[[client]]` tables, resolved into the plan's actors.
//! - `start`: start conditions (`start-after`), their milestones, and circles of them.
//! - `resolvers`: `[[resolver]]` tables (one actor per query) and `[[host]]` tables.
//! - `checkpoints`: `[[netstat]]` tables, when to take the socket table.
//! - `checks`: `[[check]]` tables, the rubric.

mod actors;
mod checkpoints;
mod checks;
mod resolvers;
mod start;
#[cfg(test)]
mod tests;
mod values;

use std::path::Path;
use std::time::Duration;

use toml::Spanned;
use toml::de::DeTable;

use super::Plan;
use super::diagnostic::{Diagnostic, Diagnostics};

const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "run",
    "server",
    "client",
    "resolver",
    "host",
    "netstat",
    "check",
];
const RUN_KEYS: &[&str] = &["timeout", "stop-grace", "ready-timeout"];
const DEFAULT_RUN_TIMEOUT: Duration = Duration::from_secs(120);
const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(10);
const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) fn parse(path: &Path, text: &str) -> Result<Plan, Diagnostics> {
    let mut walk = Walk { errors: Vec::new() };
    let plan = match DeTable::parse(text) {
        Ok(root) => walk.plan(path, root.get_ref(), text.len()),
        Err(error) => {
            let span = error.span().unwrap_or(0..0);
            walk.errors.push(Diagnostic::new(
                span,
                format!("not valid TOML: {}", error.message().trim_end()),
            ));
            None
        }
    };
    match plan {
        Some(plan) if walk.errors.is_empty() => Ok(plan),
        _ => {
            walk.errors.sort_by_key(|d| d.span.start);
            Err(Diagnostics {
                path: path.to_owned(),
                source: text.to_owned(),
                items: walk.errors,
            })
        }
    }
}

struct Limits {
    timeout: Duration,
    stop_grace: Duration,
    ready_timeout: Duration,
}

struct Walk {
    errors: Vec<Diagnostic>,
}

impl Walk {
    fn plan(&mut self, path: &Path, root: &DeTable<'_>, len: usize) -> Option<Plan> {
        self.check_keys(root, TOP_KEYS, "at the top of a scenario");
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".into());
        let name = self.string(root, "name").map_or(stem, Spanned::into_inner);
        self.string(root, "description");

        let mut limits = Limits {
            timeout: DEFAULT_RUN_TIMEOUT,
            stop_grace: DEFAULT_STOP_GRACE,
            ready_timeout: DEFAULT_READY_TIMEOUT,
        };
        if let Some(run) = self.table(root, "run") {
            self.check_keys(run, RUN_KEYS, "in [run]");
            let timeout = self.duration(run, "timeout").unwrap_or(limits.timeout);
            limits.timeout = timeout;
            limits.stop_grace = self
                .duration(run, "stop-grace")
                .unwrap_or(limits.stop_grace);
            limits.ready_timeout = self
                .duration(run, "ready-timeout")
                .unwrap_or(limits.ready_timeout);
            if timeout.is_zero() {
                self.at(run, "timeout", "the run timeout must be more than zero");
            }
        }

        let servers = self.drafts(root, "server", true);
        let clients = self.drafts(root, "client", false);
        let resolvers = self.resolvers(root);
        let hosts = self.hosts(root);
        if servers.is_empty() && clients.is_empty() && resolvers.is_empty() {
            self.errors.push(
                Diagnostic::new(0..len.min(1), "the scenario has no actors")
                    .help("add a `[[server]]` and a `[[client]]` table, or a `[[resolver]]`"),
            );
            return None;
        }
        let mut drafts = servers;
        drafts.extend(clients);
        self.default_roles(&mut drafts);
        let mut plan = self.resolve(name, path, drafts, limits)?;
        self.add_resolvers(&mut plan, resolvers);
        plan.hosts = hosts;
        plan.checkpoints = self.checkpoints(root, &plan);
        plan.checks = self.checks(root, &plan);
        self.errors.is_empty().then_some(plan)
    }
}
