//! Exercise 1.1: name resolution on the run's private `/etc/hosts`, with the reference
//! programs and with C programs written the way students write them.

use crate::common::{Scratch, fixture, run, stderr, transcript};

/// The lines printed for one query: everything between its `start` and its `exit`.
fn answer(text: &str, query: &str) -> Vec<String> {
    let mut lines = text
        .lines()
        .skip_while(|l| !l.ends_with(&format!("start  {query}")));
    lines
        .next()
        .unwrap_or_else(|| panic!("no query {query:?} in:\n{text}"));
    lines
        .take_while(|l| !l.contains("  start  "))
        .map(|l| {
            l.split_once("resolver  ")
                .map_or(l, |(_, rest)| rest)
                .to_string()
        })
        .collect()
}

#[test]
fn the_labs_name_resolves_to_the_labs_address_on_any_machine() {
    let text = transcript("resolve_name", &[]);
    assert_eq!(
        answer(&text, "lipn.univ-paris13.fr"),
        [
            "out    Nom officiel : lipn.univ-paris13.fr",
            "out    Alias : lipn",
            "out    Adresse : 194.254.163.24",
            "exit   exited with status 0",
        ]
    );
    let multi = answer(&text, "multi.example");
    assert_eq!(
        multi.iter().filter(|l| l.contains("Alias : ")).count(),
        3,
        "{multi:?}"
    );
    assert_eq!(
        multi.iter().filter(|l| l.contains("Adresse : ")).count(),
        2,
        "{multi:?}"
    );
    assert_eq!(
        answer(&text, "194.254.163.24")[0],
        "out    Nom officiel : 194.254.163.24",
        "a dotted address is echoed"
    );
    let unknown = answer(&text, "nosuch.invalid");
    assert!(
        unknown[0].starts_with("err    resolve-name: hôte inconnu : nosuch.invalid"),
        "{unknown:?}"
    );
    assert_eq!(unknown[1], "exit   exited with status 2");
}

#[test]
fn addresses_resolve_back_to_names() {
    let text = transcript("resolve_addr", &[]);
    assert_eq!(
        answer(&text, "194.254.163.24")[0],
        "out    Nom officiel : lipn.univ-paris13.fr"
    );
    assert_eq!(
        answer(&text, "127.0.0.1")[0],
        "out    Nom officiel : localhost"
    );
    assert_eq!(
        answer(&text, "192.0.2.99").last().map(String::as_str),
        Some("exit   exited with status 2")
    );
}

#[test]
fn the_machines_own_hosts_file_does_not_matter() {
    // A name of the machine's own /etc/hosts is unknown in a run whose hosts do not have it.
    let machine_hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let Some(name) = machine_hosts
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(|l| l.split_whitespace().skip(1))
        .find(|n| {
            *n != "localhost"
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        })
    else {
        return;
    };
    let scratch = Scratch::new("hosts");
    let scenario = format!(
        "[[host]]\nname = \"localhost\"\naddresses = [\"127.0.0.1\"]\n\n[[resolver]]\nlookup = \"name\"\nqueries = [\"{name}\", \"localhost\"]\n"
    );
    let path = scratch.write("hosts.toml", scenario);
    let output = run(&[path.to_str().expect("utf-8"), "--no-snapshot"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        answer(&text, name).last().map(String::as_str),
        Some("exit   exited with status 2"),
        "{text}"
    );
    assert_eq!(
        answer(&text, "localhost")[0],
        "out    Nom officiel : localhost"
    );
}

#[test]
fn a_correct_c_program_gives_the_same_answers() {
    let (code, text, rubric) = graded("resolve_name", "resolve_name");
    assert_eq!(code, Some(0), "{rubric}");
    let reference = transcript("resolve_name", &[]);
    for query in [
        "lipn.univ-paris13.fr",
        "multi.example",
        "localhost",
        "194.254.163.24",
    ] {
        assert_eq!(answer(&text, query), answer(&reference, query), "{query}");
    }
    // Its own message for an unknown name, and the same status.
    assert_eq!(
        answer(&text, "nosuch.invalid").last().map(String::as_str),
        Some("exit   exited with status 2")
    );
}

/// A student's resolver graded with the scenario's rubric: its exit code, transcript and
/// the rubric's output.
fn graded(scenario: &str, program: &str) -> (Option<i32>, String, String) {
    let program = fixture(&format!("resolver/{program}"));
    let path = format!("scenarios/{scenario}.toml");
    let with = format!("resolver={}", program.display());
    let output = run(&[&path, "--no-snapshot", "--with", &with]);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr(&output),
    )
}

