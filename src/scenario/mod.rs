//! Scenario files: the TOML schema, its validation with positions, and the resolved [`Plan`].
//!
//! A scenario is read in two steps. The TOML is parsed into a tree that keeps the byte span
//! of every key and value; a single walk over that tree then checks keys, types and meaning
//! together, so that a file with several mistakes gets all of them reported at once, each
//! pointing at its line and column with a suggestion where one is obvious.
//!
//! The scenario also owns the language of its expectations: the tolerant `Pattern`s that
//! its checks are written in, compiled here to validate the file and by `check` to match.

mod diagnostic;
pub(crate) mod duration;
mod pattern;
mod schema;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use diagnostic::{Diagnostic, Diagnostics};
pub(crate) use pattern::Pattern;

use crate::record::Protocol;

/// A scenario, validated and resolved: every reference is an index, every default applied.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The scenario's name: the file stem unless the file says otherwise.
    pub name: String,
    /// The file it came from.
    pub path: PathBuf,
    /// Servers first, in file order, then clients, in file order.
    pub actors: Vec<ActorPlan>,
    /// Wall-clock limit for the whole run.
    pub timeout: Duration,
    /// How long an external server may go on after its clients are done, before it is stopped.
    pub stop_grace: Duration,
    /// How long a start may wait for another actor to become ready.
    pub ready_timeout: Duration,
    /// When to take the run's socket table, like `netstat -tuan`.
    pub checkpoints: Vec<Checkpoint>,
    /// The run's private `/etc/hosts`, when the scenario declares hosts.
    pub hosts: Option<Vec<Host>>,
    /// The rubric: checks that grade an external program in a role.
    pub checks: Vec<CheckPlan>,
}

impl Plan {
    /// About how long a run takes, from its declared delays: each client's exchanges,
    /// each a reply delay and a pause, plus its server's sleep before `close`. What
    /// `labrun grade` starts first (the longest), not a promise.
    pub fn expected_length(&self) -> Duration {
        self.actors
            .iter()
            .map(|actor| match actor.kind {
                ActorKind::Client {
                    server,
                    exchanges,
                    pause,
                    ..
                } => {
                    let (reply, close) =
                        match server.and_then(|s| self.actors.get(s)).map(|s| &s.kind) {
                            Some(ActorKind::Server {
                                reply_delay,
                                close_delay,
                                ..
                            }) => (*reply_delay, *close_delay),
                            _ => (Duration::ZERO, Duration::ZERO),
                        };
                    (reply + pause).saturating_mul(exchanges) + close
                }
                ActorKind::Server { .. } | ActorKind::Resolver { .. } => Duration::ZERO,
            })
            .fold(Duration::ZERO, Duration::saturating_add)
    }
}

/// One rubric check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckPlan {
    pub name: String,
    pub points: u32,
    /// The role whose program it grades: it runs when that role is played with `--with`.
    pub grades: String,
    /// Checks that must pass first; otherwise this one is skipped.
    pub requires: Vec<String>,
    /// A hint to show instead of the built-in one when it fails.
    pub hint: Option<String>,
    pub expect: Expect,
}

/// What a check expects of the transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The graded server listens (TCP) or is bound (UDP) on its port.
    Ready,
    /// The program did not stop at once with a usage error.
    Starts,
    /// The program was not killed by a signal it got by itself (a crash).
    NoCrash,
    /// The program exited by itself with this status.
    ExitStatus(i32),
    /// A server still serves once its clients are done (it did not exit by itself).
    StillServing,
    /// Exactly `count` messages from one role to another.
    Messages {
        from: String,
        to: String,
        count: u32,
    },
    /// Every message from one role to another matches a tolerant pattern; with `counter`,
    /// the pattern's `{n}` counts up by one from message to message.
    MessageText {
        from: String,
        to: String,
        pattern: String,
        counter: bool,
    },
    /// At least `count` lines printed by `role` match a tolerant pattern; with `from`, the
    /// first `count` messages `from` sent to `role` are each quoted, in order, by a line of
    /// its own among them (what was printed is what came, by value).
    Output {
        role: String,
        pattern: String,
        count: u32,
        from: Option<String>,
    },
    /// Consecutive messages from one role to another are at least `gap - tolerance` apart.
    Timing {
        from: String,
        to: String,
        gap: Duration,
        tolerance: Duration,
    },
    /// Every packet the role sends goes to an address some actor owns.
    NoStrayPackets,
    /// Every message from `from` to any actor matches a tolerant pattern, and the pattern's
    /// `{n}` counts up by one over all of them, in the order they were sent: one counter
    /// shared by all of `from`'s peers.
    SharedCounter { from: String, pattern: String },
    /// Every message from `from` goes to an actor with a question not yet answered: each
    /// reply goes back to whoever asked.
    RepliesToSender { from: String },
    /// For each query the `[[host]]` tables answer, the resolver printed what `show` says,
    /// by value, in any wording.
    Answers { show: Show },
    /// The graded server's connection stays in CLOSE_WAIT after its client closed at least
    /// `gap - tolerance` longer than the spacing of its replies (lab question 8: a sleep
    /// before `close()`).
    CloseWait { gap: Duration, tolerance: Duration },
}

