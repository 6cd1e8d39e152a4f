//! The results of a class, written into `--out`: each submission's `feedback.txt`, the
//! class's `summary.csv` and `summary.json`, and the class table `index.html`; and the
//! names and verdicts they share with the journal and the merge of slices. Takes the
//! outcomes in submission then course order; hands on files only.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{GradeError, Outcome};

/// Writes `OUT/<submission>/feedback.txt`, `OUT/summary.csv`, `OUT/summary.json` and the
/// class table `OUT/index.html`.
/// Every failure is labrun's own files ([`GradeError::Files`]).
pub(crate) fn write_results(out: &Path, outcomes: &[Outcome]) -> Result<(), GradeError> {
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
pub(crate) fn submission_folder(out: &Path, submission: &str) -> PathBuf {
    out.join(sanitize(submission))
}

/// The outcomes of each submission, in the order of their first outcome.
pub(crate) fn by_submission(outcomes: &[Outcome]) -> Vec<(&str, Vec<&Outcome>)> {
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
