//! Running one [`Plan`]: start order, readiness, delays, timeouts, shutdown, events.
//!
//! The engine starts each actor when its start conditions hold, collects what every actor
//! reports on one channel, and stops the servers once their clients are done. It never
//! prints: every event goes to the caller's observer, then into the returned record.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::actor::pace::{Pace, VirtualClock};
use crate::actor::{ExternalCommand, RefParams, RefProgram, Sink, external, reference};
use crate::observe::capture::Capture;
use crate::observe::procnet;
use crate::record::{
    Event, EventKind, Found, NotKept, Outcome, Packet, Protocol, RunRecord, Sample, Seen,
    SocketEntry, TCP_ESTABLISHED, TCP_LISTEN, Unstarted,
};
use crate::sandbox::Hosts;
use crate::sandbox::ports::PortMap;
use crate::scenario::{ActorKind, ActorPlan, Concurrency, MilestoneKind, Plan, When};

mod ports;

/// How long an external program may take to stop after SIGTERM before SIGKILL.
const STOP_PATIENCE: Duration = Duration::from_millis(500);
/// At time scale 0, how long the run must stay quiet before the virtual clock moves on
/// when the kernel cannot tell that nothing is on its way (see [`Engine::settled`]): long
/// enough for everything the last step caused to have happened.
const SETTLE_REFERENCE: Duration = Duration::from_millis(2);
/// The same when external programs take part: they are real processes to schedule.
const SETTLE_EXTERNAL: Duration = Duration::from_millis(10);

/// Settings of one run that do not come from the scenario file.
#[derive(Clone, Debug)]
pub struct RunOptions {
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
pub fn run(
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

struct ChannelSink {
    actor: usize,
    tx: mpsc::UnboundedSender<Message>,
    owners: Arc<Owners>,
}

impl Sink for ChannelSink {
    fn emit_in(&self, lane: u32, event: EventKind) {
        match &event {
            EventKind::Sent { protocol, peer, .. } | EventKind::Received { protocol, peer, .. } => {
                self.owners.learn((*protocol, peer.port()), &self.tx);
            }
            EventKind::Ready {
                protocol, local, ..
            } => self.owners.claim((*protocol, local.port())),
            _ => {}
        }
        let _ = self
            .tx
            .send(Message::Event(self.actor, lane, Instant::now(), event));
    }
}

/// Which external program owns a port a reference actor talks to. The lookup runs in the
/// reference actor's own task, before it goes on: the program at the other end is still
/// running then (it waits for the reply), whereas by the time the engine gets to the
/// event a quick client may have exited and taken its socket with it.
#[derive(Default)]
struct Owners {
    inner: std::sync::Mutex<OwnersInner>,
}

#[derive(Default)]
struct OwnersInner {
    /// Each external program's actor index and pid, from its spawn on.
    pids: Vec<(usize, u32)>,
    looked_up: HashSet<(Protocol, u16)>,
}

impl Owners {
    fn add(&self, actor: usize, pid: u32) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.pids.push((actor, pid));
        }
    }

