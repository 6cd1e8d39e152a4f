//! The run record: the plain data that passes between the stages, at the bottom of the
//! module graph. Every stage may use it; it uses none of them.
//!
//! - [`RunRecord`]: everything a run produced, from the engine to the transcript;
//! - [`Event`] and [`EventKind`]: what the actors did, as they report it, and
//!   [`Unstarted`]: why one never started, as the engine decided it;
//! - [`Packet`], [`NotKept`]: what the capture on the run's loopback saw;
//! - [`SocketEntry`], [`Sample`]: rows of the kernel's socket tables, and a table taken at
//!   a checkpoint;
//! - [`Protocol`]: the transport an actor speaks; [`Flags`] and [`State`]: TCP's flags and
//!   socket states;
//! - [`Kind`] and [`Data`]: what a line of a transcript is and says beside its text (a
//!   [`PacketLine`], a [`SocketRow`], what is [`Ready`], why an actor never started), for
//!   the diagrams, checks and reports that read transcripts;
//! - `cstr`: messages as C programs see them, and how a payload reads in a transcript;
//! - `scaled`: a declared delay at the run's time scale; `seconds`: scenario time, in
//!   tenths of a second, as transcripts, diagrams and checks write it; `duration_text`: a
//!   duration as scenario files write it;
//! - `replace_numbers`: whole numbers in a program's text replaced (ports put back).

pub(crate) mod cstr;
mod event;
mod line;
mod tcp;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

pub(crate) use event::{Event, EventKind, Found, Outcome, Stream, Unstarted};
pub(crate) use line::{Data, Endpoint, Kind, PacketLine, Ready, Segment, SocketRow, StateChange};
pub(crate) use tcp::{Flags, State};

#[cfg(test)]
pub(crate) use line::fixtures;

/// Which transport an actor speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Datagrams (`SOCK_DGRAM`).
    Udp,
    /// A byte stream (`SOCK_STREAM`).
    Tcp,
}

impl Protocol {
    /// The lowercase name used in files and transcripts.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Udp => "udp",
            Protocol::Tcp => "tcp",
        }
    }
}

/// Everything a run produced.
#[derive(Clone, Debug)]
pub(crate) struct RunRecord {
    pub events: Vec<Event>,
    /// Wall-clock duration of the run.
    pub elapsed: Duration,
    /// Whether the whole-run timeout fired.
    pub timed_out: bool,
    /// The signal (SIGINT, SIGTERM) that stopped the run before its end.
    pub interrupted: Option<i32>,
    /// Packets captured on `lo`, in capture order.
    pub packets: Vec<Packet>,
    /// Why there is no capture, when one was asked for and could not be made.
    pub capture_error: Option<String>,
    /// What the capture saw past its budget and did not keep (a program flooding `lo`).
    pub not_kept: NotKept,
    /// The socket tables taken at the plan's checkpoints.
    pub checkpoints: Vec<Sample>,
}

/// The run's socket table at one checkpoint.
#[derive(Clone, Debug)]
pub(crate) struct Sample {
    /// Index of the checkpoint in the plan.
    pub checkpoint: usize,
    /// The event that triggered it (`after` checkpoints).
    pub trigger: Option<usize>,
    pub sockets: Vec<SocketEntry>,
}

/// What the engine shows its caller while the run goes on.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Seen<'a> {
    /// An event, as it is recorded.
    Event(&'a Event),
    /// A packet the capture kept, as it arrives (not in time order: the record sorts them).
    Packet(&'a Packet),
}

/// What the capture saw but did not keep, once over its budget (`KEEP_PACKETS`,
/// `KEEP_BYTES` in `observe::capture`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct NotKept {
    pub packets: u64,
    pub bytes: u64,
}

/// One captured packet, Ethernet header included.
#[derive(Clone, Debug)]
pub(crate) struct Packet {
    /// When it was read, since the run started, for ordering against events.
    pub at: Duration,
    /// When it was read, for the pcap file.
    pub time: SystemTime,
    pub data: Vec<u8>,
}

/// TCP states as the kernel numbers them in `/proc/net/tcp`.
pub(crate) const TCP_ESTABLISHED: u8 = 0x01;
pub(crate) const TCP_LISTEN: u8 = 0x0A;

/// One row of a socket table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SocketEntry {
    pub protocol: Protocol,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// The state as numbered in `/proc/net/tcp`.
    pub state: u8,
    /// Bytes waiting to be sent, and to be read (for a listening socket: 0, and the
    /// connections waiting to be accepted), as `/proc/net/tcp` gives them.
    pub send_queue: u64,
    pub recv_queue: u64,
    pub inode: u64,
}

/// Scales a declared delay by the run's time scale.
pub(crate) fn scaled(declared: Duration, scale: f64) -> Duration {
    if scale <= 0.0 || declared.is_zero() {
        Duration::ZERO
    } else {
        declared.mul_f64(scale)
    }
}

/// A duration the way scenario files write it (`2s`, `500ms`, `1.5s`), for messages and
/// transcripts.
pub(crate) fn duration_text(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else if ms < 1000 {
        format!("{ms}ms")
    } else {
        let seconds = format!("{:.3}", duration.as_secs_f64());
        format!("{}s", seconds.trim_end_matches('0'))
    }
}

/// Seconds and tenths, `4.0`: a time in tenths of a second as labrun writes it.
pub(crate) fn seconds(tenths: u64) -> String {
    format!("{}.{}", tenths / 10, tenths % 10)
}

/// `text` with each whole number (a run of ASCII digits) that `with` has a replacement
/// for replaced: ports in what programs print.
pub(crate) fn replace_numbers(text: &str, with: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        match with(digits) {
            Some(replacement) => out.push_str(&replacement),
            None => out.push_str(digits),
        }
        digits.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            if !digits.is_empty() {
                flush(&mut digits, &mut out);
            }
            out.push(c);
        }
    }
    if !digits.is_empty() {
        flush(&mut digits, &mut out);
    }
    out
}
