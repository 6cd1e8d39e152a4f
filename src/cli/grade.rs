//! `labrun grade` and `labrun merge-grades`: a class graded, on one machine or in slices
//! merged afterwards.

use std::io::IsTerminal;
use std::path::PathBuf;

use super::args::GradeArgs;
use crate::grade::ClassSummary;
use crate::sandbox;
use crate::session::{Error, Summary, UsageError};

/// `labrun grade`: the class graded, its results written (feedback, summaries, the
/// platforms' files, and last its `slice.json`).
pub(crate) fn run_grade(args: &GradeArgs) -> Result<Summary, Error> {
    crate::signals::catch();
    let course = crate::grade::load_course(&args.course)?;
    let mut distinct = args.submissions.clone();
    distinct.sort();
    distinct.dedup();
    let one = distinct.len() == 1;
    if let (Some(a), Some(b)) = (&args.gradescope, &args.prairielearn) {
        let clash = if one {
            a == b
        } else {
            a.file_name() == b.file_name()
        };
        if clash {
            return Err(UsageError::SameResultsFile {
                per_submission: !one,
            }
            .into());
        }
    }
    if let Some(submission) = args.submissions.iter().find(|s| !s.is_dir()) {
        return Err(UsageError::NotAFolder {
            path: submission.clone(),
        }
        .into());
    }
    let uid_range = sandbox::users::range_from(args.uid_range)?;
    let options = crate::grade::GradeOptions {
        uid_range,
        jobs: args.jobs,
        only: args.scenarios.clone(),
        resume: args.resume,
        partition: args.partition,
        out: args.out.clone(),
        progress: std::io::stderr().is_terminal(),
        color: crate::term::color_on_stderr(),
    };
    crate::grade::check_out(&args.out)?;
    // Until this grade has written its results, its folder is no slice to merge.
    crate::merge::forget_slice(&args.out).map_err(Error::Slice)?;
    let outcomes = crate::grade::grade_class(&args.course, &course, &args.submissions, &options)?;
    if let Some(line) = outcomes.iter().find_map(|o| o.isolation.as_deref()) {
        tell!("{line}");
    }
    if let Some(signal) = crate::signals::received() {
        return Ok(Summary::ClassInterrupted { signal, outcomes });
    }
    crate::grade::write_results(&args.out, &outcomes)?;
    let platforms = [
        (crate::autograder::Platform::Gradescope, &args.gradescope),
        (
            crate::autograder::Platform::PrairieLearn,
            &args.prairielearn,
        ),
    ];
    for (platform, file) in platforms {
        if let Some(file) = file {
            crate::autograder::write_results(platform, file, &args.out, &outcomes, one)?;
        }
    }
    // Last: a slice.json says that everything above is there, for merge-grades.
    crate::merge::Slice::of_grade(
        &args.course,
        &args.scenarios,
        args.partition,
        &args.submissions,
        &outcomes,
    )
    .and_then(|slice| slice.write(&args.out))
    .map_err(Error::Slice)?;
    Ok(Summary::Class {
        summary: ClassSummary::of(&outcomes),
        out: args.out.clone(),
    })
}

/// `labrun merge-grades`: the slices' `--out` folders merged into `out`.
pub(crate) fn merge_grades(out: PathBuf, partials: &[PathBuf]) -> Result<Summary, Error> {
    let count = crate::merge::merge(&out, partials).map_err(Error::Merge)?;
    Ok(Summary::Merged { count, out })
}
