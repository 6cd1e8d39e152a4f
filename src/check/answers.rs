//! Exercise 1.1 graded on content, as a teaching assistant reads it: for each query the
//! scenario's `[[host]]` tables answer, the official name, each alias and each address must
//! be printed, by value, in whatever wording and layout (`Nom officiel : x`, `Nom : x`,
//! `alias: a b c`, one per line or all on one). The same value printed again in place of
//! the others does not count, and neither does the argument printed back: a line that the
//! program prints, with its query in it, for a query without an answer too (`Adresse :
//! 192.0.2.99` for an address nobody has) shows the query, not what the lookup found.

use std::collections::HashSet;

use crate::actor::resolver::{HostEntry, address_in, name_in};
use crate::scenario::{ActorKind, Lookup, Plan, Show};
use crate::transcript::{Entry, Kind};

/// One query's expected answer and what the program printed for it.
struct Answer<'a> {
    query: &'a str,
    expected: HostEntry,
    /// The words of its standard output, lower-cased: runs of letters, digits, `.`, `-`
    /// and `_`, without a final `.`; but for the lines that only give the query back.
    words: Vec<String>,
    /// The words of the lines that only give the query back.
    echoed: Vec<String>,
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
    let mut echoed = false;
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
            echoed |= printed < wanted.len() && answer.echoed.iter().any(|w| is_ipv4(w));
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
        let (given_back, absent): (Vec<&String>, Vec<&String>) = absent
            .into_iter()
            .partition(|w| answer.echoed.contains(&w.to_lowercase()));
        echoed |= !given_back.is_empty();
        let mut what = Vec::new();
        if !absent.is_empty() {
            let absent: Vec<&str> = absent.iter().map(|s| s.as_str()).collect();
            what.push(format!("{} not printed", absent.join(", ")));
        }
        if !given_back.is_empty() {
            let given_back: Vec<&str> = given_back.iter().map(|s| s.as_str()).collect();
            what.push(format!(
                "{} printed only where the argument is given back",
                given_back.join(", ")
            ));
        }
        missing.push(format!("`{}`: {}", answer.query, what.join(", ")));
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
        _ if echoed => {
            "the argument is printed back, in a line printed for a query without an answer too: print what the lookup returned (h_name, h_aliases, h_addr_list), not the query"
        }
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
    let mut printed: Vec<Vec<&str>> = vec![Vec::new(); queries.len()];
    let mut run: Option<usize> = None;
    for entry in entries.iter().filter(|e| e.role == role) {
        match entry.kind {
            Kind::Start => run = Some(run.map_or(0, |r| r + 1)),
            Kind::Out => {
                if let Some((lines, line)) =
                    run.and_then(|r| printed.get_mut(r)).zip(entry.printed())
                {
                    lines.push(line);
                }
            }
            _ => {}
        }
    }
    let expected: Vec<Option<HostEntry>> = queries
        .iter()
        .map(|&(lookup, query)| match lookup {
            Lookup::Name => name_in(hosts, query).ok(),
            Lookup::Address => address_in(hosts, query.parse().ok()?).ok(),
        })
        .collect();
    // The shapes of the lines, query left out, printed for the queries without an answer:
    // there, a line with the query in it can only give the query back.
    let echoes: HashSet<String> = queries
        .iter()
        .zip(&printed)
        .zip(&expected)
        .filter(|(_, expected)| expected.is_none())
        .flat_map(|((&(_, query), lines), _)| lines.iter().filter_map(|l| shape(l, query)))
        .collect();
    queries
        .into_iter()
        .zip(printed)
        .zip(expected)
        .filter_map(|(((_, query), lines), expected)| {
            let expected = expected?;
            let (echoed, answered): (Vec<&str>, Vec<&str>) = lines
                .into_iter()
                .partition(|l| shape(l, query).is_some_and(|s| echoes.contains(&s)));
            Some(Answer {
                query,
                expected,
                words: answered.into_iter().flat_map(words_of).collect(),
                echoed: echoed.into_iter().flat_map(words_of).collect(),
            })
        })
        .collect()
}

