//! Isolation of a run: a private network namespace with its own loopback, and what keeps
//! untrusted programs from harming labrun, each other and the machine.
//!
//! In its own namespace a run's fixed ports (4000…) never clash with another run or with
//! the host, and nothing it starts can reach another machine. As root the namespace is
//! made directly; otherwise inside a user namespace, which works unprivileged on most
//! Linux systems. Where neither works the run goes on on the host's loopback, and says so.
//!
//! The programs themselves: [`users`] gives each a uid of its own when labrun is root,
//! [`pids`] a pid namespace (with its own `/proc`, a private `/tmp`, hidden folders) where
//! one can be made, [`cgroup`] a cap on processes where the machine offers one.

pub mod cgroup;
pub mod network;
pub mod pids;
pub mod ports;
pub mod users;

pub use network::{Hosts, Needs, Network};

use std::fs;

/// Where a run's network lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// A network namespace of the run's own, loopback up.
    Private,
    /// The host's network, with the reason a private one could not be made.
    Host { reason: String },
}

/// Moves the calling process into a new network namespace with `lo` up.
///
/// Must be called while the process has a single thread (before any async runtime starts):
/// a namespace is entered by the calling thread, and threads started later inherit it.
pub fn enter_private_network() -> Isolation {
    match try_enter() {
        Ok(()) => Isolation::Private,
        Err(reason) => Isolation::Host { reason },
    }
}

fn try_enter() -> Result<(), String> {
    use nix::sched::{CloneFlags, unshare};
    let uid = nix::unistd::geteuid();
    let gid = nix::unistd::getegid();
    if unshare(CloneFlags::CLONE_NEWNET).is_err() {
        // Not privileged: a user namespace in which we are root makes the network one.
        unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET)
            .map_err(|e| format!("cannot create a network namespace: {}", e.desc()))?;
        let write = |file: &str, text: String| {
            fs::write(format!("/proc/self/{file}"), text)
                .map_err(|e| format!("cannot set up the user namespace ({file}): {e}"))
        };
        write("setgroups", "deny".into())?;
        write("uid_map", format!("{uid} {uid} 1"))?;
        write("gid_map", format!("{gid} {gid} 1"))?;
    }
    loopback_up()
}

/// Buckets of the TCP hash table of each run's network namespace under [`tables_for_runs`].
const RUN_TCP_BUCKETS: u32 = 256;

/// For `labrun grade` as root, before it starts its threads: moves the grader into a
/// network namespace of its own, so that each run's namespace, made from there, gets a TCP
/// hash table of its own of [`RUN_TCP_BUCKETS`] buckets (`net.ipv4.tcp_child_ehash_entries`,
/// Linux 6.1 and later) instead of sharing the host's (262,144 buckets on a 24 GiB
/// machine), which each socket dump walks whole: a quarter of a millisecond a dump, eight
/// dumps a run. Its loopback is up, for a run that could not make a namespace after all.
///
/// Nothing changes where this cannot be had (not root, a container, an older kernel).
/// Once a process: a second grader's namespace would not pass the setting on.
pub fn tables_for_runs() -> bool {
    static DONE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DONE.get_or_init(|| {
        use nix::sched::{CloneFlags, setns, unshare};
        if !nix::unistd::geteuid().is_root() {
            return false;
        }
        let Ok(host) = fs::File::open("/proc/thread-self/ns/net") else {
            return false;
        };
        if unshare(CloneFlags::CLONE_NEWNET).is_err() {
            return false;
        }
        let set = fs::write(
            "/proc/sys/net/ipv4/tcp_child_ehash_entries",
            RUN_TCP_BUCKETS.to_string(),
        )
        .map_err(|e| format!("cannot set tcp_child_ehash_entries: {e}"))
        .and_then(|()| loopback_up());
        match set {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!("runs share the host's TCP hash table: {e}");
                if let Err(e) = setns(&host, CloneFlags::CLONE_NEWNET) {
                    tracing::warn!("cannot go back to the host's network: {e}");
                }
                false
            }
        }
    })
}

