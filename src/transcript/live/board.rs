//! The status board: what each actor of a run is doing (waiting to start and on what,
//! delayed, running, ready, sleeping and how long is left, ended and how), fed with the
//! run's events, and rendered as status lines that fit the terminal. Hands those lines to
//! the painter; it draws nothing itself.

use std::time::Duration;

use crate::record::{Protocol, scaled};
use crate::scenario::{MilestoneKind, Plan, duration};
use crate::transcript::{Event, EventKind, Outcome, describe};

/// What an actor is doing, as far as its events tell.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum State {
    /// Not started: these milestones (`server:ready`) have not been reached yet.
    Waiting {
        on: Vec<String>,
    },
    /// Its start conditions hold; it starts once its start delay is over: at `until`
    /// (since the view began), or, at time scale 0, when the virtual clock gets there.
    Delayed {
        delay: Duration,
        until: Option<Duration>,
    },
    Running,
    /// Listening, bound, connected.
    Ready(&'static str),
    /// It ended; `ok` when by itself with status 0, or stopped by labrun.
    Exited {
        how: String,
        ok: bool,
    },
    /// It never started.
    NotStarted {
        reason: String,
    },
}

/// A declared delay being waited out by one lane of an actor.
#[derive(Clone, Debug, PartialEq)]
struct Sleep {
    lane: u32,
    declared: Duration,
    /// When the real sleep ends, since the view began; `None` at time scale 0.
    until: Option<Duration>,
}

/// What every actor of a run is doing.
#[derive(Clone, Debug)]
pub(crate) struct Board {
    actors: Vec<Slot>,
    time_scale: f64,
}

#[derive(Clone, Debug)]
struct Slot {
    role: String,
    /// The label of what a `Ready` event means for this actor, if it means anything.
    ready: Option<&'static str>,
    after: Vec<(usize, MilestoneKind)>,
    delay: Duration,
    /// Milestones reached: started, ready, exited.
    reached: [bool; 3],
    state: State,
    sleeps: Vec<Sleep>,
}

impl Board {
    /// Every actor waiting for its start, as at the beginning of the run.
    pub(crate) fn new(plan: &Plan, time_scale: f64) -> Self {
        let actors = plan
            .actors
            .iter()
            .map(|a| Slot {
                role: a.role.clone(),
                ready: match (a.is_server(), a.protocol) {
                    (true, Protocol::Tcp) => Some("listening"),
                    (true, Protocol::Udp) => Some("bound"),
                    (false, Protocol::Tcp) => Some("connected"),
                    (false, Protocol::Udp) => None,
                },
                after: a.start.after.iter().map(|m| (m.actor, m.what)).collect(),
                delay: a.start.delay,
                reached: [false; 3],
                state: State::Waiting { on: Vec::new() },
                sleeps: Vec::new(),
            })
            .collect();
        let mut board = Board { actors, time_scale };
        board.update_waiting(Duration::ZERO);
        board
    }

    /// Takes `event` into account; `now` is the time since the view began.
    pub(crate) fn observe(&mut self, event: &Event, now: Duration) {
        let Some(slot) = self.actors.get_mut(event.actor) else {
            return;
        };
        let mut milestone = true;
        match &event.kind {
            EventKind::Started { .. } => {
                slot.reached[0] = true;
                slot.state = State::Running;
            }
            EventKind::Ready { .. } => {
                slot.reached[1] = true;
                if let (Some(label), State::Running | State::Ready(_)) = (slot.ready, &slot.state) {
                    slot.state = State::Ready(label);
                }
            }
            EventKind::Exited { outcome } => {
                slot.reached[2] = true;
                slot.sleeps.clear();
                slot.state = State::Exited {
                    how: describe(outcome),
                    ok: matches!(outcome, Outcome::Exited { code: 0 } | Outcome::Stopped),
                };
            }
            EventKind::NotStarted { reason } => {
                slot.sleeps.clear();
                slot.state = State::NotStarted {
                    reason: reason.to_string(),
                };
            }
            EventKind::Slept { declared } => {
                milestone = false;
                let real = scaled(*declared, self.time_scale);
                slot.sleeps.push(Sleep {
                    lane: event.lane,
                    declared: *declared,
                    until: (self.time_scale > 0.0).then_some(now + real),
                });
            }
            EventKind::Woke => {
                milestone = false;
                if let Some(i) = slot.sleeps.iter().position(|s| s.lane == event.lane) {
                    slot.sleeps.remove(i);
                }
            }
            EventKind::Line { .. }
            | EventKind::Sent { .. }
            | EventKind::Received { .. }
            | EventKind::Port { .. }
            | EventKind::OutputCut { .. } => milestone = false,
        }
        if milestone {
            self.update_waiting(now);
        }
    }

