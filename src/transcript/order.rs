//! Scenario time and canonical order: one walk over the causes of a run's events.
//!
//! The causes of an event are: the previous event of the same actor (of the same lane, for
//! a per-client server, whose first event in a lane follows the server's latest in its own
//! lane, and whose end follows the end of every lane); for a start, the
//! milestones it waited for; for a message between reference actors, its sending; for an
//! external program's line that quotes a message it was sent, that message; for a message
//! an external program sent, the line in which it printed it (programs print what they
//! send, then send); for a server stopped at the end, its clients' ends.
//!
//! A message between two external programs is no event: only the capture saw it. The
//! packet that carried it gives its causes (see [`captured_causes`]): the receiver's line
//! that quotes it follows the sender's last event before the packet (by the kernel's time)
//! and the sender's line that printed it; and that line is listed no earlier than the
//! packet is.
//!
//! Walking the events in an order that respects their causes, each event's time is the
//! latest time of its causes, plus the declared delay a reference actor slept, plus, for
//! an external program, the real time since its previous event (it lives in real time).
//! Among the events whose causes are all placed, the next is the earliest in scenario time,
//! then the first actor of the scenario: the same causes give the same order every run.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;

use super::{Event, EventKind, Names, Outcome, Stream};
use crate::observe::tcp::{self, Kind};
use crate::record::cstr;
use crate::record::{Packet, Protocol};
use crate::scenario::Plan;

/// Scenario times and canonical order of a run's events.
pub(crate) struct Timeline {
    /// Time shown for each event, in microseconds.
    shown: Vec<i64>,
    /// Event indexes in canonical order.
    pub(crate) order: Vec<usize>,
}

impl Timeline {
    /// Scenario time of event `i`, rounded to tenths of a second.
    pub(crate) fn tenths(&self, i: usize) -> u64 {
        tenths(self.shown[i])
    }

    /// Scenario time of event `i`, in microseconds.
    pub(crate) fn micros(&self, i: usize) -> i64 {
        self.shown[i]
    }
}

/// Places every event of a run in scenario time and canonical order; `packets` are the
/// run's capture, for the messages between external programs.
pub(crate) fn timeline(
    plan: &Plan,
    events: &[Event],
    names: &Names,
    packets: &[Packet],
) -> Timeline {
    let certain = certain_causes(plan, events, names);
    let captured = captured_causes(events, names, packets);
    let mut all = certain.clone();
    all.extend(quoted_message_causes(events, names));
    all.extend(&captured);
    let mut fewer = certain.clone();
    fewer.extend(captured);
    walk(plan, events, names, &all)
        // The guesses contradict the certain causes (a program printing something odd):
        // place the events with fewer of them, then without them.
        .or_else(|| walk(plan, events, names, &fewer))
        .or_else(|| walk(plan, events, names, &certain))
        .unwrap_or_else(|| Timeline {
            shown: vec![0; events.len()],
            order: (0..events.len()).collect(),
        })
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Cause {
    /// The previous event of the same actor.
    Program,
    /// A milestone a start waited for.
    Start,
    /// The sending of a message between reference actors.
    Message,
    /// A line or message of an external program matched by quoted text.
    Quote,
    /// A client's end, before a server is stopped.
    ClientEnd,
    /// The latest known event of an external program that sent a message.
    Sender,
    /// The last event of one of an actor's lanes, before the actor ends.
    Join,
    /// The sender's latest event before a packet between external programs, before the
    /// receiver's line that quotes the packet's message; the packet went this many
    /// microseconds of scenario time after that event.
    Captured(i64),
    /// An external program's line that printed a message it sent, before the line of the
    /// external program that quotes it on receipt.
    Printed,
}

type Edge = (usize, usize, Cause);

/// A duration in microseconds, the unit of scenario time here.
pub(crate) fn micros(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX / 4)
}

