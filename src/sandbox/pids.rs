//! A pid namespace per run, with a `/proc` of its own and a private `/tmp` for its
//! programs.
//!
//! The run's labrun process forks a child that is pid 1 of a new pid namespace and does
//! the run; the first process only waits for it, passes SIGINT and SIGTERM on, and exits
//! as it does. (The namespace cannot simply be entered by labrun for its children: a
//! process whose children go to another pid namespace may not start threads, and the
//! engine needs some.) In the namespace, `kill(-1, …)` reaches only the run's own
//! processes, never pid 1 (labrun, which the kernel shields from its namespace's signals);
//! every process left in it dies with labrun; and the fresh `/proc` shows the programs
//! nothing of the machine.
//!
//! Where namespaces are refused (a container's seccomp filter, an ordinary user without
//! user namespaces), [`enter`] says why and the run goes on in the calling process.

use std::ffi::CString;
use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// Size of the private `/tmp` of a run's programs.
pub const TMP_SIZE: &str = "64m";

/// The run has a mount namespace of its own (made with the pid namespace).
static OWN_MOUNTS: AtomicBool = AtomicBool::new(false);
/// The private `/tmp` of the run's programs, once mounted.
static PROGRAM_TMP: OnceLock<CString> = OnceLock::new();
/// Folders the run's programs must not see (`--hide`).
static HIDDEN: OnceLock<Vec<CString>> = OnceLock::new();

/// Moves the run into a pid namespace of its own (see the module's documentation). Must be
/// called while the process has a single thread. Returns in the namespace's pid 1, or, with
/// the reason, in the calling process where no namespace can be made.
pub fn enter() -> Result<(), String> {
    use nix::sched::{CloneFlags, setns, unshare};
    use nix::unistd::{ForkResult, fork};
    let outer = std::process::id();
    let original = std::fs::File::open("/proc/self/ns/pid")
        .map_err(|e| format!("cannot open labrun's pid namespace: {e}"))?;
    unshare(CloneFlags::CLONE_NEWPID)
        .map_err(|e| format!("cannot create a pid namespace: {}", e.desc()))?;
    let back = |why: String| {
        // Children (and threads) of this process go back to its own namespace.
        let _ = setns(&original, CloneFlags::CLONE_NEWPID);
        why
    };
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| back(format!("cannot make a pipe: {}", e.desc())))?;
    // SAFETY: the process has a single thread (the caller's promise), so the child may go
    // on running ordinary code.
    match unsafe { fork() } {
        Err(e) => Err(back(format!("cannot fork: {}", e.desc()))),
        Ok(ForkResult::Child) => {
            drop(read);
            crate::instance::set_outer_pid(outer);
            match set_up_child() {
                Ok(()) => {
                    OWN_MOUNTS.store(true, Ordering::Relaxed);
                    let _ = nix::unistd::write(&write, b"R");
                    drop(write);
                    Ok(())
                }
                Err(why) => {
                    let _ = nix::unistd::write(&write, format!("E{why}").as_bytes());
                    // SAFETY: leaving at once, without running the parent's exit code.
                    unsafe { libc::_exit(0) }
                }
            }
        }
        Ok(ForkResult::Parent { child }) => {
            drop(write);
            let mut answer = Vec::new();
            let _ = std::fs::File::from(read).read_to_end(&mut answer);
            if answer.first() == Some(&b'R') {
                exit_as(child);
            }
            let _ = nix::sys::wait::waitpid(child, None);
            let why = String::from_utf8_lossy(answer.get(1..).unwrap_or_default()).into_owned();
            Err(back(if why.is_empty() {
                "the namespace's first process failed".into()
            } else {
                why
            }))
        }
    }
}

/// In the namespace's pid 1: die with the first process, own mounts, a fresh `/proc`.
fn set_up_child() -> Result<(), String> {
    use nix::mount::{MsFlags, mount};
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
        .map_err(|e| format!("cannot tie the run to labrun: {}", e.desc()))?;
    crate::signals::second_is_noted();
    // A process group of its own: a terminal's Ctrl-C reaches the first process alone,
    // which passes it on once (a second signal ends a labrun at once, without its
    // clean-up). Still writing to the terminal from outside its foreground group, even
    // where `stty tostop` is set.
    nix::unistd::setpgid(nix::unistd::Pid::from_raw(0), nix::unistd::Pid::from_raw(0))
        .map_err(|e| format!("cannot make a process group: {}", e.desc()))?;
    // SAFETY: setting a signal's disposition to ignore runs no code of ours.
    unsafe {
        libc::signal(libc::SIGTTOU, libc::SIG_IGN);
    }
    super::own_mounts()?;
    mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(|e| format!("cannot mount a /proc of the run's own: {}", e.desc()))
}

/// The first process: waits for the run and leaves the way it did. A SIGINT or SIGTERM it
/// gets (a terminal's Ctrl-C, `labrun grade`, `kill`) is passed on to the run, in a
/// process group of its own, which stops its programs and says what ran.
fn exit_as(child: nix::unistd::Pid) -> ! {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    let mut passed_on = None;
    let exited = pidfd(child);
    loop {
        if let Some(signal) = crate::signals::received()
            && passed_on != Some(signal)
            && let Ok(signal) = nix::sys::signal::Signal::try_from(signal)
        {
            let _ = nix::sys::signal::kill(child, signal);
            passed_on = Some(signal as i32);
        }
        match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => {
                crate::scratch::finish();
                std::process::exit(code)
            }
            Ok(WaitStatus::Signaled(_, signal, _)) => {
                crate::scratch::finish();
                // SAFETY: back to the default action, then the same death as the run's.
                unsafe {
                    libc::signal(signal as libc::c_int, libc::SIG_DFL);
                    libc::raise(signal as libc::c_int);
                }
                std::process::exit(crate::exit::ERROR);
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => wait_a_moment(exited.as_ref()),
            Err(_) => {
                crate::scratch::finish();
                std::process::exit(crate::exit::ERROR)
            }
        }
    }
}

