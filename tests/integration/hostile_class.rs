//! Submissions that attack: `kill(-1)`, killing their parent and its group, writing other
//! submissions' files and the grader's outputs, reading other submissions, filling `/tmp`,
//! a fork bomb, a compile-time `#include` of a file outside the submission. labrun must
//! survive all of them, grade them by their checks, and keep the others' grades, files and
//! feedback intact.
//!
//! Every labrun command here runs in a pid namespace made by the test itself
//! (`unshare --pid --fork --mount-proc`), beside a bystander process of the test's own: an
//! attack that gets through kills the bystander, not the machine. After labrun, the
//! namespace must hold nothing but the test's shell.
//!
//! The attackers are `tests/fixtures/hostile/*.c` on top of `attacker.h`, a correct lab
//! server that attacks once after its first reply.

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{Place, Scratch, confined as confined_in, fixture, root, stderr, stdout};

/// What a confined labrun command left.
struct Confined {
    output: Output,
    /// Processes of the namespace still there after labrun exited, `PID NAME`.
    left: Vec<String>,
    /// Whether the bystander was still alive after labrun.
    bystander: bool,
}

/// The shell that runs in the test's namespace: a bystander, labrun, then a look at what is
/// left (a loop of built-ins only, so that the shell itself starts nothing meanwhile).
const CONFINE: &str = r#"
sleep 600 & bystander=$!
"$@"; code=$?
if kill -0 "$bystander" 2>/dev/null; then echo "confine: bystander alive" >&2; fi
kill -9 "$bystander" 2>/dev/null; wait "$bystander" 2>/dev/null
for p in /proc/[0-9]*; do
  pid=${p#/proc/}
  [ "$pid" = 1 ] && continue
  if read -r name < "$p/comm" 2>/dev/null; then echo "confine: left $pid $name" >&2; fi
done
exit $code
"#;

/// Runs `labrun ARGS` in a pid namespace of the test's own, with `env` set.
fn confined(args: &[OsString], env: &[(&str, &str)]) -> Confined {
    let mut command = Command::new("unshare");
    command
        .args([
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
            "sh",
            "-c",
        ])
        .arg(CONFINE)
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_labrun"))
        .args(args)
        .current_dir(root())
        .env_remove("CI")
        .env("NO_COLOR", "1");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("unshare runs (util-linux)");
    let text = stderr(&output);
    let left = text
        .lines()
        .filter_map(|l| l.strip_prefix("confine: left "))
        .map(String::from)
        .collect();
    let bystander = text.lines().any(|l| l == "confine: bystander alive");
    Confined {
        output,
        left,
        bystander,
    }
}

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// An attacking fixture compiled with `defines` (`NAME`, C string value) into `dir`.
fn attacker(name: &str, defines: &[(&str, &Path)], dir: &Path) -> PathBuf {
    let source = root().join(format!("tests/fixtures/hostile/{name}.c"));
    let binary = dir.join(name);
    let mut gcc = Command::new("gcc");
    gcc.args(["-Wall", "-O0", "-o"]).arg(&binary).arg(&source);
    for (macro_name, value) in defines {
        gcc.arg(format!("-D{macro_name}=\"{}\"", value.display()));
    }
    assert!(gcc.status().expect("gcc runs").success(), "gcc on {name}");
    binary
}

/// `tcp_basic` with the server played by `server`, confined; the transcript and what is
/// left. Asserts what every attack must leave: a graded run, a living bystander, nothing
/// running.
fn attacked(server: &Path) -> (String, Confined) {
    attacked_with_env(server, &[])
}

/// [`attacked`] with labrun given `env`.
fn attacked_with_env(server: &Path, env: &[(&str, &str)]) -> (String, Confined) {
    let mut args = os(&["scenarios/tcp_basic.toml", "--no-snapshot", "--with"]);
    args.push(format!("server={}", server.display()).into());
    let run = confined(&args, env);
    let text = stdout(&run.output);
    let err = stderr(&run.output);
    assert!(run.bystander, "the attack reached the bystander:\n{err}");
    assert!(run.left.is_empty(), "left running: {:?}\n{err}", run.left);
    // Graded as usual: the attack does nothing the checks look at.
    assert!(
        err.contains("tcp_basic: grading server (pass)") && err.contains("score: 12/12"),
        "no verdict, or not the full score:\n{err}\n{text}"
    );
    assert_eq!(run.output.status.code(), Some(0), "{err}");
    (text, run)
}

/// Whether labrun runs programs as users of their own here (root with the capabilities).
fn own_users() -> bool {
    nix::unistd::geteuid().is_root()
}

#[test]
fn kill_minus_one_reaches_only_the_program_itself() {
    let dir = Scratch::new("hostile-kill");
    let (text, _) = attacked(&attacker("kills_everyone", &[], dir.path()));
    assert!(text.contains("attack: kill(-1, SIGKILL)"), "{text}");
    if own_users() {
        // Alone with its uid, in its own pid namespace: no process to signal.
        assert!(
            text.contains("attack: kill(-1, SIGKILL): No such process"),
            "{text}"
        );
    }
}

#[test]
fn a_program_cannot_kill_its_parent_or_its_group() {
    let dir = Scratch::new("hostile-parent");
    let (text, _) = attacked(&attacker("kills_its_parent", &[], dir.path()));
    assert!(text.contains("attack: parent "), "{text}");
    assert!(
        !text.contains("kill(getppid(), SIGKILL): succeeded"),
        "{text}"
    );
    assert!(!text.contains("kill(1, SIGKILL): succeeded"), "{text}");
    assert!(
        !text.contains("kill(-getpgid(getppid()), SIGKILL): succeeded"),
        "{text}"
    );
}

#[test]
fn a_program_cannot_write_files_it_was_not_given() {
    let dir = Scratch::new("hostile-write");
    let victim = dir.write("victim.c", "int main(void) { return 0; }\n");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).expect("out folder");
    let server = attacker(
        "writes_files",
        &[
            ("VICTIM", &victim),
            ("OUTDIR", &out),
            ("CLASSDIR", dir.path()),
        ],
        dir.path(),
    );
    let before = std::fs::read(&victim).expect("victim");
    let (text, _) = attacked(&server);
    for target in [
        victim.clone(),
        out.join("pwned.txt"),
        dir.path().join("pwned.txt"),
    ] {
        let line = format!("attack: write {}: ", target.display());
        assert!(text.contains(&line), "{line} missing in:\n{text}");
        assert!(!text.contains(&format!("{line}succeeded")), "{text}");
    }
    assert_eq!(std::fs::read(&victim).expect("victim"), before);
    assert!(!out.join("pwned.txt").exists());
    assert!(!dir.path().join("pwned.txt").exists());
    assert!(!Path::new("/tmp/labrun-hostile-dropped").exists());
}

