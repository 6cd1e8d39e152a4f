//! What the kernel showed during a run, in the transcript: the packets, like Wireshark,
//! with the TCP state changes they cause, their counts, and the `netstat` tables. Packet
//! and row entries carry their [`PacketLine`] and [`SocketRow`], which write their text.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::order::{Timeline, micros, tenths};
use super::{Entry, Event, Names};
use crate::record::{
    Endpoint, NotKept, Packet, PacketLine, Protocol, Sample, Segment, SocketEntry, SocketRow,
    StateChange,
};

use crate::observe::tcp::{self, Change, Decoded, Kind, Tracker};
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
    (not_kept.packets > 0).then(|| {
        Entry::new(
            tenths,
            "capture",
            crate::record::Kind::Count,
            format!(
                "{} more packets not kept ({} MiB): over the capture's limit of {} packets or {} MiB",
                not_kept.packets,
                not_kept.bytes >> 20,
                crate::observe::capture::KEEP_PACKETS,
                crate::observe::capture::KEEP_BYTES >> 20
            ),
        )
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
        let line = describe(&decoded, flow, names, plan, protocol, &changes);
        let role = if matches!(line.segment, Segment::PortUnreachable { .. }) {
            "kernel".to_string()
        } else {
            sender.map_or_else(|| "?".into(), |a| plan.actors[a].role.clone())
        };
        let entry = Entry::for_packet(0, role, line);
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
            Entry::new(
                tenths(flow.latest),
                "capture",
                crate::record::Kind::Count,
                text,
            )
        })
        .collect();
    (entries, counts)
}

/// What a packet line says, counted in its conversation's numbers.
fn describe(
    d: &Decoded,
    flow: &mut Flow,
    names: &Names,
    plan: &Plan,
    protocol: Protocol,
    changes: &[Change],
) -> PacketLine {
    let endpoint = |protocol, address| endpoint(names, plan, protocol, address);
    let mut to = endpoint(protocol, d.dst);
    let segment = match &d.kind {
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
            Segment::Tcp {
                flags: *flags,
                seq: relative(*seq, d.src),
                ack: flags.ack.then(|| relative(*ack, d.dst)),
            }
        }
        // Not decoded: `read` leaves such packets out.
        Kind::Udp | Kind::Other => {
            flow.datagrams += 1;
            Segment::Datagram
        }
        Kind::PortUnreachable { about } => {
            flow.unreachable += 1;
            to = endpoint(Protocol::Udp, about.0);
            let nobody = Endpoint {
                role: None,
                ..endpoint(Protocol::Udp, about.1)
            };
            Segment::PortUnreachable { nobody }
        }
    };
    let from = match segment {
        Segment::PortUnreachable { .. } => Endpoint {
            address: d.src,
            shown: "kernel".into(),
            role: None,
        },
        _ => endpoint(protocol, d.src),
    };
    let changes = changes
        .iter()
        .map(|c| StateChange {
            socket: endpoint(Protocol::Tcp, c.local),
            state: c.to,
        })
        .collect();
    PacketLine {
        protocol,
        from,
        to,
        segment,
        payload: d.payload.clone(),
        changes,
    }
}

/// An endpoint, with its owner's role when an actor owns it.
fn endpoint(names: &Names, plan: &Plan, protocol: Protocol, address: SocketAddr) -> Endpoint {
    Endpoint {
        address,
        shown: names.address(address),
        role: names
            .owners
            .get(&(protocol, address.port()))
            .map(|&actor| plan.actors[actor].role.clone()),
    }
}

/// An endpoint named by its owner's role, or by its address when nobody owns it.
fn endpoint_role(names: &Names, plan: &Plan, protocol: Protocol, address: SocketAddr) -> String {
    endpoint(names, plan, protocol, address).name().to_string()
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
    // Sorted as the lines read.
    let mut rows: Vec<(String, SocketRow, String)> = sample
        .sockets
        .iter()
        .filter(|s| s.protocol == Protocol::Tcp || s.local.port() != 0)
        .map(|s| {
            let row = row(names, s);
            let text = row.to_string();
            (owner(plan, names, s), row, text)
        })
        .collect();
    rows.sort_by(|a, b| a.2.cmp(&b.2).then(a.0.cmp(&b.0)));
    let mut entries = vec![Entry::new(
        tenths,
        "netstat",
        crate::record::Kind::Table,
        format!(
            "{}: {} socket{}",
            checkpoint.label,
            rows.len(),
            if rows.len() == 1 { "" } else { "s" }
        ),
    )];
    entries.extend(
        rows.into_iter()
            .map(|(role, row, _)| Entry::for_socket(tenths, role, row)),
    );
    entries
}

fn owner(plan: &Plan, names: &Names, socket: &SocketEntry) -> String {
    names
        .owners
        .get(&(socket.protocol, socket.local.port()))
        .map_or_else(|| "?".into(), |&a| plan.actors[a].role.clone())
}

/// A socket's row, its addresses as the transcript writes them.
fn row(names: &Names, socket: &SocketEntry) -> SocketRow {
    let remote = if socket.remote.port() == 0 {
        format!("{}:*", socket.remote.ip())
    } else {
        names.address(socket.remote)
    };
    SocketRow {
        socket: socket.clone(),
        local: names.address(socket.local),
        remote,
    }
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
