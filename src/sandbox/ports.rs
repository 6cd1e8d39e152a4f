//! A run's own ports, where the run shares the machine's network (a container, an ordinary
//! user without namespaces).
//!
//! In a network of its own a run uses the ports its scenario declares (4000…). Sharing the
//! machine's network, two runs at once (`labrun grade`, several labrun processes) would
//! clash on them, and any other program of the machine could hold them. Each run then takes
//! a free port for every port its scenario declares, and the transcript shows the declared
//! ones again, so that snapshots hold.
//!
//! A port is the run's while it holds a lock on it: an abstract unix socket named after
//! the port, which every labrun process of the same network sees, and which the kernel
//! releases when the process ends, however it ends. Ports are taken below the kernel's
//! ephemeral range, so that no client's port can ever be one of them; the port with its
//! two bytes swapped is taken too, so that a program that forgot `htons()` binds where the
//! run can recognise it.

use std::os::fd::OwnedFd;

/// The declared ports of a run and the ports it really uses.
#[derive(Debug, Default)]
pub struct PortMap {
    /// `(declared, real)`, the byte-swapped pairs included; sorted by declared port.
    pairs: Vec<(u16, u16)>,
    /// The locks that make the real ports the run's; released when dropped.
    _locks: Vec<OwnedFd>,
}

/// Where ports are looked for, below the ephemeral range: the first port tried, and how
/// many there are.
const SPAN: u16 = 12_000;

impl PortMap {
    /// Takes a free port for each of `declared` (duplicates and 0 ignored).
    pub fn reserve(declared: &[u16]) -> Result<Self, String> {
        let mut wanted: Vec<u16> = declared.iter().copied().filter(|&p| p != 0).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let (low, span) = search_range();
        // Runs started together start their search at different places.
        let mut next = start_offset(span);
        let mut map = PortMap::default();
        for &port in &wanted {
            let mut tries = 0;
            let real = loop {
                if tries == span {
                    return Err(format!(
                        "no free port for port {port} between {low} and {}",
                        low + span - 1
                    ));
                }
                tries += 1;
                let candidate = low + next;
                next = (next + 1) % span;
                if let Some(locks) = map.take(&wanted, candidate) {
                    map._locks.extend(locks);
                    break candidate;
                }
            };
            map.pairs.push((port, real));
            if port.swap_bytes() != port && real.swap_bytes() != real {
                map.pairs.push((port.swap_bytes(), real.swap_bytes()));
            }
        }
        map.pairs.sort_unstable();
        Ok(map)
    }

    /// Locks `candidate` and its byte-swapped twin if both are free, and neither is a port
    /// the scenario declares or this map already uses: `None` otherwise.
    fn take(&self, wanted: &[u16], candidate: u16) -> Option<Vec<OwnedFd>> {
        let twin = candidate.swap_bytes();
        let used = |p: u16| {
            wanted.iter().any(|&w| w == p || w.swap_bytes() == p)
                || self.pairs.iter().any(|&(d, r)| r == p || d == p)
        };
        if used(candidate) || used(twin) || twin == candidate {
            return None;
        }
        let mut locks = Vec::new();
        for port in [candidate, twin] {
            locks.push(lock(port)?);
            if !free(port) {
                return None;
            }
        }
        Some(locks)
    }

    /// The port the run uses for `declared` (itself when it has no other).
    pub fn real(&self, declared: u16) -> u16 {
        self.pairs
            .iter()
            .find(|&&(d, _)| d == declared)
            .map_or(declared, |&(_, r)| r)
    }

    /// The declared port behind `real`, when it is one of the run's.
    pub fn declared(&self, real: u16) -> Option<u16> {
        self.pairs
            .iter()
            .find(|&&(_, r)| r == real)
            .map(|&(d, _)| d)
    }

    /// The real ports of the run, byte-swapped twins included.
    pub fn own(&self) -> impl Iterator<Item = u16> + '_ {
        self.pairs.iter().map(|&(_, r)| r)
    }
}

/// The ports below the kernel's ephemeral range (`net.ipv4.ip_local_port_range`, 32768 by
/// default): `(first, count)`.
fn search_range() -> (u16, u16) {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    // Never among the well-known ports, whatever the machine's range.
    let low = low.max(2_048 + 1_024);
    let first = low.saturating_sub(SPAN).max(2_048);
    (first, low - first)
}

fn start_offset(span: u16) -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mixed = (u64::from(std::process::id()) << 32 | u64::from(nanos))
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    u16::try_from((mixed >> 40) % u64::from(span)).unwrap_or(0)
}

/// An abstract unix socket named after `port`: only one process of this network can hold
/// it at a time. Closed on exec, so that programs do not inherit it.
fn lock(port: u16) -> Option<OwnedFd> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, UnixAddr, bind, socket};
    let fd = socket(
        AddressFamily::Unix,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .ok()?;
    let name = format!("labrun/port/{port}");
    let address = UnixAddr::new_abstract(name.as_bytes()).ok()?;
    bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &address).ok()?;
    Some(fd)
}

/// Whether nobody has `port` for TCP or UDP, on any address, not even a connection left
/// in TIME_WAIT by an earlier run: the test binds without `SO_REUSEADDR`, as the lab's
/// servers do (the standard library's listener would set it, and see the port free where
/// a student's server gets `Address already in use`).
fn free(port: u16) -> bool {
    use socket2::{Domain, Socket, Type};
    let address: std::net::SocketAddr = (std::net::Ipv4Addr::UNSPECIFIED, port).into();
    [Type::STREAM, Type::DGRAM].into_iter().all(|kind| {
        Socket::new(Domain::IPV4, kind, None)
            .and_then(|socket| socket.bind(&address.into()))
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_declared_port_gets_a_free_port_and_its_twin() {
        let map = PortMap::reserve(&[4000, 4001, 4000, 0]).expect("free ports");
        let (low, span) = search_range();
        for declared in [4000u16, 4001] {
            let real = map.real(declared);
            assert!((low..low + span).contains(&real), "{real}");
            assert_eq!(map.declared(real), Some(declared));
            assert_eq!(map.declared(real.swap_bytes()), Some(declared.swap_bytes()));
        }
        assert_ne!(map.real(4000), map.real(4001));
        assert_eq!(map.real(9), 9, "a port not declared is itself");
        assert_eq!(map.own().count(), 4);
    }

    #[test]
    fn a_port_left_in_time_wait_is_not_free() {
        use std::io::Read;
        // A server that closes first leaves its end in TIME_WAIT, on its own port.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a listener");
        let port = listener.local_addr().expect("its address").port();
        let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        drop(listener);
        drop(server);
        let _ = client.read(&mut [0u8; 1]);
        drop(client);
        assert!(!free(port), "port {port} is in TIME_WAIT");
    }

    #[test]
    fn two_runs_at_once_never_share_a_port() {
        let first = PortMap::reserve(&[4000]).expect("free ports");
        let second = PortMap::reserve(&[4000]).expect("free ports");
        let firsts: Vec<u16> = first.own().collect();
        assert!(second.own().all(|p| !firsts.contains(&p)));
        // Released with the map: the lock can be taken again.
        let port = first.real(4000);
        drop(first);
        assert!(lock(port).is_some());
    }
}
