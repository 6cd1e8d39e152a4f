//! What the kernel showed during a run, in the transcript: the packets, like Wireshark,
//! with the TCP state changes they cause, their counts, and the `netstat` tables.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::order::{Timeline, micros, tenths};
use super::{Entry, Event, Names};
use crate::record::cstr;
use crate::record::{NotKept, Packet, Protocol, Sample, SocketEntry};

use crate::observe::tcp::{self, Decoded, Kind, State, Tracker};
use crate::scenario::{Plan, When};

/// A conversation: two endpoints and the protocol between them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct FlowKey {
    tcp: bool,
    a: SocketAddr,
    b: SocketAddr,
}

impl FlowKey {
    fn new(tcp: bool, x: SocketAddr, y: SocketAddr) -> Self {
        let (a, b) = if x <= y { (x, y) } else { (y, x) };
        FlowKey { tcp, a, b }
    }
}

#[derive(Default)]
struct Flow {
    /// Time of the flow's latest packet, in microseconds of scenario time.
    latest: i64,
    /// Initial sequence number of each sender.
    isn: HashMap<SocketAddr, u32>,
    packets: usize,
    syn: usize,
    fin: usize,
    rst: usize,
    data: usize,
    pure_acks: usize,
    datagrams: usize,
    unreachable: usize,
}

/// A line saying what the capture did not keep, past its budget, if anything.
pub(crate) fn not_kept(not_kept: NotKept, tenths: u64) -> Option<Entry> {
    (not_kept.packets > 0).then(|| Entry {
        tenths,
        role: "capture".into(),
        kind: "count",
        text: format!(
            "{} more packets not kept ({} MiB): over the capture's limit of {} packets or {} MiB",
            not_kept.packets,
            not_kept.bytes >> 20,
            crate::observe::capture::KEEP_PACKETS,
            crate::observe::capture::KEEP_BYTES >> 20
        ),
        ..Entry::default()
    })
}

/// Packets read in capture order: each conversation's numbers and every socket's TCP
/// state, so that each packet gets its transcript line. The transcript reads a whole
/// run's packets; the live view reads them one at a time as they come.
#[derive(Default)]
pub(crate) struct Reader {
    flows: HashMap<FlowKey, Flow>,
    first_seen: Vec<FlowKey>,
    tracker: Tracker,
}

/// One packet, read: its conversation, its sender, and its line (without a time).
struct Read {
    key: FlowKey,
    sender: Option<usize>,
    entry: Entry,
}

impl Reader {
    /// The line of a packet on its own, at `tenths`, for the live view.
    pub(crate) fn line(
        &mut self,
        plan: &Plan,
        names: &Names,
        packet: &Packet,
        tenths: u64,
    ) -> Option<Entry> {
        let mut read = self.read(plan, names, packet)?;
        read.entry.tenths = tenths;
        if read.sender.is_none() && read.entry.role == "?" {
            // Its owner is not known yet (a client's port, before it says it is ready):
            // live, its address says more than `?`.
            read.entry.role = names.address(tcp::decode(&packet.data).src);
        }
        Some(read.entry)
    }

    fn read(&mut self, plan: &Plan, names: &Names, packet: &Packet) -> Option<Read> {
        let decoded = tcp::decode(&packet.data);
        let key = match &decoded.kind {
            Kind::Tcp { .. } => FlowKey::new(true, decoded.src, decoded.dst),
            Kind::Udp => FlowKey::new(false, decoded.src, decoded.dst),
            Kind::PortUnreachable { about } => FlowKey::new(false, about.0, about.1),
            Kind::Other => return None,
        };
        let protocol = if key.tcp {
            Protocol::Tcp
        } else {
            Protocol::Udp
        };
        let sender = names.owners.get(&(protocol, decoded.src.port())).copied();
        let flow = self.flows.entry(key).or_insert_with(|| {
            self.first_seen.push(key);
            Flow::default()
        });
        flow.packets += 1;
        let changes = self.tracker.packet(&decoded);
        let (role, mut text) = describe(&decoded, flow, names, plan, protocol);
        // Data on the wire is a message, whoever sent it: rubric checks read it even when no
        // reference program was there to receive it.
        let message = (!decoded.payload.is_empty()
            && !matches!(decoded.kind, Kind::PortUnreachable { .. }))
        .then(|| {
            super::Message::new(
                endpoint_role(names, plan, protocol, decoded.dst),
                &decoded.payload,
            )
        });
        if !changes.is_empty() {
            let states: Vec<String> = changes
                .iter()
                .map(|c| {
                    format!(
                        "{} {}",
                        endpoint_role(names, plan, Protocol::Tcp, c.local),
                        c.to.name()
                    )
                })
                .collect();
            text.push_str(&format!("  · {}", states.join(", ")));
        }
        let entry = Entry {
            tenths: 0,
            role: role.unwrap_or_else(|| {
                sender.map_or_else(|| "?".into(), |a| plan.actors[a].role.clone())
            }),
            kind: "pkt",
            text,
            message,
            ..Entry::default()
        };
        Some(Read { key, sender, entry })
    }
}

