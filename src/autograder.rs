//! A ready autograder: one submission's results in Gradescope's and PrairieLearn's formats
//! (every direction of the course, a test per check), and the packages those platforms
//! take (a zip for Gradescope, a folder for PrairieLearn's `serverFilesCourse`).
//!
//! The results are made from the runs' own per-check data ([`Outcome::checks`], read from
//! each run's `--report-json`), never from their text.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use crate::grade::Outcome;

/// The grading platforms labrun writes results and packages for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    Gradescope,
    PrairieLearn,
}

/// Why a package, or a submission's results for a platform, could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AutograderError {
    /// The course, or one of its scenarios, is missing or invalid (a usage error).
    #[error("{0}")]
    Course(String),
    /// labrun could not read or write a file.
    #[error("cannot {what} {path}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One graded item of a submission: a check, or a direction that could not run.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Test {
    /// `scenario: check`, or `scenario: role` for a direction that did not run.
    name: String,
    points: u64,
    max_points: u64,
    passed: bool,
    /// What was observed, in a line.
    message: String,
    /// The hint, or the compiler's message, or labrun's.
    detail: String,
}

/// Gradescope's `results.json` for one submission's outcomes (all its directions).
pub(crate) fn gradescope(outcomes: &[&Outcome]) -> String {
    let tests: Vec<serde_json::Value> = tests(outcomes)
        .into_iter()
        .map(|t| {
            let output = if t.detail.is_empty() {
                t.message
            } else {
                format!("{}\n{}", t.message, t.detail)
            };
            serde_json::json!({
                "name": t.name,
                "score": t.points,
                "max_score": t.max_points,
                "status": if t.passed { "passed" } else { "failed" },
                "output": output,
                "visibility": "visible",
            })
        })
        .collect();
    let value = serde_json::json!({
        "score": outcomes.iter().map(|o| o.score).sum::<u64>(),
        "execution_time": execution_time(outcomes),
        "output": summary(outcomes),
        "visibility": "visible",
        "tests": tests,
    });
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

/// PrairieLearn's external-grader `results.json` for one submission's outcomes.
///
/// `gradable` is false only when labrun itself could not run a direction (a verdict of
/// `error`): the student's attempt is then not counted against them.
pub(crate) fn prairielearn(outcomes: &[&Outcome]) -> String {
    let score: u64 = outcomes.iter().map(|o| o.score).sum();
    let max: u64 = outcomes.iter().map(|o| o.max_score).sum();
    let broken: Vec<String> = outcomes
        .iter()
        .filter(|o| o.verdict == "error")
        .map(|o| format!("{} as {}", o.scenario, o.role))
        .collect();
    let message = if broken.is_empty() {
        format!("{score}/{max} points")
    } else {
        format!(
            "{score}/{max} points; labrun could not grade {}: not counted",
            broken.join(", ")
        )
    };
    let tests: Vec<serde_json::Value> = tests(outcomes)
        .into_iter()
        .map(|t| {
            serde_json::json!({
                "name": t.name,
                "points": t.points,
                "max_points": t.max_points,
                "message": t.message,
                "output": t.detail,
            })
        })
        .collect();
    let value = serde_json::json!({
        "gradable": broken.is_empty(),
        "score": if max == 0 { 0.0 } else { score as f64 / max as f64 },
        "message": message,
        "output": summary(outcomes),
        "tests": tests,
    });
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

/// Writes each submission's results for `platform`: to `file` when `one` (a single
/// submission graded), else to `OUT/SUBMISSION/<file's name>`. Returns the files written.
pub(crate) fn write_results(
    platform: Platform,
    file: &Path,
    out: &Path,
    outcomes: &[Outcome],
    one: bool,
) -> Result<Vec<PathBuf>, AutograderError> {
    let mut written = Vec::new();
    for (submission, list) in crate::grade::by_submission(outcomes) {
        let path = if one {
            file.to_path_buf()
        } else {
            crate::grade::submission_folder(out, submission)
                .join(file.file_name().unwrap_or("results.json".as_ref()))
        };
        let text = match platform {
            Platform::Gradescope => gradescope(&list),
            Platform::PrairieLearn => prairielearn(&list),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| AutograderError::Io {
                what: "create",
                path: dir.to_path_buf(),
                source,
            })?;
        }
        if let Err(source) = std::fs::write(&path, text + "\n") {
            return Err(AutograderError::Io {
                what: "write",
                path,
                source,
            });
        }
        written.push(path);
    }
    Ok(written)
}

/// The file a package holds: its path in the package, its bytes, its Unix mode.
struct Entry {
    path: String,
    bytes: Vec<u8>,
    mode: u32,
}

/// Writes the zip Gradescope takes: `setup.sh` and `run_autograder` at its root, the labrun
/// binary `exe`, the course and the scenarios it grades (their relative layout kept).
pub(crate) fn gradescope_zip(course: &Path, exe: &Path, zip: &Path) -> Result<(), AutograderError> {
    use zip::write::SimpleFileOptions;
    let (course_in_package, mut entries) = contents(course, exe)?;
    let quoted = shell_quote(&course_in_package);
    entries.insert(
        0,
        script(
            "run_autograder",
            &GRADESCOPE_RUN.replace("{course}", &quoted),
        ),
    );
    entries.insert(0, script("setup.sh", GRADESCOPE_SETUP));
    let io = |what, source| AutograderError::Io {
        what,
        path: zip.to_path_buf(),
        source,
    };
    let file = std::fs::File::create(zip).map_err(|e| io("create", e))?;
    let mut writer = zip::ZipWriter::new(std::io::BufWriter::new(file));
    let result = (|| -> Result<(), AutograderError> {
        for entry in &entries {
            let options = SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .unix_permissions(entry.mode)
                .large_file(entry.bytes.len() >= u32::MAX as usize);
            writer
                .start_file(entry.path.as_str(), options)
                .map_err(|e| io("write", std::io::Error::other(e)))?;
            writer.write_all(&entry.bytes).map_err(|e| io("write", e))?;
        }
        let mut inner = writer
            .finish()
            .map_err(|e| io("write", std::io::Error::other(e)))?;
        inner.flush().map_err(|e| io("write", e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(zip);
    }
    result
}

/// Writes PrairieLearn's grader folder `dir` (to go in the course's `serverFilesCourse`):
/// `run.sh`, the labrun binary, the course and its scenarios. An existing folder is
/// replaced only if it is one labrun made (it holds `run.sh` and `labrun`), or empty.
pub(crate) fn prairielearn_folder(
    course: &Path,
    exe: &Path,
    dir: &Path,
) -> Result<(), AutograderError> {
    let (course_in_package, mut entries) = contents(course, exe)?;
    let quoted = shell_quote(&course_in_package);
    entries.insert(
        0,
        script("run.sh", &PRAIRIELEARN_RUN.replace("{course}", &quoted)),
    );
    if dir.exists() {
        let empty = std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none());
        let ours = dir.join("run.sh").is_file() && dir.join("labrun").is_file();
        if !empty && !ours {
            return Err(AutograderError::Course(format!(
                "{} exists and is not a labrun grader folder: give a new or empty folder",
                dir.display()
            )));
        }
        // A scenario dropped from the course must not linger.
        let old = dir.join("course");
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|source| AutograderError::Io {
                what: "replace",
                path: old.clone(),
                source,
            })?;
        }
    }
    for entry in &entries {
        let path = dir.join(&entry.path);
        let io = |what, source| AutograderError::Io {
            what,
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io("create", e))?;
        }
        // Removed first: the running labrun may be the very file being replaced.
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, &entry.bytes).map_err(|e| io("write", e))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(entry.mode))
            .map_err(|e| io("set the mode of", e))?;
    }
    Ok(())
}