/// Waits until the run ends (its pidfd turns readable) or a signal comes, at most 100 ms;
/// 10 ms where the kernel has no pidfd. Hundreds of runs at once each waking every 10 ms
/// for their whole length cost a class's grading a core.
fn wait_a_moment(exited: Option<&std::os::fd::OwnedFd>) {
    use std::os::fd::AsRawFd;
    match exited {
        Some(fd) => {
            let mut poll = libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, for the length of the call. A signal ends it early
            // (EINTR, whatever SA_RESTART says): the caller then looks at the signal.
            unsafe {
                libc::poll(&raw mut poll, 1, 100);
            }
        }
        None => std::thread::sleep(std::time::Duration::from_millis(10)),
    }
}

/// A file descriptor that turns readable when `child` ends (`pidfd_open`, Linux 5.3).
fn pidfd(child: nix::unistd::Pid) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: a plain system call; a descriptor it returns is ours alone.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, child.as_raw(), 0) };
    let fd = i32::try_from(fd).ok().filter(|fd| *fd >= 0)?;
    // SAFETY: just opened, owned by nothing else.
    Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Mounts a private `/tmp` for the run's programs at `dir` (a tmpfs of [`TMP_SIZE`]),
/// where the run has mounts of its own. Returns whether it did.
pub fn mount_program_tmp(dir: &Path) -> bool {
    use nix::mount::{MsFlags, mount};
    if !OWN_MOUNTS.load(Ordering::Relaxed) || PROGRAM_TMP.get().is_some() {
        return false;
    }
    if std::fs::create_dir_all(dir).is_err() {
        return false;
    }
    let options = format!("size={TMP_SIZE},mode=1777");
    let mounted = mount(
        Some("tmpfs"),
        dir,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(options.as_str()),
    );
    if mounted.is_err() {
        return false;
    }
    match CString::new(dir.as_os_str().as_encoded_bytes()) {
        Ok(path) => PROGRAM_TMP.set(path).is_ok(),
        Err(_) => false,
    }
}

/// Unmounts what [`mount_program_tmp`] mounted at `dir`, if anything.
pub fn unmount_program_tmp(dir: &Path) {
    if PROGRAM_TMP
        .get()
        .is_some_and(|p| p.as_bytes() == dir.as_os_str().as_encoded_bytes())
    {
        let _ = nix::mount::umount2(dir, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Folders that the run's programs must not see, where the run has mounts of its own: an
/// empty, read-only folder covers each of them in the programs' mount namespace. Folders
/// that do not exist, and `/`, are left out.
pub fn hide(folders: &[std::path::PathBuf]) {
    let _ = HIDDEN.set(Mounts::hiding(folders).hidden);
}

/// What a program's child process must mount before `exec`, where the run has mounts of
/// its own: `None` where there is nothing to do.
pub(crate) fn program_mounts() -> Option<Mounts> {
    if !OWN_MOUNTS.load(Ordering::Relaxed) {
        return None;
    }
    let mounts = Mounts {
        tmp: PROGRAM_TMP.get().cloned(),
        hidden: HIDDEN.get().cloned().unwrap_or_default(),
    };
    (mounts.tmp.is_some() || !mounts.hidden.is_empty()).then_some(mounts)
}

/// A mount namespace for one child process, made between its fork and its `exec`: `/tmp`
/// replaced by a private one, folders hidden under empty ones.
#[derive(Clone, Debug, Default)]
pub struct Mounts {
    tmp: Option<CString>,
    hidden: Vec<CString>,
}

impl Mounts {
    /// Hides `folders` (those that exist, except `/`).
    pub fn hiding(folders: &[std::path::PathBuf]) -> Self {
        let hidden = folders
            .iter()
            .filter_map(|f| std::fs::canonicalize(f).ok())
            .filter(|f| f.is_dir() && f.parent().is_some())
            .filter_map(|f| CString::new(f.into_os_string().into_encoded_bytes()).ok())
            .collect();
        Mounts { tmp: None, hidden }
    }

    /// For a child about to `exec`: a mount namespace of its own (whose mounts propagate
    /// nowhere), in which `/tmp` is the private one and the hidden folders are empty.
    /// Only system calls on data prepared before the fork. The child's working directory
    /// may be inside a hidden folder: it stays usable.
    pub fn enter(&self) -> std::io::Result<()> {
        let fail = || Err(std::io::Error::last_os_error());
        // SAFETY: plain system calls; the strings outlive them.
        unsafe {
            if libc::unshare(libc::CLONE_NEWNS) != 0 {
                return fail();
            }
            let private = libc::MS_REC | libc::MS_PRIVATE;
            if libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                private,
                std::ptr::null(),
            ) != 0
            {
                return fail();
            }
            if let Some(tmp) = &self.tmp {
                let flags = libc::MS_BIND | libc::MS_REC;
                if libc::mount(
                    tmp.as_ptr(),
                    c"/tmp".as_ptr(),
                    std::ptr::null(),
                    flags,
                    std::ptr::null(),
                ) != 0
                {
                    return fail();
                }
            }
            for folder in &self.hidden {
                let flags = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
                if libc::mount(
                    c"tmpfs".as_ptr(),
                    folder.as_ptr(),
                    c"tmpfs".as_ptr(),
                    flags,
                    c"size=4k,mode=0".as_ptr().cast(),
                ) != 0
                {
                    return fail();
                }
            }
        }
        Ok(())
    }
}
