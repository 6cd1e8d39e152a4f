//! labrun where graders run it: a Docker-default container, an ordinary user without user
//! namespaces and one with them, all simulated by `tests/fixtures/confine/confine.c`.

use crate::common::{
    Place, Scratch, can_confine, confined, correct_submission, fixture, labrun_in, root,
    scenario_names, stderr, stdout, transcript,
};

/// The simulation is what the tests take it for: if it were not, every test below would
/// prove nothing.
#[test]
fn the_simulated_places_refuse_what_graders_refuse() {
    if !can_confine() {
        return;
    }
    let container = confined(Place::Container, "sh")
        .args([
            "-c",
            "grep CapEff /proc/self/status; id -u; unshare -n true && echo netns; \
             unshare -U true && echo userns; touch /sys/fs/cgroup/x && echo cgroup; true",
        ])
        .output()
        .expect("confine runs");
    let text = stdout(&container);
    assert!(container.status.success(), "{}", stderr(&container));
    // Docker's 14 default capabilities, and nothing else.
    assert!(text.contains("CapEff:\t00000000a80425fb"), "{text}");
    assert!(text.contains("\n0\n"), "root in the container: {text}");
    for refused in ["netns", "userns", "cgroup"] {
        assert!(!text.contains(refused), "{refused} allowed: {text}");
    }
    let user = confined(Place::User, "sh")
        .args([
            "-c",
            "grep CapEff /proc/self/status; id -u; id -G; unshare -U true && echo userns; true",
        ])
        .output()
        .expect("confine runs");
    let text = stdout(&user);
    assert!(user.status.success(), "{}", stderr(&user));
    assert!(text.contains("CapEff:\t0000000000000000"), "{text}");
    assert!(
        text.contains("65534\n65534\n"),
        "nobody, no other group: {text}"
    );
    assert!(
        !text.contains("userns"),
        "a user namespace was made: {text}"
    );
    let with_namespaces = confined(Place::UserNs, "sh")
        .args([
            "-c",
            "grep CapEff /proc/self/status; id -u; unshare -Urn true && echo userns; true",
        ])
        .output()
        .expect("confine runs");
    let text = stdout(&with_namespaces);
    assert!(
        with_namespaces.status.success(),
        "{}",
        stderr(&with_namespaces)
    );
    assert!(text.contains("CapEff:\t0000000000000000"), "{text}");
    assert!(text.contains("65534\n"), "nobody: {text}");
    assert!(text.contains("userns"), "no user namespace: {text}");
}

/// A whole labrun run ends in the simulated container, whatever its verdict: the wrapper
/// hands labrun's exit code back.
#[test]
fn labrun_runs_in_the_simulated_container() {
    if !can_confine() {
        return;
    }
    let output = labrun_in(Place::Container)
        .args(["--version"])
        .output()
        .expect("labrun runs");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).starts_with("labrun "));
}

/// Every shipped scenario, at `--time-scale 0`, against its committed snapshot in `place`:
/// `(scenario, problem)` for each that does not match.
fn scenarios_against_snapshots(place: Place, runs: usize) -> Vec<String> {
    let mut problems = Vec::new();
    for name in scenario_names() {
        for run in 0..runs {
            let output = labrun_in(place)
                .args([&format!("scenarios/{name}.toml"), "--time-scale", "0"])
                .env("CI", "1")
                .output()
                .expect("labrun runs");
            if !output.status.success() {
                problems.push(format!(
                    "{name} (run {run}) in {place:?}: exit {:?}\n{}",
                    output.status.code(),
                    stderr(&output)
                ));
            }
        }
    }
    problems
}

