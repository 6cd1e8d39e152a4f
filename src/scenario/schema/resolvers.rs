//! `[[resolver]]` tables, each one actor per query (exercise 1.1's lookups), and `[[host]]`
//! tables, the run's private `/etc/hosts` that they look up.

use std::time::Duration;

use toml::Spanned;
use toml::de::DeTable;

use crate::scenario::{
    ActorKind, ActorPlan, Diagnostic, Host, Lookup, Milestone, MilestoneKind, Plan, Protocol,
    StartRule,
};

use super::Walk;
use super::actors::DEFAULT_CLIENT_TIMEOUT;
use super::values::{header_span, unknown};

const HOST_KEYS: &[&str] = &["name", "aliases", "addresses"];
const RESOLVER_KEYS: &[&str] = &["role", "lookup", "queries", "timeout", "args"];
const RESOLVER_ARGS: &str = "{query}";

/// A `[[resolver]]` as written, before it becomes one actor per query.
pub(super) struct ResolverDraft {
    role: Spanned<String>,
    lookup: Lookup,
    queries: Vec<String>,
    timeout: Option<Duration>,
    args: Vec<String>,
}

impl Walk {
    /// `[[host]]` tables: the run's private `/etc/hosts`.
    pub(super) fn hosts(&mut self, root: &DeTable<'_>) -> Option<Vec<Host>> {
        root.get("host")?;
        let mut hosts = Vec::new();
        for (table, _) in self.tables(root, "host", HOST_KEYS, &["name", "addresses"]) {
            let name = self.string(table, "name");
            if let Some(name) = &name {
                self.check_hostname(name);
            }
            let aliases = self.strings(table, "aliases");
            for alias in &aliases {
                self.check_hostname(alias);
            }
            let mut addresses = Vec::new();
            for address in self.strings(table, "addresses") {
                match address.get_ref().parse::<std::net::IpAddr>() {
                    Ok(ip) => addresses.push(ip),
                    Err(_) => self.errors.push(
                        Diagnostic::new(
                            address.span(),
                            format!("`{}` is not an IP address", address.get_ref()),
                        )
                        .help("write addresses in dotted form, such as \"194.254.163.24\""),
                    ),
                }
            }
            if let Some(name) = name {
                hosts.push(Host {
                    name: name.into_inner(),
                    aliases: aliases.into_iter().map(Spanned::into_inner).collect(),
                    addresses,
                });
            }
        }
        Some(hosts)
    }

    fn check_hostname(&mut self, name: &Spanned<String>) {
        let text = name.get_ref();
        let valid = !text.is_empty()
            && text.len() <= 253
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
        if !valid {
            self.errors.push(Diagnostic::new(
                name.span(),
                format!("`{text}` is not a usable host name"),
            ));
        }
    }

    /// `[[resolver]]` tables, read but not yet expanded into actors.
    pub(super) fn resolvers(&mut self, root: &DeTable<'_>) -> Vec<ResolverDraft> {
        let mut out = Vec::new();
        for (table, span) in self.tables(root, "resolver", RESOLVER_KEYS, &["lookup", "queries"]) {
            let role = self
                .string(table, "role")
                .unwrap_or_else(|| Spanned::new(header_span(span.clone()), "resolver".to_string()));
            self.check_role_name(&role);
            let lookup = match self.string(table, "lookup") {
                Some(l) if l.get_ref() == "name" => Some(Lookup::Name),
                Some(l) if l.get_ref() == "addr" => Some(Lookup::Address),
                Some(l) => {
                    self.errors.push(unknown(&l, "lookup", &["name", "addr"]));
                    None
                }
                None => None,
            };
            let queries: Vec<String> = self
                .strings(table, "queries")
                .into_iter()
                .map(Spanned::into_inner)
                .collect();
            if table.get("queries").is_some() && queries.is_empty() {
                self.at(table, "queries", "a [[resolver]] needs at least one query");
            }
            let timeout = self.duration(table, "timeout");
            let args = self.args(table, RESOLVER_ARGS);
            if let (Some(lookup), Some(args)) = (lookup, args) {
                out.push(ResolverDraft {
                    role,
                    lookup,
                    queries,
                    timeout,
                    args,
                });
            }
        }
        out
    }

    /// One actor per query, each starting when the previous one has ended.
    pub(super) fn add_resolvers(&mut self, plan: &mut Plan, resolvers: Vec<ResolverDraft>) {
        for ResolverDraft {
            role,
            lookup,
            queries,
            timeout,
            args,
        } in resolvers
        {
            if plan.actors.iter().any(|a| &a.role == role.get_ref()) {
                self.errors.push(Diagnostic::new(
                    role.span(),
                    format!("duplicate role `{}`", role.get_ref()),
                ));
                continue;
            }
            let mut previous: Option<usize> = None;
            for query in queries {
                let after = previous
                    .map(|actor| Milestone {
                        actor,
                        what: MilestoneKind::Exited,
                    })
                    .into_iter()
                    .collect();
                previous = Some(plan.actors.len());
                plan.actors.push(ActorPlan {
                    role: role.get_ref().clone(),
                    id: String::new(),
                    protocol: Protocol::Udp,
                    kind: ActorKind::Resolver { lookup, query },
                    start: StartRule {
                        after,
                        delay: Duration::ZERO,
                    },
                    timeout: timeout.unwrap_or(DEFAULT_CLIENT_TIMEOUT.min(plan.timeout)),
                    args: args.clone(),
                });
            }
        }
    }
}
