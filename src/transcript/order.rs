//! Scenario time and canonical order: one walk over the causes of a run's events.
//!
//! The causes of an event are: the previous event of the same actor; for a start, the
//! milestones it waited for; for a message between reference actors, its sending; for an
//! external program's line that quotes a message it was sent, that message; for a message
//! an external program sent, the line in which it printed it (programs print what they
//! send, then send); for a server stopped at the end, its clients' ends.
//!
//! Walking the events in an order that respects their causes, each event's time is the
//! latest time of its causes, plus the declared delay a reference actor slept, plus, for
//! an external program, the real time since its previous event (it lives in real time).
//! Among the events whose causes are all placed, the next is the earliest in scenario time,
//! then the first actor of the scenario: the same causes give the same order every run.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

use super::{Event, EventKind, Names, Outcome, Stream};
use crate::actor::cstr;
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

/// Places every event of a run in scenario time and canonical order.
pub(crate) fn timeline(plan: &Plan, events: &[Event], names: &Names) -> Timeline {
    let certain = certain_causes(plan, events, names);
    let mut all = certain.clone();
    all.extend(quoted_message_causes(events, names));
    walk(plan, events, names, &all)
        // The guesses contradict the certain causes (a program printing something odd):
        // place the events without them.
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
}

type Edge = (usize, usize, Cause);

/// A duration in microseconds, the unit of scenario time here.
pub(crate) fn micros(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX / 4)
}

fn certain_causes(plan: &Plan, events: &[Event], names: &Names) -> Vec<Edge> {
    let mut causes = Vec::new();
    let mut last: Vec<Option<usize>> = vec![None; plan.actors.len()];
    let mut client_ends = Vec::new();
    let mut in_flight: HashMap<(usize, usize), VecDeque<usize>> = HashMap::new();
    // Messages from external programs, by receiver, waiting to precede its next event.
    let mut detached: Vec<Vec<usize>> = vec![Vec::new(); plan.actors.len()];
    for (i, event) in events.iter().enumerate() {
        let from_external = match &event.kind {
            EventKind::Received { protocol, peer, .. } => names
                .owners
                .get(&(*protocol, peer.port()))
                .is_some_and(|&from| names.external[from]),
            _ => false,
        };
        if from_external {
            // A message an external program sent is placed by its sender's events, not
            // by the receiver's: an iterative server may read it long after it was sent.
            detached[event.actor].push(i);
        } else {
            if let Some(previous) = last[event.actor] {
                causes.push((previous, i, Cause::Program));
            }
            causes.extend(
                detached[event.actor]
                    .drain(..)
                    .map(|m| (m, i, Cause::Message)),
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
                .filter(|(_, c)| cause.is_none_or(|want| *c == want))
                .map(|&(p, _)| after[p])
                .max()
        };
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
        let causes_clock = latest(None).unwrap_or(0);
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
