//! The command line: `labrun SCENARIO…`, `labrun grade`, `labrun ref PROGRAM …` and the
//! others. Each command returns what it came to ([`crate::session`]): a summary or an
//! error; [`exit_code`] alone turns it into the exit code, at the end (ripgrep's
//! `main`/`try_main`).
//!
//! - `args`: the clap types, the arguments as typed ([`Cli`] and what it holds).
//! - `run`: `labrun SCENARIO…`, one scenario in this process or several in labruns of
//!   their own.
//! - `grade`: `labrun grade` and `labrun merge-grades`.
//! - `autograder`: `labrun autograder`.
//! - `reference`: `labrun ref`.
//! - `print`: the verdicts and summaries printed at the end.

mod args;
mod autograder;
mod grade;
mod print;
mod reference;
mod run;

pub use crate::session::PROTECTION_LACKING;
pub use args::{
    AutograderCommand, Cli, ClientArgs, Command, DiagramFormat, DoctorArgs, Format, GradeArgs,
    RefCommand, RunArgs, ServerArgs,
};

use crate::autograder::AutograderError;
use crate::grade::GradeError;
use crate::merge::MergeError;
use crate::scenario::ScenarioError;
use crate::session::{ChildEnd, Error, ScenarioVerdict, Summary};

pub use crate::exit;

/// Runs the command line and returns the process exit code: the command gives a summary
/// or an error, and `finish` prints it and maps it to the code, once.
pub fn main(cli: Cli) -> i32 {
    crate::scratch::sweep_dead();
    finish(try_main(cli))
}

/// Runs the command: what it prints along the way (transcripts, progress, warnings) it
/// prints itself; what it came to is the value it returns.
fn try_main(cli: Cli) -> Result<Summary, Error> {
    match cli.command {
        Some(Command::Ref(command)) => reference::run_ref(command),
        Some(Command::Grade(args)) => grade::run_grade(&args),
        Some(Command::Doctor(DoctorArgs { probe: Some(kind) })) => Ok(Summary::Probe {
            allowed: crate::doctor::run_probe(kind),
        }),
        Some(Command::Doctor(DoctorArgs { probe: None })) => {
            Ok(Summary::Diagnosis(crate::doctor::diagnose().text()))
        }
        Some(Command::Autograder(command)) => autograder::run_autograder(&command),
        Some(Command::MergeGrades { out, partials }) => grade::merge_grades(out, &partials),
        None if cli.run.scenarios.len() > 1 => run::run_each(&cli.run),
        None => run::run_one(&cli.run, &cli.run.scenarios[0]).map(Summary::Scenario),
    }
}

/// Prints what a command came to, its verdict or its error, and returns its exit code:
/// the one place where both are decided.
fn finish(result: Result<Summary, Error>) -> i32 {
    match &result {
        Ok(summary) => print::summary(summary),
        // The diagnostics of a scenario are lines of their own, each with its position.
        Err(Error::Scenario(ScenarioError::Invalid(diagnostics))) => tell_raw!("{diagnostics}"),
        Err(error) => tell!("labrun: {error}"),
    }
    exit_code(&result)
}

