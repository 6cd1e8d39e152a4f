//! What the command line prints: what a scenario's run shows as it goes ([`Terminal`],
//! the session's reporter on the terminal), and at the end what a command came to: a
//! scenario's verdict and its difference with the snapshot, a class's count, what was
//! merged or written.

use std::io::{IsTerminal, Write};
use std::path::Path;

use super::args::{DiagramFormat, Format, RunArgs};
use crate::check::Report;
use crate::diagram::Diagram;
use crate::engine::EngineError;
use crate::record::RunRecord;
use crate::scenario::{self, Plan};
use crate::session::{
    Compared, Notice, Reporter, RunEngine, ScenarioRun, ScenarioVerdict, Summary,
};
use crate::snapshot;
use crate::transcript::{self, Transcript};

/// A scenario's run on the terminal: the live view when standard output is one, then the
/// transcript, the diagram or the JSON on standard output; notices and the rubric's report
/// on standard error.
pub(crate) struct Terminal {
    format: Format,
    diagram: Option<DiagramFormat>,
    quiet: bool,
    /// The events went by live: the transcript leaves them out.
    live: bool,
}

impl Terminal {
    pub(crate) fn new(args: &RunArgs) -> Self {
        Terminal {
            format: args.format,
            diagram: args.diagram,
            quiet: args.quiet,
            live: false,
        }
    }
}

impl Reporter for Terminal {
    fn watch(
        &mut self,
        plan: &Plan,
        time_scale: f64,
        engine: &mut RunEngine<'_>,
    ) -> Result<RunRecord, EngineError> {
        self.live = self.format == Format::Text
            && !self.quiet
            && self.diagram.is_none()
            && std::io::stdout().is_terminal();
        if self.live {
            let color = std::env::var_os("NO_COLOR").is_none();
            transcript::watch(plan, time_scale, color, |observer| engine(observer))
        } else {
            engine(&mut |_| {})
        }
    }

    fn transcript(&mut self, transcript: &Transcript, text: &str) {
        let stdout = std::io::stdout();
        if let Some(format) = self.diagram {
            let diagram = Diagram::new(transcript);
            let out = match format {
                DiagramFormat::Text => crate::diagram::terminal(&diagram),
                DiagramFormat::Mermaid => crate::diagram::mermaid(&diagram),
                DiagramFormat::Svg => crate::diagram::svg(&diagram),
            };
            let _ = stdout.lock().write_all(out.as_bytes());
        } else if !self.quiet {
            let out = match (self.format, self.live) {
                // The events went by live; what the kernel showed comes once the run is over.
                (Format::Text, true) => transcript.observations_text(),
                (Format::Text, false) => text.to_owned(),
                (Format::Json, _) => transcript.to_json() + "\n",
            };
            // A closed pipe (`| head`) is not an error worth reporting.
            let _ = stdout.lock().write_all(out.as_bytes());
        }
    }

    fn notice(&mut self, notice: Notice<'_>) {
        match notice {
            Notice::Isolation { line } => tell!("{line}"),
            Notice::RealTime { ignored } => tell!(
                "labrun: note: external programs run in real time, and so does this run (--time-scale {ignored} ignored)"
            ),
            Notice::Leftovers { count } => {
                tell!("labrun: stopped {count} process(es) the programs left behind");
            }
            Notice::CaptureFailed { error } => tell!("labrun: warning: {error}"),
            Notice::PacketsWritten { count, path } => {
                tell!("labrun: {count} packets written to {}", path.display());
            }
            Notice::TimedOut { name, timeout } => tell!(
                "labrun: {name}: the run went over its timeout of {} and was stopped",
                scenario::duration::display(timeout)
            ),
            Notice::PageWritten { path } => {
                if !self.quiet {
                    tell!("labrun: report page written to {}", path.display());
                }
            }
        }
    }

    fn rubric(&mut self, report: &Report) {
        let color = crate::term::color_on_stderr();
        tell_raw!("{}", crate::report::terminal(report, color));
    }
}

/// Prints a summary's last lines: a scenario's verdict, a class's count, what was written.
pub(crate) fn summary(summary: &Summary) {
    match summary {
        Summary::Scenario(run) => scenario(run),
        Summary::Class { summary, out } => tell!(
            "labrun: {} of {} submissions pass; feedback and summary in {}",
            summary.passed,
            summary.submissions,
            out.display()
        ),
        Summary::ClassInterrupted { signal, outcomes } => interrupted_grade(outcomes, *signal),
        Summary::Merged { count, out } => {
            tell!("labrun: {count} submissions merged into {}", out.display());
        }
        Summary::Packaged {
            platform: crate::autograder::Platform::Gradescope,
            out,
        } => tell!(
            "labrun: wrote {}: upload it as the autograder of a Gradescope programming assignment",
            out.display()
        ),
        Summary::Packaged {
            platform: crate::autograder::Platform::PrairieLearn,
            out,
        } => {
            tell!(
                "labrun: wrote {}: put it in the course's serverFilesCourse/, and in the question's info.json:",
                out.display()
            );
            say!("{}", crate::autograder::prairielearn_info(out));
        }
        Summary::Diagnosis(text) => {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }
        // Each labrun printed its own verdict; a probe and a lab program print as they go.
        Summary::Scenarios { .. } | Summary::Probe { .. } | Summary::Program { .. } => {}
    }
}

