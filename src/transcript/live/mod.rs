//! The live view of a run on a terminal: the transcript's lines as the events arrive, and
//! below them a status area, one line per role, redrawn in place: who waits to start and
//! on what, who runs, listens, sleeps (and how long is left), who has ended and how.
//!
//! Three parts, each in a file, so that the drawing can be tested without a terminal:
//! - [`Live`] (`lines`) turns one event into its transcript line;
//! - [`Board`] (`board`) is what each actor is doing, fed with events, and
//!   [`Board::render`] is a pure function from it to the status lines, bounded to the
//!   terminal's width and height;
//! - [`watch`] (`painter`) runs a painter thread beside the run: the engine's observer only
//!   updates the board and queues lines (it never writes to the terminal), and the painter
//!   draws at most one frame every [`FRAME`](painter::FRAME), and ticks every
//!   [`TICK`](painter::TICK) only while a countdown shows, so an idle run draws nothing.

mod board;
mod lines;
mod painter;

pub(super) use board::Board;
pub(super) use lines::Live;
pub(crate) use painter::watch;
