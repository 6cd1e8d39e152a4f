//! labrun's scratch folders: one folder per labrun process in the temporary folder, holding
//! every scratch folder of the process (a run's programs' folders, a grade's builds), and
//! a lock that the process holds for as long as it lives.
//!
//! A labrun killed with SIGKILL, or by the OOM killer, cannot remove what it made; its lock
//! goes with it, though, so the next labrun that makes its own folder removes every
//! folder of its user whose lock nobody holds. A lock (`flock`) is the kernel's, so it
//! also tells a live labrun in another pid namespace (a container sharing `/tmp`) from a
//! dead one, where a pid could not.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// How the folders start: `labrun-p<pid>-<random>`.
const PREFIX: &str = "labrun-p";
/// The lock file inside each.
const LOCK: &str = ".lock";
/// Set for the runs `labrun grade` starts: their parent has just swept, and hundreds of
/// runs sweeping the same folder would only find each other's live locks.
pub const NO_SWEEP: &str = "LABRUN_SCRATCH_SWEPT";

struct Root {
    path: PathBuf,
    /// The process that made it: a forked child (a run's pid namespace) shares the folder,
    /// and must not remove it under its parent.
    owner: u32,
    /// Held while the file is open; closed on exec (the programs never hold it).
    _lock: nix::fcntl::Flock<File>,
}

static ROOT: OnceLock<Result<Root, String>> = OnceLock::new();

/// This process's scratch folder, made on first use.
pub fn root() -> Result<&'static Path, String> {
    ROOT.get_or_init(make)
        .as_ref()
        .map(|root| root.path.as_path())
        .map_err(Clone::clone)
}

/// A new folder of the scratch folder, whose name starts with `prefix`; removed when the
/// handle is dropped (or by a later labrun's sweep, if this one is killed first).
pub fn folder(prefix: &str) -> Result<tempfile::TempDir, String> {
    let root = root()?;
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(root)
        .map_err(|e| format!("cannot create a scratch folder in {}: {e}", root.display()))
}

/// Removes this process's scratch folder, if it made one: called when labrun ends.
pub fn finish() {
    if let Some(Ok(root)) = ROOT.get()
        && root.owner == std::process::id()
    {
        let _ = std::fs::remove_dir_all(&root.path);
    }
}

fn make() -> Result<Root, String> {
    let tmp = std::env::temp_dir();
    // Made and locked under a name no sweep looks at, then renamed: a sweep never sees one
    // of ours without its lock held, and a labrun killed half-way through this leaves an
    // empty `labrun-new-…` at worst.
    let fail = |e: String| format!("cannot create a scratch folder in {}: {e}", tmp.display());
    let new = tempfile::Builder::new()
        .prefix("labrun-new-")
        .tempdir_in(&tmp)
        .map_err(|e| fail(e.to_string()))?
        .keep();
    let made = lock_in(&new).and_then(|lock| {
        let path = tmp.join(format!(
            "{PREFIX}{}-{}",
            crate::instance::run_id(),
            new.file_name()
                .map(|n| n
                    .to_string_lossy()
                    .trim_start_matches("labrun-new-")
                    .to_string())
                .unwrap_or_default()
        ));
        std::fs::rename(&new, &path).map_err(|e| e.to_string())?;
        Ok(Root {
            path,
            owner: std::process::id(),
            _lock: lock,
        })
    });
    if made.is_err() {
        let _ = std::fs::remove_dir_all(&new);
    }
    made.map_err(fail)
}

/// Opens `dir` to the programs' users (they reach their folders inside, never list it),
/// and takes its lock.
fn lock_in(dir: &Path) -> Result<nix::fcntl::Flock<File>, String> {
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o711))
        .map_err(|e| e.to_string())?;
    let lock = File::create(dir.join(LOCK)).map_err(|e| e.to_string())?;
    nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|(_, e)| e.desc().to_string())
}

/// Removes what labruns that are gone left in the temporary folder (see [`sweep`]), unless
/// this labrun's parent just did: called when labrun starts.
pub fn sweep_dead() {
    if std::env::var_os(NO_SWEEP).is_none() {
        sweep(&std::env::temp_dir());
    }
}

/// Removes the scratch folders in `tmp` of labruns that are gone: this user's folders
/// named like ours whose lock is free. Returns how many.
pub fn sweep(tmp: &Path) -> usize {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return 0;
    };
    let me = nix::unistd::geteuid().as_raw();
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let new = name.starts_with("labrun-new-");
        if !name.starts_with(PREFIX) && !new {
            continue;
        }
        let path = entry.path();
        // Not followed: a link named like ours leads nowhere we remove.
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != me {
            continue;
        }
        // One being made is renamed within microseconds: a minute old, its maker is gone.
        let dead = if new {
            meta.modified()
                .ok()
                .and_then(|m| m.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(60))
        } else {
            is_free(&path.join(LOCK))
        };
        if dead && std::fs::remove_dir_all(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Whether nobody holds the lock at `path` (a folder still being made has none yet: it
/// is left for a later sweep).
fn is_free(path: &Path) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .is_ok_and(|file| {
            nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock).is_ok()
        })
}
