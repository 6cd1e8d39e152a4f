//! A control group per external program: a cap on how many processes and threads it may
//! have, and a complete list of them to kill at the end, detached ones included.
//!
//! `RLIMIT_NPROC` cannot do the first job when labrun runs as root (root is exempt), so
//! the cap comes from the kernel's `pids` controller, cgroup v1 or v2, whichever this
//! machine mounts and lets labrun write. Where neither is writable the program runs
//! without a process cap, and [`ProcessCap::create`] says why.

use std::ffi::CString;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many processes and threads a student's program may have at once: a forking TCP
/// server with a few clients needs a handful; a fork loop stops here.
pub const MAX_PROCESSES: u32 = 64;

/// A `pids` control group of labrun's own, removed when dropped.
#[derive(Debug)]
pub struct ProcessCap {
    dir: PathBuf,
    /// `cgroup.procs` of the group, ready for a child to write itself in before `exec`.
    procs: CString,
}

impl ProcessCap {
    /// Makes a new group under labrun's own, capped at `max` tasks.
    pub fn create(max: u32) -> Result<Self, String> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let parent = own_pids_group().ok_or("no writable `pids` control group on this machine")?;
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = parent.join(format!("labrun-{}-{n}", crate::instance::run_id()));
        fs::create_dir(&dir)
            .map_err(|e| format!("cannot make a control group in {}: {e}", parent.display()))?;
        let cap = ProcessCap {
            procs: CString::new(
                dir.join("cgroup.procs")
                    .into_os_string()
                    .into_encoded_bytes(),
            )
            .map_err(|_| "a control group path holds a NUL byte".to_string())?,
            dir,
        };
        fs::write(cap.dir.join("pids.max"), max.to_string())
            .map_err(|e| format!("cannot cap the processes of {}: {e}", cap.dir.display()))?;
        Ok(cap)
    }

    /// Whether programs can be capped here: `Err(why not)` otherwise.
    pub fn probe() -> Result<(), String> {
        Self::create(MAX_PROCESSES).map(drop)
    }

    /// The way in, for a child about to `exec`.
    pub fn entry(&self) -> Entry {
        Entry(self.procs.clone())
    }

    /// The processes in the group now.
    ///
    /// The kernel lists a process of another pid namespace as 0: never a pid to kill
    /// (`kill(0)` is labrun's own group), nor is 1.
    pub fn members(&self) -> Vec<i32> {
        fs::read_to_string(self.dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .filter(|&pid: &i32| pid > 1)
            .collect()
    }

    /// Kills every process of the group, those that forked or detached included, until it
    /// is empty (forks are capped, so this ends). Returns how many it killed.
    pub fn kill_all(&self) -> usize {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        let mut killed = 0;
        for _ in 0..50 {
            let members = self.members();
            if members.is_empty() {
                break;
            }
            for pid in members {
                if kill(Pid::from_raw(pid), Signal::SIGKILL).is_ok() {
                    killed += 1;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        killed
    }
}

impl Drop for ProcessCap {
    fn drop(&mut self) {
        self.kill_all();
        // A killed process leaves its group when its parent has reaped it; labrun reaps
        // its children and adopted orphans, which may take a moment.
        for _ in 0..100 {
            if fs::remove_dir(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

/// The `cgroup.procs` file of a group, for a child to write itself in.
#[derive(Clone, Debug)]
pub struct Entry(CString);

impl Entry {
    /// Moves the calling process into the group. Made for `pre_exec`: only `open`,
    /// `write` and `close`, no allocation. (Writing `0` to `cgroup.procs` means "the
    /// writer".)
    pub fn enter(&self) -> std::io::Result<()> {
        use nix::fcntl::{OFlag, open};
        use nix::sys::stat::Mode;
        let fd = open(
            self.0.as_c_str(),
            OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(std::io::Error::from)?;
        nix::unistd::write(&fd, b"0").map_err(std::io::Error::from)?;
        Ok(())
    }
}

/// labrun's own group in a writable `pids` hierarchy: cgroup v1's `pids` controller, or
/// cgroup v2 where it offers `pids`.
fn own_pids_group() -> Option<PathBuf> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").ok()?;
    let membership = fs::read_to_string("/proc/self/cgroup").ok()?;
    let mounts = pids_mounts(&mountinfo);
    for (root, version) in mounts {
        let Some(own) = own_path(&membership, version) else {
            continue;
        };
        let dir = root.join(own.trim_start_matches('/'));
        let usable = match version {
            Version::V1 => dir.join("cgroup.procs").exists(),
            // In v2 a new group only gets `pids.max` when its parent enables `pids`
            // for its children.
            Version::V2 => fs::read_to_string(dir.join("cgroup.subtree_control"))
                .is_ok_and(|c| c.split_whitespace().any(|c| c == "pids")),
        };
        if usable && writable(&dir) {
            return Some(dir);
        }
    }
    None
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

/// The mount points that can hold a `pids` group, v1 first.
fn pids_mounts(mountinfo: &str) -> Vec<(PathBuf, Version)> {
    let mut found = Vec::new();
    for line in mountinfo.lines() {
        // `id parent major:minor root mountpoint options … - fstype source superoptions`
        let Some((before, after)) = line.split_once(" - ") else {
            continue;
        };
        let Some(mount_point) = before.split_whitespace().nth(4) else {
            continue;
        };
        let mut after = after.split_whitespace();
        let (fstype, options) = (after.next(), after.nth(1).unwrap_or(""));
        match fstype {
            Some("cgroup") if options.split(',').any(|o| o == "pids") => {
                found.push((PathBuf::from(mount_point), Version::V1));
            }
            Some("cgroup2") => found.push((PathBuf::from(mount_point), Version::V2)),
            _ => {}
        }
    }
    found.sort_by_key(|(_, version)| *version == Version::V2);
    found
}

/// labrun's own group in a hierarchy, from `/proc/self/cgroup`
/// (`4:pids:/path` in v1, `0::/path` in v2).
fn own_path(membership: &str, version: Version) -> Option<String> {
    membership.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let matches = match version {
            Version::V1 => controllers.split(',').any(|c| c == "pids"),
            Version::V2 => controllers.is_empty(),
        };
        matches.then(|| path.to_string())
    })
}

fn writable(dir: &Path) -> bool {
    nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
30 25 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
38 30 0:34 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
45 30 0:41 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
46 30 0:42 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
";

    #[test]
    fn finds_the_pids_hierarchies_v1_first() {
        assert_eq!(
            pids_mounts(MOUNTINFO),
            vec![
                (PathBuf::from("/sys/fs/cgroup/pids"), Version::V1),
                (PathBuf::from("/sys/fs/cgroup/unified"), Version::V2),
            ]
        );
    }

    #[test]
    fn reads_its_own_group() {
        let membership = "9:name=systemd:/\n8:pids:/ci/job\n4:memory:/x\n0::/user.slice\n";
        assert_eq!(
            own_path(membership, Version::V1).as_deref(),
            Some("/ci/job")
        );
        assert_eq!(
            own_path(membership, Version::V2).as_deref(),
            Some("/user.slice")
        );
        assert_eq!(own_path("0::/\n", Version::V1), None);
    }
}
