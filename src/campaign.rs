//! A check campaign: many generated cases, each a fresh service checked in lockstep; the first
//! failing case is shrunk to a minimal trace. Used by `authcheck check` and by the tests.

use crate::adapter::{Adapter, Capabilities};
use crate::adapters::http::HttpTarget;
use crate::adapters::in_process::{InProcessAdapter, StoreKind};
use crate::concurrent::{self, ConcurrentFailure};
use crate::coverage::Coverage;
use crate::driver::{Connection, Driver, DriverError, Flaw, Mode};
use crate::generate::{self, Plan, Settings};
use crate::known::{self, KnownFinding};
use crate::lockstep::{self, Failure, Run};
use crate::model::{Op, Outcome, Params, Profile};
use crate::shrink::shrink;
use crate::trace::Trace;
use arbitrary::Unstructured;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The system a campaign checks: the adapters this repository ships, or any other.
#[derive(Clone)]
pub enum Target {
    /// `auth::Service` in this process, over this store.
    InProcess(StoreKind),
    /// The same, with a catalogue flaw switched on (needs the `flaws` feature).
    Flawed(StoreKind, Flaw),
    /// The HTTP API of a server we start, or of one already running.
    Http(HttpTarget),
    /// Your service, through your adapter.
    Custom(Arc<dyn Adapter>),
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target({})", self.args())
    }
}

impl Target {
    pub fn memory() -> Self {
        Target::InProcess(StoreKind::Memory)
    }

    /// The adapter behind this target.
    pub fn adapter(&self) -> Arc<dyn Adapter> {
        match self {
            Target::InProcess(store) => Arc::new(InProcessAdapter {
                store: *store,
                flaw: None,
            }),
            Target::Flawed(store, flaw) => Arc::new(InProcessAdapter {
                store: *store,
                flaw: Some(*flaw),
            }),
            Target::Http(http) => Arc::new(http.clone()),
            Target::Custom(adapter) => adapter.clone(),
        }
    }

    /// A fresh system under test under `profile` (random values seeded with `seed` where we
    /// control them).
    pub fn driver_with(
        &self,
        profile: &Profile,
        seed: u64,
    ) -> Result<Box<dyn Driver>, DriverError> {
        Ok(Box::new(Connection::start(
            self.adapter().as_ref(),
            profile,
            seed,
        )?))
    }

    /// A fresh system under test under the adapter's profile with the numbers `params`.
    pub fn driver(&self, params: Params, seed: u64) -> Result<Box<dyn Driver>, DriverError> {
        self.driver_with(&self.profile(params), seed)
    }

    /// The adapter's profile, with the numbers `params`.
    pub fn profile(&self, params: Params) -> Profile {
        Profile {
            params,
            ..self.adapter().profile()
        }
    }

    pub fn capabilities(&self) -> Capabilities {
        self.adapter().capabilities()
    }

    /// The command-line words that select this target again.
    pub fn args(&self) -> String {
        self.adapter().describe()
    }

    /// How this target runs concurrent cases under `profile` (numbers drawn per case unless
    /// `fixed` or the target cannot be configured); deterministic `mode` only where the
    /// adapter can schedule branches.
    pub fn concurrent_setup(
        &self,
        profile: &Profile,
        fixed: bool,
        mode: Mode,
    ) -> concurrent::Setup {
        let adapter = self.adapter();
        concurrent::Setup {
            vary_params: !fixed && adapter.capabilities().params,
            adapter,
            profile: profile.clone(),
            mode,
        }
    }

