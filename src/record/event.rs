//! The event stream of a run: what the engine records, before any normalisation.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

use super::Protocol;

/// One thing that happened during a run.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
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
pub enum EventKind {
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
    NotStarted { reason: String },
    /// The actor ended.
    Exited { outcome: Outcome },
}

/// Which output stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// How an actor ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "how", rename_all = "kebab-case")]
pub enum Outcome {
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
