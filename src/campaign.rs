//! A check campaign: many generated cases, each a fresh service checked in lockstep; the first
//! failing case is shrunk to a minimal trace. Used by `authcheck check` and by the tests.

use crate::concurrent::{self, ConcurrentFailure};
use crate::coverage::Coverage;
use crate::driver::{
    Capabilities, Driver, DriverError, Flaw, HttpDriver, HttpTarget, InProcess, Mode, StoreKind,
};
use crate::generate::{self, Plan, Settings};
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
            Target::Http(http) => Box::new(HttpDriver::new(http, params, seed)?),
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

    /// How this target runs concurrent cases: in process over its store (seeded
    /// interleavings in `mode` deterministic), or over HTTP (the server schedules itself).
    pub fn concurrent_setup(&self, params: Option<Params>, mode: Mode) -> concurrent::Setup {
        let params = params.or((!self.capabilities().params).then(Params::default));
        let (store, flaw, http, mode) = match self {
            Target::InProcess(store) => (*store, None, None, mode),
            Target::Flawed(store, flaw) => (*store, Some(*flaw), None, mode),
            Target::Http(http) => (StoreKind::Sqlite, None, Some(http.clone()), Mode::Real),
        };
        concurrent::Setup {
            store,
            params,
            mode,
            flaw,
            http,
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
    /// Longest generated trace (case lengths vary below it).
    pub max_ops: usize,
    /// Protocol numbers: `None` draws them per case where the target can be configured
    /// (parameter swarm); `Some` fixes them for every case.
    pub params: Option<Params>,
    /// Which slice of the campaign's cases this run takes.
    pub shard: Shard,
    /// Sequential cases, concurrent cases, or both.
    pub mix: Mix,
    /// How concurrent cases run in process (over HTTP the server schedules itself).
    pub mode: Mode,
}

/// Which kinds of case a campaign runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    /// Only sequential lockstep cases.
    Sequential,
    /// Only concurrent cases (a prefix, branches at once, a suffix; linearizability).
    Concurrent,
    /// Both: every [`CONCURRENT_EVERY`]-th case is concurrent. `check`'s default, so one
    /// campaign looks for races too.
    Mixed,
}

/// In a mixed campaign, one case in this many is concurrent.
pub const CONCURRENT_EVERY: u64 = 8;

impl Mix {
    /// Whether case `index` of the campaign is a concurrent one.
    pub fn concurrent(self, index: u64) -> bool {
        match self {
            Mix::Sequential => false,
            Mix::Concurrent => true,
            Mix::Mixed => index % CONCURRENT_EVERY == CONCURRENT_EVERY - 1,
        }
    }
}

/// The longest case by default: most cases are far shorter (see [`generate::plan`]).
pub const DEFAULT_MAX_OPS: usize = 300;

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            cases: 200,
            seed: 0,
            target: Target::InProcess(StoreKind::Sqlite),
            max_ops: DEFAULT_MAX_OPS,
            params: None,
            shard: Shard::WHOLE,
            mix: Mix::Sequential,
            mode: Mode::Deterministic,
        }
    }
}

/// Shard `index` (0-based) of `count`: the cases whose index is `index` modulo `count`, so
/// `count` machines split one campaign without overlap (`--shard K/N` is index K-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    pub fn takes(&self, case: u64) -> bool {
        case % self.count == self.index
    }
}

impl std::str::FromStr for Shard {
    type Err = String;
    /// `K/N` with 1 <= K <= N.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("--shard {s}: expected K/N with 1 <= K <= N (e.g. 2/4)");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (k, n): (u64, u64) = (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
        if k == 0 || n == 0 || k > n {
            return Err(bad());
        }
        Ok(Shard {
            index: k - 1,
            count: n,
        })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index + 1, self.count)
    }
}

