//! `authcheck`: the command line.
//!
//! ```text
//! authcheck check [--cases N] [--seed S] [--target in-process|http|http://HOST:PORT]
//!                 [--store sqlite|memory] [--json]
//! authcheck replay FILE... [--target …]
//! authcheck shrink FILE [-o OUT]
//! authcheck promote ARTIFACT [--name SLUG] [--dir regressions/traces]
//! ```
//! Exit status: 0 no divergence, 1 a divergence (or a trace that fails), 2 usage error.

use authcheck::campaign::{self, CheckOptions, Target};
use authcheck::concurrent;
use authcheck::driver::{HttpTarget, Mode, StoreKind};
use authcheck::lockstep::{self, Actual};
use authcheck::model::Params;
use authcheck::trace::Trace;
use clap::{Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
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
    Check {
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
        shard: campaign::Shard,
        /// Where a minimized failing trace is written.
        #[arg(long, default_value = "authcheck-failures")]
        out_dir: PathBuf,
        /// Print a JSON summary as the last line of stdout.
        #[arg(long)]
        json: bool,
        /// Concurrent cases: a prefix, then 2–3 branches at once, checked for linearizability.
        #[arg(long)]
        concurrent: bool,
        /// How concurrent branches run: `deterministic` (seeded interleavings, replayable) or
        /// `real` (multi-threaded).
        #[arg(long, value_enum, default_value_t = ModeArg::Deterministic)]
        mode: ModeArg,
    },
    /// Replay trace files against the service, step by step, model beside service.
    Replay {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Shrink a failing trace to a minimal one.
    Shrink {
        file: PathBuf,
        /// Output file (default: FILE with `.min.trace`).
        #[arg(short, long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Run each DESIGN §5 flaw under K seeds and report detection, time and shrunk length
    /// (build with `--features flaws`).
    Flaws {
        /// Campaign seeds per flaw.
        #[arg(long, default_value_t = 10)]
        seeds: u64,
        /// Print a JSON object as the last line of stdout.
        #[arg(long)]
        json: bool,
        /// Leave out the proptest-state-machine peer (its campaigns are the slow part).
        #[arg(long)]
        no_peer: bool,
    },
    /// Add up the `--json` summaries of sharded `check` runs (one file of output per run).
    Merge {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Turn a libFuzzer artifact of the lockstep target (or a trace) into a minimal, numbered
    /// regression trace.
    Promote {
        artifact: PathBuf,
        /// Slug of the file name (default: derived from the failure).
        #[arg(long)]
        name: Option<String>,
        /// Where the trace goes.
        #[arg(long, default_value = "regressions/traces")]
        dir: PathBuf,
        #[command(flatten)]
        target: TargetArgs,
    },
}

/// Which system to check.
#[derive(clap::Args, Clone)]
struct TargetArgs {
    /// `in-process` (auth::Service in this process), `http` (an auth-server started for each
    /// case, with test hooks and wiremock as its OTP provider), or `http://HOST:PORT` (a running
    /// server, as a black box).
    #[arg(long, default_value = "in-process")]
    target: String,
    /// Store of the in-process target.
    #[arg(long, value_enum, default_value_t = Store::Sqlite)]
    store: Store,
    /// Admin token of an external server (without it, admin operations are left out).
    #[arg(long)]
    admin_token: Option<String>,
    /// The auth-server binary for `--target http` (default: next to authcheck, else built).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Switch on a DESIGN §5 flaw in the in-process service (build with `--features flaws`).
    #[arg(long)]
    flaw: Option<String>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum ModeArg {
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

#[cfg(feature = "flaws")]
fn parse_flaw(id: &str) -> Result<authcheck::driver::Flaw, String> {
    id.parse()
}

#[cfg(not(feature = "flaws"))]
fn parse_flaw(id: &str) -> Result<authcheck::driver::Flaw, String> {
    Err(format!(
        "--flaw {id}: this build has no flaws; run `cargo run --release --features flaws -- …`"
    ))
}

impl TargetArgs {
    fn target(&self) -> Result<Target, String> {
        match self.target.as_str() {
            "in-process" => match &self.flaw {
                None => Ok(Target::InProcess(self.store.into())),
                Some(id) => Ok(Target::Flawed(self.store.into(), parse_flaw(id)?)),
            },
            "http" => {
                let server_bin = match &self.server_bin {
                    Some(p) => p.clone(),
                    None => authcheck::driver::http::find_server_bin()?,
                };
                Ok(Target::Http(HttpTarget::Managed { server_bin }))
            }
            url if url.starts_with("http://") || url.starts_with("https://") => {
                Ok(Target::Http(HttpTarget::External {
                    base: url.to_owned(),
                    admin_token: self.admin_token.clone(),
                }))
            }
            other => Err(format!(
                "--target {other}: expected in-process, http or http://HOST:PORT"
            )),
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Store {
    Sqlite,
    Memory,
}

impl From<Store> for StoreKind {
    fn from(s: Store) -> Self {
        match s {
            Store::Sqlite => StoreKind::Sqlite,
            Store::Memory => StoreKind::Memory,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check {
            cases,
            seed,
            target,
            max_ops,
            params,
            shard,
            out_dir,
            json,
            concurrent,
            mode,
        } => target.target().and_then(|t| {
            let params = parse_params(params.as_deref())?;
            let seed = seed.unwrap_or_else(seed_from_clock);
            if concurrent {
                check_concurrent(cases, seed, shard, params, &t, mode.into(), &out_dir, json)
            } else {
                let opts = CheckOptions {
                    cases,
                    seed,
                    target: t,
                    max_ops,
                    params,
                    shard,
                };
                check(&opts, &out_dir, json)
            }
        }),
        Command::Merge { files } => merge(&files),
        Command::Flaws {
            seeds,
            json,
            no_peer,
        } => flaws(seeds, json, !no_peer),
        Command::Replay { files, target } => target.target().and_then(|t| replay(&files, &t)),
        Command::Shrink { file, out, target } => {
            target.target().and_then(|t| shrink(&file, out, &t))
        }
        Command::Promote {
            artifact,
            name,
            dir,
            target,
        } => target
            .target()
            .and_then(|t| promote(&artifact, name, &dir, &t)),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("authcheck: {message}");
            ExitCode::from(2)
        }
    }
}

/// `--params`: `defaults`, or `key=value` words over the defaults.
fn parse_params(words: Option<&str>) -> Result<Option<Params>, String> {
    match words {
        None => Ok(None),
        Some("defaults") => Ok(Some(Params::default())),
        Some(words) => words
            .parse()
            .map(Some)
            .map_err(|e| format!("--params: {e}")),
    }
}

fn check(opts: &CheckOptions, out_dir: &Path, json: bool) -> Result<ExitCode, String> {
    let (cases, seed, target) = (opts.cases, opts.seed, &opts.target);
    let shard = if opts.shard == campaign::Shard::WHOLE {
        String::new()
    } else {
        format!(", shard {}", opts.shard)
    };
    let numbers = match opts.params {
        None if target.capabilities().params => "protocol numbers drawn per case".to_owned(),
        None => "DESIGN's protocol numbers".to_owned(),
        Some(p) if p == Params::default() => "DESIGN's protocol numbers".to_owned(),
        Some(p) => format!("params {p}"),
    };
    println!(
        "authcheck check: seed {seed}, {cases} cases{shard}, {}, {numbers}",
        target.args()
    );
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new((0..cases).filter(|i| opts.shard.takes(*i)).count() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} cases  {per_sec}  eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let left_out = target.capabilities().left_out();
    if !left_out.is_empty() {
        println!(
            "left out of generation (the target has no hooks for them): {}",
            left_out.join("; ")
        );
    }
    let summary = campaign::check(opts, |done| bar.set_position(done));
    bar.finish_and_clear();

    let secs = summary.elapsed.as_secs_f64().max(1e-9);
    let ops_per_sec = summary.ops as f64 / secs;
    println!(
        "{} cases, {} ops in {:.2}s ({:.0} ops/s); model coverage {}/{}",
        summary.cases,
        summary.ops,
        secs,
        ops_per_sec,
        summary.coverage.covered(),
        summary.coverage.total()
    );
    for line in summary.coverage.lines() {
        println!("{line}");
    }
    let mut failure_json = serde_json::Value::Null;
    let code = match &summary.failure {
        None => {
            println!("no divergence");
            ExitCode::SUCCESS
        }
        Some(f) => {
            std::fs::create_dir_all(out_dir)
                .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
            let file = out_dir.join(format!("seed-{}.trace", f.case_seed));
            let trace = f.trace(target);
            std::fs::write(&file, trace.to_string())
                .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
            println!();
            println!(
                "DIVERGENCE in case seed {} (shrunk from {} to {} ops):",
                f.case_seed,
                f.original_len,
                f.ops.len()
            );
            println!();
            print!("{trace}");
            println!();
            println!("step {}: {}", f.failure.step + 1, f.failure.op);
            println!("  model expected:   {}", f.failure.expected);
            println!("  service answered: {}", f.failure.actual);
            println!();
            println!("minimal trace written to {}", file.display());
            println!(
                "replay it:          cargo run --release -- replay {} {}",
                file.display(),
                target.args()
            );
            println!(
                "re-run the case:    cargo run --release -- check --seed {} --cases 1 {}{}",
                f.case_seed,
                target.args(),
                generation_args(opts)
            );
            failure_json = serde_json::json!({
                "trace_file": file.display().to_string(),
                "step": f.failure.step + 1,
                "expected": f.failure.expected.to_string(),
                "actual": f.failure.actual.to_string(),
                "case_seed": f.case_seed,
                "shrunk_len": f.ops.len(),
                "params": f.params.to_string(),
            });
            ExitCode::from(1)
        }
    };
    if json {
        let line = serde_json::json!({
            "mode": "sequential",
            "cases": summary.cases,
            "ops": summary.ops,
            "divergences": usize::from(summary.failure.is_some()),
            "seed": summary.seed,
            "shard": opts.shard.to_string(),
            "target": target.args(),
            "elapsed_ms": summary.elapsed.as_millis() as u64,
            "ops_per_sec": ops_per_sec.round(),
            "coverage": summary.coverage.to_json(),
            "failure": failure_json,
            "left_out": left_out,
        });
        println!("{line}");
    }
    Ok(code)
}

/// The options besides seed and target that decide which case a seed generates.
fn generation_args(opts: &CheckOptions) -> String {
    let mut out = String::new();
    if opts.max_ops != campaign::DEFAULT_MAX_OPS {
        out.push_str(&format!(" --max-ops {}", opts.max_ops));
    }
    match opts.params {
        Some(p) if p == Params::default() => out.push_str(" --params defaults"),
        Some(p) => out.push_str(&format!(" --params \"{p}\"")),
        None => {}
    }
    out
}

/// Adds up the JSON summaries of sharded runs (the last JSON line of each file).
fn merge(files: &[PathBuf]) -> Result<ExitCode, String> {
    use authcheck::coverage::Coverage;
    let mut cases = 0u64;
    let mut ops = 0u64;
    let mut elapsed_ms = 0u64;
    let mut divergences = 0u64;
    let mut coverage = Coverage::default();
    let mut failures = Vec::new();
    let mut shards = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let line = text
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('{'))
            .ok_or_else(|| format!("{}: no JSON summary line", file.display()))?;
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("{}: {e}", file.display()))?;
        let count = |key: &str| v.get(key).and_then(serde_json::Value::as_u64).unwrap_or(0);
        cases += count("cases");
        ops += count("ops");
        elapsed_ms = elapsed_ms.max(count("elapsed_ms"));
        divergences += count("divergences");
        if let Some(c) = v.get("coverage") {
            coverage
                .merge(&Coverage::from_json(c).map_err(|e| format!("{}: {e}", file.display()))?);
        }
        if let Some(f) = v.get("failure").filter(|f| !f.is_null()) {
            failures.push(f.clone());
        }
        shards.push(v.get("shard").cloned().unwrap_or(serde_json::Value::Null));
    }
    println!(
        "{} runs: {cases} cases, {ops} ops, {divergences} divergences; model coverage {}/{}",
        files.len(),
        coverage.covered(),
        coverage.total()
    );
    for line in coverage.lines() {
        println!("{line}");
    }
    for f in &failures {
        println!("failure: {f}");
    }
    println!(
        "{}",
        serde_json::json!({
            "runs": files.len(),
            "shards": shards,
            "cases": cases,
            "ops": ops,
            "divergences": divergences,
            "elapsed_ms": elapsed_ms,
            "coverage": coverage.to_json(),
            "failures": failures,
        })
    );
    Ok(if divergences == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn read_trace(file: &Path) -> Result<Trace, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    Trace::parse(&text).map_err(|e| format!("{}: {e}", file.display()))
}

fn token_seed(trace: &Trace) -> u64 {
    trace
        .header_value("token-seed")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn replay(files: &[PathBuf], target: &Target) -> Result<ExitCode, String> {
    let mut failed = 0;
    for file in files {
        let trace = read_trace(file)?;
        let params = trace
            .params()
            .map_err(|e| format!("{}: {e}", file.display()))?;
        if let Some(case) = concurrent::Case::from_trace(&trace) {
            println!(
                "== {} (concurrent: {} prefix ops, {} branches, {} after, {})",
                file.display(),
                case.prefix.len(),
                case.branches.len(),
                case.suffix.len(),
                target.args()
            );
            let setup = concurrent_setup(target, mode_of(&trace), Some(params))?;
            let schedule = trace
                .header_value("schedule-seed")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let result = concurrent::run_case(&setup, &case, token_seed(&trace), schedule)
                .map_err(|e| e.to_string())?;
            print!("{}", concurrent::report(&result));
            if result.failed() {
                failed += 1;
                println!("FAIL");
            } else {
                println!("PASS");
            }
            continue;
        }
        let ops = trace.ops();
        let run = campaign::run_ops(target, params, token_seed(&trace), &ops, None);
        println!(
            "== {} ({} ops, {})",
            file.display(),
            ops.len(),
            target.args()
        );
        let written: Vec<_> = trace.steps().map(|(_, e)| e.cloned()).collect();
        let mut file_mismatch = None;
        for (i, step) in run.steps.iter().enumerate() {
            let service = step
                .actual
                .as_ref()
                .map_or_else(|| "—".to_owned(), ToString::to_string);
            let ok = step.actual.as_ref() == Some(&step.expected);
            println!(
                "{:>4} {} {}",
                i + 1,
                if ok { "ok " } else { "ERR" },
                step.op
            );
            println!("       model:   {}", step.expected);
            println!("       service: {service}");
            if let Some(Some(w)) = written.get(i) {
                if *w != step.expected && file_mismatch.is_none() {
                    file_mismatch = Some((i, w.clone(), step.expected.clone()));
                }
            }
        }
        if let Some(f) = &run.failure {
            failed += 1;
            println!(
                "FAIL at step {}: model expected `{}`, service answered `{}`",
                f.step + 1,
                f.expected,
                f.actual
            );
            if let Actual::Invariant(m) = &f.actual {
                println!("  (the model broke its own invariant: {m})");
            }
        } else if let Some((i, written, model)) = file_mismatch {
            failed += 1;
            println!(
                "FAIL at step {}: the file expects `{written}`, the model says `{model}`",
                i + 1
            );
        } else {
            println!("PASS");
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn shrink(file: &Path, out: Option<PathBuf>, target: &Target) -> Result<ExitCode, String> {
    let trace = read_trace(file)?;
    let ops = trace.ops();
    let params = trace
        .params()
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let seed = token_seed(&trace);
    let Some(failure) = campaign::run_ops(target, params, seed, &ops, None).failure else {
        println!("{} passes: nothing to shrink", file.display());
        return Ok(ExitCode::SUCCESS);
    };
    let (params, small, f) = campaign::shrink_failure(target, params, seed, &ops, failure);
    let expected = lockstep::expectations(params, &small);
    let mut header: Vec<String> = trace
        .header()
        .into_iter()
        .filter(|h| !h.starts_with("reproduces:"))
        .collect();
    header.push(format!(
        "reproduces: step {} `{}` expected `{}`, service answered `{}`",
        f.step + 1,
        f.op,
        f.expected,
        f.actual
    ));
    header.push(format!(
        "shrunk-from: {} ({} ops)",
        file.display(),
        ops.len()
    ));
    let mut small_trace = Trace::new(&header, &small, &expected);
    small_trace.set_params(params);
    let out = out.unwrap_or_else(|| file.with_extension("min.trace"));
    std::fs::write(&out, small_trace.to_string())
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    print!("{small_trace}");
    println!(
        "{} ops → {} ops, written to {}",
        ops.len(),
        small.len(),
        out.display()
    );
    Ok(ExitCode::from(1))
}

fn promote(
    artifact: &Path,
    name: Option<String>,
    dir: &Path,
    target: &Target,
) -> Result<ExitCode, String> {
    let bytes =
        std::fs::read(artifact).map_err(|e| format!("cannot read {}: {e}", artifact.display()))?;
    // A trace file (as written by `check` or by hand), or lockstep fuzzer bytes.
    let (plan, seed, origin) = match std::str::from_utf8(&bytes)
        .ok()
        .and_then(|t| Trace::parse(t).ok())
    {
        Some(trace) if !trace.ops().is_empty() => {
            let params = trace
                .params()
                .map_err(|e| format!("{}: {e}", artifact.display()))?;
            let plan = authcheck::generate::Plan {
                params,
                ops: trace.ops(),
            };
            (plan, token_seed(&trace), "trace")
        }
        _ => (
            authcheck::fuzzing::plan_from_bytes(&bytes)
                .ok_or("the artifact is neither a trace nor lockstep input")?,
            authcheck::fuzzing::FUZZ_TOKEN_SEED,
            "lockstep fuzzer input",
        ),
    };
    let (params, ops) = (plan.params, plan.ops);
    let run = campaign::run_ops(target, params, seed, &ops, None);
    let (params, small, reproduces) = match run.failure {
        Some(failure) => {
            let (params, small, f) = campaign::shrink_failure(target, params, seed, &ops, failure);
            let what = format!(
                "step {} `{}` expected `{}`, service answered `{}`",
                f.step + 1,
                f.op,
                f.expected,
                f.actual
            );
            (params, small, what)
        }
        None => (
            params,
            ops.clone(),
            "nothing yet: it passed when promoted (kept as a guard)".to_owned(),
        ),
    };
    let slug = name.unwrap_or_else(|| slug_of(&small, &reproduces));
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let next = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok()?.file_name().to_str()?.get(..4)?.parse::<u32>().ok())
        .max()
        .unwrap_or(0)
        + 1;
    let file = dir.join(format!("{next:04}-{slug}.trace"));
    let header = vec![
        format!("reproduces: {reproduces}"),
        format!(
            "promoted-from: {} ({origin}, {} ops, shrunk to {})",
            artifact.display(),
            ops.len(),
            small.len()
        ),
        format!("token-seed: {seed}"),
    ];
    let mut trace = Trace::new(&header, &small, &lockstep::expectations(params, &small));
    trace.set_params(params);
    std::fs::write(&file, trace.to_string())
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    print!("{trace}");
    println!("written to {}", file.display());
    Ok(ExitCode::SUCCESS)
}

/// A file-name slug from the failing operation: `refresh-rejected-invalid-grant-reuse`.
fn slug_of(ops: &[authcheck::model::Op], reproduces: &str) -> String {
    let op = ops
        .last()
        .map(|o| format!("{:?}", o.kind()))
        .unwrap_or_default();
    let tail = reproduces
        .split("service answered")
        .nth(1)
        .unwrap_or("passing");
    let raw = format!("{op} {tail}").to_lowercase();
    let mut slug = String::new();
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_matches('-').chars().take(60).collect()
}

fn mode_of(trace: &Trace) -> Mode {
    match trace.header_value("mode").as_deref() {
        Some("real") => Mode::Real,
        _ => Mode::Deterministic,
    }
}

/// Concurrent cases run in process (the interleaving points are inside the service).
fn concurrent_setup(
    target: &Target,
    mode: Mode,
    params: Option<Params>,
) -> Result<concurrent::Setup, String> {
    let (store, flaw, http) = match target {
        Target::InProcess(store) => (*store, None, None),
        Target::Flawed(store, flaw) => (*store, Some(*flaw), None),
        Target::Http(http) => {
            if mode == Mode::Deterministic {
                println!("over HTTP the server schedules its own requests: running in real mode");
            }
            (StoreKind::Sqlite, None, Some(http.clone()))
        }
    };
    let mode = if http.is_some() { Mode::Real } else { mode };
    Ok(concurrent::Setup {
        store,
        params,
        mode,
        flaw,
        http,
    })
}

#[allow(clippy::too_many_arguments)] // the check command's options, handed over once
fn check_concurrent(
    cases: u64,
    seed: u64,
    shard: campaign::Shard,
    params: Option<Params>,
    target: &Target,
    mode: Mode,
    out_dir: &Path,
    json: bool,
) -> Result<ExitCode, String> {
    let params = params.or((!target.capabilities().params).then(Params::default));
    let setup = concurrent_setup(target, mode, params)?;
    let mode_name = if setup.mode == Mode::Real {
        "real"
    } else {
        "deterministic"
    };
    println!(
        "authcheck check --concurrent: seed {seed}, {cases} cases, {mode_name} mode, {}",
        target.args()
    );
    let start = std::time::Instant::now();
    let run = concurrent::campaign(&setup, seed, cases, shard, |_| {});
    let elapsed = start.elapsed();
    let secs = elapsed.as_secs_f64().max(1e-9);
    println!(
        "{} cases, {} ops in {:.2}s ({:.0} ops/s); model coverage {}/{}",
        run.cases,
        run.ops,
        secs,
        run.ops as f64 / secs,
        run.coverage.covered(),
        run.coverage.total()
    );
    for line in run.coverage.lines() {
        println!("{line}");
    }
    let params_args = match params {
        Some(p) if p == Params::default() => " --params defaults".to_owned(),
        Some(p) => format!(" --params \"{p}\""),
        None => String::new(),
    };
    let mut failure_json = serde_json::Value::Null;
    let code = match &run.failure {
        None => {
            println!("every history linearizable");
            ExitCode::SUCCESS
        }
        Some(f) => {
            std::fs::create_dir_all(out_dir).map_err(|e| e.to_string())?;
            let file = out_dir.join(format!("concurrent-seed-{}.trace", f.case_seed));
            let header = vec![
                "authcheck concurrent trace".to_owned(),
                "reproduces: a history no order of the operations explains (not linearizable)".to_owned(),
                format!("found-by: authcheck check --concurrent --seed {} --cases 1 --mode {mode_name} {}{params_args} (shrunk from {} ops)", f.case_seed, target.args(), f.original_len),
                format!("token-seed: {}", f.case_seed),
                format!("schedule-seed: {}", f.schedule_seed),
                format!("mode: {mode_name}"),
            ];
            let trace = f.case.trace(&header);
            std::fs::write(&file, trace.to_string()).map_err(|e| e.to_string())?;
            println!();
            println!(
                "NOT LINEARIZABLE in case seed {} (shrunk from {} to {} ops):",
                f.case_seed,
                f.original_len,
                f.case.len()
            );
            println!();
            print!("{trace}");
            println!();
            print!("{}", concurrent::report(&f.result));
            println!();
            println!("minimal trace written to {}", file.display());
            println!(
                "replay it:          cargo run --release -- replay {} {}",
                file.display(),
                target.args()
            );
            println!(
                "re-run the case:    cargo run --release -- check --concurrent --seed {} --cases 1 --mode {mode_name} {}{params_args}",
                f.case_seed,
                target.args()
            );
            failure_json = serde_json::json!({
                "trace_file": file.display().to_string(),
                "case_seed": f.case_seed,
                "schedule_seed": f.schedule_seed,
                "shrunk_len": f.case.len(),
                "params": f.case.params.to_string(),
            });
            ExitCode::from(1)
        }
    };
    if json {
        println!(
            "{}",
            serde_json::json!({
                "mode": format!("concurrent-{mode_name}"),
                "cases": run.cases,
                "ops": run.ops,
                "divergences": usize::from(run.failure.is_some()),
                "seed": seed,
                "shard": shard.to_string(),
                "target": target.args(),
                "elapsed_ms": elapsed.as_millis() as u64,
                "ops_per_sec": (run.ops as f64 / secs).round(),
                "coverage": run.coverage.to_json(),
                "failure": failure_json,
                "left_out": target.capabilities().left_out(),
            })
        );
    }
    Ok(code)
}

#[cfg(not(feature = "flaws"))]
fn flaws(_: u64, _: bool, _: bool) -> Result<ExitCode, String> {
    Err("this build has no flaws; run `cargo run --release --features flaws -- flaws`".into())
}

#[cfg(feature = "flaws")]
fn flaws(seeds: u64, json: bool, with_peer: bool) -> Result<ExitCode, String> {
    use authcheck::catalogue::{detect, median, minimal_len};
    println!(
        "flaw catalogue: {seeds} campaign seeds per flaw (budget: {} cases, {} concurrent)",
        authcheck::catalogue::SEQUENTIAL_BUDGET,
        authcheck::catalogue::CONCURRENT_BUDGET
    );
    println!("medians over the seeds that detected; shrunk = ops in the reported trace");
    println!(
        "{:<31} {:>7} | {:<34} | {:<34}",
        "", "", "authcheck", "proptest-state-machine peer"
    );
    println!(
        "{:<31} {:>7} | {:>9} {:>7} {:>7} {:>6} | {:>9} {:>7} {:>7} {:>6}",
        "flaw", "minimal", "detected", "cases", "ms", "shrunk", "detected", "cases", "ms", "shrunk"
    );
    let mut rows = Vec::new();
    let mut missed = 0;
    for flaw in auth::flaws::Flaw::ALL {
        let runs: Vec<_> = (0..seeds).map(|k| detect(flaw, k * 7_919)).collect();
        let hits: Vec<_> = runs.iter().filter(|d| d.detected).collect();
        let cases = median(hits.iter().map(|d| d.cases).collect());
        let ms = median(hits.iter().map(|d| d.elapsed.as_millis() as u64).collect());
        let shrunk = median(hits.iter().map(|d| d.shrunk_len as u64).collect());
        let minimal = minimal_len(flaw);
        missed += u64::from(hits.len() as u64 != seeds);
        // The peer is sequential only: concurrency flaws are out of its reach.
        let peer: Vec<_> = if flaw.needs_concurrency() || !with_peer {
            Vec::new()
        } else {
            (0..seeds)
                .map(|k| {
                    authcheck::peer::detect(
                        Some(flaw),
                        k * 7_919,
                        authcheck::catalogue::SEQUENTIAL_BUDGET as u32,
                    )
                })
                .collect()
        };
        let peer_hits: Vec<_> = peer.iter().filter(|d| d.detected).collect();
        let p_cases = median(peer_hits.iter().map(|d| d.cases).collect());
        let p_ms = median(
            peer_hits
                .iter()
                .map(|d| d.elapsed.as_millis() as u64)
                .collect(),
        );
        let p_shrunk = median(peer_hits.iter().map(|d| d.shrunk_len as u64).collect());
        let show = |v: Option<u64>| v.map_or_else(|| "—".to_owned(), |v| v.to_string());
        let peer_detected = if flaw.needs_concurrency() {
            "n/a".to_owned()
        } else {
            format!("{}/{}", peer_hits.len(), seeds)
        };
        println!(
            "{:<31} {:>7} | {:>9} {:>7} {:>7} {:>6} | {:>9} {:>7} {:>7} {:>6}",
            flaw.id(),
            minimal,
            format!("{}/{}", hits.len(), seeds),
            show(cases),
            show(ms),
            show(shrunk),
            peer_detected,
            show(p_cases),
            show(p_ms),
            show(p_shrunk)
        );
        rows.push(serde_json::json!({
            "id": flaw.id(), "detected": hits.len(), "seeds": seeds,
            "median_cases": cases, "median_ms": ms, "shrunk_len": shrunk, "minimal_len": minimal,
            "peer": if flaw.needs_concurrency() { serde_json::Value::Null } else { serde_json::json!({
                "detected": peer_hits.len(), "median_cases": p_cases, "median_ms": p_ms, "shrunk_len": p_shrunk,
            }) },
        }));
    }
    if json {
        println!("{}", serde_json::json!({ "flaws": rows }));
    }
    Ok(if missed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A campaign seed when none is given (printed, so the run can be repeated).
fn seed_from_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
