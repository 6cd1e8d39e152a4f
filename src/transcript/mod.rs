//! From a run's events to a deterministic transcript, as text or JSON; and, in `live`,
//! the view of a run on a terminal while it goes.
//!
//! Three things vary from run to run and are normalised away here:
//! - **ports**: a client's ephemeral port becomes `[role.port]` wherever it appears;
//! - **times**: events carry *scenario time*, computed from the declared delays along the
//!   chain of causes (a reply is received no earlier than it was sent, a reference server
//!   is 2 s later after its `sleep(2)` whatever `--time-scale` is). External programs live
//!   in real time: their events advance by the wall-clock time between them. Times show
//!   in tenths of a second, which absorbs jitter;
//! - **order**: concurrent actors interleave differently each run. Events are listed in a
//!   topological order of their causes (program order, message sent before received, start
//!   conditions, and a line that quotes a message after that message, or, between two
//!   external programs, after the packet that carried it), choosing among the
//!   events that may come next the earliest in scenario time, then the first actor in the
//!   scenario. The same causes give the same text, run after run.
//!
//! Each [`Entry`] is a line of text (for people and snapshots) and what the line says as
//! data ([`Kind`], and [`Data`]: a packet, a socket row, what is ready, why an actor never
//! started), from which its text is written; the stages that read transcripts read the
//! data. The JSON form has the text, and the `message` and `outcome` of an entry.

mod live;
mod observed;
mod order;

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::Serialize;

pub(crate) use crate::record::{Data, Kind, PacketLine};
use crate::record::{Event, EventKind, Outcome, Stream, seconds};
pub(crate) use live::watch;

use crate::record::cstr;
use crate::record::{Packet, Protocol, RunRecord, Sample, Segment, SocketRow};
use crate::scenario::Plan;

/// The normalised, ordered rendering of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Transcript {
    pub scenario: String,
    /// What the actors did, with the `netstat` tables at their checkpoints.
    pub entries: Vec<Entry>,
    /// The packets captured on the run's loopback, with the TCP states they cause.
    pub packets: Vec<Entry>,
    /// Packet counts per conversation.
    pub counts: Vec<Entry>,
}

/// One line of a transcript: its text, for people and snapshots, and what it says as data,
/// for every stage that reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Entry {
    /// Scenario time in tenths of a second.
    #[serde(rename = "time_tenths")]
    pub tenths: u64,
    pub role: String,
    pub kind: Kind,
    pub text: String,
    /// For a message: what it carried, for rubric checks and JSON readers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    /// For an exit: how the actor ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// What the line says, for a packet, a socket row, a ready server or an actor that
    /// never started; not in the JSON form, whose `text` says it.
    #[serde(skip)]
    pub data: Data,
}

/// A message of a transcript entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Message {
    /// The receiver's role (or address).
    pub to: String,
    /// The text up to the first NUL, as a C program prints it with `%s`.
    pub text: String,
    /// Bytes on the wire.
    pub bytes: usize,
    /// Whether the terminating NUL was sent.
    pub nul: bool,
    /// The bytes themselves (the JSON form has the fields above).
    #[serde(skip)]
    pub payload: Vec<u8>,
}

impl Message {
    pub(crate) fn new(to: String, payload: &[u8]) -> Self {
        Message {
            to,
            text: cstr::text(payload),
            bytes: payload.len(),
            nul: payload.contains(&0),
            payload: payload.to_vec(),
        }
    }
}

impl Transcript {
    /// The text form, one entry a line: `  2.0  server  out   serveur A reçu de …`, then
    /// the packets and their counts.
    pub(crate) fn to_text(&self) -> String {
        let all = self.entries.iter().chain(&self.packets).chain(&self.counts);
        let width = all.map(|e| e.role.len()).max().unwrap_or(6).max(6);
        let mut out = String::new();
        for (title, entries) in [
            ("", &self.entries),
            ("packets", &self.packets),
            ("counts", &self.counts),
        ] {
            if entries.is_empty() {
                continue;
            }
            if !title.is_empty() {
                let _ = writeln!(out, "\n== {title}");
            }
            for entry in entries {
                let _ = writeln!(out, "{}", entry.render(width));
            }
        }
        out
    }

