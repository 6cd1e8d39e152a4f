//! The checks on what went between the roles, one function per kind: how many messages
//! (`messages`), what they read like and how they are numbered (`message-text`,
//! `shared-counter`), what a program printed of them (`output`), how far apart they came
//! (`timing`), and where they went (`no-stray-packets`, `replies-to-sender`). Each reads the
//! messages of the capture (or, without one, those the reference programs saw) and the
//! lines printed, and hands back what was seen, with a hint when it failed.

use crate::record::{Kind, Protocol, Segment, seconds};
use crate::scenario::{Pattern, Plan};
use crate::transcript::Entry;

use super::View;

/// `messages`: exactly `count` messages from `from` to `to`; `graded` is the role graded.
pub(crate) fn messages(
    view: &View<'_>,
    graded: &str,
    from: &str,
    to: &str,
    count: u32,
) -> Result<String, (String, String)> {
    let seen = view.messages(from, to).count() as u32;
    let what = format!("{seen} message(s) from `{from}` to `{to}`, {count} expected");
    if seen == count {
        return Ok(what);
    }
    // A datagram of `from` to an address no actor owns.
    let sent_elsewhere = view
        .packets
        .iter()
        .filter(|p| p.role == from)
        .filter_map(Entry::packet)
        .any(|p| {
            p.protocol == Protocol::Udp && p.segment == Segment::Datagram && p.to.role.is_none()
        });
    let graded_sender = from == graded;
    let hint = if seen == 0 && sent_elsewhere {
        format!(
            "`{from}` sends its replies to an address where no client is: reply to the address recvfrom() gave you (the sender's)"
        )
    } else if seen == 0 && graded_sender {
        format!(
            "`{from}` sends no reply: after reading a message it must send one back to `{to}` (sendto() to the sender's address, or write() on the connection)"
        )
    } else if seen == 0 {
        format!(
            "nothing from `{from}` reached `{to}`: does it send (sendto()/write()) to the peer's address, and does `{to}` read (recvfrom()/read())?"
        )
    } else if seen < count {
        format!(
            "only {seen} of the {count} exchanges happened: check the loop around the exchanges (3 exchanges in the lab)"
        )
    } else {
        format!("{seen} messages instead of {count}: check the loop bound (3 exchanges in the lab)")
    };
    Err((what, hint))
}

/// `message-text`: every message from `from` to `to` reads like `pattern`; with `counter`,
/// its `{n}` counts up by one from message to message.
pub(crate) fn message_text(
    view: &View<'_>,
    ids: &[(String, String)],
    from: &str,
    to: &str,
    pattern: &str,
    counter: bool,
) -> Result<String, (String, String)> {
    let pattern = Pattern::new(pattern, ids).map_err(|e| (e.clone(), e))?;
    let texts: Vec<&str> = view
        .messages(from, to)
        .filter_map(|e| e.message.as_ref())
        .map(|m| m.text.as_str())
        .collect();
    if texts.is_empty() {
        return Err((
            format!("no message from `{from}` to `{to}`"),
            format!("`{from}` sent nothing to `{to}`"),
        ));
    }
    let mut numbers = Vec::new();
    for text in &texts {
        match pattern.captures(text) {
            Some(n) => numbers.extend(n.first().copied()),
            None => {
                return Err((
                    format!("`{text}` does not read like `{}`", pattern.source),
                    format!(
                        "wrong message format: check the sprintf() format against the lab's `{}`",
                        pattern.source
                    ),
                ));
            }
        }
    }
    if counter
        && numbers
            .windows(2)
            .any(|w| w[0].checked_add(1) != Some(w[1]))
    {
        let hint = if numbers.windows(2).all(|w| w[0] == w[1]) {
            "every reply carries the same number: the reply counter is not incremented (nb_reponse++)".to_string()
        } else {
            format!("the reply numbers go {numbers:?}: the counter must count up by one per reply")
        };
        return Err((format!("numbers {numbers:?}"), hint));
    }
    Ok(format!(
        "{} message(s) read like `{}`",
        texts.len(),
        pattern.source
    ))
}

/// `output`: at least `count` lines printed by `printer` read like `pattern`; with `from`,
/// they quote the first `count` messages `from` sent to `printer`, in order.
pub(crate) fn output(
    view: &View<'_>,
    ids: &[(String, String)],
    printer: &str,
    pattern: &str,
    count: u32,
    from: Option<&str>,
) -> Result<String, (String, String)> {
    let pattern = Pattern::new(pattern, ids).map_err(|e| (e.clone(), e))?;
    let lines: Vec<&str> = view
        .of(printer, Kind::Out)
        .filter_map(Entry::printed)
        .filter(|line| pattern.matches(line))
        .collect();
    let seen = lines.len() as u32;
    if seen < count {
        let example = view
            .of(printer, Kind::Out)
            .find_map(Entry::printed)
            .map_or("nothing".to_string(), |line| format!("`{line}`"));
        return Err((
            format!(
                "{seen} line(s) of `{printer}` read like `{}`, {count} expected; it printed {example}",
                pattern.source
            ),
            format!(
                "the program's output should read like `{}` (one line per message); check its printf() format",
                pattern.source
            ),
        ));
    }
    if let Some(from) = from {
        quotes(view, from, printer, &lines, count as usize)?;
        return Ok(format!(
            "{seen} line(s) of `{printer}` read like `{}`, each message from `{from}` quoted in order",
            pattern.source
        ));
    }
    Ok(format!(
        "{seen} line(s) of `{printer}` read like `{}`",
        pattern.source
    ))
}

