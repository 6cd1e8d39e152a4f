//! The progress bar of `labrun grade` on standard error: runs passed, failed, running and
//! left, the time so far and an estimate of the time still needed. Takes the counts from
//! the run threads; hands nothing on (it only draws).

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::Outcome;
use super::pool::relock;

/// How far the runs of a class are, for the progress bar.
#[derive(Default)]
pub(crate) struct Progress {
    pub(crate) total: usize,
    pub(crate) passed: usize,
    pub(crate) failed: usize,
    pub(crate) errors: usize,
    pub(crate) running: usize,
    /// Every run is over: the bar is drawn a last time and left on screen.
    pub(crate) over: bool,
}

/// How often the progress bar is redrawn when no run ends, for its clock.
const PROGRESS_TICK: Duration = Duration::from_secs(1);

/// The progress bar's thread: redraws the bar on standard error in place when a run starts
/// or ends, and every second for the elapsed time; leaves the last one on its line.
pub(crate) fn show_progress(
    state: &Mutex<Progress>,
    changed: &std::sync::Condvar,
    started: Instant,
    color: bool,
) {
    let mut progress = relock(state);
    loop {
        let width = crate::term::size(libc::STDERR_FILENO).0;
        let line = progress.line(started.elapsed(), width, color);
        if progress.over {
            tell!("\r\x1b[K{line}");
            return;
        }
        tell_raw!("\r\x1b[K{line}");
        progress = changed
            .wait_timeout(progress, PROGRESS_TICK)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
}

impl Progress {
    /// A run is over.
    pub(crate) fn count(&mut self, outcome: &Outcome) {
        self.running = self.running.saturating_sub(1);
        match outcome.verdict.as_str() {
            "pass" => self.passed += 1,
            "fail" => self.failed += 1,
            _ => self.errors += 1,
        }
    }

    /// `[######      ] 12/40  9 passed, 2 failed, 1 error, 8 running, 20 left  1m05s,
    /// ~2m31s more`, shorter than `width`: the bar narrows, then goes, on a narrow
    /// terminal. The time still needed is the time so far for each run done, for the runs
    /// not done (the longest start first, so the estimate errs long, then shortens).
    fn line(&self, elapsed: Duration, width: usize, color: bool) -> String {
        let done = self.passed + self.failed + self.errors;
        let more = u32::try_from(self.total.saturating_sub(done))
            .ok()
            .zip(u32::try_from(done).ok())
            .filter(|(_, done)| *done > 0 && !self.over)
            .map(|(left, done)| format!(", ~{} more", clock(elapsed * left / done)))
            .unwrap_or_default();
        let left = self.total.saturating_sub(done + self.running);
        let errors = if self.errors == 1 { "error" } else { "errors" };
        let paint = |n: usize, what: &str, code: &str| {
            if color && n > 0 {
                format!("\x1b[{code}m{n} {what}\x1b[0m")
            } else {
                format!("{n} {what}")
            }
        };
        let counts = format!(
            "{done}/{}  {}, {}, {}, {} running, {left} left  {}{more}",
            self.total,
            paint(self.passed, "passed", "32"),
            paint(self.failed, "failed", "31"),
            paint(self.errors, errors, "33"),
            self.running,
            clock(elapsed),
        );
        let plain = format!(
            "{done}/{}  {} passed, {} failed, {} {errors}, {} running, {left} left  {}{more}",
            self.total,
            self.passed,
            self.failed,
            self.errors,
            self.running,
            clock(elapsed),
        );
        let room = width
            .saturating_sub(1)
            .saturating_sub(plain.chars().count() + 3);
        let bar = room.min(30);
        if bar < 5 {
            return if plain.chars().count() < width {
                counts
            } else {
                plain.chars().take(width.saturating_sub(1)).collect()
            };
        }
        let filled = (done * bar).checked_div(self.total).unwrap_or(bar).min(bar);
        format!(
            "[{}{}] {counts}",
            "#".repeat(filled),
            " ".repeat(bar - filled)
        )
    }
}

/// `42s`, `1m05s`, `1h02m`: elapsed time at a glance.
fn clock(elapsed: Duration) -> String {
    let s = elapsed.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_bar_counts_passed_failed_running_and_left() {
        let progress = Progress {
            total: 40,
            passed: 9,
            failed: 2,
            errors: 1,
            running: 8,
            over: false,
        };
        assert_eq!(
            progress.line(Duration::from_secs(65), 120, false),
            format!(
                "[#########{}] 12/40  9 passed, 2 failed, 1 error, 8 running, 20 left  1m05s, ~2m31s more",
                " ".repeat(21)
            )
        );
        let narrow = progress.line(Duration::from_secs(5), 40, false);
        assert!(!narrow.contains('['), "no room for the bar: {narrow}");
        assert!(narrow.chars().count() < 40, "{narrow}");
        assert!(
            progress
                .line(Duration::ZERO, 120, true)
                .contains("\x1b[32m9 passed\x1b[0m")
        );
    }

    #[test]
    fn the_clock_reads_at_a_glance() {
        assert_eq!(clock(Duration::from_secs(42)), "42s");
        assert_eq!(clock(Duration::from_secs(65)), "1m05s");
        assert_eq!(clock(Duration::from_secs(3720)), "1h02m");
    }
}
