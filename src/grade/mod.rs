//! A whole class: many submissions × the course's scenarios, built, run in parallel,
//! graded by the scenarios' rubrics, with a feedback file per student and a class summary.
//!
//! Each run is a `labrun` process of its own (its own private network, its own report),
//! so runs cannot disturb each other; runs mostly wait on the lab's 2 s sleeps, so many
//! more of them than cores run at once.
//!
//! The flow is here ([`grade_class`]); each step has a file:
//!
//! - `course`: the course file, its directions, and the slice of the class (`--partition`).
//! - `build`: a submission's program, built in a copy of it with the course's compiler.
//! - `pool`: the board between build and run threads, and how many runs go at once.
//! - `direction`: one run, a `labrun` process of its own, and its report read back.
//! - `progress`: the progress bar.
//! - `results`: feedback files, `summary.csv`, `summary.json`, `index.html`.
//! - [`journal`]: what is finished, kept as it goes, for `--resume` and against crashes.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

mod build;
mod course;
mod direction;
pub(crate) mod journal;
mod pool;
mod progress;
mod results;

pub(crate) use build::{COPY_BYTES, COPY_DEPTH};
pub(crate) use course::graded_scenarios;
pub(crate) use course::{Course, CourseError, Direction, Partition, load_course};
pub(crate) use results::{by_submission, submission_folder, write_results};
pub(crate) use results::{class_verdict, feedback_text, sanitize, write_index};

use build::{prepare, private_dir};
use direction::{Runner, failed, pass_on_signals, run_one};
use pool::{Board, default_jobs, guarded, next_run, relock};
use progress::{Progress, show_progress};

/// Options of `labrun grade`.
#[derive(Debug, Clone)]
pub(crate) struct GradeOptions {
    /// The uids that compilers and programs run as when labrun is root (given to every
    /// run too).
    pub uid_range: crate::sandbox::users::UidRange,
    /// Runs at once; `None`: as many as the machine holds.
    pub jobs: Option<usize>,
    pub only: Vec<String>,
    /// Take the results of an earlier grading into `out` of the same course, for the
    /// submissions whose files did not change.
    pub resume: bool,
    /// `(k, n)`: grade the k-th of n slices of the class (1-based).
    pub partition: Option<Partition>,
    pub out: PathBuf,
    /// Show a progress bar on standard error (a terminal).
    pub progress: bool,
    /// Colour the progress bar's counts.
    pub color: bool,
}

/// One submission's result in one direction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    pub submission: String,
    pub scenario: String,
    pub role: String,
    /// `pass`, `fail` or `error`.
    pub verdict: String,
    pub score: u64,
    pub max_score: u64,
    /// What a student reads: the checks with their hints, or why nothing ran.
    #[serde(skip)]
    #[serde(default)]
    pub feedback: String,
    /// The rubric's checks, as the run's `--report-json` gave them (empty when nothing
    /// ran): what the Gradescope and PrairieLearn results are made of.
    #[serde(skip)]
    #[serde(default)]
    pub checks: Vec<crate::check::CheckResult>,
    /// When the run ended, from the start of the grading (builds included).
    #[serde(skip)]
    #[serde(default)]
    pub finished: Duration,
    /// The line the run printed about its isolation (a shared network, no capture…): the
    /// same for every run of the class, so said once, not in each student's feedback.
    #[serde(skip)]
    #[serde(default)]
    pub isolation: Option<String>,
}

/// What grading a class came to: how many of its submissions pass every direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassSummary {
    /// The submissions graded.
    pub submissions: usize,
    /// Those whose every direction passed.
    pub passed: usize,
}

impl ClassSummary {
    /// The summary of `outcomes`, in submission order as [`grade_class`] gives them.
    pub fn of(outcomes: &[Outcome]) -> Self {
        let mut submissions: Vec<&str> = outcomes.iter().map(|o| o.submission.as_str()).collect();
        submissions.dedup();
        let passed = submissions
            .iter()
            .filter(|s| {
                outcomes
                    .iter()
                    .filter(|o| &o.submission == *s)
                    .all(|o| o.verdict == "pass")
            })
            .count();
        ClassSummary {
            submissions: submissions.len(),
            passed,
        }
    }

    /// Whether every submission passes.
    pub fn all_pass(&self) -> bool {
        self.passed == self.submissions
    }
}

/// Why a class cannot be graded at all.
#[derive(Debug, thiserror::Error)]
pub enum GradeError {
    /// The course or the command line asks for something that cannot be (exit 2).
    #[error("{0}")]
    Invalid(String),
    /// labrun cannot do its work: its own files, folders, executable (exit 3).
    #[error("{0}")]
    Files(String),
}

