//! The lab's exercise 1.1: name resolution with `gethostbyname` and `gethostbyaddr`.
//!
//! Through the C library, as the lab's programs do, so that `/etc/hosts` (the run's private
//! one), the name-service switch and aliases apply exactly as they do for students. Unlike
//! the lab's version, an unknown name or address gets a message and exit status 2, not a
//! NULL dereference.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::net::Ipv4Addr;

use crate::scenario::Host;

/// Runs one lookup as the lab's program would: its lines (`true` for stdout) and its exit
/// status (0, 1 for an argument that is not an address, 2 for an unknown host).
///
/// With `tables`, the lookup reads the scenario's `[[host]]` tables as the C library reads
/// the run's private `/etc/hosts` made of them: for a run that cannot have a file of its own
/// at `/etc/hosts` (no mount namespace), with the same answers.
pub(crate) fn run(
    lookup: crate::scenario::Lookup,
    query: &str,
    tables: Option<&[Host]>,
) -> (Vec<(bool, String)>, i32) {
    use crate::scenario::Lookup;
    let result = match lookup {
        Lookup::Name => match tables {
            Some(hosts) => name_in(hosts, query),
            None => by_name(query),
        }
        .map_err(|why| format!("resolve-name: hôte inconnu : {query} ({why})")),
        Lookup::Address => match query.parse::<Ipv4Addr>() {
            Ok(address) => match tables {
                Some(hosts) => address_in(hosts, address),
                None => by_address(address),
            }
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
pub(crate) struct HostEntry {
    pub official: String,
    pub aliases: Vec<String>,
    pub addresses: Vec<Ipv4Addr>,
}

impl HostEntry {
    /// The lines the lab's programs print.
    pub(crate) fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!("Nom officiel : {}", self.official)];
        lines.extend(self.aliases.iter().map(|a| format!("Alias : {a}")));
        lines.extend(self.addresses.iter().map(|a| format!("Adresse : {a}")));
        lines
    }
}

/// `gethostbyname(name)` on an `/etc/hosts` made of `hosts` ([`crate::scenario::hosts_file`])
/// with `hosts: files` and `multi on`: a dotted address is its own answer; otherwise every
/// line that has `name` (letter case aside) answers, the first one's name official, with
/// the aliases and IPv4 addresses of all of them. A table's name is on each of its lines,
/// its aliases only on the first: asked by an alias, a table answers with its first
/// address only, as the C library and nss_wrapper do. (nss_wrapper differs for a dotted
/// address, which it looks up in the file where the C library copies it.)
pub(crate) fn name_in(hosts: &[Host], name: &str) -> Result<HostEntry, String> {
    if let Ok(address) = name.parse::<Ipv4Addr>() {
        return Ok(HostEntry {
            official: name.to_string(),
            aliases: Vec::new(),
            addresses: vec![address],
        });
    }
    let mut found: Option<HostEntry> = None;
    for host in hosts {
        let addresses: Vec<Ipv4Addr> = if host.name.eq_ignore_ascii_case(name) {
            host.addresses.iter().filter_map(ipv4).collect()
        } else if host.aliases.iter().any(|a| a.eq_ignore_ascii_case(name)) {
            host.addresses.first().and_then(ipv4).into_iter().collect()
        } else {
            Vec::new()
        };
        if addresses.is_empty() {
            continue;
        }
        let entry = found.get_or_insert_with(|| HostEntry {
            official: host.name.clone(),
            aliases: Vec::new(),
            addresses: Vec::new(),
        });
        // Only the first line of a table carries its aliases.
        if host.addresses.first().and_then(ipv4).is_some() {
            entry.aliases.extend(host.aliases.iter().cloned());
        }
        entry.addresses.extend(addresses);
    }
    found.ok_or_else(|| h_error(1))
}

/// `gethostbyaddr(address)` on the same file: the first line with that address, its name,
/// and the aliases it carries (only the first line of a table has them).
pub(crate) fn address_in(hosts: &[Host], address: Ipv4Addr) -> Result<HostEntry, String> {
    hosts
        .iter()
        .find_map(|host| {
            let at = host
                .addresses
                .iter()
                .position(|a| ipv4(a) == Some(address))?;
            Some(HostEntry {
                official: host.name.clone(),
                aliases: if at == 0 {
                    host.aliases.clone()
                } else {
                    Vec::new()
                },
                addresses: vec![address],
            })
        })
        .ok_or_else(|| h_error(1))
}

fn ipv4(address: &std::net::IpAddr) -> Option<Ipv4Addr> {
    match address {
        std::net::IpAddr::V4(v4) => Some(*v4),
        std::net::IpAddr::V6(_) => None,
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
pub(crate) fn by_name(name: &str) -> Result<HostEntry, String> {
    let name = CString::new(name).map_err(|_| "the name contains a NUL byte".to_string())?;
    lookup(&|ret, buf, len, result, error| {
        // SAFETY: every pointer is valid for the call; `buf` has `len` bytes.
        unsafe { gethostbyname_r(name.as_ptr(), ret, buf, len, result, error) }
    })
}

/// `gethostbyaddr(address)`; `Err` carries the resolver's reason.
pub(crate) fn by_address(address: Ipv4Addr) -> Result<HostEntry, String> {
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
    fn the_tables_answer_as_the_c_library_reads_their_file() {
        let host = |name: &str, aliases: &[&str], addresses: &[&str]| Host {
            name: name.into(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            addresses: addresses.iter().map(|a| a.parse().unwrap()).collect(),
        };
        let hosts = [
            host("lipn.univ-paris13.fr", &["lipn"], &["194.254.163.24"]),
            host(
                "multi.example",
                &["multi", "m1"],
                &["192.0.2.10", "192.0.2.11"],
            ),
        ];
        let by_name = name_in(&hosts, "MULTI.example").unwrap();
        assert_eq!(by_name.official, "multi.example");
        assert_eq!(by_name.aliases, ["multi", "m1"]);
        assert_eq!(by_name.addresses.len(), 2, "every line of the name");
        // An alias is only on the first line: its first address only.
        let by_alias = name_in(&hosts, "m1").unwrap();
        assert_eq!(by_alias.addresses, [Ipv4Addr::new(192, 0, 2, 10)]);
        assert_eq!(name_in(&hosts, "nosuch").unwrap_err(), "Unknown host");
        let back = address_in(&hosts, Ipv4Addr::new(192, 0, 2, 11)).unwrap();
        assert_eq!(
            (back.official.as_str(), back.aliases.len()),
            ("multi.example", 0)
        );
        let back = address_in(&hosts, Ipv4Addr::new(194, 254, 163, 24)).unwrap();
        assert_eq!(back.aliases, ["lipn"]);
    }

    #[test]
    fn a_name_with_a_nul_is_an_error_not_a_crash() {
        // Unknown names are tested in the run's private network: here, on the host, a
        // lookup could reach a DNS server.
        assert!(by_name("no\0such").is_err());
    }
}
