//! `authcheck merge`: the `--json` summaries of sharded `check` runs, added up.

use super::{read, verdict, CliError, CliResult};
use authcheck::coverage::Coverage;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct MergeArgs {
    /// Files holding the output of `check --json` (the last JSON line of each is read).
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

pub fn run(args: MergeArgs) -> CliResult {
    let mut cases = 0u64;
    let mut concurrent = 0u64;
    let mut ops = 0u64;
    let mut elapsed_ms = 0u64;
    let mut divergences = 0u64;
    let mut coverage = Coverage::default();
    let mut failures = Vec::new();
    let mut shards = Vec::new();
    // Cases passed over as each known finding, by trace name.
    let mut known: BTreeMap<String, u64> = BTreeMap::new();
    for file in &args.files {
        let bad = |error: String| CliError::Trace {
            path: file.clone(),
            error,
        };
        let text = String::from_utf8_lossy(&read(file)?).into_owned();
        let line = text
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('{'))
            .ok_or_else(|| bad("no JSON summary line".into()))?;
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        let count = |key: &str| v.get(key).and_then(serde_json::Value::as_u64).unwrap_or(0);
        cases += count("cases");
        concurrent += count("concurrent_cases");
        ops += count("ops");
        elapsed_ms = elapsed_ms.max(count("elapsed_ms"));
        divergences += count("divergences");
        if let Some(c) = v.get("coverage") {
            coverage.merge(&Coverage::from_json(c).map_err(bad)?);
        }
        if let Some(f) = v.get("failure").filter(|f| !f.is_null()) {
            failures.push(f.clone());
        }
        for (name, cases) in v
            .get("known")
            .and_then(|k| k.as_object())
            .into_iter()
            .flatten()
        {
            *known.entry(name.clone()).or_default() += cases.as_u64().unwrap_or(0);
        }
        shards.push(v.get("shard").cloned().unwrap_or(serde_json::Value::Null));
    }
    println!(
        "{} runs: {cases} cases ({concurrent} concurrent), {ops} ops, {divergences} divergences; model coverage {}/{}",
        args.files.len(),
        coverage.covered(),
        coverage.total()
    );
    for line in coverage.lines() {
        println!("{line}");
    }
    for (name, cases) in &known {
        println!("{}", authcheck::report::known_line(name, *cases));
    }
    for f in &failures {
        println!("failure: {f}");
    }
    println!(
        "{}",
        serde_json::json!({
            "runs": args.files.len(),
            "shards": shards,
            "cases": cases,
            "concurrent_cases": concurrent,
            "ops": ops,
            "divergences": divergences,
            "elapsed_ms": elapsed_ms,
            "coverage": coverage.to_json(),
            "failures": failures,
            "known": known,
        })
    );
    Ok(verdict(divergences > 0))
}