fn certain_causes(plan: &Plan, events: &[Event], names: &Names) -> Vec<Edge> {
    let mut causes = Vec::new();
    // Each actor's latest event, whatever its lane.
    let mut last: Vec<Option<usize>> = vec![None; plan.actors.len()];
    // The latest event of each lane of a per-client server (lane 0 is in `main`).
    let mut main: Vec<Option<usize>> = vec![None; plan.actors.len()];
    let mut lanes: HashMap<(usize, u32), usize> = HashMap::new();
    let mut lanes_of: Vec<Vec<u32>> = vec![Vec::new(); plan.actors.len()];
    let mut client_ends = Vec::new();
    let mut in_flight: HashMap<(usize, usize), VecDeque<usize>> = HashMap::new();
    // Messages from external programs, by receiver and lane, waiting to precede its next
    // event.
    let mut detached: HashMap<(usize, u32), Vec<usize>> = HashMap::new();
    for (i, event) in events.iter().enumerate() {
        let from_external = match &event.kind {
            EventKind::Received { protocol, peer, .. } => names
                .owners
                .get(&(*protocol, peer.port()))
                .is_some_and(|&from| names.external[from]),
            _ => false,
        };
        let lane = (event.actor, event.lane);
        if from_external {
            // A message an external program sent is placed by its sender's events, not
            // by the receiver's: an iterative server may read it long after it was sent.
            detached.entry(lane).or_default().push(i);
        } else {
            let previous = if event.lane == 0 {
                main[event.actor]
            } else {
                // A lane's first event follows what the server did last in its own lane.
                lanes.get(&lane).copied().or(main[event.actor])
            };
            if let Some(previous) = previous {
                causes.push((previous, i, Cause::Program));
            }
            if let Some(messages) = detached.get_mut(&lane) {
                causes.extend(messages.drain(..).map(|m| (m, i, Cause::Message)));
            }
        }
        // An actor ends after everything its lanes did.
        if matches!(event.kind, EventKind::Exited { .. }) && event.lane == 0 {
            causes.extend(
                lanes_of[event.actor]
                    .iter()
                    .filter_map(|&l| lanes.get(&(event.actor, l)))
                    .map(|&end| (end, i, Cause::Join)),
            );
        }
        match &event.kind {
            EventKind::Started { after, .. } => {
                causes.extend(
                    after
                        .iter()
                        .filter(|&&a| a < i)
                        .map(|&a| (a, i, Cause::Start)),
                );
            }
            EventKind::NotStarted { .. } => {
                let waited = &plan.actors[event.actor].start.after;
                causes.extend(
                    waited
                        .iter()
                        .filter_map(|m| last[m.actor])
                        .map(|p| (p, i, Cause::Start)),
                );
            }
            EventKind::Exited {
                outcome: Outcome::Stopped,
            } => causes.extend(client_ends.iter().map(|&c| (c, i, Cause::ClientEnd))),
            // A message between reference actors is matched, first in first out, with its
            // reception at the actor that owns the address it was sent to.
            EventKind::Sent { protocol, peer, .. } => {
                if let Some(&to) = names.owners.get(&(*protocol, peer.port()))
                    && !names.external[to]
                {
                    in_flight.entry((event.actor, to)).or_default().push_back(i);
                }
            }
            EventKind::Received { protocol, peer, .. } => {
                match names.owners.get(&(*protocol, peer.port())) {
                    Some(&from) if names.external[from] => {
                        if let Some(latest) = last[from] {
                            causes.push((latest, i, Cause::Sender));
                        }
                    }
                    Some(&from) => {
                        if let Some(sent) = in_flight
                            .get_mut(&(from, event.actor))
                            .and_then(VecDeque::pop_front)
                        {
                            causes.push((sent, i, Cause::Message));
                        }
                    }
                    None => {}
                }
            }
            _ => {}
        }
        if matches!(
            event.kind,
            EventKind::Exited { .. } | EventKind::NotStarted { .. }
        ) && !plan.actors[event.actor].is_server()
        {
            client_ends.push(i);
        }
        if !from_external {
            last[event.actor] = Some(i);
            if event.lane == 0 {
                main[event.actor] = Some(i);
            } else if lanes.insert(lane, i).is_none() {
                lanes_of[event.actor].push(event.lane);
            }
        }
    }
    causes
}

