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

/// Set by `labrun grade` on each run it starts ([`for_runs`]), read by the run
/// ([`follow_grader`]).
const GRADER: &str = "LABRUN_GRADER";

/// What `labrun grade` tells each run it starts, as the variable and its value: its own
/// pid, then the soft and hard limits on open files it was started with, if it raised
/// its own (`PID SOFT HARD`).
pub(crate) fn for_runs(started_with: Option<(u64, u64)>) -> (&'static str, String) {
    let pid = std::process::id();
    let value = match started_with {
        Some((soft, hard)) => format!("{pid} {soft} {hard}"),
        None => pid.to_string(),
    };
    (GRADER, value)
}

/// For a run that `labrun grade` started (see [`GRADER`]): SIGTERM when the grader's thread
/// that waits for the run ends (the grader killed, or out of memory), so that the run
/// stops its programs and ends instead of going on as an orphan; and the open-file limits
/// the grader was started with, not the ones it raised for itself.
///
/// Done here rather than between the grader's fork and exec: a start without code to run
/// in the child lets the grader use `posix_spawn`, which does not copy its page tables (a
/// grader of 300 submissions has hundreds of threads; each fork of it cost 1.6 ms).
/// Called first thing, before any thread is made.
pub fn follow_grader() {
    let Some((grader, started_with)) = std::env::var_os(GRADER).and_then(|v| read_grader(&v))
    else {
        return;
    };
    if let Err(e) = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM) {
        tracing::warn!("cannot ask to be stopped when labrun grade ends: {e}");
    }
    // The grader may have died before the request: then the parent is another process
    // already, and the run ends before it starts anything.
    if u64::try_from(nix::unistd::getppid().as_raw()).ok() != Some(grader) {
        std::process::exit(crate::exit::TERMINATED);
    }
    if let Some((soft, hard)) = started_with {
        let _ =
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, soft, hard);
    }
}

/// The value [`for_runs`] writes: the grader's pid, and the open-file limits if given.
fn read_grader(value: &std::ffi::OsStr) -> Option<(u64, Option<(u64, u64)>)> {
    let numbers: Vec<u64> = value
        .to_string_lossy()
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    match numbers[..] {
        [pid] => Some((pid, None)),
        [pid, soft, hard] => Some((pid, Some((soft, hard)))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the grader writes, the run reads back: its pid, and the limits when given.
    #[test]
    fn a_run_reads_what_its_grader_wrote() {
        let me = u64::from(std::process::id());
        for limits in [None, Some((1024, 524_288))] {
            let (variable, value) = for_runs(limits);
            assert_eq!(variable, "LABRUN_GRADER");
            assert_eq!(read_grader(value.as_ref()), Some((me, limits)));
        }
        assert_eq!(read_grader("12 34".as_ref()), None);
        assert_eq!(read_grader("".as_ref()), None);
    }
}
