//! Bad input: exit code 2 and a message that points at the cause.

use crate::common::{Scratch, run, stderr};

/// A scenario written to a file of its own, removed when dropped.
struct TempFile {
    _folder: Scratch,
    path: String,
}

impl TempFile {
    fn arg(&self) -> &str {
        &self.path
    }
}

fn scenario_file(text: &str) -> TempFile {
    let folder = Scratch::new("invalid");
    let path = folder.write("bad.toml", text).display().to_string();
    TempFile {
        _folder: folder,
        path,
    }
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

    let scratch = Scratch::new("latin1");
    scratch.write("latin1.toml", b"id = \"\xe9\"\n");
    let output = run(&[&scratch.arg("latin1.toml")]);
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

/// The catalogue of bad scenario files: each gets exit code 2 and a message that points at
/// its cause, in bounded time and output, without a panic.
#[test]
fn catalogue_of_bad_scenario_files() {
    let deep_arrays = format!("a = {}{}\n", "[".repeat(5000), "]".repeat(5000));
    let deep_tables = format!("a = {}1{}\n", "{b = ".repeat(3000), "}".repeat(3000));
    let ten_megabytes = "#".repeat(10 << 20);
    let cases: &[(&str, &[u8], &[&str])] = &[
        ("empty", b"", &["1:1: error: the scenario has no actors"]),
        ("only a comment", b"# nothing here\n", &["no actors"]),
        ("not UTF-8", b"name = \"\xff\xfe\"\n", &["not UTF-8"]),
        (
            "binary",
            b"\x7fELF\x02\x01\x01\x00\x00\x00",
            &["not valid TOML"],
        ),
        (
            "wrong types",
            b"[[server]]\nprotocol = 4\nid = \"A\"\nport = \"4000\"\n[[client]]\nid = [\"B\"]\n",
            &[
                "2:12: error: `protocol` must be a string, not an integer",
                "4:8: error: `port` must be an integer, not a string",
                "6:6: error: `id` must be a string",
            ],
        ),
        (
            "strings where tables go",
            b"server = [\"A\", \"B\"]\n",
            &["1:"],
        ),
        (
            "huge numbers",
            b"[[server]]\nprotocol = \"tcp\"\nid = \"A\"\nport = 99999999999999999999\n[[client]]\nid = \"B\"\nexchanges = 4000000000\n",
            &["4:8: error: `port` is far too large", "7:13: error: `exchanges` is 4000000000"],
        ),
        (
            "absurd durations",
            b"[run]\ntimeout = \"100000000000h\"\n[[server]]\nprotocol = \"tcp\"\nid = \"A\"\nport = 4000\nreply-delay = \"1e400s\"\n[[client]]\nid = \"B\"\npause = \"-1ms\"\n",
            &[
                "2:11: error: invalid duration for `timeout`",
                "longer than a day",
                "7:15: error: invalid duration for `reply-delay`",
                "10:9: error: invalid duration for `pause`",
            ],
        ),
        (
            "a zero run timeout",
            b"[run]\ntimeout = \"0s\"\n[[server]]\nprotocol = \"tcp\"\nid = \"A\"\nport = 4000\n[[client]]\nid = \"B\"\n",
            &["2:11: error: the run timeout must be more than zero"],
        ),
        (
            "duplicate roles",
            b"[[server]]\nrole = \"s\"\nprotocol = \"tcp\"\nid = \"A\"\nport = 4000\n[[server]]\nrole = \"s\"\nprotocol = \"tcp\"\nid = \"A\"\nport = 4001\n[[client]]\nid = \"B\"\nserver = \"s\"\n",
            &["7:8: error: duplicate role `s`"],
        ),
        (
            "start conditions in a circle",
            b"[[server]]\nprotocol = \"udp\"\nid = \"A\"\nport = 4000\n[[client]]\nrole = \"c1\"\nid = \"B\"\nstart-after = \"c2:ready\"\n[[client]]\nrole = \"c2\"\nid = \"C\"\nstart-after = \"c1:exited\"\n",
            &["start conditions wait on each other in a circle"],
        ),
        (
            "an unknown milestone",
            b"[[server]]\nprotocol = \"udp\"\nid = \"A\"\nport = 4000\n[[client]]\nid = \"B\"\nstart-after = \"server:listening\"\n",
            &["7:15: error: unknown milestone `listening`", "ready"],
        ),
        (
            "an unknown protocol",
            b"[[server]]\nprotocol = \"tpc\"\nid = \"A\"\nport = 4000\n[[client]]\nid = \"B\"\n",
            &["2:12: error", "`tcp`"],
        ),
        ("deeply nested arrays", deep_arrays.as_bytes(), &["not valid TOML"]),
        ("deeply nested tables", deep_tables.as_bytes(), &["not valid TOML"]),
        (
            "ten megabytes",
            ten_megabytes.as_bytes(),
            &["more than the 1048576 bytes a scenario may have"],
        ),
    ];
    for (what, bytes, expected) in cases {
        let folder = Scratch::new("catalogue");
        let path = folder.write("bad.toml", bytes);
        let start = std::time::Instant::now();
        let output = run(&[path.to_str().expect("utf-8 path"), "--no-snapshot"]);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{what}:\n{err}");
        assert!(!err.contains("panicked"), "{what}: labrun panicked:\n{err}");
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "{what}: took {:?}",
            start.elapsed()
        );
        assert!(
            err.len() < 64 << 10,
            "{what}: {} bytes of errors",
            err.len()
        );
        for part in *expected {
            assert!(err.contains(part), "{what}: missing {part:?} in:\n{err}");
        }
    }
}

/// Files that are not regular files: an endless device and a named pipe nobody writes to
/// are read in bounded time, and get exit code 2 with a clear message.
#[test]
fn endless_and_empty_streams_as_scenarios() {
    let folder = Scratch::new("streams");
    let fifo = folder.path().join("fifo.toml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    for (path, expected) in [
        (
            "/dev/zero",
            "goes on past the 1048576 bytes a scenario may have",
        ),
        (
            fifo.to_str().expect("utf-8 path"),
            "the scenario has no actors",
        ),
        ("/tmp", "Is a directory"),
    ] {
        let start = std::time::Instant::now();
        let output = run(&[path, "--no-snapshot"]);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{path}:\n{err}");
        assert!(
            err.contains(expected),
            "{path}: missing {expected:?} in:\n{err}"
        );
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "{path}: took {:?}",
            start.elapsed()
        );
    }
}
