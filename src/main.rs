//! The `labrun` binary: arguments, logging, and the exit code; the library does the rest.

use clap::Parser;

fn main() {
    labrun::signals::follow_grader();
    let args = labrun::cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("LABRUN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let code = labrun::cli::main(args);
    labrun::scratch::finish();
    std::process::exit(code);
}