/// What an `answers` check looks for in a resolver's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Show {
    /// The official name.
    Name,
    /// Every alias, each by value.
    Aliases,
    /// Every address, each by value.
    Addresses,
    /// As many addresses as the answer has, whatever their values.
    AddressCount,
}

/// A moment at which the run's socket table is taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// How the transcript names it: `after server:ready`, `at 7s`, `at end`.
    pub label: String,
    pub when: When,
}

/// When a checkpoint is taken, once the sockets have settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// Once an actor reaches a milestone, before anything else starts.
    After(Milestone),
    /// At a scenario time.
    At(Duration),
    /// When every actor has ended.
    End,
}

/// One role of the scenario.
#[derive(Clone, Debug)]
pub struct ActorPlan {
    /// `server`, `client`, `client1`…: the name used on the command line and in transcripts.
    pub role: String,
    /// The lab's `id` argument.
    pub id: String,
    pub protocol: Protocol,
    pub kind: ActorKind,
    /// When the actor starts.
    pub start: StartRule,
    /// Wall-clock limit for this actor; it is killed when it runs over.
    pub timeout: Duration,
    /// The argument template an external program in this role is called with.
    pub args: Vec<String>,
}

/// What an actor is, with the settings that only make sense for it.
#[derive(Clone, Debug)]
pub enum ActorKind {
    Server {
        port: u16,
        /// Exchanges per connection (TCP); a UDP server answers forever.
        exchanges: u32,
        /// The lab's `sleep(2)` after each reply.
        reply_delay: Duration,
        /// The optional sleep before `close` of lab question 8.
        close_delay: Duration,
        /// One client at a time (the lab's server), or each client in its own task.
        concurrency: Concurrency,
    },
    /// One lookup of exercise 1.1 (a `[[resolver]]` runs one actor per query, in turn).
    Resolver { lookup: Lookup, query: String },
    Client {
        /// Index of its server in [`Plan::actors`]; `None` for a client sent where nobody
        /// serves.
        server: Option<usize>,
        host: String,
        port: u16,
        exchanges: u32,
        /// Pause between receiving a reply and sending the next question.
        pause: Duration,
    },
}

impl ActorPlan {
    /// True for servers.
    pub fn is_server(&self) -> bool {
        matches!(self.kind, ActorKind::Server { .. })
    }

    /// The port this actor talks about: its own for a server, its server's for a client.
    pub fn port(&self) -> u16 {
        match self.kind {
            ActorKind::Server { port, .. } | ActorKind::Client { port, .. } => port,
            ActorKind::Resolver { .. } => 0,
        }
    }

    /// The argument template with `{id}`, `{host}` and `{port}` filled in.
    pub fn expand_args(&self, template: &[String]) -> Vec<String> {
        let (host, query) = match &self.kind {
            ActorKind::Client { host, .. } => (host.as_str(), ""),
            ActorKind::Server { .. } => ("0.0.0.0", ""),
            ActorKind::Resolver { query, .. } => ("", query.as_str()),
        };
        let port = self.port().to_string();
        template
            .iter()
            .map(|arg| {
                arg.replace("{id}", &self.id)
                    .replace("{host}", host)
                    .replace("{port}", &port)
                    .replace("{query}", query)
            })
            .collect()
    }
}

/// How a reference server serves several clients.
///
/// - `Iterative`, the lab's server: one client at a time. A TCP server serves a connection
///   to its end before it accepts the next; a UDP server answers datagrams in the order
///   they arrived, whoever sent them, and its `sleep(2)` after each reply delays everybody.
/// - `PerClient`, like a server that forks or spawns a thread per client: a TCP server
///   serves each accepted connection in its own task; a UDP server gives each client
///   address its own task, which answers that client's datagrams in order and sleeps after
///   each reply, so one client's sleep does not delay the others. The reply counter stays
///   one for the whole server, and replies are numbered in the order they are made. Among
///   clients that ask at the same scenario time that is the order in which their questions
///   reached the server: in practice the clients' order, the same run after run, but a
///   race all the same, as with a forking C server. Which client gets which number may
///   then differ between runs; how many replies there are, and that each number is given
///   once, do not. A TCP server also listens with a larger backlog (4096, not the lab's 5)
///   and a UDP server has a larger receive buffer, so that a thousand clients asking at
///   once are neither refused nor dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Concurrency {
    #[default]
    Iterative,
    PerClient,
}

