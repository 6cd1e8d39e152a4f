//! What labrun sees of sockets from outside the programs: the kernel's socket tables.
//!
//! External programs are black boxes; their sockets, read from `/proc`, tell when a server
//! listens, which port a client got, and which process owns the port a message came from.

pub(crate) mod procnet;