    /// A shared server keeps state between cases: each case gets its own user names.
    fn isolates_cases(&self) -> bool {
        !self.capabilities().fresh_start
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
    /// The protocol (choices and base numbers): `None` is the adapter's own profile.
    pub profile: Option<Profile>,
    /// The file `profile` came from, for the commands a report prints.
    pub profile_file: Option<std::path::PathBuf>,
    /// Which slice of the campaign's cases this run takes.
    pub shard: Shard,
    /// Sequential cases, concurrent cases, or both.
    pub mix: Mix,
    /// How concurrent cases run in process (over HTTP the server schedules itself).
    pub mode: Mode,
    /// Bugs to pass over ([`crate::known`]): a sequential case that diverges in the shape of
    /// one of them is counted in [`Summary::known`] and the campaign goes on.
    pub known: Vec<KnownFinding>,
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

impl CheckOptions {
    /// The protocol cases run under: the given profile (else the adapter's), with the fixed
    /// numbers if there are any.
    pub fn profile(&self) -> Profile {
        let mut p = self
            .profile
            .clone()
            .unwrap_or_else(|| self.target.adapter().profile());
        if let Some(params) = self.params {
            p.params = params;
        }
        p
    }
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            cases: 200,
            seed: 0,
            target: Target::InProcess(StoreKind::Sqlite),
            max_ops: DEFAULT_MAX_OPS,
            params: None,
            profile: None,
            profile_file: None,
            shard: Shard::WHOLE,
            mix: Mix::Sequential,
            mode: Mode::Deterministic,
            known: Vec::new(),
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
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A failing case, shrunk.
#[derive(Debug, Clone)]
pub struct CaseFailure {
    /// The seed that generates exactly this case (`check --seed CASE_SEED --cases 1`).
    pub case_seed: u64,
    /// The protocol (numbers and choices) the case ran under.
    pub profile: Profile,
    pub original_len: usize,
    pub ops: Vec<Op>,
    pub failure: Failure,
    /// The model's outcome for every op of the shrunk trace.
    pub expected: Vec<Outcome>,
    /// Which build answered each op, when the target says (an upgrade); empty otherwise.
    pub served_by: Vec<Option<String>>,
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
            Finding::Sequential(f) => f.profile.params,
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
    /// Each of the options' known findings by name, and how many cases diverged in its shape
    /// (passed over, not shrunk).
    pub known: Vec<(String, u64)>,
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
        ..Settings::campaign(Capabilities::ALL, max_ops, Default::default())
    };
    case_plan(case_seed, &settings).ops
}

/// Runs `ops` against a fresh system under test, under the target's profile with `params`.
pub fn run_ops(
    target: &Target,
    params: Params,
    token_seed: u64,
    ops: &[Op],
    coverage: Option<&mut Coverage>,
) -> Run {
    run_ops_with(target, &target.profile(params), token_seed, ops, coverage)
}

/// Runs `ops` against a fresh system under test, under `profile`.
pub fn run_ops_with(
    target: &Target,
    profile: &Profile,
    token_seed: u64,
    ops: &[Op],
    coverage: Option<&mut Coverage>,
) -> Run {
    if target.isolates_cases() {
        return run_on_shared_server(target, profile, token_seed, ops, coverage);
    }
    run_as_given(target, profile, token_seed, ops, coverage)
}

/// [`run_ops_with`], keeping only the verdict: the first failure, or `None` when every op
/// passed (see [`lockstep::verdict_with`]). What a campaign's cases, the shrinker and the
/// fuzzer need.
pub fn verdict_with(
    target: &Target,
    profile: &Profile,
    token_seed: u64,
    ops: &[Op],
    coverage: Option<&mut Coverage>,
) -> Option<Failure> {
    if target.isolates_cases() {
        return run_on_shared_server(target, profile, token_seed, ops, coverage).failure;
    }
    match target.driver_with(profile, token_seed) {
        Ok(mut driver) => lockstep::verdict_with(&mut driver, profile, ops, coverage),
        Err(e) => not_started(ops, e),
    }
}

fn run_as_given(
    target: &Target,
    profile: &Profile,
    token_seed: u64,
    ops: &[Op],
    coverage: Option<&mut Coverage>,
) -> Run {
    match target.driver_with(profile, token_seed) {
        Ok(mut driver) => lockstep::run_with(&mut driver, profile, ops, coverage),
        Err(e) => Run {
            steps: Vec::new(),
            failure: not_started(ops, e),
        },
    }
}

/// The failure of a run whose service could not start: its first step.
fn not_started(ops: &[Op], e: DriverError) -> Option<Failure> {
    ops.first().map(|op| Failure {
        step: 0,
        op: op.clone(),
        expected: Outcome::Ok,
        actual: lockstep::Actual::Error(e),
    })
}

/// As [`run_ops_with`] on a server that remembers earlier runs: the run goes out under names no
/// earlier run used, and is reported under the names of `ops` (renaming keeps every index).
fn run_on_shared_server(
    target: &Target,
    profile: &Profile,
    token_seed: u64,
    ops: &[Op],
    coverage: Option<&mut Coverage>,
) -> Run {
    use crate::shared_server::{fresh_suffix, isolate_names, unisolate_outcome};
    let suffix = fresh_suffix();
    let renamed = isolate_names(ops, &suffix);
    let mut run = run_as_given(target, profile, token_seed, &renamed, coverage);
    for step in &mut run.steps {
        unisolate_outcome(&mut step.expected, &suffix);
        if let Some(actual) = &mut step.actual {
            unisolate_outcome(actual, &suffix);
        }
    }
    if let Some(f) = &mut run.failure {
        f.op = ops[f.step].clone();
        unisolate_outcome(&mut f.expected, &suffix);
        if let lockstep::Actual::Outcome(actual) = &mut f.actual {
            unisolate_outcome(actual, &suffix);
        }
    }
    run
}

/// Shrinks a failing run of `ops` (under the target's profile with `params`).
pub fn shrink_failure(
    target: &Target,
    params: Params,
    token_seed: u64,
    ops: &[Op],
    failure: Failure,
) -> (Params, Vec<Op>, Failure) {
    let (profile, ops, failure) =
        shrink_failure_with(target, &target.profile(params), token_seed, ops, failure);
    (profile.params, ops, failure)
}

/// Shrinks a failing run of `ops` against fresh systems under test: the operations first; then,
/// where the target is configured with the case's numbers, the protocol numbers — back toward
/// the defaults (all at once, else one at a time) while the failure stays, and windows halved
/// while that makes the failing trace shorter (a bug found by keeping a session alive until its
/// 12-hour absolute timeout shrinks to a few operations once the timeout is short) — and the
/// operations again under the new numbers. The profile's choices stay as they are.
pub fn shrink_failure_with(
    target: &Target,
    profile: &Profile,
    token_seed: u64,
    ops: &[Op],
    failure: Failure,
) -> (Profile, Vec<Op>, Failure) {
    let with = |params: Params| Profile {
        params,
        ..profile.clone()
    };
    let shrink_ops = |params: Params, ops: &[Op], failure: Failure| {
        let profile = with(params);
        let mut oracle =
            |candidate: &[Op]| verdict_with(target, &profile, token_seed, candidate, None);
        shrink(&profile, ops, failure, &mut oracle)
    };
    let (mut ops, mut failure) = shrink_ops(profile.params, ops, failure);
    // A target that runs its own numbers would not follow other ones: the model would be
    // checking a protocol the service was never configured with.
    if !target.capabilities().params {
        return (profile.clone(), ops, failure);
    }
    let mut params = profile.params;
    let still_fails = |p: Params, ops: &[Op], failure: &Failure| {
        if !crate::shrink::valid(&with(p), ops) {
            return None;
        }
        verdict_with(target, &with(p), token_seed, ops, None).filter(|f| f.same_kind(failure))
    };
    loop {
        // Plainer numbers, for the trace as it is.
        let defaults = Params::default();
        let mut plainer = vec![defaults];
        for key in params.changed() {
            let mut p = params;
            let _ = p.set(key, defaults.get(key).unwrap_or_default());
            plainer.push(p);
        }
        let found = plainer
            .into_iter()
            .filter(|p| *p != params)
            .find_map(|p| still_fails(p, &ops, &failure).map(|f| (p, f)));
        if let Some((p, f)) = found {
            params = p;
            ops.truncate(f.step + 1);
            (ops, failure) = shrink_ops(params, &ops, f);
            continue;
        }
        // Shorter windows, where they let the operations shrink further.
        if ops.len() <= SHORT_TRACE {
            break;
        }
        // The whole trace may pass under a shorter window (the session it kept alive now
        // expires on the way): the shrinker looks for a part of it that still fails, and
        // keeps the trace it started from when there is none.
        let found = shorter_horizons(params).into_iter().find_map(|p| {
            let (shorter, f) = shrink_ops(p, &ops, failure.clone());
            (shorter.len() < ops.len()).then_some((p, shorter, f))
        });
        match found {
            Some((p, shorter, f)) => (params, ops, failure) = (p, shorter, f),
            None => break,
        }
    }
    (with(params), ops, failure)
}

/// A failing trace this short is read at a glance: numbers are not traded for fewer steps.
const SHORT_TRACE: usize = 8;

/// `params` with one window halved (never below one second; the idle timeout kept within the
/// absolute one), each window in turn, longest first.
fn shorter_horizons(params: Params) -> Vec<Params> {
    let mut keys: Vec<&str> = crate::model::params::KEYS
        .into_iter()
        .filter(|k| !matches!(*k, "lockout_threshold" | "mfa_max_attempts"))
        .collect();
    keys.sort_by_key(|k| std::cmp::Reverse(params.get(k).unwrap_or_default()));
    keys.into_iter()
        .filter_map(|key| {
            let value = params.get(key)?;
            let mut p = params;
            p.set(key, value / 2).ok()?;
            (value >= 2 && p.idle_timeout <= p.absolute_timeout).then_some(p)
        })
        .collect()
}

/// Runs the campaign; `progress` is told after every case. Stops at the first failure that is
/// none of the options' known findings.
pub fn check(opts: &CheckOptions, mut progress: impl FnMut(u64)) -> Summary {
    let start = Instant::now();
    let profile = opts.profile();
    let caps = opts.target.capabilities();
    let mut coverage = Coverage::scoped(profile.choices, caps);
    if opts.params.is_some() || !caps.params {
        coverage = coverage.with_fixed_numbers(&profile.params);
    }
    let mut total_ops = 0;
    let mut failure = None;
    let mut known: Vec<(String, u64)> = opts.known.iter().map(|k| (k.name.clone(), 0)).collect();
    let mut cases = 0;
    let mut concurrent_cases = 0;
    let setup = opts
        .target
        .concurrent_setup(&profile, opts.params.is_some(), opts.mode);
    let mut settings =
        Settings::campaign(opts.target.capabilities(), opts.max_ops, profile.choices);
    if opts.params.is_some() || !opts.target.capabilities().params {
        settings.params = Some(profile.params);
    }
    for case in (0..opts.cases).filter(|i| opts.shard.takes(*i)) {
        let case_seed = case_seed(opts.seed, case);
        if opts.mix.concurrent(case) && caps.concurrency {
            let generated = setup.case(case_seed);
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
        let Plan { params, ops } = case_plan(case_seed, &settings);
        let case_profile = Profile {
            params,
            ..profile.clone()
        };
        let verdict = verdict_with(
            &opts.target,
            &case_profile,
            case_seed,
            &ops,
            Some(&mut coverage),
        );
        total_ops += verdict.as_ref().map_or(ops.len(), |f| f.step + 1) as u64;
        cases += 1;
        progress(cases);
        if let Some(f) = verdict {
            if let Some(k) = known::matching(&opts.known, &f) {
                known[k].1 += 1;
                continue;
            }
            let original_len = f.step + 1;
            let (profile, ops, f) =
                shrink_failure_with(&opts.target, &case_profile, case_seed, &ops, f);
            let expected = lockstep::expectations_with(&profile, &ops);
            // Which build answered what is the story of an upgrade's trace: run it once more
            // to record it.
            let served_by = if caps.rollout || caps.crash {
                run_ops_with(&opts.target, &profile, case_seed, &ops, None)
                    .steps
                    .into_iter()
                    .map(|s| s.served_by)
                    .collect()
            } else {
                Vec::new()
            };
            failure = Some(Finding::Sequential(CaseFailure {
                case_seed,
                profile,
                original_len,
                ops,
                failure: f,
                expected,
                served_by,
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
        known,
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
        trace.note_served_by(&self.served_by);
        trace.set_profile(&self.profile);
        trace
    }
}
