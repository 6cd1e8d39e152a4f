//! labrun's benchmarks, each printed with its figures: `cargo bench --bench labrun`.
//!
//! 1. overhead over each scenario's critical path, at real time;
//! 2. a whole zero-delay run of tcp_basic, beside a plain shell harness doing the same job;
//! 3. a class of 100 correct C servers graded at once, beside one, and one after another;
//! 4. a thousand clients at once against a per-client reference server, TCP and UDP
//!    (`benches/scenarios/`: not shipped scenarios, their transcripts are huge);
//! 5. the cost of the packet capture;
//! 6. the CPU labrun uses while a scenario only sleeps;
//! 7. the whole course for a class, default flags: 1, 20 and 300 submissions (time, CPU,
//!    memory).
//!
//! Each figure comes from the `labrun` binary run as a user runs it. Results go in
//! BENCHMARKS.md with the machine they were measured on.
//!
//! `LABRUN_BENCH_BASELINE=/path/to/an/older/labrun` adds that binary's figures beside this
//! one's in sections 1, 2 and 5, runs interleaved, so that a change is measured against
//! what it replaces under the same load.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn labrun() -> Command {
    labrun_at(Path::new(env!("CARGO_BIN_EXE_labrun")))
}

fn labrun_at(exe: &Path) -> Command {
    let mut command = Command::new(exe);
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("CI");
    command
}

/// The binary to compare with, from `LABRUN_BENCH_BASELINE`.
fn baseline() -> Option<PathBuf> {
    std::env::var_os("LABRUN_BENCH_BASELINE").map(PathBuf::from)
}

/// Wall time of a command that must succeed (exit 0), its output discarded.
fn timed(command: &mut Command) -> Duration {
    let started = Instant::now();
    let status = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("runs");
    let elapsed = started.elapsed();
    assert!(
        status.success() || status.code() == Some(1),
        "{command:?} failed: {status}"
    );
    elapsed
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn percentile(mut samples: Vec<Duration>, p: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// CPU time (user + system) of the children waited for since the last call.
fn children_cpu() -> Duration {
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage");
    let tv =
        |t: nix::sys::time::TimeVal| Duration::new(t.tv_sec() as u64, t.tv_usec() as u32 * 1000);
    tv(usage.user_time()) + tv(usage.system_time())
}

fn max_child_rss_kib() -> i64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .map(|u| u.max_rss())
        .unwrap_or(0)
}

fn scenarios() -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios"))
            .expect("scenarios")
            .filter_map(|e| {
                let p = e.ok()?.path();
                (p.extension()? == "toml")
                    .then(|| p.file_stem().unwrap().to_string_lossy().into_owned())
            })
            .collect();
    names.sort();
    names
}

/// The last scenario time of a transcript: its critical path, the sum of the declared
/// delays that lie on it.
fn critical_path(name: &str) -> Duration {
    let output = labrun()
        .args([
            &format!("scenarios/{name}.toml"),
            "--time-scale",
            "0",
            "--no-snapshot",
            "--format",
            "json",
        ])
        .output()
        .expect("labrun");
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let tenths = value["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["time_tenths"].as_u64())
        .max()
        .unwrap_or(0);
    Duration::from_millis(tenths * 100)
}

fn overhead() {
    println!("## 1. Overhead over the critical path (real time)\n");
    let base = baseline();
    if base.is_some() {
        println!(
            "| scenario | critical path | wall | ratio | extra | baseline wall | baseline extra |"
        );
        println!("|---|---|---|---|---|---|---|");
    } else {
        println!("| scenario | critical path | wall | ratio | extra |");
        println!("|---|---|---|---|---|");
    }
    let (mut worst_ratio, mut worst_extra) = (0.0f64, Duration::ZERO);
    for name in scenarios() {
        let path = critical_path(&name);
        if path.is_zero() {
            continue;
        }
        let args = [
            format!("scenarios/{name}.toml"),
            "--no-snapshot".into(),
            "-q".into(),
        ];
        let wall = timed(labrun().args(&args));
        let ratio = wall.as_secs_f64() / path.as_secs_f64();
        let extra = wall.saturating_sub(path);
        worst_ratio = worst_ratio.max(ratio);
        worst_extra = worst_extra.max(extra);
        print!(
            "| {name} | {:.1} s | {:.3} s | {ratio:.4} | {} |",
            path.as_secs_f64(),
            wall.as_secs_f64(),
            ms(extra)
        );
        if let Some(base) = &base {
            let wall = timed(labrun_at(base).args(&args));
            print!(
                " {:.3} s | {} |",
                wall.as_secs_f64(),
                ms(wall.saturating_sub(path))
            );
        }
        println!();
    }
    println!(
        "\nworst ratio {worst_ratio:.4}, worst extra {}: goal ratio ≤ 1.02 and under 30 ms extra: {}\n",
        ms(worst_extra),
        met(worst_ratio <= 1.02 && worst_extra < Duration::from_millis(30))
    );
}

fn met(yes: bool) -> &'static str {
    if yes { "met" } else { "not met" }
}