/// A line with its query in it, the query replaced by a mark, lower-cased and with its
/// spaces evened out; `None` for a line without the query.
fn shape(line: &str, query: &str) -> Option<String> {
    let (line, query) = (line.to_lowercase(), query.to_lowercase());
    if query.trim().is_empty() || !line.contains(&query) {
        return None;
    }
    let marked = line.replace(&query, "\u{1}");
    Some(marked.split_whitespace().collect::<Vec<_>>().join(" "))
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

    /// The shipped `resolve_addr` scenario, and a transcript's entries for its four queries
    /// (`194.254.163.24`, `192.0.2.11`, `127.0.0.1`, `192.0.2.99`, the last unknown), each
    /// printed as `print` says for the query and its answer.
    fn resolve_addr(print: impl Fn(&str, Option<&HostEntry>) -> Vec<String>) -> (Plan, Vec<Entry>) {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/resolve_addr.toml");
        let text = std::fs::read_to_string(&path).expect("the shipped scenario");
        let plan = crate::scenario::parse(&path, &text).expect("a valid scenario");
        let hosts = plan.hosts.clone().unwrap_or_default();
        let mut entries = Vec::new();
        for query in ["194.254.163.24", "192.0.2.11", "127.0.0.1", "192.0.2.99"] {
            let entry = |kind, text: String| Entry::new(0, "resolver", kind, text);
            entries.push(entry(Kind::Start, query.into()));
            let answer = address_in(&hosts, query.parse().expect("an address")).ok();
            entries.extend(
                print(query, answer.as_ref())
                    .into_iter()
                    .map(|l| entry(Kind::Out, l)),
            );
        }
        (plan, entries)
    }

    /// A program that prints its argument as the address, before the lookup, passes for
    /// the name and aliases and fails for the address, with a hint saying why.
    #[test]
    fn the_argument_printed_back_is_not_the_address() {
        let (plan, entries) = resolve_addr(|query, answer| {
            let mut lines = vec![format!("Adresse : {query}")];
            if let Some(answer) = answer {
                lines.push(format!("Nom officiel : {}", answer.official));
                lines.extend(answer.aliases.iter().map(|a| format!("Alias : {a}")));
            }
            lines
        });
        assert!(check(&plan, &entries, "resolver", Show::Name).is_ok());
        assert!(check(&plan, &entries, "resolver", Show::Aliases).is_ok());
        let (seen, hint) =
            check(&plan, &entries, "resolver", Show::Addresses).expect_err("an echo fails");
        assert!(seen.contains("argument is given back"), "{seen}");
        assert!(hint.contains("argument is printed back"), "{hint}");
        // Its bare argument, and nothing else, passes nothing.
        let (plan, entries) = resolve_addr(|query, _| vec![query.to_string()]);
        for show in [
            Show::Name,
            Show::Aliases,
            Show::Addresses,
            Show::AddressCount,
        ] {
            assert!(
                check(&plan, &entries, "resolver", show).is_err(),
                "{show:?}"
            );
        }
    }

    /// The query quoted in a line of its own for every query, then the answer: the answer
    /// counts.
    #[test]
    fn an_answer_after_the_query_quoted_counts() {
        let (plan, entries) = resolve_addr(|query, answer| {
            let mut lines = vec![format!("Recherche de {query}...")];
            match answer {
                Some(answer) => lines.extend(answer.lines()),
                None => lines.push(format!("{query} : pas de nom")),
            }
            lines
        });
        for show in [
            Show::Name,
            Show::Aliases,
            Show::Addresses,
            Show::AddressCount,
        ] {
            assert!(check(&plan, &entries, "resolver", show).is_ok(), "{show:?}");
        }
    }
}
