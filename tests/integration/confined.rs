//! labrun where graders run it: a Docker-default container and an ordinary user without
//! user namespaces, both simulated by `tests/fixtures/confine/confine.c`.

use crate::common::{Place, confined, labrun_in, stderr, stdout};

/// The simulation is what the tests take it for: if it were not, every test below would
/// prove nothing.
#[test]
fn the_simulated_places_refuse_what_graders_refuse() {
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
}

/// A whole labrun run ends in the simulated container, whatever its verdict: the wrapper
/// hands labrun's exit code back.
#[test]
fn labrun_runs_in_the_simulated_container() {
    let output = labrun_in(Place::Container)
        .args(["--version"])
        .output()
        .expect("labrun runs");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).starts_with("labrun "));
}