/// The packet lines and the per-conversation counts.
pub(super) fn packets(
    plan: &Plan,
    events: &[Event],
    timeline: &Timeline,
    names: &Names,
    packets: &[Packet],
) -> (Vec<Entry>, Vec<Entry>) {
    let clocks = ActorClocks::new(plan, events, timeline);
    let mut reader = Reader::default();
    // (time, flow rank decided later, order within the flow, entry)
    let mut lines: Vec<(i64, FlowKey, usize, Entry)> = Vec::new();
    for packet in packets {
        let Some(Read { key, sender, entry }) = reader.read(plan, names, packet) else {
            continue;
        };
        let Some(flow) = reader.flows.get_mut(&key) else {
            continue;
        };
        let time = flow
            .latest
            .max(sender.map_or(0, |a| clocks.at(a, packet, names.external[a])));
        flow.latest = time;
        lines.push((time, key, flow.packets, entry));
    }
    let Reader {
        flows,
        mut first_seen,
        ..
    } = reader;
    // Conversations in the order of their first packet's time, then of their endpoints.
    let first_time: HashMap<FlowKey, i64> =
        lines.iter().rev().map(|(t, k, _, _)| (*k, *t)).collect();
    first_seen.sort_by_key(|k| {
        (
            first_time.get(k).copied().unwrap_or(0),
            flow_name(names, plan, k),
        )
    });
    let rank: HashMap<FlowKey, usize> = first_seen
        .iter()
        .enumerate()
        .map(|(i, k)| (*k, i))
        .collect();
    lines.sort_by_key(|(time, key, index, _)| (tenths(*time), rank[key], *index));
    let entries = lines
        .into_iter()
        .map(|(time, _, _, mut entry)| {
            entry.tenths = tenths(time);
            entry
        })
        .collect();
    let counts = first_seen
        .iter()
        .map(|key| {
            let flow = &flows[key];
            let text = if key.tcp {
                format!(
                    "tcp {}: {} packets: {} SYN, {} FIN, {} RST, {} with data, {} pure ACKs",
                    flow_name(names, plan, key),
                    flow.packets,
                    flow.syn,
                    flow.fin,
                    flow.rst,
                    flow.data,
                    flow.pure_acks
                )
            } else {
                let mut text = format!(
                    "udp {}: {} datagram{}",
                    flow_name(names, plan, key),
                    flow.datagrams,
                    if flow.datagrams == 1 { "" } else { "s" }
                );
                if flow.unreachable > 0 {
                    text.push_str(&format!(", {} ICMP port unreachable", flow.unreachable));
                }
                text
            };
            Entry {
                tenths: tenths(flow.latest),
                role: "capture".into(),
                kind: "count",
                text,
                ..Entry::default()
            }
        })
        .collect();
    (entries, counts)
}

/// The sender's role (when it is not the port's owner) and the text of a packet line.
fn describe(
    d: &Decoded,
    flow: &mut Flow,
    names: &Names,
    plan: &Plan,
    protocol: Protocol,
) -> (Option<String>, String) {
    let to = endpoint_role(names, plan, protocol, d.dst);
    let payload = if d.payload.is_empty() {
        String::new()
    } else {
        format!(" {}", cstr::display(&d.payload))
    };
    match &d.kind {
        Kind::Tcp { flags, seq, ack } => {
            if flags.syn {
                flow.isn.insert(d.src, *seq);
            }
            flow.syn += usize::from(flags.syn);
            flow.fin += usize::from(flags.fin);
            flow.rst += usize::from(flags.rst);
            flow.data += usize::from(!d.payload.is_empty());
            flow.pure_acks +=
                usize::from(!flags.syn && !flags.fin && !flags.rst && d.payload.is_empty());
            let relative = |value: u32, of: SocketAddr| {
                flow.isn
                    .get(&of)
                    .map_or(value, |isn| value.wrapping_sub(*isn))
            };
            let mut text = format!("tcp → {to} {} seq={}", flags.label(), relative(*seq, d.src));
            if flags.ack {
                text.push_str(&format!(" ack={}", relative(*ack, d.dst)));
            }
            text.push_str(&format!(" len={}{payload}", d.payload.len()));
            (None, text)
        }
        Kind::Udp => {
            flow.datagrams += 1;
            (None, format!("udp → {to} len={}{payload}", d.payload.len()))
        }
        Kind::PortUnreachable { about } => {
            flow.unreachable += 1;
            let from = endpoint_role(names, plan, Protocol::Udp, about.0);
            let text = format!(
                "icmp → {from} port unreachable: nobody on udp {}",
                names.address(about.1)
            );
            (Some("kernel".into()), text)
        }
        Kind::Other => (None, String::new()),
    }
}

