//! Every input the fuzz targets (`fuzz/`) found a crash with, and their seed corpora,
//! replayed through the same checks on stable Rust: `fuzz/regressions/<target>/` and
//! `fuzz/corpus/<target>/`.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for folder in ["regressions", "corpus"] {
        let Ok(entries) = std::fs::read_dir(root.join(folder).join(target)) else {
            continue;
        };
        for entry in entries.flatten() {
            let bytes = std::fs::read(entry.path()).expect("read a fuzz input");
            let outcome = std::panic::catch_unwind(|| check(&bytes));
            assert!(
                outcome.is_ok(),
                "{target}: {} fails again",
                entry.path().display()
            );
            count += 1;
        }
    }
    assert!(count > 0, "{target}: no inputs to replay");
}

#[test]
fn scenario_inputs() {
    replay("scenario", labrun::fuzz::scenario);
}

#[test]
fn snapshot_inputs() {
    replay("snapshot", labrun::fuzz::snapshot);
}

#[test]
fn transcript_inputs() {
    replay("transcript", labrun::fuzz::transcript);
}
