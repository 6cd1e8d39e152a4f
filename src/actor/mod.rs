//! The actors of a scenario: the lab's programs, played by labrun itself or by an external
//! program.
//!
//! Reference actors are async tasks that behave, on the wire and on stdout, like the lab's
//! completed C programs, and report what they do as events (`record::EventKind`, through
//! a [`Sink`]). External programs are real processes whose output is read through a
//! pseudo-terminal.

pub(crate) mod elf;
pub(crate) mod external;
pub(crate) mod pace;
pub(crate) mod reference;
pub(crate) mod resolver;

pub(crate) use external::{ExternalCommand, ExternalError};
pub(crate) use reference::{RefParams, RefProgram, run_standalone};

use crate::record::EventKind;

/// Where an actor's events go.
pub(crate) trait Sink: Send + Sync + 'static {
    /// An event of one of the actor's lanes: lane 0 is the actor itself; a per-client
    /// server serves each client in a lane of its own, numbered from 1, whose events follow
    /// one another like those of a program of their own.
    fn emit_in(&self, lane: u32, event: EventKind);

    /// An event of the actor itself (lane 0).
    fn emit(&self, event: EventKind) {
        self.emit_in(0, event);
    }
}
