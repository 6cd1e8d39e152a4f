//! A whole class: many submissions × the course's scenarios, built, run in parallel,
//! graded by the scenarios' rubrics, with a feedback file per student and a class summary.
//!
//! Each run is a `labrun` process of its own (its own private network, its own report),
//! so runs cannot disturb each other; runs mostly wait on the lab's 2 s sleeps, so many
//! more of them than cores run at once.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub mod journal;

/// A course file: which file of a submission plays which role in which scenario.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Course {
    /// Folder of the scenarios, relative to the course file.
    #[serde(default = "default_scenarios")]
    pub scenarios: PathBuf,
    #[serde(default)]
    pub build: Build,
    pub grade: Vec<Direction>,
}

fn default_scenarios() -> PathBuf {
    PathBuf::from("../scenarios")
}

/// How a C source of a submission is built.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Build {
    /// The command, with `{source}` and `{output}`; run in the submission's copy.
    pub command: String,
    /// Wall-clock limit of one build, like `60s`.
    pub timeout: String,
}

impl Default for Build {
    fn default() -> Self {
        Build {
            command: "gcc -Wall -O0 -o {output} {source}".into(),
            timeout: "60s".into(),
        }
    }
}

/// One direction graded: a submission's file plays a role of a scenario.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Direction {
    pub scenario: String,
    pub role: String,
    pub file: String,
}

/// Options of `labrun grade`.
#[derive(Debug, Clone)]
pub struct GradeOptions {
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

/// A slice of the class, for a CI matrix (nextest's partition schemes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partition {
    /// `count:K/N` (or `K/N`): every N-th submission of the sorted class from the K-th; a
    /// submission added or removed moves the others to other slices.
    Count { k: usize, n: usize },
    /// `hash:K/N`: the slice a submission's name hashes to; adding or removing a
    /// submission moves no other.
    Hash { k: usize, n: usize },
}

impl Partition {
    /// Reads `K/N`, `count:K/N` or `hash:K/N` (K from 1 to N).
    pub fn parse(text: &str) -> Result<Self, String> {
        let (scheme, slice) = match text.split_once(':') {
            Some((scheme, slice)) => (scheme, slice),
            None => ("count", text),
        };
        let (k, n) = slice
            .split_once('/')
            .ok_or("write it K/N, count:K/N or hash:K/N, such as hash:1/4")?;
        let k: usize = k.parse().map_err(|_| format!("`{k}` is not a number"))?;
        let n: usize = n.parse().map_err(|_| format!("`{n}` is not a number"))?;
        if n == 0 || k == 0 || k > n {
            return Err(format!("{k}/{n}: K must be between 1 and N"));
        }
        match scheme {
            "count" => Ok(Partition::Count { k, n }),
            "hash" => Ok(Partition::Hash { k, n }),
            other => Err(format!(
                "unknown partition scheme `{other}`: `count` or `hash`"
            )),
        }
    }

    /// Whether the slice takes the submission `name`, at `position` in the sorted class.
    pub fn takes(self, position: usize, name: &str) -> bool {
        match self {
            Partition::Count { k, n } => position % n == k - 1,
            Partition::Hash { k, n } => {
                let slice = stable_hash(name) % u64::try_from(n).unwrap_or(1);
                usize::try_from(slice).is_ok_and(|s| s == k - 1)
            }
        }
    }
}

/// FNV-1a, 64 bits: the same on every machine, every run and every labrun version, unlike
/// the standard library's hasher.
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
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

/// How a run's line about its isolation starts (see `sandbox::Network::warning`).
pub const ISOLATION_LINE: &str = "labrun: warning: this run has ";

/// Reads a course file.
pub fn load_course(path: &Path) -> Result<Course, CourseError> {
    let text = std::fs::read_to_string(path).map_err(|source| CourseError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| CourseError::Invalid {
        path: path.to_path_buf(),
        source: Box::new(source),
    })
}

