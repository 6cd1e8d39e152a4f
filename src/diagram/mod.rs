//! Sequence diagrams of a run, drawn from its transcript: one lifeline per role, the
//! packets (or, when nothing was captured, the messages) as arrows with their flags and
//! text, TCP states written on the lifelines where they change, and the time that passes
//! between them.
//!
//! The model is built from the [`Transcript`], not from raw events, so a diagram is as
//! deterministic as the transcript it comes from. Three renderings of the one model: the
//! terminal ([`terminal`], Unicode lanes in 100 columns), Mermaid ([`mermaid`], for
//! Markdown) and SVG ([`svg`], for the HTML report).
//!
//! The model reads what the transcript's entries carry beside their text (the packets'
//! [`PacketLine`]s, the `netstat` rows, what a `ready` line says is ready), never the text
//! itself, which it only shows in notes. An entry without the data its kind should carry (a
//! transcript made by hand) becomes a plain arrow or note rather than an error.

mod mermaid;
mod svg;
mod terminal;

pub(crate) use mermaid::mermaid;
pub(crate) use svg::escape as escape_xml;
pub(crate) use svg::svg;
pub(crate) use terminal::terminal;

use std::collections::HashMap;

use crate::record::{Data, PacketLine, Protocol, Ready, Segment, State, cstr};
use crate::transcript::{Entry, Kind, Transcript};

/// A sequence diagram: lanes left to right, rows top to bottom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Diagram {
    pub scenario: String,
    pub lanes: Vec<Lane>,
    pub rows: Vec<Row>,
}

/// A lifeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Lane {
    pub name: String,
    /// A role of the scenario, with a process that starts and ends; otherwise a party only
    /// seen on the wire (the `kernel` answering with ICMP, an address nobody owns).
    pub actor: bool,
}

/// One row of a diagram, at a scenario time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Row {
    /// Scenario time in tenths of a second.
    pub tenths: u64,
    pub item: Item,
}

/// What a row shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Item {
    Arrow(Arrow),
    /// Socket states that change at this point, each on its lane.
    States(Vec<(usize, String)>),
    Note {
        lane: usize,
        kind: NoteKind,
        text: String,
    },
    /// Time passes: `tenths` since the previous row.
    Delay {
        tenths: u64,
    },
}

/// A packet or a message from one lane to another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Arrow {
    pub from: usize,
    pub to: usize,
    pub kind: ArrowKind,
    /// What kind of packet it is, for its colour.
    pub flavour: Flavour,
    /// What a reader needs first: TCP flags and the data carried.
    pub label: String,
    /// The rest: sequence numbers, lengths.
    pub detail: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArrowKind {
    /// A packet captured on the run's loopback.
    Packet,
    /// A message as a reference program saw it (runs without a capture).
    Message,
}

/// What kind of packet an arrow is, for its colour: the first that applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavour {
    /// An ICMP error.
    Icmp,
    /// A TCP segment with RST.
    Rst,
    /// With SYN.
    Syn,
    /// With FIN.
    Fin,
    /// Carrying data (a message is data).
    Data,
    Plain,
}

impl Flavour {
    fn of(packet: &PacketLine) -> Self {
        match (&packet.segment, packet.flags()) {
            (Segment::PortUnreachable { .. }, _) => Flavour::Icmp,
            (_, Some(flags)) if flags.rst => Flavour::Rst,
            (_, Some(flags)) if flags.syn => Flavour::Syn,
            (_, Some(flags)) if flags.fin => Flavour::Fin,
            _ if !packet.payload.is_empty() => Flavour::Data,
            _ => Flavour::Plain,
        }
    }

    /// Its name, as the SVG's `data-kind`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Flavour::Icmp => "icmp",
            Flavour::Rst => "rst",
            Flavour::Syn => "syn",
            Flavour::Fin => "fin",
            Flavour::Data => "data",
            Flavour::Plain => "plain",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoteKind {
    Start,
    Ready,
    Output,
    Error,
    Skip,
    Exit,
}

/// A socket's state as the run showed it, for the socket-state timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StateMark {
    pub tenths: u64,
    pub role: String,
    /// Which socket: `with server` for a packet's connection, `local → remote` for netstat.
    pub socket: String,
    pub state: String,
    /// `packet` (a state change a packet caused) or `netstat` (a checkpoint's table).
    pub seen: &'static str,
}

