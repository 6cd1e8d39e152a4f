//! Packet capture on the run's loopback, like Wireshark: an `AF_PACKET` socket on `lo`.
//!
//! On `lo` every packet is seen twice, leaving and arriving; only the leaving copy is kept.
//! Capture needs `CAP_NET_RAW` in the run's network namespace, which labrun has there (as
//! root, or as root of its own user namespace).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant, SystemTime};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::record::{NotKept, Packet};

/// Frames are Ethernet-sized on `lo`; its MTU is 64 KiB.
const FRAME: usize = 65_600;
/// The capture's receive buffer: a thousand clients connecting at once send some 30,000
/// packets in a few milliseconds; the default of 208 KiB would drop most of them.
const RECEIVE_BUFFER: usize = 32 << 20;

/// How much of a run's traffic the capture keeps: far more than any lab scenario sends
/// (a thousand clients send 19,000 packets), and a bound on labrun's memory when a
/// program floods the loopback (a UDP server can send gigabytes in seconds).
pub(crate) const KEEP_PACKETS: usize = 200_000;
/// The same in bytes of frames kept.
pub(crate) const KEEP_BYTES: usize = 64 << 20;

/// An open capture on `lo`.
pub(crate) struct Capture {
    fd: AsyncFd<OwnedFd>,
    /// Holds the socket's last reference once `fd` is closed (fields drop in order).
    _release: Option<DeferredRelease>,
    /// The buffer frames are read into, kept from one read to the next: a fresh 64 KiB
    /// for each, zeroed, cost more than the rest of the read.
    frame: std::sync::Mutex<Vec<u8>>,
    /// Packets and bytes kept so far, and what was not kept past the budget.
    budget: std::sync::Mutex<(usize, usize, NotKept)>,
    start: Instant,
    /// The wall clock at `start`: kernel timestamps are wall-clock times.
    start_time: SystemTime,
    /// On a network shared with the machine, the run's own ports: only packets to or from
    /// one of them are the run's (the others are neither kept nor counted).
    only: Option<Vec<u16>>,
}

impl Capture {
    /// Opens the capture; call inside the async runtime. Times count from `start`. With
    /// `only`, packets that touch none of those ports are skipped.
    pub(crate) fn open(start: Instant, only: Option<Vec<u16>>) -> io::Result<Self> {
        let protocol = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain system calls; the descriptor is owned right after creation.
        let fd = unsafe {
            // Protocol 0: the socket receives nothing until bound. Opened with ETH_P_ALL it
            // would listen on every interface at once, and binding it to `lo` would then
            // wait for an RCU grace period (`synchronize_net`) to unhook it: 8 to 15 ms.
            let raw = libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            );
            if raw < 0 {
                return Err(io::Error::last_os_error());
            }
            OwnedFd::from_raw_fd(raw)
        };
        let index = nix::net::if_::if_nametoindex("lo").map_err(io::Error::from)?;
        // SAFETY: sockaddr_ll is plain old data and zeroed is valid; bind reads it.
        unsafe {
            let mut address: libc::sockaddr_ll = std::mem::zeroed();
            address.sll_family = libc::AF_PACKET as u16;
            address.sll_protocol = protocol;
            address.sll_ifindex = i32::try_from(index).unwrap_or(1);
            let result = libc::bind(
                fd.as_raw_fd(),
                (&raw const address).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            );
            if result < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        let on = true;
        nix::sys::socket::setsockopt(&fd, nix::sys::socket::sockopt::ReceiveTimestampns, &on)
            .map_err(io::Error::from)?;
        // Above `net.core.rmem_max` only with CAP_NET_ADMIN; otherwise as much as allowed.
        if nix::sys::socket::setsockopt(
            &fd,
            nix::sys::socket::sockopt::RcvBufForce,
            &RECEIVE_BUFFER,
        )
        .is_err()
        {
            let _ = nix::sys::socket::setsockopt(
                &fd,
                nix::sys::socket::sockopt::RcvBuf,
                &RECEIVE_BUFFER,
            );
        }
        let start_time = wall_clock_at(start);
        let release = DeferredRelease::of(&fd);
        // SAFETY: `fd` is open and owned by the AsyncFd from here on.
        let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(Capture {
            fd,
            _release: release,
            frame: std::sync::Mutex::new(vec![0; FRAME]),
            budget: std::sync::Mutex::new((0, 0, NotKept::default())),
            start,
            start_time,
            only,
        })
    }

