//! A user of its own for every program: when labrun is root, each external program and
//! each compiler run gets an unprivileged uid (and the gid of the same number) from a
//! pool, no supplementary groups, and a cap on its processes (`RLIMIT_NPROC`).
//!
//! A program with a uid of its own cannot signal labrun, nor any other program, nor read or
//! write files it was not given: the kernel's permission checks do the work, in every
//! environment where labrun is root, containers that refuse namespaces included.
//!
//! Uids are taken from a range (`--uid-range`, `LABRUN_UID_RANGE`, default
//! [`DEFAULT_RANGE`]) and must be free: no account has them, no process runs with them.
//! Concurrent labrun processes (a class is graded by many) never take the same uid: each
//! uid taken is held by an exclusive `flock` on `/run/labrun/uids/UID.lock`, which the
//! kernel drops when the holder dies, however it dies. A file lock and not an abstract
//! unix socket, because abstract sockets belong to a network namespace and every run has
//! its own: two runs could both "hold" the same name. The lock file is opened with
//! `O_CLOEXEC`, so programs never inherit it.
//!
//! When a lease ends (its program has exited and been reaped), every process of its uid is
//! killed (a child that becomes the user sends `kill(-1, SIGKILL)`), the dead ones left to
//! labrun are reaped, and what the user left in `/tmp`, `/var/tmp` and `/dev/shm` is
//! removed; then the lock file is unlinked and closed, and the uid is free again.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The range used when neither the flag nor the environment variable gives one.
pub const DEFAULT_RANGE: UidRange = UidRange {
    first: 61000,
    last: 61999,
};

/// The environment variable that gives the range, like `--uid-range`.
pub const RANGE_VARIABLE: &str = "LABRUN_UID_RANGE";

/// How many processes and threads a program running as a uid of its own may have: the
/// same as the control group's cap.
pub const MAX_PROCESSES: u64 = super::cgroup::MAX_PROCESSES as u64;

/// A range of uids, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UidRange {
    pub first: u32,
    pub last: u32,
}

impl std::fmt::Display for UidRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

impl std::str::FromStr for UidRange {
    type Err = String;

    /// `FIRST-LAST`, such as `61000-61999`; uids below 1000 (system accounts) and the
    /// overflow uid 65534 and above are refused.
    fn from_str(text: &str) -> Result<Self, String> {
        let (first, last) = text
            .split_once('-')
            .ok_or_else(|| format!("`{text}`: write it FIRST-LAST, such as 61000-61999"))?;
        let number = |s: &str| {
            s.trim()
                .parse::<u32>()
                .map_err(|_| format!("`{s}` is not a uid"))
        };
        let (first, last) = (number(first)?, number(last)?);
        if first > last {
            return Err(format!("{text}: FIRST must not be above LAST"));
        }
        if first < 1000 || last >= 65534 {
            return Err(format!(
                "{text}: the uids must be between 1000 and 65533 (no system account, not nobody)"
            ));
        }
        Ok(UidRange { first, last })
    }
}

/// The range to use: the flag's, else the environment variable's, else the default.
pub fn range_from(flag: Option<UidRange>) -> Result<UidRange, RangeError> {
    if let Some(range) = flag {
        return Ok(range);
    }
    match std::env::var(RANGE_VARIABLE) {
        Ok(text) if !text.trim().is_empty() => {
            text.parse().map_err(|reason: String| RangeError { reason })
        }
        _ => Ok(DEFAULT_RANGE),
    }
}

/// `LABRUN_UID_RANGE` is no range of uids (an invalid input, like a wrong `--uid-range`,
/// which clap refuses).
#[derive(Debug, thiserror::Error)]
#[error("{RANGE_VARIABLE}: {reason}")]
pub struct RangeError {
    /// What is wrong with the variable's value.
    pub reason: String,
}

/// Sets up the pool for this process, once. Returns whether programs will run as users of
/// their own (`Err(why not)` otherwise): only root with the capabilities to change user,
/// give files away and read them back can do it.
pub fn enable(range: UidRange) -> Result<(), String> {
    if POOL.get().is_some() {
        return Ok(());
    }
    let pool = Pool::new(range)?;
    let _ = POOL.set(pool);
    Ok(())
}

/// The pool, where [`enable`] succeeded.
pub fn pool() -> Option<&'static Pool> {
    POOL.get()
}

static POOL: OnceLock<Pool> = OnceLock::new();