/// Gradescope's container: no namespace, but root with CAP_NET_RAW. Each run takes ports of
/// its own and keeps only its own sockets and packets; the reference programs acknowledge
/// at once themselves: every transcript matches its snapshot, packets included, run after
/// run.
#[test]
fn every_scenario_matches_its_snapshot_in_a_container() {
    if !can_confine() {
        return;
    }
    let problems = scenarios_against_snapshots(Place::Container, 3);
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// `tcp_basic` at `--time-scale 0` against its snapshot in `place`, which must match:
/// labrun's standard error.
fn tcp_basic_against_its_snapshot(place: Place) -> String {
    let output = labrun_in(place)
        .args(["scenarios/tcp_basic.toml", "--time-scale", "0"])
        .env("CI", "1")
        .output()
        .expect("labrun runs");
    let err = stderr(&output);
    assert!(output.status.success(), "{place:?}: {err}");
    err
}

/// The lines of labrun's standard error that warn.
fn warning_lines(err: &str) -> Vec<&str> {
    err.lines().filter(|l| l.contains("warning")).collect()
}

/// An ordinary user without user namespaces captures nothing: everything else matches.
#[test]
fn every_scenario_matches_its_snapshot_but_for_packets_as_an_ordinary_user() {
    if !can_confine() {
        return;
    }
    let problems = scenarios_against_snapshots(Place::User, 1);
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    let err = tcp_basic_against_its_snapshot(Place::User);
    // One line says what the run lacks; the verdict says what was compared.
    let warnings = warning_lines(&err);
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("packet capture"), "{err}");
    assert!(err.contains("but for the packets"), "{err}");
}

/// An ordinary user with user namespaces makes the run's namespaces in one of its own:
/// every transcript matches its snapshot, packets included, and no warning says a lack.
#[test]
fn every_scenario_matches_its_snapshot_as_a_user_with_user_namespaces() {
    if !can_confine() {
        return;
    }
    let problems = scenarios_against_snapshots(Place::UserNs, 1);
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    let err = tcp_basic_against_its_snapshot(Place::UserNs);
    assert!(warning_lines(&err).is_empty(), "{err}");
    assert!(!err.contains("but for the packets"), "{err}");
}

/// The transcript of a run in a container is the one a private network gives, byte for
/// byte, at real time too (where the kernel's delayed ACKs would show).
#[test]
fn a_container_run_at_real_time_is_the_private_networks_run() {
    if !can_confine() {
        return;
    }
    let private = transcript("tcp_basic", &["--time-scale", "1"]);
    let output = labrun_in(Place::Container)
        .args([
            "scenarios/tcp_basic.toml",
            "--no-snapshot",
            "--time-scale",
            "1",
        ])
        .output()
        .expect("labrun runs");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), private);
}

/// A class of correct submissions graded in parallel in `place`: every submission gets
/// the full score and passes; the isolation is said once, for the class, and not in the
/// students' feedback. Returns labrun's standard error.
fn a_correct_class_gets_the_full_score(place: Place) -> String {
    let class = Scratch::new("confined-class");
    let mut submissions = Vec::new();
    for student in ["alice", "bob", "carol"] {
        let dir = class.path().join(student);
        correct_submission(&dir);
        submissions.push(dir.display().to_string());
    }
    // An ordinary user writes its results where it may.
    let out = class.path().join("grades");
    std::fs::create_dir(&out).expect("the results folder");
    std::os::unix::fs::chown(&out, Some(65534), Some(65534)).expect("chown");
    let output = labrun_in(place)
        .args(["grade", "courses/tp-sockets.toml", "--out"])
        .arg(&out)
        .args(&submissions)
        .output()
        .expect("labrun grade runs");
    let err = stderr(&output);
    assert!(output.status.success(), "{place:?}: {err}");
    let summary = std::fs::read_to_string(out.join("summary.csv")).expect("summary.csv");
    let rows: Vec<&str> = summary.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{summary}");
    for row in rows {
        let fields: Vec<&str> = row.split(',').collect();
        assert_eq!(
            fields[1], fields[2],
            "{place:?}: not the full score: {row}\n{err}"
        );
        assert_eq!(fields[3], "pass", "{place:?}: {row}");
    }
    assert!(err.matches("warning: this run has").count() <= 1, "{err}");
    let feedback = std::fs::read_to_string(out.join("alice/feedback.txt")).expect("feedback");
    assert!(!feedback.contains("warning: this run has"), "{feedback}");
    err
}

/// A class graded in parallel in a container: every direction of the course at once on the
/// machine's one network, the lab's ports never clash, and correct programs get every point.
#[test]
fn a_correct_class_gets_the_full_score_in_a_container() {
    if !can_confine() {
        return;
    }
    a_correct_class_gets_the_full_score(Place::Container);
}