#[test]
fn a_program_cannot_read_files_it_was_not_given() {
    let dir = Scratch::new("hostile-read");
    let secret = dir.write("secret.c", "/* SECRET-OF-SOMEONE-ELSE */\n");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let server = attacker("reads_files", &[("VICTIM", &secret)], dir.path());
    let (text, _) = attacked_with_env(&server, &[("CI_JOB_TOKEN", "TOKEN-OF-THE-GRADER")]);
    assert!(text.contains("attack: read "), "{text}");
    if own_users() {
        assert!(!text.contains("SECRET-OF-SOMEONE-ELSE"), "{text}");
        assert!(!text.contains("stolen: root:"), "{text}");
        assert!(!text.contains("TOKEN-OF-THE-GRADER"), "{text}");
        assert!(text.contains("stolen: PATH="), "{text}");
    }
}

#[test]
fn a_program_that_fills_tmp_fills_only_its_own() {
    let dir = Scratch::new("hostile-tmp");
    let (text, _) = attacked(&attacker("fills_tmp", &[], dir.path()));
    let filled: u64 = text
        .lines()
        .find_map(|l| l.split("attack: filled /tmp with ").nth(1))
        .and_then(|rest| rest.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no count in:\n{text}"));
    assert!(filled <= 64, "{filled} MiB in /tmp");
    assert_eq!(leftovers_in_tmp(), Vec::<String>::new());
}

#[test]
fn a_fork_bomb_is_capped_and_leaves_nothing() {
    let dir = Scratch::new("hostile-fork");
    let (text, _) = attacked(&attacker("fork_bomb", &[], dir.path()));
    let made: u32 = text
        .lines()
        .find_map(|l| l.split("the fork bomb made ").nth(1))
        .and_then(|rest| rest.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("the bomb was not stopped:\n{text}"));
    assert!(made < labrun::sandbox::cgroup::MAX_PROCESSES, "{made}");
}

/// What the attackers would leave in the machine's `/tmp`.
fn leftovers_in_tmp() -> Vec<String> {
    std::fs::read_dir("/tmp")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("labrun-hostile-"))
        .collect()
}

