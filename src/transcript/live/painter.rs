//! The terminal painter: [`watch`] runs a run with an observer that feeds the [`Live`]
//! lines and the [`Board`], and a thread beside it that draws them on standard output: the
//! new transcript lines, then the status area redrawn in place, at most one frame every
//! [`FRAME`], ticking only while a countdown shows. Hands nothing on but the terminal's
//! bytes; erases the status area when the run is over.

use std::io::Write as _;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::{Board, Live};
use crate::record::Seen;
use crate::scenario::Plan;

/// How often a countdown (a sleep, a start delay) is redrawn.
const TICK: Duration = Duration::from_millis(100);
/// The shortest time between two frames: a burst of events makes one frame, not hundreds.
const FRAME: Duration = Duration::from_millis(30);

/// Runs `run` with an observer that shows the run live on standard output (a terminal),
/// and erases the status area once `run` is over, so that what is printed next follows
/// the live lines. `time_scale` is the run's: it turns declared delays into real ones.
pub(crate) fn watch<R>(
    plan: &Plan,
    time_scale: f64,
    color: bool,
    run: impl FnOnce(&mut dyn FnMut(Seen<'_>)) -> R,
) -> R {
    let shared = Shared {
        screen: Mutex::new(Screen {
            live: Live::new(plan),
            board: Board::new(plan, time_scale),
            pending: Vec::new(),
            dirty: true,
            stop: false,
        }),
        wake: Condvar::new(),
    };
    let origin = Instant::now();
    std::thread::scope(|scope| {
        let painter = scope.spawn(|| paint(&shared, origin, color));
        let mut observer = |seen: Seen<'_>| {
            let mut screen = lock(&shared.screen);
            let now = origin.elapsed();
            match seen {
                Seen::Event(event) => {
                    if let Some(line) = screen.live.line(event) {
                        screen.pending.push(line);
                    }
                    screen.board.observe(event, now);
                }
                Seen::Packet(packet) => {
                    if let Some(line) = screen.live.packet_line(packet) {
                        screen.pending.push(line);
                    }
                }
            }
            screen.dirty = true;
            shared.wake.notify_one();
        };
        // Stops the painter even if `run` panics: the scope would otherwise wait for it.
        let stop = StopOnDrop(&shared);
        let result = run(&mut observer);
        drop(stop);
        // A painter that died (it cannot panic on input) only loses the view, not the run.
        let _ = painter.join();
        result
    })
}

/// How many lines the status area may take on a terminal of `height` lines: a third of
/// it, between 1 and 12, so that the transcript's lines stay in view above it.
fn status_rows(height: usize) -> usize {
    (height / 3).clamp(1, 12)
}

struct Shared<'p> {
    screen: Mutex<Screen<'p>>,
    wake: Condvar,
}

struct Screen<'p> {
    live: Live<'p>,
    board: Board,
    /// Transcript lines not printed yet.
    pending: Vec<String>,
    /// Something changed since the last frame.
    dirty: bool,
    stop: bool,
}

/// Tells the painter to stop, when dropped.
struct StopOnDrop<'a, 'p>(&'a Shared<'p>);

impl Drop for StopOnDrop<'_, '_> {
    fn drop(&mut self) {
        lock(&self.0.screen).stop = true;
        self.0.wake.notify_one();
    }
}

fn lock<'a, 'p>(screen: &'a Mutex<Screen<'p>>) -> MutexGuard<'a, Screen<'p>> {
    screen.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The painter thread: draws a frame when something changed, or when a countdown shows
/// and a tick has passed; erases the status area when told to stop.
fn paint(shared: &Shared<'_>, origin: Instant, color: bool) {
    let mut shown = 0;
    let mut screen = lock(&shared.screen);
    loop {
        if screen.stop {
            let lines = std::mem::take(&mut screen.pending);
            drop(screen);
            write_frame(&frame(shown, &lines, &[], color));
            return;
        }
        if !screen.dirty {
            screen = if screen.board.ticking(origin.elapsed()) {
                shared
                    .wake
                    .wait_timeout(screen, TICK.saturating_sub(FRAME))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            } else {
                shared
                    .wake
                    .wait(screen)
                    .unwrap_or_else(PoisonError::into_inner)
            };
            if screen.stop {
                continue;
            }
        }
        let now = origin.elapsed();
        let (width, height) = crate::term::size(libc::STDOUT_FILENO);
        let status = screen.board.render(now, width, status_rows(height));
        let lines = std::mem::take(&mut screen.pending);
        screen.dirty = false;
        drop(screen);
        write_frame(&frame(shown, &lines, &status, color));
        shown = status.len();
        std::thread::sleep(FRAME);
        screen = lock(&shared.screen);
    }
}

/// The bytes of one frame: erase the `shown` lines of the status area, print `lines`, draw
/// `status` (dimmed with `color`). The cursor ends at the start of the line below it.
fn frame(shown: usize, lines: &[String], status: &[String], color: bool) -> String {
    let mut out = String::new();
    if shown > 0 {
        out.push_str(&format!("\r\x1b[{shown}A\x1b[J"));
    }
    for line in lines {
        out.push_str(line);
        out.push('\n');
    }
    for line in status {
        if color {
            out.push_str(&format!("\x1b[2m{line}\x1b[0m\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn write_frame(frame: &str) {
    if frame.is_empty() {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    // A closed terminal is not worth an error: the run goes on, its verdict is what counts.
    let _ = stdout.write_all(frame.as_bytes());
    let _ = stdout.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_erases_the_status_area_before_printing() {
        let lines = ["  0.0  server  start  A 4000".to_string()];
        let status = ["server  listening".to_string()];
        assert_eq!(
            frame(2, &lines, &status, false),
            "\r\x1b[2A\x1b[J  0.0  server  start  A 4000\nserver  listening\n"
        );
        assert_eq!(
            frame(0, &[], &status, true),
            "\x1b[2mserver  listening\x1b[0m\n"
        );
        assert_eq!(frame(1, &[], &[], false), "\r\x1b[1A\x1b[J");
    }

    #[test]
    fn the_status_area_takes_a_third_of_the_terminal() {
        assert_eq!(status_rows(24), 8);
        assert_eq!(status_rows(2), 1);
        assert_eq!(status_rows(200), 12);
    }
}