fn loopback_up() -> Result<(), String> {
    use std::os::fd::AsRawFd;
    let socket = std::net::UdpSocket::bind("0.0.0.0:0")
        .or_else(|_| {
            // Binding may fail before lo is up on some kernels; any AF_INET socket will do.
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)
                .map(std::net::UdpSocket::from)
        })
        .map_err(|e| format!("cannot open a socket to configure lo: {e}"))?;
    // SAFETY: `ifreq` is plain old data; zeroed is a valid value, and the name fits.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    let fd = socket.as_raw_fd();
    // SAFETY: SIOCGIFFLAGS and SIOCSIFFLAGS read and write `ifr_flags` in the request.
    unsafe {
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut request) < 0 {
            return Err(format!(
                "cannot read lo's flags: {}",
                std::io::Error::last_os_error()
            ));
        }
        request.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(fd, libc::SIOCSIFFLAGS, &request) < 0 {
            return Err(format!(
                "cannot bring lo up: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// Makes the run's loopback acknowledge every TCP segment at once (route metric `quickack`).
///
/// Linux delays some ACKs by 40 ms hoping to send them with the next data, and whether it
/// does depends on timing: the same exchange shows 17 packets one run and 19 the next, and
/// different ones at `--time-scale 0` and at real time. With quick ACKs the packets, and the
/// TCP states they cause, are the same every run. Call only inside the run's own namespace.
pub fn quick_acks() -> Result<(), String> {
    // What `ip route change table local local DEST dev lo proto kernel scope host src
    // 127.0.0.1 quickack 1` sends, written directly: a process less to start per run.
    let lo = nix::net::if_::if_nametoindex("lo").map_err(|e| format!("no lo: {}", e.desc()))?;
    for prefix in [8u8, 32] {
        let destination = if prefix == 8 {
            [127, 0, 0, 0]
        } else {
            [127, 0, 0, 1]
        };
        replace_route(destination, prefix, lo)?;
    }
    Ok(())
}

/// One RTM_NEWROUTE request with NLM_F_REPLACE, and the kernel's acknowledgement.
fn replace_route(destination: [u8; 4], prefix: u8, lo: u32) -> Result<(), String> {
    use crate::netlink;
    let mut metrics = Vec::new();
    // RTAX_QUICKACK in <linux/rtnetlink.h>; the libc crate does not name it.
    const RTAX_QUICKACK: u16 = 15;
    netlink::attribute(&mut metrics, RTAX_QUICKACK, &1u32.to_ne_bytes());
    let mut body = vec![
        libc::AF_INET as u8,
        prefix,
        0,
        0,
        libc::RT_TABLE_LOCAL,
        libc::RTPROT_KERNEL,
        libc::RT_SCOPE_HOST,
        libc::RTN_LOCAL,
    ];
    body.extend_from_slice(&0u32.to_ne_bytes());
    netlink::attribute(&mut body, libc::RTA_DST, &destination);
    netlink::attribute(&mut body, libc::RTA_PREFSRC, &[127, 0, 0, 1]);
    netlink::attribute(&mut body, libc::RTA_OIF, &lo.to_ne_bytes());
    netlink::attribute(&mut body, libc::RTA_METRICS, &metrics);
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK | libc::NLM_F_REPLACE) as u16;
    let message = netlink::message(libc::RTM_NEWROUTE, flags, 1, &body);
    let socket = netlink::open(libc::SOCK_RAW, libc::NETLINK_ROUTE)
        .map_err(|e| format!("cannot open a netlink socket: {e}"))?;
    netlink::send(&socket, &message).map_err(|e| format!("cannot send a route change: {e}"))?;
    let mut answer = [0u8; 512];
    let len = netlink::recv(&socket, &mut answer).unwrap_or(0);
    if len < netlink::HEADER + 4 {
        return Err("no answer to the route change".into());
    }
    // An NLMSG_ERROR message: its header, then the error number (0 is success).
    if let Some(error) = netlink::error_code(&answer[netlink::HEADER..len])
        && error != 0
    {
        return Err(format!(
            "the kernel refused the loopback route change: {}",
            std::io::Error::from_raw_os_error(-error)
        ));
    }
    Ok(())
}

/// Moves the calling thread into a mount namespace of its own whose mounts are private:
/// nothing mounted there shows in the namespace it came from.
pub(crate) fn own_mounts() -> Result<(), String> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .map_err(|e| format!("cannot create a mount namespace: {}", e.desc()))?;
    mounts_private().map_err(|e| format!("cannot make the mounts private: {}", e.desc()))
}

/// Makes every mount of the current mount namespace private (`mount --make-rprivate /`).
pub(crate) fn mounts_private() -> nix::Result<()> {
    use nix::mount::{MsFlags, mount};
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
}

/// Gives the run a private `/etc/hosts` (and a name-service setup that reads only it), in a
/// mount namespace of its own: lookups give the same answers on every machine, and none
/// leaves it. Call while the process has a single thread, after
/// [`enter_private_network`].
pub fn private_hosts(hosts: &str) -> Result<(), String> {
    use nix::mount::{MsFlags, mount};
    own_mounts()?;
    let files = [
        ("/etc/hosts", hosts.to_string()),
        ("/etc/nsswitch.conf", "hosts: files\n".to_string()),
        ("/etc/host.conf", "multi on\n".to_string()),
    ];
    for (target, text) in files {
        if !std::path::Path::new(target).exists() {
            continue;
        }
        let source = crate::scratch::root()?.join(target.trim_start_matches("/etc/"));
        std::fs::write(&source, text)
            .map_err(|e| format!("cannot write {}: {e}", source.display()))?;
        let mounted = mount(
            Some(&source),
            target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        );
        // The mount keeps the file alive; nothing is left behind in the temporary folder.
        let _ = std::fs::remove_file(&source);
        mounted.map_err(|e| format!("cannot mount a private {target}: {}", e.desc()))?;
    }
    Ok(())
}

/// Makes labrun the reaper of every process its programs leave behind: a program that
/// forks a child which calls `setsid()` and outlives it re-parents that child to labrun,
/// which can then stop it with [`kill_leftovers`].
pub fn adopt_orphans() {
    let _ = nix::sys::prctl::set_child_subreaper(true);
}

/// Kills every process left among labrun's descendants (children it adopted included),
/// and reaps them. Returns how many there were.
pub fn kill_leftovers() -> usize {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let me = std::process::id();
    let mut killed = 0;
    for _ in 0..5 {
        let children = descendants(me);
        if children.is_empty() {
            break;
        }
        for pid in &children {
            // A zombie is dead already: it is only reaped here, not counted.
            let zombie = is_zombie(*pid);
            if kill(Pid::from_raw(*pid), Signal::SIGKILL).is_ok() && !zombie {
                killed += 1;
            }
        }
        // Reap them, so that they leave no zombie behind.
        for pid in &children {
            let _ = nix::sys::wait::waitpid(
                Pid::from_raw(*pid),
                Some(nix::sys::wait::WaitPidFlag::WNOHANG),
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
        for pid in &children {
            let _ = nix::sys::wait::waitpid(
                Pid::from_raw(*pid),
                Some(nix::sys::wait::WaitPidFlag::WNOHANG),
            );
        }
    }
    killed
}

/// Every process under `root` in the process tree, from `/proc`; zombies only as `root`'s
/// own children (to reap them).
fn descendants(root: u32) -> Vec<i32> {
    children_tree(root).unwrap_or_else(|| scan_descendants(root))
}

/// [`descendants`] from each thread's `children` file: a few reads, where a scan of
/// `/proc` reads every process of the machine (several milliseconds on a busy one).
/// `None` where the kernel has no such files (`CONFIG_PROC_CHILDREN`).
fn children_tree(root: u32) -> Option<Vec<i32>> {
    let root = root as i32;
    if !std::path::Path::new(&format!("/proc/{root}/task/{root}/children")).exists() {
        return None;
    }
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for pid in children_of(parent).unwrap_or_default() {
            if found.contains(&pid) {
                continue;
            }
            if !is_zombie(pid) || parent == root {
                found.push(pid);
                frontier.push(pid);
            }
        }
    }
    Some(found)
}

/// The children of process `pid` (zombies included), from each of its threads'
/// `children` file; `None` where `/proc` cannot say (no such process, or a kernel without
/// `CONFIG_PROC_CHILDREN`).
pub(crate) fn children_of(pid: i32) -> Option<Vec<i32>> {
    if !std::path::Path::new(&format!("/proc/{pid}/task/{pid}/children")).exists() {
        return None;
    }
    let mut found = Vec::new();
    for thread in fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        // A thread or process gone meanwhile has no children left to list.
        if let Ok(text) = fs::read_to_string(thread.path().join("children")) {
            found.extend(
                text.split_whitespace()
                    .filter_map(|c| c.parse::<i32>().ok()),
            );
        }
    }
    Some(found)
}

/// Whether `pid` has exited and waits to be reaped.
fn is_zombie(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let after = &stat[stat.rfind(')')? + 1..];
            after.split_whitespace().next().map(|state| state == "Z")
        })
        .unwrap_or(false)
}

