//! The ready autograders: the Gradescope zip and the PrairieLearn folder, unpacked into a
//! temporary `/autograder`- or `/grade`-like root, their entry point run on a correct and
//! a broken submission (the lab's C fixtures, built by real gcc), and their results.json
//! read.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use crate::common::{Place, Scratch, confined, correct_submission, root, run, stderr};

/// The scenarios the course grades.
const SCENARIOS: [&str; 8] = [
    "udp_basic",
    "udp_two_clients",
    "udp_no_server",
    "tcp_basic",
    "tcp_two_clients",
    "tcp_sleep",
    "resolve_name",
    "resolve_addr",
];

/// What is wrong in the broken submission, and what its results must say.
const NO_REPLY_HINT: &str = "`server` sends no reply";
const BROKEN_C: &str = "int main(void) { return undeclared; }\n";

/// Copies a submission into `dir`: the correct one, or with a server that never replies
/// and a resolver that does not compile.
fn submission(dir: &Path, broken: bool) {
    correct_submission(dir);
    if broken {
        std::fs::copy(
            root().join("tests/fixtures/students/tcp_server_no_reply.c"),
            dir.join("serveur.c"),
        )
        .expect("copy the broken server");
        std::fs::write(dir.join("resolve_addr.c"), BROKEN_C).expect("write");
    }
}

