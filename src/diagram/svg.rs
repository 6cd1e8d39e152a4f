//! The SVG rendering, for the HTML report: self-contained (its style inside, no fonts or
//! images to fetch), one `<g class="arrow packet">` per packet so that tests and scripts
//! can count them, the full packet line as a tooltip.

use std::fmt::Write as _;

use super::{ArrowKind, Diagram, Item, Life, NoteKind};
use crate::record::seconds;
use crate::term::fit;

const TIME_COLUMN: usize = 56;
/// Room beside the outer lanes for notes.
const MARGIN: usize = 150;
const TOP: usize = 56;
/// Width of a character of the 12px monospace text, for sizing boxes.
const CHAR: usize = 7;

/// The diagram as an `<svg>` element, ready to inline in HTML or to save as a file.
pub(crate) fn svg(diagram: &Diagram) -> String {
    let lanes = diagram.lanes.len().max(1);
    let gap = if lanes <= 3 { 300 } else { 220 };
    let xs: Vec<usize> = (0..lanes).map(|i| TIME_COLUMN + MARGIN + i * gap).collect();
    let width = xs.last().map_or(0, |x| x + MARGIN);
    let mut body = String::new();
    let mut life: Vec<(Life, usize)> = diagram
        .lanes
        .iter()
        .map(|l| (Life::at_start(l), TOP))
        .collect();
    let mut lifelines = String::new();
    let mut y = TOP + 10;
    let mut shown: Option<u64> = None;
    for row in &diagram.rows {
        let height = match &row.item {
            Item::Arrow(_) => 38,
            Item::States(_) => 24,
            Item::Note { .. } => 22,
            Item::Delay { tenths } => 28 + (*tenths as usize).min(50),
        };
        let middle = y + height / 2;
        if !matches!(row.item, Item::Delay { .. }) && shown != Some(row.tenths) {
            let _ = writeln!(
                body,
                r#"<text class="time" x="8" y="{}">{}</text>"#,
                middle + 4,
                seconds(row.tenths)
            );
            shown = Some(row.tenths);
        }
        match &row.item {
            Item::Delay { tenths } => {
                let _ = writeln!(
                    body,
                    r#"<g class="delay"><rect x="{TIME_COLUMN}" y="{}" width="{}" height="{}"/><text x="{}" y="{}">… {} s later …</text></g>"#,
                    y + 4,
                    width - TIME_COLUMN,
                    height - 8,
                    width / 2,
                    middle + 4,
                    seconds(*tenths)
                );
            }
            Item::Arrow(arrow) => {
                let (Some(&a), Some(&b)) = (xs.get(arrow.from), xs.get(arrow.to)) else {
                    continue;
                };
                let class = match arrow.kind {
                    ArrowKind::Packet => "arrow packet",
                    ArrowKind::Message => "arrow message",
                };
                let room = if a == b { gap } else { a.abs_diff(b) } / CHAR;
                let line = middle + 2;
                let _ = write!(
                    body,
                    r#"<g class="{class}" data-kind="{}"><title>{}</title>"#,
                    arrow.flavour.name(),
                    escape(format!("{} {}", arrow.label, arrow.detail).trim_end())
                );
                if a == b {
                    let _ = write!(
                        body,
                        r#"<path d="M{a} {} h40 v14 h-34"/><polygon points="{a},{} {},{} {},{}"/>"#,
                        line - 7,
                        line + 7,
                        a + 8,
                        line + 3,
                        a + 8,
                        line + 11
                    );
                } else {
                    let tip = |dx: isize| (b as isize - dx * if b > a { 1 } else { -1 }) as usize;
                    let _ = write!(
                        body,
                        r#"<line x1="{a}" y1="{line}" x2="{}" y2="{line}"/><polygon points="{b},{line} {},{} {},{}"/>"#,
                        tip(8),
                        tip(10),
                        line - 5,
                        tip(10),
                        line + 5
                    );
                }
                let centre = if a == b { a + 70 } else { (a + b) / 2 };
                let _ = write!(
                    body,
                    r#"<text class="label" x="{centre}" y="{}">{}</text>"#,
                    line - 5,
                    escape(&fit(&arrow.label, room))
                );
                if !arrow.detail.is_empty() {
                    let _ = write!(
                        body,
                        r#"<text class="detail" x="{centre}" y="{}">{}</text>"#,
                        line + 13,
                        escape(&fit(&arrow.detail, room + room / 4))
                    );
                }
                body.push_str("</g>\n");
            }
            Item::States(states) => {
                for (lane, state) in states {
                    let Some(&x) = xs.get(*lane) else { continue };
                    let text = fit(state, 24);
                    let w = text.chars().count() * CHAR + 12;
                    let _ = writeln!(
                        body,
                        r#"<g class="state"><rect x="{}" y="{}" width="{w}" height="18" rx="4"/><text x="{x}" y="{}">{}</text></g>"#,
                        x.saturating_sub(w / 2),
                        middle - 9,
                        middle + 4,
                        escape(&text)
                    );
                }
            }
            Item::Note { lane, kind, text } => {
                let Some(&x) = xs.get(*lane) else { continue };
                if let Some(next) = Life::after(*kind) {
                    let (now, since) = life[*lane];
                    segment(&mut lifelines, x, since, middle, now);
                    life[*lane] = (next, middle);
                }
                let (class, text) = match kind {
                    NoteKind::Start => ("note start", text.clone()),
                    NoteKind::Ready => ("note ready", text.clone()),
                    NoteKind::Output => ("note output", text.clone()),
                    NoteKind::Error => ("note error", format!("stderr: {text}")),
                    NoteKind::Skip => ("note skip", text.clone()),
                    NoteKind::Exit => ("note exit", text.clone()),
                };
                // Beside the lane, on the side with room: the last lane's notes go left.
                let last = *lane + 1 == diagram.lanes.len() && *lane > 0;
                let room = if last || diagram.lanes.len() == 1 {
                    MARGIN + gap / 2
                } else {
                    gap - 16
                } / CHAR;
                let (anchor, at) = if last {
                    ("end", x - 10)
                } else {
                    ("start", x + 10)
                };
                let _ = writeln!(
                    body,
                    r#"<g class="{class}"><circle cx="{x}" cy="{middle}" r="4"/><text x="{at}" y="{}" text-anchor="{anchor}">{}</text><title>{}</title></g>"#,
                    middle + 4,
                    escape(&fit(&text, room)),
                    escape(&text)
                );
            }
        }
        y += height;
    }
    let bottom = y + 10;
    for ((now, since), x) in life.iter().zip(&xs) {
        segment(&mut lifelines, *x, *since, bottom, *now);
    }
    let height = bottom + 10;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="diagram" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="sequence diagram of {}">"#,
        escape(&diagram.scenario)
    );
    out.push_str(STYLE);
    out.push_str(&lifelines);
    for (lane, x) in diagram.lanes.iter().zip(&xs) {
        let w = (lane.name.chars().count() * 8 + 24).max(80);
        let _ = writeln!(
            out,
            r#"<g class="lane"><rect x="{}" y="10" width="{w}" height="30" rx="5"/><text x="{x}" y="30">{}</text></g>"#,
            x.saturating_sub(w / 2),
            escape(&lane.name)
        );
    }
    out.push_str(&body);
    out.push_str("</svg>\n");
    out
}

