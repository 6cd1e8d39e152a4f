//! Determinism: the same scenario gives the same transcript, run after run, also while other
//! processes keep the machine's cores busy: every shipped scenario 100 times at
//! `--time-scale 0`, and 5 times at real time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::common::{scenario_names, transcript};

/// Runs `job` for every item, `parallel` at a time.
fn in_parallel<T: Send, R: Send>(
    items: Vec<T>,
    parallel: usize,
    job: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let queue = Mutex::new(items.into_iter().enumerate().collect::<Vec<_>>());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..parallel {
            scope.spawn(|| {
                loop {
                    let Some((i, item)) = queue.lock().expect("queue").pop() else {
                        return;
                    };
                    let result = job(&item);
                    results.lock().expect("results").push((i, result));
                }
            });
        }
    });
    let mut results = results.into_inner().expect("results");
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Keeps `n` cores busy until dropped.
struct Load(Arc<AtomicBool>, Vec<std::thread::JoinHandle<()>>);

impl Load {
    fn start(n: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..n)
            .map(|_| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                })
            })
            .collect();
        Load(stop, threads)
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
        for thread in self.1.drain(..) {
            let _ = thread.join();
        }
    }
}

fn assert_all_equal(name: &str, texts: &[String]) {
    for (i, text) in texts.iter().enumerate() {
        if text != &texts[0] {
            let diff: Vec<String> = texts[0]
                .lines()
                .zip(text.lines())
                .filter(|(a, b)| a != b)
                .take(6)
                .map(|(a, b)| format!("- {a}\n+ {b}"))
                .collect();
            panic!(
                "{name}: run {i} differs from run 0:\n{}\n\nrun {i}:\n{text}",
                diff.join("\n")
            );
        }
    }
}

/// Runs of each scenario in the stress test.
const STRESS_RUNS: usize = 100;

#[test]
fn each_scenario_a_hundred_times_on_a_loaded_machine_gives_identical_transcripts() {
    let _load = Load::start(2);
    let start = std::time::Instant::now();
    let names = scenario_names();
    for name in &names {
        let runs: Vec<usize> = (0..STRESS_RUNS).collect();
        let texts = in_parallel(runs, 8, |_| transcript(name, &[]));
        assert_all_equal(name, &texts);
    }
    // The figure for the record: `cargo test -- --nocapture stress` shows it.
    println!(
        "stress: {} scenarios × {STRESS_RUNS} runs at --time-scale 0, 2 cores kept busy: \
         all identical ({:.1} s)",
        names.len(),
        start.elapsed().as_secs_f64()
    );
}

#[test]
fn each_scenario_five_times_at_real_time_matches_the_runs_at_scale_0() {
    let _load = Load::start(2);
    let names = scenario_names();
    let jobs: Vec<(String, usize)> = names
        .iter()
        .flat_map(|n| (0..5).map(move |i| (n.clone(), i)))
        .collect();
    let texts = in_parallel(jobs, 40, |(name, _)| {
        (name.clone(), transcript(name, &["--time-scale", "1"]))
    });
    for name in &names {
        let mut runs: Vec<String> = texts
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
            .collect();
        runs.push(transcript(name, &[]));
        assert_all_equal(name, &runs);
    }
}