    /// The next packet, waiting for one.
    pub(crate) async fn next(&self) -> io::Result<Packet> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| self.read_one(fd.get_ref())) {
                Ok(Ok(Some(packet))) => return Ok(packet),
                Ok(Ok(None)) => continue,
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }

    /// Every packet already waiting, without waiting for more.
    ///
    /// Bounded: a process left behind that keeps sending must not keep this reading
    /// forever; past the bound, what is left is not read.
    pub(crate) fn drain(&self) -> Vec<Packet> {
        let mut packets = Vec::new();
        for _ in 0..KEEP_PACKETS {
            match self.read_one(self.fd.get_ref()) {
                Ok(Some(packet)) => packets.push(packet),
                Ok(None) => {}
                Err(_) => break,
            }
        }
        packets
    }
}

/// A second reference to the capture socket, held by an `io_uring` instance that does
/// nothing else, so that closing the socket costs labrun nothing.
///
/// The kernel releases a packet socket only after an RCU grace period
/// (`synchronize_net()` in `packet_release`): 15 to 25 ms here, in the `close` of whoever
/// drops the last reference, or in the process's exit. A ring's files are released in a
/// kernel worker after the ring is closed: the grace period passes there, off the run.
/// Where `io_uring` is not available (disabled, or filtered out by a container's seccomp
/// profile), the socket is closed the ordinary way.
struct DeferredRelease {
    _ring: OwnedFd,
}

impl DeferredRelease {
    fn of(socket: &OwnedFd) -> Option<Self> {
        // `struct io_uring_params`: zeroed asks for nothing special; the kernel fills in
        // the ring's offsets, unused here.
        let mut params = [0u8; 120];
        // SAFETY: plain system calls; the kernel writes at most `params.len()` bytes, and
        // the ring's descriptor is owned right after creation.
        let ring = unsafe {
            let raw = libc::syscall(libc::SYS_io_uring_setup, 1u32, params.as_mut_ptr());
            OwnedFd::from_raw_fd(i32::try_from(raw).ok().filter(|&fd| fd >= 0)?)
        };
        // IORING_REGISTER_FILES in <linux/io_uring.h>.
        const REGISTER_FILES: libc::c_uint = 2;
        let files = [socket.as_raw_fd()];
        // SAFETY: the kernel reads one descriptor from `files`.
        let registered = unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                ring.as_raw_fd(),
                REGISTER_FILES,
                files.as_ptr(),
                1u32,
            )
        };
        (registered == 0).then_some(DeferredRelease { _ring: ring })
    }
}

/// The wall-clock time at `start`, to turn the kernel's wall-clock packet times into times
/// since `start`. The two clocks are read in a tight bracket, several times, keeping the
/// tightest: a thread preempted between two reads on a busy machine would otherwise shift
/// every packet by milliseconds against the events.
fn wall_clock_at(start: Instant) -> SystemTime {
    let mut best: Option<(Duration, SystemTime)> = None;
    for _ in 0..16 {
        let before = start.elapsed();
        let wall = SystemTime::now();
        let after = start.elapsed();
        let width = after.saturating_sub(before);
        if best.is_none_or(|(w, _)| width < w) {
            best = Some((width, wall - (before + width / 2)));
        }
    }
    best.map_or_else(SystemTime::now, |(_, at_start)| at_start)
}

