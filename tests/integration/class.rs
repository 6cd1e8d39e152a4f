//! `labrun grade`: a small class of submission folders, graded in parallel, with feedback
//! files and a summary.

use std::path::Path;

use crate::common::{Scratch, root, run, stderr};

/// A class folder with one submission per `(name, files)`, files copied from fixtures.
fn class(tag: &str, files: &[(&str, &[(&str, &str)])]) -> Scratch {
    let class = Scratch::new(&format!("class-{tag}"));
    for (student, copies) in files {
        let folder = class.path().join(student);
        std::fs::create_dir_all(&folder).expect("submission folder");
        for (name, source) in *copies {
            let from = root().join("tests/fixtures").join(source);
            match std::fs::read(&from) {
                Ok(bytes) => std::fs::write(folder.join(name), bytes).expect("copy"),
                // Not a fixture: the text itself (a file that does not compile).
                Err(_) => std::fs::write(folder.join(name), source).expect("write"),
            }
        }
    }
    class
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn a_class_is_graded_with_feedback_and_a_summary() {
    let class = class(
        "feedback",
        &[
            (
                "alice",
                &[("serveur.c", "serveur.c"), ("clientt.c", "clientt.c")],
            ),
            (
                "bob",
                &[
                    ("serveur.c", "students/tcp_server_no_sleep.c"),
                    ("clientt.c", "clientt.c"),
                ],
            ),
            ("carol", &[("serveur.c", "int main( {")]),
        ],
    );
    let dir = class.path();
    let out = dir.join("grades");
    let submissions: Vec<String> = ["alice", "bob", "carol"]
        .iter()
        .map(|s| dir.join(s).display().to_string())
        .collect();
    let mut args = vec![
        "grade",
        "courses/tp-sockets.toml",
        "--scenario",
        "tcp_basic",
        "--out",
        path(&out),
    ];
    args.extend(submissions.iter().map(String::as_str));
    let started = std::time::Instant::now();
    let output = run(&args);
    // Six runs of about 6 s each, at once: about the time of one.
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("1 of 3 submissions pass"),
        "{}",
        stderr(&output)
    );

    let csv = std::fs::read_to_string(out.join("summary.csv")).expect("summary.csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "submission,total,max,verdict,tcp_basic:server,tcp_basic:client"
    );
    assert_eq!(lines[1], "alice,22,22,pass,12/12,10/10");
    assert_eq!(lines[2], "bob,21,22,fail,11/12,10/10");
    assert_eq!(lines[3], "carol,0,22,fail,0/12,0/10");

    let bob = std::fs::read_to_string(out.join("bob/feedback.txt")).expect("bob's feedback");
    assert!(
        bob.contains("the sleep() after each reply is missing"),
        "{bob}"
    );
    let carol = std::fs::read_to_string(out.join("carol/feedback.txt")).expect("carol's feedback");
    assert!(carol.contains("`serveur.c` does not compile"), "{carol}");
    assert!(carol.contains("error"), "the compiler's message: {carol}");
    assert!(
        carol.contains("the submission has no `clientt.c`"),
        "{carol}"
    );
    // The class table says why carol's cells never ran, without a click.
    let index = std::fs::read_to_string(out.join("index.html")).expect("index.html");
    let carol_row = index
        .lines()
        .find(|l| l.contains("<td>carol</td>"))
        .unwrap_or_default();
    assert!(
        carol_row.contains("does not compile") && carol_row.contains("error"),
        "{carol_row}"
    );
    assert!(carol_row.contains("has no `clientt.c`"), "{carol_row}");

    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("summary.json")).expect("summary.json"),
    )
    .expect("JSON");
    assert_eq!(summary["submissions"][0]["verdict"], "pass");
    assert_eq!(summary["submissions"][2]["score"], 0);
}

