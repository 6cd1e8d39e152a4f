//! Lab question 8: the server sleeps a few seconds before `close()`, and its connection
//! stays in CLOSE_WAIT (the client's in FIN_WAIT2) that long.
//!
//! The lab's server already spends its 2 s sleep after the last reply in CLOSE_WAIT, once
//! the client has closed: the check asks the CLOSE_WAIT to last at least `gap` (that
//! sleep plus the shortest sleep the question accepts), measured from the client's FIN to
//! the server's, as the capture saw them; without a capture, from the client's exit to the
//! last socket table that still shows the server's connection in CLOSE_WAIT.

use crate::transcript::Entry;

/// `Ok(what was seen)` or `Err((what was seen, hint))`.
pub(super) fn check(
    entries: &[Entry],
    packets: &[Entry],
    role: &str,
    gap: std::time::Duration,
    tolerance: std::time::Duration,
) -> Result<String, (String, String)> {
    let tenths = |d: std::time::Duration| u64::try_from(d.as_millis() / 100).unwrap_or(u64::MAX);
    let wanted = tenths(gap).saturating_sub(tenths(tolerance));
    let seconds = |t: u64| format!("{}.{} s", t / 10, t % 10);
    let hint = |lasted: &str| {
        format!(
            "question 8: make the server sleep a few seconds before close(); during that sleep its connection stays in CLOSE_WAIT and the client's in FIN_WAIT2, and netstat shows the server's two sockets (the listening one and the connection). Here CLOSE_WAIT lasted {lasted}, no longer than the sleep after the last reply"
        )
    };
    let fin = |e: &&Entry| e.kind == "pkt" && flags(&e.text).is_some_and(|f| f.contains("FIN"));
    // The client's FIN to the server, then the server's own.
    let client_fin = packets
        .iter()
        .filter(fin)
        .find(|e| e.role != role && e.text.contains(&format!("→ {role} [")));
    if let Some(client_fin) = client_fin {
        let end = packets
            .iter()
            .chain(entries)
            .map(|e| e.tenths)
            .max()
            .unwrap_or(0);
        let server_fin = packets
            .iter()
            .filter(fin)
            .find(|e| e.role == role && e.tenths >= client_fin.tenths)
            .map_or(end, |e| e.tenths);
        let lasted = server_fin - client_fin.tenths;
        return if lasted >= wanted {
            Ok(format!(
                "`{role}` stayed in CLOSE_WAIT {} after the client closed",
                seconds(lasted)
            ))
        } else {
            Err((
                format!(
                    "`{role}` closed {} after the client, {} wanted",
                    seconds(lasted),
                    seconds(wanted)
                ),
                hint(&seconds(lasted)),
            ))
        };
    }
    // No capture: the socket tables, from the first client's exit on.
    let closed = entries
        .iter()
        .filter(|e| e.kind == "exit" && e.role != role)
        .map(|e| e.tenths)
        .min();
    let Some(closed) = closed else {
        return Err((
            "no client closed its connection to it".into(),
            "the client must run its exchanges and close first: see the checks above".into(),
        ));
    };
    let seen = entries
        .iter()
        .filter(|e| e.kind == "sock" && e.role == role && e.text.contains("CLOSE_WAIT"))
        .map(|e| e.tenths)
        .filter(|&t| t >= closed)
        .max();
    match seen {
        Some(t) if t - closed >= wanted => Ok(format!(
            "`{role}` was still in CLOSE_WAIT {} after the client closed (socket tables; no capture)",
            seconds(t - closed)
        )),
        other => {
            let lasted = other.map_or("too short for the socket tables to show it".into(), |t| {
                format!("at least {}", seconds(t - closed))
            });
            Err((
                format!(
                    "`{role}` was not seen in CLOSE_WAIT {} after the client closed",
                    seconds(wanted)
                ),
                hint(&lasted),
            ))
        }
    }
}

/// The flags of a packet line: `[FIN, ACK]` in `tcp → server [FIN, ACK] seq=…`.
fn flags(text: &str) -> Option<&str> {
    let start = text.find('[')?;
    let end = text[start..].find(']')? + start;
    Some(&text[start + 1..end])
}
