//! The flaw catalogue (PROTOCOL.md §10) as a benchmark of the harness: does a campaign catch each
//! flaw, how fast, and how small is what it reports? Needs the `flaws` feature.

use crate::adapters::http::server::ServerCommand;
use crate::adapters::http::upgrade::UpgradeTarget;
use crate::campaign::{self, CheckOptions, Shard, Target};
use crate::concurrent;
use crate::driver::{Flaw, Mode, StoreKind};
use crate::trace::Trace;
use std::time::{Duration, Instant};

/// Cases a campaign may spend on one flaw before it counts as missed.
pub const SEQUENTIAL_BUDGET: u64 = 2_000;
pub const CONCURRENT_BUDGET: u64 = 100;

/// One campaign against one flawed service.
#[derive(Debug, Clone)]
pub struct Detection {
    pub detected: bool,
    /// Cases run up to and including the first failing one.
    pub cases: u64,
    pub elapsed: Duration,
    /// Length of the shrunk trace (0 when not detected).
    pub shrunk_len: usize,
}

/// The hand-written minimal trace of a flaw.
pub fn minimal_trace(flaw: Flaw) -> Trace {
    let path = crate::trace::regressions_dir().join(format!("flaw-{}.trace", flaw.id()));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Trace::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Operations in the flaw's minimal trace.
pub fn minimal_len(flaw: Flaw) -> usize {
    minimal_trace(flaw).steps().count()
}

/// Whether the flawed service fails the flaw's minimal trace.
pub fn minimal_trace_fails(flaw: Flaw) -> bool {
    let trace = minimal_trace(flaw);
    match concurrent::Case::from_trace(&trace) {
        Some(case) => {
            let profile = crate::model::Profile {
                params: case.params,
                ..Default::default()
            };
            let setup = Target::Flawed(StoreKind::Memory, flaw).concurrent_setup(
                &profile,
                true,
                Mode::Deterministic,
            );
            concurrent::fails(&setup, &case, 0, 0, 32).is_some()
        }
        None => {
            let target = Target::Flawed(StoreKind::Memory, flaw);
            let profile = target.profile(trace.params().unwrap_or_default());
            campaign::verdict_with(&target, &profile, 0, &trace.ops(), None).is_some()
        }
    }
}

/// A campaign from `seed` against the service with `flaw`.
pub fn detect(flaw: Flaw, seed: u64) -> Detection {
    let start = Instant::now();
    if flaw.needs_concurrency() {
        let setup = Target::Flawed(StoreKind::Memory, flaw).concurrent_setup(
            &Default::default(),
            false,
            Mode::Deterministic,
        );
        let run = concurrent::campaign(&setup, seed, CONCURRENT_BUDGET, Shard::WHOLE, |_| {});
        return Detection {
            detected: run.failure.is_some(),
            cases: run.cases,
            elapsed: start.elapsed(),
            shrunk_len: run.failure.map_or(0, |f| f.case.len()),
        };
    }
    detection(CheckOptions {
        cases: SEQUENTIAL_BUDGET,
        seed,
        target: Target::Flawed(StoreKind::Memory, flaw),
        ..CheckOptions::default()
    })
}

/// The sequential campaign of `opts`, as a detection.
fn detection(opts: CheckOptions) -> Detection {
    let start = Instant::now();
    let summary = campaign::check(&opts, |_| {});
    Detection {
        detected: summary.failure.is_some(),
        cases: summary.cases,
        elapsed: start.elapsed(),
        shrunk_len: summary.failure.map_or(0, |f| f.shrunk_len()),
    }
}

/// The campaign that checked deploys before `authcheck upgrade`, against `flaw`: one build
/// over its own SQLite store (so a flaw in the schema is there too), atomic deploys and
/// restarts, [`SEQUENTIAL_BUDGET`] cases.
pub fn detect_atomic(flaw: Flaw, seed: u64) -> Detection {
    detection(CheckOptions {
        cases: SEQUENTIAL_BUDGET,
        seed,
        target: Target::Flawed(StoreKind::Sqlite, flaw),
        ..CheckOptions::default()
    })
}

/// Cases `authcheck upgrade` may spend on one upgrade-only flaw before it counts as missed.
pub const UPGRADE_BUDGET: u64 = 150;

/// Whether `server_bin` is a `flaws` build of auth-server: only that build has `--flaw`, and
/// any other refuses it at start, which every campaign would report as the flaw, caught at
/// its first operation.
pub fn has_flaw_catalogue(server_bin: &std::path::Path) -> Result<bool, String> {
    let help = std::process::Command::new(server_bin)
        .arg("--help")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", server_bin.display()))?;
    Ok(String::from_utf8_lossy(&help.stdout).contains("--flaw"))
}

/// The update that shows an upgrade-only flaw, between builds of `server_bin` (a `flaws`
/// build): a flaw of the mixed window or the rollback is in NEW only; a flaw that needs a
/// crash is in both builds (a crash shows it whichever build dies).
pub fn upgrade_target(flaw: Flaw, server_bin: &std::path::Path) -> UpgradeTarget {
    let correct = ServerCommand {
        program: server_bin.to_owned(),
        args: Vec::new(),
    };
    let flawed = ServerCommand {
        args: vec!["--flaw".into(), flaw.id().into()],
        ..correct.clone()
    };
    let from = if flaw.needs_crash() {
        flawed.clone()
    } else {
        correct
    };
    UpgradeTarget::between(from, flawed)
}

/// An `authcheck upgrade` campaign from `seed` over the update that shows `flaw`.
pub fn detect_upgrade(flaw: Flaw, server_bin: &std::path::Path, seed: u64) -> Detection {
    detection(CheckOptions {
        cases: UPGRADE_BUDGET,
        seed,
        target: Target::Custom(std::sync::Arc::new(upgrade_target(flaw, server_bin))),
        ..CheckOptions::default()
    })
}

/// The median of some numbers (the lower middle for an even count).
pub fn median<T: Copy + Ord>(mut xs: Vec<T>) -> Option<T> {
    xs.sort();
    xs.get(xs.len().saturating_sub(1) / 2).copied()
}
