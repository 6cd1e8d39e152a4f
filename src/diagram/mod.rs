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
//! The model reads the transcript's text forms (`tcp → server [SYN] seq=0 len=0  · client
//! SYN_SENT`), which are its stable, documented surface; a line it cannot read becomes a
//! plain arrow or note rather than an error.

mod mermaid;
mod svg;
mod terminal;

pub use mermaid::mermaid;
pub(crate) use svg::escape as escape_xml;
pub use svg::svg;
pub use terminal::terminal;

use std::collections::HashMap;

use crate::transcript::{Entry, Transcript};

/// A sequence diagram: lanes left to right, rows top to bottom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagram {
    pub scenario: String,
    pub lanes: Vec<Lane>,
    pub rows: Vec<Row>,
}

/// A lifeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lane {
    pub name: String,
    /// A role of the scenario, with a process that starts and ends; otherwise a party only
    /// seen on the wire (the `kernel` answering with ICMP, an address nobody owns).
    pub actor: bool,
}

/// One row of a diagram, at a scenario time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Scenario time in tenths of a second.
    pub tenths: u64,
    pub item: Item,
}

/// What a row shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
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
pub struct Arrow {
    pub from: usize,
    pub to: usize,
    pub kind: ArrowKind,
    /// What a reader needs first: TCP flags and the data carried.
    pub label: String,
    /// The rest: sequence numbers, lengths.
    pub detail: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArrowKind {
    /// A packet captured on the run's loopback.
    Packet,
    /// A message as a reference program saw it (runs without a capture).
    Message,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoteKind {
    Start,
    Ready,
    Output,
    Error,
    Skip,
    Exit,
}

/// A socket's state as the run showed it, for the socket-state timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateMark {
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
    pub fn new(transcript: &Transcript) -> Self {
        let mut lanes = Lanes::default();
        for entry in &transcript.entries {
            if matches!(entry.kind, "start" | "skip") {
                lanes.index(&entry.role, true);
            }
        }
        let use_packets = !transcript.packets.is_empty();
        let has_arrows = use_packets || transcript.entries.iter().any(|e| e.kind == "msg");
        // (time, phase, item). The packets of a tenth (phase 1) go after what the actors did
        // in that tenth (phase 0), up to the first exit: that exit and what follows it are
        // phase 2. Otherwise the entries keep the transcript's order.
        let mut items: Vec<(u64, u8, Item)> = Vec::new();
        let mut sockets: HashMap<(String, String), String> = HashMap::new();
        let mut exited_at: Option<u64> = None;
        for entry in &transcript.entries {
            if entry.kind == "exit" && exited_at.is_none_or(|t| t < entry.tenths) {
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
                "start" => items.push((
                    entry.tenths,
                    phase,
                    note(&mut lanes, NoteKind::Start, format!("start {}", entry.text)),
                )),
                "ready" => {
                    items.push((
                        entry.tenths,
                        phase,
                        note(&mut lanes, NoteKind::Ready, entry.text.clone()),
                    ));
                    if entry.text.starts_with("tcp ") && entry.text.ends_with(" listening") {
                        let lane = lanes.index(&entry.role, true);
                        items.push((
                            entry.tenths,
                            phase,
                            Item::States(vec![(lane, "LISTEN".into())]),
                        ));
                    }
                }
                "err" => items.push((
                    entry.tenths,
                    phase,
                    note(&mut lanes, NoteKind::Error, entry.text.clone()),
                )),
                // Output lines repeat what the arrows show; they are the whole story only
                // when nothing went between the roles (the resolver).
                "out" if !has_arrows => items.push((
                    entry.tenths,
                    phase,
                    note(&mut lanes, NoteKind::Output, entry.text.clone()),
                )),
                "skip" => items.push((
                    entry.tenths,
                    phase,
                    note(&mut lanes, NoteKind::Skip, entry.text.clone()),
                )),
                "exit" => items.push((
                    entry.tenths,
                    phase,
                    note(&mut lanes, NoteKind::Exit, entry.text.clone()),
                )),
                "msg" if !use_packets => {
                    let (to, label) = recipient(&entry.text);
                    let to = entry.message.as_ref().map_or(to, |m| m.to.clone());
                    let arrow = Arrow {
                        from: lanes.index(&entry.role, false),
                        to: lanes.index(&to, false),
                        kind: ArrowKind::Message,
                        label,
                        detail: String::new(),
                    };
                    items.push((entry.tenths, phase, Item::Arrow(arrow)));
                }
                // Without packets, the checkpoints' tables are all there is of TCP states.
                "sock" if !use_packets => {
                    if let Some((socket, state)) = netstat_row(&entry.text) {
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
        for packet in &transcript.packets {
            let read = Packet::read(packet);
            let arrow = Arrow {
                from: lanes.index(&packet.role, false),
                to: lanes.index(&read.to, false),
                kind: ArrowKind::Packet,
                label: read.label,
                detail: read.detail,
            };
            items.push((packet.tenths, 1, Item::Arrow(arrow)));
            let states: Vec<(usize, String)> = read
                .states
                .into_iter()
                .map(|(role, state)| (lanes.index(&role, false), state))
                .collect();
            if !states.is_empty() {
                items.push((packet.tenths, 1, Item::States(states)));
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
    pub fn packet_arrows(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| matches!(&r.item, Item::Arrow(a) if a.kind == ArrowKind::Packet))
            .count()
    }
}

/// Every socket state the run showed, in time order: the changes packets caused and the
/// rows of the checkpoints' tables.
pub fn socket_states(transcript: &Transcript) -> Vec<StateMark> {
    let mut marks = Vec::new();
    for entry in &transcript.entries {
        if entry.kind == "sock"
            && let Some((socket, state)) = netstat_row(&entry.text)
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
    for packet in &transcript.packets {
        let read = Packet::read(packet);
        for (role, state) in read.states {
            let peer = if role == packet.role {
                &read.to
            } else {
                &packet.role
            };
            marks.push(StateMark {
                tenths: packet.tenths,
                socket: format!("with {peer}"),
                role,
                state,
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

/// A packet line read back: `tcp → server [PSH, ACK] seq=1 ack=1 len=8 "# B=000\0" (8 bytes)
/// · client ESTABLISHED`.
struct Packet {
    to: String,
    label: String,
    detail: String,
    states: Vec<(String, String)>,
}

impl Packet {
    fn read(entry: &Entry) -> Packet {
        let (main, states) = match entry.text.rsplit_once("  · ") {
            Some((main, states)) => (main, states),
            None => (entry.text.as_str(), ""),
        };
        let states = states
            .split(", ")
            .filter_map(|s| s.trim().rsplit_once(' '))
            .map(|(role, state)| (role.to_string(), state.to_string()))
            .collect();
        let (protocol, rest) = main.split_once(' ').unwrap_or(("", main));
        let (to, rest) = recipient(rest);
        let (label, detail) = match protocol {
            "tcp" => {
                let (flags, after) = match rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
                    Some((flags, after)) => (format!("[{flags}]"), after.trim_start()),
                    None => (String::new(), rest.as_str()),
                };
                let (numbers, payload) = split_payload(after);
                let label = if payload.is_empty() {
                    flags
                } else {
                    format!("{flags} {payload}")
                };
                (label, numbers.to_string())
            }
            "udp" => {
                let (numbers, payload) = split_payload(&rest);
                let label = if payload.is_empty() {
                    "udp (empty)".to_string()
                } else {
                    payload.to_string()
                };
                (label, format!("udp {numbers}"))
            }
            "icmp" => match rest.split_once(": ") {
                Some((what, why)) => (format!("ICMP {what}"), why.to_string()),
                None => (format!("ICMP {rest}"), String::new()),
            },
            _ => (main.to_string(), String::new()),
        };
        Packet {
            to,
            label: label.trim().to_string(),
            detail,
            states,
        }
    }
}

/// `→ server rest` into (`server`, `rest`); `?` when there is no arrow.
fn recipient(text: &str) -> (String, String) {
    match text.trim_start().strip_prefix("→ ") {
        Some(after) => {
            let (to, rest) = after.split_once(' ').unwrap_or((after, ""));
            (to.to_string(), rest.trim_start().to_string())
        }
        None => ("?".into(), text.to_string()),
    }
}

/// `seq=1 ack=1 len=8 "# B=000\0" (8 bytes)` into the numbers and the payload.
fn split_payload(text: &str) -> (&str, &str) {
    match text.find(" \"") {
        Some(at) => (text[..at].trim(), text[at..].trim()),
        None => (text.trim(), ""),
    }
}

/// A netstat row's socket (`local → remote`) and TCP state; `None` for UDP.
fn netstat_row(text: &str) -> Option<(String, String)> {
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.as_slice() {
        ["tcp", _, _, local, remote, state] => {
            Some((format!("{local} → {remote}"), (*state).to_string()))
        }
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn entry(tenths: u64, role: &str, kind: &'static str, text: &str) -> Entry {
        Entry {
            tenths,
            role: role.into(),
            kind,
            text: text.into(),
            ..Entry::default()
        }
    }

    /// The start of `tcp_sleep`, as its snapshot has it.
    pub(crate) fn tcp_sleep() -> Transcript {
        Transcript {
            scenario: "tcp_sleep".into(),
            entries: vec![
                entry(0, "server", "start", "A 4000"),
                entry(0, "server", "ready", "tcp 0.0.0.0:4000 listening"),
                entry(0, "netstat", "table", "after server:ready: 1 socket"),
                entry(
                    0,
                    "server",
                    "sock",
                    "tcp       0      0  0.0.0.0:4000             0.0.0.0:*                LISTEN",
                ),
                entry(0, "client", "start", "B 127.0.0.1 4000"),
                entry(
                    0,
                    "client",
                    "out",
                    "client  B: envoie a (127.0.0.1,4000) : # B=000",
                ),
                entry(0, "client", "msg", "→ server \"# B=000\\0\" (8 bytes)"),
                entry(40, "client", "exit", "exited with status 0"),
                entry(
                    90,
                    "server",
                    "exit",
                    "stopped by labrun: its clients were done",
                ),
                entry(
                    90,
                    "client",
                    "sock",
                    "tcp       0      0  127.0.0.1:[client.port]  127.0.0.1:4000           TIME_WAIT",
                ),
            ],
            packets: vec![
                entry(
                    0,
                    "client",
                    "pkt",
                    "tcp → server [SYN] seq=0 len=0  · client SYN_SENT, server SYN_RECV",
                ),
                entry(
                    0,
                    "server",
                    "pkt",
                    "tcp → client [SYN, ACK] seq=0 ack=1 len=0  · client ESTABLISHED",
                ),
                entry(
                    0,
                    "client",
                    "pkt",
                    "tcp → server [ACK] seq=1 ack=1 len=0  · server ESTABLISHED",
                ),
                entry(
                    0,
                    "client",
                    "pkt",
                    "tcp → server [PSH, ACK] seq=1 ack=1 len=8 \"# B=000\\0\" (8 bytes)",
                ),
                entry(
                    40,
                    "client",
                    "pkt",
                    "tcp → server [FIN, ACK] seq=25 ack=28 len=0  · client FIN_WAIT1, server CLOSE_WAIT",
                ),
                entry(
                    90,
                    "server",
                    "pkt",
                    "tcp → client [FIN, ACK] seq=28 ack=26 len=0  · server LAST_ACK, client TIME_WAIT",
                ),
                entry(
                    90,
                    "client",
                    "pkt",
                    "tcp → server [ACK] seq=26 ack=29 len=0  · server CLOSED",
                ),
            ],
            counts: Vec::new(),
        }
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
                entry(0, "resolver", "start", "localhost"),
                entry(0, "resolver", "out", "Nom officiel : localhost"),
                entry(0, "resolver", "exit", "exited with status 0"),
                entry(0, "resolver", "start", "nosuch.invalid"),
                entry(0, "resolver", "err", "hôte inconnu"),
                entry(0, "resolver", "exit", "exited with status 2"),
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
            entries: vec![entry(0, "client", "start", "B 127.0.0.1 4001")],
            packets: vec![
                entry(
                    0,
                    "client",
                    "pkt",
                    "udp → 127.0.0.1:4001 len=8 \"# B=000\\0\" (8 bytes)",
                ),
                entry(
                    0,
                    "kernel",
                    "pkt",
                    "icmp → client port unreachable: nobody on udp 127.0.0.1:4001",
                ),
            ],
            counts: Vec::new(),
        };
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
                entry(0, "x", "msg", "no arrow here"),
                entry(5, "x", "sock", ""),
            ],
            packets: vec![
                entry(0, "a", "pkt", ""),
                entry(3, "a", "pkt", "tcp → "),
                entry(3, "a", "pkt", "tcp → b [SYN"),
                entry(3, "a", "pkt", "  · "),
                entry(
                    4,
                    &"long".repeat(80),
                    "pkt",
                    &format!("udp → {} len=0", "b".repeat(300)),
                ),
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
            let kinds_of = ["start", "out", "err", "msg", "exit", "sock"];
            let mut transcript = Transcript {
                scenario: "any".into(),
                entries: vec![entry(0, "server", "start", "A"), entry(0, "client", "start", "B")],
                packets: Vec::new(),
                counts: Vec::new(),
            };
            for (i, (text, kind)) in texts.iter().zip(&kinds).enumerate() {
                let role = if i % 2 == 0 { "server" } else { "client" };
                transcript.entries.push(entry(i as u64, role, kinds_of[*kind], text));
                let peer = if i % 2 == 0 { "client" } else { "server" };
                transcript.packets.push(entry(i as u64, role, "pkt", &format!("tcp → {peer} {text}")));
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