    /// What the kernel showed, for a live view that already printed the events: the
    /// `netstat` tables, the packets and their counts.
    pub(crate) fn observations_text(&self) -> String {
        let tables = Transcript {
            scenario: self.scenario.clone(),
            entries: Vec::new(),
            packets: self
                .entries
                .iter()
                .filter(|e| matches!(e.kind, Kind::Table | Kind::Sock))
                .cloned()
                .collect(),
            counts: Vec::new(),
        };
        let mut text = tables.to_text().replacen("== packets", "== netstat", 1);
        let rest = Transcript {
            scenario: self.scenario.clone(),
            entries: Vec::new(),
            packets: self.packets.clone(),
            counts: self.counts.clone(),
        };
        text.push_str(&rest.to_text());
        text
    }

    /// The JSON form.
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

impl Entry {
    /// A line with nothing more than its text.
    pub(crate) fn new(
        tenths: u64,
        role: impl Into<String>,
        kind: Kind,
        text: impl Into<String>,
    ) -> Self {
        Entry {
            tenths,
            role: role.into(),
            kind,
            text: text.into(),
            message: None,
            outcome: None,
            data: Data::None,
        }
    }

    /// The line of a captured packet, sent by `role`. Data on the wire is a message,
    /// whoever sent it: rubric checks read it even when no reference program was there to
    /// receive it.
    pub(crate) fn for_packet(tenths: u64, role: impl Into<String>, line: PacketLine) -> Self {
        let message = (!line.payload.is_empty()
            && !matches!(line.segment, Segment::PortUnreachable { .. }))
        .then(|| Message::new(line.to.name().to_string(), &line.payload));
        Entry {
            message,
            data: Data::Packet(line.clone()),
            ..Entry::new(tenths, role, Kind::Pkt, line.to_string())
        }
    }

    /// The line of a socket table's row, for the socket's owner `role`.
    pub(crate) fn for_socket(tenths: u64, role: impl Into<String>, row: SocketRow) -> Self {
        let text = row.to_string();
        Entry {
            data: Data::Socket(row),
            ..Entry::new(tenths, role, Kind::Sock, text)
        }
    }

    /// What the program printed, for an `out` or `err` line: data in itself, which checks
    /// match their patterns against.
    pub(crate) fn printed(&self) -> Option<&str> {
        matches!(self.kind, Kind::Out | Kind::Err).then_some(self.text.as_str())
    }

    /// The packet of a `pkt` line.
    pub(crate) fn packet(&self) -> Option<&PacketLine> {
        match &self.data {
            Data::Packet(packet) => Some(packet),
            _ => None,
        }
    }

