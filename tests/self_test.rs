//! The check can fail: a test-only wrapper around the real service changes one answer in a rare
//! state, and the campaign must detect it and shrink the trace to the handful of ops that reach
//! that state. (If this test ever passes with the wrapper doing nothing, the harness is blind.)

use authcheck::campaign::{case_ops, shrink_failure};
use authcheck::driver::{in_process, Connection, Driver, DriverError, InProcess, StoreKind};
use authcheck::lockstep::{self, Actual};
use authcheck::model::{Op, Outcome, Params, Reason};

/// Passes everything through, except: a successful `Sensitive` call on a session whose refresh
/// token has been rotated at least twice answers `StepUpRequired`.
struct Tampered {
    inner: Connection<InProcess>,
}

impl Driver for Tampered {
    fn apply(&mut self, op: &Op) -> Result<Outcome, DriverError> {
        let answer = self.inner.apply(op)?;
        if let (Op::Sensitive { .. }, Outcome::Authorized { session, .. }) = (op, &answer) {
            if self.inner.handles().generation(*session) >= 2 {
                return Ok(Outcome::Rejected(Reason::StepUpRequired));
            }
        }
        Ok(answer)
    }
}

fn tampered(seed: u64) -> Tampered {
    Tampered {
        inner: in_process(StoreKind::Memory, Params::default(), seed, None).unwrap(),
    }
}

#[test]
fn a_service_that_changes_one_rare_answer_is_caught_and_shrunk() {
    let params = Params::default();
    let mut found = None;
    for seed in 0..300u64 {
        let ops = case_ops(seed, params, 60);
        let run = lockstep::run(&mut tampered(seed), params, &ops, None);
        if let Some(failure) = run.failure {
            found = Some((seed, ops, failure));
            break;
        }
    }
    let (seed, ops, failure) =
        found.expect("the tampered service must be caught within the CI budget");
    assert!(matches!(
        failure.actual,
        Actual::Outcome(Outcome::Rejected(Reason::StepUpRequired))
    ));

    let mut oracle =
        |candidate: &[Op]| lockstep::run(&mut tampered(seed), params, candidate, None).failure;
    let profile = authcheck::model::Profile {
        params,
        ..Default::default()
    };
    let (small, small_failure) = authcheck::shrink::shrink(&profile, &ops, failure, &mut oracle);
    // register, login, refresh, refresh, sensitive: nothing shorter reaches generation 2.
    assert!(
        small.len() <= 6,
        "shrunk to {} ops:\n{small:#?}",
        small.len()
    );
    assert_eq!(small_failure.op.kind(), authcheck::model::OpKind::Sensitive);
    let _ = shrink_failure; // the campaign's own shrinker is the same function over a real driver
}

#[test]
fn the_untampered_service_passes_the_same_cases() {
    let params = Params::default();
    for seed in 0..100u64 {
        let ops = case_ops(seed, params, 60);
        let mut driver = in_process(StoreKind::Memory, params, seed, None).unwrap();
        let run = lockstep::run(&mut driver, params, &ops, None);
        assert!(run.failure.is_none(), "seed {seed}: {:?}", run.failure);
    }
}
