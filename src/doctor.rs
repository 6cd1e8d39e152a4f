//! `labrun doctor`: what this machine allows a run, which isolation runs will get, and how
//! to get the full one.
//!
//! Each namespace is tried in a short-lived `labrun doctor --probe KIND` process, so that
//! labrun's own process is left as it was: a namespace, once entered, cannot be left.
//! The rest (capabilities, files, a control group made and removed) is read in place.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clap::ValueEnum;

/// What a probe process tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Probe {
    /// A private network, as a run makes it, then quick ACKs on its loopback.
    Network,
    User,
    Mount,
    Pid,
}

/// The answer to one question about the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Item {
    pub name: &'static str,
    pub available: bool,
    /// How, or why not.
    pub detail: String,
}

/// Everything `labrun doctor` prints: the items, the isolation runs get, the ways to the full
/// isolation (empty when runs have it).
#[derive(Clone, Debug)]
pub(crate) struct Diagnosis {
    pub exe: PathBuf,
    pub items: Vec<Item>,
    pub isolation: String,
    pub advice: Vec<String>,
}

/// Looks at the machine. Never fails: what cannot be found out is reported as such.
pub(crate) fn diagnose() -> Diagnosis {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("labrun"));
    let caps = Capabilities::read();
    let root = nix::unistd::geteuid().is_root();
    let network = probe(&exe, Probe::Network);
    let quick_acks = match &network {
        Ok(lines) => match lines.get(1) {
            Some(line) if line.starts_with("ok") => Ok("set on the run's own loopback".into()),
            Some(line) => Err(line.trim_start_matches("no ").to_string()),
            None => Err("the probe said nothing about them".into()),
        },
        // No private network: the route metric would have to be set on the shared loopback.
        Err(_) if caps.has(CAP_NET_ADMIN) => {
            Ok("no private network, but NET_ADMIN is effective on the shared one".into())
        }
        Err(_) => Err(
            "no private network and no NET_ADMIN: the reference programs ask for \
                       them on their sockets (TCP_QUICKACK); a student's program's ACKs may \
                       be delayed"
                .into(),
        ),
    };
    let namespace = |probe_kind| match probe(&exe, probe_kind) {
        Ok(lines) => Ok(lines.first().map_or(String::new(), |l| {
            l.trim_start_matches("ok").trim().to_string()
        })),
        Err(reason) => Err(reason),
    };
    let user = namespace(Probe::User);
    let mount = namespace(Probe::Mount);
    let pid = namespace(Probe::Pid);
    let network_line = network
        .as_ref()
        .map(|lines| {
            lines.first().map_or(String::new(), |l| {
                l.trim_start_matches("ok").trim().to_string()
            })
        })
        .map_err(String::clone);
    // In the run's own network, as the run opens it (an ordinary user has CAP_NET_RAW in
    // the user namespace that owns it); else on the shared one, here.
    let capture = match &network {
        Ok(lines) => match lines.get(2) {
            Some(line) if line.starts_with("ok") => {
                Ok("an AF_PACKET socket opens in the run's own network".into())
            }
            Some(line) => Err(line.trim_start_matches("no ").to_string()),
            None => Err("the probe said nothing about it".into()),
        },
        Err(_) => packet_capture(&caps),
    };
    let cgroup = crate::sandbox::cgroup::ProcessCap::probe()
        .map(|()| "programs' processes are capped".to_string());
    let uids = if root && caps.has(CAP_SETUID) && caps.has(CAP_SETGID) {
        Ok("root, with CAP_SETUID and CAP_SETGID".to_string())
    } else if root {
        Err("root, but without CAP_SETUID or CAP_SETGID".to_string())
    } else {
        Err("needs root with CAP_SETUID and CAP_SETGID".to_string())
    };
    let nss = crate::sandbox::network::nss_wrapper()
        .map(|p| p.display().to_string())
        .ok_or_else(|| "not found (Debian and Ubuntu: `apt-get install libnss-wrapper`)".into());
    let gcc = gcc();

    let item = |name, result: &Result<String, String>| Item {
        name,
        available: result.is_ok(),
        detail: match result {
            Ok(how) | Err(how) => how.clone(),
        },
    };
    let items = vec![
        item("network namespace", &network_line),
        item("user namespace", &user),
        item("mount namespace", &mount),
        item("pid namespace", &pid),
        item("packet capture", &capture),
        item("quick ACKs", &quick_acks),
        item("pids cgroup", &cgroup),
        item("other uids", &uids),
        item("nss_wrapper", &nss),
        item("gcc", &gcc),
    ];
    let isolation = match (&network_line, &mount) {
        (Ok(_), Ok(_)) => "private network: the run's own loopback, ports, socket tables and \
                           packets, and its own /etc/hosts"
            .to_string(),
        (Ok(_), Err(_)) => "private network: the run's own loopback, ports, socket tables and \
                            packets; no private /etc/hosts (no mount namespace)"
            .to_string(),
        (Err(reason), _) => {
            format!(
                "shared network: the machine's, with the run's own ports (no private one: {reason})"
            )
        }
    };
    let full = network_line.is_ok() && mount.is_ok();
    let advice = if full {
        Vec::new()
    } else {
        advice(&exe, &Machine::read(root, &caps))
    };
    Diagnosis {
        exe,
        items,
        isolation,
        advice,
    }
}