/// An endpoint named by its owner's role, or by its address when nobody owns it.
fn endpoint_role(names: &Names, plan: &Plan, protocol: Protocol, address: SocketAddr) -> String {
    match names.owners.get(&(protocol, address.port())) {
        Some(&actor) => plan.actors[actor].role.clone(),
        None => names.address(address),
    }
}

fn flow_name(names: &Names, plan: &Plan, key: &FlowKey) -> String {
    let protocol = if key.tcp {
        Protocol::Tcp
    } else {
        Protocol::Udp
    };
    let mut ends = [
        endpoint_role(names, plan, protocol, key.a),
        endpoint_role(names, plan, protocol, key.b),
    ];
    ends.sort();
    format!("{} ↔ {}", ends[0], ends[1])
}

/// Each actor's events by wall-clock time, to date a packet by what its sender last did.
struct ActorClocks {
    /// Per actor: (wall-clock µs, scenario µs) of its events, in wall-clock order.
    by_actor: Vec<Vec<(i64, i64)>>,
}

impl ActorClocks {
    fn new(plan: &Plan, events: &[Event], timeline: &Timeline) -> Self {
        let mut by_actor = vec![Vec::new(); plan.actors.len()];
        for (i, event) in events.iter().enumerate() {
            by_actor[event.actor].push((micros(event.at), timeline.micros(i)));
        }
        for list in &mut by_actor {
            list.sort_unstable();
        }
        ActorClocks { by_actor }
    }

    /// Scenario time of a packet sent by `actor`: that of its latest event before the
    /// packet, plus, for an external program, the whole tenths of real time since.
    fn at(&self, actor: usize, packet: &Packet, external: bool) -> i64 {
        let wall = micros(packet.at);
        let list = &self.by_actor[actor];
        let index = list.partition_point(|(at, _)| *at <= wall);
        let Some(&(at, time)) = index.checked_sub(1).and_then(|i| list.get(i)) else {
            return 0;
        };
        if external {
            time + super::order::whole_tenths(wall - at)
        } else {
            time
        }
    }
}

/// The entries of one checkpoint's socket table, like `netstat -tuan`.
pub(super) fn table(plan: &Plan, names: &Names, sample: &Sample, tenths: u64) -> Vec<Entry> {
    let checkpoint = &plan.checkpoints[sample.checkpoint];
    let mut rows: Vec<(String, String)> = sample
        .sockets
        .iter()
        .filter(|s| s.protocol == Protocol::Tcp || s.local.port() != 0)
        .map(|s| (owner(plan, names, s), row(names, s)))
        .collect();
    rows.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    let mut entries = vec![Entry {
        tenths,
        role: "netstat".into(),
        kind: "table",
        text: format!(
            "{}: {} socket{}",
            checkpoint.label,
            rows.len(),
            if rows.len() == 1 { "" } else { "s" }
        ),
        ..Entry::default()
    }];
    entries.extend(rows.into_iter().map(|(role, text)| Entry {
        tenths,
        role,
        kind: "sock",
        text,
        ..Entry::default()
    }));
    entries
}

fn owner(plan: &Plan, names: &Names, socket: &SocketEntry) -> String {
    names
        .owners
        .get(&(socket.protocol, socket.local.port()))
        .map_or_else(|| "?".into(), |&a| plan.actors[a].role.clone())
}

/// `tcp  0  0  127.0.0.1:4000  127.0.0.1:[client.port]  CLOSE_WAIT`, as netstat lays it out.
fn row(names: &Names, socket: &SocketEntry) -> String {
    let remote = if socket.remote.port() == 0 {
        format!("{}:*", socket.remote.ip())
    } else {
        names.address(socket.remote)
    };
    let state = match socket.protocol {
        Protocol::Tcp => State::from_proc(socket.state).map_or("?", State::name),
        Protocol::Udp if socket.remote.port() != 0 => "ESTABLISHED",
        Protocol::Udp => "",
    };
    format!(
        "{:<4} {:>6} {:>6}  {:<24} {:<24} {state}",
        socket.protocol.name(),
        socket.recv_queue,
        socket.send_queue,
        names.address(socket.local),
        remote
    )
}

/// Where each checkpoint goes in the events' canonical order.
pub(super) fn placement(plan: &Plan, sample: &Sample) -> Placement {
    match plan.checkpoints[sample.checkpoint].when {
        When::After(_) => sample.trigger.map_or(Placement::End, Placement::AfterEvent),
        When::At(at) => {
            Placement::AtTenths(u64::try_from(at.as_millis() / 100).unwrap_or(u64::MAX))
        }
        When::End => Placement::End,
    }
}

/// Where a checkpoint's table is listed.
pub(super) enum Placement {
    AfterEvent(usize),
    AtTenths(u64),
    End,
}
