//! `authcheck replay` and `authcheck shrink`: trace files against the target, step by step.

use super::target::TargetArgs;
use super::{read_trace, verdict, write, CliResult};
use authcheck::campaign::{self, Target};
use authcheck::concurrent;
use authcheck::driver::Mode;
use authcheck::html;
use authcheck::lockstep::{self, Actual};
use authcheck::model::Profile;
use authcheck::trace::Trace;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct ReplayArgs {
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    target: TargetArgs,
    /// Also write the replay as one self-contained HTML page (each trace as a sequence
    /// diagram or a concurrent timeline).
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct ShrinkArgs {
    file: PathBuf,
    /// Output file (default: FILE with `.min.trace`).
    #[arg(short, long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    target: TargetArgs,
}

fn mode_of(trace: &Trace) -> Mode {
    match trace.header_value("mode").as_deref() {
        Some("real") => Mode::Real,
        _ => Mode::Deterministic,
    }
}

pub fn replay(args: ReplayArgs) -> CliResult {
    let target = args.target.target()?;
    let mut failed = 0;
    let mut sections = Vec::new();
    for file in &args.files {
        let trace = read_trace(file)?;
        let profile = args.target.profile_for(&target, file, &trace)?;
        let mut section = match concurrent::Case::from_trace(&trace) {
            Some(case) => replay_concurrent(file, &trace, case, &profile, &target)?,
            None => replay_sequential(file, &trace, &profile, &target),
        };
        if !section.passed {
            failed += 1;
        }
        section.heading = format!(
            "{} — {}",
            file.display(),
            if section.passed { "PASS" } else { "FAIL" }
        );
        section.trace_text = Some(trace.to_string());
        sections.push(section);
    }
    if let Some(path) = &args.report {
        let page = html::Page {
            title: "authcheck replay".to_owned(),
            passed: failed == 0,
            verdict: format!(
                "{} of {} traces pass",
                sections.len() - failed,
                sections.len()
            ),
            summary: vec![
                ("target".to_owned(), target.args()),
                ("traces".to_owned(), sections.len().to_string()),
            ],
            commands: vec![(
                "replay again".to_owned(),
                format!(
                    "authcheck replay {} {}",
                    args.files
                        .iter()
                        .map(|f| f.display().to_string())
                        .collect::<Vec<_>>()
                        .join(" "),
                    target.args()
                ),
            )],
            sections,
            ..html::Page::default()
        };
        super::write_report(&page, path)?;
    }
    Ok(verdict(failed > 0))
}

fn replay_concurrent(
    file: &Path,
    trace: &Trace,
    case: concurrent::Case,
    profile: &Profile,
    target: &Target,
) -> Result<html::Section, super::CliError> {
    println!(
        "== {} (concurrent: {} prefix ops, {} branches, {} after, {})",
        file.display(),
        case.prefix.len(),
        case.branches.len(),
        case.suffix.len(),
        target.args()
    );
    let setup = target.concurrent_setup(profile, true, mode_of(trace));
    if setup.effective_mode() != mode_of(trace) {
        println!("this target cannot replay a schedule: running in real mode");
    }
    let schedule = trace
        .header_value("schedule-seed")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let result = concurrent::run_case(&setup, &case, trace.token_seed(), schedule)?;
    print!("{}", concurrent::report(&result));
    println!("{}", if result.failed() { "FAIL" } else { "PASS" });
    Ok(html::concurrent_section(&case, &result, profile))
}

fn replay_sequential(
    file: &Path,
    trace: &Trace,
    profile: &Profile,
    target: &Target,
) -> html::Section {
    let ops = trace.ops();
    let run = campaign::run_ops_with(target, profile, trace.token_seed(), &ops, None);
    let mut numbers = String::new();
    if profile.params != authcheck::model::Params::default() {
        numbers.push_str(&format!(", params {}", profile.params));
    }
    if profile.choices != authcheck::model::Choices::default() {
        numbers.push_str(&format!(", choices {}", profile.choices));
    }
    println!(
        "== {} ({} ops, {}{numbers})",
        file.display(),
        ops.len(),
        target.args()
    );
    let written: Vec<_> = trace.steps().map(|(_, e)| e.cloned()).collect();
    let mut file_mismatch = None;
    // After a request lost in a crash the model follows every explanation, and the file's
    // expectations (one of them) no longer say what must happen.
    let mut after_lost = false;
    for (i, (step, op)) in run.steps.iter().zip(&ops).enumerate() {
        let failed = run.failure.as_ref().is_some_and(|f| f.step == i);
        let lost = step.actual.is_none() && !failed;
        let service = match &step.actual {
            Some(actual) => actual.to_string(),
            None if lost => "— (lost in the crash: either outcome is accepted)".to_owned(),
            None => "—".to_owned(),
        };
        println!("{:>4} {} {}", i + 1, if failed { "ERR" } else { "ok " }, op);
        println!("       model:   {}", step.expected);
        println!("       service: {service}");
        if let Some(note) = &step.served_by {
            println!("       ({note})");
        }
        after_lost |= lost;
        if after_lost {
            continue;
        }
        if let Some(Some(w)) = written.get(i) {
            if *w != step.expected && file_mismatch.is_none() {
                file_mismatch = Some((i, w.clone(), step.expected.clone()));
            }
        }
    }
    let (divergent, finding) = if let Some(f) = &run.failure {
        println!(
            "FAIL at step {}: model expected `{}`, service answered `{}`",
            f.step + 1,
            f.expected,
            f.actual
        );
        if let Actual::Invariant(m) = &f.actual {
            println!("  (the model broke its own invariant: {m})");
        }
        let finding = format!(
            "step {}: `{}` — the model expected `{}`, the service answered `{}`",
            f.step + 1,
            f.op,
            f.expected,
            f.actual
        );
        (Some(f.step), Some(finding))
    } else if let Some((i, written, model)) = file_mismatch {
        println!(
            "FAIL at step {}: the file expects `{written}`, the model says `{model}`",
            i + 1
        );
        let finding = format!(
            "step {}: the file expects `{written}`, the model says `{model}`",
            i + 1
        );
        (Some(i), Some(finding))
    } else {
        println!("PASS");
        (None, None)
    };
    let steps: Vec<html::sequence::StepInput> = run
        .steps
        .iter()
        .zip(&ops)
        .enumerate()
        .map(|(i, (step, op))| html::sequence::StepInput {
            op: op.clone(),
            expected: step.expected.to_string(),
            actual: match (&step.actual, &run.failure) {
                (_, Some(f)) if f.step == i => Some(f.actual.to_string()),
                (actual, _) => actual.as_ref().map(ToString::to_string),
            },
        })
        .collect();
    html::Section {
        passed: finding.is_none(),
        finding,
        sequence: Some(html::sequence::view(
            &steps,
            divergent,
            profile.params,
            profile.choices,
        )),
        ..html::Section::default()
    }
}

pub fn shrink(args: ShrinkArgs) -> CliResult {
    let target = args.target.target()?;
    let file = &args.file;
    let trace = read_trace(file)?;
    let ops = trace.ops();
    let profile = args.target.profile_for(&target, file, &trace)?;
    let seed = trace.token_seed();
    let Some(failure) = campaign::run_ops_with(&target, &profile, seed, &ops, None).failure else {
        println!("{} passes: nothing to shrink", file.display());
        return Ok(verdict(false));
    };
    let (profile, small, f) = campaign::shrink_failure_with(&target, &profile, seed, &ops, failure);
    let expected = lockstep::expectations_with(&profile, &small);
    let mut header: Vec<String> = trace
        .header()
        .into_iter()
        .filter(|h| {
            !h.starts_with("reproduces:") && !h.starts_with("params:") && !h.starts_with("choices:")
        })
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
    small_trace.set_profile(&profile);
    let out = args.out.unwrap_or_else(|| file.with_extension("min.trace"));
    write(&out, &small_trace.to_string())?;
    print!("{small_trace}");
    println!(
        "{} ops → {} ops, written to {}",
        ops.len(),
        small.len(),
        out.display()
    );
    Ok(verdict(true))
}