impl Diagnosis {
    /// The plain text `labrun doctor` prints: one line per item.
    pub(crate) fn text(&self) -> String {
        let mut out = format!(
            "labrun {} at {}\n",
            env!("CARGO_PKG_VERSION"),
            self.exe.display()
        );
        for item in &self.items {
            let answer = if item.available { "yes" } else { "no" };
            if item.detail.is_empty() {
                out.push_str(&format!("{}: {answer}\n", item.name));
            } else {
                out.push_str(&format!("{}: {answer} ({})\n", item.name, item.detail));
            }
        }
        out.push_str(&format!("isolation: {}\n", self.isolation));
        if self.advice.is_empty() {
            out.push_str("full isolation: yes, nothing to do\n");
        } else {
            for line in &self.advice {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}

/// The probe process's side: tries `kind` and prints `ok HOW` or `no WHY`, one line per
/// answer; returns whether the first answer is yes (the process then exits 0, else 1).
pub(crate) fn run_probe(kind: Probe) -> bool {
    use nix::sched::CloneFlags;
    let first = match kind {
        Probe::Network => {
            let before = std::fs::read_link("/proc/self/ns/user").ok();
            match crate::sandbox::enter_private_network() {
                crate::sandbox::Isolation::Private => {
                    let after = std::fs::read_link("/proc/self/ns/user").ok();
                    if before == after {
                        Ok("made directly".to_string())
                    } else {
                        Ok("inside a user namespace".to_string())
                    }
                }
                crate::sandbox::Isolation::Host { reason } => Err(reason),
            }
        }
        Probe::User => nix::sched::unshare(CloneFlags::CLONE_NEWUSER)
            .map(|()| "made".to_string())
            .map_err(|e| format!("refused: {}", e.desc())),
        Probe::Mount => unshare_either(CloneFlags::CLONE_NEWNS).and_then(|how| {
            // What a run's private /etc/hosts needs next: its mounts kept from the host's.
            crate::sandbox::mounts_private()
                .map(|()| how)
                .map_err(|e| format!("made, but its mounts cannot be made private: {}", e.desc()))
        }),
        Probe::Pid => unshare_either(CloneFlags::CLONE_NEWPID),
    };
    match &first {
        Ok(how) => say!("ok {how}"),
        Err(why) => say!("no {why}"),
    }
    if kind == Probe::Network && first.is_ok() {
        match crate::sandbox::quick_acks() {
            Ok(()) => say!("ok"),
            Err(why) => say!("no {why}"),
        }
        match packet_capture(&Capabilities::read()) {
            Ok(_) => say!("ok"),
            Err(why) => say!("no {why}"),
        }
    }
    first.is_ok()
}

/// Capabilities named in `<linux/capability.h>`, by bit.
const CAP_SETGID: u32 = 6;
const CAP_SETUID: u32 = 7;
const CAP_NET_ADMIN: u32 = 12;
const CAP_NET_RAW: u32 = 13;
const CAP_SYS_ADMIN: u32 = 21;

/// The process's effective and bounding capability sets, from `/proc/self/status`.
#[derive(Clone, Copy, Debug, Default)]
struct Capabilities {
    effective: u64,
    bounding: u64,
}

impl Capabilities {
    fn read() -> Self {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        Self::parse(&status)
    }

    fn parse(status: &str) -> Self {
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
                .unwrap_or(0)
        };
        Capabilities {
            effective: field("CapEff:"),
            bounding: field("CapBnd:"),
        }
    }

    fn has(&self, cap: u32) -> bool {
        self.effective & (1 << cap) != 0
    }

    fn bounds(&self, cap: u32) -> bool {
        self.bounding & (1 << cap) != 0
    }
}

/// Runs `labrun doctor --probe KIND` and returns its answer lines when the first is yes.
fn probe(exe: &Path, kind: Probe) -> Result<Vec<String>, String> {
    let name = kind
        .to_possible_value()
        .map_or_else(String::new, |v| v.get_name().to_string());
    let output = Command::new(exe)
        .args(["doctor", "--probe", &name])
        .env("LABRUN_LOG", "off")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("cannot start a probe: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    match lines.first() {
        Some(first) if first.starts_with("ok") && output.status.success() => Ok(lines),
        Some(first) if first.starts_with("no ") => Err(first[3..].to_string()),
        _ => Err(match output.status.code() {
            Some(code) => format!("the probe ended with status {code} and no answer"),
            None => "the probe was killed (a seccomp filter?)".to_string(),
        }),
    }
}

/// `unshare(flag)` directly, or inside a new user namespace.
fn unshare_either(flag: nix::sched::CloneFlags) -> Result<String, String> {
    use nix::sched::{CloneFlags, unshare};
    match unshare(flag) {
        Ok(()) => Ok("made directly".into()),
        Err(direct) => match unshare(CloneFlags::CLONE_NEWUSER | flag) {
            Ok(()) => Ok("inside a user namespace".into()),
            Err(_) => Err(format!("refused: {}", direct.desc())),
        },
    }
}

/// An `AF_PACKET` socket, as the capture opens on a run's `lo`; closed at once.
fn packet_capture(caps: &Capabilities) -> Result<String, String> {
    let protocol = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: a plain system call; the descriptor is closed right after.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(protocol)) };
    if fd < 0 {
        let e = nix::errno::Errno::last().desc();
        return Err(if caps.has(CAP_NET_RAW) {
            format!("an AF_PACKET socket is refused: {e}")
        } else {
            format!("an AF_PACKET socket is refused ({e}): it needs CAP_NET_RAW")
        });
    }
    // SAFETY: `fd` is ours and open.
    unsafe { libc::close(fd) };
    Ok("an AF_PACKET socket opens here".into())
}

