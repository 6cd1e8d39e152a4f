//! Grading students' programs with the shipped rubrics: every program of
//! `tests/fixtures/students/` gets the verdict and the hint its header announces, as a
//! careful teaching assistant would give them.

use std::path::Path;

use crate::common::{Place, Scratch, fixture, labrun, labrun_in, root, stderr};

/// What a student fixture's header says about it, for one scenario.
struct Expected {
    name: String,
    scenario: &'static str,
    role: &'static str,
    pass: bool,
    hint: String,
}

/// Which scenario a fixture is graded against: the basic one of its protocol, or the one
/// with two clients (a client fixture plays the second client there, as in the course).
#[derive(Clone, Copy)]
enum Against {
    Basic,
    TwoClients,
}

fn header(path: &Path, against: Against) -> Expected {
    let text = std::fs::read_to_string(path).expect("read fixture");
    let optional = |key: &str| {
        text.lines().find_map(|l| {
            l.split_once(&format!("{key}: "))
                .map(|(_, v)| v.trim().to_string())
        })
    };
    let field =
        |key: &str| optional(key).unwrap_or_else(|| panic!("{} has no `{key}:`", path.display()));
    let (scenario, role) = match (field("role").as_str(), against) {
        ("tcp-server", Against::Basic) => ("tcp_basic", "server"),
        ("tcp-client", Against::Basic) => ("tcp_basic", "client"),
        ("udp-server", Against::Basic) => ("udp_basic", "server"),
        ("udp-client", Against::Basic) => ("udp_basic", "client"),
        ("tcp-server", Against::TwoClients) => ("tcp_two_clients", "server"),
        ("tcp-client", Against::TwoClients) => ("tcp_two_clients", "client2"),
        ("udp-server", Against::TwoClients) => ("udp_two_clients", "server"),
        ("udp-client", Against::TwoClients) => ("udp_two_clients", "client2"),
        (other, _) => panic!("unknown role {other} in {}", path.display()),
    };
    // With two clients, a fixture may have its own verdict and hint; otherwise the basic ones.
    let (verdict, hint) = match against {
        Against::Basic => (field("verdict"), field("expected-hint")),
        Against::TwoClients => (
            optional("verdict-two-clients").unwrap_or_else(|| field("verdict")),
            optional("expected-hint-two-clients").unwrap_or_else(|| field("expected-hint")),
        ),
    };
    Expected {
        name: path
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .into_owned(),
        scenario,
        role,
        pass: verdict == "pass",
        hint,
    }
}

/// Grades one program: (exit code, what labrun printed on stderr).
fn grade(scenario: &str, role: &str, program: &Path, extra: &[&str]) -> (Option<i32>, String) {
    grade_in(None, scenario, role, program, extra)
}

/// [`grade`] in `place`, or on this machine as it is.
fn grade_in(
    place: Option<Place>,
    scenario: &str,
    role: &str,
    program: &Path,
    extra: &[&str],
) -> (Option<i32>, String) {
    let path = format!("scenarios/{scenario}.toml");
    let with = format!("{role}={}", program.display());
    let mut args = vec![path.as_str(), "--no-snapshot", "-q", "--with", &with];
    args.extend_from_slice(extra);
    let mut command = place.map_or_else(labrun, labrun_in);
    let output = command.args(&args).output().expect("labrun runs");
    (output.status.code(), stderr(&output))
}

/// Programs whose mistake the shipped scenarios cannot show, with the reason.
const INVISIBLE_HERE: &[(&str, &str)] = &[(
    "udp_client_no_null_check",
    "it crashes only for an unknown host name, and the UDP scenarios give it 127.0.0.1",
)];

/// Grades every student fixture against the scenario `against` picks, all at once, and
/// fails with every verdict or hint that is not the one its header announces.
fn every_student_program_against(against: Against) {
    every_student_program_in(None, against);
}

