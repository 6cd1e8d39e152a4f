//! Determinism: the same scenario gives the same transcript, run after run.

use crate::common::{scenario_names, transcript};

const RUNS: usize = 20;

#[test]
fn each_scenario_twenty_times_gives_identical_transcripts() {
    for name in scenario_names() {
        // Runs go two at a time, so that they also overlap each other.
        let texts: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..RUNS)
                .map(|_| scope.spawn(|| transcript(&name, &[])))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("run thread"))
                .collect()
        });
        for (i, text) in texts.iter().enumerate() {
            assert_eq!(text, &texts[0], "{name}: run {i} differs from run 0");
        }
    }
}
