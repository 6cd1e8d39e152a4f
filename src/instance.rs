//! This labrun process as the machine sees it, for everything that names what a run makes
//! outside its namespaces: control groups, scratch folders, the start of a uid search.
//!
//! It sits at the bottom of the module graph beside [`crate::record`]: the sandbox sets
//! the id when it moves the run into a pid namespace, and the sandbox and the scratch
//! folders read it.

use std::sync::atomic::{AtomicU32, Ordering};

/// The pid of the labrun process as the machine (or the caller's namespace) numbers it:
/// a name for what the run makes outside its namespaces (control groups, folders), where
/// `std::process::id()` would be 1 in every run.
pub(crate) fn run_id() -> u32 {
    match OUTER_PID.load(Ordering::Relaxed) {
        0 => std::process::id(),
        pid => pid,
    }
}

/// Records the pid the process had before it became pid 1 of a namespace of its own.
pub(crate) fn set_outer_pid(pid: u32) {
    OUTER_PID.store(pid, Ordering::Relaxed);
}

static OUTER_PID: AtomicU32 = AtomicU32::new(0);
