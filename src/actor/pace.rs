//! How reference actors wait out their declared delays: really (scaled), or in virtual time.
//!
//! At `--time-scale 0` nobody should wait, yet the order of what happens must be the one
//! the delays give at real time (the client closes at 4 s, the server at 9 s, so the client
//! is the one in TIME_WAIT). Delays then run on a [`VirtualClock`]: a sleep registers its
//! wake-up time, and the engine, once the run has gone quiet, moves the clock to the
//! earliest wake-up and wakes those sleepers. Events keep the order of their declared times
//! without any real waiting.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::record::scaled;

/// How delays are waited out.
#[derive(Clone, Debug)]
pub(crate) enum Pace {
    /// Real sleeps, multiplied by the time scale.
    Real { scale: f64 },
    /// Sleeps on a virtual clock, advanced by the engine when the run is quiet.
    Virtual(Arc<VirtualClock>),
}

impl Pace {
    /// Waits out a declared delay.
    pub(crate) async fn sleep(&self, declared: Duration) {
        if declared.is_zero() {
            return;
        }
        match self {
            Pace::Real { scale } => {
                let real = scaled(declared, *scale);
                if !real.is_zero() {
                    tokio::time::sleep(real).await;
                }
            }
            Pace::Virtual(clock) => clock.sleep(declared).await,
        }
    }

    /// Keeps the virtual clock where it is until the guard is dropped: something the
    /// kernel does within milliseconds at real time must happen before the clock moves on.
    /// Nothing to hold at real time.
    pub(crate) fn hold(&self) -> Option<Hold> {
        match self {
            Pace::Real { .. } => None,
            Pace::Virtual(clock) => {
                clock.lock().holds += 1;
                Some(Hold(Arc::clone(clock)))
            }
        }
    }
}

/// See [`Pace::hold`].
pub(crate) struct Hold(Arc<VirtualClock>);

impl Drop for Hold {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.holds = state.holds.saturating_sub(1);
    }
}

/// A clock that only moves when told to, waking its sleepers in the order of their times.
#[derive(Debug, Default)]
pub(crate) struct VirtualClock {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    now: Duration,
    next_id: u64,
    queue: BinaryHeap<Reverse<(Duration, u64)>>,
    wakers: HashMap<u64, oneshot::Sender<()>>,
    /// Holds taken ([`Pace::hold`]): the engine must not move the clock while any is.
    holds: usize,
}

impl VirtualClock {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether an actor holds the clock where it is ([`Pace::hold`]).
    pub(crate) fn held(&self) -> bool {
        self.lock().holds > 0
    }

    /// Sleeps until the clock has moved `declared` past its current time.
    pub(crate) async fn sleep(&self, declared: Duration) {
        let receiver = {
            let mut state = self.lock();
            let (sender, receiver) = oneshot::channel();
            let id = state.next_id;
            state.next_id += 1;
            let wake = state.now + declared;
            state.queue.push(Reverse((wake, id)));
            state.wakers.insert(id, sender);
            receiver
        };
        // A dropped sender means the run is over; either way the sleep ends.
        let _ = receiver.await;
    }

    /// Whether some sleeper waits for the clock to move.
    pub(crate) fn has_sleepers(&self) -> bool {
        let mut state = self.lock();
        // Sleepers whose task was cancelled no longer listen.
        while let Some(Reverse((_, id))) = state.queue.peek().copied() {
            if state.wakers.get(&id).is_some_and(|w| !w.is_closed()) {
                return true;
            }
            state.queue.pop();
            state.wakers.remove(&id);
        }
        false
    }

    /// Moves the clock to the earliest wake-up time and wakes everyone due then.
    pub(crate) fn advance(&self) -> bool {
        let mut state = self.lock();
        let Some(Reverse((wake, _))) = state.queue.peek().copied() else {
            return false;
        };
        state.now = state.now.max(wake);
        while let Some(Reverse((at, id))) = state.queue.peek().copied() {
            if at > wake {
                break;
            }
            state.queue.pop();
            if let Some(waker) = state.wakers.remove(&id) {
                let _ = waker.send(());
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn sleepers_wake_in_the_order_of_their_times() {
        let clock = VirtualClock::new();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, secs) in [("late", 3), ("early", 1), ("middle", 2)] {
            let (clock, order) = (Arc::clone(&clock), Arc::clone(&order));
            tasks.push(tokio::spawn(async move {
                clock.sleep(Duration::from_secs(secs)).await;
                order.lock().unwrap().push(name);
            }));
        }
        tokio::task::yield_now().await;
        while clock.has_sleepers() {
            clock.advance();
            tokio::task::yield_now().await;
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["early", "middle", "late"]);
    }
}
