//! Driving the actors: each one's task, which waits for its start delay, then runs it
//! (a reference program in the runtime, or an external program with its socket watch)
//! until it ends, is stopped or is killed, and reports what it does as messages.
//!
//! This is the engine's only async part besides its loop; which actor starts when is
//! decided elsewhere, and the events go back to the loop on its channel.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::actor::pace::Pace;
use crate::actor::{ExternalCommand, RefParams, RefProgram, Sink, external, reference};
use crate::observe::procnet;
use crate::record::{EventKind, Outcome, Protocol, TCP_ESTABLISHED, TCP_LISTEN, Unstarted};
use crate::sandbox::Hosts;
use crate::scenario::{ActorKind, ActorPlan, Concurrency};

use super::owners::Owners;
use super::{Engine, HOSTS_FILE, Message};

/// How long an external program may take to stop after SIGTERM before SIGKILL.
const STOP_PATIENCE: Duration = Duration::from_millis(500);

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

impl Engine<'_> {
    pub(super) fn launch(
        &mut self,
        i: usize,
        after: Vec<usize>,
        tracker: &tokio_util::task::TaskTracker,
    ) {
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
