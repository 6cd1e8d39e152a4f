//! `labrun merge-grades`: the `--out` folders of `labrun grade --partition` slices, graded
//! on several machines, made into the class's one, with the same `summary.csv`,
//! `summary.json` and `index.html` as the class graded at once.
//!
//! Each `labrun grade` says what it graded in `OUT/slice.json` ([`Slice`]): the course file
//! by content, the `--scenario` selection, the partition, the class it was cut from and
//! its own submissions. Slices of different courses, selections or classes, missing
//! slices and a submission in two slices are refused ([`MergeError`]): a merged summary
//! must never pass for a class's when it is not.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::grade::{Outcome, Partition, submission_folder};

/// The name of a slice's description in its `--out` folder.
pub(crate) const SLICE_FILE: &str = "slice.json";

/// What one `labrun grade` graded, written beside its summary as `slice.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slice {
    /// The course file's name, for messages (machines may keep it in different folders).
    pub course: String,
    /// SHA-256 of the course file and of the scenario files it grades, in hex: what tells
    /// two courses apart (as the journal of `--resume` does).
    pub course_sha256: String,
    /// The `--scenario` selection, sorted; null for the whole course.
    pub scenarios: Option<Vec<String>>,
    /// The partition, `count:K/N` or `hash:K/N` (a bare `K/N` is written `count:K/N`);
    /// null for the whole class.
    pub partition: Option<String>,
    /// Every submission of the class the slice was cut from, in the order it is graded.
    pub class: Vec<String>,
    /// The submissions of this slice, as `summary.json` names them.
    pub submissions: Vec<String>,
}

/// Why slices cannot be merged. Every variant but [`MergeError::Write`] is about the
/// folders given (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error(
        "{} has no {SLICE_FILE}: it is not the --out folder of a labrun grade, or it was graded by a labrun older than this one, which did not write it; grade that slice again",
        .folder.display()
    )]
    NoSlice { folder: PathBuf },
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not what labrun grade writes: {reason}", .path.display())]
    Invalid { path: PathBuf, reason: String },
    #[error(
        "slices of different course files: {} graded {} (sha256 {}), {} graded {} (sha256 {})",
        .first.display(), .first_slice.course, .first_slice.course_sha256,
        .other.display(), .other_slice.course, .other_slice.course_sha256
    )]
    Course {
        first: PathBuf,
        first_slice: Box<Slice>,
        other: PathBuf,
        other_slice: Box<Slice>,
    },
    #[error(
        "slices graded with different --scenario selections: {} ({}), {} ({})",
        .first.display(), selection(.first_scenarios), .other.display(), selection(.other_scenarios)
    )]
    Scenarios {
        first: PathBuf,
        first_scenarios: Option<Vec<String>>,
        other: PathBuf,
        other_scenarios: Option<Vec<String>>,
    },
    #[error(
        "submission {submission} is in two slices (overlapping): {} and {}",
        .first.display(), .other.display()
    )]
    Overlap {
        submission: String,
        first: PathBuf,
        other: PathBuf,
    },
    #[error(
        "slices cut from different classes: {} and {} (only in the first: {}; only in the second: {}); grade every slice from the same list of submissions",
        .first.display(), .other.display(), names(.only_first), names(.only_other)
    )]
    Class {
        first: PathBuf,
        other: PathBuf,
        only_first: Vec<String>,
        only_other: Vec<String>,
    },
    #[error(
        "slices of different partitions: {} is {}, {} is {}; every slice must be count:K/N or every one hash:K/N, with the same N",
        .first.display(), partition_name(.first_partition.as_deref()),
        .other.display(), partition_name(.other_partition.as_deref())
    )]
    Partition {
        first: PathBuf,
        first_partition: Option<String>,
        other: PathBuf,
        other_partition: Option<String>,
    },
    #[error(
        "slice {} is given twice: {} and {}",
        partition_name(.partition.as_deref()), .first.display(), .other.display()
    )]
    Twice {
        partition: Option<String>,
        first: PathBuf,
        other: PathBuf,
    },
    #[error("slices missing: {} (given: {given}); merge every slice from 1 to N", .missing.join(", "))]
    Missing { missing: Vec<String>, given: String },
    #[error(
        "the slices leave out {} of the class they were cut from: {}; grade it again in its slice",
        .missing.len(), names(.missing)
    )]
    Uncovered { missing: Vec<String> },
    #[error("{0}")]
    Write(String),
}

