//! Helpers shared by the integration tests.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

/// The repository root, where `scenarios/` and `snapshots/` are.
pub(crate) fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A `labrun` command run from the repository root, outside CI mode so that tests decide.
pub(crate) fn labrun() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_labrun"));
    command
        .current_dir(root())
        .env_remove("CI")
        .env("NO_COLOR", "1");
    command
}

/// Runs labrun with `args` and returns its output.
pub(crate) fn run(args: &[&str]) -> Output {
    labrun().args(args).output().expect("labrun runs")
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every shipped scenario, by name, in a stable order.
pub(crate) fn scenario_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("scenarios"))
        .expect("scenarios/ exists")
        .filter_map(|e| {
            let path = e.ok()?.path();
            if path.extension()? != "toml" {
                return None;
            }
            Some(path.file_stem()?.to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no scenarios found");
    names
}

/// The transcript of a scenario (at `--time-scale 0` unless `extra` says otherwise),
/// without snapshot comparison.
pub(crate) fn transcript(name: &str, extra: &[&str]) -> String {
    let path = format!("scenarios/{name}.toml");
    let mut args = vec![path.as_str(), "--no-snapshot"];
    if !extra.contains(&"--time-scale") {
        args.extend_from_slice(&["--time-scale", "0"]);
    }
    args.extend_from_slice(extra);
    let output = run(&args);
    assert!(
        output.status.success(),
        "labrun {args:?} failed:\n{}",
        stderr(&output)
    );
    stdout(&output)
}

/// A C fixture, `tests/fixtures/NAME.c` (NAME may hold a folder: `hostile/never_listens`),
/// compiled with gcc on first use in this test run, into `target/tmp/fixtures/`.
pub(crate) fn fixture(name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(path) = built.get(name) {
        return path.clone();
    }
    let source = root().join("tests/fixtures").join(format!("{name}.c"));
    assert!(source.exists(), "no fixture {}", source.display());
    // Under target/, not the system's temporary folder, so that test runs leave nothing
    // there; built under a name of this process's, then renamed, so that two test runs at
    // once never see a half-written program.
    let binary = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("fixtures")
        .join(name);
    std::fs::create_dir_all(binary.parent().expect("a folder")).expect("create fixture folder");
    let partial = binary.with_extension(format!("{}.partial", std::process::id()));
    let status = Command::new("gcc")
        .args(["-Wall", "-O0", "-o"])
        .arg(&partial)
        .arg(&source)
        .status()
        .expect("gcc runs (install it: apt-get install gcc)");
    assert!(status.success(), "gcc failed on {}", source.display());
    std::fs::rename(&partial, &binary).expect("put the fixture in place");
    built.insert(name.to_string(), binary.clone());
    binary
}

/// Processes whose command line mentions `needle`, other than this test process.
pub(crate) fn processes_running(needle: &str) -> Vec<String> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let entry = e.ok()?;
            let pid = entry.file_name().to_string_lossy().into_owned();
            if !pid.chars().all(|c| c.is_ascii_digit()) || pid == me {
                return None;
            }
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            cmdline
                .contains(needle)
                .then_some(format!("{pid}: {cmdline}"))
        })
        .collect()
}

/// A folder of a test's own in the temporary directory, removed with what it holds when
/// dropped.
pub(crate) struct Scratch(PathBuf);

impl Scratch {
    pub(crate) fn new(label: &str) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("labrun-test-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a scratch folder");
        Scratch(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    /// A path in the folder, as a string for a command line.
    pub(crate) fn arg(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }

    /// Writes `contents` to `name` in the folder, and returns its path.
    pub(crate) fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write a scratch file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where graders run labrun, simulated by `tests/fixtures/confine/confine.c` inside mount,
/// network and pid namespaces of the test's own (so nothing the command does reaches the
/// machine).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Place {
    /// A Docker-default container: root with Docker's default capabilities, a seccomp
    /// filter refusing namespaces and mounts, an empty read-only `/sys/fs/cgroup`.
    Container,
    /// An ordinary user without user namespaces: uid 65534, no capability.
    User,
    /// An ordinary user with user namespaces (most distributions): uid 65534, no
    /// capability, no filter.
    UserNs,
}

/// `program` run in `place`; its exit code is the program's.
pub(crate) fn confined(place: Place, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mode = match place {
        Place::Container => "container",
        Place::User => "user",
        Place::UserNs => "userns",
    };
    let mut command = Command::new(fixture("confine/confine"));
    command.arg(mode).arg("--").arg(program);
    command
}

/// A `labrun` command that runs in `place` (from the repository root, outside CI mode).
pub(crate) fn labrun_in(place: Place) -> Command {
    let mut command = confined(place, env!("CARGO_BIN_EXE_labrun"));
    command
        .current_dir(root())
        .env_remove("CI")
        .env("NO_COLOR", "1");
    command
}

/// The lab's files as a correct student hands them in, under the names the course
/// expects: the four programs and the two resolvers, the TCP server with question 8's
/// sleep before `close()` (3 s), as the lab's last version of it has.
pub(crate) fn correct_submission(dir: &Path) {
    const FILES: [(&str, &str); 6] = [
        ("serveuru.c", "serveuru.c"),
        ("clientu.c", "clientu.c"),
        ("serveur.c", "serveur.c"),
        ("clientt.c", "clientt.c"),
        ("resolve_name.c", "resolver/resolve_name.c"),
        ("resolve_addr.c", "resolver/resolve_addr.c"),
    ];
    std::fs::create_dir_all(dir).expect("a submission folder");
    for (name, fixture) in FILES {
        let mut text = std::fs::read_to_string(root().join("tests/fixtures").join(fixture))
            .expect("read a fixture");
        if name == "serveur.c" {
            text.insert_str(0, "#define CLOSE_DELAY 3\n");
        }
        std::fs::write(dir.join(name), text).expect("write a submission file");
    }
}

/// Whether the graders' places can be simulated here: the wrapper makes namespaces, which
/// needs root. Elsewhere the tests that use it say SKIPPED and pass, except where
/// `LABRUN_REQUIRE_CONFINE=1` (CI) makes that a failure.
pub(crate) fn can_confine() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(
        std::env::var_os("LABRUN_REQUIRE_CONFINE").is_none_or(|v| v != "1"),
        "the simulated container and ordinary user need root, and LABRUN_REQUIRE_CONFINE=1"
    );
    eprintln!("SKIPPED: simulating a container or an ordinary user needs root (sudo cargo test)");
    false
}