/// Uids to lend, one at a time, to programs.
#[derive(Debug)]
pub struct Pool {
    range: UidRange,
    locks: PathBuf,
    /// Where to look for processes: the machine's `/proc`, also once the run has mounted
    /// a `/proc` of its own pid namespace (which would show none of the others).
    proc_root: PathBuf,
    /// Kept open for [`Pool::proc_root`].
    _proc: Option<File>,
    /// Whether labrun may read the `/proc` files of another user's process without
    /// taking that user's file-system identity (`CAP_SYS_PTRACE`; containers lack it).
    ptrace: bool,
    /// The uids of the range some process had at the last look, and when that was: a
    /// thousand programs started in a second need not read every process a thousand times.
    seen: std::sync::Mutex<Option<(std::time::Instant, std::collections::HashSet<u32>)>>,
}

/// How long a look at the machine's processes holds. Other labruns' processes are kept
/// apart by the locks; the look is for the rare process that is not labrun's.
const SEEN_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// A uid (and the gid of the same number) lent to one program until dropped.
#[derive(Debug)]
pub struct Lease {
    uid: u32,
    path: PathBuf,
    /// The lock; closing it (on drop, or the kernel at labrun's death) frees the uid.
    _lock: File,
}

impl Lease {
    pub fn uid(&self) -> u32 {
        self.uid
    }

    pub fn gid(&self) -> u32 {
        self.uid
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.kill_processes();
        self.remove_files();
        // Unlinked while still locked, so that nothing is left behind; a labrun that
        // opened the old file meanwhile sees that it is not the file at that path any more
        // and tries again (see `Pool::try_lock`).
        let _ = std::fs::remove_file(&self.path);
        // The lock goes with the file, closed after this.
    }
}

impl Lease {
    /// Kills every process of the lease's uid: a child becomes that user and sends
    /// `kill(-1, SIGKILL)`, which reaches exactly the processes of its own user (in the
    /// run's pid namespace, where there is one), again until none is left.
    fn kill_processes(&self) {
        let uid = self.uid;
        // SAFETY: the child only makes raw system calls (no allocation, no lock, nothing of
        // the C library's thread bookkeeping) and leaves with `_exit`; the parent waits.
        let signalled = unsafe {
            let child = libc::fork();
            if child == 0 {
                let id = libc::c_long::from(uid);
                if libc::syscall(libc::SYS_setresgid, id, id, id) != 0
                    || libc::syscall(libc::SYS_setresuid, id, id, id) != 0
                {
                    libc::_exit(1);
                }
                let mut signalled = 0;
                // Killed processes stay until reaped, and still count as signalled.
                for _ in 0..50 {
                    if libc::syscall(libc::SYS_kill, -1 as libc::c_long, libc::SIGKILL) != 0 {
                        break;
                    }
                    signalled = 2;
                    let pause = libc::timespec {
                        tv_sec: 0,
                        tv_nsec: 1_000_000,
                    };
                    libc::nanosleep(&pause, std::ptr::null_mut());
                }
                libc::_exit(signalled);
            }
            let mut status = 0;
            while child > 0
                && libc::waitpid(child, &mut status, 0) < 0
                && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
            {}
            child > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 2
        };
        if signalled {
            reap_orphans_of(uid);
        }
    }
}

/// Reaps the dead processes of `uid` that were left to labrun (orphans re-parented to it,
/// as the run's pid 1 or its subreaper): as zombies they would still count against the
/// next program's `RLIMIT_NPROC` with the same uid. Never a child labrun's runtime waits
/// for itself: the program was reaped before its lease ends, and its other processes are
/// not labrun's own children.
fn reap_orphans_of(uid: u32) {
    let me = std::process::id();
    // labrun's own children are enough to look at; every process of the machine only
    // where the kernel does not list them (hundreds of runs at once each reading a
    // thousand processes' status was a tenth of a class's CPU).
    let candidates: Vec<i32> = super::children_of(me as i32).unwrap_or_else(|| {
        std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
            .collect()
    });
    for pid in candidates {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .map(str::to_owned)
        };
        let zombie = field("State:").is_some_and(|s| s == "Z");
        let ours = field("PPid:").is_some_and(|p| p == me.to_string());
        let theirs = field("Uid:").is_some_and(|u| u == uid.to_string());
        if zombie && ours && theirs {
            let _ = nix::sys::wait::waitpid(
                nix::unistd::Pid::from_raw(pid),
                Some(nix::sys::wait::WaitPidFlag::WNOHANG),
            );
        }
    }
}

/// The folders where any user may leave files behind.
const SHARED_FOLDERS: [&str; 3] = ["/tmp", "/var/tmp", "/dev/shm"];