/// A submission folder of `class` holding `files` (`(name, text)`).
fn submission(class: &Path, name: &str, files: &[(&str, String)]) -> PathBuf {
    let folder = class.join(name);
    std::fs::create_dir_all(&folder).expect("submission folder");
    for (file, text) in files {
        std::fs::write(folder.join(file), text).expect("write a submission's file");
    }
    folder
}

fn fixture_text(path: &str) -> String {
    std::fs::read_to_string(root().join("tests/fixtures").join(path)).expect("fixture")
}

/// The lab's six correct programs (the server with question 8's sleep before close()),
/// each marked with `marker` in a comment.
fn correct_files(marker: &str) -> Vec<(&'static str, String)> {
    [
        ("serveur.c", "serveur.c"),
        ("clientt.c", "clientt.c"),
        ("serveuru.c", "serveuru.c"),
        ("clientu.c", "clientu.c"),
        ("resolve_name.c", "resolver/resolve_name.c"),
        ("resolve_addr.c", "resolver/resolve_addr.c"),
    ]
    .into_iter()
    .map(|(name, source)| {
        // Question 8 (`tcp_sleep`): the server sleeps before close().
        let delay = if name == "serveur.c" {
            "#define CLOSE_DELAY 3\n"
        } else {
            ""
        };
        (
            name,
            format!("/* {marker} */\n{delay}{}", fixture_text(source)),
        )
    })
    .collect()
}

/// An attacker's `serveur.c` (with `attacker.h` beside it) and the macros it is given.
fn attacking_files(name: &str, defines: &[(&str, &Path)]) -> Vec<(&'static str, String)> {
    let mut text = String::new();
    for (macro_name, value) in defines {
        text.push_str(&format!("#define {macro_name} \"{}\"\n", value.display()));
    }
    text.push_str(&fixture_text(&format!("hostile/{name}.c")));
    vec![
        ("serveur.c", text),
        ("attacker.h", fixture_text("hostile/attacker.h")),
    ]
}

/// Every file under `dir`, with its contents.
fn files_under(dir: &Path) -> HashMap<PathBuf, Vec<u8>> {
    let mut found = HashMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                found.insert(path, bytes);
            }
        }
    }
    found
}