/// `timing`: consecutive messages from `from` to `to` are at least `gap - tolerance` apart.
pub(crate) fn timing(
    view: &View<'_>,
    from: &str,
    to: &str,
    gap: std::time::Duration,
    tolerance: std::time::Duration,
) -> Result<String, (String, String)> {
    let times: Vec<u64> = view.messages(from, to).map(|e| e.tenths).collect();
    let least = gap.saturating_sub(tolerance).as_millis() as u64 / 100;
    let short = times
        .windows(2)
        .map(|w| w[1].saturating_sub(w[0]))
        .find(|&d| d < least);
    match short {
        Some(d) => Err((
            format!("two messages from `{from}` came {} s apart", seconds(d)),
            format!(
                "replies come faster than {} apart: the sleep() after each reply is missing",
                crate::scenario::duration::display(gap)
            ),
        )),
        None => Ok(format!(
            "messages from `{from}` are at least {} apart",
            crate::scenario::duration::display(gap)
        )),
    }
}

/// `no-stray-packets`: every packet `role` sends goes to an address some actor owns.
pub(crate) fn no_stray_packets(view: &View<'_>, role: &str) -> Result<String, (String, String)> {
    // Packets of `role` to a loopback address that no actor owns.
    let stray: Vec<&Entry> = view
        .packets
        .iter()
        .filter(|p| p.role == role)
        .filter(|p| {
            p.packet().is_some_and(|p| {
                p.to.role.is_none() && matches!(p.to.address.ip(), std::net::IpAddr::V4(ip) if ip.octets()[0] == 127)
            })
        })
        .collect();
    match stray.first() {
        Some(p) => Err((
            format!("`{role}` sent a packet to nobody: {}", p.text),
            "replies go to an address where no client is: reply to the address recvfrom() gave you (the sender's), not a fixed one".into(),
        )),
        None => Ok(format!("every packet of `{role}` went to an actor")),
    }
}

/// `shared-counter`: one counter for all the peers of `from`: the numbers of its messages
/// (`pattern`'s `{n}`), to whoever they go, count up by one in the order they were sent.
pub(crate) fn shared_counter(
    view: &View<'_>,
    plan: &Plan,
    ids: &[(String, String)],
    from: &str,
    pattern: &str,
) -> Result<String, (String, String)> {
    let pattern = &Pattern::new(pattern, ids).map_err(|e| (e.clone(), e))?;
    let is_actor = |role: &str| plan.actors.iter().any(|a| a.role == role);
    // (recipient, number) in the order sent.
    let mut numbered: Vec<(&str, u64)> = Vec::new();
    for e in view.all_messages().filter(|e| e.role == from) {
        let Some(message) = &e.message else { continue };
        if !is_actor(&message.to) || message.to == from {
            continue;
        }
        match pattern
            .captures(&message.text)
            .and_then(|n| n.first().copied())
        {
            Some(n) => numbered.push((message.to.as_str(), n)),
            None => {
                return Err((
                    format!("`{}` does not read like `{}`", message.text, pattern.source),
                    format!(
                        "wrong message format: check the sprintf() format against the lab's `{}`",
                        pattern.source
                    ),
                ));
            }
        }
    }
    if numbered.is_empty() {
        return Err((
            format!("no message from `{from}` to another actor"),
            format!("`{from}` sent nothing to its clients"),
        ));
    }
    let numbers: Vec<u64> = numbered.iter().map(|(_, n)| *n).collect();
    let mut peers: Vec<&str> = numbered.iter().map(|(to, _)| *to).collect();
    peers.sort_unstable();
    peers.dedup();
    if numbers
        .windows(2)
        .all(|w| w[0].checked_add(1) == Some(w[1]))
    {
        return Ok(format!(
            "{} message(s) to {} numbered {numbers:?}: one counter for all",
            numbers.len(),
            quoted(&peers)
        ));
    }
    let per_peer = |peer: &str| -> Vec<u64> {
        numbered
            .iter()
            .filter(|(to, _)| *to == peer)
            .map(|(_, n)| *n)
            .collect()
    };
    let each_counts = peers.iter().all(|p| {
        per_peer(p)
            .windows(2)
            .all(|w| w[0].checked_add(1) == Some(w[1]))
    });
    let restarts = peers.len() > 1
        && each_counts
        && peers
            .iter()
            .map(|p| per_peer(p).first().copied())
            .collect::<Vec<_>>()
            .windows(2)
            .all(|w| w[0] == w[1]);
    let hint = if numbers.windows(2).all(|w| w[0] == w[1]) {
        "every reply carries the same number: the reply counter is not incremented (nb_reponse++)"
            .to_string()
    } else if restarts {
        "the numbering starts again for each client: the reply counter must be one for all \
         clients, a global variable that is never reset for a new client (a server that \
         fork()s a child per client counts in each child's own copy, so the clients cannot \
         share it)"
            .to_string()
    } else {
        format!(
            "the reply numbers go {numbers:?} in the order the replies were sent: one counter \
             for all clients must count up by one per reply, whoever it goes to"
        )
    };
    let listing: Vec<String> = peers
        .iter()
        .map(|p| format!("`{p}` got {:?}", per_peer(p)))
        .collect();
    Err((
        format!("numbers {numbers:?} in order ({})", listing.join(", ")),
        hint,
    ))
}

