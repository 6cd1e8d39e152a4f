//! The actors of a scenario: the lab's programs, played by labrun itself or by an external
//! program.
//!
//! Reference actors are async tasks that behave, on the wire and on stdout, like the lab's
//! completed C programs, and report what they do as events. External programs are real
//! processes whose output is read through a pseudo-terminal.

pub(crate) mod cstr;
pub(crate) mod external;
pub(crate) mod pace;
pub(crate) mod reference;
pub mod resolver;

use std::time::Duration;

pub use external::{ExternalCommand, ExternalError};
pub use reference::{RefParams, RefProgram, run_standalone};

use crate::transcript::EventKind;

/// Where an actor's events go.
pub(crate) trait Sink: Send + Sync + 'static {
    fn emit(&self, event: EventKind);
}

/// Scales a declared delay by the run's time scale.
pub(crate) fn scaled(declared: Duration, scale: f64) -> Duration {
    if scale <= 0.0 || declared.is_zero() {
        Duration::ZERO
    } else {
        declared.mul_f64(scale)
    }
}