/// The headline: a class of correct submissions graded with every attacker at once.
#[test]
fn a_class_with_attackers_is_graded_as_if_they_were_not_there() {
    let scratch = Scratch::new("hostile-class");
    let class = scratch.path().join("class");
    let out = scratch.path().join("grades");
    // The grade's own temporary folder: whatever labrun leaves there shows.
    let tmp = scratch.path().join("tmp");
    std::fs::create_dir_all(&tmp).expect("tmp");
    // Outside every submission, readable by root alone.
    let secret = scratch.write("grader-secret.h", "int SECRET_OF_THE_GRADER = 1;\n");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let alice = submission(&class, "alice", &correct_files("SECRET-OF-ALICE"));
    let bob = submission(&class, "bob", &correct_files("SECRET-OF-BOB"));
    let victim = alice.join("serveur.c");
    let attackers: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("m-kill", attacking_files("kills_everyone", &[])),
        ("m-parent", attacking_files("kills_its_parent", &[])),
        (
            "m-write",
            attacking_files(
                "writes_files",
                &[("VICTIM", &victim), ("OUTDIR", &out), ("CLASSDIR", &class)],
            ),
        ),
        (
            "m-read",
            attacking_files("reads_files", &[("VICTIM", &bob.join("serveur.c"))]),
        ),
        ("m-tmp", attacking_files("fills_tmp", &[])),
        ("m-fork", attacking_files("fork_bomb", &[])),
        (
            "m-include",
            vec![
                (
                    "serveur.c",
                    format!(
                        "#include \"{}\"\n{}",
                        secret.display(),
                        fixture_text("serveur.c")
                    ),
                ),
                (
                    "clientt.c",
                    format!(
                        "#include \"{}\"\n{}",
                        bob.join("clientt.c").display(),
                        "int unused;\n"
                    ),
                ),
            ],
        ),
    ];
    let mut folders = vec![alice.clone(), bob.clone()];
    for (name, files) in &attackers {
        folders.push(submission(&class, name, files));
    }
    let before = files_under(&class);

    let mut args = os(&[
        "grade",
        "courses/tp-sockets.toml",
        "--uid-range",
        "62000-62199",
    ]);
    args.push("--out".into());
    args.push(out.clone().into());
    args.extend(folders.iter().map(|f| f.clone().into_os_string()));
    let started = std::time::Instant::now();
    let env = [
        ("TMPDIR", tmp.to_str().expect("utf-8")),
        ("CI_JOB_TOKEN", "TOKEN-OF-THE-GRADER"),
    ];
    let run = confined(&args, &env);
    if std::env::var_os("LABRUN_KEEP_HOSTILE").is_some() {
        let _ = Command::new("cp")
            .arg("-a")
            .arg(scratch.path())
            .arg("/tmp/hostile-kept")
            .status();
    }
    let err = stderr(&run.output);
    let took = started.elapsed();
    assert!(run.bystander, "an attack reached the bystander:\n{err}");
    assert!(run.left.is_empty(), "left running: {:?}\n{err}", run.left);
    assert_eq!(run.output.status.code(), Some(1), "{err}");
    assert!(err.contains("2 of 9 submissions pass"), "{err}");
    assert!(took.as_secs() < 120, "took {took:?}");

    // The summary lists everyone; the correct submissions keep every point.
    let csv = std::fs::read_to_string(out.join("summary.csv")).expect("summary.csv");
    let rows: HashMap<&str, Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let fields: Vec<&str> = l.split(',').collect();
            (fields[0], fields)
        })
        .collect();
    let mut names: Vec<&&str> = rows.keys().collect();
    names.sort();
    assert_eq!(
        names,
        [
            &"alice",
            &"bob",
            &"m-fork",
            &"m-include",
            &"m-kill",
            &"m-parent",
            &"m-read",
            &"m-tmp",
            &"m-write"
        ],
        "{csv}"
    );
    for student in ["alice", "bob"] {
        let row = &rows[student];
        assert_eq!(row[1], row[2], "{student} lost points:\n{csv}");
        assert_eq!(row[3], "pass", "{csv}");
    }
    // Attackers are graded by their checks: as servers they are correct.
    let header: Vec<&str> = csv.lines().next().unwrap_or("").split(',').collect();
    let column = header
        .iter()
        .position(|c| *c == "tcp_basic:server")
        .expect("tcp_basic:server column");
    for attacker in ["m-kill", "m-parent", "m-write", "m-read", "m-tmp", "m-fork"] {
        assert_eq!(rows[attacker][column], "12/12", "{attacker}:\n{csv}");
    }

    // No file of the class was written or changed, none added.
    assert_eq!(files_under(&class), before, "the class folder changed");
    assert!(!out.join("pwned.txt").exists());
    assert_eq!(leftovers_in_tmp(), Vec::<String>::new());
    let left_in_tmp: Vec<_> = std::fs::read_dir(&tmp)
        .expect("tmp")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left_in_tmp.is_empty(), "left in TMPDIR: {left_in_tmp:?}");

    // The include of a file outside the submission fails, without showing it.
    let include = std::fs::read_to_string(out.join("m-include/feedback.txt")).expect("feedback");
    assert!(include.contains("does not compile"), "{include}");
    assert!(!include.contains("SECRET_OF_THE_GRADER"), "{include}");
    assert!(!include.contains("SECRET-OF-BOB"), "{include}");
    if own_users() {
        assert!(include.contains("Permission denied"), "{include}");
    }

    // Nothing of one submission shows in another's feedback or pages.
    for (folder, bytes) in files_under(&out) {
        let text = String::from_utf8_lossy(&bytes);
        let owner = folder
            .strip_prefix(&out)
            .ok()
            .and_then(|p| p.components().next())
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .unwrap_or_default();
        for (marker, student) in [("SECRET-OF-ALICE", "alice"), ("SECRET-OF-BOB", "bob")] {
            assert!(
                owner == student || !text.contains(marker),
                "{marker} in {}",
                folder.display()
            );
        }
        assert!(
            !text.contains("SECRET_OF_THE_GRADER"),
            "{}",
            folder.display()
        );
        assert!(!text.contains("stolen: root:"), "{}", folder.display());
    }
}

