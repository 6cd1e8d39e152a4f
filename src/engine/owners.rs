//! Port owners: which of the run's programs owns a port. On a network shared with the
//! machine, the run keeps only its own sockets; when an external program talks on a
//! port, the engine learns whose it is; and when a server is not ready, its sockets say
//! where it is instead (a port with its two bytes swapped: `htons()` forgotten).

use std::collections::HashSet;
use std::time::Instant;

use tokio::sync::mpsc;

use crate::observe::procnet;
use crate::record::{EventKind, Found, Protocol, SocketEntry, TCP_LISTEN, Unstarted};
use crate::sandbox::ports::PortMap;

use super::schedule::Status;
use super::{Engine, Message};

/// Which external program owns a port a reference actor talks to. The lookup runs in the
/// reference actor's own task, before it goes on: the program at the other end is still
/// running then (it waits for the reply), whereas by the time the engine gets to the
/// event a quick client may have exited and taken its socket with it.
#[derive(Default)]
pub(super) struct Owners {
    inner: std::sync::Mutex<OwnersInner>,
}

#[derive(Default)]
struct OwnersInner {
    /// Each external program's actor index and pid, from its spawn on.
    pids: Vec<(usize, u32)>,
    looked_up: HashSet<(Protocol, u16)>,
}

impl Owners {
    pub(super) fn add(&self, actor: usize, pid: u32) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.pids.push((actor, pid));
        }
    }

    /// A port whose owner is known from its owner's own ready event: no need to look.
    pub(super) fn claim(&self, key: (Protocol, u16)) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.looked_up.insert(key);
        }
    }

    /// [`Owners::learn`] for both ports of a captured TCP or UDP frame.
    pub(super) fn learn_from(&self, frame: &[u8], tx: &mpsc::UnboundedSender<Message>) {
        let Some((number, from, to)) = crate::observe::frame::flow(frame) else {
            return;
        };
        let protocol = match number {
            6 => Protocol::Tcp,
            17 => Protocol::Udp,
            _ => return,
        };
        for port in [from, to] {
            self.learn((protocol, port), tx);
        }
    }

    /// Looks a port up once, and reports its owner as a [`EventKind::Port`] event.
    pub(super) fn learn(&self, key: (Protocol, u16), tx: &mpsc::UnboundedSender<Message>) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.pids.is_empty() || !inner.looked_up.insert(key) {
            return;
        }
        let owner = inner.pids.iter().find_map(|&(actor, pid)| {
            procnet::sockets_of(&[pid], key.0)
                .iter()
                .any(|e| e.local.port() == key.1)
                .then_some(actor)
        });
        if let Some(actor) = owner {
            let port = EventKind::Port {
                protocol: key.0,
                port: key.1,
            };
            let _ = tx.send(Message::Event(actor, 0, Instant::now(), port));
        }
    }
}

impl Engine<'_> {
    /// Keeps, of a network's sockets, the run's: those on one of its ports (a server's, a
    /// client's connection to it, what is left in TIME_WAIT), and those of its actors (a
    /// reference client's, by its port; an external program's, by its descriptors).
    pub(super) fn keep_own(&self, sockets: &mut Vec<SocketEntry>, map: &PortMap) {
        let own: HashSet<u16> = map.own().collect();
        let programs: HashSet<u64> = self
            .slots
            .iter()
            .enumerate()
            .filter(|&(i, _)| self.scheduler.status(i) == Status::Running)
            .filter_map(|(_, s)| s.pid)
            .flat_map(procnet::socket_inodes)
            .collect();
        sockets.retain(|s| {
            own.contains(&s.local.port())
                || own.contains(&s.remote.port())
                // A port an actor of the run claimed, while that actor runs: once it has
                // ended, the port may be another program's.
                || self
                    .known_ports
                    .get(&(s.protocol, s.local.port()))
                    .is_some_and(|&a| self.scheduler.status(a) == Status::Running)
                || (s.inode != 0 && programs.contains(&s.inode))
        });
    }

    /// Why an actor is still not ready, with what its sockets show: the port it is on
    /// instead, and whether that is its own with the bytes swapped (`htons()` forgotten).
    pub(super) fn not_ready(&self, actor: usize) -> Unstarted {
        let plan = &self.plan.actors[actor];
        let (protocol, port) = (plan.protocol, plan.port());
        let found = self.slots[actor].pid.and_then(|pid| {
            procnet::sockets_of(&[pid], protocol)
                .iter()
                .find(|e| protocol == Protocol::Udp || e.state == TCP_LISTEN)
                .map(|e| Found::new(port, e.local.port()))
        });
        Unstarted::NotReady {
            role: plan.role.clone(),
            waited: self.plan.ready_timeout,
            protocol,
            port,
            server: plan.is_server(),
            found,
        }
    }
}
