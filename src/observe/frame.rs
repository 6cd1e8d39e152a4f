//! The ports of a captured frame: read (whose packet is it, on a network the run shares
//! with the machine) and rewritten (back to the ports the scenario declares).
//!
//! Frames are Ethernet frames from `lo`, carrying IPv4 or IPv6 and then TCP, UDP or an
//! ICMP error that quotes the start of a UDP or TCP datagram. Rewriting a port updates
//! every checksum that covers it (RFC 1624's incremental update), so that the pcap file
//! stays as consistent as the kernel wrote it.

const ETHERNET: usize = 14;
const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMP: u8 = 1;
const ICMPV6: u8 = 58;

/// Where a frame's ports are: the offset of the TCP or UDP header, its protocol, and for an
/// ICMP error the offset of the ICMP header (whose checksum covers the quoted ports).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ports {
    transport: usize,
    protocol: u8,
    icmp: Option<usize>,
}

/// The source and destination ports of the frame, or of the datagram an ICMP error quotes.
pub(crate) fn ports(frame: &[u8]) -> Option<(u16, u16)> {
    let at = locate(frame)?;
    Some((word(frame, at.transport)?, word(frame, at.transport + 2)?))
}

/// The transport protocol number (6 TCP, 17 UDP) and ports of a TCP or UDP frame (not
/// of the datagram an ICMP error quotes).
pub(crate) fn flow(frame: &[u8]) -> Option<(u8, u16, u16)> {
    let at = locate(frame)?;
    if at.icmp.is_some() {
        return None;
    }
    Some((
        at.protocol,
        word(frame, at.transport)?,
        word(frame, at.transport + 2)?,
    ))
}

/// Rewrites the frame's ports (those an ICMP error quotes included) with `map`, which
/// returns the new port for an old one, or `None` to leave it.
pub(crate) fn rewrite_ports(frame: &mut [u8], map: impl Fn(u16) -> Option<u16>) {
    let Some(at) = locate(frame) else { return };
    for field in [at.transport, at.transport + 2] {
        let (Some(old), true) = (word(frame, field), field + 2 <= frame.len()) else {
            continue;
        };
        let Some(new) = map(old).filter(|&n| n != old) else {
            continue;
        };
        frame[field..field + 2].copy_from_slice(&new.to_be_bytes());
        // The transport checksum covers its ports; inside an ICMP error it may be cut off.
        let own = match at.protocol {
            TCP => Some(at.transport + 16),
            UDP => Some(at.transport + 6),
            _ => None,
        };
        if let Some(sum) = own
            && let Some(checksum) = word(frame, sum)
            && !(at.protocol == UDP && checksum == 0)
        {
            let updated = adjust(checksum, old, new);
            let updated = if at.protocol == UDP && updated == 0 {
                0xFFFF
            } else {
                updated
            };
            frame[sum..sum + 2].copy_from_slice(&updated.to_be_bytes());
            // The quoted checksum is part of what the ICMP checksum covers.
            if let Some(icmp) = at.icmp {
                adjust_at(frame, icmp + 2, checksum, updated);
            }
        }
        if let Some(icmp) = at.icmp {
            adjust_at(frame, icmp + 2, old, new);
        }
    }
}

fn locate(frame: &[u8]) -> Option<Ports> {
    let (protocol, transport) = network(frame, ETHERNET, word(frame, 12)?)?;
    match protocol {
        TCP | UDP => Some(Ports {
            transport,
            protocol,
            icmp: None,
        }),
        // Destination unreachable (ICMP type 3, ICMPv6 type 1), time exceeded and the like
        // quote the datagram after an 8-byte header.
        ICMP | ICMPV6 => {
            let kind = *frame.get(transport)?;
            let error = if protocol == ICMP {
                matches!(kind, 3 | 4 | 5 | 11 | 12)
            } else {
                kind < 128
            };
            if !error {
                return None;
            }
            let quoted = transport + 8;
            let version = frame.get(quoted)? >> 4;
            let ethertype = if version == 6 { 0x86DD } else { 0x0800 };
            let (inner, inner_transport) = network(frame, quoted, ethertype)?;
            matches!(inner, TCP | UDP).then_some(Ports {
                transport: inner_transport,
                protocol: inner,
                icmp: Some(transport),
            })
        }
        _ => None,
    }
}