/// Why a course file cannot be used: an invalid input (exit 2), whether it is missing or
/// wrong.
#[derive(Debug, thiserror::Error)]
pub enum CourseError {
    #[error("cannot read course {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid course {}: {source}", .path.display())]
    Invalid {
        path: PathBuf,
        #[source]
        source: Box<toml::de::Error>,
    },
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
pub fn check_out(out: &Path) -> Result<(), GradeError> {
    let fail =
        |e: std::io::Error| GradeError::Files(format!("cannot write to {}: {e}", out.display()));
    std::fs::create_dir_all(out).map_err(fail)?;
    let probe = out.join(format!(".labrun-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)
}

/// Grades every submission; returns the outcomes, in submission then course order.
pub fn grade_class(
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

/// The directions graded (all of the course's, or those of `only`): scenario, role, and
/// the scenario's file.
pub(crate) fn graded_scenarios(
    course_path: &Path,
    course: &Course,
    only: &[String],
) -> Vec<(String, String, PathBuf)> {
    let scenarios = course_path
        .parent()
        .unwrap_or(Path::new("."))
        .join(&course.scenarios);
    course
        .grade
        .iter()
        .filter(|d| only.is_empty() || only.contains(&d.scenario))
        .map(|d| {
            let path = scenarios.join(format!("{}.toml", d.scenario));
            (d.scenario.clone(), d.role.clone(), path)
        })
        .collect()
}

/// `work()`, or what its panic said: a bug of labrun's in one build or run must not stop,
/// or hang, the grading of the whole class.
fn guarded<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).map_err(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        format!("labrun failed (a bug, please report it): {what}")
    })
}

/// The outcome of a direction that labrun could not grade: an error out of the
/// direction's points.
fn failed(submission: &str, direction: &Direction, runner: &Runner<'_>, why: &str) -> Outcome {
    let scenario = runner
        .scenarios
        .join(format!("{}.toml", direction.scenario));
    Outcome {
        submission: submission.to_string(),
        scenario: direction.scenario.clone(),
        role: direction.role.clone(),
        verdict: "error".into(),
        score: 0,
        max_score: direction_points(&scenario, &direction.role),
        feedback: format!("{}: {}: {why}\n", direction.scenario, direction.role),
        checks: Vec::new(),
        finished: Duration::ZERO,
        isolation: None,
    }
}

/// The builds and runs of a class, as the compilers and the runs share them.
struct Board {
    /// Builds not yet done: until there are none, a run that finds nothing ready waits.
    builds_left: usize,
    /// Runs whose program is built (or failed to): submission, direction, program.
    ready: Vec<(usize, usize, Result<PathBuf, String>)>,
    /// Each submission's runs not yet done.
    left: Vec<usize>,
    /// Each submission's outcomes, by direction.
    outcomes: Vec<Vec<Option<Outcome>>>,
}

/// The next run to start, the longest of those ready (the first one in course order among
/// equals); `None` once nothing is left, or when interrupted.
fn next_run(
    board: &Mutex<Board>,
    ready: &std::sync::Condvar,
    lengths: &[Duration],
) -> Option<(usize, usize, Result<PathBuf, String>)> {
    let mut board = relock(board);
    loop {
        if crate::signals::received().is_some() {
            return None;
        }
        let longest = board
            .ready
            .iter()
            .enumerate()
            .max_by_key(|(_, (i, d, _))| (lengths[*d], std::cmp::Reverse((*i, *d))))
            .map(|(at, _)| at);
        if let Some(at) = longest {
            return Some(board.ready.swap_remove(at));
        }
        if board.builds_left == 0 {
            return None;
        }
        board = ready
            .wait_timeout(board, Duration::from_millis(200))
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
}

/// How many runs go at once when `--jobs` is not given: as many as the machine holds.
/// A run mostly sleeps; what bounds them is memory ([`RUN_MEMORY`] a run, room for a
/// student's program included), the uids to lend (one per program), and open files (a few
/// per run in `labrun grade`).
fn default_jobs(compilers: usize) -> usize {
    let memory = available_memory().map_or(32, |bytes| bytes / RUN_MEMORY);
    let uids = crate::sandbox::users::pool().map_or(usize::MAX, |pool| {
        pool.size().saturating_sub(compilers + 8) / 2
    });
    let files = open_files_limit().map_or(256, |n| n.saturating_sub(64) / 4);
    memory.min(uids).min(files).clamp(1, MAX_JOBS)
}

/// What a run may take: a run of the lab's programs takes a few MiB (BENCHMARKS.md,
/// section 8: 664 MiB for about 370 runs at once), the rest is room for a student's
/// program that allocates.
const RUN_MEMORY: usize = 64 << 20;
/// Never more runs at once than this, whatever the machine.
const MAX_JOBS: usize = 1024;

/// `MemAvailable` of `/proc/meminfo`, in bytes.
fn available_memory() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The open files labrun grade may have, raised to the hard limit.
/// The open files labrun grade may have, raised to the hard limit (its runs get back the
/// limit labrun was started with: see [`output_of`]).
fn open_files_limit() -> Option<usize> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    let limit = if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        let _ = STARTED_WITH.set((soft, hard));
        hard
    } else {
        soft
    };
    usize::try_from(limit).ok()
}

