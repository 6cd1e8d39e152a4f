//! Lab question 8: the server sleeps a few seconds before `close()`, and its connection
//! stays in CLOSE_WAIT (the client's in FIN_WAIT2) that long.
//!
//! Once its client has closed, the lab's server already spends in CLOSE_WAIT the sleep it
//! takes after each reply. The check therefore measures the CLOSE_WAIT (from the client's
//! FIN to the server's, as the capture saw them; without a capture, from the client's exit
//! to the server's close, when labrun finds it back in `accept()`), takes off the longest
//! spacing seen between the server's replies, and asks what is left to last at least
//! `gap - tolerance`: a sleep before `close()`, not a longer sleep after each reply.

use crate::transcript::{Entry, Kind, PacketLine};

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
    let seconds = |t: u64| format!("{} s", crate::record::seconds(t));
    let fin = |e: &&Entry| {
        e.packet()
            .and_then(PacketLine::flags)
            .is_some_and(|f| f.fin)
    };
    let exit_of = |mine: bool| {
        entries
            .iter()
            .filter(|e| e.kind == Kind::Exit && (e.role == role) == mine)
            .map(|e| e.tenths)
            .min()
    };
    // The client's close, then the server's.
    let client_fin = packets
        .iter()
        .filter(fin)
        .find(|e| {
            e.role != role
                && e.packet()
                    .is_some_and(|p| p.to.role.as_deref() == Some(role))
        })
        .map(|e| e.tenths);
    let Some(client_closed) = client_fin.or_else(|| exit_of(false)) else {
        return Err((
            "no client closed its connection to it".into(),
            "the client must run its exchanges and close first: see the checks above".into(),
        ));
    };
    let end = packets
        .iter()
        .chain(entries)
        .map(|e| e.tenths)
        .max()
        .unwrap_or(0);
    let server_closed = packets
        .iter()
        .filter(fin)
        .find(|e| e.role == role && e.tenths >= client_closed)
        .map(|e| e.tenths)
        .or_else(|| exit_of(true))
        .unwrap_or(end);
    let lasted = server_closed.saturating_sub(client_closed);
    // The sleep after each reply, as the spacing of the replies shows it.
    let replies: Vec<u64> = packets
        .iter()
        .chain(entries.iter().filter(|e| e.kind == Kind::Msg))
        .filter(|e| e.role == role && e.message.is_some())
        .map(|e| e.tenths)
        .collect();
    let spacing = replies
        .windows(2)
        .map(|w| w[1].saturating_sub(w[0]))
        .max()
        .unwrap_or(0);
    let added = lasted.saturating_sub(spacing);
    if added >= wanted {
        return Ok(format!(
            "`{role}` stayed in CLOSE_WAIT {} after the client closed, {} more than between its replies",
            seconds(lasted),
            seconds(added)
        ));
    }
    Err((
        format!(
            "`{role}` stayed in CLOSE_WAIT {} after the client closed, {} more than between its replies ({} wanted)",
            seconds(lasted),
            seconds(added),
            seconds(wanted)
        ),
        format!(
            "question 8: make the server sleep a few seconds before close(); during that sleep its connection stays in CLOSE_WAIT and the client's in FIN_WAIT2, and netstat shows the server's two sockets (the listening one and the connection). Here CLOSE_WAIT lasted {}, no longer than the sleep after each reply",
            seconds(lasted)
        ),
    ))
}