impl Slice {
    /// The slice that `labrun grade` of `submissions` (as given on its command line) made
    /// into `outcomes`, for the course file at `course`.
    pub fn of_grade(
        course: &Path,
        scenarios: &[String],
        partition: Option<Partition>,
        submissions: &[PathBuf],
        outcomes: &[Outcome],
    ) -> Result<Slice, MergeError> {
        let mut scenarios = scenarios.to_vec();
        scenarios.sort();
        scenarios.dedup();
        // The course file and the scenario files it grades: the same course file with
        // other rubrics is another course.
        let graded = crate::grade::load_course(course)
            .map(|loaded| crate::grade::graded_scenarios(course, &loaded, &scenarios))
            .map_err(|e| MergeError::Invalid {
                path: course.to_path_buf(),
                reason: e.to_string(),
            })?;
        // The class in grade's order: its submissions sorted by path, named by their folder.
        let mut paths = submissions.to_vec();
        paths.sort();
        paths.dedup();
        let class = paths
            .iter()
            .map(|s| {
                s.file_name()
                    .map_or_else(|| "submission".into(), |n| n.to_string_lossy().into_owned())
            })
            .collect();
        Ok(Slice {
            course: course.file_name().map_or_else(
                || course.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            course_sha256: crate::grade::journal::course_id(course, &graded),
            scenarios: (!scenarios.is_empty()).then_some(scenarios),
            partition: partition.map(partition_text),
            class,
            submissions: crate::grade::by_submission(outcomes)
                .iter()
                .map(|(s, _)| s.to_string())
                .collect(),
        })
    }

    /// Writes `OUT/slice.json` atomically: a merge never reads half of one.
    pub fn write(&self, out: &Path) -> Result<(), MergeError> {
        let json = serde_json::to_string_pretty(self).unwrap_or_default() + "\n";
        crate::grade::journal::write_atomic(&out.join(SLICE_FILE), json.as_bytes())
            .map_err(MergeError::Write)
    }
}

/// Removes `OUT/slice.json` left by an earlier grade: until this one has written its
/// results, the folder is no slice.
pub(crate) fn forget_slice(out: &Path) -> Result<(), MergeError> {
    let path = out.join(SLICE_FILE);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(MergeError::Write(format!(
            "cannot remove {}: {e}",
            path.display()
        ))),
        _ => Ok(()),
    }
}

/// Merges the slices' `--out` folders into `out`: the class's summaries and table, every
/// student's feedback file, pages and results files, and a `slice.json` of the whole
/// class. Returns how many submissions it holds.
pub(crate) fn merge(out: &Path, partials: &[PathBuf]) -> Result<usize, MergeError> {
    let slices = partials
        .iter()
        .map(|folder| Ok((folder.clone(), read_slice(folder)?)))
        .collect::<Result<Vec<_>, MergeError>>()?;
    check(&slices)?;
    let Some((_, first)) = slices.first() else {
        return Ok(0);
    };
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut sources: Vec<(String, &Path)> = Vec::new();
    for (folder, slice) in &slices {
        for (submission, mut list) in read_summary(folder, slice)? {
            restore_feedback(folder, &submission, &mut list);
            outcomes.extend(list);
            sources.push((submission, folder));
        }
    }
    // The order of the class graded at once; a stable sort keeps the course's order.
    let position = |name: &str| first.class.iter().position(|c| c == name);
    outcomes.sort_by_key(|o| position(&o.submission));
    sources.sort_by_key(|(s, _)| position(s));
    // Everything to copy is there before anything is written: a slice that lost a file
    // (an artifact upload cut short) leaves `out` as it was.
    for (submission, folder) in &sources {
        let feedback = submission_folder(folder, submission).join("feedback.txt");
        if let Err(source) = std::fs::metadata(&feedback) {
            return Err(MergeError::Read {
                path: feedback,
                source,
            });
        }
    }
    let write = MergeError::Write;
    // Until the merge is whole, `out` is no slice (a merge of a merge).
    forget_slice(out)?;
    crate::grade::write_results(out, &outcomes).map_err(|e| write(e.to_string()))?;
    for (submission, folder) in &sources {
        let from = submission_folder(folder, submission);
        let to = submission_folder(out, submission);
        if same_folder(&from, &to) {
            continue;
        }
        let feedback = from.join("feedback.txt");
        std::fs::copy(&feedback, to.join("feedback.txt"))
            .map_err(|e| write(format!("cannot copy {}: {e}", feedback.display())))?;
        copy_pages(&from, &to).map_err(write)?;
    }
    // Again, now that the pages it links to are there.
    crate::grade::write_index(out, &outcomes).map_err(write)?;
    Slice {
        partition: None,
        submissions: sources.iter().map(|(s, _)| s.clone()).collect(),
        ..first.clone()
    }
    .write(out)?;
    Ok(sources.len())
}