/// gcc's first line of `--version`.
fn gcc() -> Result<String, String> {
    match Command::new("gcc")
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("gcc")
            .to_string()),
        Ok(out) => Err(format!("`gcc --version` failed ({})", out.status)),
        Err(_) => Err("not found (Debian and Ubuntu: `apt-get install gcc`)".into()),
    }
}

/// What decides the way to the full isolation.
#[derive(Clone, Copy, Debug, Default)]
struct Machine {
    root: bool,
    /// Root without CAP_SYS_ADMIN in its bounding set, or a container engine's files.
    container: bool,
    /// `kernel.apparmor_restrict_unprivileged_userns` (Ubuntu 23.10 and later).
    apparmor_restrict: Option<u64>,
    /// `kernel.unprivileged_userns_clone` (Debian's older kernels).
    userns_clone: Option<u64>,
    /// `user.max_user_namespaces`.
    max_userns: Option<u64>,
}

impl Machine {
    fn read(root: bool, caps: &Capabilities) -> Self {
        Machine {
            root,
            container: root && !caps.bounds(CAP_SYS_ADMIN) || container_marks(),
            apparmor_restrict: read_flag("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
            userns_clone: read_flag("/proc/sys/kernel/unprivileged_userns_clone"),
            max_userns: read_flag("/proc/sys/user/max_user_namespaces"),
        }
    }
}

/// How to get the full isolation on this machine, one line each (a file's content indented).
fn advice(exe: &Path, machine: &Machine) -> Vec<String> {
    let exe = exe.display();
    let root = machine.root;
    let mut lines = Vec::new();
    if !root && machine.apparmor_restrict == Some(1) {
        lines.push(
            "full isolation: AppArmor refuses unprivileged user namespaces here \
             (kernel.apparmor_restrict_unprivileged_userns = 1, as on Ubuntu 24.04); as \
             root, write this profile to /etc/apparmor.d/labrun:"
                .to_string(),
        );
        lines.push("    abi <abi/4.0>,".into());
        lines.push("    include <tunables/global>".into());
        lines.push(format!("    profile labrun {exe} flags=(unconfined) {{"));
        lines.push("      userns,".into());
        lines.push("      include if exists <local/labrun>".into());
        lines.push("    }".into());
        lines.push(
            "full isolation: then load it: `sudo apparmor_parser -r /etc/apparmor.d/labrun` \
             (it allows this binary, at this path, to make user namespaces; nothing more)"
                .into(),
        );
    } else if !root && machine.userns_clone == Some(0) {
        lines.push(
            "full isolation: the kernel refuses unprivileged user namespaces \
             (kernel.unprivileged_userns_clone = 0): `sudo sysctl -w \
             kernel.unprivileged_userns_clone=1`"
                .into(),
        );
    } else if !root && machine.max_userns == Some(0) {
        lines.push(
            "full isolation: user namespaces are switched off (user.max_user_namespaces = 0): \
             `sudo sysctl -w user.max_user_namespaces=10000`"
                .into(),
        );
    } else if root && !machine.container {
        lines.push(
            "full isolation: labrun runs as root but the kernel refuses namespaces (a seccomp \
             filter or a security module): run it outside that confinement"
                .into(),
        );
    } else if !root {
        lines.push(
            "full isolation: the kernel refuses user namespaces to this user (a seccomp filter \
             or a security module): ask the machine's administrator"
                .into(),
        );
    }
    if !root {
        lines.push(format!(
            "full isolation: or, where only a privilege is missing, \
             `sudo setcap cap_net_admin,cap_net_raw,cap_sys_admin+ep {exe}` (any user who can run this file may then make namespaces and mounts, change \
             network settings and capture every packet of the machine: CAP_SYS_ADMIN is \
             nearly root; prefer the AppArmor profile where there is one)"
        ));
    }
    if machine.container {
        lines.push(
            "full isolation: in a container: start it with `docker run --security-opt \
             seccomp=unconfined …` (labrun then makes a user namespace and its own network \
             in it; but no seccomp filter then guards anything the container runs, students' \
             programs included)"
                .to_string(),
        );
        lines.push(
            "full isolation: or `docker run --cap-add SYS_ADMIN …` (namespaces made directly; \
             SYS_ADMIN is nearly all of root's power over the kernel)"
                .to_string(),
        );
        lines.push(
            "full isolation: or, for quick ACKs only, `docker run --cap-add NET_ADMIN …` (the \
             container's own network, shared by its runs)"
                .to_string(),
        );
        lines.push(
            "full isolation: on Gradescope, PrairieLearn or INGInious these options are not \
             yours to choose: runs use the shared network"
                .to_string(),
        );
    }
    lines
}

/// A flag file of `/proc/sys` as a number, `None` when there is no such file.
fn read_flag(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The files container engines leave behind.
fn container_marks() -> bool {
    Path::new("/.dockerenv").exists() || Path::new("/run/.containerenv").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_read_from_status() {
        let status = "Name:\tlabrun\nCapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\n";
        let caps = Capabilities::parse(status);
        // Docker's default set: SETUID, SETGID and NET_RAW, no NET_ADMIN, no SYS_ADMIN.
        assert!(caps.has(CAP_SETUID) && caps.has(CAP_SETGID) && caps.has(CAP_NET_RAW));
        assert!(!caps.has(CAP_NET_ADMIN));
        assert!(!caps.bounds(CAP_SYS_ADMIN));
    }

    #[test]
    fn on_ubuntu_24_04_the_apparmor_profile_names_the_binary() {
        let ubuntu = Machine {
            apparmor_restrict: Some(1),
            ..Machine::default()
        };
        let text = advice(Path::new("/opt/labrun/bin/labrun"), &ubuntu).join("\n");
        assert!(
            text.contains(
                "    profile labrun /opt/labrun/bin/labrun flags=(unconfined) {\n      userns,\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("    abi <abi/4.0>,\n    include <tunables/global>\n"),
            "{text}"
        );
        assert!(
            text.contains("`sudo apparmor_parser -r /etc/apparmor.d/labrun`"),
            "{text}"
        );
        assert!(
            text.contains(
                "setcap cap_net_admin,cap_net_raw,cap_sys_admin+ep /opt/labrun/bin/labrun"
            ),
            "{text}"
        );
    }

    #[test]
    fn in_a_container_the_advice_is_docker_options() {
        let container = Machine {
            root: true,
            container: true,
            ..Machine::default()
        };
        let text = advice(Path::new("/autograder/source/labrun"), &container).join("\n");
        assert!(text.contains("--security-opt seccomp=unconfined"), "{text}");
        assert!(text.contains("--cap-add NET_ADMIN"), "{text}");
        assert!(
            !text.contains("setcap"),
            "root needs no file capabilities: {text}"
        );
    }
}
