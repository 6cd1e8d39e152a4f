//! The event stream of a run: what the engine records, before any normalisation.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

use super::{Protocol, duration_text};

/// One thing that happened during a run.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Event {
    /// Arrival order at the engine, from 0.
    pub seq: usize,
    /// Wall-clock time since the run started.
    pub at: Duration,
    /// Index of the actor in the plan.
    pub actor: usize,
    /// Which of the actor's lanes: 0, but for a per-client server, which serves each client
    /// in a lane of its own, numbered from 1 (its events follow one another like those of a
    /// program of their own).
    #[serde(skip_serializing_if = "is_zero")]
    pub lane: u32,
    pub kind: EventKind,
}

fn is_zero(lane: &u32) -> bool {
    *lane == 0
}

/// What happened.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub(crate) enum EventKind {
    /// The actor started, after the events `after` (by `seq`) and its declared start delay.
    Started {
        args: Vec<String>,
        /// Whether an external program plays the role (rather than labrun's reference).
        external: bool,
        after: Vec<usize>,
        delay: Duration,
    },
    /// A server listens (TCP) or is bound (UDP); a client is connected or has sent.
    Ready {
        protocol: Protocol,
        local: SocketAddr,
        peer: Option<SocketAddr>,
    },
    /// A line the actor printed, without its newline.
    Line { stream: Stream, text: String },
    /// A reference actor sent a message (recorded just before the system call).
    Sent {
        protocol: Protocol,
        peer: SocketAddr,
        payload: Vec<u8>,
    },
    /// A reference actor received a message (recorded just after the system call).
    Received {
        protocol: Protocol,
        peer: SocketAddr,
        payload: Vec<u8>,
    },
    /// A reference actor waited for a declared delay (shown unscaled in scenario time).
    Slept { declared: Duration },
    /// A reference actor's delay is over.
    Woke,
    /// The actor owns this local port (learned from the kernel's socket tables).
    Port { protocol: Protocol, port: u16 },
    /// The actor's output went over its cap; `cut` bytes were dropped.
    OutputCut { cut: u64 },
    /// The actor never started.
    NotStarted { reason: Unstarted },
    /// The actor ended.
    Exited { outcome: Outcome },
}

/// Which output stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

/// How an actor ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "how", rename_all = "kebab-case")]
pub(crate) enum Outcome {
    /// It exited by itself with this status.
    Exited { code: i32 },
    /// It was killed by a signal it did not get from labrun.
    Signaled { signal: i32 },
    /// labrun stopped it because the scenario was over (servers).
    Stopped,
    /// It ran over its timeout and was killed.
    TimedOut { after: Duration },
    /// The whole run went over its timeout, and labrun killed it with everything else.
    RunTimedOut { after: Duration },
    /// labrun was interrupted (SIGINT, SIGTERM) and stopped it with everything else.
    Interrupted { signal: i32 },
    /// It could not be started at all.
    SpawnFailed { reason: String },
}

/// Why an actor never started, as the engine found it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "why", rename_all = "kebab-case")]
pub(crate) enum Unstarted {
    /// It was to start once `role` was ready, and `role` ended without being so.
    NeverReady { role: String },
    /// It was to start once `role` had started, and `role` never did.
    NeverStarted { role: String },
    /// It was to start once `role` had ended, and the run was over first.
    NeverEnded { role: String },
    /// It waited `waited` for `role` to be ready, in vain.
    NotReady {
        role: String,
        waited: Duration,
        /// `role`'s protocol and port: for a server, where nothing listened (or was bound).
        protocol: Protocol,
        port: u16,
        server: bool,
        /// Where `role`'s sockets were instead, when labrun could see them.
        found: Option<Found>,
    },
    /// The run timed out before its start.
    RunTimedOut,
    /// Its clients were done before it could start (a server).
    ClientsDone,
}

/// The port an actor that was not ready is on, instead of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "how", rename_all = "kebab-case")]
pub(crate) enum Found {
    /// Some other port.
    Elsewhere { found: u16 },
    /// Its own port with the two bytes swapped: the program forgot `htons()`.
    PortSwapped { found: u16 },
}

impl Found {
    /// How an actor's sockets on `found` read, for one that should be on `port`.
    pub(crate) fn new(port: u16, found: u16) -> Self {
        if found == port.swap_bytes() {
            Found::PortSwapped { found }
        } else {
            Found::Elsewhere { found }
        }
    }
}

impl fmt::Display for Unstarted {
    /// The reason as transcripts and the live view write it, after `not started: `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unstarted::NeverReady { role } => {
                write!(f, "`{role}` ended without ever becoming ready")
            }
            Unstarted::NeverStarted { role } => write!(f, "`{role}` never started"),
            Unstarted::NeverEnded { role } => write!(f, "`{role}` never ended"),
            Unstarted::NotReady {
                role,
                waited,
                protocol,
                port,
                server,
                found,
            } => {
                write!(f, "`{role}` was not ready after {}", duration_text(*waited))?;
                if *server {
                    let verb = match protocol {
                        Protocol::Tcp => "listening",
                        Protocol::Udp => "bound",
                    };
                    write!(f, ": nothing {verb} on {} port {port}", protocol.name())?;
                }
                match found {
                    Some(Found::Elsewhere { found }) => write!(f, "; it is on port {found}"),
                    Some(Found::PortSwapped { found }) => write!(
                        f,
                        "; it is on port {found}, which is {port} with its two bytes swapped: was htons() forgotten?"
                    ),
                    None => Ok(()),
                }
            }
            Unstarted::RunTimedOut => f.write_str("the run timed out before it started"),
            Unstarted::ClientsDone => f.write_str("its clients were done before it could start"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reasons read as the engine wrote them when they were text.
    #[test]
    fn reasons_read_as_they_did() {
        let not_ready = |server, found| Unstarted::NotReady {
            role: "server".into(),
            waited: Duration::from_secs(5),
            protocol: Protocol::Tcp,
            port: 4000,
            server,
            found,
        };
        let cases = [
            (
                not_ready(true, Some(Found::new(4000, 40975))),
                "`server` was not ready after 5s: nothing listening on tcp port 4000; it is on port 40975, which is 4000 with its two bytes swapped: was htons() forgotten?",
            ),
            (
                not_ready(true, Some(Found::new(4000, 4001))),
                "`server` was not ready after 5s: nothing listening on tcp port 4000; it is on port 4001",
            ),
            (not_ready(false, None), "`server` was not ready after 5s"),
            (
                Unstarted::NeverReady {
                    role: "server".into(),
                },
                "`server` ended without ever becoming ready",
            ),
            (
                Unstarted::RunTimedOut,
                "the run timed out before it started",
            ),
            (
                Unstarted::ClientsDone,
                "its clients were done before it could start",
            ),
        ];
        for (reason, text) in cases {
            assert_eq!(reason.to_string(), text);
        }
        assert_eq!(Found::new(4000, 40975), Found::PortSwapped { found: 40975 });
    }
}
