//! `[[server]]` and `[[client]]` tables: read into drafts (one per client of a `count`),
//! given default roles, then resolved into the plan's actors, with each client's server,
//! protocol, port and timeout decided. Start conditions are read and checked by `start`.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;
use toml::de::DeTable;

use crate::scenario::{
    ActorKind, ActorPlan, Concurrency, Diagnostic, Milestone, MilestoneKind, Plan, Protocol,
    StartRule,
};

use super::values::{quoted_list, unknown};
use super::{Limits, Walk};

const SERVER_KEYS: &[&str] = &[
    "role",
    "protocol",
    "id",
    "port",
    "exchanges",
    "reply-delay",
    "close-delay",
    "concurrency",
    "start-after",
    "start-delay",
    "timeout",
    "args",
];
const CLIENT_KEYS: &[&str] = &[
    "role",
    "protocol",
    "server",
    "id",
    "host",
    "port",
    "exchanges",
    "pause",
    "count",
    "start-after",
    "start-delay",
    "timeout",
    "args",
];
pub(super) const DEFAULT_CLIENT_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_EXCHANGES: u32 = 3;
const MAX_EXCHANGES: i64 = 100_000;
/// The most clients a scenario may have, however they are written: each takes two file
/// descriptors and an ephemeral port of the run.
const MAX_CLIENT_COUNT: i64 = 10_000;
const DEFAULT_REPLY_DELAY: Duration = Duration::from_secs(2);
const SERVER_ARGS: &str = "{id} {port}";
const CLIENT_ARGS: &str = "{id} {host} {port}";
const PLACEHOLDERS: &[&str] = &["{id}", "{host}", "{port}", "{query}"];

/// An actor as written, before references between actors are resolved.
#[derive(Clone)]
pub(super) struct Draft {
    role: Spanned<String>,
    role_given: bool,
    id: String,
    protocol: Option<Protocol>,
    server_ref: Option<Spanned<String>>,
    host: String,
    port: Option<u16>,
    exchanges: u32,
    reply_delay: Duration,
    close_delay: Duration,
    concurrency: Concurrency,
    pause: Duration,
    /// How many clients the table stands for (`count`); 1 for a server.
    count: u32,
    count_span: Option<Range<usize>>,
    pub(super) after: Vec<Spanned<String>>,
    delay: Duration,
    timeout: Option<Duration>,
    args: Vec<String>,
    is_server: bool,
    pub(super) span: Range<usize>,
}

impl Walk {
    /// Reads every `[[server]]` or `[[client]]` table.
    pub(super) fn drafts(&mut self, root: &DeTable<'_>, key: &str, is_server: bool) -> Vec<Draft> {
        let (keys, required): (&[&str], &[&str]) = if is_server {
            (SERVER_KEYS, &["protocol", "id", "port"])
        } else {
            (CLIENT_KEYS, &["id"])
        };
        let mut drafts = Vec::new();
        for (table, span) in self.tables(root, key, keys, required) {
            let Some(draft) = self.draft(table, span, is_server) else {
                continue;
            };
            // However they are written, with `count` or one table each, a scenario has at
            // most MAX_CLIENT_COUNT clients; the table that goes over says so, once.
            let total = drafts.len() + draft.count as usize;
            if total > MAX_CLIENT_COUNT as usize {
                if drafts.len() > MAX_CLIENT_COUNT as usize {
                    continue;
                }
                let span = draft.count_span.clone().unwrap_or(draft.span.clone());
                self.errors.push(
                    Diagnostic::new(
                        span,
                        format!(
                            "with this table the scenario has {total} clients, more than the {MAX_CLIENT_COUNT} it may have"
                        ),
                    )
                    .help("lower `count`, or write fewer clients"),
                );
                // Counted once, so that later tables do not each say it again.
                drafts.push(draft);
                continue;
            }
            if draft.count == 1 {
                drafts.push(draft);
                continue;
            }
            // `count = N` stands for N tables written one after another, each with a
            // number after its role (when the file names it) and after its id.
            for n in 1..=draft.count {
                let mut copy = draft.clone();
                if copy.role_given {
                    *copy.role.get_mut() = format!("{}{n}", draft.role.get_ref());
                }
                copy.id = format!("{}{n}", draft.id);
                copy.count = 1;
                drafts.push(copy);
            }
        }
        drafts
    }