/// The same class graded by an ordinary user without user namespaces (a university's lab
/// machine on Ubuntu 24.04): no uid of its own for the programs, no capture, the machine's
/// network; correct programs still get every point, and one line says what is missing.
#[test]
fn a_correct_class_gets_the_full_score_as_an_ordinary_user() {
    if !can_confine() {
        return;
    }
    let err = a_correct_class_gets_the_full_score(Place::User);
    assert_eq!(err.matches("warning: this run has").count(), 1, "{err}");
}

/// And by an ordinary user with user namespaces: the private network of the full machine;
/// what it lacks is a control group of its own to cap the programs' processes, and one
/// line says so.
#[test]
fn a_correct_class_gets_the_full_score_as_a_user_with_user_namespaces() {
    if !can_confine() {
        return;
    }
    let err = a_correct_class_gets_the_full_score(Place::UserNs);
    let warnings = warning_lines(&err);
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("a private network"), "{err}");
    assert!(warnings[0].contains("control group"), "{err}");
}

/// Without a private `/etc/hosts`, an external resolver reads the scenario's hosts through
/// nss_wrapper, and gets the verdict it gets on a full machine.
#[test]
fn resolvers_are_graded_through_nss_wrapper_in_a_container() {
    if !can_confine() {
        return;
    }
    if labrun::sandbox::network::nss_wrapper().is_none() {
        assert!(
            std::env::var_os("LABRUN_REQUIRE_NSS_WRAPPER").is_none(),
            "nss_wrapper is required here (apt-get install libnss-wrapper)"
        );
        eprintln!("SKIPPED: no libnss_wrapper.so (apt-get install libnss-wrapper)");
        return;
    }
    let fixtures = [
        ("resolve_name", "resolver/resolve_name"),
        ("resolve_name", "resolver/resolve_name_no_aliases"),
        ("resolve_name", "resolver/resolve_name_first_address_only"),
        ("resolve_name", "resolver/resolve_name_no_null_check"),
        ("resolve_name", "resolver/resolve_name_first_alias_again"),
        ("resolve_name", "resolver/resolve_name_own_layout"),
        ("resolve_addr", "resolver/resolve_addr"),
        ("resolve_addr", "resolver/resolve_addr_no_null_check"),
    ];
    for (scenario, name) in fixtures {
        let program = fixture(name);
        let verdict = |place: Option<Place>| {
            let mut command = place.map_or_else(crate::common::labrun, labrun_in);
            let output = command
                .args([&format!("scenarios/{scenario}.toml"), "--no-snapshot", "-q"])
                .arg("--with")
                .arg(format!("resolver={}", program.display()))
                .output()
                .expect("labrun runs");
            let err = stderr(&output);
            let score = err
                .lines()
                .find(|l| l.trim_start().starts_with("score:"))
                .map(str::to_string);
            (output.status.code(), score, err)
        };
        let (full_code, full_score, full) = verdict(None);
        let (code, score, err) = verdict(Some(Place::Container));
        assert!(score.is_some(), "{name} graded in the container:\n{err}");
        assert_eq!(
            (code, score),
            (full_code, full_score),
            "{name}: container\n{err}\nfull machine\n{full}"
        );
    }
}

/// A statically linked resolver ignores `LD_PRELOAD`: it would read the machine's own
/// `/etc/hosts`. It gets a clear message and no verdict.
#[test]
fn a_static_resolver_gets_a_clear_message_not_a_verdict_in_a_container() {
    if !can_confine() {
        return;
    }
    let scratch = Scratch::new("static-resolver");
    let program = scratch.path().join("resolve_name");
    let built = std::process::Command::new("gcc")
        .args(["-static", "-O0", "-w", "-o"])
        .arg(&program)
        .arg(root().join("tests/fixtures/resolver/resolve_name.c"))
        .output()
        .expect("gcc runs");
    if !built.status.success() {
        // Some machines have no static C library (libc6-dev has it on Debian).
        eprintln!("SKIPPED: gcc -static failed: {}", stderr(&built));
        return;
    }
    let output = labrun_in(Place::Container)
        .args([
            "scenarios/resolve_name.toml",
            "--no-snapshot",
            "-q",
            "--with",
        ])
        .arg(format!("resolver={}", program.display()))
        .output()
        .expect("labrun runs");
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(3), "{err}");
    assert!(err.contains("statically linked"), "{err}");
    assert!(!err.contains("score:"), "{err}");
}