fn partition_text(partition: Partition) -> String {
    match partition {
        Partition::Count { k, n } => format!("count:{k}/{n}"),
        Partition::Hash { k, n } => format!("hash:{k}/{n}"),
    }
}

fn partition_name(partition: Option<&str>) -> String {
    partition.map_or_else(|| "the whole class".into(), str::to_string)
}

fn selection(scenarios: &Option<Vec<String>>) -> String {
    match scenarios {
        Some(list) => format!("--scenario {}", list.join(" --scenario ")),
        None => "the whole course".into(),
    }
}

fn names(list: &[String]) -> String {
    if list.is_empty() {
        "none".into()
    } else {
        list.join(", ")
    }
}

fn read_slice(folder: &Path) -> Result<Slice, MergeError> {
    let path = folder.join(SLICE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(MergeError::NoSlice {
                folder: folder.to_path_buf(),
            });
        }
        Err(source) => return Err(MergeError::Read { path, source }),
    };
    serde_json::from_str(&text).map_err(|e| MergeError::Invalid {
        path,
        reason: e.to_string(),
    })
}

/// Refuses slices that are not one class's: each check against the first slice, then
/// the partition's every slice there once.
fn check(slices: &[(PathBuf, Slice)]) -> Result<(), MergeError> {
    let Some((first, head)) = slices.first() else {
        return Ok(());
    };
    for (other, slice) in &slices[1..] {
        if slice.course_sha256 != head.course_sha256 {
            return Err(MergeError::Course {
                first: first.clone(),
                first_slice: Box::new(head.clone()),
                other: other.clone(),
                other_slice: Box::new(slice.clone()),
            });
        }
        if slice.scenarios != head.scenarios {
            return Err(MergeError::Scenarios {
                first: first.clone(),
                first_scenarios: head.scenarios.clone(),
                other: other.clone(),
                other_scenarios: slice.scenarios.clone(),
            });
        }
    }
    let mut owners: Vec<(&str, &PathBuf)> = Vec::new();
    for (folder, slice) in slices {
        for submission in &slice.submissions {
            if let Some((_, owner)) = owners.iter().find(|(s, _)| s == submission) {
                return Err(MergeError::Overlap {
                    submission: submission.clone(),
                    first: (*owner).clone(),
                    other: folder.clone(),
                });
            }
            owners.push((submission, folder));
        }
    }
    for (other, slice) in &slices[1..] {
        if slice.class != head.class {
            let missing_from = |a: &[String], b: &[String]| -> Vec<String> {
                a.iter().filter(|s| !b.contains(s)).cloned().collect()
            };
            return Err(MergeError::Class {
                first: first.clone(),
                other: other.clone(),
                only_first: missing_from(&head.class, &slice.class),
                only_other: missing_from(&slice.class, &head.class),
            });
        }
    }
    check_partitions(slices)?;
    // Every slice came, and still a submission of the class is in none of them.
    let missing: Vec<String> = head
        .class
        .iter()
        .filter(|name| !owners.iter().any(|(s, _)| s == name))
        .cloned()
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(MergeError::Uncovered { missing })
    }
}

/// How many missing slices an error names, at most.
const MISSING_SHOWN: usize = 10;

