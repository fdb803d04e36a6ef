//! How a campaign reads: one report for sequential, concurrent and mixed campaigns, as text
//! for a person and as one JSON shape for machines (the last line of `check --json`, the input
//! of `authcheck merge`). A finding comes with its minimal trace, the seed, and the commands
//! that replay it and re-run its case.

use crate::campaign::{CheckOptions, Finding, Mix, Shard, Summary, DEFAULT_MAX_OPS};
use crate::concurrent;
use crate::driver::Mode;
use crate::model::Params;
use crate::trace::Trace;
use serde_json::{json, Value};

/// The `check` words that re-run exactly the case of `finding`.
pub fn rerun_command(opts: &CheckOptions, finding: &Finding) -> String {
    let mut words = format!("authcheck check --seed {} --cases 1", finding.case_seed());
    if let Finding::Concurrent(_) = finding {
        words.push_str(&format!(" --concurrent --mode {}", mode_name(opts)));
    } else if opts.mix != Mix::Sequential {
        words.push_str(" --sequential");
    }
    words.push_str(&target_words(opts));
    words
}

/// The `check` words that run the whole campaign again (or its shard).
pub fn campaign_command(opts: &CheckOptions) -> String {
    let mut words = format!(
        "authcheck check --seed {} --cases {}",
        opts.seed, opts.cases
    );
    let mode = match opts.mode {
        Mode::Deterministic => "deterministic",
        Mode::Real => "real",
    };
    match opts.mix {
        Mix::Sequential => words.push_str(" --sequential"),
        Mix::Concurrent => words.push_str(&format!(" --concurrent --mode {mode}")),
        Mix::Mixed => words.push_str(&format!(" --mode {mode}")),
    }
    if opts.shard != Shard::WHOLE {
        words.push_str(&format!(" --shard {}", opts.shard));
    }
    for known in &opts.known {
        words.push_str(&format!(" --known {}", known.name));
    }
    words.push_str(&target_words(opts));
    words
}

/// What every re-run repeats after choosing its cases: the target, its profile file, the trace
/// length bound and fixed numbers.
fn target_words(opts: &CheckOptions) -> String {
    let mut words = format!(" {}", opts.target.args());
    if let Some(file) = &opts.profile_file {
        words.push_str(&format!(" --profile {}", file.display()));
    }
    if opts.max_ops != DEFAULT_MAX_OPS {
        words.push_str(&format!(" --max-ops {}", opts.max_ops));
    }
    match opts.params {
        Some(p) if p == Params::default() => words.push_str(" --params defaults"),
        Some(p) => words.push_str(&format!(" --params \"{p}\"")),
        None => {}
    }
    words
}

/// `deterministic` or `real`: how the campaign's concurrent cases run.
pub fn mode_name(opts: &CheckOptions) -> &'static str {
    let setup = opts
        .target
        .concurrent_setup(&opts.profile(), opts.params.is_some(), opts.mode);
    if setup.effective_mode() == Mode::Real {
        "real"
    } else {
        "deterministic"
    }
}

/// The minimal trace of a finding, with a header saying what it reproduces, how it was found
/// and the seeds that replay it.
pub fn finding_trace(opts: &CheckOptions, finding: &Finding) -> Trace {
    let found_by = format!(
        "found-by: {} (shrunk from {} ops)",
        rerun_command(opts, finding),
        finding.original_len()
    );
    match finding {
        Finding::Sequential(f) => f.trace_found_by(&found_by),
        Finding::Concurrent(f) => f.case.trace(&[
            "authcheck concurrent trace".to_owned(),
            "reproduces: a history no order of the operations explains (not linearizable)"
                .to_owned(),
            found_by,
            format!("token-seed: {}", f.case_seed),
            format!("schedule-seed: {}", f.schedule_seed),
            format!("mode: {}", mode_name(opts)),
        ]),
    }
}

/// The file a finding's trace is written to, under the output directory.
pub fn finding_file_name(finding: &Finding) -> String {
    match finding {
        Finding::Sequential(f) => format!("seed-{}.trace", f.case_seed),
        Finding::Concurrent(f) => format!("concurrent-seed-{}.trace", f.case_seed),
    }
}

/// The first line of `check`: what runs, against what.
pub fn heading(opts: &CheckOptions) -> String {
    let shard = if opts.shard == Shard::WHOLE {
        String::new()
    } else {
        format!(", shard {}", opts.shard)
    };
    let concurrency = opts.target.capabilities().concurrency;
    let mix = match opts.mix {
        Mix::Sequential => "sequential".to_owned(),
        Mix::Mixed if !concurrency => {
            "sequential (the target takes no concurrent cases)".to_owned()
        }
        Mix::Concurrent => format!("concurrent ({})", mode_name(opts)),
        Mix::Mixed => format!(
            "sequential, every {}th concurrent ({})",
            crate::campaign::CONCURRENT_EVERY,
            mode_name(opts)
        ),
    };
    let numbers = match opts.params {
        None if opts.target.capabilities().params => "protocol numbers drawn per case".to_owned(),
        Some(p) if p != Params::default() => format!("params {p}"),
        _ => "the protocol's default numbers".to_owned(),
    };
    format!(
        "authcheck check: seed {}, {} cases{shard}, {mix}, {}, {numbers}",
        opts.seed,
        opts.cases,
        opts.target.args()
    )
}