/// `replies-to-sender`: each message from `from` goes back to an actor that sent it a
/// message not answered yet. Messages in the same tenth of a second are taken questions
/// first, as a reply cannot come before its question.
pub(crate) fn replies_to_sender(
    view: &View<'_>,
    plan: &Plan,
    from: &str,
) -> Result<String, (String, String)> {
    let is_actor = |role: &str| plan.actors.iter().any(|a| a.role == role);
    // (time, 0 for a question to `from` or 1 for a reply from it, the peer).
    let mut events: Vec<(u64, u8, &str)> = view
        .all_messages()
        .filter_map(|e| {
            let to = e.message.as_ref()?.to.as_str();
            if e.role == from && to != from {
                Some((e.tenths, 1, to))
            } else if to == from && e.role != from {
                Some((e.tenths, 0, e.role.as_str()))
            } else {
                None
            }
        })
        .collect();
    events.sort_by_key(|&(tenths, kind, _)| (tenths, kind));
    let mut waiting: Vec<(&str, u32)> = Vec::new();
    let mut replies = 0;
    for (tenths, kind, peer) in events {
        let slot = match waiting.iter().position(|(p, _)| *p == peer) {
            Some(i) => i,
            None => {
                waiting.push((peer, 0));
                waiting.len() - 1
            }
        };
        if kind == 0 {
            waiting[slot].1 += 1;
            continue;
        }
        replies += 1;
        let at = format!("{} s", seconds(tenths));
        if !is_actor(peer) {
            return Err((
                format!("`{from}` sent a reply to {peer} at {at}, where no client is"),
                "replies go to an address where no client is: reply to the address recvfrom() \
                 gave you with this message (the sender's), not a fixed one"
                    .into(),
            ));
        }
        if waiting[slot].1 == 0 {
            return Err((
                format!(
                    "`{from}` sent `{peer}` a reply at {at}, but `{peer}` had no question waiting"
                ),
                format!(
                    "a reply went to `{peer}`, which had not asked: reply to the address \
                     recvfrom() filled in for this very message (the sender's), not to another \
                     client's"
                ),
            ));
        }
        waiting[slot].1 -= 1;
    }
    if replies == 0 {
        return Err((
            format!("no reply from `{from}`"),
            format!(
                "`{from}` sends no reply: after reading a message it must send one back to its \
                 sender (sendto() to the address recvfrom() gave)"
            ),
        ));
    }
    Ok(format!(
        "each of the {replies} replies of `{from}` went to the client that asked"
    ))
}

fn quoted(roles: &[&str]) -> String {
    roles
        .iter()
        .map(|r| format!("`{r}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first `count` messages `from` sent to `printer`, each quoted by one of `lines` (in
/// order, a line each): the lines show what came, not the same text again or what the
/// program expected. Spaces do not count (`#B=000` for `# B=000`).
fn quotes(
    view: &View<'_>,
    from: &str,
    printer: &str,
    lines: &[&str],
    count: usize,
) -> Result<(), (String, String)> {
    let bare = |text: &str| {
        text.chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
    };
    let mut rest = lines.iter();
    let messages = view
        .messages(from, printer)
        .filter_map(|e| e.message.as_ref());
    for (n, message) in messages.take(count).enumerate() {
        let text = bare(&message.text);
        if text.is_empty() {
            continue;
        }
        if !rest.any(|line| bare(line).contains(&text)) {
            let printed: Vec<String> = lines.iter().map(|line| format!("`{line}`")).collect();
            return Err((
                format!(
                    "message {} from `{from}`, `{}`, is in no line of `{printer}` after the one for the message before it; its lines: {}",
                    n + 1,
                    message.text,
                    printed.join(", ")
                ),
                format!(
                    "the lines do not show what came from `{from}`: print the buffer that read() or recvfrom() has just filled, after each call, not a copy made earlier"
                ),
            ));
        }
    }
    Ok(())
}