impl Concurrency {
    pub(crate) const NAMES: [&'static str; 2] = ["iterative", "per-client"];

    /// The name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Concurrency::Iterative => "iterative",
            Concurrency::PerClient => "per-client",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "iterative" => Some(Self::Iterative),
            "per-client" => Some(Self::PerClient),
            _ => None,
        }
    }
}

/// Which of the lab's two resolution programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// `gethostbyname`: from a name (or a dotted address, echoed).
    Name,
    /// `gethostbyaddr`: from a dotted address.
    Address,
}

/// A host of the run's private `/etc/hosts`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    pub aliases: Vec<String>,
    pub addresses: Vec<std::net::IpAddr>,
}

/// The text of an `/etc/hosts` holding exactly `hosts`: one line per address, the aliases
/// on the first (the C library gathers every line of a name when `multi on`).
pub fn hosts_file(hosts: &[Host]) -> String {
    let mut text = String::from("# labrun: this run's private /etc/hosts\n");
    for host in hosts {
        for (i, address) in host.addresses.iter().enumerate() {
            text.push_str(&format!("{address}\t{}", host.name));
            if i == 0 {
                for alias in &host.aliases {
                    text.push(' ');
                    text.push_str(alias);
                }
            }
            text.push('\n');
        }
    }
    text
}

/// When an actor may start: after every milestone in `after`, plus `delay` (scenario time).
#[derive(Clone, Debug, Default)]
pub struct StartRule {
    pub after: Vec<Milestone>,
    pub delay: Duration,
}

/// A point in another actor's life that a start waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Milestone {
    pub actor: usize,
    pub what: MilestoneKind,
}

/// The points a start condition can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MilestoneKind {
    /// The actor's process or task has started.
    Started,
    /// A server is listening (TCP) or bound (UDP); a client is connected (TCP) or has sent
    /// its first datagram (UDP).
    Ready,
    /// The actor has ended, however it ended.
    Exited,
}

impl MilestoneKind {
    pub(crate) const NAMES: [&'static str; 3] = ["started", "ready", "exited"];

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "started" => Some(Self::Started),
            "ready" => Some(Self::Ready),
            "exited" => Some(Self::Exited),
            _ => None,
        }
    }
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("scenario {path} is not UTF-8 text (first bad byte at offset {offset})")]
    NotUtf8 { path: PathBuf, offset: usize },
    #[error("scenario {path} is {size} bytes, more than the {limit} bytes a scenario may have")]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    /// A pipe or device that goes on past the limit (`/dev/zero`), whose size is unknown.
    #[error("scenario {path} goes on past the {limit} bytes a scenario may have")]
    TooLong { path: PathBuf, limit: u64 },
    #[error("{0}")]
    Invalid(Diagnostics),
}

/// The largest scenario file labrun reads: far above any real one, low enough to parse quickly.
pub const MAX_SCENARIO_BYTES: u64 = 1 << 20;

/// Reads, parses and validates a scenario file.
pub fn load(path: &Path) -> Result<Plan, ScenarioError> {
    let read_error = |source| ScenarioError::Read {
        path: path.to_owned(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read_error)?.len();
    if size > MAX_SCENARIO_BYTES {
        return Err(ScenarioError::TooLarge {
            path: path.to_owned(),
            size,
            limit: MAX_SCENARIO_BYTES,
        });
    }
    let bytes = read_bounded(path).map_err(read_error)?;
    if bytes.len() as u64 > MAX_SCENARIO_BYTES {
        return Err(ScenarioError::TooLong {
            path: path.to_owned(),
            limit: MAX_SCENARIO_BYTES,
        });
    }
    let text = String::from_utf8(bytes).map_err(|e| ScenarioError::NotUtf8 {
        path: path.to_owned(),
        offset: e.utf8_error().valid_up_to(),
    })?;
    parse(path, &text).map_err(ScenarioError::Invalid)
}

/// Reads at most one byte more than a scenario may have, whatever `path` is: a regular
/// file, a pipe (`<(…)`), a named pipe nobody writes to (end of file at once instead of
/// waiting at `open`), or an endless device like `/dev/zero`.
fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)?;
    // Open without waiting for a writer, then read blocking as usual.
    let flags = nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_GETFL)?;
    let mut flags = nix::fcntl::OFlag::from_bits_truncate(flags);
    flags.remove(nix::fcntl::OFlag::O_NONBLOCK);
    nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_SETFL(flags))?;
    let mut bytes = Vec::new();
    file.take(MAX_SCENARIO_BYTES + 1).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Parses and validates scenario text; `path` names it in messages and gives the default name.
pub fn parse(path: &Path, text: &str) -> Result<Plan, Diagnostics> {
    schema::parse(path, text)
}
