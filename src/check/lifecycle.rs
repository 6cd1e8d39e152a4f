//! The checks on a graded program's life, one function per kind: it became ready on its
//! port (`ready`), started with the lab's arguments (`starts`), did not crash
//! (`no-crash`), ended by itself with a status (`exit-status`), or was still serving when
//! its clients were done (`still-serving`). Each reads the program's start, readiness and
//! exit entries, and hands back what was seen, with a hint when it failed.

use crate::record::{Data, Found, Kind, Outcome, Unstarted};
use crate::scenario::Plan;
use crate::transcript::Entry;

use super::View;

/// `ready`: the graded server listens (TCP) or is bound (UDP) on its port.
pub(crate) fn ready(plan: &Plan, view: &View<'_>, role: &str) -> Result<String, (String, String)> {
    let port = plan
        .actors
        .iter()
        .find(|a| a.role == role)
        .map_or(0, |a| a.port());
    if view.of(role, Kind::Ready).next().is_some() {
        return Ok(format!("`{role}` is ready on port {port}"));
    }
    let swapped = view.entries.iter().any(|e| {
        matches!(
            e.data,
            Data::NotStarted(Unstarted::NotReady {
                found: Some(Found::PortSwapped { .. }),
                ..
            })
        )
    });
    let hint = match swapped {
        true => format!(
            "it listens on port {} instead of {port}: the port must be converted to network byte order, `sin_port = htons(port)`",
            port.swap_bytes()
        ),
        false => format!(
            "nothing listened on port {port}: check socket(), bind() (with htons on the port) and, for TCP, listen(); see its output"
        ),
    };
    Err((format!("`{role}` never became ready on port {port}"), hint))
}

/// `starts`: the program did not stop at once with a usage error.
pub(crate) fn starts(view: &View<'_>, role: &str) -> Result<String, (String, String)> {
    let usage = view
        .of(role, Kind::Err)
        .filter_map(Entry::printed)
        .any(|line| line.to_lowercase().contains("usage"));
    // A program that sent something started, even if it then gave up with an error
    // (a UDP client told "connection refused" on a connected socket, for instance).
    let quick_exit = matches!(view.outcome(role), Some(Outcome::Exited { code }) if *code != 0)
        && view
            .entries
            .iter()
            .all(|e| e.kind != Kind::Msg || e.role != role)
        && view.packets.iter().all(|p| p.role != role);
    if usage || quick_exit {
        let args = view
            .of(role, Kind::Start)
            .next()
            .map_or(String::new(), |e| e.text.clone());
        Err((
            format!(
                "`{role}` stopped at once{}",
                if usage { " with a usage message" } else { "" }
            ),
            format!(
                "the program does not start with the lab's arguments `{args}`: check how it tests argc and reads argv (usage error)"
            ),
        ))
    } else {
        Ok(format!("`{role}` started"))
    }
}

/// `no-crash`: the program was not killed by a signal it got by itself.
pub(crate) fn no_crash(view: &View<'_>, role: &str) -> Result<String, (String, String)> {
    match view
        .of(role, Kind::Exit)
        .filter_map(|e| e.outcome.as_ref())
        .find(|o| matches!(o, Outcome::Signaled { .. }))
    {
        Some(Outcome::Signaled { signal }) => {
            let name = nix::sys::signal::Signal::try_from(*signal).map_or("?", |s| s.as_str());
            Err((
                format!("`{role}` crashed: killed by signal {signal} ({name})"),
                format!(
                    "the program crashed with {name}: a NULL or invalid pointer is used, for instance the result of gethostbyname() or a buffer, without a check"
                ),
            ))
        }
        _ => Ok(format!("`{role}` did not crash")),
    }
}

/// `exit-status`: the program exited by itself with `status`.
pub(crate) fn exit_status(
    view: &View<'_>,
    role: &str,
    status: i32,
) -> Result<String, (String, String)> {
    match view.outcome(role) {
        Some(Outcome::Exited { code }) if *code == status => {
            Ok(format!("`{role}` exited with status {code}"))
        }
        other => Err((
            format!(
                "`{role}` {}",
                other.map_or("never ended".into(), crate::transcript::describe)
            ),
            format!(
                "the program should end by itself with status {status} once its exchanges are done"
            ),
        )),
    }
}

/// `still-serving`: a server still serves once its clients are done.
pub(crate) fn still_serving(view: &View<'_>, role: &str) -> Result<String, (String, String)> {
    match view.outcome(role) {
        Some(Outcome::Stopped) => Ok(format!("`{role}` was still serving when its clients were done")),
        Some(Outcome::Exited { code }) => Err((
            format!("`{role}` exited by itself with status {code}"),
            "the server stopped after its first client: it must loop around accept() (or recvfrom()) and serve the next one".into(),
        )),
        other => Err((
            format!("`{role}` {}", other.map_or("never ended".into(), crate::transcript::describe)),
            "the server must keep serving clients until it is stopped".into(),
        )),
    }
}
