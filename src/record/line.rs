//! What a line of a transcript says, as data beside its text: its kind, and, for a packet,
//! a `netstat` row or a server's readiness, what the line is written from. The transcript
//! writes the text from these values; diagrams, checks and reports read the values, never
//! the text, which is for people and snapshots.

use std::fmt;
use std::net::SocketAddr;

use serde::Serialize;

use super::{Flags, Protocol, SocketEntry, State, Unstarted, cstr};

/// What a line of a transcript is: its `kind` column, and its `kind` in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    /// An actor started; the text is its arguments.
    Start,
    /// A server listens (TCP) or is bound (UDP).
    Ready,
    /// A line the actor printed on its standard output.
    Out,
    /// A line the actor printed on its standard error.
    Err,
    /// A message a reference actor sent, or received from an external program.
    Msg,
    /// labrun's remark about an actor (its output went over the cap).
    Note,
    /// An actor that never started, and why.
    Skip,
    /// An actor ended, and how.
    Exit,
    /// The heading of a checkpoint's socket table.
    Table,
    /// A row of a checkpoint's socket table.
    Sock,
    /// A packet the capture saw.
    Pkt,
    /// A conversation's packet counts, or what the capture did not keep.
    Count,
}

impl Kind {
    /// The name in the `kind` column.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Start => "start",
            Kind::Ready => "ready",
            Kind::Out => "out",
            Kind::Err => "err",
            Kind::Msg => "msg",
            Kind::Note => "note",
            Kind::Skip => "skip",
            Kind::Exit => "exit",
            Kind::Table => "table",
            Kind::Sock => "sock",
            Kind::Pkt => "pkt",
            Kind::Count => "count",
        }
    }
}

impl fmt::Display for Kind {
    /// The name, padded as the format asks (`{:<5}`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// What a line says beyond its text, for the kinds whose text is written from values.
/// (A message's content and an exit's outcome are the entry's `message` and `outcome`;
/// what a program printed is its text, as printed.)
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Data {
    #[default]
    None,
    /// A `ready` line: what is ready.
    Ready(Ready),
    /// A `pkt` line: the packet.
    Packet(PacketLine),
    /// A `sock` line: the socket table's row.
    Socket(SocketRow),
    /// A `skip` line: why the actor never started.
    NotStarted(Unstarted),
}

/// What a server's `ready` line says is ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ready {
    /// A TCP socket listening for connections.
    Listening { local: SocketAddr },
    /// A UDP socket bound to its port.
    Bound { local: SocketAddr },
}

impl Ready {
    /// What a server speaking `protocol` is, once ready on `local`.
    pub(crate) fn new(protocol: Protocol, local: SocketAddr) -> Self {
        match protocol {
            Protocol::Tcp => Ready::Listening { local },
            Protocol::Udp => Ready::Bound { local },
        }
    }
}

impl fmt::Display for Ready {
    /// `tcp 0.0.0.0:4000 listening`, `udp 0.0.0.0:4000 bound`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ready::Listening { local } => write!(f, "tcp {local} listening"),
            Ready::Bound { local } => write!(f, "udp {local} bound"),
        }
    }
}

/// One end of a packet's conversation, as a transcript names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub address: SocketAddr,
    /// The address as the transcript writes it, an ephemeral port hidden
    /// (`127.0.0.1:[client.port]`).
    pub shown: String,
    /// The role of the actor that owns it, when one does.
    pub role: Option<String>,
}

impl Endpoint {
    /// Its owner's role, or its address when nobody owns it.
    pub(crate) fn name(&self) -> &str {
        self.role.as_deref().unwrap_or(&self.shown)
    }
}

/// A captured packet, as its line in a transcript shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PacketLine {
    /// The conversation's transport (for an ICMP error, the datagram's: UDP).
    pub protocol: Protocol,
    pub from: Endpoint,
    pub to: Endpoint,
    pub segment: Segment,
    /// The data it carries.
    pub payload: Vec<u8>,
    /// The TCP states it changes, the sender's first.
    pub changes: Vec<StateChange>,
}

/// What a packet is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Segment {
    /// A TCP segment; `seq` and `ack` are relative to each end's initial sequence number
    /// (as Wireshark shows them), `ack` only when the ACK flag is set.
    Tcp {
        flags: Flags,
        seq: u32,
        ack: Option<u32>,
    },
    /// A UDP datagram.
    Datagram,
    /// ICMP port unreachable, from the kernel to the sender of a datagram (`to`) sent
    /// where nobody is.
    PortUnreachable { nobody: Endpoint },
}

/// A socket moved to a new TCP state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StateChange {
    /// The socket's local end.
    pub socket: Endpoint,
    pub state: State,
}

impl PacketLine {
    /// The TCP flags, for a TCP segment.
    pub(crate) fn flags(&self) -> Option<Flags> {
        match self.segment {
            Segment::Tcp { flags, .. } => Some(flags),
            _ => None,
        }
    }
}

