//! SIGINT and SIGTERM: instead of dying where it stands (leaving its programs to their
//! parent-death signal and its run directories behind), labrun stops what it runs, removes
//! its run directories, prints what was done so far and exits 130 or 143.
//!
//! [`catch`] replaces the signals' default action with a flag; the engine also listens for
//! them itself, so that a run stops at once, not at its next wake-up.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

static RECEIVED: OnceLock<Arc<AtomicUsize>> = OnceLock::new();

/// From now on SIGINT and SIGTERM are noted, not fatal. Idempotent.
pub fn catch() {
    RECEIVED.get_or_init(|| {
        let flag = Arc::new(AtomicUsize::new(0));
        // A second signal while labrun is still stopping things ends it at once, as the
        // default action would: a stuck stop must not make it unkillable by Ctrl-C.
        let second = Arc::new(std::sync::atomic::AtomicBool::new(false));
        for signal in [libc::SIGINT, libc::SIGTERM] {
            let number = usize::try_from(signal).unwrap_or(0);
            let code = exit_code(signal);
            let registered =
                signal_hook::flag::register_conditional_shutdown(signal, code, Arc::clone(&second))
                    .map(|id| {
                        SHUTDOWNS
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push(id);
                    })
                    .and_then(|()| signal_hook::flag::register(signal, Arc::clone(&second)))
                    .and_then(|_| {
                        signal_hook::flag::register_usize(signal, Arc::clone(&flag), number)
                    });
            if let Err(e) = registered {
                tracing::warn!("cannot catch signal {signal}: {e}");
            }
        }
        flag
    });
}

/// The registrations that end labrun at a second signal, so that [`second_is_noted`] can
/// take them back.
static SHUTDOWNS: std::sync::Mutex<Vec<signal_hook::SigId>> = std::sync::Mutex::new(Vec::new());

/// From now on a second signal is noted like the first, not fatal: for the run inside its
/// pid namespace, which may get the same signal twice (from `pkill`, and passed on by the
/// first process) and must still clean up. Its first process keeps the escape: at a second
/// signal it ends, and the run with it (parent-death signal).
pub fn second_is_noted() {
    let ids = std::mem::take(
        &mut *SHUTDOWNS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    for id in ids {
        signal_hook::low_level::unregister(id);
    }
}

/// The last of SIGINT or SIGTERM received since [`catch`], if any.
pub fn received() -> Option<i32> {
    let number = RECEIVED.get()?.load(Ordering::SeqCst);
    (number != 0).then(|| i32::try_from(number).unwrap_or(libc::SIGTERM))
}

/// The exit code for a run stopped by `signal`, as shells give it: 130 for SIGINT, 143
/// for SIGTERM.
pub fn exit_code(signal: i32) -> i32 {
    match signal {
        libc::SIGINT => crate::exit::INTERRUPTED,
        _ => crate::exit::TERMINATED,
    }
}

/// `SIGINT` or `SIGTERM`.
pub fn name(signal: i32) -> &'static str {
    nix::sys::signal::Signal::try_from(signal).map_or("a signal", |s| s.as_str())
}