impl Lease {
    /// Removes what the lease's user left in the folders every user may write to (the
    /// run's private `/tmp` hides the machine's where the run has mounts of its own; this
    /// cleans up where it has not): its processes are gone, so nothing can race this.
    fn remove_files(&self) {
        use std::os::unix::fs::MetadataExt;
        let mut folders: Vec<PathBuf> = SHARED_FOLDERS.iter().map(PathBuf::from).collect();
        folders.push(std::env::temp_dir());
        folders.dedup();
        for folder in folders {
            for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
                let path = entry.path();
                let Ok(meta) = std::fs::symlink_metadata(&path) else {
                    continue;
                };
                if meta.uid() != self.uid {
                    continue;
                }
                // Links are removed, never followed.
                let _ = if meta.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
            }
        }
    }
}

/// Capability bits of `/proc/self/status`'s `CapEff` (`<linux/capability.h>`).
const CAP_CHOWN: u32 = 0;
const CAP_DAC_OVERRIDE: u32 = 1;
const CAP_FOWNER: u32 = 3;
const CAP_KILL: u32 = 5;
const CAP_SETGID: u32 = 6;
const CAP_SETUID: u32 = 7;
const CAP_SYS_PTRACE: u32 = 19;

/// Whether programs can get users of their own here, and why not (for `labrun doctor`):
/// labrun must be root with the capabilities to change user, give files away and read
/// them back, and the lock folder must be usable. Changes nothing but the lock folder.
pub fn available() -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("labrun is not root".into());
    }
    let caps = effective_capabilities();
    let needed = [
        (CAP_SETUID, "CAP_SETUID"),
        (CAP_SETGID, "CAP_SETGID"),
        (CAP_CHOWN, "CAP_CHOWN"),
        (CAP_DAC_OVERRIDE, "CAP_DAC_OVERRIDE"),
        (CAP_FOWNER, "CAP_FOWNER"),
        (CAP_KILL, "CAP_KILL"),
    ];
    let missing: Vec<&str> = needed
        .iter()
        .filter(|(bit, _)| caps & (1 << bit) == 0)
        .map(|(_, name)| *name)
        .collect();
    if !missing.is_empty() {
        return Err(format!("labrun lacks {}", missing.join(", ")));
    }
    lock_dir().map(drop)
}