/// The exit code of what a command came to, as the README's table gives them: 0 when
/// everything matched or passed, 1 when something differed or failed, 2 for invalid
/// input, 3 when labrun could not do its work, 130 and 143 for SIGINT and SIGTERM.
pub fn exit_code(result: &Result<Summary, Error>) -> i32 {
    let failed_unless = |ok: bool| if ok { exit::OK } else { exit::FAILED };
    match result {
        Ok(Summary::Scenario(run)) => match &run.verdict {
            ScenarioVerdict::Matched { .. } | ScenarioVerdict::Updated { .. } => exit::OK,
            ScenarioVerdict::Differed { .. } | ScenarioVerdict::NoSnapshot { .. } => exit::FAILED,
            ScenarioVerdict::Unchecked { timed_out } => failed_unless(!timed_out),
            ScenarioVerdict::Rubric { passed, .. } => failed_unless(*passed),
            ScenarioVerdict::Interrupted { signal } => crate::signals::exit_code(*signal),
        },
        Ok(Summary::Scenarios {
            interrupted: Some(signal),
            ..
        })
        | Ok(Summary::ClassInterrupted { signal, .. }) => crate::signals::exit_code(*signal),
        // Each labrun decided its own code; the worst of them is the run's.
        Ok(Summary::Scenarios {
            ends,
            interrupted: None,
        }) => ends
            .iter()
            .map(|end| match end {
                ChildEnd::Exited(code) => *code,
                ChildEnd::Killed | ChildEnd::NotStarted => exit::ERROR,
            })
            .fold(exit::OK, i32::max),
        Ok(Summary::Class { summary, .. }) => failed_unless(summary.all_pass()),
        Ok(Summary::Merged { .. } | Summary::Packaged { .. } | Summary::Diagnosis(_)) => exit::OK,
        Ok(Summary::Probe { allowed }) => failed_unless(*allowed),
        Ok(Summary::Program { status }) => *status,
        Err(error) => match error {
            Error::Scenario(_)
            | Error::Usage(_)
            | Error::UidRange(_)
            | Error::Course(_)
            | Error::Grade(GradeError::Invalid(_))
            | Error::Autograder(AutograderError::Course(_)) => exit::USAGE,
            Error::Merge(MergeError::Write(_)) => exit::ERROR,
            Error::Merge(_) => exit::USAGE,
            Error::Grade(GradeError::Files(_))
            | Error::Slice(_)
            | Error::Autograder(AutograderError::Io { .. })
            | Error::OwnExecutable(_)
            | Error::Runtime(_)
            | Error::Network(_)
            | Error::StaticResolver { .. }
            | Error::Engine(_)
            | Error::Snapshot(_)
            | Error::NoCaptureToWrite { .. }
            | Error::Write { .. } => exit::ERROR,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::grade::{ClassSummary, Outcome};
    use crate::session::{Compared, ScenarioRun, UsageError};

    fn scenario(verdict: ScenarioVerdict) -> Result<Summary, Error> {
        Ok(Summary::Scenario(ScenarioRun {
            name: "tcp_basic".into(),
            elapsed: Duration::from_millis(10),
            verdict,
        }))
    }

    fn snap() -> PathBuf {
        PathBuf::from("snapshots/tcp_basic.snap")
    }

    fn io() -> std::io::Error {
        std::io::Error::from(std::io::ErrorKind::PermissionDenied)
    }

    fn outcome(submission: &str, verdict: &str) -> Outcome {
        Outcome {
            submission: submission.into(),
            scenario: "tcp_basic".into(),
            role: "server".into(),
            verdict: verdict.into(),
            score: 0,
            max_score: 10,
            feedback: String::new(),
            checks: Vec::new(),
            finished: Duration::ZERO,
            isolation: None,
        }
    }

    #[test]
    fn a_scenario_exits_by_its_verdict() {
        let whole = Compared::Whole { pending: None };
        let cases = [
            (
                ScenarioVerdict::Matched {
                    snapshot: snap(),
                    compared: whole.clone(),
                },
                exit::OK,
            ),
            (
                ScenarioVerdict::Matched {
                    snapshot: snap(),
                    compared: Compared::ButPackets,
                },
                exit::OK,
            ),
            (ScenarioVerdict::Updated { snapshot: snap() }, exit::OK),
            (
                ScenarioVerdict::Differed {
                    snapshot: snap(),
                    expected: "a".into(),
                    actual: "b".into(),
                    compared: whole.clone(),
                },
                exit::FAILED,
            ),
            (
                ScenarioVerdict::NoSnapshot {
                    snapshot: snap(),
                    compared: Compared::ButPackets,
                },
                exit::FAILED,
            ),
            (ScenarioVerdict::Unchecked { timed_out: false }, exit::OK),
            (ScenarioVerdict::Unchecked { timed_out: true }, exit::FAILED),
            (
                ScenarioVerdict::Rubric {
                    passed: true,
                    help: Some(("a".into(), "b".into())),
                },
                exit::OK,
            ),
            (
                ScenarioVerdict::Rubric {
                    passed: false,
                    help: None,
                },
                exit::FAILED,
            ),
            (
                ScenarioVerdict::Interrupted {
                    signal: libc::SIGINT,
                },
                exit::INTERRUPTED,
            ),
            (
                ScenarioVerdict::Interrupted {
                    signal: libc::SIGTERM,
                },
                exit::TERMINATED,
            ),
        ];
        for (verdict, code) in cases {
            let text = format!("{verdict:?}");
            assert_eq!(exit_code(&scenario(verdict)), code, "{text}");
        }
    }

    #[test]
    fn several_scenarios_exit_with_the_worst_of_their_codes() {
        let ends = |ends: &[ChildEnd]| {
            exit_code(&Ok(Summary::Scenarios {
                ends: ends.to_vec(),
                interrupted: None,
            }))
        };
        assert_eq!(ends(&[]), exit::OK);
        assert_eq!(
            ends(&[ChildEnd::Exited(0), ChildEnd::Exited(1)]),
            exit::FAILED
        );
        assert_eq!(
            ends(&[ChildEnd::Exited(2), ChildEnd::Exited(1)]),
            exit::USAGE
        );
        assert_eq!(ends(&[ChildEnd::Exited(0), ChildEnd::Killed]), exit::ERROR);
        assert_eq!(ends(&[ChildEnd::NotStarted]), exit::ERROR);
        assert_eq!(ends(&[ChildEnd::Exited(143)]), exit::TERMINATED);
        let stopped = Summary::Scenarios {
            ends: vec![ChildEnd::Exited(0)],
            interrupted: Some(libc::SIGINT),
        };
        assert_eq!(exit_code(&Ok(stopped)), exit::INTERRUPTED);
    }

    #[test]
    fn a_class_exits_0_only_when_every_submission_passes() {
        let class = |outcomes: &[Outcome]| {
            exit_code(&Ok(Summary::Class {
                summary: ClassSummary::of(outcomes),
                out: "grades".into(),
            }))
        };
        let (alice, bob) = (outcome("alice", "pass"), outcome("bob", "pass"));
        assert_eq!(class(&[alice.clone(), bob.clone()]), exit::OK);
        assert_eq!(class(&[alice, outcome("bob", "fail"), bob]), exit::FAILED);
        assert_eq!(class(&[outcome("carol", "error")]), exit::FAILED);
        let summary = ClassSummary::of(&[
            outcome("alice", "pass"),
            outcome("alice", "pass"),
            outcome("bob", "fail"),
        ]);
        assert_eq!(
            summary,
            ClassSummary {
                submissions: 2,
                passed: 1
            }
        );
        let stopped = Summary::ClassInterrupted {
            signal: libc::SIGTERM,
            outcomes: vec![outcome("alice", "pass")],
        };
        assert_eq!(exit_code(&Ok(stopped)), exit::TERMINATED);
    }

    #[test]
    fn the_other_commands_exit_by_their_summary() {
        let cases = [
            (
                Summary::Merged {
                    count: 3,
                    out: "grades".into(),
                },
                exit::OK,
            ),
            (
                Summary::Packaged {
                    platform: crate::autograder::Platform::Gradescope,
                    out: "a.zip".into(),
                },
                exit::OK,
            ),
            (Summary::Diagnosis("ok\n".into()), exit::OK),
            (Summary::Probe { allowed: true }, exit::OK),
            (Summary::Probe { allowed: false }, exit::FAILED),
            // A lab program run by hand exits as the C program would.
            (Summary::Program { status: 2 }, 2),
        ];
        for (summary, code) in cases {
            let text = format!("{summary:?}");
            assert_eq!(exit_code(&Ok(summary)), code, "{text}");
        }
    }

    #[test]
    fn invalid_input_is_2() {
        let errors: Vec<Error> = vec![
            ScenarioError::TooLong {
                path: "s.toml".into(),
                limit: 1,
            }
            .into(),
            ScenarioError::Read {
                path: "s.toml".into(),
                source: io(),
            }
            .into(),
            UsageError::RoleTwice {
                role: "server".into(),
            }
            .into(),
            UsageError::NotAFolder {
                path: "alice".into(),
            }
            .into(),
            crate::sandbox::users::RangeError {
                reason: "`x` is not a uid".into(),
            }
            .into(),
            crate::grade::CourseError::Read {
                path: "course.toml".into(),
                source: io(),
            }
            .into(),
            GradeError::Invalid("no scenario".into()).into(),
            Error::Merge(MergeError::Missing {
                missing: vec!["2/3".into()],
                given: "1/3".into(),
            }),
            Error::Merge(MergeError::Read {
                path: "slice".into(),
                source: io(),
            }),
            AutograderError::Course("cannot find course c.toml".into()).into(),
        ];
        for error in errors {
            assert_eq!(exit_code(&Err(error)), exit::USAGE);
        }
    }

    #[test]
    fn labrun_failing_at_its_own_work_is_3() {
        let errors: Vec<Error> = vec![
            GradeError::Files("cannot write to grades".into()).into(),
            Error::Merge(MergeError::Write("cannot write to merged".into())),
            // grade's own slice.json, even when what fails is reading the course again.
            Error::Slice(MergeError::Invalid {
                path: "course.toml".into(),
                reason: "gone".into(),
            }),
            AutograderError::Io {
                what: "create",
                path: "out".into(),
                source: io(),
            }
            .into(),
            Error::OwnExecutable(io()),
            Error::Runtime(io()),
            crate::sandbox::network::NetworkError::Ports("none left".into()).into(),
            Error::StaticResolver {
                program: "./resolve".into(),
            },
            crate::engine::EngineError::Workdir(io()).into(),
            crate::snapshot::SnapshotError::Write {
                path: snap(),
                source: io(),
            }
            .into(),
            Error::NoCaptureToWrite {
                name: "tcp_basic".into(),
                snapshot: snap(),
            },
            Error::Write {
                path: "capture.pcap".into(),
                source: io(),
            },
        ];
        for error in errors {
            let text = format!("{error:?}");
            assert_eq!(exit_code(&Err(error)), exit::ERROR, "{text}");
        }
    }

    /// The case `labrun grade` once got wrong (exit 2): an `--out` folder that cannot be
    /// made is labrun unable to do its work.
    #[test]
    fn an_out_folder_that_cannot_be_made_is_3() {
        let dir = tempfile::tempdir().expect("a folder");
        let file = dir.path().join("not-a-folder");
        std::fs::write(&file, "").expect("a file");
        let out = file.join("grades");
        let error = crate::grade::check_out(&out).expect_err("no folder in a file");
        assert_eq!(exit_code(&Err(error.into())), exit::ERROR);
        let error = crate::autograder::write_results(
            crate::autograder::Platform::Gradescope,
            &out.join("results.json"),
            &out,
            &[outcome("alice", "pass")],
            true,
        )
        .expect_err("no folder in a file");
        let error = Error::from(error);
        assert!(
            error
                .to_string()
                .starts_with(&format!("cannot create {}: ", out.display())),
            "{error}"
        );
        assert_eq!(exit_code(&Err(error)), exit::ERROR);
    }

    #[test]
    fn errors_say_what_labrun_printed_before_they_were_typed() {
        let cases: Vec<(Error, String)> = vec![
            (
                UsageError::SameResultsFile {
                    per_submission: false,
                }
                .into(),
                "--gradescope and --prairielearn would write the same file; give them different names".into(),
            ),
            (
                UsageError::SameResultsFile {
                    per_submission: true,
                }
                .into(),
                "--gradescope and --prairielearn would write the same file in each submission's folder; give them different names".into(),
            ),
            (
                UsageError::WithNotRole {
                    option: "server".into(),
                }
                .into(),
                "`--with server` must be ROLE=PROGRAM, such as `server=./serveur`".into(),
            ),
            (
                UsageError::UnknownRole {
                    role: "proxy".into(),
                    scenario: "tcp_basic".into(),
                    roles: vec!["server".into(), "client".into()],
                }
                .into(),
                "unknown role `proxy` in `--with`; the roles of tcp_basic are: server, client"
                    .into(),
            ),
            (
                UsageError::Program {
                    role: "server".into(),
                    source: crate::actor::ExternalError::Empty,
                }
                .into(),
                "--with server: the program is empty".into(),
            ),
            (
                ScenarioError::Read {
                    path: "s.toml".into(),
                    source: io(),
                }
                .into(),
                format!("cannot read scenario s.toml: {}", io()),
            ),
            (
                crate::engine::EngineError::Workdir(io()).into(),
                format!("cannot create a working directory for the run: {}", io()),
            ),
            (
                Error::OwnExecutable(io()),
                format!("cannot find its own executable: {}", io()),
            ),
            (
                Error::Write {
                    path: "capture.pcap".into(),
                    source: io(),
                },
                format!("cannot write capture.pcap: {}", io()),
            ),
            (
                crate::sandbox::users::RangeError {
                    reason: "`x` is not a uid".into(),
                }
                .into(),
                "LABRUN_UID_RANGE: `x` is not a uid".into(),
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
    }

    /// The README's table lists exactly the codes labrun exits with.
    #[test]
    fn the_readme_table_lists_the_exit_codes() {
        let readme = include_str!("../../README.md");
        let table = readme
            .split("### Exit codes")
            .nth(1)
            .expect("an exit-code section");
        let codes: Vec<i32> = table
            .lines()
            .skip_while(|line| !line.starts_with('|'))
            .take_while(|line| line.starts_with('|'))
            .filter_map(|line| line.split('|').nth(1)?.trim().parse().ok())
            .collect();
        let want = [
            exit::OK,
            exit::FAILED,
            exit::USAGE,
            exit::ERROR,
            exit::INTERRUPTED,
            exit::TERMINATED,
        ];
        assert_eq!(codes, want);
    }
}
