//! The HTML report: one self-contained page per run, and a class's index page.
//!
//! A page holds everything inline (style, the SVG diagram) and fetches nothing: the
//! machines that open it may be offline, and its Content-Security-Policy forbids any
//! fetch, so that a page that would need one shows an error in the browser rather than
//! silently depending on the network. No script at all.

use std::fmt::Write as _;

use crate::check::{Report, Verdict};
use crate::diagram::{self, Diagram};
use crate::transcript::Transcript;

/// How the run compares with its reference snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Reference {
    /// No snapshot to compare with.
    Missing,
    Matches,
    /// The unified diff, `-` reference, `+` this run, as [`crate::snapshot::diff`] writes it.
    Differs {
        diff: String,
    },
}

/// What a run's page shows.
#[derive(Clone, Debug)]
pub(crate) struct Page<'a> {
    pub transcript: &'a Transcript,
    /// The transcript's text form, as in the snapshot.
    pub text: &'a str,
    /// The scenario file's path and text.
    pub source: (String, String),
    /// The rubric's verdict, when the run graded a program.
    pub report: Option<&'a Report>,
    pub reference: Reference,
    /// What went wrong around the run itself (timeouts, capture errors).
    pub warnings: Vec<String>,
}

/// One line of a class's index page.
#[derive(Clone, Debug)]
pub(crate) struct IndexRow {
    pub submission: String,
    pub verdict: String,
    pub score: u64,
    pub max_score: u64,
    /// Per column of the index; `None` when the submission was not graded there.
    pub cells: Vec<Option<IndexCell>>,
}

/// One run in a class's index.
#[derive(Clone, Debug)]
pub(crate) struct IndexCell {
    pub score: u64,
    pub max_score: u64,
    pub verdict: String,
    /// The run's page, relative to the index, when the run wrote one.
    pub link: Option<String>,
    /// Why the run never took place (a build failure and the compiler's first error),
    /// when it did not.
    pub why: Option<String>,
}

/// The file name of a run's page: `tcp_sleep.html`, or `tcp_basic-server.html` when the
/// run graded the program playing `server` (a course may grade both sides of a scenario).
pub(crate) fn page_name(scenario: &str, graded: &[String]) -> String {
    let mut name = file_safe(scenario);
    for role in graded {
        name.push('-');
        name.push_str(&file_safe(role));
    }
    name.push_str(".html");
    name
}