    /// A port whose owner is known from its owner's own ready event: no need to look.
    fn claim(&self, key: (Protocol, u16)) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.looked_up.insert(key);
        }
    }

    /// [`Owners::learn`] for both ports of a captured TCP or UDP frame.
    fn learn_from(&self, frame: &[u8], tx: &mpsc::UnboundedSender<Message>) {
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
    fn learn(&self, key: (Protocol, u16), tx: &mpsc::UnboundedSender<Message>) {
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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Pending,
    Running,
    Done,
}

struct Slot {
    status: Status,
    /// `seq` of the events that reached each milestone: started, ready, exited.
    reached: [Option<usize>; 3],
    /// Servers stop when this is cancelled and they are idle.
    stop: CancellationToken,
    /// Everything stops at once when this is cancelled (run timeout).
    kill: CancellationToken,
    pid: Option<u32>,
    waiting_since: Option<Instant>,
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
    shutting_down: bool,
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
    /// The actors not started yet, in plan order: what [`Engine::schedule`] looks at.
    pending: Vec<usize>,
    /// How many actors are done, and how many clients are not.
    done: usize,
    clients_left: usize,
    /// Whether something a start may wait for has happened since the last schedule: with
    /// a thousand actors, looking at every start condition after every event would cost
    /// more than the run.
    dirty: bool,
    /// When the earliest start waiting for an actor to become ready gives up.
    ready_check: Option<Instant>,
}

fn milestone_index(kind: MilestoneKind) -> usize {
    match kind {
        MilestoneKind::Started => 0,
        MilestoneKind::Ready => 1,
        MilestoneKind::Exited => 2,
    }
}

impl<'a> Engine<'a> {
    fn new(plan: &'a Plan, options: &'a RunOptions, workdir: PathBuf) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let slots = plan
            .actors
            .iter()
            .map(|_| Slot {
                status: Status::Pending,
                reached: [None; 3],
                stop: CancellationToken::new(),
                kill: CancellationToken::new(),
                pid: None,
                waiting_since: None,
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
            shutting_down: false,
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
            pending: (0..plan.actors.len()).collect(),
            done: 0,
            clients_left: plan.actors.iter().filter(|a| !a.is_server()).count(),
            dirty: true,
            ready_check: None,
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
            if self.done == self.slots.len() {
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
        let at = self.start.elapsed();
        for (checkpoint, trigger) in self.due.drain(..) {
            self.samples.push(Sample {
                checkpoint,
                trigger,
                at,
                sockets: sockets.clone(),
            });
        }
    }

    /// Keeps, of a network's sockets, the run's: those on one of its ports (a server's, a
    /// client's connection to it, what is left in TIME_WAIT), and those of its actors (a
    /// reference client's, by its port; an external program's, by its descriptors).
    fn keep_own(&self, sockets: &mut Vec<SocketEntry>, map: &PortMap) {
        let own: HashSet<u16> = map.own().collect();
        let programs: HashSet<u64> = self
            .slots
            .iter()
            .filter(|s| s.status == Status::Running)
            .filter_map(|s| s.pid)
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
                    .is_some_and(|&a| self.slots[a].status == Status::Running)
                || (s.inode != 0 && programs.contains(&s.inode))
        });
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

    /// What the engine does when its timer is due: the run's timeout, the starts waiting
    /// for an actor to become ready, and, once the run is quiet, the checkpoints due and the
    /// virtual clock.
    async fn woken(&mut self, deadline: Instant, settle: Option<Instant>) {
        // A start may have waited long enough for an actor to become ready.
        self.dirty = true;
        if Instant::now() >= deadline && !self.timed_out {
            self.timed_out = true;
            for slot in &self.slots {
                slot.kill.cancel();
            }
        }
        if settle.is_some_and(|s| Instant::now() >= s) {
            if self.settled().await {
                // A checkpoint may hold back starts: those come before the clock moves.
                if !self.due.is_empty() {
                    self.take_due_samples();
                } else if let Pace::Virtual(clock) = &self.pace {
                    clock.advance();
                }
            }
            self.last_activity = Instant::now();
        }
    }

    /// When the virtual clock may move on, if it has sleepers, or the checkpoints due be
    /// taken.
    fn settle_at(&self) -> Option<Instant> {
        let sleepers = matches!(&self.pace, Pace::Virtual(clock) if clock.has_sleepers());
        if !sleepers && self.due.is_empty() {
            return None;
        }
        Some(self.last_activity + self.quiet_period())
    }

    /// How long the run must have been quiet before [`Engine::settled`] is asked.
    fn quiet_period(&self) -> Duration {
        if self.externals_running() {
            SETTLE_EXTERNAL
        } else if self.patient {
            SETTLE_REFERENCE
        } else {
            Duration::ZERO
        }
    }

    /// Lets every task that is ready run first, then tells whether the run is quiet:
    /// everything the last step caused has happened and been reported.
    ///
    /// With reference actors only, every actor is a task of this runtime: once none has
    /// anything left to do and nothing was reported meanwhile, the only work left can be
    /// the kernel's, packets on their way through the loopback (in the backlog of some
    /// CPU's softirq, where a busy machine may leave them for milliseconds). When no CPU
    /// has any, the run is quiet now, and no time is spent waiting: this is what makes a
    /// zero-delay run take milliseconds. When some CPU has (any namespace's packets count:
    /// the kernel does not say whose they are), or the kernel does not tell, or external
    /// programs are running (processes of their own), the run must stay quiet for a whole
    /// quiet period instead ([`SETTLE_REFERENCE`], [`SETTLE_EXTERNAL`]).
    async fn settled(&mut self) -> bool {
        if !self.rx.is_empty() {
            return false;
        }
        // Each yield lets the runtime poll for I/O: a message read wakes its reader, whose
        // reply wakes the next one.
        for _ in 0..8 {
            tokio::task::yield_now().await;
        }
        if !self.rx.is_empty() {
            return false;
        }
        // An actor holds the clock: what it waits for is the kernel's, soon.
        if matches!(&self.pace, Pace::Virtual(clock) if clock.held()) {
            self.patient = true;
            return false;
        }
        if self.patient || self.externals_running() {
            let quiet = self.last_activity.elapsed() >= self.quiet_period();
            if quiet {
                self.patient = false;
            }
            return quiet;
        }
        let offloaded = self.offloaded.load(std::sync::atomic::Ordering::SeqCst) > 0;
        if !offloaded && procnet::loopback_idle() {
            return true;
        }
        self.patient = true;
        false
    }

    /// Whether external programs take part and may still be running.
    fn externals_running(&self) -> bool {
        !self.programs_done && self.options.externals.iter().any(Option::is_some)
    }

    fn next_wake(&self, deadline: Instant) -> Instant {
        let next = self.ready_check.map_or(deadline, |at| at.min(deadline));
        if self.timed_out {
            // Already killing everything: just wait for the actors to report.
            Instant::now() + Duration::from_secs(3600)
        } else {
            next
        }
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
            EventKind::Started { .. } => self.slots[actor].reached[0] = Some(seq),
            EventKind::Ready {
                protocol, local, ..
            } => {
                self.known_ports
                    .entry((*protocol, local.port()))
                    .or_insert(actor);
                self.slots[actor].reached[1].get_or_insert(seq);
            }
            EventKind::Port { protocol, port } => {
                self.known_ports.entry((*protocol, *port)).or_insert(actor);
            }
            EventKind::Exited { .. } | EventKind::NotStarted { .. } => {
                // An actor that will never start decides the starts that wait on it:
                // look at them again (they may come earlier in plan order).
                self.dirty = true;
                self.slots[actor].reached[2] = Some(seq);
                if self.slots[actor].status != Status::Done {
                    self.slots[actor].status = Status::Done;
                    self.done += 1;
                    if !self.plan.actors[actor].is_server() {
                        self.clients_left -= 1;
                    }
                }
            }
            _ => {}
        }
        let reached = match &kind {
            EventKind::Started { .. } => Some(MilestoneKind::Started),
            EventKind::Ready { .. } if self.slots[actor].reached[1] == Some(seq) => {
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

    fn schedule(
        &mut self,
        tracker: &tokio_util::task::TaskTracker,
        observer: &mut dyn FnMut(Seen<'_>),
    ) {
        self.ready_check = None;
        let pending = std::mem::take(&mut self.pending);
        for &i in &pending {
            if self.slots[i].status != Status::Pending {
                continue;
            }
            let actor = &self.plan.actors[i];
            let mut after = Vec::new();
            let mut blocked: Option<Unstarted> = None;
            let mut waiting_on_ready = false;
            for m in &actor.start.after {
                let other = &self.slots[m.actor];
                match other.reached[milestone_index(m.what)] {
                    Some(seq) => after.push(seq),
                    None if other.status == Status::Done || self.timed_out => {
                        blocked = Some(self.never_reached(m.actor, m.what));
                    }
                    None => {
                        waiting_on_ready |=
                            m.what == MilestoneKind::Ready && other.status == Status::Running
                    }
                }
            }
            if blocked.is_none() && waiting_on_ready {
                let since = *self.slots[i].waiting_since.get_or_insert_with(Instant::now);
                let give_up = since + self.plan.ready_timeout;
                self.ready_check = Some(self.ready_check.map_or(give_up, |at| at.min(give_up)));
                if since.elapsed() >= self.plan.ready_timeout {
                    let waited = actor.start.after.iter().find(|m| {
                        m.what == MilestoneKind::Ready && self.slots[m.actor].reached[1].is_none()
                    });
                    if let Some(m) = waited {
                        blocked = Some(self.not_ready(m.actor));
                    }
                }
            }
            if let Some(reason) = blocked {
                self.record(
                    i,
                    0,
                    Instant::now(),
                    EventKind::NotStarted { reason },
                    observer,
                );
                continue;
            }
            // A checkpoint waiting to be taken sees the sockets before anyone else starts.
            if after.len() == actor.start.after.len() && self.due.is_empty() {
                after.sort_unstable();
                self.slots[i].status = Status::Running;
                self.slots[i].waiting_since = None;
                self.launch(i, after, tracker);
            }
        }
        self.pending = pending
            .into_iter()
            .filter(|&i| self.slots[i].status == Status::Pending)
            .collect();
        if self.clients_left == 0 && !self.shutting_down {
            self.shutting_down = true;
            for slot in &self.slots {
                slot.stop.cancel();
            }
        }
        // A server that never got to start cannot be waited for once its clients are done.
        if self.shutting_down {
            for i in std::mem::take(&mut self.pending) {
                let reason = Unstarted::ClientsDone;
                self.record(
                    i,
                    0,
                    Instant::now(),
                    EventKind::NotStarted { reason },
                    observer,
                );
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

    /// Why an actor is still not ready, with what its sockets show: the port it is on
    /// instead, and whether that is its own with the bytes swapped (`htons()` forgotten).
    fn not_ready(&self, actor: usize) -> Unstarted {
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

    fn launch(&mut self, i: usize, after: Vec<usize>, tracker: &tokio_util::task::TaskTracker) {
        let actor = self.plan.actors[i].clone();
        let slot = &self.slots[i];
        let sink: Arc<dyn Sink> = Arc::new(ChannelSink {
            actor: i,
            tx: self.tx.clone(),
            owners: Arc::clone(&self.owners),
        });
        let owners = Arc::clone(&self.owners);
        let pace = self.pace.clone();
        let (stop, kill) = (slot.stop.clone(), slot.kill.clone());
        let delay = actor.start.delay;
        let external = self.options.externals.get(i).cloned().flatten();
        let template = external
            .as_ref()
            .and_then(|e| e.args.clone())
            .unwrap_or_else(|| actor.args.clone());
        let args = actor.expand_args(&template);
        let grace = self.plan.stop_grace;
        let run_timeout = self.plan.timeout;
        let workdir = self.workdir.clone();
        let tx = self.tx.clone();
        let offloaded = Arc::clone(&self.offloaded);
        let interrupted = Arc::clone(&self.interrupted);
        let (tables, env) = match (&self.options.hosts, &self.plan.hosts) {
            (Hosts::Tables { wrapper }, Some(hosts)) => {
                let env = vec![
                    (
                        "LD_PRELOAD".to_string(),
                        wrapper
                            .as_ref()
                            .map_or_else(String::new, |w| w.display().to_string()),
                    ),
                    (
                        "NSS_WRAPPER_HOSTS".to_string(),
                        self.workdir.join(HOSTS_FILE).display().to_string(),
                    ),
                ];
                (Some(hosts.clone()), env)
            }
            _ => (None, Vec::new()),
        };
        tracker.spawn(async move {
            tokio::select! {
                () = pace.sleep(delay) => {}
                () = kill.cancelled() => {
                    sink.emit(EventKind::NotStarted { reason: Unstarted::RunTimedOut });
                    return;
                }
            }
            sink.emit(EventKind::Started {
                args: args.clone(),
                external: external.is_some(),
                after,
                delay,
            });
            let outcome = match external {
                None => {
                    let controls = Controls {
                        stop,
                        kill,
                        run_timeout,
                        interrupted,
                        offloaded,
                    };
                    run_reference(&actor, pace, tables, Arc::clone(&sink), controls).await
                }
                Some(command) => {
                    let context = ExternalRun {
                        actor: &actor,
                        args: &args,
                        workdir: &workdir,
                        grace,
                        index: i,
                        env: &env,
                        interrupted: &interrupted,
                        tx,
                        owners,
                        run_timeout,
                    };
                    context.run(&command, Arc::clone(&sink), stop, kill).await
                }
            };
            sink.emit(EventKind::Exited { outcome });
        });
    }
}

/// How the engine ends an actor: `stop` once its clients are done (servers), `kill` when
/// the whole run goes over `run_timeout`.
struct Controls {
    stop: CancellationToken,
    kill: CancellationToken,
    run_timeout: Duration,
    /// The signal that stopped the run, when `kill` is for that and not for the timeout.
    interrupted: Arc<std::sync::atomic::AtomicI32>,
    /// Counts the work the actor has running outside the runtime.
    offloaded: Arc<std::sync::atomic::AtomicUsize>,
}

async fn run_reference(
    actor: &ActorPlan,
    pace: Pace,
    tables: Option<Vec<crate::scenario::Host>>,
    sink: Arc<dyn Sink>,
    controls: Controls,
) -> Outcome {
    let Controls {
        stop,
        kill,
        run_timeout,
        interrupted,
        offloaded,
    } = controls;
    let killed = || killed(&interrupted, run_timeout);
    if let ActorKind::Resolver { lookup, query } = &actor.kind {
        let resolve = resolve(*lookup, query.clone(), tables, Arc::clone(&sink), offloaded);
        return tokio::select! {
            outcome = resolve => outcome,
            () = kill.cancelled() => killed(),
        };
    }
    let program = RefProgram::for_role(actor.protocol, actor.is_server());
    let concurrency = match actor.kind {
        ActorKind::Server { concurrency, .. } => concurrency,
        _ => Concurrency::Iterative,
    };
    let params = match &actor.kind {
        ActorKind::Server {
            port,
            exchanges,
            reply_delay,
            close_delay,
            ..
        } => RefParams {
            id: actor.id.clone(),
            host: "0.0.0.0".into(),
            port: *port,
            exchanges: *exchanges,
            reply_delay: *reply_delay,
            close_delay: *close_delay,
            pause: Duration::ZERO,
        },
        ActorKind::Resolver { .. } => return Outcome::Exited { code: 0 },
        ActorKind::Client {
            host,
            port,
            exchanges,
            pause,
            ..
        } => RefParams {
            id: actor.id.clone(),
            host: host.clone(),
            port: *port,
            exchanges: *exchanges,
            reply_delay: Duration::ZERO,
            close_delay: Duration::ZERO,
            pause: *pause,
        },
    };
    let timeout = actor.timeout;
    tokio::select! {
        outcome = reference::run(program, params, concurrency, pace, sink, stop) => outcome,
        () = own_timeout(timeout, run_timeout) => Outcome::TimedOut { after: timeout },
        () = kill.cancelled() => killed(),
    }
}

/// Why an actor was killed with everything else: the run's timeout, or a signal.
fn killed(interrupted: &std::sync::atomic::AtomicI32, run_timeout: Duration) -> Outcome {
    match interrupted.load(std::sync::atomic::Ordering::SeqCst) {
        0 => Outcome::RunTimedOut { after: run_timeout },
        signal => Outcome::Interrupted { signal },
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

/// An actor's own timeout, when it is shorter than the run's. When it is not, the run's
/// timeout is the one that ends the actor, and the transcript says so: the two timers
/// firing in the same instant must not decide which of the two reasons it gives.
async fn own_timeout(timeout: Duration, run_timeout: Duration) {
    if timeout < run_timeout {
        tokio::time::sleep(timeout).await;
    } else {
        std::future::pending::<()>().await;
    }
}

/// The reference programs of exercise 1.1, with the lab's lines.
async fn resolve(
    lookup: crate::scenario::Lookup,
    query: String,
    tables: Option<Vec<crate::scenario::Host>>,
    sink: Arc<dyn Sink>,
    offloaded: Arc<std::sync::atomic::AtomicUsize>,
) -> Outcome {
    use crate::record::Stream;
    // The run is not quiet while a lookup runs on a thread of its own, until its lines
    // are reported.
    let _offloaded = Offloaded::start(offloaded);
    let lines = tokio::task::spawn_blocking(move || {
        crate::actor::resolver::run(lookup, &query, tables.as_deref())
    })
    .await;
    let Ok((lines, code)) = lines else {
        return Outcome::Exited { code: 3 };
    };
    for (stream, text) in lines {
        let stream = if stream {
            Stream::Stdout
        } else {
            Stream::Stderr
        };
        sink.emit(EventKind::Line { stream, text });
    }
    Outcome::Exited { code }
}

/// One piece of work running outside the runtime, counted until dropped.
struct Offloaded(Arc<std::sync::atomic::AtomicUsize>);

impl Offloaded {
    fn start(count: Arc<std::sync::atomic::AtomicUsize>) -> Self {
        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Offloaded(count)
    }
}

impl Drop for Offloaded {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

struct ExternalRun<'a> {
    actor: &'a ActorPlan,
    args: &'a [String],
    workdir: &'a std::path::Path,
    grace: Duration,
    index: usize,
    /// Environment variables the program gets besides labrun's.
    env: &'a [(String, String)],
    interrupted: &'a std::sync::atomic::AtomicI32,
    tx: mpsc::UnboundedSender<Message>,
    owners: Arc<Owners>,
    run_timeout: Duration,
}

impl ExternalRun<'_> {
    async fn run(
        self,
        command: &ExternalCommand,
        sink: Arc<dyn Sink>,
        stop: CancellationToken,
        kill: CancellationToken,
    ) -> Outcome {
        let workdir = self.workdir.join(&self.actor.role);
        if let Err(e) = std::fs::create_dir_all(&workdir) {
            return Outcome::SpawnFailed {
                reason: format!("cannot create its working directory: {e}"),
            };
        }
        let mut running = match external::spawn(
            &command.program,
            self.args,
            &workdir,
            self.env,
            Arc::clone(&sink),
        ) {
            Ok(running) => running,
            Err(reason) => return Outcome::SpawnFailed { reason },
        };
        let pid = running.pid();
        self.owners.add(self.index, pid);
        let _ = self.tx.send(Message::Pid(self.index, pid));
        // A resolver has no socket to wait for.
        let poller = (!matches!(self.actor.kind, ActorKind::Resolver { .. }))
            .then(|| tokio::spawn(poll_ready(self.actor.clone(), pid, Arc::clone(&sink))));
        let timeout = self.actor.timeout;
        let outcome = tokio::select! {
            outcome = running.wait() => outcome,
            () = stop.cancelled() => {
                // Its clients are done: stop it once it is back waiting for a client (what
                // the reference server does), or after the grace period.
                let (found, waits) = tokio::sync::oneshot::channel();
                // Without a thread to look, the grace period decides.
                let looking = procnet::InputWatch::new(pid)
                    .send_when_waiting(Duration::from_millis(5), found)
                    .is_ok();
                let back = async {
                    if !(looking && waits.await.is_ok()) {
                        std::future::pending::<()>().await;
                    }
                };
                tokio::select! {
                    outcome = running.wait() => outcome,
                    () = back => running.stop(STOP_PATIENCE).await,
                    () = tokio::time::sleep(self.grace) => running.stop(STOP_PATIENCE).await,
                    () = kill.cancelled() => running.stop(STOP_PATIENCE).await,
                }
            }
            () = own_timeout(timeout, self.run_timeout) => {
                running.stop(STOP_PATIENCE).await;
                Outcome::TimedOut { after: timeout }
            }
            () = kill.cancelled() => {
                running.stop(STOP_PATIENCE).await;
                killed(self.interrupted, self.run_timeout)
            }
        };
        if let Some(poller) = poller {
            poller.abort();
        }
        running.finish().await;
        outcome
    }
}

/// Watches an external program's sockets until it is ready, as its role defines ready.
async fn poll_ready(actor: ActorPlan, pid: u32, sink: Arc<dyn Sink>) {
    let (protocol, port) = (actor.protocol, actor.port());
    let server = actor.is_server();
    let mut interval = Duration::from_millis(1);
    loop {
        let found =
            procnet::sockets_of(&[pid], protocol)
                .into_iter()
                .find(|e| match (server, protocol) {
                    (true, Protocol::Tcp) => e.state == TCP_LISTEN && e.local.port() == port,
                    (true, Protocol::Udp) => e.local.port() == port,
                    (false, Protocol::Tcp) => e.state == TCP_ESTABLISHED && e.remote.port() == port,
                    (false, Protocol::Udp) => e.local.port() != 0,
                });
        if let Some(entry) = found {
            let peer = (!server).then_some(entry.remote).filter(|p| p.port() != 0);
            sink.emit(EventKind::Ready {
                protocol,
                local: entry.local,
                peer,
            });
            return;
        }
        tokio::time::sleep(interval).await;
        interval = (interval * 2).min(Duration::from_millis(5));
    }
}
