//! `authcheck upgrade` between real builds of auth-server over one SQLite file: an update
//! between correct builds passes through mixed windows, rollbacks, finalize and crashes; every
//! upgrade-only flaw of the catalogue is caught and shrunk, and the atomic `deploy` campaign
//! of one build misses each of them. Needs the `flaws` feature (`.ci/run` runs it).
#![cfg(feature = "flaws")]

#[path = "support/flaws_server.rs"]
mod flaws_server;

use auth::flaws::Flaw;
use authcheck::adapters::http::server::ServerCommand;
use authcheck::adapters::http::upgrade::UpgradeTarget;
use authcheck::campaign::{check, run_ops_with, CheckOptions, Target};
use authcheck::catalogue::{detect_upgrade, upgrade_target};
use authcheck::driver::StoreKind;
use authcheck::model::{OpKind, OutcomeKind, Profile};
use authcheck::trace::Trace;
use flaws_server::flaws_server_bin;
use std::sync::Arc;

fn correct_update() -> UpgradeTarget {
    let side = ServerCommand {
        program: flaws_server_bin(),
        args: Vec::new(),
    };
    UpgradeTarget::between(side.clone(), side)
}

#[test]
fn an_update_between_correct_builds_passes_rollouts_rollbacks_finalize_and_crashes() {
    let opts = CheckOptions {
        cases: 40,
        seed: 7,
        target: Target::Custom(Arc::new(correct_update())),
        ..CheckOptions::default()
    };
    let summary = check(&opts, |_| {});
    assert!(summary.failure.is_none(), "{:?}", summary.failure);
    // The campaign did what it says: rollout steps and crashes ran.
    assert!(summary.coverage.count(OpKind::Rollout, OutcomeKind::Ok) >= 40);
    assert!(summary.coverage.count(OpKind::Crash, OutcomeKind::Ok) >= 40);
}

#[test]
fn every_upgrade_flaw_is_caught_and_shrunk() {
    let bin = flaws_server_bin();
    for flaw in Flaw::UPGRADE {
        let d = detect_upgrade(flaw, &bin, 1);
        assert!(d.detected, "{flaw} missed in {} cases", d.cases);
        assert!(d.shrunk_len <= 8, "{flaw}: shrunk to {} ops", d.shrunk_len);
    }
}

/// The same flaws, where this repository checked deploys before: one build over its own
/// store, `deploy` and `restart` atomic. Nothing is wrong there, so nothing is found.
#[test]
fn the_atomic_deploy_campaign_misses_every_upgrade_flaw() {
    for flaw in Flaw::UPGRADE {
        // SQLite where the flaw is in the schema; the others live above the store.
        let store = match flaw {
            Flaw::RefreshTableMoved => StoreKind::Sqlite,
            _ => StoreKind::Memory,
        };
        let opts = CheckOptions {
            cases: 300,
            seed: 1,
            target: Target::Flawed(store, flaw),
            ..CheckOptions::default()
        };
        let summary = check(&opts, |_| {});
        assert!(summary.failure.is_none(), "{flaw}: {:?}", summary.failure);
    }
}

fn run(target: UpgradeTarget, seed: u64, text: &str) -> authcheck::lockstep::Run {
    let trace = Trace::parse(text).unwrap();
    run_ops_with(
        &Target::Custom(Arc::new(target)),
        &Profile::default(),
        seed,
        &trace.ops(),
        None,
    )
}

/// A refresh killed mid-request, then sent again (the client's retry). Whichever commit the
/// crash lands on, a correct build answers as one of the two explanations; the rotation
/// written in two statements leaves, on one of them, a state neither explains.
const CRASHED_REFRESH: &str = r#"
register "ana" "correct horse battery" nomfa
login "ana" "correct horse battery" device=0
crash
refresh refresh#0.0
refresh refresh#0.0
refresh refresh#0.1
"#;

