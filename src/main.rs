//! `authcheck`: the command line. Parsing and dispatch live here; each command is a file of
//! [`cli`].
//!
//! ```text
//! authcheck check [--cases N] [--seed S] [--target in-process|http|http://HOST:PORT]
//!                 [--store sqlite|memory] [--concurrent|--sequential] [--shard K/N] [--json]
//! authcheck replay FILE... [--target …]
//! authcheck shrink FILE [-o OUT]
//! authcheck promote ARTIFACT [--name SLUG] [--dir regressions/traces]
//! authcheck merge SUMMARY.json...
//! authcheck flaws [--seeds K]        (built with --features flaws)
//! ```
//! Exit status: 0 no divergence, 1 a divergence (or a trace that fails), 2 usage error.

mod cli;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    version,
    about = "Checks a session-login service against an executable specification"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate cases from the model and check the service against it in lockstep.
    Check(cli::check::CheckArgs),
    /// Check an update the way it ships: OLD and NEW builds over one store, with rolling
    /// windows (requests routed to either build), rollbacks, finalize and crashes laid over
    /// generated cases (`check --target upgrade`, with `--from OLD --to NEW`).
    Upgrade(cli::check::CheckArgs),
    /// Replay trace files against the service, step by step, model beside service.
    Replay(cli::replay::ReplayArgs),
    /// Shrink a failing trace to a minimal one.
    Shrink(cli::replay::ShrinkArgs),
    /// Run each catalogue flaw (PROTOCOL.md §10) under K seeds and report detection, time and shrunk length
    /// (build with `--features flaws`).
    Flaws(cli::flaws::FlawsArgs),
    /// Add up the `--json` summaries of sharded `check` runs (one file of output per run).
    Merge(cli::merge::MergeArgs),
    /// Watch a live service: short session flows every interval on the real clock, each answer
    /// checked against the model, with Prometheus metrics.
    Probe(cli::probe::ProbeArgs),
    /// The nightly fuzz run's libFuzzer logs as one HTML page: execs/s, coverage and corpus
    /// growth per target.
    FuzzReport(cli::fuzz_report::FuzzReportArgs),
    /// Turn a libFuzzer artifact of the lockstep target (or a trace) into a minimal, numbered
    /// regression trace.
    Promote(cli::promote::PromoteArgs),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Check(args) => cli::check::run(args),
        Command::Upgrade(args) => cli::check::upgrade(args),
        Command::Replay(args) => cli::replay::replay(args),
        Command::Shrink(args) => cli::replay::shrink(args),
        Command::Flaws(args) => cli::flaws::run(args),
        Command::Merge(args) => cli::merge::run(args),
        Command::Promote(args) => cli::promote::run(args),
        Command::FuzzReport(args) => cli::fuzz_report::run(args),
        Command::Probe(args) => cli::probe::run(args),
    };
    result.unwrap_or_else(|e| {
        eprintln!("authcheck: {e}");
        ExitCode::from(2)
    })
}
