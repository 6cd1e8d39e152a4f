//! A class graded across machines: `labrun grade --partition hash:K/N` slices, each
//! with its `slice.json`, and `labrun merge-grades` of them, which must equal the class
//! graded at once or refuse with exit 2; and `tests/partitions.sh`, which runs the command
//! lines of `docs/partitions.md` as each CI engine would.

use std::path::{Path, PathBuf};

use crate::common::{Scratch, root, run, stderr};

/// alice passes, bob's file does not compile, carol has none, dave's resolver forgets the
/// aliases; `hash:K/3` puts bob and dave in slice 1, carol in 2, alice in 3.
fn class(tag: &str) -> Scratch {
    let class = Scratch::new(&format!("partitions-{tag}"));
    let files: [(&str, Option<&[u8]>); 4] = [
        (
            "alice",
            Some(include_bytes!("../fixtures/resolver/resolve_name.c")),
        ),
        ("bob", Some(b"int main( {")),
        ("carol", None),
        (
            "dave",
            Some(include_bytes!(
                "../fixtures/resolver/resolve_name_no_aliases.c"
            )),
        ),
    ];
    for (student, source) in files {
        let folder = class.path().join(student);
        std::fs::create_dir_all(&folder).expect("a submission folder");
        if let Some(source) = source {
            std::fs::write(folder.join("resolve_name.c"), source).expect("a source");
        }
    }
    class
}

fn submissions(class: &Scratch) -> Vec<String> {
    ["alice", "bob", "carol", "dave"]
        .iter()
        .map(|s| class.arg(s))
        .collect()
}

/// `labrun grade COURSE CLASS --scenario resolve_name --out OUT [--partition P]`: exit 0
/// or 1 (a slice whose submissions all pass, or not).
fn grade(course: &str, class: &Scratch, out: &Path, partition: Option<&str>) {
    let out = out.display().to_string();
    let mut args = vec!["grade", course, "--scenario", "resolve_name", "--out", &out];
    if let Some(partition) = partition {
        args.extend(["--partition", partition]);
    }
    let submissions = submissions(class);
    args.extend(submissions.iter().map(String::as_str));
    let output = run(&args);
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        stderr(&output)
    );
}

/// The class graded at once into `all/`, and as three hash slices into `slice-K/`.
fn graded(class: &Scratch) -> (PathBuf, Vec<PathBuf>) {
    let all = class.path().join("all");
    grade("courses/tp-sockets.toml", class, &all, None);
    let slices: Vec<PathBuf> = (1..=3)
        .map(|k| {
            let out = class.path().join(format!("slice-{k}"));
            grade(
                "courses/tp-sockets.toml",
                class,
                &out,
                Some(&format!("hash:{k}/3")),
            );
            out
        })
        .collect();
    (all, slices)
}

fn merge(out: &Path, partials: &[PathBuf]) -> (Option<i32>, String) {
    let mut args = vec!["merge-grades".to_string(), "--out".into()];
    args.push(out.display().to_string());
    args.extend(partials.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = run(&args);
    (output.status.code(), stderr(&output))
}

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn merged_hash_slices_are_byte_for_byte_the_class_graded_at_once() {
    let class = class("merged");
    let (all, slices) = graded(&class);
    for (slice, members) in slices.iter().zip(["bob,dave", "carol", "alice"]) {
        let json: serde_json::Value =
            serde_json::from_slice(&bytes(&slice.join("slice.json"))).expect("slice.json");
        let listed: Vec<&str> = json["submissions"]
            .as_array()
            .expect("a list")
            .iter()
            .filter_map(|s| s.as_str())
            .collect();
        assert_eq!(listed.join(","), members, "{json}");
        assert_eq!(json["course"], "tp-sockets.toml");
        assert_eq!(json["scenarios"], serde_json::json!(["resolve_name"]));
    }
    let merged = class.path().join("merged");
    let (code, err) = merge(&merged, &slices);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("4 submissions merged"), "{err}");
    for file in ["summary.csv", "summary.json", "index.html"] {
        assert!(
            bytes(&merged.join(file)) == bytes(&all.join(file)),
            "{file} differs from the class graded at once:\n{}\n---\n{}",
            String::from_utf8_lossy(&bytes(&merged.join(file))),
            String::from_utf8_lossy(&bytes(&all.join(file)))
        );
    }
    let index = String::from_utf8_lossy(&bytes(&merged.join("index.html"))).into_owned();
    assert!(index.contains("does not compile"), "why bob's never ran");
    for student in ["alice", "bob", "carol", "dave"] {
        let feedback = Path::new(student).join("feedback.txt");
        assert_eq!(bytes(&merged.join(&feedback)), bytes(&all.join(&feedback)));
    }
}

#[test]
fn a_missing_slice_an_overlap_and_another_course_are_refused_with_exit_2() {
    let class = class("refused");
    let (all, slices) = graded(&class);
    let out = class.path().join("merged");

    let (code, err) = merge(&out, &[slices[0].clone(), slices[2].clone()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("slices missing: hash:2/3"), "{err}");
    assert!(err.contains(&slices[0].display().to_string()), "{err}");

    let (code, err) = merge(&out, &[all.clone(), slices[0].clone()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("submission bob is in two slices (overlapping)"),
        "{err}"
    );
    assert!(err.contains(&all.display().to_string()), "{err}");

    // The same course but for a comment, somewhere else: another file all the same.
    let text = std::fs::read_to_string(root().join("courses/tp-sockets.toml")).expect("course");
    let scenarios = root().join("scenarios").display().to_string();
    let edited = text.replace(
        "scenarios = \"../scenarios\"",
        &format!("# edited\nscenarios = \"{scenarios}\""),
    );
    assert_ne!(edited, text);
    let course = class.write("tp-sockets.toml", edited);
    let other = class.path().join("other-2");
    grade(
        &course.display().to_string(),
        &class,
        &other,
        Some("hash:2/3"),
    );
    let (code, err) = merge(&out, &[slices[0].clone(), other.clone(), slices[2].clone()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("slices of different course files"), "{err}");
    assert!(err.contains(&other.display().to_string()), "{err}");

    // A folder that is no grade's output.
    let (code, err) = merge(&out, &[class.path().join("carol")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("has no slice.json"), "{err}");
    assert!(!out.join("summary.csv").exists(), "nothing merged");
}

/// `tests/partitions.sh` runs, for each engine of `docs/partitions.md`, its documented
/// command lines under that engine's variables for every index of a 3-way split, then its
/// merge, and compares the merged summary with the class graded at once.
#[test]
fn the_documented_ci_engines_grade_and_merge_a_class() {
    let output = std::process::Command::new("bash")
        .arg(root().join("tests/partitions.sh"))
        .env("LABRUN", env!("CARGO_BIN_EXE_labrun"))
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .output()
        .expect("bash runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{text}");
    for engine in ["github", "gitlab", "kubernetes", "slurm"] {
        assert!(
            text.contains(&format!("ok: {engine}")),
            "{engine} not run:\n{text}"
        );
    }
}
