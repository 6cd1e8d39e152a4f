//! The kernel's socket tables and `/proc/PID/fd`: sockets, their states and owners.
//!
//! The tables are those of the reading thread's network namespace, which is the run's own
//! when labrun runs in a private namespace.
//!
//! TCP comes from a `NETLINK_SOCK_DIAG` dump (what `ss` uses), UDP from `/proc/net/udp`.
//! Unless the host set `net.ipv4.tcp_child_ehash_entries`, every namespace shares the
//! host's TCP hash table (262,144 buckets on a 24 GiB machine), and the kernel walks all of
//! it for each `read` of `/proc/net/tcp`, the last one that finds nothing more included:
//! 1.7 ms a read, 10 ms a table. A dump walks it once per address family. The UDP table is
//! small enough that `/proc` costs nothing.

use std::collections::HashSet;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::record::{Protocol, SocketEntry};

/// Every socket of `protocol` in the current network namespace, IPv4 and IPv6.
pub(crate) fn table(protocol: Protocol) -> Vec<SocketEntry> {
    if protocol == Protocol::Tcp {
        match diag::tcp_table() {
            Ok(entries) => return entries,
            Err(e) => tracing::debug!("no socket dump over netlink ({e}): reading /proc"),
        }
    }
    proc_table(protocol)
}

/// [`table`] from `/proc/net/{tcp,udp}{,6}`.
fn proc_table(protocol: Protocol) -> Vec<SocketEntry> {
    let base = match protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    };
    let mut entries = Vec::new();
    for suffix in ["", "6"] {
        if let Ok(text) = fs::read_to_string(format!("/proc/net/{base}{suffix}")) {
            entries.extend(text.lines().skip(1).filter_map(|l| parse_line(protocol, l)));
        }
    }
    entries
}

/// Whether no CPU has packets waiting in its network backlog, from the kernel's
/// per-CPU counters (`/proc/net/softnet_stat`, whose twelfth column, since Linux 5.10, is
/// the backlog's length). A packet sent on the loopback waits there until a softirq
/// delivers it, usually before the `send` returns, later on a busy machine. The counters
/// are the whole machine's: `false` may mean another namespace's packets, or a kernel that
/// does not tell.
pub(crate) fn loopback_idle() -> bool {
    fs::read_to_string("/proc/net/softnet_stat").is_ok_and(|text| backlogs_empty(&text))
}

/// [`loopback_idle`] from the text of `/proc/net/softnet_stat`.
fn backlogs_empty(text: &str) -> bool {
    let mut cpus = 0;
    for line in text.lines() {
        let backlog = line
            .split_whitespace()
            .nth(11)
            .and_then(|c| u32::from_str_radix(c, 16).ok());
        if backlog != Some(0) {
            return false;
        }
        cpus += 1;
    }
    cpus > 0
}

/// The socket inodes that process `pid` holds open.
pub(crate) fn socket_inodes(pid: u32) -> HashSet<u64> {
    // A program running as a user of its own is read with that user's file-system rights
    // where labrun cannot read other users' processes (a container without CAP_SYS_PTRACE).
    crate::sandbox::users::as_owner_of(pid, || socket_inodes_of(pid))
}

fn socket_inodes_of(pid: u32) -> HashSet<u64> {
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return HashSet::new();
    };
    dir.filter_map(|entry| {
        let target = fs::read_link(entry.ok()?.path()).ok()?;
        let target = target.to_str()?;
        target
            .strip_prefix("socket:[")?
            .strip_suffix(']')?
            .parse()
            .ok()
    })
    .collect()
}

/// The sockets of `protocol` held by any of `pids`.
pub(crate) fn sockets_of(pids: &[u32], protocol: Protocol) -> Vec<SocketEntry> {
    let inodes: HashSet<u64> = pids.iter().flat_map(|&p| socket_inodes(p)).collect();
    if inodes.is_empty() {
        return Vec::new();
    }
    table(protocol)
        .into_iter()
        .filter(|e| inodes.contains(&e.inode))
        .collect()
}

