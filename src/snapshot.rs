//! Snapshot files: `snapshots/<scenario>.snap` in insta's format, shared with `cargo insta`.
//!
//! A file is a small YAML header between `---` lines, then the transcript. Like insta,
//! comparison ignores the header and trailing whitespace at the end; a transcript that
//! differs, or has no snapshot yet, is written beside it as `<scenario>.snap.new` (unless
//! `CI` is set), which `cargo insta review` and `cargo insta accept` pick up.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What to do with a snapshot file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateMode {
    /// Compare; on a difference or a missing file write `.snap.new`, except in CI.
    Auto,
    /// Write the `.snap` file with the new transcript (accept it).
    Always,
}

/// The result of checking a transcript against its snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Matches,
    Written,
    Differs {
        diff: String,
        pending: Option<PathBuf>,
    },
    Missing {
        pending: Option<PathBuf>,
    },
}

/// Why a snapshot could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot read snapshot {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write snapshot {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("snapshot {path} is not in insta's format: {why}")]
    Format { path: PathBuf, why: &'static str },
}

/// `snapshots/<name>.snap` beside the folder holding the scenario, or in `dir` if given.
pub fn path_for(scenario: &Path, name: &str, dir: Option<&Path>) -> PathBuf {
    let dir = match dir {
        Some(dir) => dir.to_path_buf(),
        None => {
            let folder = scenario.parent().unwrap_or(Path::new("."));
            let base = folder.parent().unwrap_or(Path::new("."));
            base.join("snapshots")
        }
    };
    dir.join(format!("{name}.snap"))
}

/// Whether we run in CI, as insta decides it.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"))
        || std::env::var_os("TF_BUILD").is_some()
}

/// Checks `transcript` against the snapshot at `path`, writing files as `mode` says.
pub fn check(
    path: &Path,
    source: &str,
    transcript: &str,
    mode: UpdateMode,
) -> Result<Verdict, SnapshotError> {
    let pending = pending_path(path);
    let actual = normalize(transcript);
    let expected = read(path)?;
    if mode == UpdateMode::Always {
        if expected.as_deref() != Some(actual.as_str()) {
            write(path, source, &actual)?;
        }
        remove_quietly(&pending);
        return Ok(if expected.as_deref() == Some(actual.as_str()) {
            Verdict::Matches
        } else {
            Verdict::Written
        });
    }
    let write_pending = |_: ()| -> Result<Option<PathBuf>, SnapshotError> {
        if in_ci() {
            return Ok(None);
        }
        write(&pending, source, &actual)?;
        Ok(Some(pending.clone()))
    };
    match expected {
        Some(expected) if expected == actual => {
            remove_quietly(&pending);
            Ok(Verdict::Matches)
        }
        Some(expected) => Ok(Verdict::Differs {
            diff: diff(&expected, &actual, false),
            pending: write_pending(())?,
        }),
        None => Ok(Verdict::Missing {
            pending: write_pending(())?,
        }),
    }
}

/// A transcript without what the capture saw (its `== packets` and `== counts` parts), its
/// columns closed up: what a run without a capture compares with a snapshot. The width of
/// the role column depends on the roles of the packets, so it is not compared.
pub fn without_capture(text: &str) -> String {
    let text = normalize(text);
    let end = ["\n== packets\n", "\n== counts\n"]
        .iter()
        .filter_map(|title| text.find(title))
        .min()
        .map_or(text.len(), |at| at + 1);
    let mut out = String::with_capacity(end);
    for line in text[..end].lines() {
        let mut rest = line.trim_start();
        let mut fields = Vec::new();
        for _ in 0..3 {
            let Some(field) = rest.split_whitespace().next() else {
                break;
            };
            fields.push(field);
            rest = rest[rest.find(field).map_or(0, |at| at + field.len())..].trim_start();
        }
        if !rest.is_empty() {
            fields.push(rest);
        }
        out.push_str(&fields.join(" "));
        out.push('\n');
    }
    // The blank line before the packets goes with them.
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// The transcript stored in a snapshot file, normalised; `None` if there is no file.
pub fn read(path: &Path) -> Result<Option<String>, SnapshotError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(SnapshotError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    parse(&text)
        .map(|content| Some(normalize(content)))
        .map_err(|why| SnapshotError::Format {
            path: path.to_owned(),
            why,
        })
}

/// The content of a snapshot file: what follows the header.
pub fn parse(text: &str) -> Result<&str, &'static str> {
    let rest = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
        .ok_or("it does not start with a `---` line")?;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        offset += line.len();
        if line.trim_end() == "---" {
            return Ok(&rest[offset..]);
        }
    }
    Err("its header has no closing `---` line")
}