/// Whether a lane has a process at a point of the diagram: how its lifeline is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Life {
    /// Not started yet.
    Before,
    Alive,
    /// The process ended; its kernel may still answer (TIME_WAIT).
    Ended,
    /// A party seen only on the wire.
    Wire,
}

impl Life {
    /// Where every lane starts.
    pub(crate) fn at_start(lane: &Lane) -> Self {
        if lane.actor { Life::Before } else { Life::Wire }
    }

    /// What a note on a lane changes: a start makes it alive, an exit or a skip ends it.
    pub(crate) fn after(kind: NoteKind) -> Option<Self> {
        match kind {
            NoteKind::Start => Some(Life::Alive),
            NoteKind::Exit | NoteKind::Skip => Some(Life::Ended),
            NoteKind::Ready | NoteKind::Output | NoteKind::Error => None,
        }
    }
}

impl Diagram {
    /// The diagram of a transcript.
    pub(crate) fn new(transcript: &Transcript) -> Self {
        let mut lanes = Lanes::default();
        for entry in &transcript.entries {
            if matches!(entry.kind, Kind::Start | Kind::Skip) {
                lanes.index(&entry.role, true);
            }
        }
        let use_packets = !transcript.packets.is_empty();
        let has_arrows = use_packets || transcript.entries.iter().any(|e| e.kind == Kind::Msg);
        // (time, phase, item). The packets of a tenth (phase 1) go after what the actors did
        // in that tenth (phase 0), up to the first exit: that exit and what follows it are
        // phase 2. Otherwise the entries keep the transcript's order.
        let mut items: Vec<(u64, u8, Item)> = Vec::new();
        let mut sockets: HashMap<(String, String), String> = HashMap::new();
        let mut exited_at: Option<u64> = None;
        for entry in &transcript.entries {
            if entry.kind == Kind::Exit && exited_at.is_none_or(|t| t < entry.tenths) {
                exited_at = Some(entry.tenths);
            }
            let phase = if exited_at == Some(entry.tenths) {
                2
            } else {
                0
            };
            let note = |lanes: &mut Lanes, kind, text: String| Item::Note {
                lane: lanes.index(&entry.role, true),
                kind,
                text,
            };
            match entry.kind {
                Kind::Start => items.push((
                    entry.tenths,
                    phase,
                    note(&mut lanes, NoteKind::Start, format!("start {}", entry.text)),
                )),
                Kind::Ready => {
                    items.push((
                        entry.tenths,
                        phase,
                        note(&mut lanes, NoteKind::Ready, entry.text.clone()),
                    ));
                    if let Data::Ready(Ready::Listening { .. }) = entry.data {
                        let lane = lanes.index(&entry.role, true);
                        items.push((
                            entry.tenths,
                            phase,
                            Item::States(vec![(lane, State::Listen.name().into())]),
                        ));
                    }
                }
                Kind::Err => items.push((
                    entry.tenths,
                    phase,
                    note(&mut lanes, NoteKind::Error, entry.text.clone()),
                )),
                // Output lines repeat what the arrows show; they are the whole story only
                // when nothing went between the roles (the resolver).
                Kind::Out if !has_arrows => items.push((
                    entry.tenths,
                    phase,
                    note(&mut lanes, NoteKind::Output, entry.text.clone()),
                )),
                Kind::Skip => items.push((
                    entry.tenths,
                    phase,
                    note(&mut lanes, NoteKind::Skip, entry.text.clone()),
                )),
                Kind::Exit => items.push((
                    entry.tenths,
                    phase,
                    note(&mut lanes, NoteKind::Exit, entry.text.clone()),
                )),
                Kind::Msg if !use_packets => {
                    let (to, label) = match &entry.message {
                        Some(m) => (m.to.as_str(), cstr::display(&m.payload)),
                        None => ("?", entry.text.clone()),
                    };
                    let arrow = Arrow {
                        from: lanes.index(&entry.role, false),
                        to: lanes.index(to, false),
                        kind: ArrowKind::Message,
                        flavour: Flavour::Data,
                        label,
                        detail: String::new(),
                    };
                    items.push((entry.tenths, phase, Item::Arrow(arrow)));
                }
                // Without packets, the checkpoints' tables are all there is of TCP states.
                Kind::Sock if !use_packets => {
                    if let Some((socket, state)) = tcp_socket(entry) {
                        let last = sockets.insert((entry.role.clone(), socket), state.clone());
                        if last.as_ref() != Some(&state) {
                            let lane = lanes.index(&entry.role, true);
                            items.push((entry.tenths, phase, Item::States(vec![(lane, state)])));
                        }
                    }
                }
                _ => {}
            }
        }
        for entry in &transcript.packets {
            let Some(packet) = entry.packet() else {
                // Not a packet (a transcript made by hand): a plain arrow to nobody.
                let arrow = Arrow {
                    from: lanes.index(&entry.role, false),
                    to: lanes.index("?", false),
                    kind: ArrowKind::Packet,
                    flavour: Flavour::Plain,
                    label: entry.text.clone(),
                    detail: String::new(),
                };
                items.push((entry.tenths, 1, Item::Arrow(arrow)));
                continue;
            };
            let (label, detail) = labels(packet);
            let arrow = Arrow {
                from: lanes.index(&entry.role, false),
                to: lanes.index(packet.to.name(), false),
                kind: ArrowKind::Packet,
                flavour: Flavour::of(packet),
                label,
                detail,
            };
            items.push((entry.tenths, 1, Item::Arrow(arrow)));
            let states: Vec<(usize, String)> = packet
                .changes
                .iter()
                .map(|c| (lanes.index(c.socket.name(), false), c.state.name().into()))
                .collect();
            if !states.is_empty() {
                items.push((entry.tenths, 1, Item::States(states)));
            }
        }
        // A stable sort keeps the transcript's order within a tenth and a phase.
        items.sort_by_key(|(tenths, class, _)| (*tenths, *class));
        let mut rows = Vec::with_capacity(items.len() + 8);
        let mut now = items.first().map_or(0, |(t, _, _)| *t);
        for (tenths, _, item) in items {
            if tenths > now {
                rows.push(Row {
                    tenths,
                    item: Item::Delay {
                        tenths: tenths - now,
                    },
                });
                now = tenths;
            }
            rows.push(Row { tenths, item });
        }
        Diagram {
            scenario: transcript.scenario.clone(),
            lanes: lanes.lanes,
            rows,
        }
    }