#[test]
fn a_crash_mid_rotation_is_survived_by_the_correct_build_and_exposes_two_writes() {
    let bin = flaws_server_bin();
    let seeds = 0..12u64;
    for seed in seeds.clone() {
        let run = run(correct_update(), seed, CRASHED_REFRESH);
        assert!(run.failure.is_none(), "seed {seed}: {:?}", run.failure);
        let note = run.steps[3].served_by.clone().unwrap_or_default();
        assert!(note.contains("killed"), "seed {seed}: {note}");
    }
    let caught = seeds
        .filter(|seed| {
            run(
                upgrade_target(Flaw::RotationTwoWrites, &bin),
                *seed,
                CRASHED_REFRESH,
            )
            .failure
            .is_some()
        })
        .count();
    assert!(
        caught > 0,
        "no crash point between the two writes in 12 seeds"
    );
}

/// After finalize, a rollback to a build that cannot read the store is refused by that build
/// (and NEW serves on); between builds of one schema it is an ordinary rollback.
#[test]
fn finalize_locks_out_an_old_build_that_cannot_read_the_store() {
    let bin = flaws_server_bin();
    let text = r#"
register "bo" "correct horse battery" nomfa
login "bo" "correct horse battery" device=0
rollout finish
finalize
rollback
refresh refresh#0.0
"#;
    // NEW has one migration more than OLD here (its flaw lives in the mixed window, which
    // this trace never opens).
    let run = run(upgrade_target(Flaw::RefreshTableMoved, &bin), 1, text);
    assert!(run.failure.is_none(), "{:?}", run.failure);
    let note = run.steps[4].served_by.clone().unwrap_or_default();
    assert!(note.contains("rollback refused"), "{note}");
    assert!(note.contains("finalized"), "{note}");
    assert_eq!(
        run.steps[5].served_by.as_deref(),
        Some("answered by the new build")
    );
    let same_schema = run_ops_with(
        &Target::Custom(Arc::new(correct_update())),
        &Profile::default(),
        1,
        &Trace::parse(text).unwrap().ops(),
        None,
    );
    assert!(same_schema.failure.is_none());
    assert_eq!(
        same_schema.steps[5].served_by.as_deref(),
        Some("answered by the old build")
    );
}

/// Each upgrade flaw's minimal trace (`regressions/upgrade/flaw-ID.trace`, as `authcheck
/// upgrade` shrank it, with the seed that routes it): the correct update passes it, the flawed
/// one fails it at the step its header names.
#[test]
fn each_upgrade_flaw_fails_its_minimal_trace_and_the_correct_update_passes_it() {
    let bin = flaws_server_bin();
    for flaw in Flaw::UPGRADE {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("regressions/upgrade/flaw-{}.trace", flaw.id()));
        let text = std::fs::read_to_string(&path).unwrap();
        let trace = Trace::parse(&text).unwrap();
        let seed: u64 = trace.header_value("token-seed").unwrap().parse().unwrap();
        let step: usize = trace
            .header_value("reproduces")
            .and_then(|r| r.strip_prefix("step ")?.split(' ').next()?.parse().ok())
            .unwrap();
        let correct = run(correct_update(), seed, &text);
        assert!(correct.failure.is_none(), "{flaw}: {:?}", correct.failure);
        let flawed = run(upgrade_target(flaw, &bin), seed, &text);
        assert_eq!(flawed.failure.map(|f| f.step + 1), Some(step), "{flaw}");
    }
}

/// `flaws --upgrade` over a build without the catalogue would "catch" every flaw at its first
/// operation (the server refuses `--flaw` at start): it must refuse to run instead.
#[test]
fn flaws_upgrade_refuses_a_server_without_the_catalogue() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain-server");
    std::fs::write(&plain, "#!/bin/sh\necho 'Usage: auth-server [OPTIONS]'\n").unwrap();
    let mut perms = std::fs::metadata(&plain).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&plain, perms).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_authcheck"))
        .args(["flaws", "--upgrade", "--seeds", "1", "--server-bin"])
        .arg(&plain)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is not a flaws build"), "{stderr}");
}
