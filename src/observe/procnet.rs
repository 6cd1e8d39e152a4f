//! Reading `/proc/net/{tcp,udp}{,6}` and `/proc/PID/fd`: sockets, their states and owners.
//!
//! The tables are those of the reading thread's network namespace, which is the run's own
//! when labrun runs in a private namespace.

use std::collections::HashSet;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::scenario::Protocol;

/// TCP states as the kernel numbers them in `/proc/net/tcp`.
pub(crate) const TCP_ESTABLISHED: u8 = 0x01;
pub(crate) const TCP_LISTEN: u8 = 0x0A;

/// One row of a socket table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketEntry {
    pub protocol: Protocol,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// The state as numbered in `/proc/net/tcp`.
    pub state: u8,
    /// Bytes waiting to be sent, and to be read (for a listening socket: the backlog's
    /// maximum and its current length).
    pub send_queue: u64,
    pub recv_queue: u64,
    pub inode: u64,
}

/// Every socket of `protocol` in the current network namespace, IPv4 and IPv6.
pub(crate) fn table(protocol: Protocol) -> Vec<SocketEntry> {
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

/// The socket inodes that process `pid` holds open.
pub(crate) fn socket_inodes(pid: u32) -> HashSet<u64> {
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

/// Whether process `pid` is blocked waiting for input (in `accept`, `recvfrom`, `read`,
/// `poll`…), as a server between clients is, rather than sleeping or working.
pub(crate) fn waits_for_input(pid: u32) -> bool {
    let Ok(text) = fs::read_to_string(format!("/proc/{pid}/syscall")) else {
        return false;
    };
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

#[cfg(test)]
mod tests {
    use super::*;

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