fn zero_delay() {
    let runs = 50;
    println!("## 2. A whole zero-delay run of tcp_basic ({runs} runs, interleaved)\n");
    let args = ["scenarios/tcp_basic.toml", "--time-scale", "0", "-q"];
    let exe = env!("CARGO_BIN_EXE_labrun");
    let script = format!(
        "ip link set lo up; {exe} ref tcp-server A 4000 --reply-delay 0s > /tmp/labrun-bench-s.out & S=$!; \
         until grep -q ':0FA0 00000000:0000 0A' /proc/net/tcp; do :; done; \
         {exe} ref tcp-client B 127.0.0.1 4000 > /tmp/labrun-bench-c.out; kill $S; wait; \
         test $(grep -c recoit /tmp/labrun-bench-c.out) = 3"
    );
    let base = baseline();
    let (mut labrun_runs, mut shell_runs, mut base_runs) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        labrun_runs.push(timed(labrun().args(args)));
        shell_runs.push(timed(
            Command::new("unshare").args(["-rn", "sh", "-c", &script]),
        ));
        if let Some(base) = &base {
            base_runs.push(timed(labrun_at(base).args(args)));
        }
    }
    let (m, s) = (median(labrun_runs.clone()), median(shell_runs.clone()));
    println!("| | median | p90 |");
    println!("|---|---|---|");
    println!(
        "| labrun (namespace, capture, netstat, snapshot check) | {} | {} |",
        ms(m),
        ms(percentile(labrun_runs, 0.9))
    );
    println!(
        "| shell harness (namespace, server, poll, client, compare) | {} | {} |",
        ms(s),
        ms(percentile(shell_runs, 0.9))
    );
    if !base_runs.is_empty() {
        println!(
            "| baseline labrun (LABRUN_BENCH_BASELINE) | {} | {} |",
            ms(median(base_runs.clone())),
            ms(percentile(base_runs, 0.9))
        );
    }
    println!(
        "\nratio labrun / shell: {:.2}; goal median ≤ 25 ms: {}\n",
        m.as_secs_f64() / s.as_secs_f64(),
        met(m <= Duration::from_millis(25))
    );
}

fn capture_cost() {
    println!("## 5. Capture cost (tcp_basic at scale 0, 30 runs each, interleaved)\n");
    let with = [
        "scenarios/tcp_basic.toml",
        "--time-scale",
        "0",
        "-q",
        "--no-snapshot",
    ];
    let without = [&with[..], &["--no-capture"]].concat();
    let exes: Vec<PathBuf> = std::iter::once(PathBuf::from(env!("CARGO_BIN_EXE_labrun")))
        .chain(baseline())
        .collect();
    // [binary][with, without]
    let mut samples = vec![[Vec::new(), Vec::new()]; exes.len()];
    for _ in 0..30 {
        for (exe, runs) in exes.iter().zip(&mut samples) {
            runs[0].push(timed(labrun_at(exe).args(with)));
            runs[1].push(timed(labrun_at(exe).args(&without)));
        }
    }
    println!("| | with capture and state timeline | without (`--no-capture`) | capture costs |");
    println!("|---|---|---|---|");
    for (i, [with, without]) in samples.into_iter().enumerate() {
        let (w, wo) = (median(with), median(without));
        println!(
            "| {} | {} | {} | {} |",
            if i == 0 { "labrun" } else { "baseline labrun" },
            ms(w),
            ms(wo),
            ms(w.saturating_sub(wo))
        );
    }
    println!();
}

