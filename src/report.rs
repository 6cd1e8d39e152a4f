//! Reports of a graded run: the terminal, JSON, JUnit XML and Gradescope's `results.json`.

use std::fmt::Write as _;

use crate::check::{Report, Verdict};

/// The checks as a person reads them: ✓/✗, points, what was seen, the hint.
pub(crate) fn terminal(report: &Report, color: bool) -> String {
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
pub(crate) fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap_or_default()
}

/// A JUnit XML test suite: one test case per check.
pub(crate) fn junit(report: &Report) -> String {
    use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new(xml_text(&report.scenario));
    for check in &report.checks {
        let status = match check.passed {
            Some(true) => TestCaseStatus::success(),
            Some(false) => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status.set_message(xml_text(&check.message));
                if let Some(hint) = &check.hint {
                    status.set_description(xml_text(hint));
                }
                status
            }
            None => {
                let mut status = TestCaseStatus::skipped();
                status.set_message(xml_text(&check.message));
                status
            }
        };
        let mut case = TestCase::new(xml_text(&check.name), status);
        case.set_classname(xml_text(&report.scenario));
        suite.add_test_case(case);
    }
    let mut junit = quick_junit::Report::new("labrun");
    junit.add_test_suite(suite);
    junit
        .to_string()
        .unwrap_or_else(|e| format!("<!-- labrun: cannot write the JUnit report: {e} -->"))
}

/// `text` with the characters XML 1.0 forbids (the C0 controls but tab, newline and
/// carriage return; U+FFFE, U+FFFF) replaced by visible ones: a control by its Unicode
/// picture (`␇` for BEL), the others by U+FFFD. A program's output and messages go into
/// check messages, and one forbidden character makes a whole report unreadable.
fn xml_text(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            '\u{0}'..='\u{1f}' => char::from_u32(0x2400 + u32::from(c)).unwrap_or('\u{fffd}'),
            '\u{fffe}' | '\u{ffff}' => '\u{fffd}',
            _ => c,
        })
        .collect()
}

/// Gradescope's autograder `results.json`.
pub(crate) fn gradescope(report: &Report) -> String {
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
        let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("well-formed");
        let suite = &parsed.test_suites[0];
        assert_eq!((suite.tests, suite.failures), (2, 1), "{xml}");
        assert_eq!(suite.test_cases[1].name.as_str(), "replies <3>");
        assert!(xml.contains("name=\"replies &lt;3&gt;\""), "{xml}");
        assert!(xml.contains("message=\"0 message(s)\""), "{xml}");
        assert!(
            xml.contains("send &quot;it&quot;") || xml.contains("send \"it\""),
            "{xml}"
        );
    }

    /// What programs print ends up in check messages: no character of it may make the
    /// report unreadable, and none is lost without a trace.
    #[test]
    fn control_characters_leave_the_junit_report_well_formed() {
        let mut report = report();
        let nasty: String = (0u8..32)
            .map(char::from)
            .chain(['\u{fffe}', '\u{7f}'])
            .collect();
        report.checks[1].message = format!("got {nasty}");
        report.checks[1].hint = Some(format!("\x1b[31m{nasty}\x1b[0m"));
        report.checks[0].name = format!("bell\x07{nasty}");
        let xml = junit(&report);
        let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("well-formed");
        assert_eq!(parsed.test_suites[0].test_cases.len(), 2);
        assert!(
            xml.contains("bell\u{2407}"),
            "BEL shown as its picture: {xml}"
        );
        let value: serde_json::Value = serde_json::from_str(&json(&report)).expect("valid JSON");
        assert_eq!(value["checks"][1]["message"], format!("got {nasty}"));
        let value: serde_json::Value =
            serde_json::from_str(&gradescope(&report)).expect("valid JSON");
        assert!(value["tests"].is_array());
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
