//! The terminal rendering: one column per lane, one line per row, in 100 columns.
//!
//! ```text
//!   time  server                                                                          client
//!    0.0  ┬ start A 4000
//!         │◀──────────────────────────────── [SYN] ─────────────────────────────────────┤
//!         ┤SYN_RECV├                                                               ┤SYN_SENT├
//! ```

use super::{ArrowKind, Diagram, Item, Lane, Life, NoteKind};
use crate::record::seconds;
use crate::term::fit;

/// The width the diagram is laid out for (more only when lanes are too many to fit).
pub(crate) const WIDTH: usize = 100;

/// The time column: `  9.0 ` and a space.
const TIME: usize = 7;

/// The diagram as lines of text.
pub(crate) fn terminal(diagram: &Diagram) -> String {
    let layout = Layout::new(&diagram.lanes);
    let mut life: Vec<Life> = diagram.lanes.iter().map(Life::at_start).collect();
    let mut out: Vec<String> = Vec::new();
    // Names too long for their lane's room go on a line of their own, staggered.
    let mut header: Vec<(Canvas, usize)> = vec![(Canvas::new(layout.width), 0)];
    header[0].0.put(0, "  time");
    for (lane, x) in diagram.lanes.iter().zip(&layout.xs) {
        let length = lane.name.chars().count();
        let start = x.saturating_sub(length / 2).max(TIME);
        let free = header.iter().position(|(_, end)| *end < start);
        let index = free.unwrap_or_else(|| {
            header.push((Canvas::new(layout.width), 0));
            header.len() - 1
        });
        header[index].0.put(start, &lane.name);
        header[index].1 = start + length;
    }
    out.extend(header.into_iter().map(|(line, _)| line.finish()));
    let mut shown: Option<u64> = None;
    for row in &diagram.rows {
        let mut lines: Vec<Canvas> = Vec::new();
        let mut line = Canvas::new(layout.width);
        let delay = matches!(row.item, Item::Delay { .. });
        for (x, life) in layout.xs.iter().zip(&life) {
            line.set(*x, life.glyph(delay));
        }
        if !delay && shown != Some(row.tenths) {
            line.put(0, &format!("{:>5}", seconds(row.tenths)));
            shown = Some(row.tenths);
        }
        match &row.item {
            Item::Delay { tenths } => {
                let text = format!("… {} s later …", seconds(*tenths));
                let (from, to) = match layout.xs.as_slice() {
                    [a, b, ..] => (*a, *b),
                    [a] => (*a, layout.width),
                    [] => (TIME, layout.width),
                };
                let middle = from + to.saturating_sub(from) / 2;
                line.put(middle.saturating_sub(text.chars().count() / 2), &text);
                lines.push(line);
            }
            Item::Note { lane, kind, text } => {
                let Some(&x) = layout.xs.get(*lane) else {
                    continue;
                };
                match kind {
                    NoteKind::Start => {
                        life[*lane] = Life::Alive;
                        line.set(x, '┬');
                    }
                    NoteKind::Exit | NoteKind::Skip => {
                        line.set(
                            x,
                            if *kind == NoteKind::Exit {
                                '┴'
                            } else {
                                '╳'
                            },
                        );
                        life[*lane] = Life::Ended;
                    }
                    NoteKind::Ready | NoteKind::Output | NoteKind::Error => {}
                }
                let text = match kind {
                    NoteKind::Error => format!("stderr: {text}"),
                    _ => text.clone(),
                };
                layout.note(&mut line, *lane, &text);
                lines.push(line);
            }
            Item::Arrow(arrow) => {
                let (Some(&a), Some(&b)) = (layout.xs.get(arrow.from), layout.xs.get(arrow.to))
                else {
                    continue;
                };
                let head = match arrow.kind {
                    ArrowKind::Packet => ('▶', '◀'),
                    ArrowKind::Message => ('▷', '◁'),
                };
                if a == b {
                    line.set(a, '├');
                    layout.note(&mut line, arrow.from, &format!("↺ {}", arrow.label));
                } else {
                    let (lo, hi) = (a.min(b), a.max(b));
                    for x in lo + 1..hi {
                        line.set(x, '─');
                    }
                    if b > a {
                        line.set(a, '├');
                        line.set(b - 1, head.0);
                    } else {
                        line.set(a, '┤');
                        line.set(b + 1, head.1);
                    }
                    // Room for the label: a dash on each side, the head, a space each side.
                    let room = (hi - lo).saturating_sub(5);
                    if room >= 3 {
                        // Sequence numbers too, when they fit.
                        let full = format!("{}  {}", arrow.label, arrow.detail);
                        let text = if !arrow.detail.is_empty() && full.chars().count() + 2 <= room {
                            full
                        } else {
                            fit(&arrow.label, room - 2)
                        };
                        let label = format!(" {text} ");
                        let start = lo + 2 + (room - label.chars().count()) / 2;
                        line.put(start, &label);
                    }
                }
                lines.push(line);
            }
            Item::States(states) => {
                // Marks that would overlap go on a line of their own below.
                let mut used: Vec<Vec<(usize, usize)>> = vec![Vec::new()];
                lines.push(line);
                for (lane, state) in states {
                    let Some(&x) = layout.xs.get(*lane) else {
                        continue;
                    };
                    let mark = format!("┤{}├", fit(state, 24));
                    let width = mark.chars().count();
                    let start = x
                        .saturating_sub(width / 2)
                        .max(TIME)
                        .min(layout.width.saturating_sub(width));
                    let span = (start.saturating_sub(1), start + width + 1);
                    let free = used
                        .iter()
                        .position(|taken| taken.iter().all(|t| span.1 <= t.0 || t.1 <= span.0));
                    let index = free.unwrap_or_else(|| {
                        let mut blank = Canvas::new(layout.width);
                        for (x, life) in layout.xs.iter().zip(&life) {
                            blank.set(*x, life.glyph(false));
                        }
                        lines.push(blank);
                        used.push(Vec::new());
                        used.len() - 1
                    });
                    lines[index].put(start, &mark);
                    used[index].push(span);
                }
            }
        }
        out.extend(lines.into_iter().map(Canvas::finish));
    }
    out.push(String::new());
    out.push(
        "  times in seconds of scenario time · ┤STATE├ TCP state from then on · ┆ no process"
            .to_string(),
    );
    let mut text = out.join("\n");
    text.push('\n');
    text
}