impl Pool {
    fn new(range: UidRange) -> Result<Self, String> {
        available()?;
        let caps = effective_capabilities();
        let locks = lock_dir()?;
        let proc = File::open("/proc").ok();
        let proc_root = match &proc {
            // `/proc/self/fd/N` leads to the machine's `/proc` whatever is mounted later.
            Some(file) => PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd())),
            None => PathBuf::from("/proc"),
        };
        Ok(Pool {
            range,
            locks,
            proc_root,
            _proc: proc,
            ptrace: caps & (1 << CAP_SYS_PTRACE) != 0,
            seen: std::sync::Mutex::new(None),
        })
    }

    /// Lends a free uid: one no account has, no process runs with, and no other labrun
    /// holds. Starts at a point of the range that depends on the process id, so that
    /// parallel runs do not all try the same uids first.
    /// How many uids it lends.
    pub fn size(&self) -> usize {
        usize::try_from(self.range.last - self.range.first).map_or(usize::MAX, |n| n + 1)
    }

    pub fn take(&self) -> Result<Lease, String> {
        let size = u64::from(self.range.last - self.range.first) + 1;
        let start = (u64::from(crate::instance::run_id()).wrapping_mul(7919)) % size;
        let busy = self.busy();
        for step in 0..size {
            let uid = self.range.first + ((start + step) % size) as u32;
            if busy.contains(&uid) || has_account(uid) {
                continue;
            }
            // No second look is needed once locked: a labrun starts processes with a uid
            // only while it holds its lock, and kills them all before letting go.
            if let Some(lease) = self.try_lock(uid) {
                return Ok(lease);
            }
        }
        Err(format!(
            "no free uid left in {} (every one is held by another labrun, an account or a process); \
             give a larger range with --uid-range",
            self.range
        ))
    }

    /// [`Pool::uids_in_use`], looked at again when the last look is over [`SEEN_FOR`] old.
    fn busy(&self) -> std::collections::HashSet<u32> {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match &*seen {
            Some((at, busy)) if at.elapsed() < SEEN_FOR => busy.clone(),
            _ => {
                let busy = self.uids_in_use();
                *seen = Some((std::time::Instant::now(), busy.clone()));
                busy
            }
        }
    }

    fn try_lock(&self, uid: u32) -> Option<Lease> {
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
        let path = self.locks.join(format!("{uid}.lock"));
        for _ in 0..3 {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
                .open(&path)
                .ok()?;
            // SAFETY: flock on a descriptor this function owns.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                return None;
            }
            // Locked; but the holder before may have unlinked the file between our open
            // and our lock, and a third labrun locked a new file at the path since.
            let same = match (file.metadata(), std::fs::symlink_metadata(&path)) {
                (Ok(ours), Ok(now)) => ours.ino() == now.ino() && ours.dev() == now.dev(),
                _ => false,
            };
            if same {
                return Some(Lease {
                    uid,
                    path,
                    _lock: file,
                });
            }
        }
        None
    }

    /// The uids of the range that some process of the machine runs as: the owner of its
    /// `/proc/PID` folder, which is the process's effective uid and gid (one `stat` per
    /// process, where reading each one's `status` costs milliseconds on a busy machine).
    fn uids_in_use(&self) -> std::collections::HashSet<u32> {
        use std::os::unix::fs::MetadataExt;
        let mut found = std::collections::HashSet::new();
        let Ok(dir) = std::fs::read_dir(&self.proc_root) else {
            return found;
        };
        let range = self.range.first..=self.range.last;
        for entry in dir.flatten() {
            let name = entry.file_name();
            if !name.as_encoded_bytes().iter().all(u8::is_ascii_digit) {
                continue;
            }
            if let Ok(meta) = entry.metadata() {
                for id in [meta.uid(), meta.gid()] {
                    if range.contains(&id) {
                        found.insert(id);
                    }
                }
            }
        }
        found
    }

    /// Runs `read` with the file-system identity of `pid`'s user when labrun could not
    /// read that process's `/proc` files otherwise (root without `CAP_SYS_PTRACE`, as in a
    /// container): the kernel lets a process read its own user's processes.
    pub(crate) fn as_owner_of<T>(&self, pid: u32, read: impl FnOnce() -> T) -> T {
        if self.ptrace {
            return read();
        }
        // This run's `/proc`: the pid is numbered in the run's namespace.
        let Some((uid, gid)) = owner_of(Path::new("/proc"), pid) else {
            return read();
        };
        if !(self.range.first..=self.range.last).contains(&uid) {
            return read();
        }
        // Per thread, and restored before anything else runs on this one.
        let old_gid = nix::unistd::setfsgid(nix::unistd::Gid::from_raw(gid));
        let old_uid = nix::unistd::setfsuid(nix::unistd::Uid::from_raw(uid));
        let value = read();
        nix::unistd::setfsuid(old_uid);
        nix::unistd::setfsgid(old_gid);
        value
    }
}

/// Runs `read` (of `/proc/PID/…` files) so that it may read what belongs to `pid` also
/// when the process runs as a user of its own (see [`Pool::as_owner_of`]).
pub(crate) fn as_owner_of<T>(pid: u32, read: impl FnOnce() -> T) -> T {
    match pool() {
        Some(pool) => pool.as_owner_of(pid, read),
        None => read(),
    }
}

/// `/proc/PID/status`'s real uid and gid.
fn owner_of(proc_root: &Path, pid: u32) -> Option<(u32, u32)> {
    let status = std::fs::read_to_string(proc_root.join(pid.to_string()).join("status")).ok()?;
    let first = |prefix: &str| -> Option<u32> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(prefix))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    Some((first("Uid:")?, first("Gid:")?))
}

/// Whether an account or a group of the machine has this number (`getpwuid`,
/// `getgrgid`: the name service, not only `/etc/passwd`).
fn has_account(uid: u32) -> bool {
    use nix::unistd::{Gid, Group, Uid, User};
    matches!(User::from_uid(Uid::from_raw(uid)), Ok(Some(_)))
        || matches!(Group::from_gid(Gid::from_raw(uid)), Ok(Some(_)))
}

/// `/run/labrun/uids`, or the temporary folder's `labrun-uids` where `/run` is not
/// writable: root's own, mode 0700, so that no program can take or hold a lock.
fn lock_dir() -> Result<PathBuf, String> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let candidates = [
        PathBuf::from("/run/labrun/uids"),
        std::env::temp_dir().join("labrun-uids"),
    ];
    let mut why = String::new();
    for dir in candidates {
        let made = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir);
        match made.and_then(|()| std::fs::symlink_metadata(&dir)) {
            Ok(meta) if meta.is_dir() && !meta.file_type().is_symlink() => {
                use std::os::unix::fs::MetadataExt;
                if meta.uid() != 0 {
                    why = format!("{} is not root's", dir.display());
                    continue;
                }
                let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
                return Ok(dir);
            }
            Ok(_) => why = format!("{} is not a folder", dir.display()),
            Err(e) => why = format!("cannot create {}: {e}", dir.display()),
        }
    }
    Err(why)
}