/// The seed of case `index` of the campaign seeded `campaign`: the campaign seed itself for the
/// first case (so `check --seed CASE_SEED --cases 1` re-runs any reported case), a hash of the
/// two for the others — so the cases of two campaign seeds do not overlap (with `seed + i`,
/// seeds 1 and 2 shared all but one case).
pub fn case_seed(campaign: u64, index: u64) -> u64 {
    if index == 0 {
        return campaign;
    }
    mix(mix(campaign) ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// SplitMix64's finaliser: a bijective, well-mixed hash of 64 bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A failing case, shrunk.
#[derive(Debug, Clone)]
pub struct CaseFailure {
    /// The seed that generates exactly this case (`check --seed CASE_SEED --cases 1`).
    pub case_seed: u64,
    /// The protocol numbers the case ran under.
    pub params: Params,
    pub original_len: usize,
    pub ops: Vec<Op>,
    pub failure: Failure,
    /// The model's outcome for every op of the shrunk trace.
    pub expected: Vec<Outcome>,
}

/// What a campaign found: a sequential case that left the model, or a concurrent one no order
/// of the model explains.
#[derive(Debug, Clone)]
pub enum Finding {
    Sequential(CaseFailure),
    Concurrent(ConcurrentFailure),
}

impl Finding {
    pub fn case_seed(&self) -> u64 {
        match self {
            Finding::Sequential(f) => f.case_seed,
            Finding::Concurrent(f) => f.case_seed,
        }
    }

    /// Operations in the shrunk case.
    pub fn shrunk_len(&self) -> usize {
        match self {
            Finding::Sequential(f) => f.ops.len(),
            Finding::Concurrent(f) => f.case.len(),
        }
    }

    pub fn original_len(&self) -> usize {
        match self {
            Finding::Sequential(f) => f.original_len,
            Finding::Concurrent(f) => f.original_len,
        }
    }

    pub fn params(&self) -> Params {
        match self {
            Finding::Sequential(f) => f.params,
            Finding::Concurrent(f) => f.case.params,
        }
    }

    /// The sequential failure, if this is one.
    pub fn sequential(&self) -> Option<&CaseFailure> {
        match self {
            Finding::Sequential(f) => Some(f),
            Finding::Concurrent(_) => None,
        }
    }
}

/// What a campaign did: one report type for sequential, concurrent and mixed campaigns.
#[derive(Debug, Clone)]
pub struct Summary {
    pub seed: u64,
    pub cases: u64,
    /// Of `cases`, how many were concurrent.
    pub concurrent_cases: u64,
    pub ops: u64,
    pub elapsed: Duration,
    pub coverage: Coverage,
    pub failure: Option<Finding>,
}

/// The bytes case `case_seed` decodes its operations from (enough for the longest cases).
pub fn case_bytes(case_seed: u64) -> Vec<u8> {
    let mut rng = ChaCha20Rng::seed_from_u64(case_seed);
    let mut bytes = vec![0u8; 32 * 1024];
    rng.fill_bytes(&mut bytes);
    bytes
}

/// The case of `case_seed` (numbers and operations) for a target with these capabilities.
pub fn case_plan(case_seed: u64, settings: &Settings) -> Plan {
    let bytes = case_bytes(case_seed);
    generate::plan(&mut Unstructured::new(&bytes), settings)
}

/// The operations of case `case_seed` under fixed `params`, every capability on.
pub fn case_ops(case_seed: u64, params: Params, max_ops: usize) -> Vec<Op> {
    let settings = Settings {
        params: Some(params),
        ..Settings::campaign(Capabilities::ALL, max_ops)
    };
    case_plan(case_seed, &settings).ops
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

/// Shrinks a failing run of `ops` against fresh systems under test: the operations first, then
/// the protocol numbers back toward DESIGN's defaults (all at once, else one at a time) while
/// the failure stays, then the operations again under the plainer numbers.
pub fn shrink_failure(
    target: &Target,
    params: Params,
    token_seed: u64,
    ops: &[Op],
    failure: Failure,
) -> (Params, Vec<Op>, Failure) {
    let shrink_ops = |params: Params, ops: &[Op], failure: Failure| {
        let mut oracle =
            |candidate: &[Op]| run_ops(target, params, token_seed, candidate, None).failure;
        shrink(params, ops, failure, &mut oracle)
    };
    let (mut ops, mut failure) = shrink_ops(params, ops, failure);
    let mut params = params;
    let mut plainer = false;
    loop {
        let defaults = Params::default();
        let mut candidates = vec![defaults];
        for key in params.changed() {
            let mut p = params;
            let _ = p.set(key, defaults.get(key).unwrap_or_default());
            candidates.push(p);
        }
        let found = candidates
            .into_iter()
            .filter(|p| *p != params)
            .find_map(|p| {
                if !crate::shrink::valid(p, &ops) {
                    return None;
                }
                run_ops(target, p, token_seed, &ops, None)
                    .failure
                    .filter(|f| f.same_kind(&failure))
                    .map(|f| (p, f))
            });
        match found {
            Some((p, f)) => {
                params = p;
                ops.truncate(f.step + 1);
                failure = f;
                plainer = true;
            }
            None => break,
        }
    }
    if plainer {
        (ops, failure) = shrink_ops(params, &ops, failure);
    }
    (params, ops, failure)
}

/// Runs the campaign; `progress` is told after every case. Stops at the first failure.
pub fn check(opts: &CheckOptions, mut progress: impl FnMut(u64)) -> Summary {
    let start = Instant::now();
    let mut coverage = Coverage::default();
    let mut total_ops = 0;
    let mut failure = None;
    let mut cases = 0;
    let mut concurrent_cases = 0;
    let setup = opts.target.concurrent_setup(opts.params, opts.mode);
    let mut settings = Settings::campaign(opts.target.capabilities(), opts.max_ops);
    if opts.params.is_some() {
        settings.params = opts.params;
    }
    // A shared server remembers earlier runs too: names carry this run's nonce as well.
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64 ^ u64::from(std::process::id()))
        .unwrap_or(0)
        % 0xffff_ffff;
    for case in (0..opts.cases).filter(|i| opts.shard.takes(*i)) {
        let case_seed = case_seed(opts.seed, case);
        if opts.mix.concurrent(case) {
            let mut generated = concurrent::generate::case(case_seed, setup.params);
            if opts.target.isolates_cases() {
                generated = generated.isolated(&format!("-{nonce:x}-{case_seed:x}"));
            }
            total_ops += generated.len() as u64;
            cases += 1;
            concurrent_cases += 1;
            progress(cases);
            if let Some(f) =
                concurrent::check_case(&setup, case_seed, generated, Some(&mut coverage))
            {
                failure = Some(Finding::Concurrent(f));
                break;
            }
            continue;
        }
        let Plan { params, mut ops } = case_plan(case_seed, &settings);
        if opts.target.isolates_cases() {
            ops = isolate_names(&ops, &format!("-{nonce:x}-{case_seed:x}"));
        }
        let run = run_ops(&opts.target, params, case_seed, &ops, Some(&mut coverage));
        total_ops += run.steps.len() as u64;
        cases += 1;
        progress(cases);
        if let Some(f) = run.failure {
            let original_len = f.step + 1;
            let (params, ops, f) = shrink_failure(&opts.target, params, case_seed, &ops, f);
            let expected = lockstep::expectations(params, &ops);
            failure = Some(Finding::Sequential(CaseFailure {
                case_seed,
                params,
                original_len,
                ops,
                failure: f,
                expected,
            }));
            break;
        }
    }
    Summary {
        seed: opts.seed,
        cases,
        concurrent_cases,
        ops: total_ops,
        elapsed: start.elapsed(),
        coverage,
        failure,
    }
}

impl CaseFailure {
    /// The minimal trace, with a header saying what it reproduces and where it came from.
    pub fn trace(&self, target: &Target) -> Trace {
        self.trace_found_by(&format!(
            "found-by: authcheck check --seed {} --cases 1 --sequential {} (shrunk from {} ops)",
            self.case_seed,
            target.args(),
            self.original_len
        ))
    }

    /// The minimal trace with this `found-by:` header line.
    pub fn trace_found_by(&self, found_by: &str) -> Trace {
        let f = &self.failure;
        let header = vec![
            "authcheck trace".to_owned(),
            format!(
                "reproduces: step {} `{}` expected `{}`, service answered `{}`",
                f.step + 1,
                f.op,
                f.expected,
                f.actual
            ),
            found_by.to_owned(),
            format!("token-seed: {}", self.case_seed),
        ];
        let mut trace = Trace::new(&header, &self.ops, &self.expected);
        trace.set_params(self.params);
        trace
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
