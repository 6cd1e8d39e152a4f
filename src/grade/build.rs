//! Builds: a submission's file made into a program, compiled from C in a copy of the
//! submission by the course's build command, as a user of its own when labrun is root,
//! within the build's timeout. Hands on the program's path, or why there is none (the
//! compiler's first errors, a timeout), for the runs of that file.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The program for `file` of a submission: built from C, or the file itself if runnable.
pub(crate) fn prepare(
    submission: &Path,
    file: &str,
    build_dir: &Path,
    command: &str,
    timeout: Duration,
    hidden: &crate::sandbox::pids::Mounts,
) -> Result<PathBuf, String> {
    let source = submission.join(file);
    // A link could lead a root labrun to any file of the machine: only files count.
    let is_file = std::fs::symlink_metadata(&source).is_ok_and(|m| m.is_file());
    if !is_file {
        return Err(if source.is_symlink() {
            format!("`{file}` is a symbolic link, not a file of the submission")
        } else {
            format!("the submission has no `{file}`")
        });
    }
    if source.extension().is_none_or(|e| e != "c") {
        return Ok(std::path::absolute(&source).unwrap_or(source));
    }
    private_dir(build_dir)?;
    let stem = Path::new(file)
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let output = build_dir.join(&stem);
    // The compiler runs in a copy of the submission, as a user of its own when labrun is
    // root: it can read the submission and nothing that user may not (an `#include` of
    // /etc/shadow, or of another submission, fails), and write nowhere but its copy.
    let lease = crate::sandbox::users::pool()
        .map(crate::sandbox::users::Pool::take)
        .transpose()?;
    let copy = build_dir.join(format!("build-{stem}"));
    let _ = std::fs::remove_dir_all(&copy);
    copy_tree(submission, &copy, lease.as_ref(), 0)
        .map_err(|e| format!("cannot copy the submission for its build: {e}"))?;
    let compiler = Compiler {
        command,
        timeout,
        lease: lease.as_ref(),
        hidden,
    };
    let built = compiler.run(&copy, file, &stem, build_dir);
    let result = built.and_then(|()| {
        copy_out(&copy.join(&stem), &output)
            .map(|()| output.clone())
            .map_err(|e| format!("`{file}` built, but its program cannot be read: {e}"))
    });
    let _ = std::fs::remove_dir_all(&copy);
    // Gives the uid back, once nothing of the compiler's runs any more.
    drop(lease);
    result
}

/// The course's build command, and how it runs.
struct Compiler<'a> {
    command: &'a str,
    timeout: Duration,
    /// The user it runs as, if labrun is root.
    lease: Option<&'a crate::sandbox::users::Lease>,
    /// What it must not see.
    hidden: &'a crate::sandbox::pids::Mounts,
}

impl Compiler<'_> {
    /// Builds `file` in `dir` into `stem`, with its messages in `logs/STEM.build.log`.
    fn run(&self, dir: &Path, file: &str, stem: &str, logs: &Path) -> Result<(), String> {
        compile(self, dir, file, stem, logs)
    }
}

fn compile(
    compiler: &Compiler<'_>,
    dir: &Path,
    file: &str,
    stem: &str,
    logs: &Path,
) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let Compiler {
        command,
        timeout,
        lease,
        hidden,
    } = *compiler;
    // Relative to the copy: its messages name the student's files, not the grader's.
    let words: Vec<String> = command
        .split_whitespace()
        .map(|w| w.replace("{source}", file).replace("{output}", stem))
        .collect();
    let Some((program, args)) = words.split_first() else {
        return Err("the course's build command is empty".into());
    };
    // The compiler's messages go to a file, not a pipe: a pipe nobody reads until the
    // compiler exits would block it, on its first 64 KiB of errors, until the timeout.
    let log_path = logs.join(format!("{stem}.build.log"));
    let log = std::fs::File::create(&log_path)
        .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let log_err = log
        .try_clone()
        .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0);
    if lease.is_some() {
        command
            .env_clear()
            .envs(crate::sandbox::users::kept_environment());
    }
    let user = lease.map(crate::sandbox::users::Become::of);
    let hidden = hidden.clone();
    // SAFETY: only system calls between fork and exec, on data prepared before.
    unsafe {
        command.pre_exec(move || {
            // Where mount namespaces are refused, permissions guard what this would hide.
            let _ = hidden.enter();
            crate::sandbox::users::first_to_go();
            if let Some(user) = &user {
                user.apply()?;
            }
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(std::io::Error::from)
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run the build command `{program}`: {e}"))?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let mut head = Vec::new();
                if let Ok(file) = std::fs::File::open(&log_path) {
                    use std::io::Read;
                    let _ = file.take(16 << 10).read_to_end(&mut head);
                }
                let message: String = String::from_utf8_lossy(&head).chars().take(4000).collect();
                return if status.success() {
                    Ok(())
                } else {
                    Err(format!("`{file}` does not compile:\n{message}"))
                };
            }
            Ok(None) if started.elapsed() > timeout => {
                if let Ok(pgid) = i32::try_from(child.id())
                    && pgid > 1
                {
                    let _ = nix::sys::signal::killpg(
                        nix::unistd::Pid::from_raw(pgid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "building `{file}` took more than {}",
                    crate::scenario::duration::display(timeout)
                ));
            }
            Ok(None) if crate::signals::received().is_some() => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("the build of `{file}` was interrupted"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("lost the build of `{file}`: {e}")),
        }
    }
}

/// How deep a submission's folders are copied for its builds (and hashed for `--resume`).
pub(crate) const COPY_DEPTH: usize = 16;
/// How much of a submission's files is copied for its builds (and hashed).
pub(crate) const COPY_BYTES: u64 = 64 << 20;

/// Copies the folders and files of `from` into a new folder `to` (links and special files
/// are left out), given to the lease's user if any. At most [`COPY_DEPTH`] levels deep and
/// [`COPY_BYTES`].
fn copy_tree(
    from: &Path,
    to: &Path,
    lease: Option<&crate::sandbox::users::Lease>,
    depth: usize,
) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new().mode(0o700).create(to)?;
    if let Some(lease) = lease {
        crate::sandbox::users::give(to, lease, 0o700)?;
    }
    if depth >= COPY_DEPTH {
        return Ok(());
    }
    let mut copied = 0;
    for entry in std::fs::read_dir(from)?.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &target, lease, depth + 1)?;
        } else if kind.is_file() {
            copied += entry.metadata().map_or(0, |m| m.len());
            if copied > COPY_BYTES {
                continue;
            }
            std::fs::copy(entry.path(), &target)?;
            match lease {
                Some(lease) => crate::sandbox::users::give(&target, lease, 0o600)?,
                None => std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600))?,
            }
        }
    }
    Ok(())
}

/// Copies a built program out of the compiler's folder into labrun's own, refusing a link.
fn copy_out(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut source = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(from)?;
    if !source.metadata()?.is_file() {
        return Err(std::io::Error::other("not a file"));
    }
    let _ = std::fs::remove_file(to);
    let mut target = std::fs::File::create(to)?;
    std::io::copy(&mut source, &mut target)?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o755))
}

/// Creates `dir` if need be, and makes it labrun's alone (mode 0700).
pub(crate) fn private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))
}