impl Capture {
    /// Reads one frame: `Ok(None)` for an arriving copy (skipped), `Err(WouldBlock)` when
    /// empty.
    ///
    /// The time is the kernel's, taken when the packet went through `lo`, not when labrun
    /// got round to reading it: that orders packets exactly against the actors' events.
    ///
    /// Past the budget a packet is read (so that the kernel's buffer does not fill) and
    /// counted, not kept.
    fn read_one(&self, fd: &OwnedFd) -> io::Result<Option<Packet>> {
        let mut frame = self
            .frame
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(packet) = read_one(fd, &mut frame, self.start, self.start_time)? else {
            return Ok(None);
        };
        if let Some(only) = &self.only {
            let ours = super::frame::ports(&packet.data)
                .is_some_and(|(from, to)| only.contains(&from) || only.contains(&to));
            if !ours {
                return Ok(None);
            }
        }
        let mut budget = self
            .budget
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (packets, bytes, not_kept) = &mut *budget;
        // Once over, nothing more is kept, so that what is kept is the start of the traffic
        // with no holes in its conversations.
        if not_kept.packets == 0
            && *packets < KEEP_PACKETS
            && *bytes + packet.data.len() <= KEEP_BYTES
        {
            *packets += 1;
            *bytes += packet.data.len();
            Ok(Some(packet))
        } else {
            not_kept.packets += 1;
            not_kept.bytes += packet.data.len() as u64;
            Ok(None)
        }
    }

    /// What was seen but not kept, past the budget.
    pub(crate) fn not_kept(&self) -> NotKept {
        self.budget
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .2
    }
}

/// [`Capture::read_one`], into `buffer`.
fn read_one(
    fd: &OwnedFd,
    buffer: &mut [u8],
    start: Instant,
    start_time: SystemTime,
) -> io::Result<Option<Packet>> {
    use nix::sys::socket::{ControlMessageOwned, LinkAddr, MsgFlags, recvmsg};
    let mut control = nix::cmsg_space!(nix::sys::time::TimeSpec);
    let (len, kind, stamp) = {
        let mut iov = [io::IoSliceMut::new(buffer)];
        let message = recvmsg::<LinkAddr>(
            fd.as_raw_fd(),
            &mut iov,
            Some(&mut control),
            MsgFlags::empty(),
        )
        .map_err(io::Error::from)?;
        let stamp = message.cmsgs().ok().and_then(|mut cmsgs| {
            cmsgs.find_map(|c| match c {
                ControlMessageOwned::ScmTimestampns(ts) => Some(
                    SystemTime::UNIX_EPOCH
                        + Duration::new(
                            u64::try_from(ts.tv_sec()).unwrap_or(0),
                            u32::try_from(ts.tv_nsec()).unwrap_or(0),
                        ),
                ),
                _ => None,
            })
        });
        let kind = message.address.map_or(0, |a| a.pkttype());
        (message.bytes, kind, stamp)
    };
    if kind != libc::PACKET_OUTGOING {
        return Ok(None);
    }
    let time = stamp.unwrap_or_else(SystemTime::now);
    let at = time
        .duration_since(start_time)
        .unwrap_or_else(|_| start.elapsed());
    Ok(Some(Packet {
        at,
        time,
        // The packet, not the 64 KiB frame buffer it was read into.
        data: buffer[..len.min(buffer.len())].to_vec(),
    }))
}

/// Writes packets as a pcap file (Ethernet link type) that Wireshark and tshark open.
pub(crate) fn write_pcap(path: &std::path::Path, packets: &[Packet]) -> io::Result<()> {
    use pcap_file::pcap::{PcapPacket, PcapWriter};
    let file = io::BufWriter::new(std::fs::File::create(path)?);
    let mut writer = PcapWriter::new(file).map_err(io::Error::other)?;
    for packet in packets {
        let time = packet
            .time
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let len = u32::try_from(packet.data.len()).unwrap_or(u32::MAX);
        writer
            .write_packet(&PcapPacket::new(time, len, &packet.data))
            .map_err(io::Error::other)?;
    }
    Ok(())
}
