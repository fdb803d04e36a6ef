//! The flaw catalogue (PROTOCOL.md §10), with the `flaws` feature: for every flaw, its hand-written
//! minimal trace passes on the correct service and fails on the flawed one, and the CI-budget
//! campaign (three fixed seeds; it keeps the smallest reproducer they find) detects it with a
//! shrunk trace no longer than that minimal trace.
#![cfg(feature = "flaws")]

use auth::flaws::Flaw;
use authcheck::campaign::{run_ops, Target};
use authcheck::catalogue::{detect, minimal_len, minimal_trace, minimal_trace_fails};
use authcheck::driver::StoreKind;
use authcheck::model::Params;

const CI_SEEDS: [u64; 3] = [0, 7_919, 15_838];

#[test]
fn every_minimal_trace_fails_exactly_on_its_flaw() {
    for flaw in Flaw::ALL {
        assert!(
            minimal_trace_fails(flaw),
            "{flaw}: the flawed service passes its own minimal trace"
        );
        let trace = minimal_trace(flaw);
        if !trace.is_concurrent() {
            let run = run_ops(
                &Target::InProcess(StoreKind::Memory),
                Params::default(),
                0,
                &trace.ops(),
                None,
            );
            assert!(
                run.failure.is_none(),
                "{flaw}: the correct service fails the trace: {:?}",
                run.failure
            );
        }
    }
}

#[test]
fn every_flaw_is_caught_by_the_ci_budget_and_shrinks_to_the_minimal_length() {
    let mut report = Vec::new();
    for flaw in Flaw::ALL {
        let detections: Vec<_> = CI_SEEDS.iter().map(|s| detect(flaw, *s)).collect();
        assert!(
            detections.iter().all(|d| d.detected),
            "{flaw}: missed by a CI seed: {detections:?}"
        );
        let smallest = detections
            .iter()
            .map(|d| d.shrunk_len)
            .min()
            .unwrap_or(usize::MAX);
        report.push(format!(
            "{flaw}: shrunk to {smallest} (minimal {})",
            minimal_len(flaw)
        ));
        assert!(smallest <= minimal_len(flaw), "{}", report.join("\n"));
    }
}

#[test]
fn each_flaw_is_a_change_to_the_real_code_not_a_global_switch() {
    // With one flaw on, traces of the other rules still pass: each flaw breaks one rule.
    let grace = minimal_trace(Flaw::NoRefreshGrace).ops();
    for flaw in [
        Flaw::ExpiryOffByOne,
        Flaw::TokenConfusion,
        Flaw::PasswordTruncated,
        Flaw::LockoutNeverResets,
    ] {
        let run = run_ops(
            &Target::Flawed(StoreKind::Memory, flaw),
            Params::default(),
            0,
            &grace,
            None,
        );
        assert!(run.failure.is_none(), "{flaw} broke the grace window too");
    }
}

#[test]
fn the_same_campaign_passes_on_the_correct_service() {
    // The flaw campaigns above stop at their first detection (within 40 cases for every flaw);
    // the correct service runs well past that under the same seeds without a divergence.
    for seed in CI_SEEDS {
        let opts = authcheck::campaign::CheckOptions {
            cases: 150,
            seed,
            target: Target::InProcess(StoreKind::Memory),
            ..authcheck::campaign::CheckOptions::default()
        };
        let summary = authcheck::campaign::check(&opts, |_| {});
        assert!(
            summary.failure.is_none(),
            "seed {seed}: {:?}",
            summary.failure
        );
    }
}
