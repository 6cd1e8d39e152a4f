//! The lab's exercise 1.1: name resolution with `gethostbyname` and `gethostbyaddr`.
//!
//! Through the C library, as the lab's programs do, so that `/etc/hosts` (the run's private
//! one), the name-service switch and aliases apply exactly as they do for students. Unlike
//! the lab's version, an unknown name or address gets a message and exit status 2, not a
//! NULL dereference.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::net::Ipv4Addr;

/// Runs one lookup as the lab's program would: its lines (`true` for stdout) and its exit
/// status (0, 1 for an argument that is not an address, 2 for an unknown host).
pub fn run(lookup: crate::scenario::Lookup, query: &str) -> (Vec<(bool, String)>, i32) {
    use crate::scenario::Lookup;
    let result = match lookup {
        Lookup::Name => {
            by_name(query).map_err(|why| format!("resolve-name: hôte inconnu : {query} ({why})"))
        }
        Lookup::Address => match query.parse::<Ipv4Addr>() {
            Ok(address) => by_address(address)
                .map_err(|why| format!("resolve-addr: pas de nom pour l'adresse {query} ({why})")),
            Err(_) => {
                return (
                    vec![(false, format!("resolve-addr: adresse invalide : {query}"))],
                    1,
                );
            }
        },
    };
    match result {
        Ok(entry) => (entry.lines().into_iter().map(|l| (true, l)).collect(), 0),
        Err(message) => (vec![(false, message)], 2),
    }
}

/// What a lookup found: the lab's three kinds of lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostEntry {
    pub official: String,
    pub aliases: Vec<String>,
    pub addresses: Vec<Ipv4Addr>,
}

impl HostEntry {
    /// The lines the lab's programs print.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!("Nom officiel : {}", self.official)];
        lines.extend(self.aliases.iter().map(|a| format!("Alias : {a}")));
        lines.extend(self.addresses.iter().map(|a| format!("Adresse : {a}")));
        lines
    }
}

unsafe extern "C" {
    fn gethostbyname_r(
        name: *const c_char,
        ret: *mut libc::hostent,
        buf: *mut c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::hostent,
        h_errnop: *mut c_int,
    ) -> c_int;
    fn gethostbyaddr_r(
        addr: *const c_void,
        len: libc::socklen_t,
        kind: c_int,
        ret: *mut libc::hostent,
        buf: *mut c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::hostent,
        h_errnop: *mut c_int,
    ) -> c_int;
}

/// `gethostbyname(name)`; `Err` carries the resolver's reason.
pub fn by_name(name: &str) -> Result<HostEntry, String> {
    let name = CString::new(name).map_err(|_| "the name contains a NUL byte".to_string())?;
    lookup(&|ret, buf, len, result, error| {
        // SAFETY: every pointer is valid for the call; `buf` has `len` bytes.
        unsafe { gethostbyname_r(name.as_ptr(), ret, buf, len, result, error) }
    })
}

/// `gethostbyaddr(address)`; `Err` carries the resolver's reason.
pub fn by_address(address: Ipv4Addr) -> Result<HostEntry, String> {
    let octets = address.octets();
    lookup(&|ret, buf, len, result, error| {
        // SAFETY: `octets` is a 4-byte IPv4 address in network order, as AF_INET wants.
        unsafe {
            gethostbyaddr_r(
                octets.as_ptr().cast(),
                4,
                libc::AF_INET,
                ret,
                buf,
                len,
                result,
                error,
            )
        }
    })
}

type Call<'a> = dyn Fn(*mut libc::hostent, *mut c_char, libc::size_t, *mut *mut libc::hostent, *mut c_int) -> c_int
    + 'a;

fn lookup(call: &Call<'_>) -> Result<HostEntry, String> {
    let mut size = 4096;
    loop {
        let mut buf = vec![0 as c_char; size];
        // SAFETY: hostent is plain old data; zeroed is a valid value before the call.
        let mut ret: libc::hostent = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::hostent = std::ptr::null_mut();
        let mut error: c_int = 0;
        let status = call(
            &raw mut ret,
            buf.as_mut_ptr(),
            buf.len(),
            &raw mut result,
            &raw mut error,
        );
        if status == libc::ERANGE && size < 1 << 20 {
            size *= 4;
            continue;
        }
        if result.is_null() {
            return Err(h_error(error));
        }
        // SAFETY: on success `ret` points into `buf`, which is alive here.
        return Ok(unsafe { read_entry(&ret) });
    }
}

/// # Safety
/// `entry` must be a hostent filled in by the C library, with its strings still alive.
unsafe fn read_entry(entry: &libc::hostent) -> HostEntry {
    let text = |p: *const c_char| {
        // SAFETY: the C library's strings are NUL-terminated.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    };
    let mut aliases = Vec::new();
    let mut addresses = Vec::new();
    // SAFETY: both lists end with a NULL pointer; addresses are `h_length` bytes.
    unsafe {
        let mut alias = entry.h_aliases;
        while !alias.is_null() && !(*alias).is_null() {
            aliases.push(text(*alias));
            alias = alias.add(1);
        }
        let mut address = entry.h_addr_list;
        while entry.h_length == 4 && !address.is_null() && !(*address).is_null() {
            let bytes = std::slice::from_raw_parts((*address).cast::<u8>(), 4);
            addresses.push(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]));
            address = address.add(1);
        }
    }
    HostEntry {
        official: if entry.h_name.is_null() {
            String::new()
        } else {
            text(entry.h_name)
        },
        aliases,
        addresses,
    }
}

/// The resolver's reason, in the words of `hstrerror`.
fn h_error(code: c_int) -> String {
    match code {
        1 => "Unknown host".into(),
        2 => "Host name lookup failure (try again)".into(),
        3 => "Unknown server error".into(),
        4 => "No address associated with name".into(),
        other => format!("resolver error {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dotted_address_is_echoed_by_name() {
        // The lab text: gethostbyname on an address copies it, with no lookup.
        let entry = by_name("194.254.163.24").unwrap();
        assert_eq!(entry.official, "194.254.163.24");
        assert_eq!(entry.addresses, [Ipv4Addr::new(194, 254, 163, 24)]);
        assert_eq!(
            entry.lines(),
            ["Nom officiel : 194.254.163.24", "Adresse : 194.254.163.24"]
        );
    }

    #[test]
    fn a_name_with_a_nul_is_an_error_not_a_crash() {
        // Unknown names are tested in the run's private network: here, on the host, a
        // lookup could reach a DNS server.
        assert!(by_name("no\0such").is_err());
    }
}
