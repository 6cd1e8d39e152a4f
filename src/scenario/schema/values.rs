//! Typed reads of the spanned TOML tree: a string, an integer, a duration, a table, the
//! `[[key]]` tables of the document, each with its keys checked. A value of the wrong kind
//! becomes a diagnostic pointing at it, with a suggestion when a close name is known; the
//! read gives `None` and the walk goes on, so that every mistake is reported at once.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::scenario::Diagnostic;
use crate::scenario::duration;

use super::Walk;

type Value<'a> = Spanned<DeValue<'a>>;

impl Walk {
    /// A list of strings.
    pub(super) fn strings(&mut self, t: &DeTable<'_>, key: &str) -> Vec<Spanned<String>> {
        let Some(v) = t.get(key) else {
            return Vec::new();
        };
        match v.get_ref() {
            DeValue::Array(items) => items
                .iter()
                .filter_map(|item| match item.get_ref() {
                    DeValue::String(s) => Some(Spanned::new(item.span(), s.to_string())),
                    other => {
                        self.type_error(item, key, "a string", other);
                        None
                    }
                })
                .collect(),
            other => {
                self.type_error(v, key, "a list of strings", other);
                Vec::new()
            }
        }
    }

    /// The `[[key]]` tables of the document, each with its keys checked and its required
    /// keys present (what is wrong is reported; tables that are not tables are skipped).
    pub(super) fn tables<'t, 'a>(
        &mut self,
        root: &'t DeTable<'a>,
        key: &str,
        allowed: &[&str],
        required: &[&str],
    ) -> Vec<(&'t DeTable<'a>, Range<usize>)> {
        let Some(value) = root.get(key) else {
            return Vec::new();
        };
        let items: Vec<&'t Value<'a>> = match value.get_ref() {
            DeValue::Array(items) => items.iter().collect(),
            DeValue::Table(_) => vec![value],
            other => {
                self.errors.push(
                    Diagnostic::new(
                        value.span(),
                        format!("`{key}` must be a table, not {}", kind(other)),
                    )
                    .help(format!("write each {key} as a `[[{key}]]` table")),
                );
                return Vec::new();
            }
        };
        let mut tables = Vec::new();
        for item in items {
            let Some(table) = item.get_ref().as_table() else {
                self.errors.push(Diagnostic::new(
                    item.span(),
                    format!("each `{key}` must be a table, not {}", kind(item.get_ref())),
                ));
                continue;
            };
            let place = format!("in a [[{key}]]");
            self.check_keys(table, allowed, &place);
            self.require(table, item.span(), required, &format!("[[{key}]]"));
            tables.push((table, item.span()));
        }
        tables
    }

