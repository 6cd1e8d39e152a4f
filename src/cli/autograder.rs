//! `labrun autograder`: labrun and a course packaged for a grading platform.

use super::args::AutograderCommand;
use crate::session::{Error, Summary};

/// The package for the platform asked for, written where asked.
pub(crate) fn run_autograder(command: &AutograderCommand) -> Result<Summary, Error> {
    use crate::autograder::{self, Platform};
    let exe = std::env::current_exe().map_err(Error::OwnExecutable)?;
    let (platform, out) = match command {
        AutograderCommand::Gradescope { course, out } => {
            autograder::gradescope_zip(course, &exe, out)?;
            (Platform::Gradescope, out)
        }
        AutograderCommand::Prairielearn { course, out } => {
            autograder::prairielearn_folder(course, &exe, out)?;
            (Platform::PrairieLearn, out)
        }
    };
    Ok(Summary::Packaged {
        platform,
        out: out.clone(),
    })
}