/// Causes guessed from what external programs print: a line quoting a message the program
/// was sent comes after that message; a line quoting a message it sent comes before the
/// reference actor received it.
fn quoted_message_causes(events: &[Event], names: &Names) -> Vec<Edge> {
    let mut lines: HashMap<usize, Vec<(usize, &str)>> = HashMap::new();
    for (i, event) in events.iter().enumerate() {
        if let EventKind::Line {
            stream: Stream::Stdout,
            text,
        } = &event.kind
            && names.external[event.actor]
        {
            lines.entry(event.actor).or_default().push((i, text));
        }
    }
    let mut causes = Vec::new();
    let mut cursors: HashMap<(usize, bool), usize> = HashMap::new();
    for (i, event) in events.iter().enumerate() {
        let (protocol, peer, payload, to_external) = match &event.kind {
            EventKind::Sent {
                protocol,
                peer,
                payload,
            } => (protocol, peer, payload, true),
            EventKind::Received {
                protocol,
                peer,
                payload,
            } => (protocol, peer, payload, false),
            _ => continue,
        };
        let Some(&other) = names.owners.get(&(*protocol, peer.port())) else {
            continue;
        };
        let Some(their_lines) = lines.get(&other) else {
            continue;
        };
        let text = cstr::text(payload);
        if text.trim().is_empty() {
            continue;
        }
        let cursor = cursors.entry((other, to_external)).or_insert(0);
        let found = their_lines[*cursor..].iter().position(|&(line, quoted)| {
            quoted.contains(text.as_str()) && (!to_external || line > i)
        });
        if let Some(offset) = found {
            let line = their_lines[*cursor + offset].0;
            causes.push(if to_external {
                (i, line, Cause::Quote)
            } else {
                (line, i, Cause::Quote)
            });
            *cursor += offset + 1;
        }
    }
    causes
}

/// Causes read from the capture, for the messages between two external programs that no
/// event records. For each packet with data from one external program to another, the
/// receiver's first line read after the packet went through `lo` (kernel and events share
/// one clock) that quotes its message, from past the line matched for the previous one
/// of that conversation on, comes after:
/// - the sender's latest event before the packet (certain: it was read before the packet
///   was sent), with the real time from that event to the packet;
/// - the sender's line that quotes the same message, if any (programs print what they
///   send, then send).
fn captured_causes(events: &[Event], names: &Names, packets: &[Packet]) -> Vec<Edge> {
    let mut lines: HashMap<usize, Vec<(usize, &str)>> = HashMap::new();
    // Each external program's events in the order of their times.
    let mut by_time: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, event) in events.iter().enumerate() {
        if !names.external[event.actor] {
            continue;
        }
        by_time.entry(event.actor).or_default().push(i);
        if let EventKind::Line {
            stream: Stream::Stdout,
            text,
        } = &event.kind
        {
            lines.entry(event.actor).or_default().push((i, text));
        }
    }
    for list in by_time.values_mut() {
        list.sort_by_key(|&i| (events[i].at, i));
    }
    let external = |protocol: Protocol, port: u16| {
        names
            .owners
            .get(&(protocol, port))
            .copied()
            .filter(|&a| names.external[a])
    };
    let mut causes = Vec::new();
    // TCP segments already read, by sender, receiver and sequence number: a retransmission
    // quotes nothing new.
    let mut segments: HashSet<(SocketAddr, SocketAddr, u32)> = HashSet::new();
    // Per program and conversation (its two ports, in the packet's direction): where in
    // the program's lines the next quote is looked for.
    let mut cursors: HashMap<(usize, u16, u16), usize> = HashMap::new();
    for packet in packets {
        let decoded = tcp::decode(&packet.data);
        if decoded.payload.is_empty() {
            continue;
        }
        let protocol = match decoded.kind {
            Kind::Tcp { seq, .. } => {
                if !segments.insert((decoded.src, decoded.dst, seq)) {
                    continue;
                }
                Protocol::Tcp
            }
            Kind::Udp => Protocol::Udp,
            Kind::PortUnreachable { .. } | Kind::Other => continue,
        };
        let (src, dst) = (decoded.src.port(), decoded.dst.port());
        let (Some(from), Some(to)) = (external(protocol, src), external(protocol, dst)) else {
            continue;
        };
        let text = cstr::text(&decoded.payload);
        if from == to || text.trim().is_empty() {
            continue;
        }
        let cursor = cursors.entry((to, src, dst)).or_insert(0);
        let Some(received) = quoting_line(lines.get(&to), cursor, &text, |line| {
            events[line].at > packet.at
        }) else {
            continue;
        };
        if let Some(list) = by_time.get(&from) {
            let before = list.partition_point(|&i| events[i].at <= packet.at);
            if let Some(&latest) = before.checked_sub(1).and_then(|k| list.get(k)) {
                let gap = whole_tenths(micros(packet.at).saturating_sub(micros(events[latest].at)));
                causes.push((latest, received, Cause::Captured(gap)));
            }
        }
        let cursor = cursors.entry((from, src, dst)).or_insert(0);
        if let Some(printed) = quoting_line(lines.get(&from), cursor, &text, |_| true) {
            causes.push((printed, received, Cause::Printed));
        }
    }
    causes
}

