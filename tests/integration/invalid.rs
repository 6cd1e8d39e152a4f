//! Bad input: exit code 2 and a message that points at the cause.

use std::io::Write;

use crate::common::{run, stderr};

/// A scenario written to a file of its own, removed when dropped.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn arg(&self) -> &str {
        self.0.to_str().expect("utf-8 path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn scenario_file(text: &str) -> TempFile {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("labrun-bad-{}-{n}.toml", std::process::id()));
    std::fs::write(&path, text).expect("write scenario");
    TempFile(path)
}

#[test]
fn malformed_scenario_gets_exit_2_with_line_and_column() {
    let file = scenario_file(
        "[[server]]\nprotocol = \"tcp\"\nid = \"A\"\nport = 4000\n\n[[client]]\nid = \"B\"\nexchange = 3\n",
    );
    let output = run(&[file.arg(), "--no-snapshot"]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains(&format!(
            "{}:8:1: error: unknown key `exchange`",
            file.arg()
        )),
        "{err}"
    );
    assert!(err.contains("did you mean `exchanges`?"), "{err}");
}

#[test]
fn semantic_errors_are_all_reported() {
    let file = scenario_file(
        "[[server]]\nprotocol = \"udp\"\nid = \"A\"\nport = 0\n\n[[client]]\nid = \"B\"\nserver = \"serveur\"\nexchanges = 0\ntimeout = \"-3s\"\n",
    );
    let output = run(&[file.arg()]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    for expected in [
        ":4:8: error: port 0",
        ":8:10: error: unknown server `serveur`",
        ":9:13: error: `exchanges` must be at least 1",
        ":10:11: error: invalid duration",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}

#[test]
fn not_toml_and_not_utf8() {
    let file = scenario_file("this is not toml");
    let output = run(&[file.arg()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains(":1:"), "{}", stderr(&output));

    let path = std::env::temp_dir().join(format!("labrun-latin1-{}.toml", std::process::id()));
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(b"id = \"\xe9\"\n"))
        .expect("write");
    let output = run(&[path.to_str().expect("utf-8 path")]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("not UTF-8"), "{}", stderr(&output));
}

#[test]
fn missing_scenario_file() {
    let output = run(&["scenarios/does_not_exist.toml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("cannot read scenario"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn unknown_role_in_with() {
    let output = run(&["scenarios/tcp_basic.toml", "--with", "srv=/bin/true"]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("unknown role `srv`"), "{err}");
    assert!(err.contains("server, client"), "{err}");
}

#[test]
fn program_that_cannot_run() {
    for (program, expected) in [
        ("./no/such/serveur", "does not exist"),
        ("/tmp", "is a directory"),
        ("Cargo.toml", "not found in PATH"),
        ("./Cargo.toml", "not executable"),
    ] {
        let output = run(&[
            "scenarios/tcp_basic.toml",
            "--with",
            &format!("server={program}"),
        ]);
        assert_eq!(output.status.code(), Some(2), "{program}");
        assert!(
            stderr(&output).contains(expected),
            "{program}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn bad_command_line() {
    assert_eq!(run(&[]).status.code(), Some(2));
    assert_eq!(
        run(&["scenarios/tcp_basic.toml", "--time-scale", "-1"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&["scenarios/tcp_basic.toml", "--update", "--no-snapshot"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&["scenarios/tcp_basic.toml", "--with", "server"])
            .status
            .code(),
        Some(2)
    );
}
