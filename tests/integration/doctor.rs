//! `labrun doctor`: one line per item, exit 0, here, in the simulated container and as the
//! simulated ordinary user.

use crate::common::{Place, labrun_in, run, stderr, stdout};

/// The items `labrun doctor` answers, in its order.
const ITEMS: [&str; 10] = [
    "network namespace",
    "user namespace",
    "mount namespace",
    "pid namespace",
    "packet capture",
    "quick ACKs",
    "pids cgroup",
    "other uids",
    "nss_wrapper",
    "gcc",
];

/// Each item's answer, checking that each has exactly one line `ITEM: yes …` or
/// `ITEM: no …`, and that one `isolation:` line follows them.
fn answers(text: &str) -> Vec<(&'static str, bool)> {
    let mut found = Vec::new();
    for item in ITEMS {
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with(&format!("{item}: ")))
            .collect();
        assert_eq!(lines.len(), 1, "one line for {item}:\n{text}");
        let answer = &lines[0][item.len() + 2..];
        assert!(
            answer.starts_with("yes") || answer.starts_with("no"),
            "{item} is answered yes or no:\n{text}"
        );
        found.push((item, answer.starts_with("yes")));
    }
    let isolation: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("isolation: "))
        .collect();
    assert_eq!(isolation.len(), 1, "{text}");
    found
}

fn answer(answers: &[(&str, bool)], item: &str) -> bool {
    answers
        .iter()
        .find(|(i, _)| *i == item)
        .is_some_and(|a| a.1)
}

#[test]
fn doctor_prints_one_line_per_item_and_exits_0() {
    let output = run(&["doctor"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_labrun")).expect("labrun's path");
    assert!(
        text.lines()
            .next()
            .unwrap_or("")
            .contains(&exe.display().to_string()),
        "the binary's real path comes first:\n{text}"
    );
    let answers = answers(&text);
    // SAFETY: a plain system call.
    if unsafe { libc::geteuid() } == 0 {
        // As root on this machine (see DOMAIN.md: namespaces work here), runs are private.
        for item in [
            "network namespace",
            "user namespace",
            "mount namespace",
            "pid namespace",
            "packet capture",
            "quick ACKs",
        ] {
            assert!(answer(&answers, item), "{item} as root:\n{text}");
        }
        assert!(text.contains("isolation: private network"), "{text}");
        assert!(
            text.contains("full isolation: yes, nothing to do"),
            "{text}"
        );
    }
}

/// Where Docker's defaults refuse every namespace, labrun says so, names the isolation runs
/// get and the docker options that would change it, and still exits 0.
#[test]
fn doctor_in_the_simulated_container_reports_namespaces_refused() {
    if !crate::common::can_confine() {
        return;
    }
    let output = labrun_in(Place::Container)
        .arg("doctor")
        .output()
        .expect("labrun runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let answers = answers(&text);
    for item in [
        "network namespace",
        "user namespace",
        "mount namespace",
        "pid namespace",
    ] {
        assert!(!answer(&answers, item), "{item} in a container:\n{text}");
    }
    // Root in the container keeps CAP_NET_RAW (capture), CAP_SETUID and CAP_SETGID, not
    // NET_ADMIN; /sys/fs/cgroup is read-only.
    assert!(answer(&answers, "packet capture"), "{text}");
    assert!(answer(&answers, "other uids"), "{text}");
    assert!(!answer(&answers, "quick ACKs"), "{text}");
    assert!(!answer(&answers, "pids cgroup"), "{text}");
    assert!(text.contains("isolation: shared network"), "{text}");
    assert!(
        text.contains("`docker run --security-opt seccomp=unconfined …`"),
        "{text}"
    );
    assert!(
        text.contains("`docker run --cap-add NET_ADMIN …`"),
        "{text}"
    );
}

/// An ordinary user without user namespaces: nothing is allowed, and the way out names
/// this binary.
#[test]
fn doctor_as_the_simulated_user_reports_no_namespace_and_no_capture() {
    if !crate::common::can_confine() {
        return;
    }
    let output = labrun_in(Place::User)
        .arg("doctor")
        .output()
        .expect("labrun runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let answers = answers(&text);
    for item in [
        "network namespace",
        "user namespace",
        "packet capture",
        "other uids",
    ] {
        assert!(!answer(&answers, item), "{item} as nobody:\n{text}");
    }
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_labrun")).expect("labrun's path");
    assert!(
        text.contains(&format!(
            "`sudo setcap cap_net_admin,cap_net_raw,cap_sys_admin+ep {}`",
            exe.display()
        )),
        "{text}"
    );
}