/// The `info.json` settings of a question graded by the folder `dir`.
pub(crate) fn prairielearn_info(dir: &Path) -> String {
    let name = dir
        .file_name()
        .map_or_else(|| "labrun".into(), |n| n.to_string_lossy().into_owned());
    let value = serde_json::json!({
        "gradingMethod": "External",
        "externalGradingOptions": {
            "enabled": true,
            "image": "prairielearn/grader-c",
            "serverFilesCourse": [format!("{name}/")],
            "entrypoint": format!("/grade/serverFilesCourse/{name}/run.sh"),
            "timeout": 180,
        }
    });
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

/// The binary, the course and its scenarios; and the course's path in the package.
fn contents(course: &Path, exe: &Path) -> Result<(String, Vec<Entry>), AutograderError> {
    let parsed =
        crate::grade::load_course(course).map_err(|e| AutograderError::Course(e.to_string()))?;
    let course_file = std::fs::canonicalize(course).map_err(|e| {
        AutograderError::Course(format!("cannot find course {}: {e}", course.display()))
    })?;
    let course_dir = course_file.parent().unwrap_or(Path::new("/")).to_path_buf();
    let scenarios_dir = std::fs::canonicalize(course_dir.join(&parsed.scenarios)).map_err(|e| {
        AutograderError::Course(format!(
            "cannot find the scenarios folder {} of course {}: {e}",
            parsed.scenarios.display(),
            course.display()
        ))
    })?;
    let base = common_ancestor(&course_dir, &scenarios_dir);
    let inside = |path: &Path| -> String {
        let relative = path.strip_prefix(&base).unwrap_or(path);
        let mut text = String::from("course");
        for part in relative.components() {
            if let Component::Normal(part) = part {
                text.push('/');
                text.push_str(&part.to_string_lossy());
            }
        }
        text
    };
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| AutograderError::Io {
            what: "read",
            path: path.to_path_buf(),
            source,
        })
    };
    let course_in_package = inside(&course_file);
    let mut entries = vec![
        Entry {
            path: "labrun".into(),
            bytes: read(exe)?,
            mode: 0o755,
        },
        Entry {
            path: course_in_package.clone(),
            bytes: read(&course_file)?,
            mode: 0o644,
        },
    ];
    let mut names: Vec<&str> = parsed.grade.iter().map(|d| d.scenario.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let scenario = scenarios_dir.join(format!("{name}.toml"));
        // A package that would only fail on the platform is refused here.
        if let Err(e) = crate::scenario::load(&scenario) {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                let _ = write!(text, ": {cause}");
                source = cause.source();
            }
            return Err(AutograderError::Course(format!(
                "course {} grades scenario `{name}`: {text}",
                course.display()
            )));
        }
        entries.push(Entry {
            path: inside(&scenario),
            bytes: read(&scenario)?,
            mode: 0o644,
        });
    }
    Ok((course_in_package, entries))
}