    /// Whether something counts down, so that the view must be redrawn as time passes.
    pub(crate) fn ticking(&self, now: Duration) -> bool {
        self.actors.iter().any(|slot| {
            slot.sleeps.iter().any(|s| s.until.is_some_and(|u| u > now))
                || matches!(slot.state, State::Delayed { until: Some(u), .. } if u > now)
        })
    }

    /// The status area at `now`: at most `rows` lines (but at least one when there are
    /// actors), each shorter than `width` characters so that none wraps. With more actors
    /// than rows, the roles that differ only by their number are summarised together
    /// (`client1…client1000  12 running, 988 done`).
    pub(crate) fn render(&self, now: Duration, width: usize, rows: usize) -> Vec<String> {
        let rows = rows.max(1);
        let mut labelled: Vec<(String, String)> = if self.actors.len() <= rows {
            self.actors
                .iter()
                .map(|slot| (slot.role.clone(), self.status(slot, now)))
                .collect()
        } else {
            self.groups()
                .iter()
                .map(|group| match group.as_slice() {
                    [one] => (
                        self.actors[*one].role.clone(),
                        self.status(&self.actors[*one], now),
                    ),
                    many => self.summary(many),
                })
                .collect()
        };
        if labelled.len() > rows {
            let hidden: usize = labelled.len() - (rows - 1);
            labelled.truncate(rows - 1);
            labelled.push(("…".into(), format!("and {hidden} more")));
        }
        let column = labelled
            .iter()
            .map(|(label, _)| label.chars().count())
            .max()
            .unwrap_or(0);
        labelled
            .into_iter()
            .map(|(label, status)| {
                let pad = column - label.chars().count();
                fit(&format!("{label}{}  {status}", " ".repeat(pad)), width)
            })
            .collect()
    }

    /// What one actor is doing, in words.
    fn status(&self, slot: &Slot, now: Duration) -> String {
        if !slot.sleeps.is_empty() {
            let next = slot
                .sleeps
                .iter()
                .min_by_key(|s| s.until.unwrap_or(Duration::MAX))
                .unwrap_or(&slot.sleeps[0]);
            let lanes = match slot.sleeps.len() {
                1 => String::new(),
                n => format!(" ({n} clients)"),
            };
            return match next.until {
                Some(until) => format!(
                    "sleeping {}{lanes}, {} left",
                    duration::display(next.declared),
                    seconds(until.saturating_sub(now))
                ),
                None => format!(
                    "sleeping {}{lanes} (scenario time, no real wait)",
                    duration::display(next.declared)
                ),
            };
        }
        match &slot.state {
            State::Waiting { on } if on.is_empty() => "waiting to start".into(),
            State::Waiting { on } => format!("waiting for {}", on.join(", ")),
            State::Delayed { until: None, delay } => {
                format!("starting after its delay of {}", duration::display(*delay))
            }
            State::Delayed {
                until: Some(until),
                delay,
            } if *until > now => format!(
                "starting in {} (delay {})",
                seconds(until.saturating_sub(now)),
                duration::display(*delay)
            ),
            State::Delayed { .. } => "starting".into(),
            State::Running => "running".into(),
            State::Ready(label) => (*label).into(),
            State::Exited { how, .. } => how.clone(),
            State::NotStarted { reason } => format!("not started: {reason}"),
        }
    }

    /// The actors grouped by role stem (the role without its trailing number), groups in
    /// the order of their first actor.
    fn groups(&self) -> Vec<Vec<usize>> {
        let mut groups: Vec<(&str, Vec<usize>)> = Vec::new();
        for (i, slot) in self.actors.iter().enumerate() {
            let stem = slot.role.trim_end_matches(|c: char| c.is_ascii_digit());
            match groups.iter_mut().find(|(s, _)| *s == stem) {
                Some((_, members)) => members.push(i),
                None => groups.push((stem, vec![i])),
            }
        }
        groups.into_iter().map(|(_, members)| members).collect()
    }

