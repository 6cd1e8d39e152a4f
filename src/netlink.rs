//! Netlink, the kernel's message sockets, as labrun speaks it: the framing of its
//! messages (`struct nlmsghdr`, `struct rtattr` in `linux/netlink.h`) and the socket they
//! go through.
//!
//! Two stages ask the kernel this way: the sandbox changes the loopback's routes (quick
//! ACKs, `NETLINK_ROUTE`), and the observers dump the TCP socket table (`inet_diag`,
//! `NETLINK_SOCK_DIAG`). What each request says stays with the stage that makes it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The size of `struct nlmsghdr`, which starts every message.
pub(crate) const HEADER: usize = 16;

/// A netlink socket of `family` (`NETLINK_ROUTE`, `NETLINK_SOCK_DIAG`), of type `kind`
/// (`SOCK_RAW`, `SOCK_DGRAM`), talking to the kernel.
pub(crate) fn open(kind: libc::c_int, family: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: a plain system call; the descriptor is owned right after creation.
    unsafe {
        let raw = libc::socket(libc::AF_NETLINK, kind | libc::SOCK_CLOEXEC, family);
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(OwnedFd::from_raw_fd(raw))
    }
}

/// A message of type `kind`: its header (length, type, `flags`, sequence number `seq`,
/// port 0), then `body`.
pub(crate) fn message(kind: u16, flags: u16, seq: u32, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(HEADER + body.len());
    message.extend_from_slice(&((HEADER + body.len()) as u32).to_ne_bytes());
    message.extend_from_slice(&kind.to_ne_bytes());
    message.extend_from_slice(&flags.to_ne_bytes());
    message.extend_from_slice(&seq.to_ne_bytes());
    message.extend_from_slice(&0u32.to_ne_bytes());
    message.extend_from_slice(body);
    message
}

/// Appends an attribute (`struct rtattr`: its length, its type, `payload`), padded to
/// 4 bytes.
pub(crate) fn attribute(out: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize(out.len().next_multiple_of(4), 0);
}

/// Sends `message` to the kernel.
pub(crate) fn send(socket: &OwnedFd, message: &[u8]) -> io::Result<()> {
    // SAFETY: the buffer outlives the call.
    let sent = unsafe {
        libc::send(
            socket.as_raw_fd(),
            message.as_ptr().cast(),
            message.len(),
            0,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads what the kernel sent next into `buffer`: the number of bytes read.
pub(crate) fn recv(socket: &OwnedFd, buffer: &mut [u8]) -> io::Result<usize> {
    // SAFETY: the kernel writes at most `buffer.len()` bytes into it.
    let len = unsafe {
        libc::recv(
            socket.as_raw_fd(),
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            0,
        )
    };
    usize::try_from(len).map_err(|_| io::Error::last_os_error())
}

/// The messages in what one [`recv`] read: each one's type and what follows its header.
/// A message that claims more than was read ends the list with an error.
pub(crate) fn messages(read: &[u8]) -> impl Iterator<Item = io::Result<(u16, &[u8])>> {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at + HEADER > read.len() {
            return None;
        }
        let size = word(read, at) as usize;
        let kind = u16::from_ne_bytes([read[at + 4], read[at + 5]]);
        if size < HEADER || at + size > read.len() {
            at = read.len();
            return Some(Err(io::Error::other("a truncated netlink message")));
        }
        let body = &read[at + HEADER..at + size];
        at += size.next_multiple_of(4);
        Some(Ok((kind, body)))
    })
}

/// The error number an `NLMSG_ERROR` message carries after its header (0 for an
/// acknowledgement, minus an `errno` for a refusal), when it is long enough to say.
pub(crate) fn error_code(body: &[u8]) -> Option<i32> {
    (body.len() >= 4).then(|| word(body, 0) as i32)
}

fn word(bytes: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_reads_back_as_written() {
        let mut body = vec![1, 2, 3, 4];
        attribute(&mut body, 7, &[9]);
        assert_eq!(body, [1, 2, 3, 4, 5, 0, 7, 0, 9, 0, 0, 0]);
        let mut read = message(20, 0x301, 2, &body);
        read.extend(message(libc::NLMSG_DONE as u16, 0, 2, &0i32.to_ne_bytes()));
        let got: Vec<(u16, Vec<u8>)> = messages(&read)
            .map(|m| m.map(|(kind, body)| (kind, body.to_vec())))
            .collect::<io::Result<_>>()
            .expect("whole messages");
        assert_eq!(
            got,
            [
                (20, body),
                (libc::NLMSG_DONE as u16, 0i32.to_ne_bytes().to_vec())
            ]
        );
        assert_eq!(error_code(&got[1].1), Some(0));
        assert_eq!(error_code(&[0, 0]), None);
    }

    #[test]
    fn a_message_longer_than_what_was_read_is_an_error() {
        let mut read = message(20, 0, 1, &[0; 8]);
        read.truncate(HEADER + 4);
        let got: Vec<_> = messages(&read).collect();
        assert_eq!(got.len(), 1);
        assert!(got[0].is_err());
    }
}