    /// How many arrows are packets.
    pub(crate) fn packet_arrows(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| matches!(&r.item, Item::Arrow(a) if a.kind == ArrowKind::Packet))
            .count()
    }
}

/// Every socket state the run showed, in time order: the changes packets caused and the
/// rows of the checkpoints' tables.
pub(crate) fn socket_states(transcript: &Transcript) -> Vec<StateMark> {
    let mut marks = Vec::new();
    for entry in &transcript.entries {
        if entry.kind == Kind::Sock
            && let Some((socket, state)) = tcp_socket(entry)
        {
            marks.push(StateMark {
                tenths: entry.tenths,
                role: entry.role.clone(),
                socket,
                state,
                seen: "netstat",
            });
        }
    }
    for entry in &transcript.packets {
        let Some(packet) = entry.packet() else {
            continue;
        };
        for change in &packet.changes {
            let role = change.socket.name();
            let peer = if role == entry.role {
                packet.to.name()
            } else {
                &entry.role
            };
            marks.push(StateMark {
                tenths: entry.tenths,
                socket: format!("with {peer}"),
                role: role.to_string(),
                state: change.state.name().into(),
                seen: "packet",
            });
        }
    }
    // Checkpoints first within a tenth: a table shows what was so before the packets of
    // the same tenth changed it.
    marks.sort_by_key(|m| (m.tenths, m.seen != "netstat"));
    marks
}

