//! The course file: which file of a submission plays which role in which scenario, how
//! its C sources are built, and which slice of the class a machine grades
//! (`--partition`). Hands on the [`Course`] and its [`Direction`]s, the scenarios they
//! grade, and the [`Partition`] that picks the submissions.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A course file: which file of a submission plays which role in which scenario.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Course {
    /// Folder of the scenarios, relative to the course file.
    #[serde(default = "default_scenarios")]
    pub scenarios: PathBuf,
    #[serde(default)]
    pub build: Build,
    pub grade: Vec<Direction>,
}

fn default_scenarios() -> PathBuf {
    PathBuf::from("../scenarios")
}

/// How a C source of a submission is built.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Build {
    /// The command, with `{source}` and `{output}`; run in the submission's copy.
    pub command: String,
    /// Wall-clock limit of one build, like `60s`.
    pub timeout: String,
}

impl Default for Build {
    fn default() -> Self {
        Build {
            command: "gcc -Wall -O0 -o {output} {source}".into(),
            timeout: "60s".into(),
        }
    }
}

/// One direction graded: a submission's file plays a role of a scenario.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Direction {
    pub scenario: String,
    pub role: String,
    pub file: String,
}

/// A slice of the class, for a CI matrix (nextest's partition schemes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partition {
    /// `count:K/N` (or `K/N`): every N-th submission of the sorted class from the K-th; a
    /// submission added or removed moves the others to other slices.
    Count { k: usize, n: usize },
    /// `hash:K/N`: the slice a submission's name hashes to; adding or removing a
    /// submission moves no other.
    Hash { k: usize, n: usize },
}

impl Partition {
    /// Reads `K/N`, `count:K/N` or `hash:K/N` (K from 1 to N).
    pub fn parse(text: &str) -> Result<Self, String> {
        let (scheme, slice) = match text.split_once(':') {
            Some((scheme, slice)) => (scheme, slice),
            None => ("count", text),
        };
        let (k, n) = slice
            .split_once('/')
            .ok_or("write it K/N, count:K/N or hash:K/N, such as hash:1/4")?;
        let k: usize = k.parse().map_err(|_| format!("`{k}` is not a number"))?;
        let n: usize = n.parse().map_err(|_| format!("`{n}` is not a number"))?;
        if n == 0 || k == 0 || k > n {
            return Err(format!("{k}/{n}: K must be between 1 and N"));
        }
        match scheme {
            "count" => Ok(Partition::Count { k, n }),
            "hash" => Ok(Partition::Hash { k, n }),
            other => Err(format!(
                "unknown partition scheme `{other}`: `count` or `hash`"
            )),
        }
    }

    /// Whether the slice takes the submission `name`, at `position` in the sorted class.
    pub fn takes(self, position: usize, name: &str) -> bool {
        match self {
            Partition::Count { k, n } => position % n == k - 1,
            Partition::Hash { k, n } => {
                let slice = stable_hash(name) % u64::try_from(n).unwrap_or(1);
                usize::try_from(slice).is_ok_and(|s| s == k - 1)
            }
        }
    }
}

/// FNV-1a, 64 bits: the same on every machine, every run and every labrun version, unlike
/// the standard library's hasher.
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Reads a course file.
pub(crate) fn load_course(path: &Path) -> Result<Course, CourseError> {
    let text = std::fs::read_to_string(path).map_err(|source| CourseError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| CourseError::Invalid {
        path: path.to_path_buf(),
        source: Box::new(source),
    })
}

/// Why a course file cannot be used: an invalid input (exit 2), whether it is missing or
/// wrong.
#[derive(Debug, thiserror::Error)]
pub enum CourseError {
    #[error("cannot read course {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid course {}: {source}", .path.display())]
    Invalid {
        path: PathBuf,
        #[source]
        source: Box<toml::de::Error>,
    },
}

/// The directions graded (all of the course's, or those of `only`): scenario, role, and
/// the scenario's file.
pub(crate) fn graded_scenarios(
    course_path: &Path,
    course: &Course,
    only: &[String],
) -> Vec<(String, String, PathBuf)> {
    let scenarios = course_path
        .parent()
        .unwrap_or(Path::new("."))
        .join(&course.scenarios);
    course
        .grade
        .iter()
        .filter(|d| only.is_empty() || only.contains(&d.scenario))
        .map(|d| {
            let path = scenarios.join(format!("{}.toml", d.scenario));
            (d.scenario.clone(), d.role.clone(), path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slices(
        partition: impl Fn(usize) -> Partition,
        n: usize,
        class: &[String],
    ) -> Vec<Vec<String>> {
        (1..=n)
            .map(|k| {
                class
                    .iter()
                    .enumerate()
                    .filter(|(i, name)| partition(k).takes(*i, name))
                    .map(|(_, name)| name.clone())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn hash_slices_cover_the_class_once_and_keep_their_members_when_one_is_added() {
        let mut class: Vec<String> = (0..60).map(|i| format!("student{i:02}")).collect();
        let before = slices(|k| Partition::Hash { k, n: 3 }, 3, &class);
        let all: usize = before.iter().map(Vec::len).sum();
        assert_eq!(all, class.len(), "each submission in exactly one slice");
        assert!(before.iter().all(|s| s.len() > 5), "{before:?}");
        class.insert(0, "aaron-late".into());
        let after = slices(|k| Partition::Hash { k, n: 3 }, 3, &class);
        for (old, new) in before.iter().zip(&after) {
            assert!(old.iter().all(|m| new.contains(m)), "a submission moved");
        }
        // With count slices, the same late submission moves others.
        let counted = slices(|k| Partition::Count { k, n: 3 }, 3, &class);
        assert_eq!(counted.iter().map(Vec::len).sum::<usize>(), class.len());
    }

    #[test]
    fn partitions_read_as_nextest_writes_them() {
        assert_eq!(Partition::parse("2/4"), Ok(Partition::Count { k: 2, n: 4 }));
        assert_eq!(
            Partition::parse("count:1/2"),
            Ok(Partition::Count { k: 1, n: 2 })
        );
        assert_eq!(
            Partition::parse("hash:3/3"),
            Ok(Partition::Hash { k: 3, n: 3 })
        );
        for bad in ["0/3", "4/3", "hash:1/0", "slice:1/2", "1-2", "a/b"] {
            assert!(Partition::parse(bad).is_err(), "{bad}");
        }
        // The hash is fixed: a slice must not change with the machine or the version.
        assert_eq!(
            stable_hash("alice"),
            0x508b_2abb_65a0_3907,
            "FNV-1a of alice"
        );
    }
}