/// The open-file limits labrun grade was started with, once it raised its own.
static STARTED_WITH: std::sync::OnceLock<(u64, u64)> = std::sync::OnceLock::new();

/// The child runs in flight, by pid: a SIGINT or SIGTERM that `labrun grade` gets is
/// passed on to them, each in a process group of its own.
static IN_FLIGHT: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// `command.output()`, with the child known to [`pass_on_signals`] while it runs.
fn output_of(command: &mut Command) -> std::io::Result<std::process::Output> {
    use std::os::unix::process::CommandExt;
    // When labrun grade dies (killed, out of memory), its runs stop their programs and end
    // too, instead of going on as orphans; and a program that closes every descriptor up
    // to its limit must not find a million. The run itself asks for both
    // (`signals::follow_grader`): no code between fork and exec, so that the start is a
    // `posix_spawn`, which does not copy this process's page tables.
    let mut grader = std::process::id().to_string();
    if let Some((soft, hard)) = STARTED_WITH.get() {
        let _ = write!(grader, " {soft} {hard}");
    }
    command.env(crate::signals::GRADER, grader);
    // A group of its own: a terminal's Ctrl-C reaches labrun grade alone, which passes it
    // on once (a second signal would end a run at once, without its clean-up).
    command.process_group(0);
    let child = command.spawn()?;
    let pid = child.id();
    relock(&IN_FLIGHT).push(pid);
    // A signal that came while it started, after the others were told.
    if let Some(signal) = crate::signals::received() {
        signal_child(pid, signal);
    }
    let output = child.wait_with_output();
    relock(&IN_FLIGHT).retain(|&p| p != pid);
    output
}

