//! `authcheck promote`: a libFuzzer artifact of the lockstep target (or a trace) becomes a
//! minimal, numbered regression trace.

use super::target::TargetArgs;
use super::{read, write, CliError, CliResult};
use authcheck::campaign;
use authcheck::generate::Plan;
use authcheck::lockstep;
use authcheck::model::Op;
use authcheck::trace::Trace;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct PromoteArgs {
    artifact: PathBuf,
    /// Slug of the file name (default: derived from the failure).
    #[arg(long)]
    name: Option<String>,
    /// Where the trace goes.
    #[arg(long, default_value = "regressions/traces")]
    dir: PathBuf,
    #[command(flatten)]
    target: TargetArgs,
}

pub fn run(args: PromoteArgs) -> CliResult {
    let target = args.target.target()?;
    let artifact = &args.artifact;
    let bytes = read(artifact)?;
    // A trace file (as written by `check` or by hand), or lockstep fuzzer bytes.
    let parsed = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|t| Trace::parse(t).ok())
        .filter(|t| !t.ops().is_empty());
    let (profile, ops, seed, origin) = match parsed {
        Some(trace) => {
            let profile = args.target.profile_for(&target, artifact, &trace)?;
            (profile, trace.ops(), trace.token_seed(), "trace")
        }
        None => {
            let Plan { params, ops } =
                authcheck::fuzzing::plan_from_bytes(&bytes).ok_or_else(|| {
                    CliError::Usage(format!(
                        "{}: neither a trace nor lockstep input",
                        artifact.display()
                    ))
                })?;
            let profile = authcheck::model::Profile {
                params,
                ..target.adapter().profile()
            };
            (
                profile,
                ops,
                authcheck::fuzzing::FUZZ_TOKEN_SEED,
                "lockstep fuzzer input",
            )
        }
    };
    let run = campaign::run_ops_with(&target, &profile, seed, &ops, None);
    let (profile, small, reproduces) = match run.failure {
        Some(failure) => {
            let (profile, small, f) =
                campaign::shrink_failure_with(&target, &profile, seed, &ops, failure);
            let what = format!(
                "step {} `{}` expected `{}`, service answered `{}`",
                f.step + 1,
                f.op,
                f.expected,
                f.actual
            );
            (profile, small, what)
        }
        None => (
            profile,
            ops.clone(),
            "nothing yet: it passed when promoted (kept as a guard)".to_owned(),
        ),
    };
    let slug = args.name.unwrap_or_else(|| slug_of(&small, &reproduces));
    let dir = &args.dir;
    std::fs::create_dir_all(dir).map_err(|error| CliError::Io {
        path: dir.clone(),
        error,
    })?;
    let next = std::fs::read_dir(dir)
        .map_err(|error| CliError::Io {
            path: dir.clone(),
            error,
        })?
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
    let mut trace = Trace::new(
        &header,
        &small,
        &lockstep::expectations_with(&profile, &small),
    );
    trace.set_profile(&profile);
    write(&file, &trace.to_string())?;
    print!("{trace}");
    println!("written to {}", file.display());
    Ok(super::verdict(false))
}

/// A file-name slug from the failing operation: `refresh-rejected-invalid-grant-reuse`.
fn slug_of(ops: &[Op], reproduces: &str) -> String {
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
