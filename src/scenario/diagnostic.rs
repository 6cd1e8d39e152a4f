//! Errors that point into a scenario file: `path:line:column`, the offending text, a hint.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

/// One problem found in a scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Byte range of the offending text in the file.
    pub span: Range<usize>,
    /// What is wrong, as a lowercase sentence fragment.
    pub message: String,
    /// What to write instead, when there is an obvious answer.
    pub help: Option<String>,
}

impl Diagnostic {
    pub(crate) fn new(span: Range<usize>, message: impl Into<String>) -> Self {
        Diagnostic {
            span,
            message: message.into(),
            help: None,
        }
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Every problem found in one file, with the text needed to show where each one is.
#[derive(Clone, Debug)]
pub struct Diagnostics {
    pub path: PathBuf,
    pub source: String,
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// `(line, column)` of a byte offset, both counted from 1, columns in characters.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.source.len());
        let before = &self.source[..floor_char_boundary(&self.source, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    fn line_text(&self, line: usize) -> &str {
        self.source.lines().nth(line - 1).unwrap_or("")
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.items.len();
        writeln!(
            f,
            "invalid scenario {}: {count} error{}",
            self.path.display(),
            if count == 1 { "" } else { "s" }
        )?;
        for item in &self.items {
            let (line, column) = self.position(item.span.start);
            writeln!(
                f,
                "{}:{line}:{column}: error: {}",
                self.path.display(),
                item.message
            )?;
            let text = self.line_text(line);
            let shown: String = text.chars().take(120).collect();
            let (end_line, end_column) = self.position(item.span.end);
            let width = if end_line == line && end_column > column {
                end_column - column
            } else {
                1
            };
            let gutter = " ".repeat(line.to_string().len());
            writeln!(f, "{gutter} |")?;
            writeln!(f, "{line} | {shown}")?;
            writeln!(
                f,
                "{gutter} | {}{}",
                " ".repeat(column.saturating_sub(1).min(120)),
                "^".repeat(width.min(120))
            )?;
            if let Some(help) = &item.help {
                writeln!(f, "{gutter} = help: {help}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let d = Diagnostics {
            path: "x.toml".into(),
            source: "a = 1\nbé = 2\n".into(),
            items: vec![],
        };
        assert_eq!(d.position(0), (1, 1));
        assert_eq!(d.position(6), (2, 1));
        // `=` on line 2 comes after a two-byte character.
        assert_eq!(d.position(10), (2, 4));
        assert_eq!(d.position(1000), (3, 1));
    }

    #[test]
    fn renders_path_line_column_text_and_help() {
        let source = "[[client]]\nexchange = 3\n".to_string();
        let d = Diagnostics {
            path: "s.toml".into(),
            source,
            items: vec![
                Diagnostic::new(11..19, "unknown key `exchange`").help("did you mean `exchanges`?"),
            ],
        };
        let text = d.to_string();
        assert!(
            text.contains("s.toml:2:1: error: unknown key `exchange`"),
            "{text}"
        );
        assert!(text.contains("2 | exchange = 3"), "{text}");
        assert!(text.contains("  | ^^^^^^^^"), "{text}");
        assert!(text.contains("= help: did you mean `exchanges`?"), "{text}");
    }
}
