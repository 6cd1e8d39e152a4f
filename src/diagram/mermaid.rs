//! The Mermaid rendering, for Markdown reports (GitHub, GitLab and most wikis draw a
//! ```` ```mermaid ```` block as a diagram).
//!
//! Lanes get aliases (`p0`, `p1`…) so that a role may be called anything, even a Mermaid
//! keyword like `end`; text goes through [`escape`], which writes Mermaid's `#code;`
//! entities for the characters its parser gives a meaning to.

use std::fmt::Write as _;

use super::{ArrowKind, Diagram, Item, NoteKind};
use crate::record::seconds;

/// The diagram as a Mermaid `sequenceDiagram`, without the Markdown fence.
pub(crate) fn mermaid(diagram: &Diagram) -> String {
    let mut out = String::from("sequenceDiagram\n");
    let _ = writeln!(
        out,
        "    %% {} (times in seconds of scenario time)",
        line(&diagram.scenario)
    );
    for (i, lane) in diagram.lanes.iter().enumerate() {
        let _ = writeln!(out, "    participant p{i} as {}", escape(&lane.name));
    }
    let everyone = match diagram.lanes.len() {
        0 => None,
        1 => Some("p0".to_string()),
        n => Some(format!("p0,p{}", n - 1)),
    };
    let mut shown: Option<u64> = None;
    for row in &diagram.rows {
        let time = if shown == Some(row.tenths) {
            String::new()
        } else {
            format!("{} ", seconds(row.tenths))
        };
        match &row.item {
            Item::Delay { tenths } => {
                if let Some(everyone) = &everyone {
                    let _ = writeln!(
                        out,
                        "    Note over {everyone}: … {} s later …",
                        seconds(*tenths)
                    );
                }
                continue;
            }
            Item::Arrow(arrow) => {
                let sign = match arrow.kind {
                    ArrowKind::Packet => "->>",
                    ArrowKind::Message => "-)",
                };
                let mut text = format!("{time}{}", arrow.label);
                if !arrow.detail.is_empty() {
                    let _ = write!(text, " {}", arrow.detail);
                }
                let _ = writeln!(
                    out,
                    "    p{}{sign}p{}: {}",
                    arrow.from,
                    arrow.to,
                    escape(&text)
                );
            }
            Item::States(states) => {
                for (lane, state) in states {
                    let _ = writeln!(out, "    Note over p{lane}: {}", escape(state));
                }
            }
            Item::Note { lane, kind, text } => {
                let text = match kind {
                    NoteKind::Error => format!("{time}stderr: {text}"),
                    _ => format!("{time}{text}"),
                };
                let side = if *lane + 1 == diagram.lanes.len() && *lane > 0 {
                    "left of"
                } else {
                    "right of"
                };
                let _ = writeln!(out, "    Note {side} p{lane}: {}", escape(&text));
            }
        }
        shown = Some(row.tenths);
    }
    out
}

/// Text safe in a Mermaid message or note: one line, with `#`, `;`, `<`, `>`, `"`, `:`
/// and the other characters Mermaid reads as syntax written as entities.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in line(text).chars() {
        match c {
            '#' | ';' | '<' | '>' | '"' | '%' | '{' | '}' | '&' | ':' | '`' | '\\' | '|' => {
                let _ = write!(out, "#{};", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// One line: control characters (newlines among them) become spaces.
fn line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::tcp_sleep;
    use super::*;

    #[test]
    fn tcp_sleep_is_a_sequence_diagram() {
        let text = mermaid(&Diagram::new(&tcp_sleep()));
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("sequenceDiagram"));
        assert!(text.contains("    participant p0 as server\n"), "{text}");
        assert!(text.contains("    p1->>p0: [SYN] seq=0 len=0\n"), "{text}");
        assert!(
            text.contains("    Note over p0,p1: … 5.0 s later …\n"),
            "{text}"
        );
        assert_eq!(text.matches("->>").count(), 7);
        // Every statement is one of the forms Mermaid's sequence diagrams know.
        for line in text.lines().skip(1) {
            let line = line.trim_start();
            assert!(
                line.starts_with("%%")
                    || line.starts_with("participant p")
                    || line.starts_with("Note ")
                    || (line.starts_with('p') && line.contains("->>p")),
                "{line}"
            );
        }
    }

    #[test]
    fn syntax_characters_become_entities() {
        assert_eq!(escape("# B=000;<x>"), "#35; B=000#59;#60;x#62;");
        assert_eq!(escape("a\nb: \"c\""), "a b#58; #34;c#34;");
        assert!(!escape("end %% {x}").contains(['%', '{', '}']));
    }
}