/// `labrun autograder gradescope`, unpacked into `ROOT/source` as Gradescope does, with the
/// modes the zip gives; returns ROOT.
fn gradescope_root(scratch: &Scratch) -> std::path::PathBuf {
    let zip_path = scratch.path().join("autograder.zip");
    let output = run(&[
        "autograder",
        "gradescope",
        "courses/tp-sockets.toml",
        "--out",
        zip_path.to_str().expect("utf-8"),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let root = scratch.path().join("autograder");
    let file = std::fs::File::open(&zip_path).expect("the zip is written");
    let mut zip = zip::ZipArchive::new(file).expect("a valid zip");
    let mut names = Vec::new();
    for i in 0..zip.len() {
        let entry = zip.by_index(i).expect("an entry");
        names.push((entry.name().to_string(), entry.unix_mode().unwrap_or(0)));
    }
    let mode = |name: &str| {
        names
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} in the zip: {names:?}"))
            .1
    };
    for executable in ["setup.sh", "run_autograder", "labrun"] {
        assert_eq!(
            mode(executable) & 0o111,
            0o111,
            "{executable} is executable"
        );
    }
    // The course finds its scenarios where it says they are (`../scenarios`).
    mode("course/courses/tp-sockets.toml");
    for scenario in SCENARIOS {
        mode(&format!("course/scenarios/{scenario}.toml"));
    }
    zip.extract(root.join("source")).expect("unpack the zip");
    let unpacked = std::fs::metadata(root.join("source/labrun")).expect("labrun unpacked");
    assert_eq!(unpacked.permissions().mode() & 0o111, 0o111);
    root
}

/// Runs an autograder's entry point with its root moved to `root`, in `place` (the machine
/// itself when `None`).
fn run_entry(entry: &Path, root: &Path, place: Option<Place>) -> Output {
    let mut command = match place {
        Some(place) => confined(place, entry),
        None => Command::new(entry),
    };
    command
        .env("LABRUN_AUTOGRADER_ROOT", root)
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .output()
        .expect("the entry point runs")
}

fn results(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// Gradescope's fields, on every test; the tests cover every scenario of the course.
fn check_gradescope_shape(value: &serde_json::Value) -> &Vec<serde_json::Value> {
    assert!(value["score"].is_number(), "{value}");
    assert!(value["execution_time"].is_u64(), "{value}");
    let tests = value["tests"].as_array().expect("tests");
    for test in tests {
        let name = test["name"].as_str().expect("a name");
        assert!(
            SCENARIOS
                .iter()
                .any(|s| name.starts_with(&format!("{s}: "))),
            "named `scenario: check`: {name}"
        );
        assert!(
            test["score"].is_u64() && test["max_score"].is_u64(),
            "{test}"
        );
        assert!(
            test["status"] == "passed" || test["status"] == "failed",
            "{test}"
        );
        assert_eq!(test["visibility"], "visible", "{test}");
        assert!(test["output"].is_string(), "{test}");
    }
    for scenario in SCENARIOS {
        assert!(
            tests.iter().any(|t| t["name"]
                .as_str()
                .unwrap_or("")
                .starts_with(&format!("{scenario}: "))),
            "{scenario} is graded: {value}"
        );
    }
    tests
}

fn sum(tests: &[serde_json::Value], field: &str) -> u64 {
    tests.iter().map(|t| t[field].as_u64().unwrap_or(0)).sum()
}

fn gradescope(place: Option<Place>, broken: bool) {
    if place.is_some() && !crate::common::can_confine() {
        return;
    }
    let scratch = Scratch::new("gradescope");
    let root = gradescope_root(&scratch);
    submission(&root.join("submission"), broken);
    let output = run_entry(&root.join("source/run_autograder"), &root, place);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let value = results(&root.join("results/results.json"));
    let tests = check_gradescope_shape(&value);
    let max = sum(tests, "max_score");
    assert_eq!(
        value["score"].as_u64(),
        Some(sum(tests, "score")),
        "{value}"
    );
    if place.is_some() {
        // The runs' one line about their isolation is said once, at the top.
        assert!(
            value["output"]
                .as_str()
                .unwrap_or("")
                .starts_with("warning: this run has the machine's network"),
            "{value}"
        );
    }
    if !broken {
        assert_eq!(value["score"].as_u64(), Some(max), "full score: {value}");
        assert!(tests.iter().all(|t| t["status"] == "passed"), "{value}");
        return;
    }
    assert!(value["score"].as_u64().unwrap_or(max) < max, "{value}");
    let no_reply = tests
        .iter()
        .find(|t| t["name"] == "tcp_basic: server answers each question")
        .expect("the server's check");
    assert_eq!(no_reply["status"], "failed");
    assert!(
        no_reply["output"]
            .as_str()
            .unwrap_or("")
            .contains(NO_REPLY_HINT),
        "the hint: {no_reply}"
    );
    let unbuilt = tests
        .iter()
        .find(|t| t["name"] == "resolve_addr: resolver")
        .expect("the resolver that did not build");
    assert_eq!(unbuilt["status"], "failed");
    assert_eq!(unbuilt["score"], 0);
    assert!(unbuilt["max_score"].as_u64().unwrap_or(0) > 0, "{unbuilt}");
    let output = unbuilt["output"].as_str().unwrap_or("");
    assert!(
        output.contains("does not compile") && output.contains("undeclared"),
        "the compiler's message: {unbuilt}"
    );
}

#[test]
fn gradescope_autograder_gives_a_correct_submission_the_full_score() {
    gradescope(None, false);
}

#[test]
fn gradescope_autograder_gives_a_broken_submission_its_hints() {
    gradescope(None, true);
}

#[test]
fn gradescope_autograder_in_the_simulated_container() {
    gradescope(Some(Place::Container), false);
    gradescope(Some(Place::Container), true);
}

fn prairielearn(place: Option<Place>, broken: bool) {
    if place.is_some() && !crate::common::can_confine() {
        return;
    }
    let scratch = Scratch::new("prairielearn");
    // Where the course's serverFilesCourse/labrun folder is copied in the grader.
    let grader = scratch.path().join("grade/serverFilesCourse/labrun");
    let output = run(&[
        "autograder",
        "prairielearn",
        "courses/tp-sockets.toml",
        "--out",
        grader.to_str().expect("utf-8"),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let info: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("info.json settings on stdout");
    assert_eq!(
        info["externalGradingOptions"]["entrypoint"],
        "/grade/serverFilesCourse/labrun/run.sh"
    );
    let root = scratch.path().join("grade");
    submission(&root.join("student"), broken);
    let output = run_entry(&grader.join("run.sh"), &root, place);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let value = results(&root.join("results/results.json"));
    assert_eq!(value["gradable"], true, "{value}");
    assert!(value["message"].is_string(), "{value}");
    let score = value["score"].as_f64().expect("a score");
    assert!((0.0..=1.0).contains(&score), "{value}");
    let tests = value["tests"].as_array().expect("tests");
    for test in tests {
        for field in ["name", "message", "output"] {
            assert!(test[field].is_string(), "{field}: {test}");
        }
        assert!(
            test["points"].as_u64() <= test["max_points"].as_u64(),
            "{test}"
        );
    }
    let (points, max) = (sum(tests, "points"), sum(tests, "max_points"));
    assert!((score - points as f64 / max as f64).abs() < 1e-9, "{value}");
    if !broken {
        assert_eq!(score, 1.0, "full score: {value}");
        return;
    }
    assert!(score < 1.0, "{value}");
    let no_reply = tests
        .iter()
        .find(|t| t["name"] == "tcp_basic: server answers each question")
        .expect("the server's check");
    assert_eq!(no_reply["points"], 0);
    assert!(
        no_reply["output"]
            .as_str()
            .unwrap_or("")
            .contains(NO_REPLY_HINT),
        "the hint: {no_reply}"
    );
    let unbuilt = tests
        .iter()
        .find(|t| t["name"] == "resolve_addr: resolver")
        .expect("the resolver that did not build");
    assert!(
        unbuilt["output"]
            .as_str()
            .unwrap_or("")
            .contains("undeclared"),
        "the compiler's message: {unbuilt}"
    );
}

#[test]
fn prairielearn_grader_gives_a_correct_submission_the_full_score() {
    prairielearn(None, false);
}

#[test]
fn prairielearn_grader_gives_a_broken_submission_its_hints() {
    prairielearn(None, true);
}

#[test]
fn prairielearn_grader_in_the_simulated_container() {
    prairielearn(Some(Place::Container), false);
    prairielearn(Some(Place::Container), true);
}

/// `labrun grade --gradescope` with several submissions: each gets its own results file in
/// its folder of `--out`.
#[test]
fn grading_several_submissions_writes_a_results_file_in_each_folder() {
    let scratch = Scratch::new("gradescope-class");
    for student in ["alice", "bob"] {
        submission(&scratch.path().join(student), student == "bob");
    }
    let out = scratch.path().join("grades");
    let output = run(&[
        "grade",
        "courses/tp-sockets.toml",
        &scratch.arg("alice"),
        &scratch.arg("bob"),
        "--scenario",
        "tcp_basic",
        "--out",
        out.to_str().expect("utf-8"),
        "--gradescope",
        "results.json",
        "--prairielearn",
        "prairielearn.json",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let alice = results(&out.join("alice/results.json"));
    let bob = results(&out.join("bob/results.json"));
    assert_eq!(alice["score"], 22, "{alice}");
    assert!(bob["score"].as_u64() < Some(22), "{bob}");
    assert_eq!(results(&out.join("alice/prairielearn.json"))["score"], 1.0);
    assert!(
        !root().join("results.json").exists(),
        "nothing written where FILE itself points"
    );
}

#[test]
fn bad_autograder_command_lines() {
    let scratch = Scratch::new("autograder-bad");
    let zip = scratch.arg("a.zip");
    let output = run(&[
        "autograder",
        "gradescope",
        "no/such/course.toml",
        "--out",
        &zip,
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("cannot read course no/such/course.toml"),
        "{}",
        stderr(&output)
    );
    // A course grading a scenario that is not there is refused before anything is written.
    let course = scratch.write(
        "course.toml",
        format!(
            "scenarios = \"{}\"\n[[grade]]\nscenario = \"nosuch\"\nrole = \"server\"\nfile = \"s.c\"\n",
            root().join("scenarios").display()
        ),
    );
    let output = run(&[
        "autograder",
        "gradescope",
        course.to_str().expect("utf-8"),
        "--out",
        &zip,
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("`nosuch`"), "{}", stderr(&output));
    assert!(!scratch.path().join("a.zip").exists());
    // A folder of something else is never overwritten.
    scratch.write("notes.txt", "mine");
    let output = run(&[
        "autograder",
        "prairielearn",
        "courses/tp-sockets.toml",
        "--out",
        scratch.path().to_str().expect("utf-8"),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("is not a labrun grader folder"),
        "{}",
        stderr(&output)
    );
    assert!(scratch.path().join("notes.txt").exists());
    // Both results at the same file.
    let output = run(&[
        "grade",
        "courses/tp-sockets.toml",
        &scratch.arg("."),
        "--gradescope",
        &scratch.arg("r.json"),
        "--prairielearn",
        &scratch.arg("r.json"),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}
