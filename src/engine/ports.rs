//! A run on a network it shares with the machine uses ports of its own
//! ([`PortMap`]): the plan it runs has them in place of the declared ones, and its record
//! gets the declared ones back, in every event, socket row and packet, so that what
//! follows (transcript, checks, snapshots) never knows.

use std::net::SocketAddr;

use crate::observe::frame;
use crate::record::{EventKind, Found, Outcome, Unstarted};
use crate::sandbox::ports::PortMap;
use crate::scenario::{ActorKind, Plan};

use super::RunRecord;

/// `plan` with the run's real ports in place of the declared ones.
pub(super) fn apply(plan: &Plan, map: &PortMap) -> Plan {
    let mut real = plan.clone();
    for actor in &mut real.actors {
        if let ActorKind::Server { port, .. } | ActorKind::Client { port, .. } = &mut actor.kind {
            *port = map.real(*port);
        }
    }
    real
}

/// `record` with the declared ports in place of the real ones.
pub(super) fn translate(mut record: RunRecord, map: &PortMap) -> RunRecord {
    let port = |p: u16| map.declared(p).unwrap_or(p);
    let address = |a: &mut SocketAddr| a.set_port(port(a.port()));
    for event in &mut record.events {
        match &mut event.kind {
            EventKind::Started { args, .. } => {
                for arg in args {
                    *arg = text(arg, map);
                }
            }
            EventKind::Ready { local, peer, .. } => {
                address(local);
                if let Some(peer) = peer {
                    address(peer);
                }
            }
            EventKind::Line { text: line, .. } => *line = text(line, map),
            EventKind::Sent { peer, .. } | EventKind::Received { peer, .. } => address(peer),
            EventKind::Port { port: p, .. } => *p = port(*p),
            EventKind::NotStarted {
                reason: Unstarted::NotReady { port: p, found, .. },
            } => {
                *p = port(*p);
                if let Some(Found::Elsewhere { found } | Found::PortSwapped { found }) = found {
                    *found = port(*found);
                }
            }
            EventKind::Exited {
                outcome: Outcome::SpawnFailed { reason },
            } => *reason = text(reason, map),
            EventKind::NotStarted { .. }
            | EventKind::Slept { .. }
            | EventKind::Woke
            | EventKind::OutputCut { .. }
            | EventKind::Exited { .. } => {}
        }
    }
    for sample in &mut record.checkpoints {
        for socket in &mut sample.sockets {
            address(&mut socket.local);
            address(&mut socket.remote);
        }
    }
    for packet in &mut record.packets {
        frame::rewrite_ports(&mut packet.data, |p| map.declared(p));
    }
    record
}

/// `text` with every whole number that is one of the run's real ports replaced by its
/// declared port: programs print their ports (`envoie a (127.0.0.1,4000)`).
fn text(text: &str, map: &PortMap) -> String {
    crate::record::replace_numbers(text, |digits| {
        // `04000` is not a port a program prints; a run's ports are 2048 and above, so the
        // bytes of an address (127.0.0.1) are never taken for one.
        if digits.starts_with('0') {
            return None;
        }
        let real: u16 = digits.parse().ok()?;
        if real < 1_024 {
            return None;
        }
        let declared = map.declared(real)?;
        Some(declared.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_ports_read_as_declared() {
        let map = PortMap::reserve(&[4000]).expect("free ports");
        let real = map.real(4000);
        let swapped = real.swap_bytes();
        let line =
            format!("envoie a (127.0.0.1,{real}) : # B=000; port {swapped}, 0{real}, 1{real}");
        assert_eq!(
            text(&line, &map),
            format!("envoie a (127.0.0.1,4000) : # B=000; port 40975, 0{real}, 1{real}")
        );
    }
}