/// [`every_student_program_against`] in `place`.
fn every_student_program_in(place: Option<Place>, against: Against) {
    if place.is_some() && !crate::common::can_confine() {
        return;
    }
    let mut fixtures: Vec<Expected> = std::fs::read_dir(root().join("tests/fixtures/students"))
        .expect("students folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .map(|p| header(&p, against))
        .filter(|e| !INVISIBLE_HERE.iter().any(|(name, _)| *name == e.name))
        .collect();
    fixtures.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(fixtures.len() >= 20, "only {} fixtures", fixtures.len());
    // Runs mostly sleep (the servers' 2 s): all at once.
    let results: Vec<(String, Option<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = fixtures
            .iter()
            .map(|e| {
                scope.spawn(move || {
                    let program = fixture(&format!("students/{}", e.name));
                    let (code, err) = grade_in(place, e.scenario, e.role, &program, &[]);
                    let verdict_ok = code == Some(if e.pass { 0 } else { 1 });
                    let hints: String = err
                        .lines()
                        .filter(|l| l.trim_start().starts_with("hint:"))
                        .collect::<Vec<_>>()
                        .join("\n");
                    let hint_ok = e.pass || hints.to_lowercase().contains(&e.hint.to_lowercase());
                    let problem = (!verdict_ok || !hint_ok).then(|| {
                        format!(
                            "{} in {} as {}: expected {} with a hint about {:?}, got exit {code:?}:\n{err}",
                            e.name,
                            e.scenario,
                            e.role,
                            if e.pass { "pass" } else { "fail" },
                            e.hint
                        )
                    });
                    (e.name.clone(), problem)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("grading thread"))
            .collect()
    });
    let problems: Vec<String> = results.into_iter().filter_map(|(_, p)| p).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn every_student_program_gets_the_expected_verdict_and_hint() {
    every_student_program_against(Against::Basic);
}

/// The two-client scenarios grade what one client cannot show (a server that stops after
/// its first client, one counter for everybody, each reply to its sender) and give the other
/// mistakes the same verdict and hint.
#[test]
fn every_student_program_gets_the_expected_verdict_and_hint_with_two_clients() {
    every_student_program_against(Against::TwoClients);
}

/// Where graders run (Gradescope's container, an ordinary user), the same programs get the
/// same verdicts and hints as on a machine where labrun may make namespaces.
#[test]
fn every_student_program_gets_the_same_verdict_and_hint_in_a_container() {
    every_student_program_in(Some(Place::Container), Against::Basic);
}

#[test]
fn every_student_program_gets_the_same_verdict_and_hint_as_an_ordinary_user() {
    every_student_program_in(Some(Place::User), Against::Basic);
}

#[test]
fn every_student_program_gets_the_same_verdict_with_two_clients_in_a_container() {
    every_student_program_in(Some(Place::Container), Against::TwoClients);
}

#[test]
fn the_correct_c_programs_pass_every_rubric_in_every_direction() {
    let runs = [
        ("tcp_basic", "server", "serveur"),
        ("tcp_basic", "client", "clientt"),
        ("udp_basic", "server", "serveuru"),
        ("udp_basic", "client", "clientu"),
        ("tcp_two_clients", "server", "serveur"),
        ("tcp_two_clients", "client1", "clientt"),
        ("tcp_two_clients", "client2", "clientt"),
        ("udp_two_clients", "server", "serveuru"),
        ("udp_two_clients", "client1", "clientu"),
        ("udp_two_clients", "client2", "clientu"),
        ("udp_no_server", "client", "clientu"),
    ];
    // Each program is built once, then the runs (mostly sleeping) go at once.
    let programs: Vec<_> = runs.iter().map(|(_, _, p)| fixture(p)).collect();
    let problems: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .iter()
            .zip(&programs)
            .map(|((scenario, role, _), program)| {
                scope.spawn(move || {
                    let (code, err) = grade(scenario, role, program, &[]);
                    let graded = err.contains(&format!("grading {role}"));
                    (code != Some(0) || err.contains('✗') || !graded)
                        .then(|| format!("{scenario} {role}: exit {code:?}\n{err}"))
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().expect("grading thread"))
            .collect()
    });
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// Every scenario with a rubric for a server or a client grades both directions, and every
/// direction of the course has checks to grade it with.
#[test]
fn the_course_grades_only_directions_with_a_rubric() {
    let course = std::fs::read_to_string(root().join("courses/tp-sockets.toml")).expect("course");
    let course: toml::Table = toml::from_str(&course).expect("course TOML");
    let directions = course["grade"].as_array().expect("[[grade]] tables");
    for d in directions {
        let (scenario, role) = (
            d["scenario"].as_str().expect("scenario"),
            d["role"].as_str().expect("role"),
        );
        let text = std::fs::read_to_string(root().join(format!("scenarios/{scenario}.toml")))
            .expect("scenario");
        assert!(
            text.contains(&format!("grades = \"{role}\"")),
            "{scenario} has no check for {role}"
        );
    }
    for (scenario, role) in [
        ("tcp_two_clients", "server"),
        ("tcp_two_clients", "client2"),
        ("udp_two_clients", "server"),
        ("udp_two_clients", "client2"),
        ("udp_no_server", "client"),
    ] {
        assert!(
            directions
                .iter()
                .any(|d| d["scenario"].as_str() == Some(scenario)
                    && d["role"].as_str() == Some(role)),
            "the course does not grade {scenario} {role}"
        );
    }
}

/// Grades `program` as `tcp_basic`'s server with the three report files in `scratch`:
/// (exit code, stderr, JSON, JUnit and Gradescope paths).
fn graded_with_reports(
    scratch: &Scratch,
    program: &Path,
) -> (
    Option<i32>,
    String,
    std::path::PathBuf,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    let dir = scratch.path();
    let (json, junit, gradescope) = (
        dir.join("r.json"),
        dir.join("r.xml"),
        dir.join("results.json"),
    );
    let (code, err) = grade(
        "tcp_basic",
        "server",
        program,
        &[
            "--report-json",
            json.to_str().expect("utf-8"),
            "--report-junit",
            junit.to_str().expect("utf-8"),
            "--report-gradescope",
            gradescope.to_str().expect("utf-8"),
        ],
    );
    (code, err, json, junit, gradescope)
}

#[test]
fn reports_in_json_junit_and_gradescope() {
    let scratch = Scratch::new("reports");
    let program = fixture("students/tcp_server_no_sleep");
    let (code, err, json, junit, gradescope) = graded_with_reports(&scratch, &program);
    assert_eq!(code, Some(1), "{err}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("valid JSON");
    assert_eq!(report["scenario"], "tcp_basic");
    assert_eq!(report["verdict"], "fail");
    assert!(report["score"].as_u64() < report["max_score"].as_u64());
    let sleeps = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == "server sleeps 2 s after each reply")
        .expect("the sleep check");
    assert_eq!(sleeps["passed"], false);
    assert_eq!(sleeps["points"], 0);
    assert!(sleeps["hint"].as_str().expect("hint").contains("sleep"));
    let junit = std::fs::read_to_string(&junit).expect("junit");
    let parsed = quick_junit::Report::deserialize_from_str(&junit).expect("well-formed JUnit");
    assert_eq!(parsed.test_suites[0].name.as_str(), "tcp_basic", "{junit}");
    assert_eq!(parsed.test_suites[0].failures, 1, "{junit}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&gradescope).expect("gradescope"))
            .expect("valid JSON");
    assert_eq!(results["score"], report["score"]);
    assert!(results["tests"].as_array().is_some_and(|t| !t.is_empty()));
}

/// A program that prints and sends control characters: they reach the checks' messages,
/// and the JUnit, JSON and Gradescope reports stay readable.
#[test]
fn control_characters_from_a_program_leave_every_report_valid() {
    let scratch = Scratch::new("control-reports");
    let program = fixture("hostile/control_chars");
    let (code, err, json, junit, gradescope) = graded_with_reports(&scratch, &program);
    assert_eq!(code, Some(1), "{err}");
    let junit = std::fs::read_to_string(&junit).expect("junit");
    let parsed = quick_junit::Report::deserialize_from_str(&junit)
        .unwrap_or_else(|e| panic!("not well-formed: {e}\n{junit}"));
    assert!(parsed.test_suites[0].failures >= 1, "{junit}");
    // The controls are shown (as their pictures), not dropped without a trace.
    assert!(
        junit.contains('\u{241b}') || junit.contains('\u{2407}'),
        "{junit}"
    );
    for file in [&json, &gradescope] {
        let text = std::fs::read_to_string(file).expect("report");
        serde_json::from_str::<serde_json::Value>(&text)
            .unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", file.display()));
    }
}

/// Question 8: a sleep before close() of any length from 1 s on passes `tcp_sleep`; the lab's
/// server without one fails, with a hint that names the question and what the sleep shows.
#[test]
fn question_8_a_sleep_before_close_is_graded_whatever_its_length() {
    let scratch = Scratch::new("question-8");
    let build = |delay: u32| {
        let program = scratch.path().join(format!("serveur-{delay}"));
        let built = std::process::Command::new("gcc")
            .args(["-w", "-O0", &format!("-DCLOSE_DELAY={delay}"), "-o"])
            .arg(&program)
            .arg(root().join("tests/fixtures/serveur.c"))
            .status()
            .expect("gcc runs");
        assert!(built.success());
        program
    };
    let programs: Vec<(u32, std::path::PathBuf)> =
        [0, 1, 3, 5].into_iter().map(|d| (d, build(d))).collect();
    let results: Vec<(u32, Option<i32>, String)> = std::thread::scope(|scope| {
        let runs: Vec<_> = programs
            .iter()
            .map(|(delay, program)| {
                scope.spawn(move || {
                    let (code, err) = grade("tcp_sleep", "server", program, &[]);
                    (*delay, code, err)
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().expect("a run")).collect()
    });
    for (delay, code, err) in results {
        if delay == 0 {
            assert_eq!(code, Some(1), "no sleep must fail:\n{err}");
            for words in [
                "question 8",
                "close()",
                "CLOSE_WAIT",
                "FIN_WAIT2",
                "two sockets",
            ] {
                assert!(err.contains(words), "hint without `{words}`:\n{err}");
            }
        } else {
            assert_eq!(code, Some(0), "a sleep of {delay} s must pass:\n{err}");
        }
    }
}