    /// `width` is the width of the role column.
    pub(crate) fn render(&self, width: usize) -> String {
        format!(
            "{:>5}  {:<width$}  {:<5}  {}",
            seconds(self.tenths),
            self.role,
            self.kind,
            self.text
        )
        .trim_end()
        .to_string()
    }
}

/// Normalises a run into its transcript.
pub(crate) fn normalize(plan: &Plan, record: &RunRecord) -> Transcript {
    let events = &record.events;
    let names = Names::with_packets(plan, events, &record.packets);
    let timeline = order::timeline(plan, events, &names, &record.packets);
    let mut entries = Vec::new();
    let mut timed: Vec<(u64, &Sample)> = Vec::new();
    let mut after_event: HashMap<usize, Vec<&Sample>> = HashMap::new();
    let mut at_end = Vec::new();
    for sample in &record.checkpoints {
        match observed::placement(plan, sample) {
            observed::Placement::AfterEvent(i) => after_event.entry(i).or_default().push(sample),
            observed::Placement::AtTenths(t) => timed.push((t, sample)),
            observed::Placement::End => at_end.push(sample),
        }
    }
    timed.sort_by_key(|(t, s)| (*t, s.checkpoint));
    let mut timed = timed.into_iter().peekable();
    let mut latest = 0;
    for &i in &timeline.order {
        let tenths = timeline.tenths(i);
        while let Some((t, sample)) = timed.next_if(|(t, _)| *t < tenths) {
            entries.extend(observed::table(plan, &names, sample, t));
        }
        if let Some(entry) = names.entry(plan, &events[i], tenths) {
            latest = latest.max(tenths);
            entries.push(entry);
        }
        for sample in after_event.remove(&i).unwrap_or_default() {
            entries.extend(observed::table(plan, &names, sample, tenths));
        }
    }
    for (t, sample) in timed {
        entries.extend(observed::table(plan, &names, sample, t));
    }
    for sample in at_end {
        entries.extend(observed::table(plan, &names, sample, latest));
    }
    let (packets, mut counts) = observed::packets(plan, events, &timeline, &names, &record.packets);
    counts.extend(observed::not_kept(record.not_kept, latest));
    Transcript {
        scenario: plan.name.clone(),
        entries,
        packets,
        counts,
    }
}

/// Gives an owner to the one port the capture shows talking to a server's port that no
/// event names, when exactly one external client of that server has no port known: the
/// only program it can be. Anything less certain is left unnamed.
fn infer_owners(
    plan: &Plan,
    events: &[Event],
    packets: &[Packet],
    owners: &mut HashMap<(Protocol, u16), usize>,
) {
    let external: Vec<usize> = events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Started { external: true, .. } => Some(e.actor),
            _ => None,
        })
        .collect();
    // Per server actor: the unknown ports that talked to it.
    let mut unknown: HashMap<(Protocol, usize), Vec<u16>> = HashMap::new();
    for packet in packets {
        let Some((number, from, to)) = crate::observe::frame::flow(&packet.data) else {
            continue;
        };
        let protocol = match number {
            6 => Protocol::Tcp,
            17 => Protocol::Udp,
            _ => continue,
        };
        for (mine, theirs) in [(from, to), (to, from)] {
            let server = owners
                .get(&(protocol, theirs))
                .copied()
                .filter(|&a| plan.actors[a].is_server());
            if let Some(server) = server
                && !owners.contains_key(&(protocol, mine))
            {
                let ports = unknown.entry((protocol, server)).or_default();
                if !ports.contains(&mine) {
                    ports.push(mine);
                }
            }
        }
    }
    for ((protocol, server), ports) in unknown {
        let [port] = ports[..] else { continue };
        let candidates: Vec<usize> = external
            .iter()
            .copied()
            .filter(|&a| {
                matches!(plan.actors[a].kind, crate::scenario::ActorKind::Client { server: Some(s), .. } if s == server)
                    && !owners.values().any(|&owner| owner == a)
            })
            .collect();
        if let [client] = candidates[..] {
            owners.insert((protocol, port), client);
        }
    }
}

/// Which actor owns which port, and the placeholders that hide ephemeral ones.
pub(crate) struct Names {
    pub(crate) owners: HashMap<(Protocol, u16), usize>,
    /// Whether each actor is an external program.
    pub(crate) external: Vec<bool>,
    placeholders: Vec<(String, String)>,
}

impl Names {
    fn new(plan: &Plan, events: &[Event]) -> Self {
        Self::with_packets(plan, events, &[])
    }

    /// [`Names::new`], with what the capture shows of ports no event names: an external
    /// client that was gone before labrun could look at its sockets (two external
    /// programs, no sleeps) is found by elimination, as the one client of that server whose
    /// port is not known.
    fn with_packets(plan: &Plan, events: &[Event], packets: &[Packet]) -> Self {
        let mut owners = HashMap::new();
        for event in events {
            match &event.kind {
                EventKind::Ready {
                    protocol, local, ..
                } => {
                    owners
                        .entry((*protocol, local.port()))
                        .or_insert(event.actor);
                }
                EventKind::Port { protocol, port } => {
                    owners.entry((*protocol, *port)).or_insert(event.actor);
                }
                _ => {}
            }
        }
        infer_owners(plan, events, packets, &mut owners);
        let mut placeholders: Vec<(String, String)> = owners
            .iter()
            .filter(|(_, actor)| !plan.actors[**actor].is_server())
            .map(|((_, port), actor)| {
                (
                    port.to_string(),
                    format!("[{}.port]", plan.actors[*actor].role),
                )
            })
            .collect();
        placeholders.sort();
        placeholders.dedup_by(|a, b| a.0 == b.0);
        let mut external = vec![false; plan.actors.len()];
        for event in events {
            if let EventKind::Started { external: true, .. } = event.kind {
                external[event.actor] = true;
            }
        }
        Names {
            owners,
            external,
            placeholders,
        }
    }