/// Checks, before anything is built or run, that grades can be written into `out`: a class
/// graded for minutes must not learn at its end that its results have nowhere to go.
pub(crate) fn check_out(out: &Path) -> Result<(), GradeError> {
    let fail =
        |e: std::io::Error| GradeError::Files(format!("cannot write to {}: {e}", out.display()));
    std::fs::create_dir_all(out).map_err(fail)?;
    let probe = out.join(format!(".labrun-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)
}

/// Grades every submission; returns the outcomes, in submission then course order.
pub(crate) fn grade_class(
    course_path: &Path,
    course: &Course,
    submissions: &[PathBuf],
    options: &GradeOptions,
) -> Result<Vec<Outcome>, GradeError> {
    // Builds included: a platform's execution time is the whole of it.
    let begun = Instant::now();
    // Before any thread: the runs' namespaces get small socket tables of their own.
    crate::sandbox::tables_for_runs();
    let exe = std::env::current_exe()
        .map_err(|e| GradeError::Files(format!("cannot find labrun itself: {e}")))?;
    let base = course_path.parent().unwrap_or(Path::new("."));
    let scenarios = base.join(&course.scenarios);
    let directions: Vec<&Direction> = course
        .grade
        .iter()
        .filter(|d| options.only.is_empty() || options.only.contains(&d.scenario))
        .collect();
    if directions.is_empty() {
        return Err(GradeError::Invalid(
            "no scenario of the course is left to grade (check --scenario)".into(),
        ));
    }
    let mut submissions: Vec<PathBuf> = submissions.to_vec();
    submissions.sort();
    submissions.dedup();
    if let Some(partition) = options.partition {
        submissions = submissions
            .into_iter()
            .enumerate()
            .filter(|(i, s)| {
                let name = s
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                partition.takes(*i, &name)
            })
            .map(|(_, s)| s)
            .collect();
    }
    // Compilers, and every run's programs, as users of their own when labrun is root.
    let own_users = crate::sandbox::users::enable(options.uid_range).is_ok();
    // In labrun's scratch folder: a grade killed half-way leaves nothing for good.
    let scratch = crate::scratch::folder("grade-").map_err(GradeError::Files)?;
    let work = scratch.path().to_path_buf();
    // labrun's alone (a temporary folder is made so already; said, not assumed).
    private_dir(&work).map_err(GradeError::Files)?;
    if own_users {
        // The feedback, summaries and pages of the class: no program may read them.
        private_dir(&options.out).map_err(GradeError::Files)?;
    }
    let build_timeout = crate::scenario::duration::parse(&course.build.timeout)
        .map_err(|e| GradeError::Invalid(format!("invalid build timeout: {e}")))?;
    let names: Vec<String> = submissions
        .iter()
        .map(|s| {
            s.file_name()
                .map_or_else(|| "submission".into(), |n| n.to_string_lossy().into_owned())
        })
        .collect();

    // Two submissions in one folder of `out` would overwrite each other's results.
    let mut folders: Vec<(String, &str)> =
        names.iter().map(|n| (sanitize(n), n.as_str())).collect();
    folders.sort();
    if let Some(pair) = folders.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        return Err(GradeError::Invalid(format!(
            "submissions `{}` and `{}` would share the folder {} of {}: rename one",
            pair[0].1,
            pair[1].1,
            pair[0].0,
            options.out.display()
        )));
    }

    // What an earlier grading of the same course into `out` finished, with the same files,
    // is taken as it is (`--resume`); every submission done from now on is written at once.
    let graded = graded_scenarios(course_path, course, &options.only);
    let journal = crate::grade::journal::Journal::open(
        &options.out,
        &crate::grade::journal::course_id(course_path, &graded),
        options.resume,
    )?;
    let files: Vec<String> = submissions
        .iter()
        .map(|s| crate::grade::journal::files_id(s))
        .collect();
    let earlier: Vec<Option<Vec<Outcome>>> = names
        .iter()
        .zip(&files)
        .map(|(name, files)| journal.earlier(name, files))
        .collect();
    let to_grade: Vec<usize> = (0..names.len()).filter(|&i| earlier[i].is_none()).collect();
    if options.resume {
        tell!(
            "labrun: --resume: {} of {} submissions already graded in {}",
            names.len() - to_grade.len(),
            names.len(),
            options.out.display()
        );
    }

    // The longest runs start first, so that the class takes about as long as its longest
    // run, not that plus the builds: the files they need are built first, for everyone,
    // and each run starts as soon as its file is built.
    let lengths: Vec<Duration> = graded
        .iter()
        .map(|(_, _, path)| {
            crate::scenario::load(path).map_or(Duration::ZERO, |p| p.expected_length())
        })
        .collect();
    let mut course_files: Vec<(String, Duration)> = Vec::new();
    for (d, direction) in directions.iter().enumerate() {
        match course_files.iter_mut().find(|(f, _)| f == &direction.file) {
            Some((_, longest)) => *longest = (*longest).max(lengths[d]),
            // Each file once: two builds of one file would share (and clear) one folder.
            None => course_files.push((direction.file.clone(), lengths[d])),
        }
    }
    course_files.sort_by_key(|(_, longest)| std::cmp::Reverse(*longest));
    let builds: Vec<(usize, String)> = course_files
        .iter()
        .flat_map(|(f, _)| to_grade.iter().map(move |&i| (i, f.clone())))
        .collect();
    // Each run writes its HTML page beside the student's feedback file.
    let pages = std::path::absolute(&options.out).unwrap_or_else(|_| options.out.clone());
    // What no program may see, where its run can hide things: the submissions (its own is
    // copied into its run's folder before it starts), the outputs, the builds.
    let mut hidden: Vec<PathBuf> = submissions
        .iter()
        .map(|s| std::path::absolute(s).unwrap_or_else(|_| s.clone()))
        .collect();
    hidden.push(pages.clone());
    hidden.push(work.clone());
    // The compilers see none of it either (their copy of the submission is their working
    // directory: it stays usable).
    let build_hidden = crate::sandbox::pids::Mounts::hiding(&hidden);
    let compilers = std::thread::available_parallelism().map_or(2, |n| n.get() * 2);

    let total = to_grade.len() * directions.len();
    let jobs = options
        .jobs
        .unwrap_or_else(|| default_jobs(compilers))
        .clamp(1, total.max(1));
    let board = Mutex::new(Board {
        builds_left: builds.len(),
        ready: Vec::new(),
        left: names.iter().map(|_| directions.len()).collect(),
        outcomes: names.iter().map(|_| vec![None; directions.len()]).collect(),
    });
    let ready = std::sync::Condvar::new();
    let next_build = std::sync::atomic::AtomicUsize::new(0);
    let state = Mutex::new(Progress {
        total,
        ..Progress::default()
    });
    let changed = std::sync::Condvar::new();
    let started = Instant::now();
    let over = std::sync::atomic::AtomicBool::new(false);
    let runner = Runner {
        exe: &exe,
        scenarios: &scenarios,
        work: &work,
        pages: &pages,
        uid_range: options.uid_range,
        hidden: &hidden,
    };
    std::thread::scope(|scope| {
        if options.progress {
            scope.spawn(|| show_progress(&state, &changed, started, options.color));
        }
        scope.spawn(|| pass_on_signals(&over));
        let compiling: Vec<_> = (0..compilers.min(builds.len()))
            .map(|_| {
                scope.spawn(|| {
                    loop {
                        let next = next_build.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((i, file)) = builds.get(next) else {
                            return;
                        };
                        // Interrupted: nothing more is built (its runs are never started).
                        let program = if crate::signals::received().is_some() {
                            Err("interrupted".to_string())
                        } else {
                            // A panic is a bug of labrun's: the build fails, the class
                            // goes on (its runs would otherwise wait for it for ever).
                            guarded(|| {
                                prepare(
                                    &submissions[*i],
                                    file,
                                    &work.join(&names[*i]),
                                    &course.build.command,
                                    build_timeout,
                                    &build_hidden,
                                )
                            })
                            .and_then(|built| built)
                        };
                        let mut board = relock(&board);
                        for (d, direction) in directions.iter().enumerate() {
                            if &direction.file == file {
                                board.ready.push((*i, d, program.clone()));
                            }
                        }
                        board.builds_left -= 1;
                        ready.notify_all();
                    }
                })
            })
            .collect();
        let running: Vec<_> = (0..jobs)
            .map(|_| {
                scope.spawn(|| {
                    while let Some((i, d, program)) = next_run(&board, &ready, &lengths) {
                        relock(&state).running += 1;
                        changed.notify_one();
                        let pages = pages.join(sanitize(&names[i]));
                        let runner = Runner {
                            pages: &pages,
                            ..runner
                        };
                        let direction = directions[d];
                        let mut outcome =
                            guarded(|| run_one(&runner, &names[i], direction, program))
                                .unwrap_or_else(|why| failed(&names[i], direction, &runner, &why));
                        outcome.finished = begun.elapsed();
                        relock(&state).count(&outcome);
                        changed.notify_one();
                        let finished = {
                            let mut board = relock(&board);
                            board.outcomes[i][d] = Some(outcome);
                            board.left[i] -= 1;
                            (board.left[i] == 0).then(|| {
                                board.outcomes[i]
                                    .iter()
                                    .flatten()
                                    .cloned()
                                    .collect::<Vec<_>>()
                            })
                        };
                        // A run stopped by a signal is no result: such a submission is
                        // left for `--resume` to grade again.
                        if let Some(outcomes) = finished
                            && crate::signals::received().is_none()
                            && let Err(message) = journal.record(&names[i], &files[i], &outcomes)
                        {
                            tell!("labrun: {message}");
                        }
                    }
                })
            })
            .collect();
        for thread in compiling.into_iter().chain(running) {
            let _ = thread.join();
        }
        // Also after a worker's panic: the progress thread must stop, or the scope waits.
        relock(&state).over = true;
        over.store(true, std::sync::atomic::Ordering::SeqCst);
        changed.notify_one();
    });
    drop(scratch);
    let mut board = board.into_inner().unwrap_or_else(PoisonError::into_inner);
    // In submission then course order, those of the earlier grading included.
    Ok(earlier
        .into_iter()
        .enumerate()
        .flat_map(|(i, earlier)| {
            earlier.unwrap_or_else(|| {
                std::mem::take(&mut board.outcomes[i])
                    .into_iter()
                    .flatten()
                    .collect()
            })
        })
        .collect())
}