/// What insta compares: `\n` line ends, no trailing whitespace at the end.
///
/// Every carriage return just before a line feed goes, not only one: with a single
/// `\r\n` → `\n` pass, `\r\r\n` would become `\r\n`, and normalising twice would not
/// give the same text (found by the `snapshot` fuzz target).
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\n' {
            while out.ends_with('\r') {
                out.pop();
            }
        }
        out.push(c);
    }
    out.truncate(out.trim_end().len());
    out
}

fn write(path: &Path, source: &str, content: &str) -> Result<(), SnapshotError> {
    let mut text = String::from("---\n");
    let _ = writeln!(text, "source: {}", yaml_string(source));
    text.push_str("expression: transcript\n---\n");
    text.push_str(content);
    text.push('\n');
    let fail = |source| SnapshotError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    std::fs::write(path, text).map_err(fail)
}

fn yaml_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

fn pending_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

fn remove_quietly(path: &Path) {
    let _ = std::fs::remove_file(path);
}

/// A line diff of two transcripts, `-` for the snapshot and `+` for this run.
pub fn diff(expected: &str, actual: &str, color: bool) -> String {
    use similar::{ChangeTag, TextDiff};
    let diff = TextDiff::from_lines(expected, actual);
    let mut out = String::new();
    for group in diff.grouped_ops(2) {
        let _ = writeln!(out, "@@");
        for op in group {
            for change in diff.iter_changes(&op) {
                let (sign, start) = match change.tag() {
                    ChangeTag::Delete => ('-', "\x1b[31m"),
                    ChangeTag::Insert => ('+', "\x1b[32m"),
                    ChangeTag::Equal => (' ', ""),
                };
                let line = change.value().trim_end_matches('\n');
                if color && !start.is_empty() {
                    let _ = writeln!(out, "{start}{sign}{line}\x1b[0m");
                } else {
                    let _ = writeln!(out, "{sign}{line}");
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_capture_keeps_the_rest_whatever_the_role_width() {
        let full = "  0.0  server   ready  tcp 0.0.0.0:4000 listening\n  0.0  server   sock   tcp       0      0  0.0.0.0:4000\n\n== packets\n  0.0  client   pkt    tcp → server [SYN]\n\n== counts\n  6.0  capture  count  19 packets\n";
        let bare = "  0.0  server  ready  tcp 0.0.0.0:4000 listening\n  0.0  server  sock   tcp       0      0  0.0.0.0:4000\n";
        assert_eq!(without_capture(full), without_capture(bare));
        assert!(without_capture(full).contains("sock tcp       0      0  0.0.0.0:4000"));
        assert!(!without_capture(full).contains("SYN"));
    }

    #[test]
    fn normalising_is_idempotent_on_runs_of_carriage_returns() {
        // The `snapshot` fuzz target's first find.
        let text = "---------\r\r\n \n \"";
        let once = normalize(text);
        assert_eq!(once, "---------\n \n \"");
        assert_eq!(normalize(&once), once);
    }

    #[test]
    fn parses_insta_files() {
        let text = "---\nsource: tests/scenarios.rs\nexpression: transcript\n---\na\n---\nb\n";
        assert_eq!(parse(text), Ok("a\n---\nb\n"));
        assert!(parse("no header").is_err());
        assert!(parse("---\nsource: x\n").is_err());
    }

    #[test]
    fn normalises_like_insta() {
        assert_eq!(normalize("a\r\nb  \n\n"), "a\nb");
        assert_eq!(normalize("a  \nb"), "a  \nb");
    }

    #[test]
    fn paths_sit_beside_the_scenarios_folder() {
        assert_eq!(
            path_for(Path::new("scenarios/tcp_basic.toml"), "tcp_basic", None),
            PathBuf::from("snapshots/tcp_basic.snap")
        );
        assert_eq!(
            path_for(Path::new("x.toml"), "x", Some(Path::new("out"))),
            PathBuf::from("out/x.snap")
        );
    }

    #[test]
    fn diff_marks_both_sides() {
        let d = diff("a\nb\nc\n", "a\nB\nc\n", false);
        assert!(d.contains("-b\n+B\n"), "{d}");
    }
}