/// Watches whether process `pid` is blocked waiting for input (in `accept`, `recvfrom`,
/// `read`, `poll`…), as a server between clients is, rather than sleeping or working.
/// Its `/proc/PID/syscall` stays open and is read again from its start each time: a
/// grading asks every few milliseconds, in hundreds of runs at once.
pub(crate) struct InputWatch {
    pid: u32,
    file: Option<fs::File>,
}

impl InputWatch {
    pub(crate) fn new(pid: u32) -> Self {
        let open = || fs::File::open(format!("/proc/{pid}/syscall")).ok();
        InputWatch {
            pid,
            file: crate::sandbox::users::as_owner_of(pid, open),
        }
    }

    /// Whether the process waits for input now.
    pub(crate) fn waits(&self) -> bool {
        use std::os::unix::fs::FileExt;
        let Some(file) = &self.file else {
            return false;
        };
        let mut buffer = [0u8; 256];
        // The kernel checks the right to read at each read, with this thread's identity.
        let read = || file.read_at(&mut buffer, 0);
        let Ok(length) = crate::sandbox::users::as_owner_of(self.pid, read) else {
            return false;
        };
        let text = String::from_utf8_lossy(&buffer[..length]);
        let Some(Ok(number)) = text
            .split_whitespace()
            .next()
            .map(str::parse::<libc::c_long>)
        else {
            return false;
        };
        [
            libc::SYS_accept,
            libc::SYS_accept4,
            libc::SYS_recvfrom,
            libc::SYS_recvmsg,
            libc::SYS_read,
            libc::SYS_ppoll,
            libc::SYS_pselect6,
            libc::SYS_epoll_pwait,
            libc::SYS_wait4,
            libc::SYS_waitid,
        ]
        .contains(&number)
            || cfg!(target_arch = "x86_64") && legacy_waits(number)
    }

    /// Looks every `every`, from a thread of its own, until the process waits for input,
    /// then says so on `found`; stops looking as soon as nobody awaits `found` any more.
    ///
    /// A thread of its own, not a timer of the run's runtime: a server that sleeps 3 s
    /// before its `close()` is looked at 600 times, and each wake-up of the runtime (its
    /// timers, its I/O driver, the child's future polled again) cost about 60 µs of CPU
    /// where a `nanosleep` and a `pread` cost a few: such a `tcp_basic` server run took
    /// 61 to 68 ms of CPU, 45 ms this way (`perf stat`).
    pub(crate) fn send_when_waiting(
        self,
        every: std::time::Duration,
        found: tokio::sync::oneshot::Sender<()>,
    ) -> std::io::Result<()> {
        std::thread::Builder::new()
            .name("input-watch".into())
            .spawn(move || {
                while !found.is_closed() {
                    if self.waits() {
                        let _ = found.send(());
                        return;
                    }
                    std::thread::sleep(every);
                }
            })
            .map(drop)
    }
}

/// Older system calls that only some architectures have.
#[cfg(target_arch = "x86_64")]
fn legacy_waits(number: libc::c_long) -> bool {
    [
        libc::SYS_poll,
        libc::SYS_select,
        libc::SYS_epoll_wait,
        libc::SYS_pause,
    ]
    .contains(&number)
}

#[cfg(not(target_arch = "x86_64"))]
fn legacy_waits(_: libc::c_long) -> bool {
    false
}

fn parse_line(protocol: Protocol, line: &str) -> Option<SocketEntry> {
    let mut fields = line.split_whitespace();
    let _slot = fields.next()?;
    let local = parse_address(fields.next()?)?;
    let remote = parse_address(fields.next()?)?;
    let state = u8::from_str_radix(fields.next()?, 16).ok()?;
    let (send_queue, recv_queue) = fields.next()?.split_once(':')?;
    let send_queue = u64::from_str_radix(send_queue, 16).ok()?;
    let recv_queue = u64::from_str_radix(recv_queue, 16).ok()?;
    // Timer, retransmits, uid, timeout, then the inode.
    let inode = fields.nth(4)?.parse().ok()?;
    Some(SocketEntry {
        protocol,
        local,
        remote,
        state,
        send_queue,
        recv_queue,
        inode,
    })
}