/// Text for XML and HTML, in content or in a quoted attribute. Control characters, which
/// XML does not allow even as references, become `�`.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"<style>
.diagram text { font: 12px ui-monospace, "DejaVu Sans Mono", monospace; fill: #222; }
.diagram .lane rect { fill: #e8eef8; stroke: #4a6fa5; }
.diagram .lane text { font-weight: bold; text-anchor: middle; }
.diagram .life { stroke: #4a6fa5; stroke-width: 2; }
.diagram .life.ended, .diagram .life.wire { stroke: #aaa; stroke-width: 1; stroke-dasharray: 3 4; }
.diagram .arrow line, .diagram .arrow path { stroke: #333; stroke-width: 1.4; fill: none; }
.diagram .arrow polygon { fill: #333; }
.diagram .arrow.message line { stroke-dasharray: 6 3; }
.diagram .arrow[data-kind=syn] line { stroke: #2e7d32; } .diagram .arrow[data-kind=syn] polygon { fill: #2e7d32; }
.diagram .arrow[data-kind=fin] line { stroke: #c05600; } .diagram .arrow[data-kind=fin] polygon { fill: #c05600; }
.diagram .arrow[data-kind=rst] line, .diagram .arrow[data-kind=icmp] line { stroke: #c62828; }
.diagram .arrow[data-kind=rst] polygon, .diagram .arrow[data-kind=icmp] polygon { fill: #c62828; }
.diagram .arrow[data-kind=data] line { stroke: #1f4fa0; stroke-width: 2; } .diagram .arrow[data-kind=data] polygon { fill: #1f4fa0; }
.diagram .arrow .label, .diagram .arrow .detail { text-anchor: middle; }
.diagram .arrow .detail { fill: #777; font-size: 10px; }
.diagram .state rect { fill: #fff4cc; stroke: #c9a227; }
.diagram .state text { text-anchor: middle; font-size: 11px; }
.diagram .note circle { fill: #4a6fa5; }
.diagram .note.exit circle, .diagram .note.skip circle { fill: #777; }
.diagram .note.error text { fill: #c62828; }
.diagram .delay rect { fill: #f4f4f4; }
.diagram .delay text { fill: #777; font-style: italic; text-anchor: middle; }
.diagram .time { fill: #777; }
</style>
"#;

fn segment(out: &mut String, x: usize, from: usize, to: usize, life: Life) {
    let class = match life {
        Life::Before => return,
        Life::Alive => "life alive",
        Life::Ended => "life ended",
        Life::Wire => "life wire",
    };
    if to > from {
        let _ = writeln!(
            out,
            r#"<line class="{class}" x1="{x}" y1="{from}" x2="{x}" y2="{to}"/>"#
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{entry, tcp_sleep};
    use super::*;
    use crate::record::fixtures::udp;
    use crate::transcript::{Entry, Kind, Transcript};

    #[test]
    fn one_group_per_packet() {
        let svg = svg(&Diagram::new(&tcp_sleep()));
        assert_eq!(svg.matches(r#"class="arrow packet""#).count(), 7);
        assert!(svg.starts_with("<svg xmlns="), "{svg}");
        assert!(svg.contains(r#"data-kind="syn""#), "{svg}");
        assert!(svg.contains(">SYN_SENT</text>"), "{svg}");
        assert!(svg.contains("… 5.0 s later …"), "{svg}");
        // Nothing to fetch: no links, no images, no fonts.
        assert!(!svg.contains("href") && !svg.contains("url("), "{svg}");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape(r#"<a & 'b' "c">"#),
            "&lt;a &amp; &#39;b&#39; &quot;c&quot;&gt;"
        );
        assert_eq!(escape("x\u{1}y"), "x\u{fffd}y");
        let transcript = Transcript {
            scenario: "<evil & \"co\">".into(),
            entries: vec![entry(
                0,
                "client",
                Kind::Start,
                "</svg><script>alert('x')</script>",
            )],
            packets: vec![Entry::for_packet(
                0,
                "client",
                udp("client", "server", b"<b>&amp;'\0"),
            )],
            counts: Vec::new(),
        };
        let svg = svg(&Diagram::new(&transcript));
        assert!(!svg.contains("<script"), "{svg}");
        assert!(!svg.contains("<b>"), "{svg}");
        assert!(svg.contains("&lt;b&gt;&amp;amp;&#39;"), "{svg}");
        assert!(svg.contains("&lt;evil &amp; &quot;co&quot;&gt;"), "{svg}");
    }
}
