//! Running one [`Plan`]: start order, readiness, delays, timeouts, shutdown, events.
//!
//! The engine starts each actor when its start conditions hold, collects what every actor
//! reports on one channel, and stops the servers once their clients are done. It never
//! prints: every event goes to the caller's observer, then into the returned record.
//!
//! This file owns the loop of a run and its record; the rest is in:
//!
//! - `drive`: each actor's task, from its start delay to its end (the async part).
//! - `schedule`: which actor starts when, as a plain state machine with tests of its own.
//! - `quiet`: when the run is quiet, for the virtual clock and the checkpoints.
//! - `owners`: which of the run's programs owns a port, and the run's own sockets.
//! - `ports`: on a shared network, the real ports in the plan and the declared ones in
//!   the record.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::actor::ExternalCommand;
use crate::actor::pace::{Pace, VirtualClock};
use crate::observe::capture::Capture;
use crate::observe::procnet;
use crate::record::{
    Event, EventKind, NotKept, Packet, Protocol, RunRecord, Sample, Seen, Unstarted,
};
use crate::sandbox::Hosts;
use crate::sandbox::ports::PortMap;
use crate::scenario::{MilestoneKind, Plan, When};

use owners::Owners;
use quiet::SETTLE_EXTERNAL;
use schedule::{Decision, Moment, Scheduler, Why};

mod drive;
mod owners;
mod ports;
mod quiet;
mod schedule;

/// Settings of one run that do not come from the scenario file.
#[derive(Clone, Debug)]
pub(crate) struct RunOptions {
    /// Multiplies the reference actors' declared delays; 0 means no waiting.
    pub time_scale: f64,
    /// The external program playing each actor, by actor index; `None` for the reference.
    pub externals: Vec<Option<ExternalCommand>>,
    /// Capture the packets on `lo`.
    pub capture: bool,
    /// Where the run shares the machine's network: the ports it uses in place of the
    /// declared ones. The socket tables and the capture then keep only the run's own
    /// sockets and packets, and the record shows the declared ports. `None` in a private
    /// network, where everything is the run's.
    pub shared: Option<Arc<PortMap>>,
    /// How the lookups of exercise 1.1 reach the scenario's `[[host]]` tables.
    pub hosts: Hosts,
}

/// Why a run could not take place at all.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("cannot create a working directory for the run")]
    Workdir(#[source] std::io::Error),
}

/// Runs `plan`, calling `observer` with each event as it is recorded and each packet as it
/// is captured.
pub(crate) fn run(
    plan: &Plan,
    options: &RunOptions,
    observer: &mut dyn FnMut(Seen<'_>),
) -> Result<RunRecord, EngineError> {
    raise_open_files_limit(plan.actors.len());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(EngineError::Runtime)?;
    // Only external programs need one (an empty folder costs milliseconds to remove).
    let workdir = options
        .externals
        .iter()
        .any(Option::is_some)
        .then(RunDir::create)
        .transpose()
        .map_err(EngineError::Workdir)?;
    let path = workdir.as_ref().map(|w| w.0.clone()).unwrap_or_default();
    if let (Some(dir), Hosts::Tables { .. }, Some(hosts)) = (&workdir, &options.hosts, &plan.hosts)
    {
        // nss_wrapper reads no comment lines.
        let text: String = crate::scenario::hosts_file(hosts)
            .lines()
            .filter(|line| !line.starts_with('#'))
            .map(|line| format!("{line}\n"))
            .collect();
        std::fs::write(dir.0.join(HOSTS_FILE), text).map_err(EngineError::Workdir)?;
    }
    let Some(map) = &options.shared else {
        return Ok(runtime.block_on(Engine::new(plan, options, path).run(observer)));
    };
    let real = ports::apply(plan, map);
    let record = runtime.block_on(Engine::new(&real, options, path).run(observer));
    Ok(ports::translate(record, map))
}

/// Each client takes two of labrun's file descriptors (its socket, and the server's end of
/// a TCP connection) besides a few for the run itself: a thousand clients need more than
/// the usual soft limit of 1024. Raises the soft limit as far as the hard one when the
/// plan needs it; what cannot be had shows as the actors' `Too many open files` errors.
fn raise_open_files_limit(actors: usize) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let wanted = u64::try_from(actors)
        .unwrap_or(u64::MAX)
        .saturating_mul(2)
        .saturating_add(256);
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < wanted
        && soft < hard
        && let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
    {
        tracing::warn!("cannot raise the limit on open files from {soft} to {hard}: {e}");
    }
}