/// Lanes in order of first appearance, the scenario's roles before the other parties.
#[derive(Default)]
struct Lanes {
    lanes: Vec<Lane>,
}

impl Lanes {
    fn index(&mut self, name: &str, actor: bool) -> usize {
        match self.lanes.iter().position(|l| l.name == name) {
            Some(i) => {
                self.lanes[i].actor |= actor;
                i
            }
            None => {
                self.lanes.push(Lane {
                    name: name.to_string(),
                    actor,
                });
                self.lanes.len() - 1
            }
        }
    }
}

/// What an arrow says of a packet: first what a reader needs (TCP flags and the data
/// carried), then the rest (sequence numbers, lengths).
fn labels(packet: &PacketLine) -> (String, String) {
    let payload = (!packet.payload.is_empty()).then(|| cstr::display(&packet.payload));
    let len = packet.payload.len();
    match &packet.segment {
        Segment::Tcp { flags, seq, ack } => {
            let label = match payload {
                Some(payload) => format!("{} {payload}", flags.label()),
                None => flags.label(),
            };
            let detail = match ack {
                Some(ack) => format!("seq={seq} ack={ack} len={len}"),
                None => format!("seq={seq} len={len}"),
            };
            (label, detail)
        }
        Segment::Datagram => (
            payload.unwrap_or_else(|| "udp (empty)".into()),
            format!("udp len={len}"),
        ),
        Segment::PortUnreachable { nobody } => (
            "ICMP port unreachable".into(),
            format!("nobody on udp {}", nobody.shown),
        ),
    }
}