/// The page of one run.
pub(crate) fn page(page: &Page<'_>) -> String {
    let transcript = page.transcript;
    let diagram = Diagram::new(transcript);
    let (verdict, class) = match (page.report, &page.reference) {
        (Some(report), _) => match report.verdict {
            Verdict::Pass => (
                format!("pass, {}/{}", report.score, report.max_score),
                "pass",
            ),
            Verdict::Fail => (
                format!("fail, {}/{}", report.score, report.max_score),
                "fail",
            ),
        },
        (None, Reference::Matches) => ("matches its snapshot".to_string(), "pass"),
        (None, Reference::Differs { .. }) => ("differs from its snapshot".to_string(), "fail"),
        (None, Reference::Missing) => ("no snapshot to compare with".to_string(), "none"),
    };
    let title = format!("labrun: {}", transcript.scenario);
    let mut out = head(&title);
    let _ = writeln!(
        out,
        r#"<header><h1>{}</h1><p class="verdict {class}">{}</p>"#,
        esc(&transcript.scenario),
        esc(&verdict)
    );
    if let Some(report) = page.report {
        let _ = writeln!(
            out,
            "<p>Grading the program playing {}.</p>",
            esc(&report.graded.join(", "))
        );
    }
    for warning in &page.warnings {
        let _ = writeln!(out, r#"<p class="warning">{}</p>"#, esc(warning));
    }
    let mut sections = vec![("diagram", "Sequence diagram")];
    if page.report.is_some() {
        sections.insert(0, ("checks", "Checks"));
    }
    sections.extend([
        ("states", "Socket states"),
        ("transcript", "Transcript"),
        ("reference", "Difference with the reference"),
        ("scenario", "Scenario"),
    ]);
    out.push_str("<nav>");
    for (id, name) in &sections {
        let _ = write!(out, r##"<a href="#{id}">{name}</a> "##);
    }
    out.push_str("</nav></header>\n<main>\n");
    if let Some(report) = page.report {
        checks(&mut out, report);
    }
    let _ = writeln!(
        out,
        r#"<section id="diagram"><h2>Sequence diagram</h2><p class="legend">{} packet{} captured; times in seconds of scenario time. Hover over an arrow for its sequence numbers.</p><div class="scroll">"#,
        diagram.packet_arrows(),
        if diagram.packet_arrows() == 1 {
            ""
        } else {
            "s"
        }
    );
    out.push_str(&diagram::svg(&diagram));
    out.push_str("</div></section>\n");
    states(&mut out, transcript);
    let _ = writeln!(
        out,
        r#"<section id="transcript"><h2>Transcript</h2><pre>{}</pre></section>"#,
        esc(page.text)
    );
    out.push_str(r#"<section id="reference"><h2>Difference with the reference</h2>"#);
    match &page.reference {
        Reference::Missing => out.push_str("<p>No reference snapshot for this scenario.</p>"),
        Reference::Matches => out.push_str("<p>The transcript matches the reference snapshot.</p>"),
        Reference::Differs { diff } => {
            out.push_str("<p><span class=\"del\">- the reference</span>, <span class=\"ins\">+ this run</span>:</p><pre class=\"diff\">");
            for line in diff.lines() {
                let class = match line.chars().next() {
                    Some('-') => "del",
                    Some('+') => "ins",
                    Some('@') => "hunk",
                    _ => "same",
                };
                let _ = writeln!(out, r#"<span class="{class}">{}</span>"#, esc(line));
            }
            out.push_str("</pre>");
        }
    }
    out.push_str("</section>\n");
    let _ = writeln!(
        out,
        r#"<section id="scenario"><h2>Scenario</h2><p><code>{}</code></p><pre>{}</pre></section>"#,
        esc(&page.source.0),
        esc(&page.source.1)
    );
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

/// The index of a graded class: one line per submission, a column per scenario and role,
/// each cell linking to the run's page.
pub(crate) fn index(columns: &[(String, String)], rows: &[IndexRow]) -> String {
    let mut out = head("labrun: class results");
    let passed = rows.iter().filter(|r| r.verdict == "pass").count();
    let _ = writeln!(
        out,
        "<header><h1>Class results</h1><p>{passed} of {} submissions pass.</p></header>\n<main>\n<table class=\"class\"><thead><tr><th>submission</th><th>verdict</th><th>total</th>",
        rows.len()
    );
    for (scenario, role) in columns {
        let _ = write!(
            out,
            "<th>{}<br><small>{}</small></th>",
            esc(scenario),
            esc(role)
        );
    }
    out.push_str("</tr></thead><tbody>\n");
    for row in rows {
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td class="verdict {}">{}</td><td>{}/{}</td>"#,
            esc(&row.submission),
            verdict_class(&row.verdict),
            esc(&row.verdict),
            row.score,
            row.max_score
        );
        for cell in &row.cells {
            match cell {
                None => out.push_str("<td></td>"),
                Some(cell) => {
                    let text = format!("{}/{} {}", cell.score, cell.max_score, cell.verdict);
                    let class = verdict_class(&cell.verdict);
                    match &cell.link {
                        Some(link) => {
                            let _ = write!(
                                out,
                                r#"<td class="verdict {class}"><a href="{}">{}</a></td>"#,
                                esc(link),
                                esc(&text)
                            );
                        }
                        None => {
                            let why = cell.why.as_deref().map_or_else(String::new, |why| {
                                format!("<br><small class=\"why\">{}</small>", esc(why))
                            });
                            let _ = write!(
                                out,
                                r#"<td class="verdict {class}">{}{why}</td>"#,
                                esc(&text)
                            );
                        }
                    }
                }
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n<p class=\"legend\">Each cell links to the run's page: its checks, sequence diagram, socket states and transcript. A cell without a link is a program that could not be run, with why; its feedback file says more.</p>\n</main>\n</body>\n</html>\n");
    out
}

/// Text for HTML content and quoted attributes.
pub(crate) fn esc(text: &str) -> String {
    diagram::escape_xml(text)
}

fn verdict_class(verdict: &str) -> &'static str {
    match verdict {
        "pass" => "pass",
        "fail" => "fail",
        _ => "error",
    }
}

fn head(title: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="labrun {}">
<title>{}</title>
<style>{STYLE}</style>
</head>
<body>
"#,
        env!("CARGO_PKG_VERSION"),
        esc(title)
    )
}

fn checks(out: &mut String, report: &Report) {
    out.push_str(r#"<section id="checks"><h2>Checks</h2><table class="checks"><thead><tr><th></th><th>check</th><th>points</th><th>what was seen</th><th>hint</th></tr></thead><tbody>"#);
    out.push('\n');
    for check in &report.checks {
        let (mark, class) = match check.passed {
            Some(true) => ("✓", "pass"),
            Some(false) => ("✗", "fail"),
            None => ("–", "skip"),
        };
        let _ = writeln!(
            out,
            r#"<tr class="check {class}"><td class="mark">{mark}</td><td>{}</td><td>{}/{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&check.name),
            check.points,
            check.max_points,
            esc(&check.message),
            esc(check.hint.as_deref().unwrap_or(""))
        );
    }
    let _ = writeln!(
        out,
        "</tbody><tfoot><tr><td></td><td>score</td><td>{}/{}</td><td></td><td></td></tr></tfoot></table></section>",
        report.score, report.max_score
    );
}

fn states(out: &mut String, transcript: &Transcript) {
    let marks = diagram::socket_states(transcript);
    out.push_str(r#"<section id="states"><h2>Socket states</h2>"#);
    if marks.is_empty() {
        out.push_str("<p>No TCP socket was seen in this run.</p></section>\n");
        return;
    }
    out.push_str(r#"<p class="legend">From the packets (the state each one moved a socket to) and from the <code>netstat</code> checkpoints (every socket's state at that moment).</p><table class="states"><thead><tr><th>time</th><th>role</th><th>socket</th><th>state</th><th>seen in</th></tr></thead><tbody>"#);
    out.push('\n');
    for mark in &marks {
        let _ = writeln!(
            out,
            r#"<tr class="{}"><td>{}</td><td>{}</td><td><code>{}</code></td><td><span class="state {}">{}</span></td><td>{}</td></tr>"#,
            mark.seen,
            crate::record::seconds(mark.tenths),
            esc(&mark.role),
            esc(&mark.socket),
            state_class(&mark.state),
            esc(&mark.state),
            mark.seen
        );
    }
    out.push_str("</tbody></table></section>\n");
}

/// A CSS class for a TCP state: its family, for the colour.
fn state_class(state: &str) -> &'static str {
    match state {
        "LISTEN" => "listen",
        "ESTABLISHED" => "open",
        "SYN_SENT" | "SYN_RECV" => "opening",
        "CLOSED" => "closed",
        _ => "closing",
    }
}

fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

const STYLE: &str = r#"
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
header { background: #fff; border-bottom: 1px solid #ddd; padding: 12px 24px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
nav a { margin-right: 14px; color: #1f4fa0; }
main { padding: 8px 24px 40px; }
section { background: #fff; border: 1px solid #e2e2e2; border-radius: 6px; margin: 16px 0; padding: 8px 16px 16px; }
h2 { font-size: 18px; }
pre { background: #f6f6f6; padding: 10px; overflow-x: auto; font: 12.5px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; }
table { border-collapse: collapse; }
th, td { border-bottom: 1px solid #e6e6e6; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f2f4f8; }
.verdict.pass, tr.pass .mark { color: #2e7d32; font-weight: bold; }
.verdict.fail, tr.fail .mark, .verdict.error { color: #c62828; font-weight: bold; }
.verdict.none, tr.skip .mark { color: #777; }
.warning { color: #8a5a00; }
.legend { color: #666; font-size: 13px; }
.scroll { overflow-x: auto; }
.diff .del { color: #b71c1c; background: #fdecec; display: block; }
.diff .ins { color: #1b5e20; background: #eaf6ea; display: block; }
.diff .hunk { color: #777; display: block; }
.diff .same { display: block; }
span.del { color: #b71c1c; } span.ins { color: #1b5e20; }
.state { padding: 0 6px; border-radius: 3px; font: 12px ui-monospace, monospace; }
.state.listen { background: #e3ecfa; } .state.open { background: #e3f3e4; }
.state.opening { background: #fff4cc; } .state.closing { background: #fde7d6; }
.state.closed { background: #eee; }
table.class td a { color: inherit; }
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::CheckResult;
    use crate::diagram::tests::tcp_sleep;

    fn report() -> Report {
        Report {
            scenario: "tcp_sleep".into(),
            verdict: Verdict::Fail,
            score: 1,
            max_score: 3,
            graded: vec!["server".into()],
            checks: vec![CheckResult {
                name: "replies <3> & \"quotes\"".into(),
                passed: Some(false),
                points: 0,
                max_points: 2,
                message: "0 message(s)".into(),
                hint: Some("send '<b>it</b>'".into()),
            }],
        }
    }

    #[test]
    fn a_page_holds_every_section_and_fetches_nothing() {
        let transcript = tcp_sleep();
        let report = report();
        let html = page(&Page {
            transcript: &transcript,
            text: "  0.0  server   start  A 4000\n",
            source: ("scenarios/tcp_sleep.toml".into(), "[[server]]\n".into()),
            report: Some(&report),
            reference: Reference::Differs {
                diff: "@@\n-old <line>\n+new & line\n".into(),
            },
            warnings: vec!["capture <lost>".into()],
        });
        for id in [
            "checks",
            "diagram",
            "states",
            "transcript",
            "reference",
            "scenario",
        ] {
            assert!(html.contains(&format!(r#"<section id="{id}">"#)), "{id}");
        }
        assert_eq!(html.matches(r#"class="arrow packet""#).count(), 7);
        assert!(
            html.contains("replies &lt;3&gt; &amp; &quot;quotes&quot;"),
            "{html}"
        );
        assert!(
            html.contains("send &#39;&lt;b&gt;it&lt;/b&gt;&#39;"),
            "{html}"
        );
        assert!(
            html.contains(r#"<span class="del">-old &lt;line&gt;</span>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<span class="ins">+new &amp; line</span>"#),
            "{html}"
        );
        assert!(html.contains("capture &lt;lost&gt;"), "{html}");
        assert!(html.contains("fail, 1/3"), "{html}");
        // The SVG's namespace is a name, not something to fetch.
        let html = html.replace(r#"xmlns="http://www.w3.org/2000/svg""#, "");
        for external in [
            "http:", "https:", "src=", "url(", "<script", "@import", "<link",
        ] {
            assert!(!html.contains(external), "{external}");
        }
    }

    #[test]
    fn the_index_links_each_page() {
        let html = index(
            &[("tcp_basic".into(), "server".into())],
            &[
                IndexRow {
                    submission: "alice <a>".into(),
                    verdict: "pass".into(),
                    score: 3,
                    max_score: 3,
                    cells: vec![Some(IndexCell {
                        score: 3,
                        max_score: 3,
                        verdict: "pass".into(),
                        link: Some("alice/tcp_basic-server.html".into()),
                        why: None,
                    })],
                },
                IndexRow {
                    submission: "carol".into(),
                    verdict: "error".into(),
                    score: 0,
                    max_score: 3,
                    cells: vec![Some(IndexCell {
                        score: 0,
                        max_score: 3,
                        verdict: "fail".into(),
                        link: None,
                        why: Some("`serveur.c` does not compile: <error>".into()),
                    })],
                },
            ],
        );
        assert!(
            html.contains(r#"<a href="alice/tcp_basic-server.html">3/3 pass</a>"#),
            "{html}"
        );
        assert!(html.contains("alice &lt;a&gt;"), "{html}");
        assert!(html.contains("1 of 2 submissions pass"), "{html}");
        assert!(
            html.contains("does not compile: &lt;error&gt;"),
            "why, escaped: {html}"
        );
    }

    #[test]
    fn page_names_are_safe_file_names() {
        assert_eq!(page_name("tcp_sleep", &[]), "tcp_sleep.html");
        assert_eq!(
            page_name("tcp_basic", &["server".into()]),
            "tcp_basic-server.html"
        );
        assert_eq!(page_name("../x y", &[]), ".._x_y.html");
    }
}