/// Passes a SIGINT or SIGTERM on to every child run, until `over`.
fn pass_on_signals(over: &std::sync::atomic::AtomicBool) {
    let mut told: Vec<u32> = Vec::new();
    while !over.load(std::sync::atomic::Ordering::SeqCst) {
        if let Some(signal) = crate::signals::received() {
            for &pid in relock(&IN_FLIGHT).iter() {
                if !told.contains(&pid) {
                    signal_child(pid, signal);
                    told.push(pid);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal_child(pid: u32, signal: i32) {
    use nix::sys::signal::{Signal, kill};
    // Never pid 0 or -1: those would signal labrun's own group, or every process.
    if let (Ok(pid), Ok(signal)) = (i32::try_from(pid), Signal::try_from(signal))
        && pid > 0
    {
        let _ = kill(nix::unistd::Pid::from_raw(pid), signal);
    }
}

/// How far the runs of a class are, for the progress bar.
#[derive(Default)]
struct Progress {
    total: usize,
    passed: usize,
    failed: usize,
    errors: usize,
    running: usize,
    /// Every run is over: the bar is drawn a last time and left on screen.
    over: bool,
}

/// How often the progress bar is redrawn when no run ends, for its clock.
const PROGRESS_TICK: Duration = Duration::from_secs(1);

/// The progress bar's thread: redraws the bar on standard error in place when a run starts
/// or ends, and every second for the elapsed time; leaves the last one on its line.
fn show_progress(
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
    fn count(&mut self, outcome: &Outcome) {
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

/// A mutex's value, also after a thread panicked holding it: counts and queues stay
/// usable, and nothing waits forever on a flag that was never set.
fn relock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
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

/// The program for `file` of a submission: built from C, or the file itself if runnable.
fn prepare(
    submission: &Path,
    file: &str,
    build_dir: &Path,
    command: &str,
    timeout: Duration,
    hidden: &crate::sandbox::pids::Mounts,
) -> Result<PathBuf, String> {
    let source = submission.join(file);
    // A link could lead a root labrun to any file of the machine: only files count.
    let is_file = std::fs::symlink_metadata(&source).is_ok_and(|m| m.is_file());
    if !is_file {
        return Err(if source.is_symlink() {
            format!("`{file}` is a symbolic link, not a file of the submission")
        } else {
            format!("the submission has no `{file}`")
        });
    }
    if source.extension().is_none_or(|e| e != "c") {
        return Ok(std::path::absolute(&source).unwrap_or(source));
    }
    private_dir(build_dir)?;
    let stem = Path::new(file)
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let output = build_dir.join(&stem);
    // The compiler runs in a copy of the submission, as a user of its own when labrun is
    // root: it can read the submission and nothing that user may not (an `#include` of
    // /etc/shadow, or of another submission, fails), and write nowhere but its copy.
    let lease = crate::sandbox::users::pool()
        .map(crate::sandbox::users::Pool::take)
        .transpose()?;
    let copy = build_dir.join(format!("build-{stem}"));
    let _ = std::fs::remove_dir_all(&copy);
    copy_tree(submission, &copy, lease.as_ref(), 0)
        .map_err(|e| format!("cannot copy the submission for its build: {e}"))?;
    let compiler = Compiler {
        command,
        timeout,
        lease: lease.as_ref(),
        hidden,
    };
    let built = compiler.run(&copy, file, &stem, build_dir);
    let result = built.and_then(|()| {
        copy_out(&copy.join(&stem), &output)
            .map(|()| output.clone())
            .map_err(|e| format!("`{file}` built, but its program cannot be read: {e}"))
    });
    let _ = std::fs::remove_dir_all(&copy);
    // Gives the uid back, once nothing of the compiler's runs any more.
    drop(lease);
    result
}

/// The course's build command, and how it runs.
struct Compiler<'a> {
    command: &'a str,
    timeout: Duration,
    /// The user it runs as, if labrun is root.
    lease: Option<&'a crate::sandbox::users::Lease>,
    /// What it must not see.
    hidden: &'a crate::sandbox::pids::Mounts,
}

impl Compiler<'_> {
    /// Builds `file` in `dir` into `stem`, with its messages in `logs/STEM.build.log`.
    fn run(&self, dir: &Path, file: &str, stem: &str, logs: &Path) -> Result<(), String> {
        compile(self, dir, file, stem, logs)
    }
}

fn compile(
    compiler: &Compiler<'_>,
    dir: &Path,
    file: &str,
    stem: &str,
    logs: &Path,
) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let Compiler {
        command,
        timeout,
        lease,
        hidden,
    } = *compiler;
    // Relative to the copy: its messages name the student's files, not the grader's.
    let words: Vec<String> = command
        .split_whitespace()
        .map(|w| w.replace("{source}", file).replace("{output}", stem))
        .collect();
    let Some((program, args)) = words.split_first() else {
        return Err("the course's build command is empty".into());
    };
    // The compiler's messages go to a file, not a pipe: a pipe nobody reads until the
    // compiler exits would block it, on its first 64 KiB of errors, until the timeout.
    let log_path = logs.join(format!("{stem}.build.log"));
    let log = std::fs::File::create(&log_path)
        .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let log_err = log
        .try_clone()
        .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0);
    if lease.is_some() {
        command
            .env_clear()
            .envs(crate::sandbox::users::kept_environment());
    }
    let user = lease.map(crate::sandbox::users::Become::of);
    let hidden = hidden.clone();
    // SAFETY: only system calls between fork and exec, on data prepared before.
    unsafe {
        command.pre_exec(move || {
            // Where mount namespaces are refused, permissions guard what this would hide.
            let _ = hidden.enter();
            crate::sandbox::users::first_to_go();
            if let Some(user) = &user {
                user.apply()?;
            }
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(std::io::Error::from)
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run the build command `{program}`: {e}"))?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let mut head = Vec::new();
                if let Ok(file) = std::fs::File::open(&log_path) {
                    use std::io::Read;
                    let _ = file.take(16 << 10).read_to_end(&mut head);
                }
                let message: String = String::from_utf8_lossy(&head).chars().take(4000).collect();
                return if status.success() {
                    Ok(())
                } else {
                    Err(format!("`{file}` does not compile:\n{message}"))
                };
            }
            Ok(None) if started.elapsed() > timeout => {
                if let Ok(pgid) = i32::try_from(child.id())
                    && pgid > 1
                {
                    let _ = nix::sys::signal::killpg(
                        nix::unistd::Pid::from_raw(pgid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "building `{file}` took more than {}",
                    crate::scenario::duration::display(timeout)
                ));
            }
            Ok(None) if crate::signals::received().is_some() => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("the build of `{file}` was interrupted"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("lost the build of `{file}`: {e}")),
        }
    }
}

/// How deep a submission's folders are copied for its builds (and hashed for `--resume`).
pub(crate) const COPY_DEPTH: usize = 16;
/// How much of a submission's files is copied for its builds (and hashed).
pub(crate) const COPY_BYTES: u64 = 64 << 20;

/// Copies the folders and files of `from` into a new folder `to` (links and special files
/// are left out), given to the lease's user if any. At most [`COPY_DEPTH`] levels deep and
/// [`COPY_BYTES`].
fn copy_tree(
    from: &Path,
    to: &Path,
    lease: Option<&crate::sandbox::users::Lease>,
    depth: usize,
) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new().mode(0o700).create(to)?;
    if let Some(lease) = lease {
        crate::sandbox::users::give(to, lease, 0o700)?;
    }
    if depth >= COPY_DEPTH {
        return Ok(());
    }
    let mut copied = 0;
    for entry in std::fs::read_dir(from)?.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &target, lease, depth + 1)?;
        } else if kind.is_file() {
            copied += entry.metadata().map_or(0, |m| m.len());
            if copied > COPY_BYTES {
                continue;
            }
            std::fs::copy(entry.path(), &target)?;
            match lease {
                Some(lease) => crate::sandbox::users::give(&target, lease, 0o600)?,
                None => std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600))?,
            }
        }
    }
    Ok(())
}