fn script(path: &str, text: &str) -> Entry {
    Entry {
        path: path.into(),
        bytes: text.as_bytes().to_vec(),
        mode: 0o755,
    }
}

/// The deepest folder holding both.
fn common_ancestor(a: &Path, b: &Path) -> PathBuf {
    let mut base = PathBuf::new();
    for (x, y) in a.components().zip(b.components()) {
        if x != y {
            break;
        }
        base.push(x);
    }
    base
}

/// `text` as one word for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The tests of a submission: each check of each direction that ran, named
/// `scenario: check`; a direction that did not run is one failed test, with why.
fn tests(outcomes: &[&Outcome]) -> Vec<Test> {
    let mut tests = Vec::new();
    for o in outcomes {
        if o.checks.is_empty() {
            let feedback = o.feedback.trim();
            let (first, rest) = feedback.split_once('\n').unwrap_or((feedback, ""));
            let message = if first.is_empty() {
                format!("{} as {}: {}", o.scenario, o.role, o.verdict)
            } else {
                first.to_string()
            };
            tests.push(Test {
                name: format!("{}: {}", o.scenario, o.role),
                points: o.score,
                max_points: o.max_score,
                passed: false,
                message,
                detail: rest.trim_end().to_string(),
            });
            continue;
        }
        for check in &o.checks {
            let message = match check.passed {
                None if !check.message.starts_with("skipped") => {
                    format!("skipped: {}", check.message)
                }
                _ => check.message.clone(),
            };
            tests.push(Test {
                name: format!("{}: {}", o.scenario, check.name),
                points: u64::from(check.points),
                max_points: u64::from(check.max_points),
                passed: check.passed == Some(true),
                message,
                detail: check
                    .hint
                    .as_ref()
                    .map_or_else(String::new, |h| format!("hint: {h}")),
            });
        }
    }
    tests
}

