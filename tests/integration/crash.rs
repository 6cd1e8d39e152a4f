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
    // Its server runs from there: a live labrun's folder is never taken by another.
    std::thread::sleep(Duration::from_millis(300));
    let live = labrun()
        .args(["scenarios/tcp_basic.toml", "--time-scale", "0", "-q"])
        .env("TMPDIR", tmp.path())
        .output()
        .expect("labrun runs");
    assert!(live.status.success());
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
    let next = labrun()
        .args(["scenarios/tcp_basic.toml", "--time-scale", "0", "-q"])
        .env("TMPDIR", tmp.path())
        .output()
        .expect("labrun runs");
    assert!(next.status.success());
    assert_eq!(
        scratch_folders(tmp.path()),
        Vec::<String>::new(),
        "the next labrun removes it"
    );
}
