//! The pool that builds and runs a class: the board the build threads fill and the run
//! threads take from (the longest run ready first), how many runs go at once when
//! `--jobs` is not given (memory, uids to lend, open files), and what keeps one thread's
//! panic from stopping or hanging the others. Hands each run thread its next run.

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::Outcome;

/// `work()`, or what its panic said: a bug of labrun's in one build or run must not stop,
/// or hang, the grading of the whole class.
pub(crate) fn guarded<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).map_err(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        format!("labrun failed (a bug, please report it): {what}")
    })
}

/// The builds and runs of a class, as the compilers and the runs share them.
pub(crate) struct Board {
    /// Builds not yet done: until there are none, a run that finds nothing ready waits.
    pub(crate) builds_left: usize,
    /// Runs whose program is built (or failed to): submission, direction, program.
    pub(crate) ready: Vec<(usize, usize, Result<PathBuf, String>)>,
    /// Each submission's runs not yet done.
    pub(crate) left: Vec<usize>,
    /// Each submission's outcomes, by direction.
    pub(crate) outcomes: Vec<Vec<Option<Outcome>>>,
}

/// The next run to start, the longest of those ready (the first one in course order among
/// equals); `None` once nothing is left, or when interrupted.
pub(crate) fn next_run(
    board: &Mutex<Board>,
    ready: &std::sync::Condvar,
    lengths: &[Duration],
) -> Option<(usize, usize, Result<PathBuf, String>)> {
    let mut board = relock(board);
    loop {
        if crate::signals::received().is_some() {
            return None;
        }
        let longest = board
            .ready
            .iter()
            .enumerate()
            .max_by_key(|(_, (i, d, _))| (lengths[*d], std::cmp::Reverse((*i, *d))))
            .map(|(at, _)| at);
        if let Some(at) = longest {
            return Some(board.ready.swap_remove(at));
        }
        if board.builds_left == 0 {
            return None;
        }
        board = ready
            .wait_timeout(board, Duration::from_millis(200))
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
}

/// How many runs go at once when `--jobs` is not given: as many as the machine holds.
/// A run mostly sleeps; what bounds them is memory ([`RUN_MEMORY`] a run, room for a
/// student's program included), the uids to lend (one per program), and open files (a few
/// per run in `labrun grade`).
pub(crate) fn default_jobs(compilers: usize) -> usize {
    let memory = available_memory().map_or(32, |bytes| bytes / RUN_MEMORY);
    let uids = crate::sandbox::users::pool().map_or(usize::MAX, |pool| {
        pool.size().saturating_sub(compilers + 8) / 2
    });
    let files = open_files_limit().map_or(256, |n| n.saturating_sub(64) / 4);
    memory.min(uids).min(files).clamp(1, MAX_JOBS)
}

/// What a run may take: a run of the lab's programs takes a few MiB (BENCHMARKS.md,
/// section 8: 664 MiB for about 370 runs at once), the rest is room for a student's
/// program that allocates.
const RUN_MEMORY: usize = 64 << 20;
/// Never more runs at once than this, whatever the machine.
const MAX_JOBS: usize = 1024;

/// `MemAvailable` of `/proc/meminfo`, in bytes.
fn available_memory() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The open files labrun grade may have, raised to the hard limit.
/// The open files labrun grade may have, raised to the hard limit (its runs get back the
/// limit labrun was started with: see [`output_of`](super::direction::output_of)).
fn open_files_limit() -> Option<usize> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    let limit = if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        let _ = STARTED_WITH.set((soft, hard));
        hard
    } else {
        soft
    };
    usize::try_from(limit).ok()
}

/// The open-file limits labrun grade was started with, once it raised its own.
pub(crate) static STARTED_WITH: std::sync::OnceLock<(u64, u64)> = std::sync::OnceLock::new();

/// A mutex's value, also after a thread panicked holding it: counts and queues stay
/// usable, and nothing waits forever on a flag that was never set.
pub(crate) fn relock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