/// The effective capability set, from `/proc/self/status`.
fn effective_capabilities() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let hex = s.lines().find_map(|l| l.strip_prefix("CapEff:"))?.trim();
            u64::from_str_radix(hex, 16).ok()
        })
        .unwrap_or(0)
}

/// What a child about to `exec` does to become the program's user: no supplementary
/// groups, the gid, the uid, and the cap on its processes. Prepared before the fork.
#[derive(Clone, Copy, Debug)]
pub struct Become {
    uid: u32,
    gid: u32,
}

impl Become {
    pub fn of(lease: &Lease) -> Self {
        Become {
            uid: lease.uid(),
            gid: lease.gid(),
        }
    }

    /// Made for `pre_exec`: system calls only, no allocation. The process cap comes first:
    /// the kernel checks it again when the uid changes.
    pub fn apply(&self) -> std::io::Result<()> {
        use nix::sys::resource::{Resource, setrlimit};
        setrlimit(Resource::RLIMIT_NPROC, MAX_PROCESSES, MAX_PROCESSES)
            .map_err(std::io::Error::from)?;
        nix::unistd::setgroups(&[]).map_err(std::io::Error::from)?;
        let gid = nix::unistd::Gid::from_raw(self.gid);
        nix::unistd::setresgid(gid, gid, gid).map_err(std::io::Error::from)?;
        let uid = nix::unistd::Uid::from_raw(self.uid);
        nix::unistd::setresuid(uid, uid, uid).map_err(std::io::Error::from)?;
        Ok(())
    }
}

/// The environment a program or a compiler gets when it runs as a user of its own:
/// labrun's own may hold what no student should read (a CI job's tokens), and a program
/// can print it into its transcript. Only the search path, the locale and the time zone
/// are kept.
pub fn kept_environment() -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    std::env::vars_os()
        .filter(|(key, _)| {
            let key = key.to_string_lossy();
            matches!(key.as_ref(), "PATH" | "LANG" | "LANGUAGE" | "TZ" | "TERM")
                || key.starts_with("LC_")
        })
        .collect()
}

/// Makes the calling process the one the kernel kills first when memory runs out
/// (`oom_score_adj` 1000): 64 processes of 1 GiB each can exhaust a machine, and labrun, the
/// other runs and the machine's own services must not be what goes. Made for `pre_exec`
/// (open, write, close); a process may always raise its own score.
pub fn first_to_go() {
    // SAFETY: plain system calls on static strings.
    unsafe {
        let fd = libc::open(
            c"/proc/self/oom_score_adj".as_ptr(),
            libc::O_WRONLY | libc::O_CLOEXEC,
        );
        if fd >= 0 {
            let _ = libc::write(fd, c"1000".as_ptr().cast(), 4);
            libc::close(fd);
        }
    }
}

/// Gives `path` to the lease's user, with `mode`.
pub fn give(path: &Path, lease: &Lease, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::os::unix::fs::lchown(path, Some(lease.uid()), Some(lease.gid()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_leases_at_once_have_two_uids_and_leave_no_lock_file() {
        if available().is_err() {
            eprintln!("SKIPPED: users of their own need root");
            return;
        }
        let range = UidRange {
            first: 62600,
            last: 62601,
        };
        let pool = Pool::new(range).expect("a pool");
        let (a, b) = (pool.take().expect("a uid"), pool.take().expect("another"));
        assert_ne!(a.uid(), b.uid());
        assert!(pool.take().is_err(), "only two uids in the range");
        let paths = [a.path.clone(), b.path.clone()];
        assert!(paths.iter().all(|p| p.exists()));
        drop((a, b));
        assert!(paths.iter().all(|p| !p.exists()));
        assert!(pool.take().is_ok(), "given back");
    }

    #[test]
    fn reads_a_range() {
        assert_eq!(
            "61000-61999".parse::<UidRange>(),
            Ok(UidRange {
                first: 61000,
                last: 61999
            })
        );
        assert_eq!(DEFAULT_RANGE.to_string(), "61000-61999");
        assert!("61000".parse::<UidRange>().is_err());
        assert!("62000-61000".parse::<UidRange>().is_err());
        assert!("0-100".parse::<UidRange>().is_err());
        assert!("60000-65534".parse::<UidRange>().is_err());
        assert!("a-b".parse::<UidRange>().is_err());
    }
}