#[test]
fn the_labs_missing_null_check_crashes_and_is_seen() {
    let (code, text, rubric) = graded("resolve_name", "resolve_name_no_null_check");
    assert_eq!(code, Some(1), "{rubric}");
    assert_eq!(
        answer(&text, "nosuch.invalid"),
        ["exit   killed by signal 11 (SIGSEGV)"],
        "{text}"
    );
    assert_eq!(
        answer(&text, "localhost").last().map(String::as_str),
        Some("exit   exited with status 0")
    );
    assert!(rubric.contains("gethostbyname() returns NULL"), "{rubric}");
}

#[test]
fn printing_only_the_first_address_shows_in_the_transcript() {
    let (code, text, rubric) = graded("resolve_name", "resolve_name_first_address_only");
    assert_eq!(code, Some(1), "{rubric}");
    let multi = answer(&text, "multi.example");
    assert_eq!(
        multi.iter().filter(|l| l.contains("Adresse : ")).count(),
        1,
        "{multi:?}"
    );
    assert!(rubric.contains("h_addr_list"), "{rubric}");
}

#[test]
fn inet_ntoas_static_buffer_is_caught() {
    let (code, _, rubric) = graded("resolve_name", "resolve_name_inet_ntoa_misuse");
    assert_eq!(code, Some(1), "{rubric}");
    assert!(rubric.contains("static buffer"), "{rubric}");
}

/// Graded on content: the same alias printed again in place of the others is caught,
/// whatever the header above it says.
#[test]
fn the_first_alias_printed_again_is_caught() {
    let (code, _, rubric) = graded("resolve_name", "resolve_name_first_alias_again");
    assert_eq!(code, Some(1), "{rubric}");
    let aliases = rubric
        .lines()
        .find(|l| l.contains("prints every alias"))
        .unwrap_or_default();
    assert!(
        aliases.contains('✗') && aliases.contains("m1, m2"),
        "{rubric}"
    );
    assert!(rubric.contains("same alias"), "{rubric}");
}

/// An address resolver that prints its argument as the address (and, before the lookup,
/// for an address nobody has too) does not pass for printing the address; it does for
/// the name and the aliases it prints from the answer.
#[test]
fn the_argument_printed_back_is_not_the_address() {
    let (code, text, rubric) = graded("resolve_addr", "resolve_addr_echo");
    assert_eq!(code, Some(1), "{rubric}");
    assert!(
        answer(&text, "192.0.2.99").contains(&"out    Adresse : 192.0.2.99".to_string()),
        "{text}"
    );
    let verdict = |name: &str| {
        rubric
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no check {name:?} in:\n{rubric}"))
            .trim_start()
            .chars()
            .next()
    };
    assert_eq!(verdict("prints the address"), Some('✗'), "{rubric}");
    assert_eq!(verdict("finds the lab's host"), Some('✓'), "{rubric}");
    assert_eq!(verdict("prints the aliases"), Some('✓'), "{rubric}");
    assert!(rubric.contains("argument is printed back"), "{rubric}");
    assert!(rubric.contains("h_addr_list"), "{rubric}");
}

#[test]
fn correct_resolvers_pass_their_rubrics() {
    for (scenario, program) in [
        ("resolve_name", "resolve_name"),
        ("resolve_addr", "resolve_addr"),
        ("resolve_name", "resolve_name_wording"),
        // Every name, alias and address, in a layout of its own: full marks.
        ("resolve_name", "resolve_name_own_layout"),
    ] {
        let (code, _, rubric) = graded(scenario, program);
        assert_eq!(code, Some(0), "{program}: {rubric}");
    }
}

#[test]
fn the_reference_programs_run_by_hand() {
    let output = run(&["ref", "resolve-name", "127.0.0.1"]);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "Nom officiel : 127.0.0.1\nAdresse : 127.0.0.1\n"
    );
    let output = run(&["ref", "resolve-addr", "not-an-address"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("adresse invalide"));
}

/// The run's own /etc/hosts lives in its own mount namespace: after it, the host's mounts
/// and files are as they were, and nothing of it is left in the temporary folder.
#[test]
fn a_private_hosts_file_leaves_no_mount_and_no_file_behind() {
    let mounts = || std::fs::read_to_string("/proc/self/mountinfo").expect("read mountinfo");
    let hosts = || std::fs::read("/etc/hosts").unwrap_or_default();
    // A temporary folder of the run's own: whatever the run writes there must be gone.
    let tmp = crate::common::Scratch::new("private-hosts");
    let (mounts_before, hosts_before) = (mounts(), hosts());
    let output = crate::common::labrun()
        .args([
            "scenarios/resolve_name.toml",
            "--no-snapshot",
            "--time-scale",
            "0",
        ])
        .env("TMPDIR", tmp.path())
        .output()
        .expect("labrun runs");
    assert!(
        output.status.success(),
        "{}",
        crate::common::stderr(&output)
    );
    assert_eq!(mounts(), mounts_before, "the host's mounts changed");
    assert_eq!(hosts(), hosts_before, "the host's /etc/hosts changed");
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("the run's temporary folder")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        left.is_empty(),
        "left behind in the temporary folder: {left:?}"
    );
}
