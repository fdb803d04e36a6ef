//! A check campaign: many generated cases, each a fresh service checked in lockstep; the first
//! failing case is shrunk to a minimal trace. Used by `authcheck check` and by the tests.

use crate::coverage::Coverage;
use crate::driver::{InProcess, StoreKind};
use crate::generate::generate;
use crate::lockstep::{self, Failure, Run};
use crate::model::{Op, Outcome, Params};
use crate::shrink::shrink;
use crate::trace::Trace;
use arbitrary::Unstructured;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub cases: u64,
    pub seed: u64,
    pub store: StoreKind,
    /// Longest generated trace.
    pub max_ops: usize,
    pub params: Params,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            cases: 200,
            seed: 0,
            store: StoreKind::Sqlite,
            max_ops: 60,
            params: Params::default(),
        }
    }
}

/// A failing case, shrunk.
#[derive(Debug, Clone)]
pub struct CaseFailure {
    /// The seed that generates exactly this case (`check --seed CASE_SEED --cases 1`).
    pub case_seed: u64,
    pub original_len: usize,
    pub ops: Vec<Op>,
    pub failure: Failure,
    /// The model's outcome for every op of the shrunk trace.
    pub expected: Vec<Outcome>,
}

#[derive(Debug, Clone)]
pub struct Summary {
    pub seed: u64,
    pub cases: u64,
    pub ops: u64,
    pub elapsed: Duration,
    pub coverage: Coverage,
    pub failure: Option<CaseFailure>,
}

/// The bytes case `case_seed` decodes its operations from.
pub fn case_bytes(case_seed: u64) -> Vec<u8> {
    let mut rng = ChaCha20Rng::seed_from_u64(case_seed);
    let mut bytes = vec![0u8; 4096];
    rng.fill_bytes(&mut bytes);
    bytes
}

/// The operations of case `case_seed`.
pub fn case_ops(case_seed: u64, params: Params, max_ops: usize) -> Vec<Op> {
    let bytes = case_bytes(case_seed);
    generate(&mut Unstructured::new(&bytes), params, max_ops)
}

/// Runs `ops` against a fresh in-process service.
pub fn run_ops(
    store: StoreKind,
    params: Params,
    token_seed: u64,
    ops: &[Op],
    coverage: Option<&mut Coverage>,
) -> Run {
    match InProcess::new(store, params, token_seed) {
        Ok(mut driver) => lockstep::run(&mut driver, params, ops, coverage),
        Err(e) => Run {
            steps: Vec::new(),
            failure: ops.first().map(|op| Failure {
                step: 0,
                op: op.clone(),
                expected: Outcome::Ok,
                actual: crate::lockstep::Actual::Error(e),
            }),
        },
    }
}

/// Shrinks a failing run of `ops` against fresh services.
pub fn shrink_failure(
    store: StoreKind,
    params: Params,
    token_seed: u64,
    ops: &[Op],
    failure: Failure,
) -> (Vec<Op>, Failure) {
    let mut oracle = |candidate: &[Op]| run_ops(store, params, token_seed, candidate, None).failure;
    shrink(params, ops, failure, &mut oracle)
}

/// Runs the campaign; `progress` is told after every case. Stops at the first failure.
pub fn check(opts: &CheckOptions, mut progress: impl FnMut(u64)) -> Summary {
    let start = Instant::now();
    let mut coverage = Coverage::default();
    let mut total_ops = 0;
    let mut failure = None;
    let mut cases = 0;
    for case in 0..opts.cases {
        let case_seed = opts.seed.wrapping_add(case);
        let ops = case_ops(case_seed, opts.params, opts.max_ops);
        let run = run_ops(
            opts.store,
            opts.params,
            case_seed,
            &ops,
            Some(&mut coverage),
        );
        total_ops += run.steps.len() as u64;
        cases += 1;
        progress(cases);
        if let Some(f) = run.failure {
            let original_len = f.step + 1;
            let (ops, f) = shrink_failure(opts.store, opts.params, case_seed, &ops, f);
            let expected = lockstep::expectations(opts.params, &ops);
            failure = Some(CaseFailure {
                case_seed,
                original_len,
                ops,
                failure: f,
                expected,
            });
            break;
        }
    }
    Summary {
        seed: opts.seed,
        cases,
        ops: total_ops,
        elapsed: start.elapsed(),
        coverage,
        failure,
    }
}

impl CaseFailure {
    /// The minimal trace, with a header saying what it reproduces and where it came from.
    pub fn trace(&self, store: StoreKind) -> Trace {
        let f = &self.failure;
        let store = match store {
            StoreKind::Memory => "memory",
            StoreKind::Sqlite => "sqlite",
        };
        let header = vec![
            "authcheck trace".to_owned(),
            format!(
                "reproduces: step {} `{}` expected `{}`, service answered `{}`",
                f.step + 1,
                f.op,
                f.expected,
                f.actual
            ),
            format!(
                "found-by: authcheck check --seed {} --cases 1 --store {store} (shrunk from {} ops)",
                self.case_seed, self.original_len
            ),
            format!("token-seed: {}", self.case_seed),
        ];
        Trace::new(&header, &self.ops, &self.expected)
    }
}