/// Every slice of the same scheme and N, each K from 1 to N there exactly once.
fn check_partitions(slices: &[(PathBuf, Slice)]) -> Result<(), MergeError> {
    let parsed = slices
        .iter()
        .map(|(folder, slice)| match &slice.partition {
            None => Ok(None),
            Some(text) => Partition::parse(text)
                .map(Some)
                .map_err(|reason| MergeError::Invalid {
                    path: folder.join(SLICE_FILE),
                    reason: format!("partition `{text}`: {reason}"),
                }),
        })
        .collect::<Result<Vec<_>, _>>()?;
    // (scheme, k, n); the whole class is the one slice of a scheme of its own.
    let key = |p: Option<Partition>| match p {
        None => ("whole", 1, 1),
        Some(Partition::Count { k, n }) => ("count", k, n),
        Some(Partition::Hash { k, n }) => ("hash", k, n),
    };
    let (scheme, _, n) = key(parsed[0]);
    // Which slice took each K: a list, not a table of N (N comes from a file).
    let mut taken: Vec<(usize, usize)> = Vec::new();
    for (i, partition) in parsed.iter().enumerate() {
        let (other_scheme, k, other_n) = key(*partition);
        if (other_scheme, other_n) != (scheme, n) {
            return Err(MergeError::Partition {
                first: slices[0].0.clone(),
                first_partition: slices[0].1.partition.clone(),
                other: slices[i].0.clone(),
                other_partition: slices[i].1.partition.clone(),
            });
        }
        if let Some(&(_, j)) = taken.iter().find(|(taken, _)| *taken == k) {
            return Err(MergeError::Twice {
                partition: slices[i].1.partition.clone(),
                first: slices[j].0.clone(),
                other: slices[i].0.clone(),
            });
        }
        taken.push((k, i));
    }
    let left = n - taken.len();
    if left == 0 {
        return Ok(());
    }
    let mut missing: Vec<String> = (1..=n)
        .filter(|k| taken.iter().all(|(taken, _)| taken != k))
        .take(MISSING_SHOWN)
        .map(|k| format!("{scheme}:{k}/{n}"))
        .collect();
    if left > MISSING_SHOWN {
        missing.push(format!("and {} more", left - MISSING_SHOWN));
    }
    let given = slices
        .iter()
        .map(|(folder, slice)| {
            format!(
                "{} {}",
                folder.display(),
                partition_name(slice.partition.as_deref())
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    Err(MergeError::Missing { missing, given })
}

/// A slice's `summary.json`: each submission's outcomes, checked against its `slice.json`.
fn read_summary(folder: &Path, slice: &Slice) -> Result<Vec<(String, Vec<Outcome>)>, MergeError> {
    let path = folder.join("summary.json");
    let invalid = |reason: String| MergeError::Invalid {
        path: path.clone(),
        reason,
    };
    let text = std::fs::read_to_string(&path).map_err(|source| MergeError::Read {
        path: path.clone(),
        source,
    })?;
    let summary: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    let entries = summary["submissions"]
        .as_array()
        .ok_or_else(|| invalid("no list of submissions".into()))?;
    let mut submissions = Vec::new();
    for entry in entries {
        let name = entry["submission"]
            .as_str()
            .ok_or_else(|| invalid("a submission without a name".into()))?;
        let results: Vec<Outcome> = serde_json::from_value(entry["results"].clone())
            .map_err(|e| invalid(format!("submission {name}: {e}")))?;
        submissions.push((name.to_string(), results));
    }
    let listed: Vec<String> = submissions.iter().map(|(s, _)| s.clone()).collect();
    if listed != slice.submissions {
        return Err(invalid(format!(
            "it lists {} where its {SLICE_FILE} says {}",
            names(&listed),
            names(&slice.submissions)
        )));
    }
    Ok(submissions)
}

/// Gives `list`, a submission's outcomes, back the feedback that `summary.json` leaves
/// out, from its `result.json` (see `grade::journal`): the class table says with it why a
/// run never took place. Left empty when that file does not read as expected.
fn restore_feedback(folder: &Path, submission: &str, list: &mut [Outcome]) {
    let Some((_, saved)) = crate::grade::journal::saved(folder, submission) else {
        return;
    };
    let same = |a: &Outcome, b: &Outcome| a.scenario == b.scenario && a.role == b.role;
    if saved.len() == list.len() && list.iter().zip(&saved).all(|(a, b)| same(a, b)) {
        for (outcome, saved) in list.iter_mut().zip(saved) {
            outcome.feedback = saved.feedback;
        }
    }
}

/// Whether two paths name one folder (merging a slice into its own folder).
fn same_folder(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Copies a submission's HTML pages, and its Gradescope or PrairieLearn results (JSON),
/// from a slice's folder into the merged one.
fn copy_pages(from: &Path, to: &Path) -> Result<(), String> {
    let Ok(entries) = std::fs::read_dir(from) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "html" || e == "json") {
            std::fs::copy(&path, to.join(entry.file_name()))
                .map_err(|e| format!("cannot copy {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(submission: &str, scenario: &str, verdict: &str, score: u64) -> Outcome {
        Outcome {
            submission: submission.into(),
            scenario: scenario.into(),
            role: "server".into(),
            verdict: verdict.into(),
            score,
            max_score: 10,
            feedback: format!("{scenario}: {submission} `x.c` does not compile\nerror: oops\n"),
            checks: Vec::new(),
            finished: std::time::Duration::ZERO,
            isolation: None,
        }
    }

    /// A class's outcomes (`class` in grade's order: sorted), graded at once into `dir/all`, and as the `hash:K/n` slices
    /// into `dir/K`, each with its `slice.json`.
    fn graded(dir: &Path, class: &[&str], n: usize) -> Vec<PathBuf> {
        let course = dir.join("course.toml");
        std::fs::write(&course, "grade = []\n").expect("a course");
        let paths: Vec<PathBuf> = class.iter().map(|s| dir.join("class").join(s)).collect();
        let outcomes: Vec<Outcome> = class
            .iter()
            .flat_map(|s| {
                [
                    outcome(s, "tcp_basic", "pass", 10),
                    outcome(s, "udp", "error", 0),
                ]
            })
            .collect();
        let grade = |out: &Path, partition: Option<Partition>| {
            let mine: Vec<Outcome> = outcomes
                .iter()
                .filter(|o| {
                    let i = class.iter().position(|s| *s == o.submission).unwrap_or(0);
                    partition.is_none_or(|p| p.takes(i, &o.submission))
                })
                .cloned()
                .collect();
            // A run's page, written by the run before the results, for the class table's
            // links.
            for o in mine.iter().filter(|o| o.scenario == "tcp_basic") {
                let folder = submission_folder(out, &o.submission);
                std::fs::create_dir_all(&folder).expect("a folder");
                std::fs::write(folder.join("tcp_basic-server.html"), "<html></html>")
                    .expect("a page");
            }
            // Each submission's result.json, as labrun grade writes it when it is done.
            std::fs::create_dir_all(out).expect("a folder");
            let journal =
                crate::grade::journal::Journal::open(out, "course", false).expect("a journal");
            for (submission, list) in crate::grade::by_submission(&mine) {
                let list: Vec<Outcome> = list.into_iter().cloned().collect();
                journal
                    .record(submission, "files", &list)
                    .expect("recorded");
            }
            crate::grade::write_results(out, &mine).expect("results");
            let only = ["tcp_basic".to_string(), "udp".to_string()];
            Slice::of_grade(&course, &only, partition, &paths, &mine)
                .and_then(|s| s.write(out))
                .expect("slice.json");
        };
        grade(&dir.join("all"), None);
        (1..=n)
            .map(|k| {
                let out = dir.join(k.to_string());
                grade(&out, Some(Partition::Hash { k, n }));
                out
            })
            .collect()
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn merged_hash_slices_equal_the_class_graded_at_once() {
        let dir = tempfile::tempdir().expect("a folder");
        // Two submissions in three slices: at least one slice is empty.
        let slices = graded(dir.path(), &["alice", "bob"], 3);
        let merged = dir.path().join("merged");
        assert_eq!(merge(&merged, &slices).expect("merged"), 2);
        let all = dir.path().join("all");
        for file in ["summary.csv", "summary.json", "index.html", "slice.json"] {
            assert_eq!(read(&merged.join(file)), read(&all.join(file)), "{file}");
        }
        let index = read(&merged.join("index.html"));
        assert!(
            index.contains("does not compile"),
            "why a run never ran: {index}"
        );
        assert!(index.contains("href="), "a link to a page: {index}");
        for student in ["alice", "bob"] {
            let feedback = Path::new(student).join("feedback.txt");
            assert_eq!(read(&merged.join(&feedback)), read(&all.join(&feedback)));
        }
    }

    #[test]
    fn slices_that_are_not_one_class_are_refused_naming_the_folders() {
        let dir = tempfile::tempdir().expect("a folder");
        let slices = graded(dir.path(), &["alice", "bob", "carol", "dave"], 2);
        let out = dir.path().join("merged");
        let message = |partials: &[PathBuf]| match merge(&out, partials) {
            Ok(_) => panic!("merged {partials:?}"),
            Err(e) => e.to_string(),
        };
        let missing = message(&slices[..1]);
        assert!(missing.contains("slices missing: hash:2/2"), "{missing}");
        let overlap = message(&[dir.path().join("all"), slices[0].clone()]);
        assert!(overlap.contains("in two slices (overlapping)"), "{overlap}");
        let twice = message(&[slices[0].clone(), slices[0].clone()]);
        assert!(
            twice.contains("in two slices") || twice.contains("given twice"),
            "{twice}"
        );

        let edit = |folder: &Path, change: &dyn Fn(&mut Slice)| {
            let mut slice = read_slice(folder).expect("a slice");
            change(&mut slice);
            slice.write(folder).expect("written");
        };
        let other = dir.path().join("other");
        std::fs::create_dir_all(&other).expect("a folder");
        for file in ["summary.json", "slice.json"] {
            std::fs::copy(slices[1].join(file), other.join(file)).expect("a copy");
        }
        edit(&other, &|s| s.course_sha256 = "0".repeat(64));
        let course = message(&[slices[0].clone(), other.clone()]);
        assert!(course.contains("different course files"), "{course}");
        assert!(course.contains(&other.display().to_string()), "{course}");
        edit(&other, &|s| *s = read_slice(&slices[1]).expect("a slice"));
        edit(&other, &|s| s.scenarios = None);
        let scenarios = message(&[slices[0].clone(), other.clone()]);
        assert!(
            scenarios.contains("--scenario tcp_basic --scenario udp"),
            "{scenarios}"
        );
        assert!(scenarios.contains("the whole course"), "{scenarios}");
        edit(&other, &|s| *s = read_slice(&slices[1]).expect("a slice"));
        edit(&other, &|s| s.class.push("eve".into()));
        let class = message(&[slices[0].clone(), other.clone()]);
        assert!(class.contains("only in the second: eve"), "{class}");
        edit(&other, &|s| *s = read_slice(&slices[1]).expect("a slice"));
        edit(&other, &|s| s.partition = Some("count:2/2".into()));
        let scheme = message(&[slices[0].clone(), other.clone()]);
        assert!(
            scheme.contains("is hash:1/2") && scheme.contains("is count:2/2"),
            "{scheme}"
        );
        edit(&other, &|s| {
            s.partition = Some("hash:2/1000000000000".into())
        });
        let many = message(std::slice::from_ref(&other));
        assert!(many.contains("and 999999999989 more"), "{many}");

        std::fs::remove_file(other.join(SLICE_FILE)).expect("removed");
        let none = message(&[slices[0].clone(), other.clone()]);
        assert!(none.contains("has no slice.json"), "{none}");
        assert!(none.contains("older than this one"), "{none}");
        assert!(!out.join("summary.csv").exists(), "nothing merged");
    }

    #[test]
    fn a_slice_missing_a_student_or_a_file_is_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().expect("a folder");
        let slices = graded(dir.path(), &["alice", "bob", "carol", "dave"], 2);
        let out = dir.path().join("merged");
        // Every slice came, but one lost a student on its way (a run that never ended).
        let (keep, lose) = (&slices[0], &slices[1]);
        let mut slice = read_slice(lose).expect("a slice");
        let lost = slice.submissions.pop().expect("a submission in the slice");
        slice.write(lose).expect("written");
        match merge(&out, &[keep.clone(), lose.clone()]) {
            Err(e @ MergeError::Uncovered { .. }) => {
                assert!(e.to_string().contains(&lost), "{e}");
            }
            other => panic!("merged a class without {lost}: {other:?}"),
        }
        assert!(!out.join("summary.csv").exists(), "nothing merged");
        slice.submissions.push(lost);
        slice.write(lose).expect("written");
        // A feedback file lost with an artifact: exit 2 (about the folders), nothing written.
        let student = read_slice(keep).expect("a slice").submissions[0].clone();
        std::fs::remove_file(submission_folder(keep, &student).join("feedback.txt"))
            .expect("removed");
        match merge(&out, &[keep.clone(), lose.clone()]) {
            Err(e @ MergeError::Read { .. }) => {
                assert!(e.to_string().contains("feedback.txt"), "{e}");
            }
            other => panic!("merged without {student}'s feedback: {other:?}"),
        }
        assert!(!out.join("summary.csv").exists(), "nothing merged");
    }

    #[test]
    fn a_name_of_dots_stays_inside_out() {
        for name in [".", "..", "", "..."] {
            let folder = crate::grade::sanitize(name);
            assert!(
                !folder.is_empty() && !folder.chars().all(|c| c == '.'),
                "{name:?} → {folder:?}"
            );
        }
        assert_eq!(crate::grade::sanitize("a b/c"), "a_b_c");
    }
}
