//! Scheduling: which actor starts when. A plain state machine, with no I/O and no async:
//! it is told what the actors reach (started, ready, ended) and, when asked, decides from
//! the plan's start order and start conditions, the ready timeout and the time it is
//! given which actors start now, which never will and why, and when the servers stop.
//!
//! The engine carries the decisions out (it launches the actors, records the events, and
//! puts the reasons into words, looking at the sockets of an actor that is not ready).

use std::time::Instant;

use crate::scenario::{MilestoneKind, Plan};

/// Where an actor is in its life, as the scheduler knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Status {
    Pending,
    Running,
    Done,
}

/// What the engine is to do, in the order given.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Decision {
    /// Start `actor`, whose start conditions were met by the events `after` (their `seq`s,
    /// in order).
    Launch { actor: usize, after: Vec<usize> },
    /// Record that `actor` will never start. The scheduler counts it as ended by that
    /// event, the next `seq` in the record.
    NotStarted { actor: usize, why: Why },
    /// Every client is done: stop the servers.
    StopServers,
}

/// Why an actor will never start.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Why {
    /// It waits for `actor` to reach `what`, which it never will.
    NeverReached { actor: usize, what: MilestoneKind },
    /// It waits for `actor` to become ready, longer than the ready timeout.
    NotReady { actor: usize },
    /// Its clients were done before it could start.
    ClientsDone,
}

/// What the run looks like when the scheduler decides.
#[derive(Clone, Copy, Debug)]
pub(super) struct Moment {
    pub(super) now: Instant,
    /// The run timed out or was interrupted: what has not happened never will.
    pub(super) timed_out: bool,
    /// A checkpoint is waiting to be taken: it sees the sockets before anyone else starts.
    pub(super) checkpoint_due: bool,
    /// The `seq` the next recorded event gets.
    pub(super) next_seq: usize,
}

/// The start state of every actor of a plan.
pub(super) struct Scheduler {
    slots: Vec<Slot>,
    /// The actors not started yet, in plan order: what [`Scheduler::decide`] looks at.
    pending: Vec<usize>,
    /// How many actors are done, and how many clients are not.
    done: usize,
    clients_left: usize,
    shutting_down: bool,
    /// When the earliest start waiting for an actor to become ready gives up.
    ready_check: Option<Instant>,
}

struct Slot {
    status: Status,
    /// `seq` of the events that reached each milestone: started, ready, exited.
    reached: [Option<usize>; 3],
    waiting_since: Option<Instant>,
    is_server: bool,
}

impl Scheduler {
    pub(super) fn new(plan: &Plan) -> Self {
        Scheduler {
            slots: plan
                .actors
                .iter()
                .map(|actor| Slot {
                    status: Status::Pending,
                    reached: [None; 3],
                    waiting_since: None,
                    is_server: actor.is_server(),
                })
                .collect(),
            pending: (0..plan.actors.len()).collect(),
            done: 0,
            clients_left: plan.actors.iter().filter(|a| !a.is_server()).count(),
            shutting_down: false,
            ready_check: None,
        }
    }

    /// `actor` started, with the event `seq`.
    pub(super) fn started(&mut self, actor: usize, seq: usize) {
        self.slots[actor].reached[0] = Some(seq);
    }

    /// `actor` is ready, with the event `seq`; only its first ready event counts.
    pub(super) fn ready(&mut self, actor: usize, seq: usize) {
        self.slots[actor].reached[1].get_or_insert(seq);
    }

    /// `actor` ended, or will never start, with the event `seq`.
    pub(super) fn ended(&mut self, actor: usize, seq: usize) {
        let slot = &mut self.slots[actor];
        slot.reached[2] = Some(seq);
        if slot.status != Status::Done {
            slot.status = Status::Done;
            self.done += 1;
            if !slot.is_server {
                self.clients_left -= 1;
            }
        }
    }

    /// The `seq` of the event with which `actor` reached `what`.
    pub(super) fn reached(&self, actor: usize, what: MilestoneKind) -> Option<usize> {
        self.slots[actor].reached[milestone_index(what)]
    }

    pub(super) fn status(&self, actor: usize) -> Status {
        self.slots[actor].status
    }

    /// Every actor has ended or will never start.
    pub(super) fn all_done(&self) -> bool {
        self.done == self.slots.len()
    }

    /// When a start waiting for an actor to become ready is to be looked at again.
    pub(super) fn ready_check(&self) -> Option<Instant> {
        self.ready_check
    }

