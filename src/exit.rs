//! labrun's exit codes, documented in the README's table: decided once, from what a command
//! came to ([`crate::session`]), by [`crate::cli::exit_code`]; also used where a process of
//! labrun's leaves on its own (a run's pid namespace, a signal).

/// Every scenario ran and matched its snapshot.
pub const OK: i32 = 0;
/// A transcript differs from its snapshot, or has none (in CI).
pub const FAILED: i32 = 1;
/// The command line or a scenario file is invalid.
pub const USAGE: i32 = 2;
/// labrun itself could not do its work (runtime, files).
pub const ERROR: i32 = 3;
/// Interrupted by SIGINT (Ctrl-C): 128 + 2, as shells say.
pub const INTERRUPTED: i32 = 130;
/// Stopped by SIGTERM: 128 + 15.
pub const TERMINATED: i32 = 143;
