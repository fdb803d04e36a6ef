//! `authcheck check`: a campaign against the target, its report, and the minimal trace of the
//! first thing it found.

use super::target::TargetArgs;
use super::{verdict, write, CliError, CliResult};
use authcheck::campaign::{self, CheckOptions, Mix, Shard};
use authcheck::driver::Mode;
use authcheck::known::KnownFinding;
use authcheck::model::Params;
use authcheck::report;
use clap::ValueEnum;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct CheckArgs {
    /// How many cases (each a fresh service and a generated trace).
    #[arg(long, default_value_t = 500)]
    cases: u64,
    /// Seed of the campaign (case 0 uses seed S itself, the others a hash of S and their
    /// index, so campaigns do not overlap). Default: from the clock, printed.
    #[arg(long)]
    seed: Option<u64>,
    #[command(flatten)]
    target: TargetArgs,
    /// Longest generated trace, in operations (most cases are much shorter).
    #[arg(long, default_value_t = campaign::DEFAULT_MAX_OPS)]
    max_ops: usize,
    /// Protocol numbers for every case: `defaults`, or `key=value` words over the defaults
    /// (`"refresh_grace=0 lockout_threshold=1"`). Default: drawn per case (parameter swarm)
    /// where the target can be configured.
    #[arg(long)]
    params: Option<String>,
    /// Run shard K of N of the campaign (the cases whose index is K-1 modulo N), so N
    /// machines split one campaign without overlap; `authcheck merge` adds up their JSON.
    #[arg(long, default_value = "1/1")]
    shard: Shard,
    /// Where a minimized failing trace is written.
    #[arg(long, default_value = "authcheck-failures")]
    out_dir: PathBuf,
    /// Print a JSON summary as the last line of stdout.
    #[arg(long)]
    json: bool,
    /// Also write the run as one self-contained HTML page (summary, the failing trace as a
    /// sequence diagram or timeline, the coverage matrix).
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
    /// Only concurrent cases: a prefix, then 2–3 branches at once, then a suffix, checked
    /// for linearizability. (Default: every 8th case is one.)
    #[arg(long, conflicts_with = "sequential")]
    concurrent: bool,
    /// Only sequential cases.
    #[arg(long)]
    sequential: bool,
    /// How concurrent branches run in process: `deterministic` (seeded interleavings,
    /// replayable) or `real` (multi-threaded). Over HTTP the server schedules itself.
    #[arg(long, value_enum, default_value_t = ModeArg::Deterministic)]
    mode: ModeArg,
    /// The minimal trace of a bug already known (repeatable). It is replayed once on the
    /// target; cases that diverge the same way (the same operation, the same expected outcome,
    /// the same kind of answer) are counted and passed over, and the campaign goes on looking
    /// for another bug.
    #[arg(long, value_name = "FILE.trace")]
    known: Vec<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ModeArg {
    Deterministic,
    Real,
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Deterministic => Mode::Deterministic,
            ModeArg::Real => Mode::Real,
        }
    }
}

/// `--params`: `defaults`, or `key=value` words over the defaults.
pub fn parse_params(words: Option<&str>) -> Result<Option<Params>, CliError> {
    match words {
        None => Ok(None),
        Some("defaults") => Ok(Some(Params::default())),
        Some(words) => words
            .parse()
            .map(Some)
            .map_err(|e| CliError::Usage(format!("--params: {e}"))),
    }
}

/// `authcheck upgrade`: `check` with `--target upgrade`.
pub fn upgrade(mut args: CheckArgs) -> CliResult {
    if args.target.from.is_none() || args.target.to.is_none() {
        return Err(CliError::Usage(
            "upgrade needs --from OLD and --to NEW (a server command line, or rev:REVISION)".into(),
        ));
    }
    args.target.target = "upgrade".into();
    run(args)
}

/// Each `--known` trace replayed on the campaign's target, with the shape it diverges in.
fn known_findings(opts: &CheckOptions, files: &[PathBuf]) -> Result<Vec<KnownFinding>, CliError> {
    let profile = opts.profile();
    files
        .iter()
        .map(|file| {
            let trace = super::read_trace(file)?;
            KnownFinding::replayed(&opts.target, &profile, &file.display().to_string(), &trace)
                .map_err(|e| CliError::Usage(e.to_string()))
        })
        .collect()
}

pub fn run(args: CheckArgs) -> CliResult {
    let mut opts = CheckOptions {
        cases: args.cases,
        seed: args.seed.unwrap_or_else(super::seed_from_clock),
        target: args.target.target()?,
        max_ops: args.max_ops,
        params: parse_params(args.params.as_deref())?,
        profile: args.target.profile()?,
        profile_file: args.target.profile.clone(),
        shard: args.shard,
        mix: if args.concurrent {
            Mix::Concurrent
        } else if args.sequential {
            Mix::Sequential
        } else {
            Mix::Mixed
        },
        mode: args.mode.into(),
        known: Vec::new(),
    };
    // The known findings are replayed on the target and profile the options name.
    opts.known = known_findings(&opts, &args.known)?;
    println!("{}", report::heading(&opts));
    let left_out = opts.target.capabilities().left_out();
    if !left_out.is_empty() {
        println!(
            "left out of generation (the target cannot do them): {}",
            left_out.join("; ")
        );
    }
    let shard_cases = (0..opts.cases).filter(|i| opts.shard.takes(*i)).count() as u64;
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(shard_cases)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} cases  {per_sec}  eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let summary = campaign::check(&opts, |done| bar.set_position(done));
    bar.finish_and_clear();
    for line in report::totals(&summary) {
        println!("{line}");
    }
    let mut trace_file = None;
    let failure = match &summary.failure {
        None => {
            println!("no divergence");
            serde_json::Value::Null
        }
        Some(finding) => {
            let file = args.out_dir.join(report::finding_file_name(finding));
            let trace = report::finding_trace(&opts, finding);
            write(&file, &trace.to_string())?;
            let file = file.display().to_string();
            println!();
            print!("{}", report::finding_text(&opts, finding, &trace, &file));
            trace_file = Some(file.clone());
            report::finding_json(&opts, finding, &file)
        }
    };
    if let Some(path) = &args.report {
        let page = authcheck::html::check_page(&opts, &summary, trace_file.as_deref());
        super::write_report(&page, path)?;
    }
    if args.json {
        println!("{}", report::summary_json(&opts, &summary, failure));
    }
    Ok(verdict(summary.failure.is_some()))
}