/// The hosts file of [`Hosts::Tables`] runs, in the run's directory.
const HOSTS_FILE: &str = "hosts";

/// A scratch directory for external programs, removed when the run ends.
struct RunDir(PathBuf);

impl RunDir {
    fn create() -> std::io::Result<Self> {
        // In labrun's scratch folder: removed by a later labrun if this one is killed.
        let path = crate::scratch::folder("run-")
            .map_err(std::io::Error::other)?
            .keep();
        // labrun's own: each program gets a folder of its own inside (see `external`),
        // which it can reach but no other; nobody can list what is here.
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o711))?;
        crate::sandbox::pids::mount_program_tmp(&path.join(".tmp"));
        Ok(RunDir(path))
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        crate::sandbox::pids::unmount_program_tmp(&self.0.join(".tmp"));
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

enum Message {
    /// An event of an actor, in one of its lanes.
    Event(usize, u32, Instant, EventKind),
    Pid(usize, u32),
    Packet(Packet),
    /// A checkpoint's time has come.
    Checkpoint(usize),
}

/// How the engine reaches one actor's task; where the actor is in its life is the
/// [`Scheduler`]'s.
struct Slot {
    /// Servers stop when this is cancelled and they are idle.
    stop: CancellationToken,
    /// Everything stops at once when this is cancelled (run timeout).
    kill: CancellationToken,
    pid: Option<u32>,
}

struct Engine<'a> {
    plan: &'a Plan,
    options: &'a RunOptions,
    workdir: PathBuf,
    slots: Vec<Slot>,
    events: Vec<Event>,
    tx: mpsc::UnboundedSender<Message>,
    rx: mpsc::UnboundedReceiver<Message>,
    start: Instant,
    known_ports: HashMap<(Protocol, u16), usize>,
    owners: Arc<Owners>,
    /// Which actor starts when.
    scheduler: Scheduler,
    timed_out: bool,
    /// SIGINT or SIGTERM came: everything is being stopped, as at the run's timeout.
    interrupted: Arc<std::sync::atomic::AtomicI32>,
    pace: Pace,
    last_activity: Instant,
    /// The kernel had packets on their way at the last look: wait a whole quiet period.
    patient: bool,
    /// Every actor has ended (external programs included).
    programs_done: bool,
    /// Reference work running outside the runtime (name lookups on blocking threads).
    offloaded: Arc<std::sync::atomic::AtomicUsize>,
    packets: Vec<Packet>,
    capture_stop: CancellationToken,
    samples: Vec<Sample>,
    /// Checkpoints due, with their trigger, waiting for the sockets to settle.
    due: Vec<(usize, Option<usize>)>,
    /// Whether something a start may wait for has happened since the last schedule: with
    /// a thousand actors, looking at every start condition after every event would cost
    /// more than the run.
    dirty: bool,
}