    /// `127.0.0.1:[client.port]`, or the address as it is when its port is not ephemeral.
    fn address(&self, address: std::net::SocketAddr) -> String {
        self.redact(&address.to_string())
    }

    fn role(&self, plan: &Plan, protocol: Protocol, peer: std::net::SocketAddr) -> String {
        match self.owners.get(&(protocol, peer.port())) {
            Some(&actor) => plan.actors[actor].role.clone(),
            None => self.redact(&peer.to_string()),
        }
    }

    /// Replaces every whole number that is a known ephemeral port by its placeholder.
    fn redact(&self, text: &str) -> String {
        if self.placeholders.is_empty() {
            return text.to_string();
        }
        crate::record::replace_numbers(text, |digits| {
            // Sorted by port: a thousand clients' ports are looked up at every number.
            self.placeholders
                .binary_search_by(|(port, _)| port.as_str().cmp(digits))
                .ok()
                .map(|found| self.placeholders[found].1.clone())
        })
    }

    fn entry(&self, plan: &Plan, event: &Event, tenths: u64) -> Option<Entry> {
        let actor = &plan.actors[event.actor];
        let me = actor.role.clone();
        let mut message = None;
        let mut outcome = None;
        let mut data = Data::None;
        let (role, kind, text) = match &event.kind {
            EventKind::Started { args, .. } => (me, Kind::Start, self.redact(&args.join(" "))),
            EventKind::Ready {
                protocol, local, ..
            } if actor.is_server() => {
                let ready = crate::record::Ready::new(*protocol, *local);
                data = Data::Ready(ready);
                (me, Kind::Ready, ready.to_string())
            }
            EventKind::Line { stream, text } => {
                let kind = match stream {
                    Stream::Stdout => Kind::Out,
                    Stream::Stderr => Kind::Err,
                };
                (me, kind, self.redact(text))
            }
            EventKind::Sent {
                protocol,
                peer,
                payload,
            } => {
                let to = self.role(plan, *protocol, *peer);
                message = Some(Message::new(to.clone(), payload));
                (me, Kind::Msg, format!("→ {to} {}", cstr::display(payload)))
            }
            EventKind::Received {
                protocol,
                peer,
                payload,
            } => {
                // A message between two reference actors is shown once, where it was sent.
                let from = self.owners.get(&(*protocol, peer.port()));
                if from.is_some_and(|&a| !self.external[a]) {
                    return None;
                }
                let from = self.role(plan, *protocol, *peer);
                message = Some(Message::new(me.clone(), payload));
                (
                    from,
                    Kind::Msg,
                    format!("→ {me} {}", cstr::display(payload)),
                )
            }
            EventKind::OutputCut { cut } => (
                me,
                Kind::Note,
                format!("output over the cap: {cut} more bytes were dropped"),
            ),
            EventKind::NotStarted { reason } => {
                data = Data::NotStarted(reason.clone());
                (me, Kind::Skip, format!("not started: {reason}"))
            }
            EventKind::Exited { outcome: how } => {
                outcome = Some(how.clone());
                (me, Kind::Exit, describe(how))
            }
            EventKind::Ready { .. }
            | EventKind::Slept { .. }
            | EventKind::Woke
            | EventKind::Port { .. } => {
                return None;
            }
        };
        Some(Entry {
            message,
            outcome,
            data,
            ..Entry::new(tenths, role, kind, text)
        })
    }
}

/// How an outcome reads in a transcript.
pub(crate) fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Exited { code } => format!("exited with status {code}"),
        Outcome::Signaled { signal } => {
            let name = nix::sys::signal::Signal::try_from(*signal).map_or("?", |s| s.as_str());
            format!("killed by signal {signal} ({name})")
        }
        Outcome::Stopped => "stopped by labrun: its clients were done".into(),
        Outcome::RunTimedOut { after } => format!(
            "killed: the whole run went over its timeout of {}",
            crate::scenario::duration::display(*after)
        ),
        Outcome::TimedOut { after } => {
            format!(
                "timed out after {} and killed",
                crate::scenario::duration::display(*after)
            )
        }
        Outcome::Interrupted { signal } => format!(
            "stopped by labrun: it was interrupted ({})",
            crate::signals::name(*signal)
        ),
        Outcome::SpawnFailed { reason } => format!("could not start: {reason}"),
    }
}
