//! The incremental transcript: a run's events turned into transcript lines one at a time,
//! as they happen, with what names things (starts, readiness, ports) learnt as it comes.
//! Hands each line to the painter, which prints it above the status area.

use crate::record::Packet;
use crate::scenario::Plan;
use crate::transcript::observed::Reader;
use crate::transcript::{Event, EventKind, Names};

/// Renders events one at a time, as they happen, for a live view. Times are wall-clock
/// seconds since the start and ports are shown as far as they are known so far.
pub(crate) struct Live<'p> {
    plan: &'p Plan,
    /// The events that name things: starts, readiness, ports. Only they change `names`.
    naming: Vec<Event>,
    names: Names,
    /// The packets so far, for their relative sequence numbers and TCP states.
    packets: Reader,
    width: usize,
}

impl<'p> Live<'p> {
    pub(crate) fn new(plan: &'p Plan) -> Self {
        let width = plan
            .actors
            .iter()
            .map(|a| a.role.len())
            .max()
            .unwrap_or(6)
            .max(6);
        Live {
            plan,
            naming: Vec::new(),
            names: Names::new(plan, &[]),
            packets: Reader::default(),
            width,
        }
    }

    /// The line for a captured packet, as the transcript writes it (wall-clock time).
    pub(crate) fn packet_line(&mut self, packet: &Packet) -> Option<String> {
        let tenths = (packet.at.as_millis() / 100) as u64;
        self.packets
            .line(self.plan, &self.names, packet, tenths)
            .map(|e| e.render(self.width))
    }

    /// The line for `event`, if it is one a person should see.
    pub(crate) fn line(&mut self, event: &Event) -> Option<String> {
        if matches!(
            event.kind,
            EventKind::Started { .. } | EventKind::Ready { .. } | EventKind::Port { .. }
        ) {
            self.naming.push(event.clone());
            self.names = Names::new(self.plan, &self.naming);
        }
        let tenths = (event.at.as_millis() / 100) as u64;
        self.names
            .entry(self.plan, event, tenths)
            .map(|e| e.render(self.width))
    }
}
