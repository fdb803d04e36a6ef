//! What the lockstep benches share: the generated traces, a driver that replays recorded
//! answers, and the two ways of running a trace (recording every step, or only the verdict).

// Each bench that includes this module uses part of it.
#![allow(dead_code)]
use authcheck::campaign::case_ops;
use authcheck::driver::{in_process, Connection, Driver, DriverError, InProcess, StoreKind};
use authcheck::lockstep;
use authcheck::model::{Op, Outcome, Params, Profile};
use std::hint::black_box;

/// `cases` generated traces of up to 60 operations, each with its seed.
pub fn traces(cases: u64) -> Vec<(u64, Vec<Op>)> {
    (0..cases)
        .map(|seed| (seed, case_ops(seed, Params::default(), 60)))
        .collect()
}

/// One fresh in-process service per trace.
pub fn fresh(store: StoreKind, traces: &[(u64, Vec<Op>)]) -> Vec<Connection<InProcess>> {
    traces
        .iter()
        .map(|(seed, _)| in_process(store, Params::default(), *seed, None).unwrap())
        .collect()
}

/// What a fresh service answers to each op of each trace.
pub fn answers(store: StoreKind, traces: &[(u64, Vec<Op>)]) -> Vec<Vec<Outcome>> {
    fresh(store, traces)
        .iter_mut()
        .zip(traces)
        .map(|(driver, (_, ops))| ops.iter().map(|op| driver.apply(op).unwrap()).collect())
        .collect()
}

/// Answers with what the service answered before: a driver that costs nothing.
pub struct Recorded(std::vec::IntoIter<Outcome>);

impl Driver for Recorded {
    fn apply(&mut self, _: &Op) -> Result<Outcome, DriverError> {
        Ok(self.0.next().expect("one answer per op"))
    }
}

/// One [`Recorded`] driver per trace.
pub fn replayed(answers: &[Vec<Outcome>]) -> Vec<Recorded> {
    answers
        .iter()
        .map(|a| Recorded(a.clone().into_iter()))
        .collect()
}

/// Each trace in lockstep against its own driver, recording every step; every one must pass.
pub fn lockstep_all(drivers: &mut [impl Driver], traces: &[(u64, Vec<Op>)]) {
    for (driver, (_, ops)) in drivers.iter_mut().zip(traces) {
        let run = lockstep::run(driver, Params::default(), ops, None);
        assert!(run.failure.is_none());
        black_box(run);
    }
}

/// [`lockstep_all`], keeping only each verdict.
pub fn verdict_all(drivers: &mut [impl Driver], traces: &[(u64, Vec<Op>)]) {
    let profile = Profile::default();
    for (driver, (_, ops)) in drivers.iter_mut().zip(traces) {
        assert!(black_box(lockstep::verdict_with(driver, &profile, ops, None)).is_none());
    }
}

/// Every op of every trace against its service, with no model.
pub fn service_all(drivers: &mut [impl Driver], traces: &[(u64, Vec<Op>)]) {
    for (driver, (_, ops)) in drivers.iter_mut().zip(traces) {
        for op in ops {
            black_box(driver.apply(op).unwrap());
        }
    }
}