/// The shell of [`CONFINE`] inside the simulated Docker-default container (root with
/// Docker's capabilities, no namespace, no mount, no control group): only the users of
/// their own protect anything there.
fn in_container(script: &str, args: &[OsString]) -> Confined {
    scripted(confined_in(Place::Container, "sh"), script, args)
}

/// [`CONFINE`] with a script of the test's own, in a pid namespace made with `unshare`.
fn in_namespace(script: &str, args: &[OsString]) -> Confined {
    let mut unshare = Command::new("unshare");
    unshare.args(["--pid", "--fork", "--mount-proc", "--kill-child", "sh"]);
    scripted(unshare, script, args)
}

/// Runs `sh -c SCRIPT sh LABRUN ARGS…` with `wrapper` (which ends with `sh`).
fn scripted(mut wrapper: Command, script: &str, args: &[OsString]) -> Confined {
    let full = format!("{CONFINE_BEGIN}{script}{CONFINE_END}");
    let output = wrapper
        .arg("-c")
        .arg(full)
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_labrun"))
        .args(args)
        .current_dir(root())
        .env_remove("CI")
        .env("NO_COLOR", "1")
        .output()
        .expect("the wrapper runs");
    let text = stderr(&output);
    Confined {
        left: text
            .lines()
            .filter_map(|l| l.strip_prefix("confine: left "))
            .map(String::from)
            .collect(),
        bystander: text.lines().any(|l| l == "confine: bystander alive"),
        output,
    }
}