/// The transport protocol and its header's offset, for an IP header at `at`.
fn network(frame: &[u8], at: usize, ethertype: u16) -> Option<(u8, usize)> {
    match ethertype {
        0x0800 => {
            let ihl = usize::from(frame.get(at)? & 0x0F) * 4;
            (ihl >= 20).then_some((*frame.get(at + 9)?, at + ihl))
        }
        0x86DD => Some((*frame.get(at + 6)?, at + 40)),
        _ => None,
    }
}

fn word(frame: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*frame.get(at)?, *frame.get(at + 1)?]))
}

fn adjust_at(frame: &mut [u8], at: usize, old: u16, new: u16) {
    if let Some(checksum) = word(frame, at) {
        frame[at..at + 2].copy_from_slice(&adjust(checksum, old, new).to_be_bytes());
    }
}

/// RFC 1624: the checksum after one 16-bit word it covers changed from `old` to `new`.
fn adjust(checksum: u16, old: u16, new: u16) -> u16 {
    let mut sum = u32::from(!checksum) + u32::from(!old) + u32::from(new);
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(u16::try_from(sum).unwrap_or(0xFFFF))
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn udp(source: u16, destination: u16) -> Vec<u8> {
        let builder = PacketBuilder::ethernet2([0; 6], [0; 6])
            .ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64)
            .udp(source, destination);
        let mut frame = Vec::new();
        builder.write(&mut frame, b"# B=000\0").expect("a frame");
        frame
    }

    fn tcp(source: u16, destination: u16) -> Vec<u8> {
        let builder = PacketBuilder::ethernet2([0; 6], [0; 6])
            .ipv6([0; 16], [0; 16], 64)
            .tcp(source, destination, 1, 100)
            .ack(7)
            .psh();
        let mut frame = Vec::new();
        builder.write(&mut frame, b"# A=001#\0").expect("a frame");
        frame
    }

    #[test]
    fn rewritten_ports_keep_the_checksums_right() {
        let map = |p: u16| (p == 23_456).then_some(4000);
        for (mut frame, expected) in [
            (udp(40_000, 23_456), udp(40_000, 4000)),
            (tcp(23_456, 40_000), tcp(4000, 40_000)),
        ] {
            assert_eq!(ports(&frame), Some(ports(&frame).unwrap()));
            rewrite_ports(&mut frame, map);
            // Built again with the new ports: every byte, checksums included, the same.
            assert_eq!(frame, expected);
        }
    }

    #[test]
    fn an_icmp_error_is_read_and_rewritten_by_the_ports_it_quotes() {
        let quoted = udp(40_000, 23_456);
        let builder = PacketBuilder::ethernet2([0; 6], [0; 6])
            .ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64)
            .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::Port,
            ));
        let mut frame = Vec::new();
        builder
            .write(&mut frame, &quoted[ETHERNET..])
            .expect("a frame");
        assert_eq!(ports(&frame), Some((40_000, 23_456)));
        rewrite_ports(&mut frame, |p| (p == 23_456).then_some(4001));
        assert_eq!(ports(&frame), Some((40_000, 4001)));
        let mut expected = Vec::new();
        let wanted = udp(40_000, 4001);
        PacketBuilder::ethernet2([0; 6], [0; 6])
            .ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64)
            .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::Port,
            ))
            .write(&mut expected, &wanted[ETHERNET..])
            .expect("a frame");
        assert_eq!(frame, expected);
    }

    #[test]
    fn frames_that_are_not_ip_have_no_ports() {
        assert_eq!(ports(&[0; 10]), None);
        let mut arp = vec![0u8; 42];
        arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
        assert_eq!(ports(&arp), None);
        rewrite_ports(&mut arp, |_| Some(1));
        assert_eq!(arp[14..], [0u8; 28]);
    }
}
