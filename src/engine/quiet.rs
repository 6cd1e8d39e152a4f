//! Quiescence and the virtual clock: when the run is quiet (everything the last step
//! caused has happened and been reported), so that the virtual clock may move on and the
//! checkpoints due be taken; and when the engine's loop wakes up next.

use std::time::{Duration, Instant};

use crate::actor::pace::Pace;
use crate::observe::procnet;

use super::Engine;

/// At time scale 0, how long the run must stay quiet before the virtual clock moves on
/// when the kernel cannot tell that nothing is on its way (see [`Engine::settled`]): long
/// enough for everything the last step caused to have happened.
const SETTLE_REFERENCE: Duration = Duration::from_millis(2);
/// The same when external programs take part: they are real processes to schedule.
pub(super) const SETTLE_EXTERNAL: Duration = Duration::from_millis(10);

impl Engine<'_> {
    /// What the engine does when its timer is due: the run's timeout, the starts waiting
    /// for an actor to become ready, and, once the run is quiet, the checkpoints due and the
    /// virtual clock.
    pub(super) async fn woken(&mut self, deadline: Instant, settle: Option<Instant>) {
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
    pub(super) fn settle_at(&self) -> Option<Instant> {
        let sleepers = matches!(&self.pace, Pace::Virtual(clock) if clock.has_sleepers());
        if !sleepers && self.due.is_empty() {
            return None;
        }
        Some(self.last_activity + self.quiet_period())
    }

    /// How long the run must have been quiet before [`Engine::settled`] is asked.
    pub(super) fn quiet_period(&self) -> Duration {
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
    pub(super) async fn settled(&mut self) -> bool {
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

    pub(super) fn next_wake(&self, deadline: Instant) -> Instant {
        let next = self
            .scheduler
            .ready_check()
            .map_or(deadline, |at| at.min(deadline));
        if self.timed_out {
            // Already killing everything: just wait for the actors to report.
            Instant::now() + Duration::from_secs(3600)
        } else {
            next
        }
    }
}
