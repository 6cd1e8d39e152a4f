//! Reports of a graded run: the terminal, JSON, JUnit XML and Gradescope's `results.json`.

use std::fmt::Write as _;

use crate::check::{Report, Verdict};

/// The checks as a person reads them: ✓/✗, points, what was seen, the hint.
pub fn terminal(report: &Report, color: bool) -> String {
    let paint = |code: &str, text: &str| {
        if color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: grading {} ({})",
        report.scenario,
        report.graded.join(", "),
        if report.verdict == Verdict::Pass {
            paint("32", "pass")
        } else {
            paint("31", "fail")
        }
    );
    for check in &report.checks {
        let mark = match check.passed {
            Some(true) => paint("32", "✓"),
            Some(false) => paint("31", "✗"),
            None => paint("33", "-"),
        };
        let _ = writeln!(
            out,
            "  {mark} {} [{}/{}] {}",
            check.name, check.points, check.max_points, check.message
        );
        if let Some(hint) = &check.hint {
            let _ = writeln!(out, "      hint: {hint}");
        }
    }
    let _ = writeln!(out, "  score: {}/{}", report.score, report.max_score);
    out
}

/// The documented JSON report (see the README).
pub fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap_or_default()
}

/// A JUnit XML test suite: one test case per check.
pub fn junit(report: &Report) -> String {
    let failures = report
        .checks
        .iter()
        .filter(|c| c.passed == Some(false))
        .count();
    let skipped = report.checks.iter().filter(|c| c.passed.is_none()).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">",
        xml(&report.scenario),
        report.checks.len()
    );
    for check in &report.checks {
        let _ = write!(
            out,
            "  <testcase classname=\"{}\" name=\"{}\">",
            xml(&report.scenario),
            xml(&check.name)
        );
        match check.passed {
            Some(true) => {}
            Some(false) => {
                let _ = write!(
                    out,
                    "<failure message=\"{}\">{}</failure>",
                    xml(&check.message),
                    xml(check.hint.as_deref().unwrap_or(""))
                );
            }
            None => {
                let _ = write!(out, "<skipped message=\"{}\"/>", xml(&check.message));
            }
        }
        out.push_str("</testcase>\n");
    }
    out.push_str("</testsuite>\n");
    out
}

/// Gradescope's autograder `results.json`.
pub fn gradescope(report: &Report) -> String {
    let tests: Vec<serde_json::Value> = report
        .checks
        .iter()
        .map(|c| {
            let mut output = c.message.clone();
            if let Some(hint) = &c.hint {
                output.push_str("\nHint: ");
                output.push_str(hint);
            }
            serde_json::json!({
                "name": c.name,
                "score": c.points,
                "max_score": c.max_points,
                "status": if c.passed == Some(true) { "passed" } else { "failed" },
                "output": output,
            })
        })
        .collect();
    let value = serde_json::json!({
        "score": report.score,
        "output": format!("{}: {}", report.scenario, if report.verdict == Verdict::Pass { "pass" } else { "fail" }),
        "tests": tests,
    });
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

fn xml(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            c if c.is_control() && c != '\n' && c != '\t' => format!("&#x{:x};", c as u32),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::CheckResult;

    fn report() -> Report {
        Report {
            scenario: "tcp_basic".into(),
            verdict: Verdict::Fail,
            score: 1,
            max_score: 3,
            graded: vec!["server".into()],
            checks: vec![
                CheckResult {
                    name: "listens".into(),
                    passed: Some(true),
                    points: 1,
                    max_points: 1,
                    message: "ok".into(),
                    hint: None,
                },
                CheckResult {
                    name: "replies <3>".into(),
                    passed: Some(false),
                    points: 0,
                    max_points: 2,
                    message: "0 message(s)".into(),
                    hint: Some("send \"it\"".into()),
                },
            ],
        }
    }

    #[test]
    fn junit_escapes_and_counts() {
        let xml = junit(&report());
        assert!(
            xml.contains("tests=\"2\" failures=\"1\" skipped=\"0\""),
            "{xml}"
        );
        assert!(xml.contains("name=\"replies &lt;3&gt;\""), "{xml}");
        assert!(
            xml.contains("<failure message=\"0 message(s)\">send &quot;it&quot;</failure>"),
            "{xml}"
        );
    }

    #[test]
    fn gradescope_has_scores_per_test() {
        let value: serde_json::Value = serde_json::from_str(&gradescope(&report())).unwrap();
        assert_eq!(value["score"], 1);
        assert_eq!(value["tests"][1]["max_score"], 2);
        assert_eq!(value["tests"][1]["status"], "failed");
    }

    #[test]
    fn json_has_the_documented_fields() {
        let value: serde_json::Value = serde_json::from_str(&json(&report())).unwrap();
        for field in ["scenario", "verdict", "score", "max_score"] {
            assert!(value.get(field).is_some(), "{field}");
        }
        assert_eq!(value["verdict"], "fail");
        assert_eq!(value["checks"][0]["max_points"], 1);
    }
}