/// A line per direction: `tcp_basic as server: pass (12/12)`, then the total; first, the
/// runs' line about their isolation, once, when they printed one.
fn summary(outcomes: &[&Outcome]) -> String {
    let mut text = String::new();
    if let Some(line) = outcomes.iter().find_map(|o| o.isolation.as_deref()) {
        let _ = writeln!(text, "{}", line.trim_start_matches("labrun: "));
    }
    for o in outcomes {
        let _ = writeln!(
            text,
            "{} as {}: {} ({}/{})",
            o.scenario, o.role, o.verdict, o.score, o.max_score
        );
    }
    let score: u64 = outcomes.iter().map(|o| o.score).sum();
    let max: u64 = outcomes.iter().map(|o| o.max_score).sum();
    let _ = write!(text, "total: {score}/{max}");
    text
}

/// Whole seconds from the start of grading to the submission's last run's end.
fn execution_time(outcomes: &[&Outcome]) -> u64 {
    let end = outcomes
        .iter()
        .map(|o| o.finished)
        .max()
        .unwrap_or_default();
    end.as_secs() + u64::from(end.subsec_nanos() > 0)
}

const GRADESCOPE_SETUP: &str = r#"#!/usr/bin/env bash
# Made by `labrun autograder gradescope`. Gradescope runs this once, as root, when it builds
# the autograder's image, with this zip unpacked in /autograder/source: it installs what the
# runs need (gcc for the students' C files, nss_wrapper for a private host database where no
# mount namespace can be made) and checks that labrun runs on this image.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends gcc libc6-dev libnss-wrapper
cd "$(dirname "$0")"
chmod 755 labrun run_autograder
if ! ./labrun --version; then
    echo "labrun does not run on this image: it needs glibc 2.34 or later (Ubuntu 22.04 or later)" >&2
    exit 1
fi
"#;

const GRADESCOPE_RUN: &str = r#"#!/usr/bin/env bash
# Made by `labrun autograder gradescope`. Gradescope runs this for each submission: labrun
# grades /autograder/submission with the course, every direction, and writes
# /autograder/results/results.json. LABRUN_AUTOGRADER_ROOT replaces /autograder (for tests).
set -u
root="${LABRUN_AUTOGRADER_ROOT:-/autograder}"
source="$root/source"
mkdir -p "$root/results"
"$source/labrun" grade "$source"/{course} "$root/submission" \
    --out "$root/labrun-grades" --gradescope "$root/results/results.json"
status=$?
# 0: every check passed; 1: some failed. Both wrote the results. Anything else is labrun's
# own failure, which Gradescope reports as such when results.json is missing.
if [ "$status" -le 1 ] && [ -s "$root/results/results.json" ]; then
    exit 0
fi
exit "$status"
"#;

const PRAIRIELEARN_RUN: &str = r#"#!/usr/bin/env bash
# Made by `labrun autograder prairielearn`. PrairieLearn's external grader runs this for each
# submission: labrun grades /grade/student with the course, every direction, and writes
# /grade/results/results.json. LABRUN_AUTOGRADER_ROOT replaces /grade (for tests).
set -u
here="$(cd "$(dirname "$0")" && pwd)"
root="${LABRUN_AUTOGRADER_ROOT:-/grade}"
mkdir -p "$root/results"
labrun="$here/labrun"
if [ ! -x "$labrun" ]; then
    # Copied without its executable bit: run a copy that has it.
    cp "$labrun" "$root/labrun" && chmod 755 "$root/labrun" && labrun="$root/labrun"
fi
"$labrun" grade "$here"/{course} "$root/student" \
    --out "$root/labrun-grades" --prairielearn "$root/results/results.json"
status=$?
if [ "$status" -le 1 ] && [ -s "$root/results/results.json" ]; then
    exit 0