/// [`CONFINE`] around a script of the test's own; `$1` is labrun. The container's pid 1
/// is the wrapper and its shell is 2: both stay.
const CONFINE_BEGIN: &str = "sleep 600 & bystander=$!\nlabrun=$1; shift\n";
const CONFINE_END: &str = r#"
if kill -0 "$bystander" 2>/dev/null; then echo "confine: bystander alive" >&2; fi
kill -9 "$bystander" 2>/dev/null; wait "$bystander" 2>/dev/null
for p in /proc/[0-9]*; do
  pid=${p#/proc/}
  [ "$pid" = 1 ] || [ "$pid" = $$ ] && continue
  if read -r name < "$p/comm" 2>/dev/null; then echo "confine: left $pid $name" >&2; fi
done
exit $code
"#;

#[test]
fn in_a_container_kill_minus_one_reaches_only_the_programs_own_user() {
    if !own_users() {
        eprintln!("SKIPPED: the simulated container needs root");
        return;
    }
    let dir = Scratch::new("hostile-container-kill");
    // The same scenario on another port: the container has one loopback for both runs.
    let scenario = std::fs::read_to_string(root().join("scenarios/tcp_basic.toml"))
        .expect("tcp_basic")
        .replace("port = 4000", "port = 4100");
    let other = dir.write("tcp_basic.toml", scenario);
    let server = fixture("serveur");
    let attacker = attacker("kills_everyone", &[], dir.path());
    // A correct server's run, and, a second later (its server up and serving), the
    // attacker's, at the same time: the attack must not reach the other program.
    let script = r#"
"$labrun" scenarios/tcp_basic.toml --no-snapshot -q --with "server=$1" 2>"$3/correct.err" & correct=$!
sleep 1
"$labrun" "$4" --no-snapshot --with "server=$2" >"$3/attack.out" 2>"$3/attack.err"; attack=$?
wait "$correct"; correct=$?
echo "codes $correct $attack" >&2
code=0
"#;
    let run = in_container(
        script,
        &[
            server.into_os_string(),
            attacker.into_os_string(),
            dir.path().as_os_str().to_owned(),
            other.into_os_string(),
        ],
    );
    let err = stderr(&run.output);
    assert!(run.bystander, "the attack reached the bystander:\n{err}");
    assert!(run.left.is_empty(), "left running: {:?}\n{err}", run.left);
    assert!(err.contains("codes 0 0"), "{err}");
    let correct = std::fs::read_to_string(dir.path().join("correct.err")).expect("correct.err");
    assert!(correct.contains("score: 12/12"), "{correct}");
    let attack = std::fs::read_to_string(dir.path().join("attack.out")).expect("attack.out");
    assert!(attack.contains("attack: kill(-1, SIGKILL)"), "{attack}");
    let graded = std::fs::read_to_string(dir.path().join("attack.err")).expect("attack.err");
    assert!(graded.contains("score: 12/12"), "{graded}");
}

#[test]
fn in_a_container_a_class_is_protected_by_permissions() {
    if !own_users() {
        eprintln!("SKIPPED: the simulated container needs root");
        return;
    }
    let scratch = Scratch::new("hostile-container-class");
    // What SECURITY.md asks of a grader in a container: the class in a folder of root's.
    let class = scratch.path().join("class");
    std::fs::create_dir_all(&class).expect("class");
    std::fs::set_permissions(&class, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let out = scratch.path().join("grades");
    let secret = scratch.write("grader-secret.h", "int SECRET_OF_THE_GRADER = 1;\n");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let alice = submission(&class, "alice", &correct_files("SECRET-OF-ALICE"));
    let victim = alice.join("serveur.c");
    let writer = submission(
        &class,
        "m-write",
        &attacking_files(
            "writes_files",
            &[("VICTIM", &victim), ("OUTDIR", &out), ("CLASSDIR", &class)],
        ),
    );
    let include = submission(
        &class,
        "m-include",
        &[
            ("serveur.c", format!("#include \"{}\"\n", secret.display())),
            (
                "clientt.c",
                format!("#include \"{}\"\n", alice.join("clientt.c").display()),
            ),
        ],
    );
    let before = files_under(&class);
    // One run at a time: in the container every run shares one loopback, and port 4000.
    let mut args = os(&[
        "grade",
        "courses/tp-sockets.toml",
        "--scenario",
        "tcp_basic",
    ]);
    args.extend(os(&["--jobs", "1", "--out"]));
    args.push(out.clone().into());
    args.extend([alice, writer, include].map(PathBuf::into_os_string));
    let run = in_container("\"$labrun\" \"$@\"; code=$?\n", &args);
    let err = stderr(&run.output);
    assert!(run.bystander, "{err}");
    assert!(run.left.is_empty(), "left running: {:?}\n{err}", run.left);
    assert!(err.contains("1 of 3 submissions pass"), "{err}");
    let csv = std::fs::read_to_string(out.join("summary.csv")).expect("summary");
    assert!(csv.contains("\nalice,22,22,pass,"), "{csv}");
    assert!(csv.contains("\nm-write,12,22,fail,12/12,0/10"), "{csv}");
    assert_eq!(files_under(&class), before, "the class folder changed");
    assert!(!out.join("pwned.txt").exists());
    assert_eq!(leftovers_in_tmp(), Vec::<String>::new());
    let page = std::fs::read_to_string(out.join("m-write/tcp_basic-server.html")).expect("page");
    for target in [victim, out.join("pwned.txt"), class.join("pwned.txt")] {
        let line = format!("attack: write {}: ", target.display());
        assert!(page.contains(&line), "no attempt on {}", target.display());
        assert!(
            !page.contains(&format!("{line}succeeded")),
            "{} was written",
            target.display()
        );
    }
    // Its file in the container's /tmp went with its user (see `leftovers_in_tmp` above).
    assert!(page.contains("attack: write /tmp/labrun-hostile-dropped: succeeded"));
    let feedback = std::fs::read_to_string(out.join("m-include/feedback.txt")).expect("feedback");
    assert!(feedback.contains("Permission denied"), "{feedback}");
    assert!(!feedback.contains("SECRET"), "{feedback}");
}

#[test]
fn an_ordinary_user_is_told_in_one_line_what_is_not_protected() {
    if !own_users() {
        eprintln!("SKIPPED: the simulated user needs root to be made");
        return;
    }
    let mut command = crate::common::labrun_in(Place::User);
    let server = fixture("serveur");
    command
        .args(["scenarios/tcp_basic.toml", "--no-snapshot", "-q", "--with"])
        .arg(format!("server={}", server.display()));
    let output = command.output().expect("labrun runs");
    let err = stderr(&output);
    // The run's one line about its isolation says it, among what else it lacks.
    let warnings: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("labrun: warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].contains(labrun::cli::PROTECTION_LACKING),
        "{err}"
    );
    assert!(err.contains("score: 12/12"), "{err}");
}

/// The `user:` line of `reports_its_user.c`: uid, gid, supplementary groups, process cap,
/// OOM score adjustment.
fn reported_user(text: &str) -> (u32, u32, u32, u64, u64) {
    let line = text
        .lines()
        .find_map(|l| l.split("user: ").nth(1))
        .unwrap_or_else(|| panic!("no user line in:\n{text}"));
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(numbers.len(), 5, "{line}");
    (
        numbers[0] as u32,
        numbers[1] as u32,
        numbers[2] as u32,
        numbers[3],
        numbers[4],
    )
}

/// Four programs at once, each with a free uid of its own (a uid some process has is
/// skipped), its gid, no supplementary group, the cap on processes, and the highest OOM
/// score.
#[test]
fn programs_running_at_once_get_free_uids_of_their_own() {
    if !own_users() {
        eprintln!("SKIPPED: users of their own need root");
        return;
    }
    let dir = Scratch::new("hostile-users");
    let server = attacker("reports_its_user", &[], dir.path());
    // A uid of the range already has a process: it must not be taken. Four runs at once,
    // in one namespace, so that they see it.
    let script = r#"
setpriv --reuid=62400 --regid=62400 --clear-groups sleep 60 & squatter=$!
sleep 0.1
for n in 1 2 3 4; do
  "$labrun" scenarios/tcp_basic.toml --no-snapshot --uid-range 62400-62404 \
    --with "server=$1" >"$2/run$n.out" 2>&1 &
  runs="$runs $!"
done
wait $runs
kill "$squatter"; wait "$squatter" 2>/dev/null
code=0
"#;
    let run = in_namespace(
        script,
        &[server.into_os_string(), dir.path().as_os_str().to_owned()],
    );
    let err = stderr(&run.output);
    assert!(run.left.is_empty(), "left running: {:?}\n{err}", run.left);
    let mut uids: Vec<u32> = (1..=4)
        .map(|n| {
            let text = std::fs::read_to_string(dir.path().join(format!("run{n}.out")))
                .expect("a run's output");
            let (uid, gid, groups, nproc, oom) = reported_user(&text);
            assert_eq!((gid, groups), (uid, 0), "{text}");
            assert_eq!(nproc, u64::from(labrun::sandbox::cgroup::MAX_PROCESSES));
            // The first the kernel kills when memory runs out, not labrun.
            assert_eq!(oom, 1000, "{text}");
            uid
        })
        .collect();
    uids.sort_unstable();
    assert_eq!(
        uids,
        [62401, 62402, 62403, 62404],
        "each its own, 62400 skipped"
    );
    // Every lease was given back, and its lock file removed.
    for uid in 62400..=62404 {
        assert!(!Path::new(&format!("/run/labrun/uids/{uid}.lock")).exists());
    }
}

/// The container's root may not read another user's `/proc/PID/fd` (no `CAP_SYS_PTRACE`):
/// labrun reads them with the program's identity, and still knows which socket is whose.
#[test]
fn in_a_container_the_programs_of_their_own_users_are_still_observed() {
    if !own_users() {
        eprintln!("SKIPPED: the simulated container needs root");
        return;
    }
    let mut args = os(&["scenarios/tcp_basic.toml", "--no-snapshot", "--with"]);
    args.push(format!("client={}", fixture("clientt").display()).into());
    let run = in_container("\"$labrun\" \"$@\"; code=$?\n", &args);
    let (text, err) = (stdout(&run.output), stderr(&run.output));
    assert!(run.left.is_empty(), "left running: {:?}\n{err}", run.left);
    assert!(err.contains("score: 10/10"), "{err}\n{text}");
    assert!(
        text.lines().any(|l| l.contains("client   sock")
            && l.contains("127.0.0.1:[client.port]  127.0.0.1:4000")),
        "the client's socket is not the client's:\n{text}"
    );
}

/// The processes of a fork bomb, killed when its program ends, are reaped at once: as
/// zombies they would still count against the next program given the same uid.
#[test]
fn a_fork_bomb_leaves_nothing_that_counts_against_the_next_program_of_its_uid() {
    if !own_users() {
        eprintln!("SKIPPED: users of their own need root");
        return;
    }
    let dir = Scratch::new("hostile-bomb-next");
    let scenario = dir.write(
        "next.toml",
        "[run]\ntimeout = \"30s\"\n\n\
         [[server]]\nprotocol = \"tcp\"\nid = \"A\"\nport = 4000\nreply-delay = \"100ms\"\n\n\
         [[client]]\nid = \"B\"\ntimeout = \"5s\"\n\n\
         [[client]]\nid = \"C\"\nstart-after = \"client1:exited\"\n",
    );
    let mut args = vec![scenario.into_os_string()];
    // A range of its own, so that no other test's run takes the uid in between.
    args.extend(os(&[
        "--no-snapshot",
        "--uid-range",
        "62500-62501",
        "--with",
    ]));
    args.push(format!("client1={}", fixture("hostile/bomb_then_exit").display()).into());
    args.push("--with".into());
    args.push(format!("client2={}", fixture("hostile/forks_once").display()).into());
    let run = confined(&args, &[]);
    let (text, err) = (stdout(&run.output), stderr(&run.output));
    assert!(run.left.is_empty(), "left running: {:?}\n{err}", run.left);
    let uid = |role: &str| {
        text.lines()
            .find(|l| l.contains(&format!("{role}  out    uid ")))
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no uid of {role} in:\n{text}"))
    };
    assert_eq!(
        uid("client1"),
        uid("client2"),
        "the test needs one uid for both"
    );
    assert!(text.contains("client2  out    fork: ok"), "{text}\n{err}");
}
