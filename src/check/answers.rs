//! Exercise 1.1 graded on content, as a teaching assistant reads it: for each query the
//! scenario's `[[host]]` tables answer, the official name, each alias and each address must
//! be printed, by value, in whatever wording and layout (`Nom officiel : x`, `Nom : x`,
//! `alias: a b c`, one per line or all on one). The same value printed again in place of
//! the others does not count.

use std::collections::HashSet;

use crate::actor::resolver::{HostEntry, address_in, name_in};
use crate::scenario::{ActorKind, Lookup, Plan, Show};
use crate::transcript::Entry;

/// One query's expected answer and what the program printed for it.
struct Answer<'a> {
    query: &'a str,
    expected: HostEntry,
    /// The words of its standard output, lower-cased: runs of letters, digits, `.`, `-`
    /// and `_`, without a final `.`.
    words: Vec<String>,
}

/// `Ok(what was seen)` or `Err((what was seen, hint))`.
pub(super) fn check(
    plan: &Plan,
    entries: &[Entry],
    role: &str,
    show: Show,
) -> Result<String, (String, String)> {
    let answers = answers(plan, entries, role);
    if answers.is_empty() {
        return Err((
            format!("no query of `{role}` has an answer in the scenario's hosts"),
            "the scenario gives this check nothing to look at".into(),
        ));
    }
    let mut missing: Vec<String> = Vec::new();
    let mut repeated = false;
    let mut shown = 0;
    for answer in &answers {
        let wanted: Vec<String> = match show {
            Show::Name => vec![answer.expected.official.clone()],
            Show::Aliases => answer.expected.aliases.clone(),
            Show::Addresses | Show::AddressCount => answer
                .expected
                .addresses
                .iter()
                .map(ToString::to_string)
                .collect(),
        };
        shown += wanted.len();
        if show == Show::AddressCount {
            let printed = answer.words.iter().filter(|w| is_ipv4(w)).count();
            if printed < wanted.len() {
                missing.push(format!(
                    "`{}`: {printed} address(es) printed, {} expected",
                    answer.query,
                    wanted.len()
                ));
            }
            continue;
        }
        let words: HashSet<&str> = answer.words.iter().map(String::as_str).collect();
        let absent: Vec<&String> = wanted
            .iter()
            .filter(|w| !words.contains(w.to_lowercase().as_str()))
            .collect();
        if absent.is_empty() {
            continue;
        }
        // As many values as wanted, but one of them again in place of another.
        let present = wanted.len() - absent.len();
        let occurrences = wanted
            .iter()
            .map(|w| {
                answer
                    .words
                    .iter()
                    .filter(|x| **x == w.to_lowercase())
                    .count()
            })
            .sum::<usize>();
        repeated |= present > 0 && occurrences >= wanted.len();
        let absent: Vec<&str> = absent.iter().map(|s| s.as_str()).collect();
        missing.push(format!(
            "`{}`: {} not printed",
            answer.query,
            absent.join(", ")
        ));
    }
    let what = match show {
        Show::Name => "official name",
        Show::Aliases => "alias",
        Show::Addresses => "address",
        Show::AddressCount => "address",
    };
    if missing.is_empty() {
        return Ok(format!(
            "every {what} of the {} answered queries was printed ({shown} in all)",
            answers.len()
        ));
    }
    let hint = match (show, repeated) {
        (Show::Name, _) => {
            "print the official name, h_name, of each answer (for an alias, it is not the name asked for)"
        }
        (Show::Aliases, true) => {
            "the same alias is printed in place of the others: print h_aliases[i] in the loop, not h_aliases[0]"
        }
        (Show::Aliases, false) => "print every alias: loop over h_aliases until its NULL",
        (Show::Addresses, true) => {
            "inet_ntoa() returns a static buffer, overwritten at each call: print its result before calling it again"
        }
        (Show::Addresses | Show::AddressCount, _) => {
            "print every address: loop over h_addr_list until its NULL, not just h_addr"
        }
    };
    Err((missing.join("; "), hint.into()))
}

/// The queries of `role` that the hosts answer, with what it printed for each.
fn answers<'a>(plan: &'a Plan, entries: &[Entry], role: &str) -> Vec<Answer<'a>> {
    let hosts = plan.hosts.as_deref().unwrap_or(&[]);
    // The resolver's queries, in the order they run; the transcript's entries of each run
    // go from its `start` to the next.
    let queries: Vec<(Lookup, &str)> = plan
        .actors
        .iter()
        .filter(|a| a.role == role)
        .filter_map(|a| match &a.kind {
            ActorKind::Resolver { lookup, query } => Some((*lookup, query.as_str())),
            _ => None,
        })
        .collect();
    let mut printed: Vec<Vec<String>> = vec![Vec::new(); queries.len()];
    let mut run: Option<usize> = None;
    for entry in entries.iter().filter(|e| e.role == role) {
        match entry.kind {
            "start" => run = Some(run.map_or(0, |r| r + 1)),
            "out" => {
                if let Some(words) = run.and_then(|r| printed.get_mut(r)) {
                    words.extend(words_of(&entry.text));
                }
            }
            _ => {}
        }
    }
    queries
        .into_iter()
        .zip(printed)
        .filter_map(|((lookup, query), words)| {
            let expected = match lookup {
                Lookup::Name => name_in(hosts, query).ok()?,
                Lookup::Address => address_in(hosts, query.parse().ok()?).ok()?,
            };
            Some(Answer {
                query,
                expected,
                words,
            })
        })
        .collect()
}

fn words_of(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_alphanumeric() || matches!(c, '.' | '-' | '_')))
        .map(|w| w.trim_end_matches('.'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

fn is_ipv4(word: &str) -> bool {
    word.parse::<std::net::Ipv4Addr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_names_and_addresses_whole() {
        let words: Vec<String> =
            words_of("Nom : lipn.univ-paris13.fr. Liste d'adresses : [194.254.163.24]").collect();
        assert!(
            words.contains(&"lipn.univ-paris13.fr".to_string()),
            "{words:?}"
        );
        assert!(words.contains(&"194.254.163.24".to_string()), "{words:?}");
    }
}
