//! Reading captured packets: their headers, and the TCP state changes they cause.
//!
//! On loopback a packet is sent and received at once, so each one moves the sender's socket
//! and the receiver's socket through the TCP state machine (RFC 9293, as Linux runs it).
//! The flags and states themselves are the record's, which every stage shares.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use etherparse::{NetSlice, SlicedPacket, TransportSlice};

pub(crate) use crate::record::{Flags, State};

/// What a packet is, as far as the lab is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Tcp {
        flags: Flags,
        seq: u32,
        ack: u32,
    },
    Udp,
    /// ICMP destination unreachable, port unreachable, about a datagram `about.0 → about.1`.
    PortUnreachable {
        about: (SocketAddr, SocketAddr),
    },
    /// Anything else (ARP, IPv6 neighbour discovery…).
    Other,
}

/// A captured packet, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Decoded {
    pub kind: Kind,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub payload: Vec<u8>,
    /// Bytes on the wire, Ethernet header included (Wireshark's "Length").
    pub wire: usize,
}

/// Decodes an Ethernet frame captured on `lo`.
pub(crate) fn decode(frame: &[u8]) -> Decoded {
    let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
    let other = Decoded {
        kind: Kind::Other,
        src: unspecified,
        dst: unspecified,
        payload: Vec::new(),
        wire: frame.len(),
    };
    let Ok(sliced) = SlicedPacket::from_ethernet(frame) else {
        return other;
    };
    let (src_ip, dst_ip): (IpAddr, IpAddr) = match &sliced.net {
        Some(NetSlice::Ipv4(ip)) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        ),
        Some(NetSlice::Ipv6(ip)) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        ),
        _ => return other,
    };
    let (kind, src_port, dst_port, payload) = match &sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => (
            Kind::Tcp {
                flags: Flags {
                    syn: tcp.syn(),
                    ack: tcp.ack(),
                    fin: tcp.fin(),
                    rst: tcp.rst(),
                    psh: tcp.psh(),
                },
                seq: tcp.sequence_number(),
                ack: tcp.acknowledgment_number(),
            },
            tcp.source_port(),
            tcp.destination_port(),
            tcp.payload(),
        ),
        Some(TransportSlice::Udp(udp)) => (
            Kind::Udp,
            udp.source_port(),
            udp.destination_port(),
            udp.payload(),
        ),
        Some(TransportSlice::Icmpv4(icmp)) if icmp.type_u8() == 3 && icmp.code_u8() == 3 => {
            match quoted_datagram(icmp.payload()) {
                Some(about) => (Kind::PortUnreachable { about }, 0, 0, &[][..]),
                None => return other,
            }
        }
        _ => return other,
    };
    Decoded {
        kind,
        src: SocketAddr::new(src_ip, src_port),
        dst: SocketAddr::new(dst_ip, dst_port),
        payload: payload.to_vec(),
        wire: frame.len(),
    }
}

/// The addresses of the datagram an ICMP error quotes (its IPv4 header, then 8 bytes).
fn quoted_datagram(quoted: &[u8]) -> Option<(SocketAddr, SocketAddr)> {
    let header_len = usize::from(*quoted.first()? & 0x0f) * 4;
    let ip = |at: usize| -> Option<IpAddr> {
        let b = quoted.get(at..at + 4)?;
        Some(IpAddr::from([b[0], b[1], b[2], b[3]]))
    };
    let port = |at: usize| -> Option<u16> {
        let b = quoted.get(header_len + at..header_len + at + 2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    };
    Some((
        SocketAddr::new(ip(12)?, port(0)?),
        SocketAddr::new(ip(16)?, port(2)?),
    ))
}

/// A socket moving from one state to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Change {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub from: State,
    pub to: State,
}

/// The TCP state of every connection seen so far, from both ends.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    states: HashMap<(SocketAddr, SocketAddr), State>,
    /// Sequence number just after each end's FIN, once sent.
    fin_end: HashMap<(SocketAddr, SocketAddr), u32>,
}

impl Tracker {
    /// The state changes a packet causes, sender's first.
    pub(crate) fn packet(&mut self, packet: &Decoded) -> Vec<Change> {
        let Kind::Tcp { flags, seq, ack } = packet.kind else {
            return Vec::new();
        };
        let mut changes = Vec::new();
        let (sender, receiver) = ((packet.src, packet.dst), (packet.dst, packet.src));
        // The sender's side.
        let current = self.state(sender);
        let next = if flags.rst {
            State::Closed
        } else if flags.syn && !flags.ack {
            State::SynSent
        } else if flags.syn {
            State::SynRecv
        } else if flags.fin {
            let len = u32::try_from(packet.payload.len()).unwrap_or(0);
            self.fin_end
                .insert(sender, seq.wrapping_add(len).wrapping_add(1));
            match current {
                State::CloseWait => State::LastAck,
                State::Established | State::SynRecv => State::FinWait1,
                other => other,
            }
        } else {
            current
        };
        self.set(sender, next, &mut changes);
        // The receiver's side: the acknowledgement first, then a FIN.
        let mut state = self.state(receiver);
        if flags.rst {
            state = State::Closed;
        } else if flags.syn && !flags.ack {
            state = State::SynRecv;
        } else if flags.syn {
            state = State::Established;
        } else {
            let acks_our_fin =
                flags.ack && self.fin_end.get(&receiver).is_some_and(|&end| ack == end);
            state = match state {
                State::SynRecv if flags.ack => State::Established,
                State::FinWait1 if acks_our_fin => State::FinWait2,
                State::Closing if acks_our_fin => State::TimeWait,
                State::LastAck if acks_our_fin => State::Closed,
                other => other,
            };
            if flags.fin {
                state = match state {
                    State::Established | State::SynRecv => State::CloseWait,
                    State::FinWait1 => State::Closing,
                    State::FinWait2 => State::TimeWait,
                    other => other,
                };
            }
        }
        self.set(receiver, state, &mut changes);
        changes
    }