    pub(super) fn check_keys(&mut self, table: &DeTable<'_>, allowed: &[&str], place: &str) {
        for (key, _) in table.iter() {
            let name = key.get_ref().as_ref();
            if !allowed.contains(&name) {
                let mut d = Diagnostic::new(key.span(), format!("unknown key `{name}` {place}"));
                d.help = Some(match suggest(name, allowed) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => format!("expected one of {}", quoted_list(allowed)),
                });
                self.errors.push(d);
            }
        }
    }

    fn require(&mut self, t: &DeTable<'_>, span: Range<usize>, keys: &[&str], what: &str) {
        for key in keys {
            if t.get(*key).is_none() {
                self.errors.push(
                    Diagnostic::new(
                        header_span(span.clone()),
                        format!("this {what} has no `{key}`"),
                    )
                    .help(format!("add `{key} = {}`", example(key))),
                );
            }
        }
    }

    pub(super) fn at(&mut self, t: &DeTable<'_>, key: &str, message: &str) {
        if let Some(v) = t.get(key) {
            self.errors.push(Diagnostic::new(v.span(), message));
        }
    }

    pub(super) fn table<'t, 'a>(
        &mut self,
        t: &'t DeTable<'a>,
        key: &str,
    ) -> Option<&'t DeTable<'a>> {
        let v = t.get(key)?;
        match v.get_ref() {
            DeValue::Table(table) => Some(table),
            other => {
                self.type_error(v, key, "a table", other);
                None
            }
        }
    }

    pub(super) fn string(&mut self, t: &DeTable<'_>, key: &str) -> Option<Spanned<String>> {
        let v = t.get(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(Spanned::new(v.span(), s.to_string())),
            other => {
                self.type_error(v, key, "a string", other);
                None
            }
        }
    }

    pub(super) fn integer(&mut self, t: &DeTable<'_>, key: &str) -> Option<Spanned<i64>> {
        let v = t.get(key)?;
        match v.get_ref() {
            DeValue::Integer(i) => {
                let digits = i.as_str().replace('_', "");
                match i64::from_str_radix(digits.trim_start_matches('+'), i.radix()) {
                    Ok(n) => Some(Spanned::new(v.span(), n)),
                    Err(_) => {
                        self.errors.push(Diagnostic::new(
                            v.span(),
                            format!("`{key}` is far too large"),
                        ));
                        None
                    }
                }
            }
            other => {
                self.type_error(v, key, "an integer", other);
                None
            }
        }
    }

    pub(super) fn duration(&mut self, t: &DeTable<'_>, key: &str) -> Option<Duration> {
        let v = t.get(key)?;
        let text = match v.get_ref() {
            DeValue::String(s) => s.to_string(),
            DeValue::Integer(_) | DeValue::Float(_) => {
                let raw = match v.get_ref() {
                    DeValue::Integer(i) => i.as_str().to_string(),
                    DeValue::Float(f) => f.as_str().to_string(),
                    _ => String::new(),
                };
                self.errors.push(
                    Diagnostic::new(
                        v.span(),
                        format!("`{key}` is a duration, written as a string with a unit"),
                    )
                    .help(format!("write `{key} = \"{raw}s\"` or `\"{raw}ms\"`")),
                );
                return None;
            }
            other => {
                self.type_error(v, key, "a duration such as \"2s\"", other);
                return None;
            }
        };
        match duration::parse(&text) {
            Ok(d) => Some(d),
            Err(why) => {
                self.errors.push(Diagnostic::new(
                    v.span(),
                    format!("invalid duration for `{key}`: {why}"),
                ));
                None
            }
        }
    }

    /// A whole number of `key` from 1 to `max`, or a positioned error: `helps` says how to
    /// fix one below 1, and one above `max` (`more than the {max} {limit}`).
    pub(super) fn positive(
        &mut self,
        t: &DeTable<'_>,
        key: &str,
        max: i64,
        limit: &str,
        helps: (&str, Option<String>),
    ) -> Option<u32> {
        let n = self.integer(t, key)?;
        match *n.get_ref() {
            x if x <= 0 => {
                self.errors.push(
                    Diagnostic::new(n.span(), format!("`{key}` must be at least 1, not {x}"))
                        .help(helps.0),
                );
                None
            }
            x if x > max => {
                let mut d = Diagnostic::new(
                    n.span(),
                    format!("`{key}` is {x}, more than the {max} {limit}"),
                );
                if let Some(help) = helps.1 {
                    d = d.help(help);
                }
                self.errors.push(d);
                None
            }
            x => u32::try_from(x).ok(),
        }
    }

    pub(super) fn type_error(
        &mut self,
        v: &Value<'_>,
        key: &str,
        expected: &str,
        found: &DeValue<'_>,
    ) {
        self.errors.push(Diagnostic::new(
            v.span(),
            format!("`{key}` must be {expected}, not {}", kind(found)),
        ));
    }
}

pub(super) fn unknown(found: &Spanned<String>, what: &str, known: &[&str]) -> Diagnostic {
    let name = found.get_ref();
    let d = Diagnostic::new(found.span(), format!("unknown {what} `{name}`"));
    match suggest(name, known) {
        Some(best) => d.help(format!("did you mean `{best}`?")),
        None if known.is_empty() => d,
        None => d.help(format!("expected one of {}", quoted_list(known))),
    }
}

/// The closest known name, when it is close enough to be a likely typo.
fn suggest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::normalized_damerau_levenshtein(name, k), *k))
        .filter(|(score, _)| *score >= 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

pub(super) fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn kind(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "a list",
        DeValue::Table(_) => "a table",
    }
}

fn example(key: &str) -> &'static str {
    match key {
        "protocol" => "\"tcp\"",
        "port" => "4000",
        _ => "\"A\"",
    }
}

/// A table's span covers its whole body; point at its first line only.
pub(super) fn header_span(span: Range<usize>) -> Range<usize> {
    span.start..span.start + 1
}
