//! The network a run gets, chosen once before it starts: a private one where the machine
//! allows it, the machine's own otherwise, with what that lacks said in one line.

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;

use super::ports::PortMap;

/// What the run needs of its network.
#[derive(Clone, Debug, Default)]
pub struct Needs {
    /// Every port the scenario declares (its servers', and where clients send).
    pub ports: Vec<u16>,
    /// The scenario's `/etc/hosts`, when it declares hosts.
    pub hosts: Option<String>,
    /// Whether an external program resolves names (it then needs the hosts through the C
    /// library).
    pub external_resolver: bool,
    /// Whether packets are to be captured.
    pub capture: bool,
}

/// How the lookups of exercise 1.1 reach the scenario's `[[host]]` tables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Hosts {
    /// Through the C library, which reads `/etc/hosts`: the run's private one (or the
    /// machine's, when the scenario declares no hosts).
    #[default]
    System,
    /// No private `/etc/hosts` could be made: the reference resolver reads the tables, and
    /// external programs run with nss_wrapper (`wrapper` in `LD_PRELOAD`) reading a hosts
    /// file made of them.
    Tables { wrapper: Option<PathBuf> },
}

/// The network a run got.
#[derive(Debug)]
pub struct Network {
    /// `Some` where the run shares the machine's network: its own ports.
    pub shared: Option<Arc<PortMap>>,
    pub hosts: Hosts,
    /// Whether packets can be captured.
    pub capture: bool,
    /// What the run lacks against a full private network, in a few words each.
    pub lacks: Vec<String>,
    /// Why there is no private network, when there is none.
    pub why_shared: Option<String>,
}

/// Why a run cannot take place on this machine at all.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("cannot take ports for the run on the machine's network: {0}")]
    Ports(String),
    #[error(
        "this scenario's external resolver needs a hosts file of the run's own, and this machine allows neither a private /etc/hosts ({why}) nor nss_wrapper (install it: apt-get install libnss-wrapper)"
    )]
    NoWrapper { why: String },
}

/// Sets up the run's network; call while the process has a single thread.
pub fn set_up(needs: &Needs) -> Result<Network, NetworkError> {
    match super::enter_private_network() {
        super::Isolation::Private => {
            let mut lacks = Vec::new();
            let mut hosts = Hosts::System;
            if let Some(text) = &needs.hosts
                && let Err(why) = super::private_hosts(text)
            {
                // A network of its own but no mount namespace: the tables, as in a
                // shared network.
                hosts = tables(needs, why)?;
            }
            if let Err(reason) = super::quick_acks() {
                lacks.push(format!("quick ACKs, so pure ACKs may vary ({reason})"));
            }
            Ok(Network {
                shared: None,
                hosts,
                capture: needs.capture,
                lacks,
                why_shared: None,
            })
        }
        super::Isolation::Host { reason } => shared(needs, reason),
    }
}

fn shared(needs: &Needs, reason: String) -> Result<Network, NetworkError> {
    let ports = PortMap::reserve(&needs.ports).map_err(NetworkError::Ports)?;
    let mut lacks = Vec::new();
    let hosts = match &needs.hosts {
        None => Hosts::System,
        Some(_) => tables(needs, reason.clone())?,
    };
    let mut capture = needs.capture;
    if capture && let Err(e) = may_capture() {
        let why = if e.kind() == std::io::ErrorKind::PermissionDenied {
            "it needs CAP_NET_RAW".to_string()
        } else {
            e.to_string()
        };
        lacks.push(format!("packet capture ({why})"));
        capture = false;
    }
    Ok(Network {
        shared: Some(Arc::new(ports)),
        hosts,
        capture,
        lacks,
        why_shared: Some(reason),
    })
}

/// The scenario's hosts without a private `/etc/hosts` (`why`): read from the tables, and
/// through nss_wrapper for an external resolver, which cannot do without it.
fn tables(needs: &Needs, why: String) -> Result<Hosts, NetworkError> {
    let wrapper = nss_wrapper();
    if wrapper.is_none() && needs.external_resolver {
        return Err(NetworkError::NoWrapper { why });
    }
    Ok(Hosts::Tables { wrapper })
}

impl Network {
    /// The one line that says what isolation the run has and what it lacks; `None` for a
    /// full private network.
    pub fn warning(&self, more: &[String]) -> Option<String> {
        let lacks: Vec<&str> = self.lacks.iter().chain(more).map(String::as_str).collect();
        let having = match &self.why_shared {
            None if lacks.is_empty() => return None,
            None => "a private network".to_string(),
            Some(why) => format!(
                "the machine's network, on ports of the run's own (no private network: {why})"
            ),
        };
        let mut line = format!("labrun: warning: this run has {having}");
        if !lacks.is_empty() {
            line.push_str("; it lacks ");
            line.push_str(&lacks.join(", "));
        }
        Some(line)
    }
}

/// nss_wrapper's library, where Debian, Ubuntu, Fedora and others install it.
pub fn nss_wrapper() -> Option<PathBuf> {
    const DIRS: [&str; 6] = [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/lib/x86_64-linux-gnu",
        "/usr/local/lib",
    ];
    DIRS.iter()
        .map(|dir| PathBuf::from(dir).join("libnss_wrapper.so"))
        .find(|path| path.is_file())
}

/// Whether this process may capture packets on the machine's network, as the engine's
/// capture does (an `AF_PACKET` socket needs `CAP_NET_RAW`).
fn may_capture() -> std::io::Result<()> {
    // SAFETY: a plain system call; the descriptor is owned at once, and closed unbound
    // (nothing for the kernel to unhook, so no grace period to wait for).
    unsafe {
        let raw = libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0);
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        drop(OwnedFd::from_raw_fd(raw));
    }
    Ok(())
}