impl Life {
    fn glyph(self, delay: bool) -> char {
        match self {
            Life::Before => ' ',
            Life::Alive if delay => '┊',
            Life::Alive => '│',
            Life::Ended | Life::Wire => '┆',
        }
    }
}

/// The column of each lane.
struct Layout {
    xs: Vec<usize>,
    width: usize,
}

impl Layout {
    fn new(lanes: &[Lane]) -> Self {
        let half = |lane: &Lane| (lane.name.chars().count() / 2 + 1).max(2);
        let (Some(first), Some(last)) = (lanes.first(), lanes.last()) else {
            return Layout {
                xs: Vec::new(),
                width: WIDTH,
            };
        };
        let left = TIME + half(first);
        if lanes.len() == 1 {
            return Layout {
                xs: vec![left],
                width: WIDTH,
            };
        }
        let right = WIDTH.saturating_sub(1 + half(last)).max(left);
        let gap = ((right - left) / (lanes.len() - 1)).max(6);
        let xs: Vec<usize> = (0..lanes.len()).map(|i| left + i * gap).collect();
        let width = WIDTH.max(xs.last().map_or(0, |x| x + half(last) + 1));
        Layout { xs, width }
    }

    /// Writes a note beside its lane: to the right when it fits before the next lane, else
    /// to the left, else on the roomier side, cut.
    fn note(&self, line: &mut Canvas, lane: usize, text: &str) {
        let x = self.xs[lane];
        let right_end = self.xs.get(lane + 1).map_or(self.width, |n| n - 1);
        let left_start = lane
            .checked_sub(1)
            .and_then(|p| self.xs.get(p))
            .map_or(TIME, |p| p + 2);
        let right = right_end.saturating_sub(x + 2);
        let left = x.saturating_sub(1).saturating_sub(left_start);
        let length = text.chars().count();
        if length <= right || right >= left {
            line.put(x + 2, &fit(text, right));
        } else {
            let text = fit(text, left);
            line.put(x - 1 - text.chars().count(), &text);
        }
    }
}

/// One line of characters.
struct Canvas {
    cells: Vec<char>,
}

impl Canvas {
    fn new(width: usize) -> Self {
        Canvas {
            cells: vec![' '; width],
        }
    }

    fn set(&mut self, x: usize, c: char) {
        if let Some(cell) = self.cells.get_mut(x) {
            *cell = c;
        }
    }

    /// Writes `text` from column `x`; what goes past the edge is dropped.
    fn put(&mut self, x: usize, text: &str) {
        for (i, c) in text.chars().enumerate() {
            // Control characters would break the lanes; transcripts escape them already.
            self.set(x + i, if c.is_control() { '?' } else { c });
        }
    }

    fn finish(self) -> String {
        let line: String = self.cells.into_iter().collect();
        line.trim_end().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{entry, tcp_sleep};
    use super::*;
    use crate::record::fixtures::udp;
    use crate::transcript::{Entry, Kind, Transcript};

    #[test]
    fn tcp_sleep_fits_in_100_columns() {
        let text = terminal(&Diagram::new(&tcp_sleep()));
        for line in text.lines() {
            assert!(line.chars().count() <= WIDTH, "{line}");
        }
        let arrows = text
            .lines()
            .filter(|l| l.contains('▶') || l.contains('◀'))
            .count();
        assert_eq!(arrows, 7, "{text}");
        assert!(text.contains("┤SYN_SENT├"), "{text}");
        assert!(text.contains("┤LISTEN├"), "{text}");
        assert!(text.contains("… 5.0 s later …"), "{text}");
        assert!(
            text.contains("[PSH, ACK] \"# B=000\\0\" (8 bytes)"),
            "{text}"
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn many_lanes_and_long_labels_stay_in_their_lanes() {
        let mut transcript = Transcript {
            scenario: "crowd".into(),
            entries: Vec::new(),
            packets: Vec::new(),
            counts: Vec::new(),
        };
        for i in 0..12 {
            transcript.entries.push(entry(
                0,
                &format!("client{i}"),
                Kind::Start,
                &"x".repeat(200),
            ));
            let payload = "y".repeat(500);
            let line = udp(
                &format!("client{i}"),
                &format!("client{}", 11 - i),
                payload.as_bytes(),
            );
            transcript
                .packets
                .push(Entry::for_packet(i, format!("client{i}"), line));
        }
        let text = terminal(&Diagram::new(&transcript));
        let width = text.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(width <= WIDTH, "{width}\n{text}");
        assert!(text.contains("client11"), "{text}");
        assert_eq!(
            text.lines()
                .filter(|l| l.contains('▶') || l.contains('◀'))
                .count(),
            12
        );
    }

    #[test]
    fn an_empty_transcript_is_a_header() {
        let transcript = Transcript {
            scenario: "empty".into(),
            entries: Vec::new(),
            packets: Vec::new(),
            counts: Vec::new(),
        };
        let text = terminal(&Diagram::new(&transcript));
        assert!(text.starts_with("  time"), "{text}");
    }
}
