//! The live view on a terminal: under a pseudo-terminal, a run shows its status area
//! (who sleeps, and how long is left) and erases it before the final output; anywhere
//! else, or with `-q` or `--format json`, nothing of it.

use std::io::Read as _;
use std::process::Stdio;

use crate::common;

/// Runs labrun with `args`, its standard output and error on a pseudo-terminal of 24×100;
/// returns everything it wrote there, and whether it succeeded.
fn on_a_terminal(args: &[&str]) -> (String, bool) {
    let size = nix::pty::Winsize {
        ws_row: 24,
        ws_col: 100,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&size), None).expect("a pseudo-terminal");
    let mut command = common::labrun();
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(pty.slave.try_clone().expect("dup")))
        .stderr(Stdio::from(pty.slave));
    let mut child = command.spawn().expect("labrun starts");
    // The command holds our copies of the terminal's slave side: once they are closed,
    // reading the master ends when labrun exits.
    drop(command);
    let mut master = std::fs::File::from(pty.master);
    let mut out = Vec::new();
    let mut buf = [0; 4096];
    loop {
        match master.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            // Linux says EIO once the last slave is closed.
            Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
            Err(e) => panic!("reading the terminal: {e}"),
        }
    }
    let status = child.wait().expect("labrun ends");
    (String::from_utf8_lossy(&out).into_owned(), status.success())
}

#[test]
fn a_run_on_a_terminal_shows_who_sleeps_then_erases_the_status_area() {
    let (out, ok) = on_a_terminal(&["scenarios/tcp_sleep.toml", "--time-scale", "0.2"]);
    assert!(ok, "labrun failed:\n{out}");
    // The server's 2 s sleep is 0.4 s at this scale: it shows with its time left.
    let sleeping = regex::Regex::new(r"server +sleeping 2s, 0\.[0-4]s left").unwrap();
    assert!(sleeping.is_match(&out), "no sleeping server in:\n{out}");
    assert!(out.contains("client  exited with status 0"), "{out}");
    // The events went by live, packets too, and the final output follows the last erase.
    assert!(out.contains("serveur A reçu de"), "{out}");
    let (before, last) = out
        .rsplit_once("\x1b[J")
        .expect("the status area is erased");
    let first_data =
        regex::Regex::new(r##"pkt +tcp → server \[PSH, ACK\] seq=1 ack=1 len=8 "# B=000\\0""##)
            .unwrap();
    assert!(
        first_data.is_match(before),
        "no live packet line in:\n{before}"
    );
    assert!(!last.contains("sleeping"), "the status area stays:\n{last}");
    assert!(
        last.contains("== netstat"),
        "no final tables after the live view:\n{last}"
    );
    assert!(
        last.contains("tcp_sleep: transcript matches"),
        "no verdict:\n{last}"
    );
}

#[test]
fn quiet_json_and_diagram_runs_on_a_terminal_have_no_live_view() {
    for extra in [&["-q"][..], &["--format", "json"], &["--diagram"]] {
        let mut args = vec![
            "scenarios/tcp_sleep.toml",
            "--time-scale",
            "0",
            "--no-snapshot",
        ];
        args.extend_from_slice(extra);
        let (out, ok) = on_a_terminal(&args);
        assert!(ok, "labrun {args:?} failed:\n{out}");
        assert!(!out.contains('\x1b'), "escapes with {extra:?}:\n{out}");
        assert!(
            !out.contains("sleeping"),
            "a status area with {extra:?}:\n{out}"
        );
    }
}

#[test]
fn a_piped_run_prints_the_plain_transcript() {
    let out = common::transcript("tcp_sleep", &["--time-scale", "0.2"]);
    assert!(!out.contains('\x1b'), "escapes in a pipe:\n{out}");
    assert_eq!(out, common::transcript("tcp_sleep", &[]));
}