impl<'a> Engine<'a> {
    fn new(plan: &'a Plan, options: &'a RunOptions, workdir: PathBuf) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let slots = plan
            .actors
            .iter()
            .map(|_| Slot {
                stop: CancellationToken::new(),
                kill: CancellationToken::new(),
                pid: None,
            })
            .collect();
        Engine {
            plan,
            options,
            workdir,
            slots,
            events: Vec::new(),
            tx,
            rx,
            start: Instant::now(),
            known_ports: HashMap::new(),
            owners: Arc::default(),
            scheduler: Scheduler::new(plan),
            timed_out: false,
            interrupted: Arc::default(),
            pace: if options.time_scale > 0.0 {
                Pace::Real {
                    scale: options.time_scale,
                }
            } else {
                Pace::Virtual(VirtualClock::new())
            },
            last_activity: Instant::now(),
            patient: false,
            programs_done: false,
            offloaded: Arc::default(),
            packets: Vec::new(),
            capture_stop: CancellationToken::new(),
            samples: Vec::new(),
            due: Vec::new(),
            dirty: true,
        }
    }

    async fn run(mut self, observer: &mut dyn FnMut(Seen<'_>)) -> RunRecord {
        let deadline = self.start + self.plan.timeout;
        let tracker = tokio_util::task::TaskTracker::new();
        let (capture, capture_error) = self.start_capture(&tracker);
        self.start_timed_checkpoints(&tracker);
        let mut interrupt = Signals::listen();
        loop {
            if let Some(signal) = crate::signals::received()
                && self.interrupted() == 0
            {
                self.halt(signal);
            }
            // Recording a start that cannot happen may unblock or block others: again.
            while self.dirty {
                self.dirty = false;
                self.schedule(&tracker, observer);
            }
            if self.scheduler.all_done() {
                break;
            }
            let settle = self.settle_at();
            let wake = settle.map_or(self.next_wake(deadline), |s| {
                s.min(self.next_wake(deadline))
            });
            // Due now, nothing to read: no timer needed (and none of its tick's rounding).
            if wake <= Instant::now() && self.rx.is_empty() {
                self.woken(deadline, settle).await;
                continue;
            }
            tokio::select! {
                message = self.rx.recv() => match message {
                    Some(Message::Event(actor, lane, at, kind)) => {
                        self.last_activity = Instant::now();
                        self.record(actor, lane, at, kind, observer);
                    }
                    Some(Message::Pid(actor, pid)) => self.slots[actor].pid = Some(pid),
                    Some(Message::Packet(packet)) => {
                        self.last_activity = Instant::now();
                        observer(Seen::Packet(&packet));
                        self.packets.push(packet);
                    }
                    Some(Message::Checkpoint(index)) => self.due.push((index, None)),
                    None => break,
                },
                () = tokio::time::sleep_until(wake.into()) => self.woken(deadline, settle).await,
                signal = interrupt.next() => self.halt(signal),
            }
        }
        // The last packets (a final ACK) and the sockets left behind (TIME_WAIT). Every
        // program has ended: only the kernel may still be at work, or a process one left
        // behind, whose packets must not keep the run going.
        self.programs_done = true;
        let give_up = Instant::now() + SETTLE_EXTERNAL;
        loop {
            while let Ok(message) = self.rx.try_recv() {
                if let Message::Packet(packet) = message {
                    observer(Seen::Packet(&packet));
                    self.packets.push(packet);
                }
            }
            if self.settled().await || Instant::now() >= give_up {
                break;
            }
            if self.rx.is_empty() {
                self.last_activity = Instant::now();
                let quiet = self.last_activity + self.quiet_period();
                tokio::time::sleep_until(quiet.min(give_up).into()).await;
            }
        }
        self.capture_stop.cancel();
        while let Ok(message) = self.rx.try_recv() {
            if let Message::Packet(packet) = message {
                self.packets.push(packet);
            }
        }
        let mut not_kept = NotKept::default();
        if let Some(capture) = &capture {
            self.packets.extend(capture.drain());
            not_kept = capture.not_kept();
        }
        self.take_due_samples();
        for (i, checkpoint) in self.plan.checkpoints.iter().enumerate() {
            if checkpoint.when == When::End {
                self.due.push((i, None));
            }
        }
        self.take_due_samples();
        tracker.close();
        tracker.wait().await;
        self.packets.sort_by_key(|p| p.at);
        let interrupted = Some(self.interrupted()).filter(|&s| s != 0);
        RunRecord {
            events: self.events,
            elapsed: self.start.elapsed(),
            timed_out: self.timed_out && interrupted.is_none(),
            interrupted,
            packets: self.packets,
            capture_error,
            not_kept,
            checkpoints: self.samples,
        }
    }

    /// Starts reading packets on `lo`, if asked to.
    fn start_capture(
        &self,
        tracker: &tokio_util::task::TaskTracker,
    ) -> (Option<Arc<Capture>>, Option<String>) {
        if !self.options.capture {
            return (None, None);
        }
        let only = self.options.shared.as_ref().map(|map| map.own().collect());
        let capture = match Capture::open(self.start, only) {
            Ok(capture) => Arc::new(capture),
            Err(e) => return (None, Some(format!("cannot capture packets on lo: {e}"))),
        };
        let (reader, tx, stop) = (
            Arc::clone(&capture),
            self.tx.clone(),
            self.capture_stop.clone(),
        );
        // Only external programs have ports to look up.
        let owners = self
            .options
            .externals
            .iter()
            .any(Option::is_some)
            .then(|| Arc::clone(&self.owners));
        tracker.spawn(async move {
            loop {
                let packet = tokio::select! {
                    () = stop.cancelled() => break,
                    packet = reader.next() => packet,
                };
                let Ok(packet) = packet else { break };
                // The first packet of a port nobody claimed yet (an external client's, say,
                // whose program may be gone a moment later): whose it is, at once.
                if let Some(owners) = &owners {
                    owners.learn_from(&packet.data, &tx);
                }
                if tx.send(Message::Packet(packet)).is_err() {
                    break;
                }
            }
        });
        (Some(capture), None)
    }

    /// Checkpoints at a scenario time wait on the run's pace, like the actors' delays.
    fn start_timed_checkpoints(&self, tracker: &tokio_util::task::TaskTracker) {
        for (i, checkpoint) in self.plan.checkpoints.iter().enumerate() {
            if let When::At(at) = checkpoint.when {
                let (pace, tx) = (self.pace.clone(), self.tx.clone());
                // A run that ends early (interrupted) does not wait for its checkpoints.
                let over = self.capture_stop.clone();
                tracker.spawn(async move {
                    tokio::select! {
                        () = pace.sleep(at) => {
                            let _ = tx.send(Message::Checkpoint(i));
                        }
                        () = over.cancelled() => {}
                    }
                });
            }
        }
    }

    /// Takes the socket tables of the checkpoints that are due, now that the run is quiet.
    fn take_due_samples(&mut self) {
        if self.due.is_empty() {
            return;
        }
        // The starts a checkpoint held back may go.
        self.dirty = true;
        let mut sockets = procnet::table(Protocol::Tcp);
        sockets.extend(procnet::table(Protocol::Udp));
        if let Some(map) = &self.options.shared {
            self.keep_own(&mut sockets, map);
        }
        for (checkpoint, trigger) in self.due.drain(..) {
            self.samples.push(Sample {
                checkpoint,
                trigger,
                sockets: sockets.clone(),
            });
        }
    }

    /// Stops everything at once, as the run's timeout does, because of `signal`.
    fn halt(&mut self, signal: i32) {
        if self.interrupted() != 0 {
            return;
        }
        self.interrupted
            .store(signal, std::sync::atomic::Ordering::SeqCst);
        self.timed_out = true;
        self.dirty = true;
        for slot in &self.slots {
            slot.kill.cancel();
        }
    }

    fn interrupted(&self) -> i32 {
        self.interrupted.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn record(
        &mut self,
        actor: usize,
        lane: u32,
        at: Instant,
        kind: EventKind,
        observer: &mut dyn FnMut(Seen<'_>),
    ) {
        let seq = self.events.len();
        match &kind {
            EventKind::Started { .. } => self.scheduler.started(actor, seq),
            EventKind::Ready {
                protocol, local, ..
            } => {
                self.known_ports
                    .entry((*protocol, local.port()))
                    .or_insert(actor);
                self.scheduler.ready(actor, seq);
            }
            EventKind::Port { protocol, port } => {
                self.known_ports.entry((*protocol, *port)).or_insert(actor);
            }
            EventKind::Exited { .. } | EventKind::NotStarted { .. } => {
                // An actor that will never start decides the starts that wait on it:
                // look at them again (they may come earlier in plan order).
                self.dirty = true;
                self.scheduler.ended(actor, seq);
            }
            _ => {}
        }
        let reached = match &kind {
            EventKind::Started { .. } => Some(MilestoneKind::Started),
            EventKind::Ready { .. }
                if self.scheduler.reached(actor, MilestoneKind::Ready) == Some(seq) =>
            {
                Some(MilestoneKind::Ready)
            }
            EventKind::Exited { .. } => Some(MilestoneKind::Exited),
            _ => None,
        };
        if let Some(what) = reached {
            self.dirty = true;
            for (i, checkpoint) in self.plan.checkpoints.iter().enumerate() {
                if checkpoint.when == When::After(crate::scenario::Milestone { actor, what }) {
                    self.due.push((i, Some(seq)));
                }
            }
        }
        let event = Event {
            seq,
            at: at.saturating_duration_since(self.start),
            actor,
            lane,
            kind,
        };
        observer(Seen::Event(&event));
        self.events.push(event);
    }

    /// Carries out what the [`Scheduler`] decides now: the starts, the actors that will
    /// never start (with why), the servers' stop.
    fn schedule(
        &mut self,
        tracker: &tokio_util::task::TaskTracker,
        observer: &mut dyn FnMut(Seen<'_>),
    ) {
        let moment = Moment {
            now: Instant::now(),
            timed_out: self.timed_out,
            checkpoint_due: !self.due.is_empty(),
            next_seq: self.events.len(),
        };
        for decision in self.scheduler.decide(self.plan, moment) {
            match decision {
                Decision::Launch { actor, after } => self.launch(actor, after, tracker),
                Decision::NotStarted { actor, why } => {
                    let reason = match why {
                        Why::NeverReached { actor, what } => self.never_reached(actor, what),
                        Why::NotReady { actor } => self.not_ready(actor),
                        Why::ClientsDone => Unstarted::ClientsDone,
                    };
                    // The scheduler counted the actor as ended by this very event.
                    debug_assert_eq!(
                        self.scheduler.reached(actor, MilestoneKind::Exited),
                        Some(self.events.len())
                    );
                    self.record(
                        actor,
                        0,
                        Instant::now(),
                        EventKind::NotStarted { reason },
                        observer,
                    );
                }
                Decision::StopServers => {
                    for slot in &self.slots {
                        slot.stop.cancel();
                    }
                }
            }
        }
    }

    fn never_reached(&self, actor: usize, what: MilestoneKind) -> Unstarted {
        let role = self.plan.actors[actor].role.clone();
        match what {
            MilestoneKind::Ready => Unstarted::NeverReady { role },
            MilestoneKind::Started => Unstarted::NeverStarted { role },
            MilestoneKind::Exited => Unstarted::NeverEnded { role },
        }
    }
}

/// SIGINT and SIGTERM, as they come (none where they cannot be listened for).
struct Signals {
    interrupt: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn listen() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        Signals {
            interrupt: signal(SignalKind::interrupt()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
        }
    }

    /// The next signal; never, if none can come.
    async fn next(&mut self) -> i32 {
        async fn one(signal: &mut Option<tokio::signal::unix::Signal>) {
            let received = match signal {
                Some(signal) => signal.recv().await.is_some(),
                None => false,
            };
            if !received {
                std::future::pending::<()>().await;
            }
        }
        tokio::select! {
            () = one(&mut self.interrupt) => libc::SIGINT,
            () = one(&mut self.terminate) => libc::SIGTERM,
        }
    }
}
