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
        for signal in [libc::SIGINT, libc::SIGTERM] {
            let number = usize::try_from(signal).unwrap_or(0);
            if let Err(e) = signal_hook::flag::register_usize(signal, Arc::clone(&flag), number) {
                tracing::warn!("cannot catch signal {signal}: {e}");
            }
        }
        flag
    });
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
        libc::SIGINT => crate::cli::exit::INTERRUPTED,
        _ => crate::cli::exit::TERMINATED,
    }
}

/// `SIGINT` or `SIGTERM`.
pub fn name(signal: i32) -> &'static str {
    nix::sys::signal::Signal::try_from(signal).map_or("a signal", |s| s.as_str())
}