/// How many cases diverged like the known finding `name` (passed over).
pub fn known_line(name: &str, cases: u64) -> String {
    format!("passed over as known: {cases} cases diverged like {name}")
}

/// What the campaign ran and reached.
pub fn totals(summary: &Summary) -> Vec<String> {
    let secs = summary.elapsed.as_secs_f64().max(1e-9);
    let concurrent = if summary.concurrent_cases > 0 {
        format!(" ({} concurrent)", summary.concurrent_cases)
    } else {
        String::new()
    };
    let mut lines = vec![format!(
        "{} cases{concurrent}, {} ops in {:.2}s ({:.0} ops/s); model coverage {}/{}",
        summary.cases,
        summary.ops,
        secs,
        summary.ops as f64 / secs,
        summary.coverage.covered(),
        summary.coverage.total()
    )];
    for (name, cases) in &summary.known {
        lines.push(known_line(name, *cases));
    }
    lines.extend(summary.coverage.lines());
    lines
}

/// The finding as a person reads it: the trace, where it left the model, and the commands.
pub fn finding_text(opts: &CheckOptions, finding: &Finding, trace: &Trace, file: &str) -> String {
    let mut out = String::new();
    match finding {
        Finding::Sequential(f) => {
            out.push_str(&format!(
                "DIVERGENCE in case seed {} (shrunk from {} to {} ops):\n\n{trace}\n",
                f.case_seed,
                f.original_len,
                f.ops.len()
            ));
            out.push_str(&format!("step {}: {}\n", f.failure.step + 1, f.failure.op));
            out.push_str(&format!("  model expected:   {}\n", f.failure.expected));
            out.push_str(&format!("  service answered: {}\n", f.failure.actual));
        }
        Finding::Concurrent(f) => {
            out.push_str(&format!(
                "NOT LINEARIZABLE in case seed {} (shrunk from {} to {} ops):\n\n{trace}\n",
                f.case_seed,
                f.original_len,
                f.case.len()
            ));
            out.push_str(&concurrent::report(&f.result));
        }
    }
    out.push_str(&format!("\nminimal trace written to {file}\n"));
    let profile = opts
        .profile_file
        .as_ref()
        .map(|f| format!(" --profile {}", f.display()))
        .unwrap_or_default();
    out.push_str(&format!(
        "replay it:          cargo run --release -- replay {file} {}{profile}\n",
        opts.target.args()
    ));
    out.push_str(&format!(
        "re-run the case:    cargo run --release -- {}\n",
        rerun_command(opts, finding).trim_start_matches("authcheck ")
    ));
    out
}

/// The JSON shape of a finding.
pub fn finding_json(opts: &CheckOptions, finding: &Finding, file: &str) -> Value {
    let mut v = json!({
        "kind": match finding {
            Finding::Sequential(_) => "sequential",
            Finding::Concurrent(_) => "concurrent",
        },
        "trace_file": file,
        "case_seed": finding.case_seed(),
        "shrunk_len": finding.shrunk_len(),
        "original_len": finding.original_len(),
        "params": finding.params().to_string(),
        "rerun": rerun_command(opts, finding),
    });
    match finding {
        Finding::Sequential(f) => {
            v["step"] = (f.failure.step + 1).into();
            v["op"] = f.failure.op.to_string().into();
            v["expected"] = f.failure.expected.to_string().into();
            v["actual"] = f.failure.actual.to_string().into();
        }
        Finding::Concurrent(f) => {
            v["schedule_seed"] = f.schedule_seed.into();
        }
    }
    v
}

/// The one JSON shape of every campaign (`failure` from [`finding_json`], or null).
pub fn summary_json(opts: &CheckOptions, summary: &Summary, failure: Value) -> Value {
    let secs = summary.elapsed.as_secs_f64().max(1e-9);
    json!({
        "mix": match opts.mix {
            Mix::Sequential => "sequential",
            Mix::Concurrent => "concurrent",
            Mix::Mixed => "mixed",
        },
        "mode": mode_name(opts),
        "cases": summary.cases,
        "concurrent_cases": summary.concurrent_cases,
        "ops": summary.ops,
        "divergences": usize::from(summary.failure.is_some()),
        "seed": summary.seed,
        "shard": opts.shard.to_string(),
        "target": opts.target.args(),
        "params": opts.params.map(|p| p.to_string()),
        "elapsed_ms": summary.elapsed.as_millis() as u64,
        "ops_per_sec": (summary.ops as f64 / secs).round(),
        "coverage": summary.coverage.to_json(),
        "failure": failure,
        "known": summary.known.iter().map(|(name, cases)| (name.clone(), json!(cases))).collect::<serde_json::Map<_, _>>(),
        "left_out": opts.target.capabilities().left_out(),
    })
}
