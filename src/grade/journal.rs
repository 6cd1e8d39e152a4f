//! What `labrun grade` has finished, kept as it goes, so that a crash (SIGKILL, the OOM
//! killer, a CI timeout) loses only the runs in flight, and `--resume` grades only the
//! rest.
//!
//! As soon as the last run of a submission ends, its `OUT/<submission>/feedback.txt` and
//! `OUT/<submission>/result.json` (every outcome, with the checks and the feedback) are
//! written, each to a temporary file then renamed over the old one, and then a line is
//! added to `OUT/journal.jsonl`: the submission, the SHA-256 of its files, its score. The
//! journal's first line names the course (the SHA-256 of the course file, the scenarios
//! graded and labrun's version): a resumed grading takes a submission's results only from
//! a journal of the same course, and only while its files are the same.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::check::CheckResult;
use crate::grade::{GradeError, Outcome};

/// The journal's file in `--out`.
pub(crate) const JOURNAL: &str = "journal.jsonl";
/// A submission's results in its folder of `--out`.
pub(crate) const RESULT: &str = "result.json";

/// The journal's first line.
#[derive(Serialize, Deserialize, PartialEq, Eq, Debug)]
struct Header {
    labrun: String,
    /// [`course_id`].
    course: String,
}

/// A line per submission done.
#[derive(Serialize, Deserialize)]
struct Line {
    submission: String,
    /// [`files_id`] of its folder when it was graded.
    files: String,
    verdict: String,
    score: u64,
    max_score: u64,
}

/// A submission's `result.json`.
#[derive(Serialize, Deserialize)]
struct Saved {
    submission: String,
    files: String,
    outcomes: Vec<SavedOutcome>,
}

/// An outcome with what the class summary leaves out.
#[derive(Serialize, Deserialize)]
struct SavedOutcome {
    #[serde(flatten)]
    outcome: Outcome,
    feedback: String,
    checks: Vec<CheckResult>,
    /// Milliseconds from the start of the grading that ran it.
    finished_ms: u64,
    isolation: Option<String>,
}

/// The journal of one `labrun grade`, open for its lines.
pub(crate) struct Journal {
    out: PathBuf,
    file: Mutex<std::fs::File>,
    /// Submissions done by an earlier grading of the same course: name → files.
    earlier: HashMap<String, String>,
}