/// [`descendants`] from the parent of every process in `/proc`.
fn scan_descendants(root: u32) -> Vec<i32> {
    let mut parents: Vec<(i32, i32)> = Vec::new();
    if let Ok(dir) = fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // `pid (comm) state ppid …`: the command may hold spaces and parentheses.
            let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                continue;
            };
            let mut fields = after.split_whitespace();
            let state = fields.next().unwrap_or("");
            let ppid: i32 = fields.next().and_then(|p| p.parse().ok()).unwrap_or(0);
            if state != "Z" || ppid == root as i32 {
                parents.push((pid, ppid));
            }
        }
    }
    let mut found = Vec::new();
    let mut frontier = vec![root as i32];
    while let Some(parent) = frontier.pop() {
        for &(pid, ppid) in &parents {
            if ppid == parent && !found.contains(&pid) {
                found.push(pid);
                frontier.push(pid);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run's namespace made after [`tables_for_runs`] has a TCP hash table of its own,
    /// of [`RUN_TCP_BUCKETS`] buckets. In a thread of its own, which the namespaces die
    /// with: the test's other threads stay on the host's network.
    #[test]
    fn namespaces_made_after_tables_for_runs_have_small_tcp_tables() {
        let setting = std::path::Path::new("/proc/sys/net/ipv4/tcp_child_ehash_entries");
        if !nix::unistd::geteuid().is_root() || !setting.exists() {
            eprintln!("SKIPPED: needs root and Linux 6.1 or later");
            return;
        }
        std::thread::spawn(|| {
            assert!(tables_for_runs());
            // What a run does first.
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("a namespace");
            let buckets = fs::read_to_string("/proc/sys/net/ipv4/tcp_ehash_entries")
                .expect("the run's table size");
            assert_eq!(buckets.trim(), RUN_TCP_BUCKETS.to_string());
        })
        .join()
        .expect("the test's thread");
    }
}
