//! The properties the fuzz targets check (`fuzz/`), here so that the crashes they find
//! are replayed by `cargo test` on stable Rust (`tests/fuzz_regressions.rs`).
//!
//! Each function takes the fuzzer's bytes and panics when a property does not hold.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use crate::record::{Event, EventKind, NotKept, Outcome, Packet, Protocol, RunRecord, Stream};
use crate::scenario::Plan;

/// The scenario parser on any text: never a panic; every error points inside the text and
/// renders with its line.
pub fn scenario(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(diagnostics) = crate::scenario::parse(Path::new("fuzz.toml"), text) {
        assert!(!diagnostics.items.is_empty(), "an error without a message");
        for item in &diagnostics.items {
            assert!(item.span.start <= text.len(), "an error outside the text");
        }
        let _ = diagnostics.to_string();
    }
}

/// Snapshot files on any text: parsing never panics, normalisation is idempotent, and a
/// transcript written as a snapshot reads back as itself.
pub fn snapshot(data: &[u8]) {
    use crate::snapshot::{normalize, parse};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(content) = parse(text) {
        let _ = normalize(content);
    }
    let once = normalize(text);
    assert_eq!(normalize(&once), once, "normalisation is not idempotent");
    let file = format!("---\nsource: x\nexpression: transcript\n---\n{once}\n");
    assert_eq!(
        parse(&file).map(normalize),
        Ok(once),
        "a snapshot does not read back as written"
    );
}

/// Transcript normalisation on any event stream and any captured frames, for a TCP and a
/// UDP scenario: never a panic, and the same record always gives the same text.
pub fn transcript(data: &[u8]) {
    let mut choices = Choices(data);
    let Some(which) = choices.byte() else {
        return;
    };
    let plan = &plans()[usize::from(which % 2)];
    let mut events = Vec::new();
    let mut packets = Vec::new();
    let mut at = Duration::ZERO;
    while let Some(step) = choices.byte() {
        at += Duration::from_millis(u64::from(step % 16) * 25);
        if step >= 240 {
            // A captured frame, made of whatever bytes come next.
            packets.push(Packet {
                at,
                time: SystemTime::UNIX_EPOCH + at,
                data: choices.bytes(),
            });
            continue;
        }
        let actor = usize::from(choices.number()) % plan.actors.len();
        let lane = u32::from(choices.number() % 3);
        let Some(kind) = choices.kind() else {
            break;
        };
        events.push(Event {
            seq: events.len(),
            at,
            actor,
            lane,
            kind,
        });
    }
    let record = RunRecord {
        events,
        elapsed: at,
        timed_out: false,
        interrupted: None,
        packets,
        capture_error: None,
        not_kept: NotKept {
            packets: u64::from(choices.number()),
            bytes: u64::from(choices.number()) << 20,
        },
        checkpoints: Vec::new(),
    };
    let first = crate::transcript::normalize(plan, &record);
    let again = crate::transcript::normalize(plan, &record);
    assert_eq!(first.to_text(), again.to_text(), "not deterministic");
    let _ = first.to_json();
}

/// The plans events are generated for.
fn plans() -> &'static [Plan; 2] {
    static PLANS: OnceLock<[Plan; 2]> = OnceLock::new();
    PLANS.get_or_init(|| {
        let plan = |name, text| {
            crate::scenario::parse(Path::new(name), text).expect("a shipped scenario parses")
        };
        [
            plan(
                "tcp_sleep.toml",
                include_str!("../scenarios/tcp_sleep.toml"),
            ),
            plan(
                "udp_two_clients.toml",
                include_str!("../scenarios/udp_two_clients.toml"),
            ),
        ]
    })
}

/// The fuzzer's bytes, read as a series of small choices.
struct Choices<'a>(&'a [u8]);

impl Choices<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    fn number(&mut self) -> u8 {
        self.byte().unwrap_or(0)
    }

    fn bytes(&mut self) -> Vec<u8> {
        let n = usize::from(self.number() % 64).min(self.0.len());
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        taken.to_vec()
    }

    fn text(&mut self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }

    fn port(&mut self) -> u16 {
        match self.number() % 4 {
            0 => 4000,
            1 => 40000 + u16::from(self.number()),
            2 => 0,
            _ => u16::from_be_bytes([self.number(), self.number()]),
        }
    }

    fn address(&mut self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port()))
    }

    fn protocol(&mut self) -> Protocol {
        if self.number() % 2 == 0 {
            Protocol::Tcp
        } else {
            Protocol::Udp
        }
    }

    fn millis(&mut self, unit: u64) -> Duration {
        Duration::from_millis(u64::from(self.number()) * unit)
    }

    fn outcome(&mut self) -> Outcome {
        match self.number() % 6 {
            0 => Outcome::Exited {
                code: i32::from(self.number()),
            },
            1 => Outcome::Signaled {
                signal: i32::from(self.number() % 70),
            },
            2 => Outcome::Stopped,
            3 => Outcome::TimedOut {
                after: self.millis(100),
            },
            4 => Outcome::RunTimedOut {
                after: Duration::from_secs(60),
            },
            _ => Outcome::SpawnFailed {
                reason: self.text(),
            },
        }
    }

    fn kind(&mut self) -> Option<EventKind> {
        Some(match self.byte()? % 12 {
            0 => EventKind::Started {
                args: vec![self.text()],
                external: self.number() % 2 == 0,
                after: vec![usize::from(self.number())],
                delay: self.millis(10),
            },
            1 => EventKind::Ready {
                protocol: self.protocol(),
                local: self.address(),
                peer: (self.number() % 2 == 0).then(|| self.address()),
            },
            2 => EventKind::Line {
                stream: if self.number() % 2 == 0 {
                    Stream::Stdout
                } else {
                    Stream::Stderr
                },
                text: self.text(),
            },
            3 | 4 => EventKind::Sent {
                protocol: self.protocol(),
                peer: self.address(),
                payload: self.bytes(),
            },
            5 | 6 => EventKind::Received {
                protocol: self.protocol(),
                peer: self.address(),
                payload: self.bytes(),
            },
            7 => EventKind::Slept {
                declared: self.millis(20),
            },
            8 => EventKind::Woke,
            9 => EventKind::Port {
                protocol: self.protocol(),
                port: self.port(),
            },
            10 => EventKind::OutputCut {
                cut: u64::from(self.number()),
            },
            _ => EventKind::Exited {
                outcome: self.outcome(),
            },
        })
    }
}