impl fmt::Display for PacketLine {
    /// `tcp → server [PSH, ACK] seq=1 ack=1 len=8 "# B=000\0" (8 bytes)  · client
    /// ESTABLISHED`, `udp → server len=8 …`, `icmp → client port unreachable: nobody on udp
    /// 127.0.0.1:4001`: what a packet line of a transcript says.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let to = self.to.name();
        let len = self.payload.len();
        match &self.segment {
            Segment::Tcp { flags, seq, ack } => {
                write!(f, "tcp → {to} {} seq={seq}", flags.label())?;
                if let Some(ack) = ack {
                    write!(f, " ack={ack}")?;
                }
                write!(f, " len={len}")?;
            }
            Segment::Datagram => write!(f, "udp → {to} len={len}")?,
            Segment::PortUnreachable { nobody } => write!(
                f,
                "icmp → {to} port unreachable: nobody on udp {}",
                nobody.shown
            )?,
        }
        if !self.payload.is_empty() && !matches!(self.segment, Segment::PortUnreachable { .. }) {
            write!(f, " {}", cstr::display(&self.payload))?;
        }
        if !self.changes.is_empty() {
            let changes: Vec<String> = self
                .changes
                .iter()
                .map(|c| format!("{} {}", c.socket.name(), c.state.name()))
                .collect();
            write!(f, "  · {}", changes.join(", "))?;
        }
        Ok(())
    }
}

/// A row of a checkpoint's socket table, as a transcript lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SocketRow {
    pub socket: SocketEntry,
    /// The local and remote addresses as the transcript writes them: ephemeral ports
    /// hidden, `0.0.0.0:*` for no remote end.
    pub local: String,
    pub remote: String,
}

impl SocketRow {
    /// The state column: a TCP state by its `netstat` name (`?` for one labrun does not
    /// know), `ESTABLISHED` for a connected UDP socket, nothing for another.
    pub(crate) fn state(&self) -> &'static str {
        match self.socket.protocol {
            Protocol::Tcp => State::from_proc(self.socket.state).map_or("?", State::name),
            Protocol::Udp if self.socket.remote.port() != 0 => "ESTABLISHED",
            Protocol::Udp => "",
        }
    }
}

impl fmt::Display for SocketRow {
    /// `tcp  0  0  127.0.0.1:4000  127.0.0.1:[client.port]  CLOSE_WAIT`, as netstat lays it
    /// out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<4} {:>6} {:>6}  {:<24} {:<24} {}",
            self.socket.protocol.name(),
            self.socket.recv_queue,
            self.socket.send_queue,
            self.local,
            self.remote,
            self.state()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// JSON readers see the kinds they always saw.
    #[test]
    fn kinds_are_their_names_in_json_and_text() {
        for kind in [
            Kind::Start,
            Kind::Ready,
            Kind::Out,
            Kind::Err,
            Kind::Msg,
            Kind::Note,
            Kind::Skip,
            Kind::Exit,
            Kind::Table,
            Kind::Sock,
            Kind::Pkt,
            Kind::Count,
        ] {
            let json = serde_json::to_string(&kind).expect("serializes");
            assert_eq!(json, format!("\"{}\"", kind.name()));
            assert_eq!(format!("[{kind:<5}]").len(), 2 + kind.name().len().max(5));
        }
    }
}

/// Packets and endpoints for the tests of the stages that read transcripts.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// An endpoint called `name`: an address nobody owns when it reads as one, an actor's
    /// otherwise.
    pub(crate) fn endpoint(name: &str) -> Endpoint {
        match name.parse::<SocketAddr>() {
            Ok(address) => Endpoint {
                address,
                shown: name.into(),
                role: None,
            },
            Err(_) => Endpoint {
                address: SocketAddr::from(([127, 0, 0, 1], 0)),
                shown: "127.0.0.1:0".into(),
                role: Some(name.into()),
            },
        }
    }

    /// A TCP segment; `flags` names them (`"PSH ACK"`), `changes` are `(role, state)`.
    pub(crate) fn tcp(
        from: &str,
        to: &str,
        flags: &str,
        (seq, ack): (u32, Option<u32>),
        payload: &[u8],
        changes: &[(&str, State)],
    ) -> PacketLine {
        let has = |name: &str| flags.split_whitespace().any(|f| f == name);
        let flags = Flags {
            syn: has("SYN"),
            ack: has("ACK"),
            fin: has("FIN"),
            rst: has("RST"),
            psh: has("PSH"),
        };
        PacketLine {
            protocol: Protocol::Tcp,
            from: endpoint(from),
            to: endpoint(to),
            segment: Segment::Tcp { flags, seq, ack },
            payload: payload.to_vec(),
            changes: changes
                .iter()
                .map(|&(role, state)| StateChange {
                    socket: endpoint(role),
                    state,
                })
                .collect(),
        }
    }

    /// A UDP datagram.
    pub(crate) fn udp(from: &str, to: &str, payload: &[u8]) -> PacketLine {
        PacketLine {
            protocol: Protocol::Udp,
            from: endpoint(from),
            to: endpoint(to),
            segment: Segment::Datagram,
            payload: payload.to_vec(),
            changes: Vec::new(),
        }
    }
}
