//! A labrun that dies without its clean-up (SIGKILL, the OOM killer): what it made in the
//! temporary folder goes with the next labrun.

use std::time::{Duration, Instant};

use crate::common::{Scratch, fixture, labrun};

/// The scratch folders (`labrun-p…`) in `tmp`.
fn scratch_folders(tmp: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(tmp)
        .expect("the test's temporary folder")
        .filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.starts_with("labrun-p"))
        .collect();
    names.sort();
    names
}

#[test]
fn a_killed_runs_scratch_folder_is_removed_by_the_next_labrun() {
    let tmp = Scratch::new("killed-run");
    let server = fixture("serveur");
    let mut run = labrun()
        .args(["scenarios/tcp_basic.toml", "-q", "--with"])
        .arg(format!("server={}", server.display()))
        .env("TMPDIR", tmp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("labrun starts");
    let begun = Instant::now();
    while scratch_folders(tmp.path()).is_empty() && begun.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let made = scratch_folders(tmp.path());
    assert_eq!(made.len(), 1, "the run makes one scratch folder: {made:?}");
    assert!(
        made[0].starts_with(&format!("labrun-p{}-", run.id())),
        "named after the labrun's pid: {made:?}"
    );
    // Another labrun, which sweeps the temporary folder as it starts.
    let another = || {
        let output = labrun()
            .args(["scenarios/tcp_basic.toml", "--time-scale", "0", "-q"])
            .env("TMPDIR", tmp.path())
            .output()
            .expect("labrun runs");
        assert!(output.status.success());
    };
    // Its server runs from there: a live labrun's folder is never taken by another.
    std::thread::sleep(Duration::from_millis(300));
    another();
    assert_eq!(
        scratch_folders(tmp.path()),
        made,
        "a live run's folder stays"
    );

    run.kill().expect("SIGKILL");
    run.wait().expect("the run ends");
    assert_eq!(
        scratch_folders(tmp.path()),
        made,
        "SIGKILL leaves the folder behind"
    );
    // The run's pid namespace dies a moment after its first process: until then, its lock
    // is held (and a labrun leaves the folder alone).
    let lock = tmp.path().join(&made[0]).join(".lock");
    let free = || {
        std::fs::File::open(&lock).is_ok_and(|file| {
            nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock).is_ok()
        })
    };
    let killed = Instant::now();
    while !free() && killed.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(free(), "the lock is still held 5 s after SIGKILL");
    another();
    assert_eq!(
        scratch_folders(tmp.path()),
        Vec::<String>::new(),
        "the next labrun removes it"
    );
}

/// A class of `n` correct TCP servers (`s1`…), graded one run at a time on `tcp_basic`.
fn class_of(class: &Scratch, n: usize) -> std::process::Command {
    let mut command = labrun();
    command.args([
        "grade",
        "courses/tp-sockets.toml",
        "--scenario",
        "tcp_basic",
        "--jobs",
        "1",
        "--out",
    ]);
    command.arg(class.path().join("grades"));
    for i in 1..=n {
        let student = class.path().join(format!("s{i}"));
        crate::common::correct_submission(&student);
        command.arg(&student);
    }
    command.env("TMPDIR", class.path().join("tmp"));
    let _ = std::fs::create_dir_all(class.path().join("tmp"));
    command
}

#[test]
fn a_grade_killed_half_way_keeps_what_it_finished_and_resume_does_the_rest() {
    let class = Scratch::new("killed-grade");
    let grades = class.path().join("grades");
    let mut grade = class_of(&class, 3)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("labrun grade starts");
    let pid = grade.id();
    let begun = Instant::now();
    let first = grades.join("s1/feedback.txt");
    while !first.exists() && begun.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let one = begun.elapsed();
    assert!(first.exists(), "the first submission's feedback never came");
    // Into the second submission's run.
    std::thread::sleep(Duration::from_secs(1));
    grade.kill().expect("SIGKILL labrun grade");
    grade.wait().expect("reap it");
    let killed = Instant::now();
    let mark = format!("labrun-p{pid}-");
    while !crate::common::processes_running(&mark).is_empty()
        && killed.elapsed() < Duration::from_secs(1)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left = crate::common::processes_running(&mark);
    assert!(left.is_empty(), "still running 1 s after SIGKILL: {left:?}");

    let feedback = std::fs::read_to_string(&first).expect("s1's feedback");
    assert!(feedback.contains("tcp_basic as server: pass"), "{feedback}");
    assert!(grades.join("s1/result.json").is_file());
    for later in ["s2", "s3"] {
        assert!(
            !grades.join(later).join("feedback.txt").exists(),
            "{later} was not finished"
        );
    }
    assert!(
        !grades.join("summary.csv").exists(),
        "no summary of part of the class"
    );
    let journal = std::fs::read_to_string(grades.join("journal.jsonl")).expect("the journal");
    assert_eq!(
        journal.lines().count(),
        2,
        "a header and s1's line:\n{journal}"
    );

    // Same course, same --out: only s2 and s3 are graded.
    let modified = |path: &std::path::Path| {
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .expect("a result file")
    };
    let s1_result = modified(&grades.join("s1/result.json"));
    let again = Instant::now();
    let resumed = class_of(&class, 3)
        .arg("--resume")
        .output()
        .expect("labrun grade --resume");
    let took = again.elapsed();
    let err = crate::common::stderr(&resumed);
    assert!(resumed.status.success(), "{err}");
    assert!(
        err.contains("--resume: 1 of 3 submissions already graded"),
        "{err}"
    );
    assert!(err.contains("3 of 3 submissions pass"), "{err}");
    // `one` is the builds and s1's two runs; the whole class is three times its runs (one
    // at a time), the rest two: grading s1 again would take more than 2.5 times `one`.
    assert!(
        took < one.mul_f64(2.5),
        "resuming took {took:?}, s1 alone {one:?}"
    );
    assert_eq!(
        modified(&grades.join("s1/result.json")),
        s1_result,
        "s1 was not graded again"
    );
    let journal = std::fs::read_to_string(grades.join("journal.jsonl")).expect("the journal");
    assert_eq!(
        journal.lines().count(),
        4,
        "a header and a line each:\n{journal}"
    );
    let summary = std::fs::read_to_string(grades.join("summary.csv")).expect("a summary");
    for student in ["s1", "s2", "s3"] {
        assert!(
            summary
                .lines()
                .any(|l| l.starts_with(&format!("{student},22,22,pass"))),
            "{student} in:\n{summary}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(&first).expect("s1's feedback"),
        feedback,
        "s1 is taken as it was"
    );

    // A changed submission is graded again; the others are not.
    std::fs::write(class.path().join("s3/notes.txt"), "late").expect("a late change");
    let third = class_of(&class, 3)
        .arg("--resume")
        .output()
        .expect("labrun grade --resume");
    let err = crate::common::stderr(&third);
    assert!(
        err.contains("--resume: 2 of 3 submissions already graded"),
        "{err}"
    );
    // The killed grade's scratch folder went with the first labrun after it.
    assert_eq!(
        scratch_folders(&class.path().join("tmp")),
        Vec::<String>::new()
    );
}