    /// `client1…client1000` and how many of them are in each state.
    fn summary(&self, members: &[usize]) -> (String, String) {
        let first = &self.actors[members[0]].role;
        let last = &self.actors[members[members.len() - 1]].role;
        let label = if first == last {
            format!("{first} ×{}", members.len())
        } else {
            format!("{first}…{last}")
        };
        // waiting, running, sleeping, done, failed, not started
        let mut counts = [0usize; 6];
        for &i in members {
            let slot = &self.actors[i];
            let at = if !slot.sleeps.is_empty() {
                2
            } else {
                match &slot.state {
                    State::Waiting { .. } | State::Delayed { .. } => 0,
                    State::Running | State::Ready(_) => 1,
                    State::Exited { ok: true, .. } => 3,
                    State::Exited { ok: false, .. } => 4,
                    State::NotStarted { .. } => 5,
                }
            };
            counts[at] += 1;
        }
        let names = [
            "waiting",
            "running",
            "sleeping",
            "done",
            "failed",
            "not started",
        ];
        let parts: Vec<String> = counts
            .iter()
            .zip(names)
            .filter(|(n, _)| **n > 0)
            .map(|(n, name)| format!("{n} {name}"))
            .collect();
        (label, parts.join(", "))
    }

    /// Moves the actors whose start conditions now hold from waiting to their delay, and
    /// updates what the others still wait for.
    fn update_waiting(&mut self, now: Duration) {
        let mut changes = Vec::new();
        for (i, slot) in self.actors.iter().enumerate() {
            if !matches!(slot.state, State::Waiting { .. }) {
                continue;
            }
            let on: Vec<String> = slot
                .after
                .iter()
                .filter(|(actor, what)| {
                    !self
                        .actors
                        .get(*actor)
                        .is_some_and(|a| a.reached[milestone_index(*what)])
                })
                .map(|(actor, what)| {
                    let role = self.actors.get(*actor).map_or("?", |a| a.role.as_str());
                    format!("{role}:{}", MilestoneKind::NAMES[milestone_index(*what)])
                })
                .collect();
            let state = if on.is_empty() {
                State::Delayed {
                    delay: slot.delay,
                    until: (self.time_scale > 0.0 || slot.delay.is_zero())
                        .then(|| now + scaled(slot.delay, self.time_scale)),
                }
            } else {
                State::Waiting { on }
            };
            if state != slot.state {
                changes.push((i, state));
            }
        }
        for (i, state) in changes {
            self.actors[i].state = state;
        }
    }
}

fn milestone_index(what: MilestoneKind) -> usize {
    match what {
        MilestoneKind::Started => 0,
        MilestoneKind::Ready => 1,
        MilestoneKind::Exited => 2,
    }
}