/// `0100007F:0FA0` is 127.0.0.1:4000: the address in the kernel's byte order, the port in hex.
fn parse_address(text: &str) -> Option<SocketAddr> {
    let (ip, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(
            u32::from_str_radix(ip, 16).ok()?.to_le_bytes(),
        )),
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_mut(4).enumerate() {
                let word = u32::from_str_radix(&ip[i * 8..i * 8 + 8], 16).ok()?;
                chunk.copy_from_slice(&word.to_le_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// The TCP table from an `inet_diag` dump (`linux/inet_diag.h`).
mod diag {
    use std::io;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
    use std::os::fd::OwnedFd;

    use super::SocketEntry;
    use crate::netlink;
    use crate::record::Protocol;
    use crate::record::TCP_LISTEN;

    /// `SOCK_DIAG_BY_FAMILY` in `linux/sock_diag.h`, and `TCPDIAG_GETSOCK` in
    /// `linux/inet_diag.h`; the libc crate names neither.
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const TCPDIAG_GETSOCK: u16 = 18;
    /// `struct inet_diag_msg`, after the message's header.
    const MESSAGE: usize = 72;

    pub(super) fn tcp_table() -> io::Result<Vec<SocketEntry>> {
        // Each dump walks the whole hash table, which the namespace may share with the
        // host: the older request type gives both families in one walk.
        let mut entries = Vec::new();
        if dump(&open()?, TCPDIAG_GETSOCK, libc::AF_INET as u8, &mut entries).is_ok() {
            return Ok(entries);
        }
        // A socket of its own: what is left of a dump that failed midway must not be
        // read as the answer to the next one.
        entries.clear();
        let socket = open()?;
        for family in [libc::AF_INET, libc::AF_INET6] {
            dump(&socket, SOCK_DIAG_BY_FAMILY, family as u8, &mut entries)?;
        }
        Ok(entries)
    }

    fn open() -> io::Result<OwnedFd> {
        netlink::open(libc::SOCK_DGRAM, libc::NETLINK_SOCK_DIAG)
    }

    /// Asks for every TCP socket (of `family`, for `SOCK_DIAG_BY_FAMILY`; of both for
    /// `TCPDIAG_GETSOCK`) and reads the answer to its end.
    fn dump(
        socket: &OwnedFd,
        kind: u16,
        family: u8,
        entries: &mut Vec<SocketEntry>,
    ) -> io::Result<()> {
        // struct inet_diag_req_v2: family, protocol, extensions, padding, the states
        // wanted, and a socket id; struct inet_diag_req: family, two prefix lengths,
        // extensions, a socket id, the states wanted, and a field left at 0.
        let (mut body, states_at) = if kind == SOCK_DIAG_BY_FAMILY {
            (vec![family, libc::IPPROTO_TCP as u8, 0, 0], 4)
        } else {
            (vec![family, 0, 0, 0], 52)
        };
        body.resize(if kind == SOCK_DIAG_BY_FAMILY { 56 } else { 60 }, 0);
        body[states_at..states_at + 4].copy_from_slice(&u32::MAX.to_ne_bytes());
        let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
        netlink::send(
            socket,
            &netlink::message(kind, flags, u32::from(family), &body),
        )?;
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let len = netlink::recv(socket, &mut buffer)?;
            if len == 0 {
                return Err(io::Error::other("the dump ended without NLMSG_DONE"));
            }
            for message in netlink::messages(&buffer[..len]) {
                let (answer, body) = message?;
                match i32::from(answer) {
                    libc::NLMSG_DONE => return Ok(()),
                    libc::NLMSG_ERROR => {
                        return Err(match netlink::error_code(body) {
                            Some(code) => io::Error::from_raw_os_error(code.saturating_neg()),
                            None => io::Error::other("a short netlink error"),
                        });
                    }
                    _ if answer == kind && body.len() >= MESSAGE => entries.extend(entry(body)),
                    _ => {}
                }
            }
        }
    }

    /// One `struct inet_diag_msg`, with the queues as `/proc/net/tcp` shows them.
    fn entry(message: &[u8]) -> Option<SocketEntry> {
        let word = |i: usize| {
            u32::from_ne_bytes([message[i], message[i + 1], message[i + 2], message[i + 3]])
        };
        let port = |i: usize| u16::from_be_bytes([message[i], message[i + 1]]);
        let address = |i: usize| -> Option<IpAddr> {
            match i32::from(message[0]) {
                libc::AF_INET => Some(IpAddr::V4(Ipv4Addr::new(
                    message[i],
                    message[i + 1],
                    message[i + 2],
                    message[i + 3],
                ))),
                libc::AF_INET6 => {
                    let bytes: [u8; 16] = message[i..i + 16].try_into().ok()?;
                    Some(IpAddr::V6(Ipv6Addr::from(bytes)))
                }
                _ => None,
            }
        };
        let state = message[1];
        // The dump gives a listening socket's backlog maximum where /proc gives 0.
        let send_queue = if state == TCP_LISTEN { 0 } else { word(60) };
        Some(SocketEntry {
            protocol: Protocol::Tcp,
            local: SocketAddr::new(address(8)?, port(4)),
            remote: SocketAddr::new(address(24)?, port(6)),
            state,
            send_queue: u64::from(send_queue),
            recv_queue: u64::from(word(56)),
            inode: u64::from(word(68)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::TCP_LISTEN;

    #[test]
    fn parses_a_listening_tcp_row() {
        let line = "   0: 00000000:0FA0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 123456 1 0000000000000000 100 0 0 10 0";
        let e = parse_line(Protocol::Tcp, line).unwrap();
        assert_eq!(e.local, "0.0.0.0:4000".parse().unwrap());
        assert_eq!(e.state, TCP_LISTEN);
        assert_eq!(e.inode, 123456);
    }

    #[test]
    fn parses_loopback_and_ipv6() {
        assert_eq!(
            parse_address("0100007F:0FA0"),
            Some("127.0.0.1:4000".parse().unwrap())
        );
        assert_eq!(
            parse_address("00000000000000000000000001000000:0FA0"),
            Some("[::1]:4000".parse().unwrap())
        );
        assert_eq!(parse_address("zz:1"), None);
    }

    /// The dump and `/proc/net/tcp` list the same sockets, the same way.
    #[test]
    fn the_netlink_dump_agrees_with_proc() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_server, _) = listener.accept().unwrap();
        std::io::Write::write_all(&mut &client, b"12345").unwrap();
        // Both families come in the one dump (where this machine has IPv6).
        let port = listener.local_addr().unwrap().port();
        let v6 = std::net::TcpListener::bind(("::1", port)).ok();
        let key = |e: &SocketEntry| (e.local, e.remote, e.inode);
        let ours = |mut v: Vec<SocketEntry>| {
            v.retain(|e| e.local.port() == port || e.remote.port() == port);
            v.sort_by_key(key);
            v
        };
        let (mut dumped, mut read) = (Vec::new(), Vec::new());
        // The bytes in flight may still be on their way on the first try.
        for _ in 0..100 {
            dumped = ours(diag::tcp_table().unwrap());
            read = ours(proc_table(Protocol::Tcp));
            if dumped == read {
                break;
            }
        }
        assert_eq!(dumped.len(), 3 + usize::from(v6.is_some()), "{dumped:?}");
        assert_eq!(dumped, read);
    }

    #[test]
    fn backlogs_are_empty_only_when_every_cpu_says_so() {
        let idle = "000573b5 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n\
                    00062507 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000001 00000000 00000000\n";
        assert!(backlogs_empty(idle));
        let busy = idle.replacen(
            "00000000 00000000 00000001 00000000 00000000\n",
            "00000000 00000002 00000001 00000002 00000000\n",
            1,
        );
        assert!(!backlogs_empty(&busy), "{busy}");
        // Before Linux 5.10 the backlog's length is not there: nothing can be told.
        let old = "000573b5 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n";
        assert!(!backlogs_empty(old));
        assert!(!backlogs_empty(""));
    }

    #[test]
    fn finds_its_own_socket() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mine = sockets_of(&[std::process::id()], Protocol::Tcp);
        assert!(
            mine.iter()
                .any(|e| e.local.port() == port && e.state == TCP_LISTEN),
            "{mine:?}"
        );
    }
}
