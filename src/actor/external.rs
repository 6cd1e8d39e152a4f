//! External programs in a role: spawned as real processes, their output read as printed.
//!
//! The lab's programs never flush stdout, and servers never exit: on a pipe, their output
//! would sit in a stdio buffer and be lost when the server is stopped. Standard output is
//! therefore a pseudo-terminal in raw mode, on which the C library buffers by line, so
//! every line arrives when it is printed. Standard error, unbuffered in C, is a pipe.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::signal::{Signal, killpg};
use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
use nix::unistd::Pid;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};

use super::Sink;
use crate::record::{EventKind, Outcome, Stream};
use crate::sandbox::cgroup::{MAX_PROCESSES, ProcessCap};
use crate::sandbox::users::{self, Lease};

/// Lines longer than this are cut, so that one line without a newline cannot eat memory.
const MAX_LINE: usize = 4096;
/// Output kept per actor and stream; the rest is counted and dropped.
const MAX_OUTPUT: u64 = 1 << 20;

/// A program given with `--with ROLE=PROGRAM`: the program, and its own argument template
/// when the user gave a full command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ExternalCommand {
    pub program: PathBuf,
    /// `Some` when the command line had arguments: they replace the role's template.
    pub args: Option<Vec<String>>,
}

/// Why an external program cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ExternalError {
    #[error("the program is empty")]
    Empty,
    #[error("program `{0}` does not exist")]
    Missing(PathBuf),
    #[error("`{0}` is a directory, not a program")]
    Directory(PathBuf),
    #[error("program `{0}` is not executable (try `chmod +x {0}`)")]
    NotExecutable(PathBuf),
    #[error("program `{0}` is not found in PATH")]
    NotInPath(String),
}

impl ExternalCommand {
    /// Reads `PROGRAM` or `PROGRAM ARG…` (arguments split on spaces, with `{id}`, `{host}`,
    /// `{port}` filled in at run time), and checks that the program can be run.
    pub(crate) fn parse(text: &str) -> Result<Self, ExternalError> {
        let mut words = text.split_whitespace();
        let program = words.next().ok_or(ExternalError::Empty)?;
        let rest: Vec<String> = words.map(String::from).collect();
        Ok(ExternalCommand {
            program: locate(program)?,
            args: (!rest.is_empty()).then_some(rest),
        })
    }
}

fn locate(program: &str) -> Result<PathBuf, ExternalError> {
    if program.contains('/') {
        let path = PathBuf::from(program);
        check_executable(&path)?;
        // Absolute, so that it still runs from the actor's working directory.
        return Ok(std::path::absolute(&path).unwrap_or(path));
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path_var)
        .map(|dir| dir.join(program))
        .find(|candidate| check_executable(candidate).is_ok())
        .ok_or_else(|| ExternalError::NotInPath(program.to_string()))
}

fn check_executable(path: &Path) -> Result<(), ExternalError> {
    let meta = std::fs::metadata(path).map_err(|_| ExternalError::Missing(path.to_owned()))?;
    if meta.is_dir() {
        return Err(ExternalError::Directory(path.to_owned()));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(ExternalError::NotExecutable(path.to_owned()));
    }
    Ok(())
}

/// A running external program.
pub(crate) struct Running {
    child: Child,
    /// The program's processes, capped in number, all killed when this is dropped;
    /// `None` where this machine offers no control group (`labrun` says so once), or the
    /// program has a user of its own, which does the same.
    cap: Option<ProcessCap>,
    /// The user of its own the program runs as, when labrun is root: its processes are
    /// killed, and the uid given back, when this is dropped, after the group.
    lease: Option<Lease>,
    pgid: Pid,
    readers: Vec<tokio::task::JoinHandle<()>>,
}