/// `1.3s`: a time left, to the tenth.
fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// `line` cut to fewer than `width` characters (a line as wide as the terminal would wrap
/// on some terminals, and the status area would no longer know its height).
fn fit(line: &str, width: usize) -> String {
    crate::term::fit(line, width.saturating_sub(1).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> Plan {
        crate::scenario::parse(std::path::Path::new("t.toml"), text).expect("a valid scenario")
    }

    fn event(actor: usize, kind: EventKind) -> Event {
        Event {
            seq: 0,
            at: Duration::ZERO,
            actor,
            lane: 0,
            kind,
        }
    }

    fn started() -> EventKind {
        EventKind::Started {
            args: vec![],
            external: false,
            after: vec![],
            delay: Duration::ZERO,
        }
    }

    fn ready() -> EventKind {
        EventKind::Ready {
            protocol: Protocol::Tcp,
            local: "0.0.0.0:4000".parse().unwrap(),
            peer: None,
        }
    }

    fn exited(code: i32) -> EventKind {
        EventKind::Exited {
            outcome: Outcome::Exited { code },
        }
    }

    const TCP: &str = "[[server]]\nprotocol = \"tcp\"\nid = \"A\"\nport = 4000\n\
                       reply-delay = \"2s\"\n[[client]]\nid = \"B\"\n";

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_client_waits_for_its_server_to_be_ready() {
        let plan = plan(TCP);
        let mut board = Board::new(&plan, 1.0);
        assert_eq!(
            board.render(ms(0), 80, 10),
            ["server  starting", "client  waiting for server:ready"]
        );
        board.observe(&event(0, started()), ms(1));
        board.observe(&event(0, ready()), ms(2));
        assert_eq!(
            board.render(ms(3), 80, 10),
            ["server  listening", "client  starting"]
        );
    }

    #[test]
    fn a_sleep_shows_the_real_time_left_at_the_time_scale() {
        let plan = plan(TCP);
        let mut board = Board::new(&plan, 0.5);
        board.observe(&event(0, started()), ms(0));
        board.observe(&event(0, ready()), ms(0));
        let slept = EventKind::Slept {
            declared: Duration::from_secs(2),
        };
        board.observe(&event(0, slept), ms(100));
        // 2 s declared at scale 0.5 is 1 s of real sleep, from 0.1 s: 0.7 s left at 0.4 s.
        assert_eq!(
            board.render(ms(400), 80, 10)[0],
            "server  sleeping 2s, 0.7s left"
        );
        assert!(board.ticking(ms(400)));
        board.observe(&event(0, EventKind::Woke), ms(1100));
        assert_eq!(board.render(ms(1100), 80, 10)[0], "server  listening");
        assert!(!board.ticking(ms(1100)), "an idle board does not tick");
    }

    #[test]
    fn at_time_scale_zero_a_sleep_has_no_countdown() {
        let plan = plan(TCP);
        let mut board = Board::new(&plan, 0.0);
        board.observe(&event(0, started()), ms(0));
        let slept = EventKind::Slept {
            declared: Duration::from_secs(2),
        };
        board.observe(&event(0, slept), ms(0));
        assert_eq!(
            board.render(ms(0), 80, 10)[0],
            "server  sleeping 2s (scenario time, no real wait)"
        );
        assert!(!board.ticking(ms(0)));
    }

    #[test]
    fn a_start_delay_counts_down_once_the_conditions_hold() {
        let plan = plan(
            "[[server]]\nprotocol = \"udp\"\nid = \"A\"\nport = 4000\n\
             [[client]]\nid = \"B\"\nstart-delay = \"3s\"\n",
        );
        let mut board = Board::new(&plan, 1.0);
        board.observe(&event(0, started()), ms(0));
        board.observe(&event(0, ready()), ms(500));
        assert_eq!(
            board.render(ms(1000), 80, 10),
            ["server  bound", "client  starting in 2.5s (delay 3s)"]
        );
        assert!(board.ticking(ms(1000)));
    }

    #[test]
    fn exits_and_skips_say_how() {
        let plan = plan(TCP);
        let mut board = Board::new(&plan, 1.0);
        board.observe(&event(0, started()), ms(0));
        board.observe(
            &event(
                0,
                EventKind::Exited {
                    outcome: Outcome::Stopped,
                },
            ),
            ms(0),
        );
        board.observe(
            &event(
                1,
                EventKind::NotStarted {
                    reason: crate::record::Unstarted::NeverStarted {
                        role: "server".into(),
                    },
                },
            ),
            ms(0),
        );
        assert_eq!(
            board.render(ms(0), 80, 10),
            [
                "server  stopped by labrun: its clients were done",
                "client  not started: `server` never started"
            ]
        );
    }

    #[test]
    fn many_clients_are_summarised_within_the_rows() {
        let plan = plan(
            "[[server]]\nprotocol = \"tcp\"\nid = \"A\"\nport = 4000\n\
             [[client]]\nid = \"c\"\ncount = 1000\n",
        );
        assert_eq!(plan.actors.len(), 1001);
        let mut board = Board::new(&plan, 1.0);
        board.observe(&event(0, started()), ms(0));
        board.observe(&event(0, ready()), ms(0));
        for client in 1..=1000 {
            board.observe(&event(client, started()), ms(0));
            if client > 12 {
                board.observe(&event(client, exited(i32::from(client == 20))), ms(0));
            }
        }
        assert_eq!(
            board.render(ms(0), 80, 8),
            [
                "server              listening",
                "client1…client1000  12 running, 987 done, 1 failed"
            ]
        );
    }

    #[test]
    fn too_many_roles_end_with_how_many_are_hidden() {
        let mut text = String::new();
        for (i, name) in ["alpha", "beta", "gamma", "delta", "epsilon"]
            .iter()
            .enumerate()
        {
            text.push_str(&format!(
                "[[server]]\nrole = \"{name}\"\nprotocol = \"udp\"\nid = \"{i}\"\nport = {}\n",
                4000 + i
            ));
        }
        let plan = plan(&text);
        let board = Board::new(&plan, 1.0);
        let lines = board.render(ms(0), 80, 3);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[2], "…      and 3 more");
        assert_eq!(board.render(ms(0), 80, 0).len(), 1, "always one line");
    }

    #[test]
    fn lines_are_cut_to_the_width() {
        let plan = plan(TCP);
        let board = Board::new(&plan, 1.0);
        let lines = board.render(ms(0), 20, 10);
        assert_eq!(lines[1], "client  waiting fo…");
        assert!(lines.iter().all(|l| l.chars().count() < 20));
        assert_eq!(fit("é→x", 1), "…");
        assert_eq!(fit("short", 80), "short");
    }
}