/// The first of `lines` from `cursor` on that quotes `text` and `fits`; the cursor moves
/// past it.
fn quoting_line(
    lines: Option<&Vec<(usize, &str)>>,
    cursor: &mut usize,
    text: &str,
    fits: impl Fn(usize) -> bool,
) -> Option<usize> {
    let lines = lines?;
    let offset = lines
        .get(*cursor..)?
        .iter()
        .position(|&(line, quoted)| quoted.contains(text) && fits(line))?;
    let (line, _) = lines[*cursor + offset];
    *cursor += offset + 1;
    Some(line)
}

/// Kahn's algorithm, computing each event's time as its causes are placed. `None` if the
/// causes contain a cycle.
fn walk(plan: &Plan, events: &[Event], names: &Names, causes: &[Edge]) -> Option<Timeline> {
    let n = events.len();
    let mut successors: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut predecessors: Vec<Vec<(usize, Cause)>> = vec![Vec::new(); n];
    let mut waiting = vec![0usize; n];
    for &(from, to, cause) in causes {
        if from < n && to < n && from != to {
            successors[from].push(to);
            predecessors[to].push((from, cause));
            waiting[to] += 1;
        }
    }
    // `shown` is the time an event is listed at; `after` the actor's clock once it is done
    // (a reference actor's sleep moves its clock on).
    let mut shown = vec![0i64; n];
    let mut after = vec![0i64; n];
    // The latest visible time of each actor, for a server stopped at the end.
    let mut visible = vec![0i64; plan.actors.len()];
    let mut ready = BinaryHeap::new();
    let mut order = Vec::with_capacity(n);
    let place = |i: usize, shown: &mut [i64], after: &mut [i64], visible: &mut [i64]| {
        let event = &events[i];
        let external = names.external[event.actor];
        let latest = |cause: Option<Cause>| {
            predecessors[i]
                .iter()
                .filter(|(_, c)| match cause {
                    None => !matches!(c, Cause::Captured(_)),
                    Some(want) => *c == want,
                })
                .map(|&(p, _)| after[p])
                .max()
        };
        // The time of a packet that a line quotes, as the packets are listed: the sender's
        // time at its latest event before it, and the real time since.
        let packet_clock = predecessors[i]
            .iter()
            .filter_map(|&(p, c)| match c {
                Cause::Captured(gap) => Some(shown[p] + gap),
                _ => None,
            })
            .max();
        let previous = predecessors[i]
            .iter()
            .find(|(_, c)| *c == Cause::Program)
            .map(|&(p, _)| p);
        let own_clock = previous.map_or(0, |p| {
            let mut clock = after[p];
            if external {
                // An external program lives in real time: its own delays are real.
                clock += real_gap(&events[p], event);
            }
            clock
        });
        let causes_clock = latest(None).max(packet_clock).unwrap_or(0);
        let (time, clock) = match &event.kind {
            EventKind::Started { delay, .. } => {
                let t = latest(Some(Cause::Start)).unwrap_or(0) + micros(*delay);
                (t, t)
            }
            EventKind::Slept { declared } => {
                let t = own_clock.max(causes_clock);
                (t, t + micros(*declared))
            }
            // A message from an external program is listed when it was sent: at the line
            // that printed it, or failing that when it arrived.
            EventKind::Received { protocol, peer, .. }
                if names
                    .owners
                    .get(&(*protocol, peer.port()))
                    .is_none_or(|&from| names.external[from]) =>
            {
                // The sender's clock, from its latest event and the real time since.
                let estimate = predecessors[i]
                    .iter()
                    .filter(|(_, c)| *c == Cause::Sender)
                    .map(|&(p, _)| after[p] + real_gap(&events[p], event))
                    .max();
                let sent = latest(Some(Cause::Quote)).or(estimate);
                let arrived = own_clock.max(sent.unwrap_or(0));
                (sent.unwrap_or(arrived), arrived)
            }
            _ => {
                let t = own_clock.max(causes_clock);
                (t, t)
            }
        };
        shown[i] = time;
        after[i] = clock;
        if !matches!(
            event.kind,
            EventKind::Slept { .. } | EventKind::Woke | EventKind::Port { .. }
        ) {
            visible[event.actor] = visible[event.actor].max(time);
        }
    };
    for i in (0..n).filter(|&i| waiting[i] == 0) {
        place(i, &mut shown, &mut after, &mut visible);
        ready.push(Reverse((tenths(shown[i]), events[i].actor, i)));
    }
    while let Some(Reverse((_, _, i))) = ready.pop() {
        order.push(i);
        for &next in &successors[i] {
            waiting[next] -= 1;
            if waiting[next] == 0 {
                place(next, &mut shown, &mut after, &mut visible);
                ready.push(Reverse((tenths(shown[next]), events[next].actor, next)));
            }
        }
    }
    (order.len() == n).then_some(Timeline { shown, order })
}