/// Starts `program args`, in its own process group, with output reported to `sink`.
///
/// The program runs from a copy in `workdir`, its working directory: when labrun is root,
/// as a user of its own (see [`crate::sandbox::users`]) who owns the folder (mode 0700)
/// and the copy (0500), so that the program need not be readable where it came from and
/// sees nothing else of labrun's; where the run has mounts of its own, with the run's
/// private `/tmp`.
pub(crate) fn spawn(
    program: &Path,
    args: &[String],
    workdir: &Path,
    env: &[(String, String)],
    sink: Arc<dyn Sink>,
) -> Result<Running, String> {
    let began = std::time::Instant::now();
    let lease = users::pool().map(users::Pool::take).transpose()?;
    let copy = place(program, workdir, lease.as_ref())
        .map_err(|e| format!("cannot copy {} into its folder: {e}", program.display()))?;
    let (master, slave) =
        open_raw_pty().map_err(|e| format!("cannot open a pseudo-terminal: {e}"))?;
    let mut command = Command::new(&copy);
    if lease.is_some() {
        command.env_clear().envs(users::kept_environment());
    }
    command
        .arg0(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(workdir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(slave))
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    // A user of its own caps the program's processes already (`RLIMIT_NPROC`), and they
    // all die with its lease: a control group would only add the 10 to 20 ms that moving
    // a process into one costs.
    let cap = match lease {
        Some(_) => None,
        None => ProcessCap::create(MAX_PROCESSES).ok(),
    };
    let entry = cap.as_ref().map(ProcessCap::entry);
    let user = lease.as_ref().map(users::Become::of);
    let mounts = crate::sandbox::pids::program_mounts();
    // SAFETY: what runs between fork and exec are async-signal-safe system calls on data
    // prepared before the fork: the control group, which caps the program's processes;
    // the run's private /tmp and hidden folders; resource limits, so that a student program cannot eat the
    // machine (CPU seconds, memory, file size, open files); the user of its own; and last,
    // as the kernel forgets it when the user changes, the request to kill the program if
    // labrun dies, so that no student program outlives it.
    unsafe {
        command.pre_exec(move || {
            // The cap and the private /tmp are safeguards, not conditions to run: a group
            // that refuses the program (a delegated cgroup v2 tree, say) leaves it
            // uncapped, not unstarted; the permissions still guard what /tmp would hide.
            if let Some(entry) = &entry {
                let _ = entry.enter();
            }
            if let Some(mounts) = &mounts {
                let _ = mounts.enter();
            }
            limit_resources()?;
            if let Some(user) = &user {
                user.apply()?;
            }
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    // The command held the only other copy of the slave side; it is closed now, so the
    // master reads end of file once the program and its children have gone.
    drop(command);
    let pid = child.id().unwrap_or(0);
    tracing::debug!(
        "started {} as pid {pid} in {:?}",
        program.display(),
        began.elapsed()
    );
    let pgid = Pid::from_raw(i32::try_from(pid).unwrap_or(0));
    let mut readers = Vec::new();
    // SAFETY: `master` is an open descriptor that the AsyncFd owns from here on.
    match unsafe { AsyncFd::register_with_interest(master, tokio::io::Interest::READABLE) } {
        Ok(fd) => readers.push(tokio::spawn(read_lines(
            PtyReader(fd),
            Stream::Stdout,
            Arc::clone(&sink),
        ))),
        Err(e) => sink.emit(EventKind::Line {
            stream: Stream::Stderr,
            text: format!("labrun: cannot read the program's output: {e}"),
        }),
    }
    if let Some(stderr) = child.stderr.take() {
        readers.push(tokio::spawn(read_lines(stderr, Stream::Stderr, sink)));
    }
    Ok(Running {
        child,
        cap,
        lease,
        pgid,
        readers,
    })
}

/// Copies `program` into `workdir`, which it is given, as the lease's user's when there is
/// one; returns the copy's path relative to `workdir` (`./NAME`): the program runs from
/// there, with the machine's `/tmp`, where `workdir` is, maybe hidden by the run's private
/// one.
fn place(program: &Path, workdir: &Path, lease: Option<&Lease>) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let name = program
        .file_name()
        .map_or_else(|| "program".into(), |n| n.to_os_string());
    let copy = workdir.join(&name);
    // A copy left by an earlier program of the same role (a resolver runs once per query)
    // may be read-only, or another user's.
    let _ = std::fs::remove_file(&copy);
    std::fs::copy(program, &copy)?;
    match lease {
        Some(lease) => {
            users::give(&copy, lease, 0o500)?;
            users::give(workdir, lease, 0o700)?;
        }
        None => {
            std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o700))?;
            std::fs::set_permissions(workdir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(Path::new(".").join(name))
}

/// Limits of a student's program: far above what a lab program needs, far below what
/// would hurt the machine or the other runs.
const LIMITS: [(nix::sys::resource::Resource, u64); 4] = [
    (nix::sys::resource::Resource::RLIMIT_CPU, 60),
    (nix::sys::resource::Resource::RLIMIT_AS, 1 << 30),
    (nix::sys::resource::Resource::RLIMIT_FSIZE, 16 << 20),
    (nix::sys::resource::Resource::RLIMIT_NOFILE, 256),
];

fn limit_resources() -> std::io::Result<()> {
    for (resource, limit) in LIMITS {
        nix::sys::resource::setrlimit(resource, limit, limit).map_err(std::io::Error::from)?;
    }
    crate::sandbox::users::first_to_go();
    Ok(())
}

impl Running {
    /// The process id, for the socket tables.
    pub(crate) fn pid(&self) -> u32 {
        u32::try_from(self.pgid.as_raw()).unwrap_or(0)
    }

    /// Waits for the program to exit by itself.
    pub(crate) async fn wait(&mut self) -> Outcome {
        match self.child.wait().await {
            Ok(status) => outcome_of(status),
            Err(e) => Outcome::SpawnFailed {
                reason: format!("lost track of the process: {e}"),
            },
        }
    }

    /// Stops the whole process group: SIGTERM, then SIGKILL after `patience`.
    pub(crate) async fn stop(&mut self, patience: Duration) -> Outcome {
        if let Ok(Some(status)) = self.child.try_wait() {
            return outcome_of(status);
        }
        self.signal_group(Signal::SIGTERM);
        match tokio::time::timeout(patience, self.child.wait()).await {
            Ok(Ok(_)) => {}
            _ => {
                self.signal_group(Signal::SIGKILL);
                let _ = self.child.wait().await;
            }
        }
        Outcome::Stopped
    }

    /// Kills whatever the program left in its group, then waits (a little) for its last
    /// output.
    pub(crate) async fn finish(mut self) {
        self.signal_group(Signal::SIGKILL);
        let _ = self.child.wait().await;
        let (cap, lease) = (self.cap.take(), self.lease.take());
        if cap.is_some() || lease.is_some() {
            // Killing what is left in the group and of the user (detached children, a
            // fork loop) and removing the group are blocking calls that may take a
            // moment: off the runtime's only thread, where they would hold up every
            // other actor. The uid is given back last, once nothing of it runs.
            let _ = tokio::task::spawn_blocking(move || {
                drop(cap);
                drop(lease);
            })
            .await;
        }
        for reader in self.readers.drain(..) {
            let abort = reader.abort_handle();
            if tokio::time::timeout(Duration::from_millis(500), reader)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Running {
    /// Signals the program's process group; never a pid of 0 or 1, which `killpg` would
    /// take for labrun's own group, or every process labrun may signal.
    fn signal_group(&self, signal: Signal) {
        if self.pgid.as_raw() > 1 {
            let _ = killpg(self.pgid, signal);
        }
    }
}

fn outcome_of(status: std::process::ExitStatus) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => Outcome::Exited { code },
        (None, Some(signal)) => Outcome::Signaled { signal },
        (None, None) => Outcome::Exited { code: -1 },
    }
}

fn open_raw_pty() -> nix::Result<(OwnedFd, OwnedFd)> {
    let pty = nix::pty::openpty(None, None)?;
    let mut termios = tcgetattr(pty.slave.as_fd())?;
    // Raw: no echo, and `\n` stays `\n` instead of becoming `\r\n`.
    cfmakeraw(&mut termios);
    tcsetattr(pty.slave.as_fd(), SetArg::TCSANOW, &termios)?;
    let flags = OFlag::from_bits_truncate(fcntl(pty.master.as_fd(), FcntlArg::F_GETFL)?);
    fcntl(
        pty.master.as_fd(),
        FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK),
    )?;
    Ok((pty.master, pty.slave))
}

/// The master side of a pseudo-terminal as an async reader; `EIO` (no more writers) is EOF.
struct PtyReader(AsyncFd<OwnedFd>);

impl AsyncRead for PtyReader {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        loop {
            let mut guard = match self.0.poll_read_ready(cx) {
                Poll::Ready(Ok(guard)) => guard,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            let unfilled = buf.initialize_unfilled();
            let result = guard.try_io(|fd| {
                nix::unistd::read(fd.get_ref().as_fd(), unfilled).map_err(std::io::Error::from)
            });
            match result {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Poll::Ready(Ok(())),
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

/// Splits a stream into lines as they arrive; a last line without newline is kept too.
async fn read_lines(mut reader: impl AsyncRead + Unpin, stream: Stream, sink: Arc<dyn Sink>) {
    let mut lines = LineSplitter::default();
    let mut chunk = vec![0u8; 8192];
    let mut kept: u64 = 0;
    let mut cut: u64 = 0;
    let mut emit = |bytes: Vec<u8>| {
        if kept >= MAX_OUTPUT {
            cut += bytes.len() as u64 + 1;
            return;
        }
        kept += bytes.len() as u64 + 1;
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(&bytes);
        sink.emit(EventKind::Line {
            stream,
            text: String::from_utf8_lossy(bytes).into_owned(),
        });
    };
    loop {
        let n = match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        lines.push(&chunk[..n]).into_iter().for_each(&mut emit);
    }
    lines.finish().into_iter().for_each(&mut emit);
    if cut > 0 {
        sink.emit(EventKind::OutputCut { cut });
    }
}

/// Cuts bytes into lines, and lines longer than [`MAX_LINE`] into pieces, at the same places
/// however the bytes arrive, and never inside a UTF-8 character.
#[derive(Default)]
struct LineSplitter {
    pending: Vec<u8>,
}

impl LineSplitter {
    fn push(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        loop {
            let window = &self.pending[..self.pending.len().min(MAX_LINE + 1)];
            if let Some(newline) = window.iter().position(|&b| b == b'\n') {
                out.push(self.pending[..newline].to_vec());
                self.pending.drain(..=newline);
            } else if self.pending.len() > MAX_LINE {
                let at = char_boundary(&self.pending, MAX_LINE);
                out.push(self.pending[..at].to_vec());
                self.pending.drain(..at);
            } else {
                return out;
            }
        }
    }

    fn finish(self) -> Option<Vec<u8>> {
        (!self.pending.is_empty()).then_some(self.pending)
    }
}

/// The largest cut at or before `limit` that does not split a UTF-8 character.
fn char_boundary(bytes: &[u8], limit: usize) -> usize {
    let continuation = |b: u8| b & 0b1100_0000 == 0b1000_0000;
    (limit.saturating_sub(3)..=limit)
        .rev()
        .find(|&i| i < bytes.len() && !continuation(bytes[i]))
        .filter(|&i| i > 0)
        .unwrap_or(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_program_and_arguments() {
        let c = ExternalCommand::parse("sh {id} {port}").unwrap();
        assert!(c.program.ends_with("sh"));
        assert_eq!(c.args, Some(vec!["{id}".into(), "{port}".into()]));
        assert_eq!(ExternalCommand::parse("sh").unwrap().args, None);
    }

    #[test]
    fn long_lines_split_at_the_same_places_however_they_arrive() {
        let mut text = b"a".to_vec();
        text.extend("é".repeat(3000).as_bytes());
        text.push(b'\n');
        let whole = {
            let mut s = LineSplitter::default();
            s.push(&text)
        };
        let mut bytewise = LineSplitter::default();
        let pieces: Vec<Vec<u8>> = text.iter().flat_map(|b| bytewise.push(&[*b])).collect();
        assert_eq!(whole, pieces);
        assert!(
            whole
                .iter()
                .all(|l| l.len() <= MAX_LINE && std::str::from_utf8(l).is_ok())
        );
        assert_eq!(whole.concat().len(), text.len() - 1);
    }

    #[test]
    fn refuses_what_cannot_run() {
        assert!(matches!(
            ExternalCommand::parse("  "),
            Err(ExternalError::Empty)
        ));
        assert!(matches!(
            ExternalCommand::parse("./no/such/program"),
            Err(ExternalError::Missing(_))
        ));
        assert!(matches!(
            ExternalCommand::parse("/tmp"),
            Err(ExternalError::Directory(_))
        ));
        assert!(matches!(
            ExternalCommand::parse("no-such-program-anywhere"),
            Err(ExternalError::NotInPath(_))
        ));
    }
}