    fn draft(&mut self, t: &DeTable<'_>, span: Range<usize>, is_server: bool) -> Option<Draft> {
        let role = self.string(t, "role");
        if let Some(role) = &role {
            self.check_role_name(role);
        }
        let id = self.string(t, "id");
        if let Some(id) = &id {
            self.check_id(id);
        }
        let protocol = self.protocol(t);
        let port = self.port(t);
        let exchanges = self.exchanges(t);
        let template = self.args(t, if is_server { SERVER_ARGS } else { CLIENT_ARGS });
        let after = self.after(t);
        let delay = self.duration(t, "start-delay").unwrap_or_default();
        let timeout = self.duration(t, "timeout");
        if timeout.is_some_and(|d| d.is_zero()) {
            self.at(t, "timeout", "an actor's timeout must be more than zero");
        }
        let (mut reply_delay, mut close_delay, mut pause) =
            (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        let (mut concurrency, mut count) = (Concurrency::default(), 1);
        let (mut server_ref, mut host) = (None, String::from("127.0.0.1"));
        if is_server {
            reply_delay = self
                .duration(t, "reply-delay")
                .unwrap_or(DEFAULT_REPLY_DELAY);
            close_delay = self.duration(t, "close-delay").unwrap_or_default();
            concurrency = self.concurrency(t).unwrap_or_default();
        } else {
            pause = self.duration(t, "pause").unwrap_or_default();
            count = self.count(t).unwrap_or(1);
            server_ref = self.string(t, "server");
            if let Some(h) = self.string(t, "host") {
                if h.get_ref().trim().is_empty() || h.get_ref().chars().any(char::is_whitespace) {
                    self.errors.push(Diagnostic::new(
                        h.span(),
                        "the host must be a name or an address without spaces",
                    ));
                }
                host = h.into_inner();
            }
        }
        let default_role = if is_server { "server" } else { "client" };
        Some(Draft {
            role_given: role.is_some(),
            role: role.unwrap_or_else(|| Spanned::new(span.clone(), default_role.to_string())),
            id: id.map(Spanned::into_inner).unwrap_or_default(),
            protocol,
            server_ref,
            host,
            port,
            exchanges: exchanges.unwrap_or(DEFAULT_EXCHANGES),
            reply_delay,
            close_delay,
            concurrency,
            pause,
            count,
            count_span: t.get("count").map(Spanned::span),
            after,
            delay,
            timeout,
            args: template?,
            is_server,
            span,
        })
    }

    /// Roles not written in the file: `server`/`client` when alone, numbered when several
    /// (by position among the servers or the clients, named or not).
    pub(super) fn default_roles(&mut self, drafts: &mut [Draft]) {
        for is_server in [true, false] {
            let total = drafts.iter().filter(|d| d.is_server == is_server).count();
            if total < 2 {
                continue;
            }
            let base = if is_server { "server" } else { "client" };
            let mut n = 0;
            for draft in drafts.iter_mut().filter(|d| d.is_server == is_server) {
                n += 1;
                if !draft.role_given {
                    *draft.role.get_mut() = format!("{base}{n}");
                }
            }
        }
    }

    pub(super) fn resolve(
        &mut self,
        name: String,
        path: &Path,
        drafts: Vec<Draft>,
        limits: Limits,
    ) -> Option<Plan> {
        let timeout = limits.timeout;
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (i, draft) in drafts.iter().enumerate() {
            if index.contains_key(draft.role.get_ref().as_str()) {
                self.errors.push(
                    Diagnostic::new(
                        draft.role.span(),
                        format!("duplicate role `{}`", draft.role.get_ref()),
                    )
                    .help("give each actor its own `role`, such as `client1` and `client2`"),
                );
            } else {
                index.insert(draft.role.get_ref(), i);
            }
        }
        let roles: Vec<&str> = drafts.iter().map(|d| d.role.get_ref().as_str()).collect();
        let servers: Vec<usize> = (0..drafts.len()).filter(|&i| drafts[i].is_server).collect();

        let mut actors = Vec::with_capacity(drafts.len());
        for draft in &drafts {
            let mut after = Vec::new();
            let kind = if draft.is_server {
                ActorKind::Server {
                    port: draft.port.unwrap_or(0),
                    exchanges: draft.exchanges,
                    reply_delay: draft.reply_delay,
                    close_delay: draft.close_delay,
                    concurrency: draft.concurrency,
                }
            } else {
                let server = match &draft.server_ref {
                    Some(r) => match index.get(r.get_ref().as_str()) {
                        Some(&i) if drafts[i].is_server => Ok(Some(i)),
                        Some(_) => {
                            self.errors.push(Diagnostic::new(
                                r.span(),
                                format!("`{}` is a client, not a server", r.get_ref()),
                            ));
                            Err(())
                        }
                        None => {
                            let server_roles: Vec<&str> =
                                servers.iter().map(|&i| roles[i]).collect();
                            self.errors.push(unknown(r, "server", &server_roles));
                            Err(())
                        }
                    },
                    None if servers.len() == 1 => Ok(Some(servers[0])),
                    // A client may talk to a port where nobody serves (and learn why clients
                    // need timeouts); it then says which protocol and port.
                    None if servers.is_empty()
                        && draft.port.is_some()
                        && draft.protocol.is_some() =>
                    {
                        Ok(None)
                    }
                    None if servers.is_empty() => {
                        self.errors.push(
                            Diagnostic::new(
                                draft.span.clone(),
                                "this client has no server to talk to",
                            )
                            .help("add a `[[server]]` table, or give the client a `protocol` and a `port`"),
                        );
                        Err(())
                    }
                    None => {
                        self.errors.push(
                            Diagnostic::new(
                                draft.span.clone(),
                                "this client must say which server it talks to",
                            )
                            .help(format!("add `server = \"{}\"`", roles[servers[0]])),
                        );
                        Err(())
                    }
                };
                let Ok(server) = server else {
                    return None;
                };
                let server_port = server.and_then(|i| drafts[i].port);
                if let Some(server) = server {
                    after.push(Milestone {
                        actor: server,
                        what: MilestoneKind::Ready,
                    });
                    let server_draft = &drafts[server];
                    if let (Some(p), Some(sp)) = (draft.protocol, server_draft.protocol)
                        && p != sp
                    {
                        self.errors.push(Diagnostic::new(
                            draft.span.clone(),
                            format!(
                                "this {} client talks to `{}`, a {} server",
                                p.name(),
                                server_draft.role.get_ref(),
                                sp.name()
                            ),
                        ));
                    }
                }
                ActorKind::Client {
                    server,
                    host: draft.host.clone(),
                    port: draft.port.or(server_port).unwrap_or(0),
                    exchanges: draft.exchanges,
                    pause: draft.pause,
                }
            };
            for reference in &draft.after {
                if let Some(milestone) = self.milestone(reference, &index, &roles) {
                    if milestone.actor == actors.len() {
                        self.errors.push(Diagnostic::new(
                            reference.span(),
                            "an actor cannot wait for itself",
                        ));
                    } else if !after.contains(&milestone) {
                        after.push(milestone);
                    }
                }
            }
            let protocol = match (&kind, draft.protocol) {
                (_, Some(p)) => p,
                (ActorKind::Client { server, .. }, None) => server
                    .and_then(|i| drafts[i].protocol)
                    .unwrap_or(Protocol::Udp),
                (ActorKind::Server { .. } | ActorKind::Resolver { .. }, None) => Protocol::Udp,
            };
            actors.push(ActorPlan {
                role: draft.role.get_ref().clone(),
                id: draft.id.clone(),
                protocol,
                kind,
                start: StartRule {
                    after,
                    delay: draft.delay,
                },
                timeout: draft.timeout.unwrap_or(if draft.is_server {
                    timeout
                } else {
                    DEFAULT_CLIENT_TIMEOUT.min(timeout)
                }),
                args: draft.args.clone(),
            });
        }
        if actors.len() == drafts.len() {
            self.check_cycles(&actors, &drafts);
        }
        if !self.errors.is_empty() {
            return None;
        }
        Some(Plan {
            name,
            path: path.to_owned(),
            actors,
            timeout,
            stop_grace: limits.stop_grace,
            ready_timeout: limits.ready_timeout,
            checkpoints: Vec::new(),
            hosts: None,
            checks: Vec::new(),
        })
    }

    fn protocol(&mut self, t: &DeTable<'_>) -> Option<Protocol> {
        let p = self.string(t, "protocol")?;
        match p.get_ref().to_ascii_lowercase().as_str() {
            "udp" => Some(Protocol::Udp),
            "tcp" => Some(Protocol::Tcp),
            _ => {
                self.errors.push(unknown(&p, "protocol", &["udp", "tcp"]));
                None
            }
        }
    }

    fn port(&mut self, t: &DeTable<'_>) -> Option<u16> {
        let p = self.integer(t, "port")?;
        match u16::try_from(*p.get_ref()) {
            Ok(0) => {
                self.errors.push(
                    Diagnostic::new(
                        p.span(),
                        "port 0 lets the system choose a port, so nobody would know where to send",
                    )
                    .help("use a fixed port between 1024 and 65535, such as 4000"),
                );
                None
            }
            Ok(port) => Some(port),
            Err(_) => {
                self.errors.push(
                    Diagnostic::new(p.span(), format!("port {} is out of range", p.get_ref()))
                        .help("ports go from 1 to 65535; the lab uses 4000"),
                );
                None
            }
        }
    }

    fn exchanges(&mut self, t: &DeTable<'_>) -> Option<u32> {
        self.positive(
            t,
            "exchanges",
            MAX_EXCHANGES,
            "labrun allows",
            ("the lab's programs make 3 exchanges", None),
        )
    }

    /// `concurrency = "iterative"` (the lab's server) or `"per-client"`.
    fn concurrency(&mut self, t: &DeTable<'_>) -> Option<Concurrency> {
        let c = self.string(t, "concurrency")?;
        let found = Concurrency::from_name(c.get_ref());
        if found.is_none() {
            self.errors
                .push(unknown(&c, "concurrency", &Concurrency::NAMES));
        }
        found
    }

    /// `count = N`: one `[[client]]` table for N clients.
    fn count(&mut self, t: &DeTable<'_>) -> Option<u32> {
        self.positive(
            t,
            "count",
            MAX_CLIENT_COUNT,
            "clients a scenario may have",
            (
                "`count = 3` stands for three [[client]] tables like this one",
                Some(format!("use a `count` between 1 and {MAX_CLIENT_COUNT}")),
            ),
        )
    }

    pub(super) fn args(&mut self, t: &DeTable<'_>, default: &str) -> Option<Vec<String>> {
        let Some(text) = self.string(t, "args") else {
            return Some(default.split_whitespace().map(String::from).collect());
        };
        let mut rest = text.get_ref().as_str();
        let mut ok = true;
        while let Some(open) = rest.find('{') {
            let close = rest[open..].find('}').map(|c| open + c + 1);
            let piece = &rest[open..close.unwrap_or(rest.len())];
            if !PLACEHOLDERS.contains(&piece) {
                self.errors.push(
                    Diagnostic::new(
                        text.span(),
                        format!("unknown placeholder `{piece}` in `args`"),
                    )
                    .help(format!(
                        "the placeholders are {}",
                        quoted_list(PLACEHOLDERS)
                    )),
                );
                ok = false;
            }
            rest = &rest[close.unwrap_or(rest.len())..];
        }
        ok.then(|| {
            text.get_ref()
                .split_whitespace()
                .map(String::from)
                .collect()
        })
    }

    pub(super) fn check_role_name(&mut self, role: &Spanned<String>) {
        let name = role.get_ref();
        let valid = !name.is_empty()
            && name.len() <= 32
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            self.errors.push(
                Diagnostic::new(role.span(), format!("`{name}` is not a usable role name"))
                    .help("use up to 32 letters, digits, `-` or `_`, such as `client1`"),
            );
        }
    }

    fn check_id(&mut self, id: &Spanned<String>) {
        let text = id.get_ref();
        if text.is_empty()
            || text.len() > 64
            || text.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            self.errors.push(
                Diagnostic::new(id.span(), format!("`{text}` is not a usable id"))
                    .help("an id is a short word without spaces, such as \"A\""),
            );
        }
    }
}