    /// Looks at every actor not started yet, in plan order, and decides. An actor that
    /// will never start counts as ended at once, so that the starts waiting on it later
    /// in the same look are decided too.
    pub(super) fn decide(&mut self, plan: &Plan, moment: Moment) -> Vec<Decision> {
        let mut decisions = Vec::new();
        let mut seq = moment.next_seq;
        self.ready_check = None;
        let pending = std::mem::take(&mut self.pending);
        for &i in &pending {
            if self.slots[i].status != Status::Pending {
                continue;
            }
            let actor = &plan.actors[i];
            let mut after = Vec::new();
            let mut blocked: Option<Why> = None;
            let mut waiting_on_ready = false;
            for m in &actor.start.after {
                let other = &self.slots[m.actor];
                match other.reached[milestone_index(m.what)] {
                    Some(seq) => after.push(seq),
                    None if other.status == Status::Done || moment.timed_out => {
                        blocked = Some(Why::NeverReached {
                            actor: m.actor,
                            what: m.what,
                        });
                    }
                    None => {
                        waiting_on_ready |=
                            m.what == MilestoneKind::Ready && other.status == Status::Running
                    }
                }
            }
            if blocked.is_none() && waiting_on_ready {
                let since = *self.slots[i].waiting_since.get_or_insert(moment.now);
                let give_up = since + plan.ready_timeout;
                self.ready_check = Some(self.ready_check.map_or(give_up, |at| at.min(give_up)));
                if moment.now.saturating_duration_since(since) >= plan.ready_timeout {
                    let waited = actor.start.after.iter().find(|m| {
                        m.what == MilestoneKind::Ready && self.slots[m.actor].reached[1].is_none()
                    });
                    if let Some(m) = waited {
                        blocked = Some(Why::NotReady { actor: m.actor });
                    }
                }
            }
            if let Some(why) = blocked {
                self.ended(i, seq);
                seq += 1;
                decisions.push(Decision::NotStarted { actor: i, why });
                continue;
            }
            if after.len() == actor.start.after.len() && !moment.checkpoint_due {
                after.sort_unstable();
                self.slots[i].status = Status::Running;
                self.slots[i].waiting_since = None;
                decisions.push(Decision::Launch { actor: i, after });
            }
        }
        self.pending = pending
            .into_iter()
            .filter(|&i| self.slots[i].status == Status::Pending)
            .collect();
        if self.clients_left == 0 && !self.shutting_down {
            self.shutting_down = true;
            decisions.push(Decision::StopServers);
        }
        // A server that never got to start cannot be waited for once its clients are done.
        if self.shutting_down {
            for i in std::mem::take(&mut self.pending) {
                self.ended(i, seq);
                seq += 1;
                decisions.push(Decision::NotStarted {
                    actor: i,
                    why: Why::ClientsDone,
                });
            }
        }
        decisions
    }
}

