//! A check campaign: many generated cases, each a fresh service checked in lockstep; the first
//! failing case is shrunk to a minimal trace. Used by `authcheck check` and by the tests.

use crate::coverage::Coverage;
use crate::driver::{
    Capabilities, Driver, DriverError, Flaw, HttpDriver, HttpTarget, InProcess, StoreKind,
};
use crate::generate::generate_for;
use crate::lockstep::{self, Failure, Run};
use crate::model::{Op, Outcome, Params};
use crate::shrink::shrink;
use crate::trace::Trace;
use arbitrary::Unstructured;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use std::time::{Duration, Instant};

/// The system a campaign checks.
#[derive(Debug, Clone)]
pub enum Target {
    /// `auth::Service` in this process, over this store.
    InProcess(StoreKind),
    /// The same, with a DESIGN §5 flaw switched on (needs the `flaws` feature).
    Flawed(StoreKind, Flaw),
    /// The HTTP API of a server we start, or of one already running.
    Http(HttpTarget),
}

impl Target {
    pub fn memory() -> Self {
        Target::InProcess(StoreKind::Memory)
    }

    /// A fresh system under test (token RNG seeded with `seed` where we control it).
    pub fn driver(&self, params: Params, seed: u64) -> Result<Box<dyn Driver>, DriverError> {
        Ok(match self {
            Target::InProcess(store) => Box::new(InProcess::new(*store, params, seed)?),
            Target::Flawed(store, flaw) => {
                Box::new(InProcess::with_flaw(*store, params, seed, Some(*flaw))?)
            }
            Target::Http(http) => Box::new(HttpDriver::new(http, seed)?),
        })
    }

    pub fn capabilities(&self) -> Capabilities {
        match self {
            Target::InProcess(_) | Target::Flawed(..) => Capabilities::ALL,
            Target::Http(http) => http.capabilities(),
        }
    }

    /// The command-line words that select this target again.
    pub fn args(&self) -> String {
        match self {
            Target::InProcess(StoreKind::Memory) => "--store memory".into(),
            Target::InProcess(StoreKind::Sqlite) => "--store sqlite".into(),
            Target::Flawed(store, flaw) => {
                let store = if *store == StoreKind::Memory {
                    "memory"
                } else {
                    "sqlite"
                };
                format!("--store {store} --flaw {}", flaw_id(flaw))
            }
            Target::Http(HttpTarget::Managed { .. }) => "--target http".into(),
            Target::Http(HttpTarget::External { base, .. }) => format!("--target {base}"),
        }
    }

    /// A shared server keeps state between cases: each case gets its own user names.
    fn isolates_cases(&self) -> bool {
        matches!(self, Target::Http(HttpTarget::External { .. }))
    }
}

#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub cases: u64,
    pub seed: u64,
    pub target: Target,
    /// Longest generated trace.
    pub max_ops: usize,
    pub params: Params,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            cases: 200,
            seed: 0,
            target: Target::InProcess(StoreKind::Sqlite),
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
    case_ops_for(case_seed, params, max_ops, Capabilities::ALL)
}

/// The operations of case `case_seed` for a target with these capabilities.
pub fn case_ops_for(case_seed: u64, params: Params, max_ops: usize, caps: Capabilities) -> Vec<Op> {
    let bytes = case_bytes(case_seed);
    generate_for(&mut Unstructured::new(&bytes), params, max_ops, caps)
}

/// Appends `suffix` to every valid user name, so cases sharing one server cannot meet.
/// (An ASCII suffix keeps PRECIS equivalence: spellings of one account stay one account.)
pub fn isolate_names(ops: &[Op], suffix: &str) -> Vec<Op> {
    let rename = |user: &mut String| {
        if crate::model::accounts::canonical(user).is_some() {
            user.push_str(suffix);
        }
    };
    ops.iter()
        .cloned()
        .map(|mut op| {
            match &mut op {
                Op::Register { user, .. }
                | Op::Login { user, .. }
                | Op::AdminDisable { user }
                | Op::AdminEnable { user }
                | Op::AdminUnlock { user } => rename(user),
                _ => {}
            }
            op
        })
        .collect()
}

/// Runs `ops` against a fresh system under test.
pub fn run_ops(
    target: &Target,
    params: Params,
    token_seed: u64,
    ops: &[Op],
    coverage: Option<&mut Coverage>,
) -> Run {
    match target.driver(params, token_seed) {
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

/// Shrinks a failing run of `ops` against fresh systems under test.
pub fn shrink_failure(
    target: &Target,
    params: Params,
    token_seed: u64,
    ops: &[Op],
    failure: Failure,
) -> (Vec<Op>, Failure) {
    let mut oracle =
        |candidate: &[Op]| run_ops(target, params, token_seed, candidate, None).failure;
    shrink(params, ops, failure, &mut oracle)
}

/// Runs the campaign; `progress` is told after every case. Stops at the first failure.
pub fn check(opts: &CheckOptions, mut progress: impl FnMut(u64)) -> Summary {
    let start = Instant::now();
    let mut coverage = Coverage::default();
    let mut total_ops = 0;
    let mut failure = None;
    let mut cases = 0;
    let caps = opts.target.capabilities();
    // A shared server remembers earlier runs too: names carry this run's nonce as well.
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64 ^ u64::from(std::process::id()))
        .unwrap_or(0)
        % 0xffff_ffff;
    for case in 0..opts.cases {
        let case_seed = opts.seed.wrapping_add(case);
        let mut ops = case_ops_for(case_seed, opts.params, opts.max_ops, caps);
        if opts.target.isolates_cases() {
            ops = isolate_names(&ops, &format!("-{nonce:x}-{case_seed:x}"));
        }
        let run = run_ops(
            &opts.target,
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
            let (ops, f) = shrink_failure(&opts.target, opts.params, case_seed, &ops, f);
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
    pub fn trace(&self, target: &Target) -> Trace {
        let f = &self.failure;
        let target = target.args();
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
                "found-by: authcheck check --seed {} --cases 1 {target} (shrunk from {} ops)",
                self.case_seed, self.original_len
            ),
            format!("token-seed: {}", self.case_seed),
        ];
        Trace::new(&header, &self.ops, &self.expected)
    }
}

/// The DESIGN §5 id of a flaw.
#[cfg(feature = "flaws")]
pub fn flaw_id(flaw: &Flaw) -> &'static str {
    flaw.id()
}

#[cfg(not(feature = "flaws"))]
pub fn flaw_id(flaw: &Flaw) -> &'static str {
    match *flaw {}
}