    fn state(&self, key: (SocketAddr, SocketAddr)) -> State {
        self.states.get(&key).copied().unwrap_or(State::Closed)
    }

    fn set(&mut self, key: (SocketAddr, SocketAddr), to: State, changes: &mut Vec<Change>) {
        let from = self.state(key);
        if from != to {
            self.states.insert(key, to);
            changes.push(Change {
                local: key.0,
                remote: key.1,
                from,
                to,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(src: u16, dst: u16, flags: &str, seq: u32, ack: u32) -> Decoded {
        Decoded {
            kind: Kind::Tcp {
                flags: Flags {
                    syn: flags.contains('S'),
                    ack: flags.contains('A'),
                    fin: flags.contains('F'),
                    rst: flags.contains('R'),
                    psh: flags.contains('P'),
                },
                seq,
                ack,
            },
            src: SocketAddr::from(([127, 0, 0, 1], src)),
            dst: SocketAddr::from(([127, 0, 0, 1], dst)),
            payload: Vec::new(),
            wire: 66,
        }
    }

    fn states(tracker: &mut Tracker, packet: Decoded) -> Vec<(u16, &'static str)> {
        tracker
            .packet(&packet)
            .iter()
            .map(|c| (c.local.port(), c.to.name()))
            .collect()
    }

    #[test]
    fn handshake_data_and_the_client_closing_first() {
        let mut t = Tracker::default();
        assert_eq!(
            states(&mut t, tcp(5000, 4000, "S", 100, 0)),
            [(5000, "SYN_SENT"), (4000, "SYN_RECV")]
        );
        assert_eq!(
            states(&mut t, tcp(4000, 5000, "SA", 700, 101)),
            // The server's side is in SYN_RECV since the SYN: only the client moves.
            [(5000, "ESTABLISHED")]
        );
        assert_eq!(
            states(&mut t, tcp(5000, 4000, "A", 101, 701)),
            [(4000, "ESTABLISHED")]
        );
        assert!(states(&mut t, tcp(5000, 4000, "PA", 101, 701)).is_empty());
        assert_eq!(
            states(&mut t, tcp(5000, 4000, "FA", 109, 710)),
            [(5000, "FIN_WAIT1"), (4000, "CLOSE_WAIT")]
        );
        assert_eq!(
            states(&mut t, tcp(4000, 5000, "A", 710, 110)),
            [(5000, "FIN_WAIT2")]
        );
        assert_eq!(
            states(&mut t, tcp(4000, 5000, "FA", 710, 110)),
            [(4000, "LAST_ACK"), (5000, "TIME_WAIT")]
        );
        assert_eq!(
            states(&mut t, tcp(5000, 4000, "A", 110, 711)),
            [(4000, "CLOSED")]
        );
    }

    #[test]
    fn a_fin_that_also_acknowledges_skips_fin_wait2() {
        let mut t = Tracker::default();
        states(&mut t, tcp(5000, 4000, "S", 0, 0));
        states(&mut t, tcp(4000, 5000, "SA", 0, 1));
        states(&mut t, tcp(5000, 4000, "A", 1, 1));
        states(&mut t, tcp(5000, 4000, "FA", 1, 1));
        assert_eq!(
            states(&mut t, tcp(4000, 5000, "FA", 1, 2)),
            [(4000, "LAST_ACK"), (5000, "TIME_WAIT")]
        );
    }

    #[test]
    fn reset_closes_both_ends() {
        let mut t = Tracker::default();
        states(&mut t, tcp(5000, 4000, "S", 0, 0));
        assert_eq!(
            states(&mut t, tcp(4000, 5000, "RA", 0, 1)),
            [(4000, "CLOSED"), (5000, "CLOSED")]
        );
    }

    #[test]
    fn flags_read_like_wireshark() {
        let f = Flags {
            syn: true,
            ack: true,
            ..Flags::default()
        };
        assert_eq!(f.label(), "[SYN, ACK]");
        let f = Flags {
            fin: true,
            psh: true,
            ack: true,
            ..Flags::default()
        };
        assert_eq!(f.label(), "[FIN, PSH, ACK]");
    }

    #[test]
    fn decodes_the_quoted_datagram_of_a_port_unreachable() {
        let mut quoted = vec![
            0x45u8, 0, 0, 36, 0, 0, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
        ];
        quoted.extend_from_slice(&[0xd4, 0x31, 0x0f, 0xa1, 0, 16, 0, 0]);
        assert_eq!(
            quoted_datagram(&quoted),
            Some((
                "127.0.0.1:54321".parse().unwrap(),
                "127.0.0.1:4001".parse().unwrap()
            ))
        );
    }
}