/// A scenario's verdict: the line that says it, and the difference with the snapshot.
fn scenario(run: &ScenarioRun) {
    let name = &run.name;
    let took = format!("{:.1}s", run.elapsed.as_secs_f64());
    let color = crate::term::color_on_stderr();
    let (ok, cross) = if color {
        ("\x1b[32m✓\x1b[0m", "\x1b[31m✗\x1b[0m")
    } else {
        ("✓", "✗")
    };
    match &run.verdict {
        ScenarioVerdict::Matched {
            snapshot,
            compared: Compared::Whole { .. },
        } => tell!(
            "{ok} {name}: transcript matches {} ({took})",
            snapshot.display()
        ),
        ScenarioVerdict::Matched {
            snapshot,
            compared: Compared::ButPackets,
        } => tell!(
            "✓ {name}: transcript matches {} but for the packets, which this run could not capture ({took})",
            snapshot.display()
        ),
        ScenarioVerdict::Updated { snapshot } => {
            tell!("{ok} {name}: wrote {} ({took})", snapshot.display());
        }
        ScenarioVerdict::Differed {
            snapshot,
            expected,
            actual,
            compared,
        } => {
            if let Compared::Whole { pending } = compared {
                tell!(
                    "{cross} {name}: transcript differs from {} ({took}); - snapshot, + this run:",
                    snapshot.display()
                );
                tell_raw!("{}", snapshot::diff(expected, actual, color));
                hint_pending(pending.as_deref());
            } else {
                tell!(
                    "✗ {name}: transcript differs from {} ({took}; packets not compared: no capture); - snapshot, + this run:",
                    snapshot.display()
                );
                tell_raw!("{}", snapshot::diff(expected, actual, color));
            }
        }
        ScenarioVerdict::NoSnapshot { snapshot, compared } => {
            if let Compared::Whole { pending } = compared {
                tell!(
                    "{cross} {name}: no snapshot at {} ({took})",
                    snapshot.display()
                );
                hint_pending(pending.as_deref());
            } else {
                tell!(
                    "✗ {name}: no snapshot at {} ({took}); this run has no packet capture to write one",
                    snapshot.display()
                );
            }
        }
        ScenarioVerdict::Unchecked { .. } => {}
        ScenarioVerdict::Rubric { help, .. } => {
            if let Some((expected, actual)) = help {
                tell!(
                    "  (help, not the verdict) differences with the reference transcript, - reference, + this run:"
                );
                tell_raw!("{}", snapshot::diff(expected, actual, color));
            }
        }
        ScenarioVerdict::Interrupted { signal } => tell!(
            "labrun: {name}: interrupted by {} after {:.1}s; its programs are stopped, and what ran so far is above (not compared with anything)",
            crate::signals::name(*signal),
            run.elapsed.as_secs_f64()
        ),
    }
}

/// `labrun grade` stopped by a signal: what was graded so far, and no summary written (a
/// summary of part of the class would read as the class's).
fn interrupted_grade(outcomes: &[crate::grade::Outcome], signal: i32) {
    let done: Vec<&crate::grade::Outcome> =
        outcomes.iter().filter(|o| o.verdict != "error").collect();
    tell!(
        "labrun: interrupted by {}: {} of {} runs were done; each submission graded whole has \
         its feedback, no summary is written (`labrun grade … --resume` grades the rest)",
        crate::signals::name(signal),
        done.len(),
        outcomes.len()
    );
    let mut names: Vec<&str> = done.iter().map(|o| o.submission.as_str()).collect();
    names.dedup();
    for name in names {
        let mine: Vec<&&crate::grade::Outcome> =
            done.iter().filter(|o| o.submission == name).collect();
        let score: u64 = mine.iter().map(|o| o.score).sum();
        let max: u64 = mine.iter().map(|o| o.max_score).sum();
        let graded: Vec<String> = mine
            .iter()
            .map(|o| format!("{}:{} {}", o.scenario, o.role, o.verdict))
            .collect();
        tell!("  {name}: {score}/{max} so far ({})", graded.join(", "));
    }
}

fn hint_pending(pending: Option<&Path>) {
    match pending {
        Some(path) => tell!(
            "  wrote {}: accept it with `labrun --update …` or `cargo insta accept`",
            path.display()
        ),
        None => tell!("  (CI is set: no .snap.new written; run with --update to accept)"),
    }
}