/// Copies a built program out of the compiler's folder into labrun's own, refusing a link.
fn copy_out(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut source = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(from)?;
    if !source.metadata()?.is_file() {
        return Err(std::io::Error::other("not a file"));
    }
    let _ = std::fs::remove_file(to);
    let mut target = std::fs::File::create(to)?;
    std::io::copy(&mut source, &mut target)?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o755))
}

/// Creates `dir` if need be, and makes it labrun's alone (mode 0700).
fn private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// What every run of a class shares.
struct Runner<'a> {
    exe: &'a Path,
    scenarios: &'a Path,
    work: &'a Path,
    pages: &'a Path,
    uid_range: crate::sandbox::users::UidRange,
    hidden: &'a [PathBuf],
}

fn run_one(
    runner: &Runner<'_>,
    submission: &str,
    direction: &Direction,
    program: Result<PathBuf, String>,
) -> Outcome {
    let Runner {
        exe,
        scenarios,
        work,
        pages,
        uid_range,
        hidden,
    } = *runner;
    let mut outcome = Outcome {
        submission: submission.to_string(),
        scenario: direction.scenario.clone(),
        role: direction.role.clone(),
        verdict: "fail".into(),
        score: 0,
        max_score: 0,
        feedback: String::new(),
        checks: Vec::new(),
        finished: Duration::ZERO,
        isolation: None,
    };
    let scenario = scenarios.join(format!("{}.toml", direction.scenario));
    let program = match program {
        Ok(program) => program,
        Err(why) => {
            // Nothing ran: every point of the direction is lost, and the student reads why.
            outcome.max_score = direction_points(&scenario, &direction.role);
            outcome.feedback = format!(
                "{}: {} not graded: {why}\n",
                direction.scenario, direction.role
            );
            return outcome;
        }
    };
    let report = work.join(format!(
        "{submission}-{}-{}.json",
        direction.scenario, direction.role
    ));
    let result = &mut Command::new(exe);
    result
        .arg(&scenario)
        .arg("--with")
        .arg(format!("{}={}", direction.role, program.display()))
        .args(["--no-snapshot", "-q", "--report-json"])
        .arg(&report)
        .arg("--report-html")
        .arg(pages)
        .arg(format!("--uid-range={uid_range}"))
        .args(
            hidden
                .iter()
                .flat_map(|h| [std::ffi::OsStr::new("--hide"), h.as_os_str()]),
        )
        .env("NO_COLOR", "1")
        .env(crate::scratch::NO_SWEEP, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let result = output_of(result);
    let stderr = result
        .as_ref()
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .unwrap_or_default();
    let (isolation, feedback): (Vec<&str>, Vec<&str>) = stderr
        .split_inclusive('\n')
        .partition(|line| line.starts_with(ISOLATION_LINE));
    outcome.isolation = isolation.first().map(|l| l.trim_end().to_string());
    outcome.feedback = feedback.concat();
    let parsed: Option<serde_json::Value> = std::fs::read_to_string(&report)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let _ = std::fs::remove_file(&report);
    match parsed {
        Some(report) => {
            outcome.verdict = report["verdict"].as_str().unwrap_or("error").to_string();
            outcome.score = report["score"].as_u64().unwrap_or(0);
            outcome.max_score = report["max_score"].as_u64().unwrap_or(0);
            outcome.checks = serde_json::from_value(report["checks"].clone()).unwrap_or_default();
        }
        None => {
            outcome.verdict = "error".into();
            // Out of the direction's points, so that totals do not shrink when labrun fails.
            outcome.max_score = direction_points(&scenario, &direction.role);
            if outcome.feedback.is_empty() {
                outcome.feedback = format!(
                    "{}: {}: labrun gave no report\n",
                    direction.scenario, direction.role
                );
            }
        }
    }
    outcome
}

/// The points a scenario's rubric gives `role`.
fn direction_points(scenario: &Path, role: &str) -> u64 {
    crate::scenario::load(scenario).map_or(0, |plan| {
        plan.checks
            .iter()
            .filter(|c| c.grades == role)
            .map(|c| u64::from(c.points))
            .sum()
    })
}

/// Writes `OUT/<submission>/feedback.txt`, `OUT/summary.csv`, `OUT/summary.json` and the
/// class table `OUT/index.html`.
/// Every failure is labrun's own files ([`GradeError::Files`]).
pub fn write_results(out: &Path, outcomes: &[Outcome]) -> Result<(), GradeError> {
    let fail =
        |e: std::io::Error| GradeError::Files(format!("cannot write to {}: {e}", out.display()));
    std::fs::create_dir_all(out).map_err(fail)?;
    let by_submission = by_submission(outcomes);
    let mut csv = String::from("submission,total,max,verdict");
    let columns = columns(outcomes);
    for (scenario, role) in &columns {
        let _ = write!(csv, ",{scenario}:{role}");
    }
    csv.push('\n');
    let mut summary = Vec::new();
    for (submission, list) in &by_submission {
        let dir = out.join(sanitize(submission));
        std::fs::create_dir_all(&dir).map_err(fail)?;
        crate::grade::journal::write_atomic(
            &dir.join("feedback.txt"),
            feedback_text(submission, list).as_bytes(),
        )
        .map_err(GradeError::Files)?;
        let total: u64 = list.iter().map(|o| o.score).sum();
        let max: u64 = list.iter().map(|o| o.max_score).sum();
        let verdict = class_verdict(list);
        let _ = write!(csv, "{},{total},{max},{verdict}", csv_field(submission));
        for (scenario, role) in &columns {
            match list
                .iter()
                .find(|o| &o.scenario == scenario && &o.role == role)
            {
                Some(o) => {
                    let _ = write!(csv, ",{}/{}", o.score, o.max_score);
                }
                None => csv.push(','),
            }
        }
        csv.push('\n');
        summary.push(serde_json::json!({
            "submission": submission,
            "verdict": verdict,
            "score": total,
            "max_score": max,
            "results": list,
        }));
    }
    std::fs::write(out.join("summary.csv"), csv).map_err(fail)?;
    let json = serde_json::to_string_pretty(&serde_json::json!({ "submissions": summary }))
        .unwrap_or_default();
    std::fs::write(out.join("summary.json"), json + "\n").map_err(fail)?;
    write_index(out, outcomes).map_err(GradeError::Files)
}

/// A submission's `feedback.txt`: each direction's verdict, score and feedback.
pub(crate) fn feedback_text(submission: &str, list: &[&Outcome]) -> String {
    let mut feedback = format!("labrun: grading of {submission}\n\n");
    for o in list {
        let _ = writeln!(
            feedback,
            "== {} as {}: {} ({}/{})",
            o.scenario, o.role, o.verdict, o.score, o.max_score
        );
        feedback.push_str(&o.feedback);
        feedback.push('\n');
    }
    feedback
}

/// A submission's folder in `out`, where its feedback file and pages are.
pub fn submission_folder(out: &Path, submission: &str) -> PathBuf {
    out.join(sanitize(submission))
}

/// The outcomes of each submission, in the order of their first outcome.
pub fn by_submission(outcomes: &[Outcome]) -> Vec<(&str, Vec<&Outcome>)> {
    let mut by_submission: Vec<(&str, Vec<&Outcome>)> = Vec::new();
    for o in outcomes {
        match by_submission.iter_mut().find(|(s, _)| *s == o.submission) {
            Some((_, list)) => list.push(o),
            None => by_submission.push((&o.submission, vec![o])),
        }
    }
    by_submission
}

/// The summary's columns: each scenario and role graded, in order of first appearance.
fn columns(outcomes: &[Outcome]) -> Vec<(String, String)> {
    let mut columns = Vec::new();
    for o in outcomes {
        let column = (o.scenario.clone(), o.role.clone());
        if !columns.contains(&column) {
            columns.push(column);
        }
    }
    columns
}

/// Writes `OUT/index.html`: the class table, each cell linking to the run's page when the
/// run wrote one (`OUT/<submission>/<scenario>-<role>.html`).
pub(crate) fn write_index(out: &Path, outcomes: &[Outcome]) -> Result<(), String> {
    let columns = columns(outcomes);
    let rows: Vec<crate::html::IndexRow> = by_submission(outcomes)
        .iter()
        .map(|(submission, list)| {
            let cells = columns
                .iter()
                .map(|(scenario, role)| {
                    let o = list
                        .iter()
                        .find(|o| &o.scenario == scenario && &o.role == role)?;
                    let link = format!(
                        "{}/{}",
                        sanitize(submission),
                        crate::html::page_name(scenario, std::slice::from_ref(role))
                    );
                    let link = out.join(&link).is_file().then_some(link);
                    let why = link.is_none().then(|| never_ran(&o.feedback));
                    Some(crate::html::IndexCell {
                        score: o.score,
                        max_score: o.max_score,
                        verdict: o.verdict.clone(),
                        link,
                        why,
                    })
                })
                .collect();
            crate::html::IndexRow {
                submission: submission.to_string(),
                verdict: class_verdict(list).to_string(),
                score: list.iter().map(|o| o.score).sum(),
                max_score: list.iter().map(|o| o.max_score).sum(),
                cells,
            }
        })
        .collect();
    let path = out.join("index.html");
    std::fs::write(&path, crate::html::index(&columns, &rows))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Why a run never took place, in a line or two of its feedback: the first line, and the
/// compiler's first error when a build failed.
fn never_ran(feedback: &str) -> String {
    let mut lines = feedback.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("it did not run").to_string();
    match lines.find(|l| l.contains("error")) {
        Some(error) => format!("{first} {error}"),
        None => first,
    }
}

/// A submission's verdict over all its runs.
pub(crate) fn class_verdict(list: &[&Outcome]) -> &'static str {
    if list.iter().all(|o| o.verdict == "pass") {
        "pass"
    } else if list.iter().any(|o| o.verdict == "error") {
        "error"
    } else {
        "fail"
    }
}

/// A submission's name as a folder name of `--out`: letters, digits, `-`, `_` and `.`
/// kept, anything else `_`; never `.`, `..` or empty (a name read from a slice's
/// `summary.json` must not lead out of `--out`).
pub(crate) fn sanitize(name: &str) -> String {
    let folder: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if folder.chars().all(|c| c == '.') {
        format!("_{folder}")
    } else {
        folder
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slices(
        partition: impl Fn(usize) -> Partition,
        n: usize,
        class: &[String],
    ) -> Vec<Vec<String>> {
        (1..=n)
            .map(|k| {
                class
                    .iter()
                    .enumerate()
                    .filter(|(i, name)| partition(k).takes(*i, name))
                    .map(|(_, name)| name.clone())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn hash_slices_cover_the_class_once_and_keep_their_members_when_one_is_added() {
        let mut class: Vec<String> = (0..60).map(|i| format!("student{i:02}")).collect();
        let before = slices(|k| Partition::Hash { k, n: 3 }, 3, &class);
        let all: usize = before.iter().map(Vec::len).sum();
        assert_eq!(all, class.len(), "each submission in exactly one slice");
        assert!(before.iter().all(|s| s.len() > 5), "{before:?}");
        class.insert(0, "aaron-late".into());
        let after = slices(|k| Partition::Hash { k, n: 3 }, 3, &class);
        for (old, new) in before.iter().zip(&after) {
            assert!(old.iter().all(|m| new.contains(m)), "a submission moved");
        }
        // With count slices, the same late submission moves others.
        let counted = slices(|k| Partition::Count { k, n: 3 }, 3, &class);
        assert_eq!(counted.iter().map(Vec::len).sum::<usize>(), class.len());
    }

    #[test]
    fn partitions_read_as_nextest_writes_them() {
        assert_eq!(Partition::parse("2/4"), Ok(Partition::Count { k: 2, n: 4 }));
        assert_eq!(
            Partition::parse("count:1/2"),
            Ok(Partition::Count { k: 1, n: 2 })
        );
        assert_eq!(
            Partition::parse("hash:3/3"),
            Ok(Partition::Hash { k: 3, n: 3 })
        );
        for bad in ["0/3", "4/3", "hash:1/0", "slice:1/2", "1-2", "a/b"] {
            assert!(Partition::parse(bad).is_err(), "{bad}");
        }
        // The hash is fixed: a slice must not change with the machine or the version.
        assert_eq!(
            stable_hash("alice"),
            0x508b_2abb_65a0_3907,
            "FNV-1a of alice"
        );
    }

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