fn cpu_while_waiting() {
    println!("## 6. CPU while waiting (tcp_sleep at real time: 9 s of sleeps)\n");
    let before = children_cpu();
    let wall = timed(labrun().args(["scenarios/tcp_sleep.toml", "-q", "--no-snapshot"]));
    let cpu = children_cpu().saturating_sub(before);
    println!(
        "wall {:.2} s, CPU (user + system) {}: {:.3} % of one core\n",
        wall.as_secs_f64(),
        ms(cpu),
        cpu.as_secs_f64() / wall.as_secs_f64() * 100.0
    );
}

fn class() {
    println!("## 3. A class of 100 correct C servers graded on tcp_basic (real 2 s delays)\n");
    let root = std::env::temp_dir().join(format!("labrun-bench-class-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let course = root.join("course.toml");
    std::fs::create_dir_all(&root).expect("bench folder");
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    std::fs::write(
        &course,
        format!("scenarios = {:?}\n\n[[grade]]\nscenario = \"tcp_basic\"\nrole = \"server\"\nfile = \"serveur.c\"\n", scenarios),
    )
    .expect("course");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/serveur.c");
    let submissions: Vec<PathBuf> = (0..100)
        .map(|i| {
            let dir = root.join(format!("s{i:03}"));
            std::fs::create_dir_all(&dir).expect("submission");
            std::fs::copy(&source, dir.join("serveur.c")).expect("copy");
            dir
        })
        .collect();
    let grade = |subs: &[PathBuf], jobs: &str| {
        let mut command = labrun();
        command
            .arg("grade")
            .arg(&course)
            .args(subs)
            .args(["--jobs", jobs, "--out"])
            .arg(root.join("out"));
        timed(&mut command)
    };
    let one = grade(&submissions[..1], "1");
    let rss_before = max_child_rss_kib();
    let all = grade(&submissions, "100");
    let rss = max_child_rss_kib().max(rss_before);
    let five_in_turn = grade(&submissions[..5], "1");
    println!("| | wall |");
    println!("|---|---|");
    println!("| one submission | {:.2} s |", one.as_secs_f64());
    println!(
        "| 100 submissions at once (--jobs 100) | {:.2} s |",
        all.as_secs_f64()
    );
    println!(
        "| 5 submissions one after another (--jobs 1) | {:.2} s, so about {:.0} s for 100 |",
        five_in_turn.as_secs_f64(),
        five_in_turn.as_secs_f64() * 20.0
    );
    println!(
        "\nmakespan / one submission: {:.2}; largest child's peak RSS: {} KiB\n",
        all.as_secs_f64() / one.as_secs_f64(),
        rss
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// Runs labrun with `args` to its end: its wall time, its peak resident set size in KiB,
/// and its standard output. The peak comes from a fresh copy of this program standing in
/// between (`--peak-rss-of`): a child's peak counts the memory of the process that spawned
/// it, and this one holds the big outputs it has read.
fn measured(args: &[&str]) -> (Duration, i64, Vec<u8>) {
    let started = Instant::now();
    let output = Command::new(std::env::current_exe().expect("the bench's own path"))
        .arg("--peak-rss-of")
        .arg(env!("CARGO_BIN_EXE_labrun"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("CI")
        .output()
        .expect("runs");
    let elapsed = started.elapsed();
    assert!(output.status.success(), "labrun {args:?} failed");
    let rss = String::from_utf8_lossy(&output.stderr)
        .trim()
        .parse()
        .expect("the peak RSS");
    (elapsed, rss, output.stdout)
}

/// The stand-in of [`measured`]: runs the command, prints its peak RSS on stderr, and
/// exits with its status.
fn peak_rss_of(command: &[String]) -> ! {
    let status = Command::new(&command[0])
        .args(&command[1..])
        .stderr(Stdio::null())
        .status()
        .expect("runs");
    eprintln!("{}", max_child_rss_kib());
    std::process::exit(status.code().unwrap_or(1));
}

fn scale() {
    println!("## 4. 1,000 concurrent clients against a per-client reference server\n");
    println!("Each client makes 3 exchanges; the server sleeps 2 s after each reply, in each");
    println!("client's own task, so the critical path is 6 s whatever the number of clients.\n");
    println!("| scenario | time scale | capture | wall | peak RSS | replies received |");
    println!("|---|---|---|---|---|---|");
    for name in ["scale_tcp_1000", "scale_udp_1000"] {
        let path = format!("benches/scenarios/{name}.toml");
        for (scale, capture) in [("0", true), ("0", false), ("1", true)] {
            let mut args = vec![
                path.as_str(),
                "--time-scale",
                scale,
                "--no-snapshot",
                "--format",
                "json",
            ];
            if !capture {
                args.push("--no-capture");
            }
            let (wall, rss, stdout) = measured(&args);
            let value: serde_json::Value = serde_json::from_slice(&stdout).expect("json");
            let received = value["entries"]
                .as_array()
                .expect("entries")
                .iter()
                .filter(|e| {
                    e["role"].as_str().is_some_and(|r| r.starts_with("client"))
                        && e["text"]
                            .as_str()
                            .is_some_and(|t| t.contains(" recoit de "))
                })
                .count();
            assert_eq!(
                received, 3000,
                "{name} at scale {scale}: not every reply came"
            );
            println!(
                "| {name} | {scale} | {} | {:.2} s | {:.1} MiB | {received} |",
                if capture { "yes" } else { "no" },
                wall.as_secs_f64(),
                rss as f64 / 1024.0
            );
        }
    }
    println!();
}

/// A correct submission of the lab's six files, as `tests/integration/common.rs` makes it,
/// `tag` added to each so that no two submissions share a file.
fn correct_submission(dir: &Path, tag: usize) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    std::fs::create_dir_all(dir).expect("a submission");
    for (name, fixture) in [
        ("serveuru.c", "serveuru.c"),
        ("clientu.c", "clientu.c"),
        ("serveur.c", "serveur.c"),
        ("clientt.c", "clientt.c"),
        ("resolve_name.c", "resolver/resolve_name.c"),
        ("resolve_addr.c", "resolver/resolve_addr.c"),
    ] {
        let mut text = std::fs::read_to_string(fixtures.join(fixture)).expect("a fixture");
        if name == "serveur.c" {
            text = format!("#define CLOSE_DELAY 3\n{text}");
        }
        // Every file of every submission its own, as in a real class.
        text.push_str(&format!("/* {tag} */\n"));
        std::fs::write(dir.join(name), text).expect("a submission's file");
    }
}

/// The machine's memory in use, sampled every 100 ms until `done`: the largest rise over
/// what was in use at the start, in KiB.
fn memory_rise(done: &std::sync::atomic::AtomicBool) -> i64 {
    let in_use = || -> i64 {
        let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let field = |name: &str| -> i64 {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        };
        field("MemTotal:") - field("MemAvailable:")
    };
    let start = in_use();
    let mut peak = start;
    while !done.load(std::sync::atomic::Ordering::Relaxed) {
        peak = peak.max(in_use());
        std::thread::sleep(Duration::from_millis(100));
    }
    peak - start
}

/// One `labrun grade` of the whole course, default flags: wall, CPU of it and its
/// children, the machine's memory rise, and whether every submission passed.
fn grade_course(root: &Path, submissions: &[PathBuf]) -> (Duration, Duration, i64, bool) {
    let out = root.join("out");
    let _ = std::fs::remove_dir_all(&out);
    let done = std::sync::atomic::AtomicBool::new(false);
    let cpu_before = children_cpu();
    std::thread::scope(|scope| {
        let memory = scope.spawn(|| memory_rise(&done));
        let started = Instant::now();
        let status = labrun()
            .args(["grade", "courses/tp-sockets.toml", "--out"])
            .arg(&out)
            .args(submissions)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("labrun grade runs");
        let wall = started.elapsed();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let rise = memory.join().unwrap_or(0);
        (wall, children_cpu() - cpu_before, rise, status.success())
    })
}

fn course() {
    println!("## 7. The whole course (11 directions), default flags\n");
    let root = std::env::temp_dir().join(format!("labrun-bench-course-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let big: usize = std::env::var("LABRUN_BENCH_CLASS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let submissions: Vec<PathBuf> = (0..big.max(20))
        .map(|i| {
            let dir = root.join(format!("s{i:03}"));
            correct_submission(&dir, i);
            dir
        })
        .collect();
    // The builds alone: the course's six files, one after another, as labrun builds them.
    let build_cpu_before = children_cpu();
    let builds_started = Instant::now();
    for file in [
        "serveuru.c",
        "clientu.c",
        "serveur.c",
        "clientt.c",
        "resolve_name.c",
        "resolve_addr.c",
    ] {
        let status = Command::new("gcc")
            .args(["-Wall", "-O0", "-o"])
            .arg(root.join("built"))
            .arg(submissions[0].join(file))
            .status()
            .expect("gcc");
        assert!(status.success());
    }
    let six_builds = builds_started.elapsed();
    let build_cpu = children_cpu() - build_cpu_before;
    println!("| submissions | runs | wall | CPU (user + system) | memory rise | all pass |");
    println!("|---|---|---|---|---|---|");
    let mut walls = Vec::new();
    for n in [1, 20, big] {
        let (wall, cpu, rise, passed) = grade_course(&root, &submissions[..n]);
        println!(
            "| {n} | {} | {:.1} s | {:.1} s | {:.0} MiB | {} |",
            n * 11,
            wall.as_secs_f64(),
            cpu.as_secs_f64(),
            rise as f64 / 1024.0,
            if passed { "yes" } else { "no" }
        );
        walls.push((n, wall, cpu));
    }
    let (one, twenty) = (walls[0].1, walls[1].1);
    let ratio = twenty.as_secs_f64() / one.as_secs_f64();
    println!(
        "\n20 submissions / one: {ratio:.2} (goal ≤ 1.5: {})",
        met(ratio <= 1.5)
    );
    let (_, whole, cpu) = walls[2];
    println!(
        "{big} submissions: {:.0} s (goal ≤ 180 s for 300: {})",
        whole.as_secs_f64(),
        met(big == 300 && whole <= Duration::from_secs(180))
    );
    let per_build = build_cpu / 6;
    let builds = per_build * (6 * big) as u32;
    let runs = cpu.saturating_sub(builds);
    println!(
        "where the CPU goes: builds {:.0} s ({} per file, {:.2} s wall for six), runs {:.0} s \
         ({} per run, its labrun and its programs)\n",
        builds.as_secs_f64(),
        ms(per_build),
        six_builds.as_secs_f64(),
        runs.as_secs_f64(),
        ms(runs / (11 * big) as u32),
    );
    println!(
        "largest process's peak RSS (labrun grade itself): {:.1} MiB\n",
        max_child_rss_kib() as f64 / 1024.0
    );
    let _ = std::fs::remove_dir_all(&root);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).is_some_and(|a| a == "--peak-rss-of") && args.len() > 2 {
        peak_rss_of(&args[2..]);
    }
    // `cargo bench` passes `--bench`; filters select sections: `cargo bench --bench labrun -- class`.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted =
        |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()));
    println!(
        "# labrun benchmarks ({} cores)\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    if wanted("overhead") {
        overhead();
    }
    if wanted("zero-delay") {
        zero_delay();
    }
    if wanted("class") {
        class();
    }
    if wanted("scale") {
        scale();
    }
    if wanted("capture") {
        capture_cost();
    }
    if wanted("cpu") {
        cpu_while_waiting();
    }
    if wanted("course") {
        course();
    }
}