impl Journal {
    /// Starts the journal of a grading into `out` (a new one, or with `resume` the one
    /// there, which must be of the same course).
    pub(crate) fn open(out: &Path, course: &str, resume: bool) -> Result<Self, GradeError> {
        let path = out.join(JOURNAL);
        let header = Header {
            labrun: env!("CARGO_PKG_VERSION").to_string(),
            course: course.to_string(),
        };
        let files = |e: std::io::Error| GradeError::Files(format!("{}: {e}", path.display()));
        let mut earlier = HashMap::new();
        let existing = if resume {
            match std::fs::read_to_string(&path) {
                Ok(text) => Some(text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(files(e)),
            }
        } else {
            None
        };
        if let Some(text) = existing {
            if !text.ends_with('\n') {
                // The next line must not be glued to the torn one.
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .and_then(|mut f| f.write_all(b"\n"))
                    .map_err(files)?;
            }
            let mut lines = text.lines();
            let first: Option<Header> = lines.next().and_then(|l| serde_json::from_str(l).ok());
            if first.as_ref() != Some(&header) {
                return Err(GradeError::Invalid(format!(
                    "--resume: {} was graded with another course, other scenarios or another \
                     labrun; grade into another --out, or without --resume",
                    out.display()
                )));
            }
            // A line cut short by a crash is no line.
            for line in lines.filter_map(|l| serde_json::from_str::<Line>(l).ok()) {
                earlier.insert(line.submission, line.files);
            }
        } else {
            let text = serde_json::to_string(&header).unwrap_or_default() + "\n";
            write_atomic(&path, text.as_bytes()).map_err(GradeError::Files)?;
        }
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(files)?;
        Ok(Journal {
            out: out.to_path_buf(),
            file: Mutex::new(file),
            earlier,
        })
    }

    /// The outcomes an earlier grading of the same course found for `submission`, if its
    /// files are still `files`.
    pub(crate) fn earlier(&self, submission: &str, files: &str) -> Option<Vec<Outcome>> {
        if self.earlier.get(submission).map(String::as_str) != Some(files) {
            return None;
        }
        let (saved_files, outcomes) = saved(&self.out, submission)?;
        (saved_files == files).then_some(outcomes)
    }

    /// Writes a finished submission's feedback and results, then its journal line.
    pub(crate) fn record(
        &self,
        submission: &str,
        files: &str,
        outcomes: &[Outcome],
    ) -> Result<(), String> {
        let dir = crate::grade::submission_folder(&self.out, submission);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let list: Vec<&Outcome> = outcomes.iter().collect();
        write_atomic(
            &dir.join("feedback.txt"),
            crate::grade::feedback_text(submission, &list).as_bytes(),
        )?;
        let saved = Saved {
            submission: submission.to_string(),
            files: files.to_string(),
            outcomes: outcomes
                .iter()
                .map(|o| SavedOutcome {
                    outcome: o.clone(),
                    feedback: o.feedback.clone(),
                    checks: o.checks.clone(),
                    finished_ms: u64::try_from(o.finished.as_millis()).unwrap_or(u64::MAX),
                    isolation: o.isolation.clone(),
                })
                .collect(),
        };
        let text = serde_json::to_string_pretty(&saved).unwrap_or_default() + "\n";
        write_atomic(&dir.join(RESULT), text.as_bytes())?;
        let line = Line {
            submission: submission.to_string(),
            files: files.to_string(),
            verdict: crate::grade::class_verdict(&list).to_string(),
            score: outcomes.iter().map(|o| o.score).sum(),
            max_score: outcomes.iter().map(|o| o.max_score).sum(),
        };
        let text = serde_json::to_string(&line).unwrap_or_default() + "\n";
        // One write of a whole line, in append mode: lines never mix.
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        file.write_all(text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", self.out.join(JOURNAL).display()))
    }
}

/// What `OUT/<submission>/result.json` holds: the SHA-256 of the submission's files when
/// it was graded, and its outcomes whole (feedback, checks…), as [`Journal::record`]
/// wrote them; `None` if it is missing, unreadable or of another submission.
pub(crate) fn saved(out: &Path, submission: &str) -> Option<(String, Vec<Outcome>)> {
    let path = crate::grade::submission_folder(out, submission).join(RESULT);
    let saved: Saved = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    if saved.submission != submission {
        return None;
    }
    let outcomes = saved
        .outcomes
        .into_iter()
        .map(|s| Outcome {
            feedback: s.feedback,
            checks: s.checks,
            finished: std::time::Duration::from_millis(s.finished_ms),
            isolation: s.isolation,
            ..s.outcome
        })
        .collect();
    Some((saved.files, outcomes))
}

/// Writes `bytes` to a new file beside `path`, then renames it to `path`: a reader (or a
/// crash) sees the old file or the new one, never half of one.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut file = tempfile::Builder::new()
        .prefix(".labrun-")
        .tempfile_in(dir)
        .map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    // On disk before it takes the old file's name: a machine that loses power keeps the
    // old file or the new one, not an empty one.
    file.as_file().sync_all().map_err(fail)?;
    // A file a class's grader may read: not the temporary file's 0600.
    std::fs::set_permissions(
        file.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .map_err(fail)?;
    file.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// What names a course for a resumed grading: its file, the scenario files it grades, and
/// which of its directions are graded.
pub(crate) fn course_id(course_file: &Path, scenarios: &[(String, String, PathBuf)]) -> String {
    let mut hash = Sha256::new();
    hash.update(std::fs::read(course_file).unwrap_or_default());
    for (scenario, role, path) in scenarios {
        hash.update(format!("\0{scenario}\0{role}\0").as_bytes());
        hash.update(std::fs::read(path).unwrap_or_default());
    }
    hex(&hash.finalize())
}

/// The SHA-256 of a submission's files: their paths and contents, links and special files
/// left out, as the grading copies them ([`crate::grade::COPY_DEPTH`] levels deep,
/// [`crate::grade::COPY_BYTES`]; past that, files count by name and length).
pub(crate) fn files_id(submission: &Path) -> String {
    let mut hash = Sha256::new();
    let mut budget = crate::grade::COPY_BYTES;
    hash_tree(submission, Path::new(""), &mut hash, &mut budget, 0);
    hex(&hash.finalize())
}

fn hash_tree(dir: &Path, relative: &Path, hash: &mut Sha256, budget: &mut u64, depth: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let name = relative.join(entry.file_name());
        if kind.is_dir() && depth < crate::grade::COPY_DEPTH {
            hash.update(format!("d\0{}\0", name.display()).as_bytes());
            hash_tree(&entry.path(), &name, hash, budget, depth + 1);
        } else if kind.is_file() {
            let len = entry.metadata().map_or(0, |m| m.len());
            hash.update(format!("f\0{}\0{len}\0", name.display()).as_bytes());
            // Read only within the budget: a huge file is never taken into memory.
            if len <= *budget {
                *budget -= len;
                hash.update(std::fs::read(entry.path()).unwrap_or_default());
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(submission: &str, score: u64) -> Outcome {
        Outcome {
            submission: submission.into(),
            scenario: "tcp_basic".into(),
            role: "server".into(),
            verdict: "pass".into(),
            score,
            max_score: 12,
            feedback: "tcp_basic: grading server (pass)\n  ✓ é\u{1}\n".into(),
            checks: vec![CheckResult {
                name: "server starts".into(),
                passed: Some(true),
                points: 1,
                max_points: 1,
                message: "started".into(),
                hint: None,
            }],
            finished: std::time::Duration::from_millis(1234),
            isolation: Some("labrun: warning: this run has no capture".into()),
        }
    }

    #[test]
    fn a_recorded_submission_comes_back_whole_while_its_files_are_the_same() {
        let out = tempfile::tempdir().expect("a folder");
        let journal = Journal::open(out.path(), "course-a", false).expect("a journal");
        journal
            .record("alice", "files-1", &[outcome("alice", 12)])
            .expect("recorded");
        drop(journal);
        let resumed = Journal::open(out.path(), "course-a", true).expect("the same journal");
        let back = resumed.earlier("alice", "files-1").expect("alice is done");
        assert_eq!(back.len(), 1);
        let (was, is) = (outcome("alice", 12), &back[0]);
        assert_eq!(
            (
                &is.feedback,
                &is.checks,
                is.finished,
                &is.isolation,
                is.score
            ),
            (&was.feedback, &was.checks, was.finished, &was.isolation, 12)
        );
        assert!(
            resumed.earlier("alice", "files-2").is_none(),
            "her files changed"
        );
        assert!(
            resumed.earlier("bob", "files-1").is_none(),
            "bob never finished"
        );
        let feedback = std::fs::read_to_string(out.path().join("alice/feedback.txt"))
            .expect("her feedback is written");
        assert!(
            feedback.contains("tcp_basic as server: pass (12/12)"),
            "{feedback}"
        );
    }

    #[test]
    fn another_course_is_not_resumed_and_a_torn_last_line_is_ignored() {
        let out = tempfile::tempdir().expect("a folder");
        let journal = Journal::open(out.path(), "course-a", false).expect("a journal");
        journal
            .record("alice", "f", &[outcome("alice", 3)])
            .expect("recorded");
        drop(journal);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(out.path().join(JOURNAL))
            .expect("the journal");
        file.write_all(b"{\"submission\":\"bob\",\"fil")
            .expect("a torn line");
        assert!(matches!(
            Journal::open(out.path(), "course-b", true),
            Err(GradeError::Invalid(_))
        ));
        let resumed = Journal::open(out.path(), "course-a", true).expect("the journal");
        assert!(resumed.earlier("alice", "f").is_some());
        assert!(resumed.earlier("bob", "f").is_none());
        // Without --resume, a new journal: nothing is taken from the old one.
        let fresh = Journal::open(out.path(), "course-a", false).expect("a new journal");
        assert!(fresh.earlier("alice", "f").is_none());
    }

    #[test]
    fn a_submissions_files_are_named_by_their_content() {
        let dir = tempfile::tempdir().expect("a folder");
        std::fs::write(dir.path().join("serveur.c"), "int main(){}").expect("write");
        let first = files_id(dir.path());
        assert_eq!(first, files_id(dir.path()), "the same files, the same name");
        std::fs::write(dir.path().join("serveur.c"), "int main(){return 1;}").expect("write");
        assert_ne!(first, files_id(dir.path()), "a changed file changes it");
    }
}
