//! Tolerant patterns: what a teaching assistant accepts as "the same line".
//!
//! Case, accents, runs of spaces, spaces around punctuation and the choice of `,` or `:`
//! as a separator do not matter. Placeholders: `{n}` a number (captured), `{n3}` one of
//! exactly three digits, as `%03d` prints it (captured), `{port}` a port
//! or a `[role.port]` placeholder, `{ip}` a dotted address, `{any}` anything, and
//! `{ROLE.id}` the id of a role of the scenario.

use regex::Regex;

/// A compiled tolerant pattern.
#[derive(Debug)]
pub(crate) struct Pattern {
    regex: Regex,
    pub(crate) source: String,
}

impl Pattern {
    /// Compiles `source`, with `ids` giving the `{ROLE.id}` values.
    pub(crate) fn new(source: &str, ids: &[(String, String)]) -> Result<Self, String> {
        // Placeholders become private-use characters while the whole pattern is folded
        // like the text, so that spacing rules see the pattern as one line.
        let mut marked = String::new();
        let mut pieces = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find('{') {
            marked.push_str(&rest[..open]);
            let close = rest[open..]
                .find('}')
                .map(|c| open + c)
                .ok_or_else(|| format!("unclosed `{{` in pattern `{source}`"))?;
            let name = &rest[open + 1..close];
            let piece = match name {
                "n" => r"(\d+)",
                "n3" => r"(\d{3})",
                "port" => r"(?:\d+|\[[a-z0-9_-]+\.port\])",
                "ip" => r"[0-9.]+",
                "any" => ".*",
                other => match other
                    .strip_suffix(".id")
                    .and_then(|role| ids.iter().find(|(r, _)| r == role))
                {
                    Some((_, id)) => {
                        marked.push_str(id);
                        rest = &rest[close + 1..];
                        continue;
                    }
                    None => {
                        return Err(format!(
                            "unknown placeholder `{{{name}}}` in pattern `{source}`"
                        ));
                    }
                },
            };
            let mark = char::from_u32(0xE000 + pieces.len() as u32).unwrap_or('\u{E000}');
            marked.push(mark);
            pieces.push(piece);
            rest = &rest[close + 1..];
        }
        marked.push_str(rest);
        let mut regex = String::from("^");
        for c in fold(&marked).chars() {
            match (c as u32)
                .checked_sub(0xE000)
                .and_then(|i| pieces.get(i as usize))
            {
                Some(piece) => regex.push_str(piece),
                None => regex.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
            }
        }
        regex.push('$');
        let regex = Regex::new(&regex).map_err(|e| format!("pattern `{source}`: {e}"))?;
        Ok(Pattern {
            regex,
            source: source.to_string(),
        })
    }

    /// The numbers `{n}` matched, if `text` matches.
    pub(crate) fn captures(&self, text: &str) -> Option<Vec<u64>> {
        let folded = fold(text);
        let captures = self.regex.captures(&folded)?;
        Some(
            captures
                .iter()
                .skip(1)
                .filter_map(|m| m?.as_str().parse().ok())
                .collect(),
        )
    }

    pub(crate) fn matches(&self, text: &str) -> bool {
        self.captures(text).is_some()
    }
}

/// Lowercase, without accents, `:` read as `,`, one space at most and none around
/// punctuation.
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        let c = match c {
            'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            ':' => ',',
            c if c.is_whitespace() => ' ',
            c => c,
        };
        let punctuation = |c: char| "(),=#[]".contains(c);
        if c == ' ' && (out.ends_with(' ') || out.ends_with(punctuation) || out.is_empty()) {
            continue;
        }
        if punctuation(c) && out.ends_with(' ') {
            out.pop();
        }
        out.push(c);
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Vec<(String, String)> {
        vec![("server".into(), "A".into()), ("client".into(), "B".into())]
    }

    #[test]
    fn accepts_what_a_teaching_assistant_accepts() {
        let p = Pattern::new(
            "serveur {server.id} reçu de ({ip},{port}) : # {client.id}={n}",
            &ids(),
        )
        .unwrap();
        for line in [
            "serveur A reçu de (127.0.0.1,[client.port]) : # B=000",
            "serveur A recu de (127.0.0.1:[client.port]): # B=000",
            "Serveur A  reçu de ( 127.0.0.1 , 54321 ) :# B=000",
        ] {
            assert!(p.matches(line), "{line}");
        }
        assert!(!p.matches("serveur A reçu de (127.0.0.1,[client.port]) : # C=000"));
        assert!(!p.matches("srv A recu de (127.0.0.1,[client.port]) : # B=000"));
    }

    #[test]
    fn captures_numbers() {
        let p = Pattern::new("serveur#{server.id} reponse{n}#", &ids()).unwrap();
        assert_eq!(p.captures("serveur# A reponse007#"), Some(vec![7]));
        assert_eq!(p.captures("serveur# A reponse#"), None);
    }

    #[test]
    fn bad_patterns_are_errors() {
        assert!(Pattern::new("{nope}", &ids()).is_err());
        assert!(Pattern::new("{n", &ids()).is_err());
    }
}
