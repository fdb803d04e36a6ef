//! The lockstep property under `cargo test`: proptest feeds bytes to the model-aware generator,
//! the service runs beside the model, and any divergence fails with its minimal trace. Fixed
//! seeds, so CI is deterministic; the SQLite run includes deploys and restarts over the file.

use authcheck::adapter::Capabilities;
use authcheck::campaign::{run_ops, shrink_failure, CaseFailure, Target};
use authcheck::driver::StoreKind;
use authcheck::generate::{self, Plan, Settings};
use authcheck::lockstep::expectations;
use authcheck::model::{Op, OpKind};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestRunner};

/// The case the bytes decode to, as `check` draws it (numbers, swarm mix, length).
fn plan(bytes: &[u8]) -> Plan {
    let settings = Settings::campaign(Capabilities::ALL, 150, Default::default());
    generate::plan(&mut arbitrary::Unstructured::new(bytes), &settings)
}

fn check_bytes(store: StoreKind, bytes: &[u8]) -> Result<(), TestCaseError> {
    let Plan { params, ops } = plan(bytes);
    let target = Target::InProcess(store);
    let run = run_ops(&target, params, 1, &ops, None);
    if let Some(failure) = run.failure {
        let original_len = failure.step + 1;
        let (params, small, failure) = shrink_failure(&target, params, 1, &ops, failure);
        let expected = expectations(params, &small);
        let report = CaseFailure {
            case_seed: 1,
            profile: authcheck::model::Profile {
                params,
                ..Default::default()
            },
            original_len,
            ops: small,
            failure,
            expected,
            served_by: Vec::new(),
        };
        return Err(TestCaseError::fail(format!(
            "the service left the model:\n{}\nreplay: save the trace above and run `cargo run --release -- replay FILE`",
            report.trace(&target)
        )));
    }
    Ok(())
}

fn runner(cases: u32, seed: u64) -> TestRunner {
    TestRunner::new_with_rng(
        Config {
            cases,
            // Shrinking happens on traces (above), not on bytes.
            max_shrink_iters: 0,
            failure_persistence: None,
            rng_seed: RngSeed::Fixed(seed),
            ..Config::default()
        },
        proptest::test_runner::TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    )
}

#[test]
fn lockstep_memory_store() {
    runner(400, 0x5e55_1011)
        .run(
            &proptest::collection::vec(any::<u8>(), 256..4096),
            |bytes| check_bytes(StoreKind::Memory, &bytes),
        )
        .unwrap();
}

#[test]
fn lockstep_sqlite_store_with_deploys_and_restarts() {
    let strategy = proptest::collection::vec(any::<u8>(), 256..4096);
    // The generated traces do deploy and restart: prove it, so this test cannot silently stop
    // covering upgrades.
    let deploys = std::cell::Cell::new(0);
    let restarts = std::cell::Cell::new(0);
    let mut r = runner(60, 0x5e55_1012);
    r.run(&strategy, |bytes| {
        let ops: Vec<Op> = plan(&bytes).ops;
        deploys.set(deploys.get() + ops.iter().filter(|o| o.kind() == OpKind::Deploy).count());
        restarts.set(restarts.get() + ops.iter().filter(|o| o.kind() == OpKind::Restart).count());
        check_bytes(StoreKind::Sqlite, &bytes)
    })
    .unwrap();
    let (deploys, restarts) = (deploys.get(), restarts.get());
    assert!(
        deploys > 20 && restarts > 20,
        "deploys {deploys}, restarts {restarts}"
    );
}