fi
exit "$status"
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::CheckResult;
    use std::time::Duration;

    fn outcome(scenario: &str, role: &str, checks: Vec<CheckResult>, feedback: &str) -> Outcome {
        let score = checks.iter().map(|c| u64::from(c.points)).sum();
        let max = checks.iter().map(|c| u64::from(c.max_points)).sum();
        Outcome {
            submission: "submission".into(),
            scenario: scenario.into(),
            role: role.into(),
            verdict: if checks.iter().all(|c| c.passed == Some(true)) && !checks.is_empty() {
                "pass".into()
            } else {
                "fail".into()
            },
            score,
            max_score: if checks.is_empty() { 10 } else { max },
            feedback: feedback.into(),
            checks,
            finished: Duration::from_millis(6200),
            isolation: None,
        }
    }

    fn check(name: &str, passed: Option<bool>, points: u32, hint: Option<&str>) -> CheckResult {
        CheckResult {
            name: name.into(),
            passed,
            points: if passed == Some(true) { points } else { 0 },
            max_points: points,
            message: format!("{name} seen"),
            hint: hint.map(str::to_string),
        }
    }

    fn class() -> Vec<Outcome> {
        vec![
            outcome(
                "tcp_basic",
                "server",
                vec![
                    check("server starts", Some(true), 1, None),
                    check(
                        "server replies",
                        Some(false),
                        2,
                        Some("use the sender's address"),
                    ),
                    check("server keeps serving", None, 1, None),
                ],
                "",
            ),
            outcome(
                "tcp_basic",
                "client",
                vec![],
                "tcp_basic: client not graded: `clientt.c` does not compile:\nclientt.c:1: error: expected\n",
            ),
        ]
    }

    #[test]
    fn gradescope_has_a_test_per_check_and_per_unbuilt_direction() {
        let class = class();
        let list: Vec<&Outcome> = class.iter().collect();
        let value: serde_json::Value = serde_json::from_str(&gradescope(&list)).unwrap();
        assert_eq!(value["score"], 1);
        assert_eq!(value["execution_time"], 7);
        let tests = value["tests"].as_array().unwrap();
        assert_eq!(tests.len(), 4);
        assert_eq!(tests[0]["name"], "tcp_basic: server starts");
        assert_eq!(tests[0]["status"], "passed");
        assert_eq!(tests[0]["visibility"], "visible");
        assert_eq!(tests[1]["status"], "failed");
        assert_eq!(tests[1]["max_score"], 2);
        assert_eq!(
            tests[1]["output"],
            "server replies seen\nhint: use the sender's address"
        );
        assert_eq!(tests[2]["output"], "skipped: server keeps serving seen");
        assert_eq!(tests[3]["name"], "tcp_basic: client");
        assert_eq!(tests[3]["max_score"], 10);
        assert!(
            tests[3]["output"]
                .as_str()
                .unwrap()
                .contains("clientt.c:1: error: expected"),
            "{}",
            tests[3]
        );
    }

    #[test]
    fn prairielearn_scores_from_0_to_1() {
        let class = class();
        let list: Vec<&Outcome> = class.iter().collect();
        let value: serde_json::Value = serde_json::from_str(&prairielearn(&list)).unwrap();
        assert_eq!(value["gradable"], true);
        assert_eq!(value["score"], 1.0 / 14.0);
        assert_eq!(value["message"], "1/14 points");
        let tests = value["tests"].as_array().unwrap();
        assert_eq!(tests[1]["points"], 0);
        assert_eq!(tests[1]["max_points"], 2);
        assert_eq!(tests[1]["message"], "server replies seen");
        assert_eq!(tests[1]["output"], "hint: use the sender's address");
        assert_eq!(
            tests[3]["message"],
            "tcp_basic: client not graded: `clientt.c` does not compile:"
        );
    }

    #[test]
    fn a_run_labrun_could_not_grade_is_not_counted() {
        let mut class = class();
        class[1].verdict = "error".into();
        let list: Vec<&Outcome> = class.iter().collect();
        let value: serde_json::Value = serde_json::from_str(&prairielearn(&list)).unwrap();
        assert_eq!(value["gradable"], false);
    }

    #[test]
    fn paths_in_the_package_keep_the_course_layout() {
        assert_eq!(
            common_ancestor(Path::new("/r/courses"), Path::new("/r/scenarios")),
            PathBuf::from("/r")
        );
        assert_eq!(shell_quote("course/it's.toml"), r"'course/it'\''s.toml'");
    }
}
