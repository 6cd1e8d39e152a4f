//! What labrun sees from outside the programs: the kernel's socket tables and the packets
//! on the run's loopback.
//!
//! External programs are black boxes; their sockets (from the kernel's socket tables, and
//! `/proc/PID/fd` for who holds which) tell when a server listens, which port a client got,
//! and which process owns the port a message came from.
//! The capture shows every packet, like Wireshark, and gives the TCP state changes.
//!
//! What they find is handed on in the run record's types (`record::SocketEntry`,
//! `record::Packet`); the TCP table's dump speaks netlink through `crate::netlink`.

pub(crate) mod capture;
pub(crate) mod frame;
pub(crate) mod procnet;
pub(crate) mod tcp;