/// The two-client direction of the course: a server that stops after its first client loses
/// the second client's points, with the accept() loop as the hint; its client is fine.
#[test]
fn a_class_is_graded_with_two_clients() {
    let class = class(
        "two-clients",
        &[
            (
                "alice",
                &[("serveur.c", "serveur.c"), ("clientt.c", "clientt.c")],
            ),
            (
                "dave",
                &[
                    ("serveur.c", "students/tcp_server_one_client.c"),
                    ("clientt.c", "clientt.c"),
                ],
            ),
        ],
    );
    let dir = class.path();
    let out = dir.join("grades");
    let submissions: Vec<String> = ["alice", "dave"]
        .iter()
        .map(|s| dir.join(s).display().to_string())
        .collect();
    let mut args = vec![
        "grade",
        "courses/tp-sockets.toml",
        "--scenario",
        "tcp_two_clients",
        "--out",
        path(&out),
    ];
    args.extend(submissions.iter().map(String::as_str));
    let output = run(&args);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let csv = std::fs::read_to_string(out.join("summary.csv")).expect("summary.csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "submission,total,max,verdict,tcp_two_clients:server,tcp_two_clients:client2"
    );
    assert_eq!(lines[1], "alice,26,26,pass,16/16,10/10");
    assert_eq!(lines[2], "dave,19,26,fail,9/16,10/10");
    let dave = std::fs::read_to_string(out.join("dave/feedback.txt")).expect("dave's feedback");
    assert!(dave.contains("loop around accept()"), "{dave}");
}

#[test]
fn a_partition_takes_its_slice_of_the_class() {
    let class = class(
        "partition",
        &[("a", &[]), ("b", &[]), ("c", &[]), ("d", &[])],
    );
    let dir = class.path();
    let names: Vec<String> = ["a", "b", "c", "d"]
        .iter()
        .map(|s| dir.join(s).display().to_string())
        .collect();
    let mut seen = Vec::new();
    for k in 1..=2 {
        let out = dir.join(format!("out{k}"));
        let part = format!("{k}/2");
        let mut args = vec![
            "grade",
            "courses/tp-sockets.toml",
            "--scenario",
            "tcp_basic",
            "--partition",
            &part,
            "--out",
            path(&out),
        ];
        args.extend(names.iter().map(String::as_str));
        let output = run(&args);
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        let csv = std::fs::read_to_string(out.join("summary.csv")).expect("summary");
        seen.extend(
            csv.lines()
                .skip(1)
                .map(|l| l.split(',').next().unwrap_or("").to_string()),
        );
    }
    seen.sort();
    assert_eq!(
        seen,
        ["a", "b", "c", "d"],
        "every submission in exactly one slice"
    );
}

#[test]
fn bad_grade_command_lines() {
    assert_eq!(
        run(&["grade", "courses/none.toml", "."]).status.code(),
        Some(2)
    );
    assert_eq!(
        run(&["grade", "courses/tp-sockets.toml", "Cargo.toml"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&[
            "grade",
            "courses/tp-sockets.toml",
            ".",
            "--partition",
            "3/2"
        ])
        .status
        .code(),
        Some(2)
    );
}

/// A class whose grades have nowhere to go is told at once (exit 3), before any build or
/// run: not after grading everybody.
#[test]
fn an_unwritable_out_folder_is_an_error_before_anything_runs() {
    let class = class("unwritable", &[("alice", &[("serveur.c", "serveur.c")])]);
    let dir = class.path();
    // A folder inside a file cannot be made, even by root.
    std::fs::write(dir.join("not-a-folder"), "").expect("a file");
    let out = dir.join("not-a-folder/grades");
    let started = std::time::Instant::now();
    let output = run(&[
        "grade",
        "courses/tp-sockets.toml",
        "--out",
        path(&out),
        path(&dir.join("alice")),
    ]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(3), "{err}");
    assert!(err.contains("cannot write to"), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{err}"
    );
}

/// Two submissions whose folders of `--out` would be one (`sec1/alice`, `sec2/alice`)
/// would overwrite each other's feedback and results: refused before anything runs.
#[test]
fn submissions_sharing_a_folder_of_out_are_refused() {
    let server: &[(&str, &str)] = &[("serveur.c", "serveur.c")];
    let class = class(
        "same-name",
        &[("sec1/alice", server), ("sec2/alice", server)],
    );
    let out = class.path().join("grades");
    let output = run(&[
        "grade",
        "courses/tp-sockets.toml",
        "--scenario",
        "tcp_basic",
        "--out",
        path(&out),
        path(&class.path().join("sec1/alice")),
        path(&class.path().join("sec2/alice")),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("would share the folder alice"),
        "{}",
        stderr(&output)
    );
    assert!(!out.join("alice").exists(), "nothing graded");
}