/// A `sock` line's socket (`local → remote`) and TCP state; `None` for UDP.
fn tcp_socket(entry: &Entry) -> Option<(String, String)> {
    match &entry.data {
        Data::Socket(row) if row.socket.protocol == Protocol::Tcp => Some((
            format!("{} → {}", row.local, row.remote),
            row.state().to_string(),
        )),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    use crate::record::fixtures::{tcp, udp};
    use crate::record::{Endpoint, SocketEntry, SocketRow};
    use crate::transcript::Message;
    use State::*;

    pub(crate) fn entry(tenths: u64, role: &str, kind: Kind, text: &str) -> Entry {
        Entry::new(tenths, role, kind, text)
    }

    /// A `sock` line of a TCP socket.
    fn sock(
        tenths: u64,
        role: &str,
        (local, shown): (&str, &str),
        remote: &str,
        state: u8,
    ) -> Entry {
        let socket = SocketEntry {
            protocol: Protocol::Tcp,
            local: local.parse().expect("an address"),
            remote: remote.replace('*', "0").parse().expect("an address"),
            state,
            send_queue: 0,
            recv_queue: 0,
            inode: 0,
        };
        let row = SocketRow {
            socket,
            local: shown.into(),
            remote: remote.into(),
        };
        Entry::for_socket(tenths, role, row)
    }

    /// The start of `tcp_sleep`, as its snapshot has it.
    pub(crate) fn tcp_sleep() -> Transcript {
        let data = b"# B=000\0";
        let ready = Entry {
            data: Data::Ready(Ready::Listening {
                local: "0.0.0.0:4000".parse().expect("an address"),
            }),
            ..entry(0, "server", Kind::Ready, "tcp 0.0.0.0:4000 listening")
        };
        let message = Entry {
            message: Some(Message::new("server".into(), data)),
            ..entry(0, "client", Kind::Msg, "→ server \"# B=000\\0\" (8 bytes)")
        };
        let client = ("127.0.0.1:40000", "127.0.0.1:[client.port]");
        let pkt = Entry::for_packet;
        Transcript {
            scenario: "tcp_sleep".into(),
            entries: vec![
                entry(0, "server", Kind::Start, "A 4000"),
                ready,
                entry(0, "netstat", Kind::Table, "after server:ready: 1 socket"),
                sock(
                    0,
                    "server",
                    ("0.0.0.0:4000", "0.0.0.0:4000"),
                    "0.0.0.0:*",
                    0x0A,
                ),
                entry(0, "client", Kind::Start, "B 127.0.0.1 4000"),
                entry(
                    0,
                    "client",
                    Kind::Out,
                    "client  B: envoie a (127.0.0.1,4000) : # B=000",
                ),
                message,
                entry(40, "client", Kind::Exit, "exited with status 0"),
                entry(
                    90,
                    "server",
                    Kind::Exit,
                    "stopped by labrun: its clients were done",
                ),
                sock(90, "client", client, "127.0.0.1:4000", 0x06),
            ],
            packets: vec![
                pkt(
                    0,
                    "client",
                    tcp(
                        "client",
                        "server",
                        "SYN",
                        (0, None),
                        b"",
                        &[("client", SynSent), ("server", SynRecv)],
                    ),
                ),
                pkt(
                    0,
                    "server",
                    tcp(
                        "server",
                        "client",
                        "SYN ACK",
                        (0, Some(1)),
                        b"",
                        &[("client", Established)],
                    ),
                ),
                pkt(
                    0,
                    "client",
                    tcp(
                        "client",
                        "server",
                        "ACK",
                        (1, Some(1)),
                        b"",
                        &[("server", Established)],
                    ),
                ),
                pkt(
                    0,
                    "client",
                    tcp("client", "server", "PSH ACK", (1, Some(1)), data, &[]),
                ),
                pkt(
                    40,
                    "client",
                    tcp(
                        "client",
                        "server",
                        "FIN ACK",
                        (25, Some(28)),
                        b"",
                        &[("client", FinWait1), ("server", CloseWait)],
                    ),
                ),
                pkt(
                    90,
                    "server",
                    tcp(
                        "server",
                        "client",
                        "FIN ACK",
                        (28, Some(26)),
                        b"",
                        &[("server", LastAck), ("client", TimeWait)],
                    ),
                ),
                pkt(
                    90,
                    "client",
                    tcp(
                        "client",
                        "server",
                        "ACK",
                        (26, Some(29)),
                        b"",
                        &[("server", Closed)],
                    ),
                ),
            ],
            counts: Vec::new(),
        }
    }

    /// The lines the data is written to are those of the snapshot.
    #[test]
    fn the_data_writes_the_lines_of_the_snapshot() {
        let transcript = tcp_sleep();
        let texts: Vec<&str> = transcript.packets.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "tcp → server [SYN] seq=0 len=0  · client SYN_SENT, server SYN_RECV",
                "tcp → client [SYN, ACK] seq=0 ack=1 len=0  · client ESTABLISHED",
                "tcp → server [ACK] seq=1 ack=1 len=0  · server ESTABLISHED",
                "tcp → server [PSH, ACK] seq=1 ack=1 len=8 \"# B=000\\0\" (8 bytes)",
                "tcp → server [FIN, ACK] seq=25 ack=28 len=0  · client FIN_WAIT1, server CLOSE_WAIT",
                "tcp → client [FIN, ACK] seq=28 ack=26 len=0  · server LAST_ACK, client TIME_WAIT",
                "tcp → server [ACK] seq=26 ack=29 len=0  · server CLOSED",
            ]
        );
        let rows: Vec<&str> = transcript
            .entries
            .iter()
            .filter(|e| e.kind == Kind::Sock)
            .map(|e| e.text.as_str())
            .collect();
        assert_eq!(
            rows,
            [
                "tcp       0      0  0.0.0.0:4000             0.0.0.0:*                LISTEN",
                "tcp       0      0  127.0.0.1:[client.port]  127.0.0.1:4000           TIME_WAIT",
            ]
        );
    }

    #[test]
    fn packets_become_arrows_with_their_flags_and_states() {
        let diagram = Diagram::new(&tcp_sleep());
        let names: Vec<&str> = diagram.lanes.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["server", "client"]);
        assert_eq!(diagram.packet_arrows(), 7);
        let first = diagram
            .rows
            .iter()
            .find_map(|r| match &r.item {
                Item::Arrow(a) => Some(a),
                _ => None,
            })
            .unwrap();
        assert_eq!((first.from, first.to), (1, 0));
        assert_eq!(first.label, "[SYN]");
        assert_eq!(first.detail, "seq=0 len=0");
        assert!(
            diagram
                .rows
                .iter()
                .any(|r| r.item
                    == Item::States(vec![(1, "SYN_SENT".into()), (0, "SYN_RECV".into())]))
        );
        let data = diagram
            .rows
            .iter()
            .find_map(|r| match &r.item {
                Item::Arrow(a) if a.label.contains('#') => Some(a),
                _ => None,
            })
            .unwrap();
        assert_eq!(data.label, "[PSH, ACK] \"# B=000\\0\" (8 bytes)");
        assert_eq!(data.detail, "seq=1 ack=1 len=8");
    }

    #[test]
    fn delays_are_rows_and_exits_follow_the_packets_of_their_tenth() {
        let diagram = Diagram::new(&tcp_sleep());
        let delays: Vec<u64> = diagram
            .rows
            .iter()
            .filter_map(|r| match r.item {
                Item::Delay { tenths } => Some(tenths),
                _ => None,
            })
            .collect();
        assert_eq!(delays, [40, 50]);
        let at_4: Vec<&Item> = diagram
            .rows
            .iter()
            .filter(|r| r.tenths == 40)
            .map(|r| &r.item)
            .collect();
        assert!(matches!(
            at_4.last(),
            Some(Item::Note {
                kind: NoteKind::Exit,
                ..
            })
        ));
    }

    #[test]
    fn a_role_run_twice_keeps_its_starts_and_exits_in_order() {
        let transcript = Transcript {
            scenario: "resolve_name".into(),
            entries: vec![
                entry(0, "resolver", Kind::Start, "localhost"),
                entry(0, "resolver", Kind::Out, "Nom officiel : localhost"),
                entry(0, "resolver", Kind::Exit, "exited with status 0"),
                entry(0, "resolver", Kind::Start, "nosuch.invalid"),
                entry(0, "resolver", Kind::Err, "hôte inconnu"),
                entry(0, "resolver", Kind::Exit, "exited with status 2"),
            ],
            packets: Vec::new(),
            counts: Vec::new(),
        };
        let kinds: Vec<NoteKind> = Diagram::new(&transcript)
            .rows
            .iter()
            .filter_map(|r| match r.item {
                Item::Note { kind, .. } => Some(kind),
                _ => None,
            })
            .collect();
        use NoteKind::*;
        assert_eq!(kinds, [Start, Output, Exit, Start, Error, Exit]);
    }

    #[test]
    fn without_packets_messages_are_the_arrows() {
        let mut transcript = tcp_sleep();
        transcript.packets.clear();
        let diagram = Diagram::new(&transcript);
        assert_eq!(diagram.packet_arrows(), 0);
        let messages = diagram
            .rows
            .iter()
            .filter(|r| matches!(&r.item, Item::Arrow(a) if a.kind == ArrowKind::Message))
            .count();
        assert_eq!(messages, 1);
        // The checkpoints' tables give the states instead.
        assert!(
            diagram
                .rows
                .iter()
                .any(|r| r.item == Item::States(vec![(1, "TIME_WAIT".into())]))
        );
    }

    #[test]
    fn icmp_comes_from_the_kernel() {
        let transcript = Transcript {
            scenario: "udp_no_server".into(),
            entries: vec![entry(0, "client", Kind::Start, "B 127.0.0.1 4001")],
            packets: vec![
                Entry::for_packet(0, "client", udp("client", "127.0.0.1:4001", b"# B=000\0")),
                Entry::for_packet(
                    0,
                    "kernel",
                    PacketLine {
                        segment: Segment::PortUnreachable {
                            nobody: crate::record::fixtures::endpoint("127.0.0.1:4001"),
                        },
                        from: Endpoint {
                            shown: "kernel".into(),
                            ..crate::record::fixtures::endpoint("127.0.0.1:0")
                        },
                        ..udp("kernel", "client", b"")
                    },
                ),
            ],
            counts: Vec::new(),
        };
        assert_eq!(
            transcript.packets[1].text,
            "icmp → client port unreachable: nobody on udp 127.0.0.1:4001"
        );
        let diagram = Diagram::new(&transcript);
        let names: Vec<(&str, bool)> = diagram
            .lanes
            .iter()
            .map(|l| (l.name.as_str(), l.actor))
            .collect();
        assert_eq!(
            names,
            [
                ("client", true),
                ("127.0.0.1:4001", false),
                ("kernel", false)
            ]
        );
        let Item::Arrow(icmp) = &diagram.rows[2].item else {
            panic!("{:?}", diagram.rows);
        };
        assert_eq!((icmp.from, icmp.to), (2, 0));
        assert_eq!(icmp.label, "ICMP port unreachable");
    }

    #[test]
    fn odd_lines_do_not_break_the_model() {
        let transcript = Transcript {
            scenario: "odd".into(),
            entries: vec![
                entry(0, "x", Kind::Msg, "no arrow here"),
                entry(5, "x", Kind::Sock, ""),
            ],
            // Packet lines without their packets: a transcript made by hand.
            packets: vec![
                entry(0, "a", Kind::Pkt, ""),
                entry(3, "a", Kind::Pkt, "tcp → "),
                entry(3, "a", Kind::Pkt, "tcp → b [SYN"),
                entry(3, "a", Kind::Pkt, "  · "),
                Entry::for_packet(4, "long".repeat(80), udp("a", &"b".repeat(300), b"")),
            ],
            counts: Vec::new(),
        };
        let diagram = Diagram::new(&transcript);
        assert_eq!(diagram.packet_arrows(), 5);
        for render in [terminal(&diagram), mermaid(&diagram), svg(&diagram)] {
            assert!(!render.is_empty());
        }
        // A lone lane with a name wider than the screen.
        let lone = Diagram {
            scenario: "lone".into(),
            lanes: vec![Lane {
                name: "x".repeat(300),
                actor: true,
            }],
            rows: vec![Row {
                tenths: 5,
                item: Item::Delay { tenths: 5 },
            }],
        };
        for render in [terminal(&lone), mermaid(&lone), svg(&lone)] {
            assert!(!render.is_empty());
        }
    }

    proptest::proptest! {
        /// Whatever a transcript holds (students' programs print anything), every rendering
        /// comes out, and the terminal keeps to 100 columns with two lanes.
        #[test]
        fn any_transcript_renders(
            texts in proptest::collection::vec(".{0,120}", 0..12),
            kinds in proptest::collection::vec(0usize..6, 0..12),
        ) {
            let kinds_of = [Kind::Start, Kind::Out, Kind::Err, Kind::Msg, Kind::Exit, Kind::Sock];
            let mut transcript = Transcript {
                scenario: "any".into(),
                entries: vec![entry(0, "server", Kind::Start, "A"), entry(0, "client", Kind::Start, "B")],
                packets: Vec::new(),
                counts: Vec::new(),
            };
            for (i, (text, kind)) in texts.iter().zip(&kinds).enumerate() {
                let role = if i % 2 == 0 { "server" } else { "client" };
                transcript.entries.push(entry(i as u64, role, kinds_of[*kind], text));
                let peer = if i % 2 == 0 { "client" } else { "server" };
                let flags = if i % 3 == 0 { "SYN" } else { "PSH ACK" };
                let line = tcp(role, peer, flags, (0, Some(1)), text.as_bytes(), &[(peer, Established)]);
                transcript.packets.push(Entry::for_packet(i as u64, role, line));
            }
            let diagram = Diagram::new(&transcript);
            let text = terminal(&diagram);
            for line in text.lines() {
                proptest::prop_assert!(line.chars().count() <= 100, "{}", line);
            }
            let _ = mermaid(&diagram);
            let _ = svg(&diagram);
        }
    }

    #[test]
    fn socket_states_list_checkpoints_and_changes() {
        let marks = socket_states(&tcp_sleep());
        assert_eq!(marks[0].state, "LISTEN");
        assert_eq!(marks[0].seen, "netstat");
        assert!(marks.iter().any(|m| m.role == "client"
            && m.state == "TIME_WAIT"
            && m.socket == "with server"
            && m.seen == "packet"));
        assert!(marks.windows(2).all(|w| w[0].tenths <= w[1].tenths));
    }
}