/// Real time between two events of an external program, in whole tenths of a second.
pub(crate) fn real_gap(earlier: &Event, later: &Event) -> i64 {
    whole_tenths(micros(later.at).saturating_sub(micros(earlier.at)))
}

/// A real duration in whole tenths of a second: what a program's own sleeps took, without
/// the jitter around them. A `sleep(2)` that took 2.06 s on a busy machine counts as 2.0 s,
/// and so does one measured as 1.98 s because its starting line was read from the
/// pseudo-terminal a little late.
pub(crate) fn whole_tenths(gap: i64) -> i64 {
    const EARLY: i64 = 30_000;
    let gap = gap.max(0) + EARLY;
    gap - gap % 100_000
}

/// Microseconds of scenario time, rounded to the tenths of a second a transcript shows.
pub(crate) fn tenths(micros: i64) -> u64 {
    u64::try_from((micros + 50_000) / 100_000).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::record::Protocol;

    /// A per-client server's two lanes sleep at the same time: the second client's reply
    /// is not pushed behind the first client's sleep, and the server ends after both.
    #[test]
    fn lanes_of_a_per_client_server_overlap() {
        let plan = crate::scenario::parse(
            std::path::Path::new("t.toml"),
            "[[server]]\nprotocol = \"tcp\"\nid = \"S\"\nport = 4000\nconcurrency = \"per-client\"\n\
             [[client]]\nid = \"c\"\ncount = 2\n",
        )
        .expect("a valid scenario");
        let server: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let port = |n: u16| -> SocketAddr { format!("127.0.0.1:{}", 50_000 + n).parse().unwrap() };
        let tcp = Protocol::Tcp;
        let two = Duration::from_secs(2);
        let kinds: Vec<(usize, u32, EventKind)> = vec![
            (
                0,
                0,
                EventKind::Started {
                    args: vec![],
                    external: false,
                    after: vec![],
                    delay: Duration::ZERO,
                },
            ),
            (
                0,
                0,
                EventKind::Ready {
                    protocol: tcp,
                    local: server,
                    peer: None,
                },
            ),
            (
                1,
                0,
                EventKind::Started {
                    args: vec![],
                    external: false,
                    after: vec![1],
                    delay: Duration::ZERO,
                },
            ),
            (
                1,
                0,
                EventKind::Ready {
                    protocol: tcp,
                    local: port(1),
                    peer: Some(server),
                },
            ),
            (
                1,
                0,
                EventKind::Sent {
                    protocol: tcp,
                    peer: server,
                    payload: b"q1".to_vec(),
                },
            ),
            (
                2,
                0,
                EventKind::Started {
                    args: vec![],
                    external: false,
                    after: vec![1],
                    delay: Duration::ZERO,
                },
            ),
            (
                2,
                0,
                EventKind::Ready {
                    protocol: tcp,
                    local: port(2),
                    peer: Some(server),
                },
            ),
            (
                2,
                0,
                EventKind::Sent {
                    protocol: tcp,
                    peer: server,
                    payload: b"q2".to_vec(),
                },
            ),
            (
                0,
                1,
                EventKind::Received {
                    protocol: tcp,
                    peer: port(1),
                    payload: b"q1".to_vec(),
                },
            ),
            (
                0,
                1,
                EventKind::Sent {
                    protocol: tcp,
                    peer: port(1),
                    payload: b"r1".to_vec(),
                },
            ),
            (0, 1, EventKind::Slept { declared: two }),
            (
                0,
                2,
                EventKind::Received {
                    protocol: tcp,
                    peer: port(2),
                    payload: b"q2".to_vec(),
                },
            ),
            (
                0,
                2,
                EventKind::Sent {
                    protocol: tcp,
                    peer: port(2),
                    payload: b"r2".to_vec(),
                },
            ),
            (0, 2, EventKind::Slept { declared: two }),
            (
                1,
                0,
                EventKind::Received {
                    protocol: tcp,
                    peer: server,
                    payload: b"r1".to_vec(),
                },
            ),
            (
                1,
                0,
                EventKind::Exited {
                    outcome: Outcome::Exited { code: 0 },
                },
            ),
            (
                2,
                0,
                EventKind::Received {
                    protocol: tcp,
                    peer: server,
                    payload: b"r2".to_vec(),
                },
            ),
            (
                2,
                0,
                EventKind::Exited {
                    outcome: Outcome::Exited { code: 0 },
                },
            ),
            (0, 1, EventKind::Woke),
            (0, 2, EventKind::Woke),
            (
                0,
                0,
                EventKind::Exited {
                    outcome: Outcome::Stopped,
                },
            ),
        ];
        let events: Vec<Event> = kinds
            .into_iter()
            .enumerate()
            .map(|(seq, (actor, lane, kind))| Event {
                seq,
                at: Duration::from_millis(seq as u64),
                actor,
                lane,
                kind,
            })
            .collect();
        let names = super::super::Names::new(&plan, &events);
        let timeline = timeline(&plan, &events, &names, &[]);
        // The reply to the second client, sent after the first lane went to sleep.
        assert_eq!(timeline.tenths(12), 0);
        assert_eq!(timeline.tenths(17), 0);
        // Each lane woke 2 s after its own reply; the server ends after both.
        assert_eq!(timeline.tenths(18), 20);
        assert_eq!(timeline.tenths(19), 20);
        assert_eq!(timeline.tenths(20), 20);
    }

    /// Two external programs: the server's line that quotes the client's question was read
    /// before the client's own line (a pseudo-terminal read late), but the capture saw the
    /// question go after the client started and before the server printed it.
    #[test]
    fn a_line_quoting_a_message_between_programs_follows_its_packet() {
        let plan = crate::scenario::parse(
            std::path::Path::new("t.toml"),
            "[[server]]\nprotocol = \"tcp\"\nid = \"A\"\nport = 4000\n[[client]]\nid = \"B\"\n",
        )
        .expect("a valid scenario");
        let tcp = Protocol::Tcp;
        let started = || EventKind::Started {
            args: vec![],
            external: true,
            after: vec![],
            delay: Duration::ZERO,
        };
        let line = |text: &str| EventKind::Line {
            stream: Stream::Stdout,
            text: text.into(),
        };
        // (actor, milliseconds, kind), in the order the engine got them.
        let kinds: Vec<(usize, u64, EventKind)> = vec![
            (0, 0, started()),
            (
                0,
                1,
                EventKind::Ready {
                    protocol: tcp,
                    local: "0.0.0.0:4000".parse().unwrap(),
                    peer: None,
                },
            ),
            (0, 5, line("serveur A reçu : # B=000")),
            (1, 2, started()),
            (
                1,
                3,
                EventKind::Port {
                    protocol: tcp,
                    port: 50_001,
                },
            ),
            (1, 6, line("client B envoie : # B=000")),
            (
                1,
                7,
                EventKind::Exited {
                    outcome: Outcome::Exited { code: 0 },
                },
            ),
            (
                0,
                8,
                EventKind::Exited {
                    outcome: Outcome::Stopped,
                },
            ),
        ];
        let events: Vec<Event> = kinds
            .into_iter()
            .enumerate()
            .map(|(seq, (actor, ms, kind))| Event {
                seq,
                at: Duration::from_millis(ms),
                actor,
                lane: 0,
                kind,
            })
            .collect();
        let mut frame = Vec::new();
        etherparse::PacketBuilder::ethernet2([0; 6], [0; 6])
            .ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64)
            .tcp(50_001, 4000, 1, 100)
            .ack(1)
            .psh()
            .write(&mut frame, b"# B=000\0")
            .expect("a frame");
        let packets = [Packet {
            at: Duration::from_millis(4),
            time: std::time::SystemTime::UNIX_EPOCH,
            data: frame,
        }];
        let names = super::super::Names::new(&plan, &events);
        let order = timeline(&plan, &events, &names, &packets).order;
        let position = |i: usize| order.iter().position(|&e| e == i).expect("placed");
        // The client's start and the line in which it printed its question come before
        // the server's line that quotes it.
        assert!(position(3) < position(2), "{order:?}");
        assert!(position(5) < position(2), "{order:?}");
        // Without the capture, the server's lines come first.
        let order = timeline(&plan, &events, &names, &[]).order;
        assert!(order.iter().position(|&e| e == 2) < order.iter().position(|&e| e == 3));
    }
}