fn milestone_index(kind: MilestoneKind) -> usize {
    match kind {
        MilestoneKind::Started => 0,
        MilestoneKind::Ready => 1,
        MilestoneKind::Exited => 2,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;

    fn plan(text: &str) -> Plan {
        crate::scenario::parse(Path::new("t.toml"), text).expect("a valid scenario")
    }

    const PAIR: &str = r#"
[[server]]
protocol = "udp"
id = "A"
port = 4000

[[client]]
id = "B"
"#;

    fn moment(now: Instant, next_seq: usize) -> Moment {
        Moment {
            now,
            timed_out: false,
            checkpoint_due: false,
            next_seq,
        }
    }

    /// Server 0 starts and is ready, `client` starts and ends: events 0 to 3.
    fn first_client_served(plan: &Plan, client: usize) -> (Scheduler, Instant) {
        let mut s = Scheduler::new(plan);
        let t0 = Instant::now();
        s.decide(plan, moment(t0, 0));
        s.started(0, 0);
        s.ready(0, 1);
        s.decide(plan, moment(t0, 2));
        s.started(client, 2);
        s.ended(client, 3);
        (s, t0)
    }

    #[test]
    fn a_client_starts_once_its_server_is_ready() {
        let plan = plan(PAIR);
        let mut s = Scheduler::new(&plan);
        let t0 = Instant::now();
        assert_eq!(
            s.decide(&plan, moment(t0, 0)),
            [Decision::Launch {
                actor: 0,
                after: vec![]
            }]
        );
        s.started(0, 0);
        // Started, not ready: the client waits, and says when to look again.
        assert_eq!(s.decide(&plan, moment(t0, 1)), []);
        assert_eq!(s.ready_check(), Some(t0 + plan.ready_timeout));
        s.ready(0, 1);
        assert_eq!(s.reached(0, MilestoneKind::Ready), Some(1));
        assert_eq!(
            s.decide(&plan, moment(t0, 2)),
            [Decision::Launch {
                actor: 1,
                after: vec![1]
            }]
        );
        assert_eq!(s.status(1), Status::Running);
        assert_eq!(s.ready_check(), None);
    }

    #[test]
    fn servers_stop_when_the_last_client_ends() {
        let plan = plan(PAIR);
        let (mut s, t0) = first_client_served(&plan, 1);
        assert!(!s.all_done());
        assert_eq!(s.decide(&plan, moment(t0, 4)), [Decision::StopServers]);
        // Once only.
        assert_eq!(s.decide(&plan, moment(t0, 4)), []);
        s.ended(0, 4);
        assert!(s.all_done());
    }

    #[test]
    fn a_server_that_never_becomes_ready_blocks_its_client_after_the_ready_timeout() {
        let plan = plan(PAIR);
        let mut s = Scheduler::new(&plan);
        let t0 = Instant::now();
        s.decide(&plan, moment(t0, 0));
        s.started(0, 0);
        assert_eq!(s.decide(&plan, moment(t0, 1)), []);
        let later = t0 + plan.ready_timeout - Duration::from_millis(1);
        assert_eq!(s.decide(&plan, moment(later, 1)), []);
        // The wait started at the first look, not at the last one.
        assert_eq!(
            s.decide(&plan, moment(t0 + plan.ready_timeout, 1)),
            [
                Decision::NotStarted {
                    actor: 1,
                    why: Why::NotReady { actor: 0 }
                },
                Decision::StopServers,
            ]
        );
        assert_eq!(s.status(1), Status::Done);
        assert_eq!(s.reached(1, MilestoneKind::Exited), Some(1));
    }

    #[test]
    fn an_actor_that_never_starts_decides_the_starts_waiting_on_it_in_the_same_look() {
        // Clients only: `b` waits for `a` to become ready, `c` for `b` to end.
        let plan = plan(
            r#"
[[client]]
role = "a"
id = "A"
protocol = "udp"
port = 4000

[[client]]
role = "b"
id = "B"
protocol = "udp"
port = 4000
start-after = "a:ready"

[[client]]
role = "c"
id = "C"
protocol = "udp"
port = 4000
start-after = "b:exited"
"#,
        );
        let mut s = Scheduler::new(&plan);
        let t0 = Instant::now();
        s.decide(&plan, moment(t0, 0));
        s.started(0, 0);
        s.ended(0, 1);
        // `b` never starts, with event 2, which counts as its end: `c` starts after it.
        assert_eq!(
            s.decide(&plan, moment(t0, 2)),
            [
                Decision::NotStarted {
                    actor: 1,
                    why: Why::NeverReached {
                        actor: 0,
                        what: MilestoneKind::Ready
                    }
                },
                Decision::Launch {
                    actor: 2,
                    after: vec![2]
                },
            ]
        );
    }

    #[test]
    fn a_due_checkpoint_holds_starts_back_and_a_timeout_blocks_them() {
        let plan = plan(PAIR);
        let mut s = Scheduler::new(&plan);
        let t0 = Instant::now();
        let held = Moment {
            checkpoint_due: true,
            ..moment(t0, 0)
        };
        assert_eq!(s.decide(&plan, held), []);
        assert_eq!(s.status(0), Status::Pending);
        let over = Moment {
            timed_out: true,
            ..moment(t0, 0)
        };
        assert_eq!(
            s.decide(&plan, over),
            [
                Decision::Launch {
                    actor: 0,
                    after: vec![]
                },
                Decision::NotStarted {
                    actor: 1,
                    why: Why::NeverReached {
                        actor: 0,
                        what: MilestoneKind::Ready
                    }
                },
                Decision::StopServers,
            ]
        );
    }

    #[test]
    fn a_server_still_waiting_when_its_clients_are_done_never_starts() {
        let plan = plan(
            r#"
[[server]]
protocol = "udp"
id = "A"
port = 4000

[[server]]
role = "late"
protocol = "udp"
id = "Z"
port = 4001
start-after = "server1:exited"

[[client]]
id = "B"
server = "server1"
"#,
        );
        let (mut s, t0) = first_client_served(&plan, 2);
        assert_eq!(
            s.decide(&plan, moment(t0, 4)),
            [
                Decision::StopServers,
                Decision::NotStarted {
                    actor: 1,
                    why: Why::ClientsDone
                },
            ]
        );
        assert_eq!(s.status(1), Status::Done);
    }
}
