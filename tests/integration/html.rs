//! HTML reports opened in a real browser: headless Chromium loads the pages of real runs
//! with no console message, the sequence diagram has one arrow per captured packet, and a
//! screenshot of each page is kept under `target/html-artefacts/`.
//!
//! CI installs Debian's chromium and sets `LABRUN_REQUIRE_CHROMIUM=1`; elsewhere, without
//! chromium, these tests say loudly that they were skipped, and pass.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{root, run, stderr, stdout};

const CHROMIUM: &str = "/usr/bin/chromium";

#[test]
fn a_run_page_loads_in_chromium_with_one_arrow_per_packet() {
    let Some(chromium) = chromium() else { return };
    let dir = artefacts("tcp_sleep");
    let output = run(&[
        "scenarios/tcp_sleep.toml",
        "--time-scale",
        "0",
        "--no-snapshot",
        "--format",
        "json",
        "--report-html",
        path(&dir),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let transcript: serde_json::Value =
        serde_json::from_str(&stdout(&output)).expect("a JSON transcript");
    let packets = transcript["packets"].as_array().map_or(0, Vec::len);
    assert!(packets > 0, "no packets captured: {transcript}");

    let page = dir.join("tcp_sleep.html");
    let browsed = chromium.open(&page, &dir.join("tcp_sleep.png"));
    browsed.assert_clean();
    assert_eq!(browsed.packet_arrows(), packets, "one arrow per packet");
    for section in ["diagram", "states", "transcript", "reference", "scenario"] {
        assert!(
            browsed.dom.contains(&format!("<section id=\"{section}\">")),
            "no {section} section in the rendered page"
        );
    }
    // The SVG closed where it should: the sections after it are still the page's.
    let svg_end = browsed.dom.find("</svg>").expect("an svg in the page");
    let states = browsed.dom.find("<section id=\"states\">").expect("states");
    assert!(svg_end < states);
    assert!(browsed.dom.contains("TIME_WAIT"));
    assert!(browsed.dom.contains("matches its snapshot"));
}

#[test]
fn graded_pages_and_the_class_index_load_in_chromium() {
    let Some(chromium) = chromium() else { return };
    let dir = artefacts("class");
    let class = dir.join("submissions");
    for (student, files) in [
        (
            "alice",
            &[("serveur.c", "serveur.c"), ("clientt.c", "clientt.c")][..],
        ),
        (
            "bob",
            &[("serveur.c", "students/tcp_server_no_sleep.c")][..],
        ),
    ] {
        let folder = class.join(student);
        std::fs::create_dir_all(&folder).expect("submission folder");
        for (name, source) in files {
            std::fs::copy(
                root().join("tests/fixtures").join(source),
                folder.join(name),
            )
            .expect("copy a fixture");
        }
    }
    let out = dir.join("grades");
    let output = run(&[
        "grade",
        "courses/tp-sockets.toml",
        path(&class.join("alice")),
        path(&class.join("bob")),
        "--scenario",
        "tcp_basic",
        "--out",
        path(&out),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));

    let index = chromium.open(&out.join("index.html"), &dir.join("index.png"));
    index.assert_clean();
    let links = index.links();
    for link in [
        "alice/tcp_basic-server.html",
        "alice/tcp_basic-client.html",
        "bob/tcp_basic-server.html",
    ] {
        assert!(
            links.iter().any(|l| l == link),
            "no link to {link}: {links:?}"
        );
    }
    for link in &links {
        assert!(
            out.join(link).is_file(),
            "the index links to a missing {link}"
        );
    }
    // Bob's client was never run (no clientt.c): its cell has no page to link to.
    assert!(!links.iter().any(|l| l == "bob/tcp_basic-client.html"));

    let page = chromium.open(&out.join("bob/tcp_basic-server.html"), &dir.join("bob.png"));
    page.assert_clean();
    assert!(page.dom.contains("<section id=\"checks\">"));
    assert!(page.dom.contains("the sleep() after each reply is missing"));
    let packets = page.transcript_packets();
    assert!(packets > 0, "no packet lines in the page's transcript");
    assert_eq!(page.packet_arrows(), packets, "one arrow per packet");
}

/// Guards the check itself: a page that fetches something is caught, so a clean result
/// above means something.
#[test]
fn the_console_check_catches_a_page_that_fetches() {
    let Some(chromium) = chromium() else { return };
    let dir = artefacts("broken");
    let page = dir.join("broken.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" \
         content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <link rel=\"stylesheet\" href=\"http://example.invalid/style.css\"></head>\
         <body><p>broken</p></body></html>",
    )
    .expect("write a page");
    let browsed = chromium.open(&page, &dir.join("broken.png"));
    assert!(
        !browsed.console.is_empty(),
        "chromium logged nothing for a blocked stylesheet; the console check would miss errors"
    );
}

/// Chromium, when it is installed.
fn chromium() -> Option<Chromium> {
    if Path::new(CHROMIUM).is_file() {
        return Some(Chromium);
    }
    assert!(
        std::env::var_os("LABRUN_REQUIRE_CHROMIUM").is_none_or(|v| v != "1"),
        "{CHROMIUM} is not installed and LABRUN_REQUIRE_CHROMIUM=1"
    );
    eprintln!(
        "\n**********************************************************************\n\
         SKIPPED: {CHROMIUM} is not installed, so the HTML reports were NOT\n\
         opened in a browser. Install it (apt-get install chromium), or set\n\
         LABRUN_REQUIRE_CHROMIUM=1 to make this a failure.\n\
         **********************************************************************\n"
    );
    None
}

/// A fresh folder for one test's pages and screenshots, kept after the run.
fn artefacts(name: &str) -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let dir = target.join("html-artefacts").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("artefacts folder");
    std::path::absolute(&dir).expect("an absolute path")
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

struct Chromium;

/// What Chromium made of a page.
struct Browsed {
    /// The DOM after loading, serialised.
    dom: String,
    /// The console messages the page caused (it has no script: any is an error).
    console: Vec<String>,
}

impl Chromium {
    /// Loads `page` twice, for its DOM and for a screenshot, each time in a fresh profile.
    fn open(&self, page: &Path, screenshot: &Path) -> Browsed {
        let url = format!("file://{}", page.display());
        let (dom, mut console) = self.run(&["--dump-dom", &url]);
        let shot = format!("--screenshot={}", screenshot.display());
        let (_, more) = self.run(&[&shot, "--window-size=1280,2000", &url]);
        console.extend(more);
        let png = std::fs::read(screenshot).unwrap_or_default();
        assert!(
            png.starts_with(b"\x89PNG"),
            "no screenshot at {}",
            screenshot.display()
        );
        eprintln!("screenshot of {}: {}", page.display(), screenshot.display());
        Browsed { dom, console }
    }

    /// Runs headless Chromium; returns its standard output and the console lines it logged.
    fn run(&self, args: &[&str]) -> (String, Vec<String>) {
        let profile = std::env::temp_dir().join(format!(
            "labrun-chromium-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).expect("a profile folder");
        let log = profile.with_extension("log");
        let mut child = Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--enable-logging=stderr",
                "--v=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("a log file"))
            .spawn()
            .expect("chromium starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut { stdout }, &mut text);
            text
        });
        let started = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if started.elapsed() > Duration::from_secs(120) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("chromium {args:?} took over 2 minutes");
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => panic!("lost chromium: {e}"),
            }
        }
        let dom = reader.join().unwrap_or_default();
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&profile);
        let _ = std::fs::remove_file(&log);
        // Chromium writes a page's console as `…:INFO:CONSOLE(…)` or `…:CONSOLE:…]`.
        let console = logged
            .lines()
            .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
            .map(str::to_string)
            .collect();
        (dom, console)
    }
}

impl Browsed {
    fn assert_clean(&self) {
        assert!(
            self.console.is_empty(),
            "the page logged to the console:\n{}",
            self.console.join("\n")
        );
        assert!(
            self.dom.contains("</html>"),
            "no page rendered: {}",
            self.dom
        );
    }

    /// The diagram's packet arrows, as the browser parsed them.
    fn packet_arrows(&self) -> usize {
        self.dom.matches("class=\"arrow packet\"").count()
    }

    /// The packet lines of the transcript shown in the page.
    fn transcript_packets(&self) -> usize {
        let start = self.dom.find("<section id=\"transcript\">").unwrap_or(0);
        let end = self.dom[start..]
            .find("</section>")
            .map_or(self.dom.len(), |e| start + e);
        self.dom[start..end]
            .lines()
            .filter(|l| l.split_whitespace().nth(2) == Some("pkt"))
            .count()
    }

    /// The targets of the page's links, other than anchors within it.
    fn links(&self) -> Vec<String> {
        self.dom
            .split("href=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .filter(|link| !link.starts_with('#'))
            .map(str::to_string)
            .collect()
    }
}
