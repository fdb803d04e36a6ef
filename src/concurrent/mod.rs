//! Concurrent lockstep: a sequential prefix, then two or three branches that run concurrently
//! against the service; the recorded history must be linearizable with respect to the model.
//!
//! | file | what lives there |
//! |---|---|
//! | [`generate`] | prefix + conflict-seeking branches (same token, same user, logout while refreshing, …) |
//! | [`linearize`] | the checker: WGL-style search with memoisation, partitioned by user |
//! | [`shrink`] | drops branches, branch ops and prefix ops while the failure persists |
//! | this file | raw answers, their abstraction, running one case, the campaign |
//!
//! Branch operations name prefix handles as usual, and their own branch's earlier results as
//! `local#access.N` / `local#refresh.N` (resolved per candidate order by the checker).

pub mod generate;
pub mod linearize;
pub mod shrink;

use crate::adapter::{Adapter, Answer, Caller, Prepare};
use crate::coverage::Coverage;
use crate::driver::{Connection, DriverError, Handles, Mode};
use crate::lockstep::{self, Failure};
use crate::model::{Op, Params, Profile, State, Token};
use crate::trace::{Line, Trace};
use std::sync::Arc;

/// One operation of a concurrent history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub branch: usize,
    /// Position in its branch.
    pub index: usize,
    pub op: Op,
    pub raw: Answer,
    /// Logical invocation and response times: `a` happened before `b` iff `a.ret < b.call`.
    pub call: u64,
    pub ret: u64,
    /// Run after every branch returned (the case's suffix).
    pub after: bool,
}

/// Runs `branches` at once on `rt` (one future per branch, polled together — on a one-thread
/// runtime the interleaving is decided only where the service yields): each branch's
/// operations one after another through `call` (given the operation and the branch's earlier
/// answers), each recorded with logical call and return times; then, once every branch has
/// returned, the `suffix` one after another. The history comes back in call order.
pub fn record<F, Fut>(
    rt: &tokio::runtime::Runtime,
    branches: &[Vec<Op>],
    suffix: &[Op],
    call: F,
) -> Vec<Event>
where
    F: Fn(Op, Vec<Answer>) -> Fut,
    Fut: std::future::Future<Output = Answer>,
{
    use std::sync::atomic::{AtomicU64, Ordering};
    let ticks = AtomicU64::new(0);
    let run = |branch: usize, ops: Vec<Op>, after: bool| {
        let (call, ticks) = (&call, &ticks);
        async move {
            let mut answers: Vec<Answer> = Vec::new();
            let mut events = Vec::new();
            for (index, op) in ops.into_iter().enumerate() {
                let start = ticks.fetch_add(1, Ordering::SeqCst);
                let raw = call(op.clone(), answers.clone()).await;
                let ret = ticks.fetch_add(1, Ordering::SeqCst);
                answers.push(raw.clone());
                events.push(Event {
                    branch,
                    index,
                    op,
                    raw,
                    call: start,
                    ret,
                    after,
                });
            }
            events
        }
    };
    let per_branch: Vec<Vec<Event>> = rt.block_on(async {
        let mut all = futures::future::join_all(
            branches
                .iter()
                .cloned()
                .enumerate()
                .map(|(b, ops)| run(b, ops, false)),
        )
        .await;
        all.push(run(branches.len(), suffix.to_vec(), true).await);
        all
    });
    let mut events: Vec<Event> = per_branch.into_iter().flatten().collect();
    events.sort_by_key(|e| e.call);
    events
}

/// As [`record`], with one OS thread per branch calling `caller` (real concurrency for any
/// service that takes requests from several threads at once).
pub fn record_threads(
    caller: &dyn Caller,
    branches: &[Vec<Op>],
    suffix: &[Op],
    prepare: &Prepare<'_>,
) -> Vec<Event> {
    use std::sync::atomic::{AtomicU64, Ordering};
    let ticks = AtomicU64::new(0);
    let run = |branch: usize, ops: &[Op], after: bool| {
        let mut answers: Vec<Answer> = Vec::new();
        let mut events = Vec::new();
        for (index, op) in ops.iter().enumerate() {
            let request = prepare(op, &answers);
            let call = ticks.fetch_add(1, Ordering::SeqCst);
            let raw = caller.call(&request);
            let ret = ticks.fetch_add(1, Ordering::SeqCst);
            answers.push(raw.clone());
            events.push(Event {
                branch,
                index,
                op: op.clone(),
                raw,
                call,
                ret,
                after,
            });
        }
        events
    };
    let mut events: Vec<Event> = std::thread::scope(|scope| {
        let handles: Vec<_> = branches
            .iter()
            .enumerate()
            .map(|(b, ops)| scope.spawn(move || run(b, ops, false)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    events.extend(run(branches.len(), suffix, true));
    events.sort_by_key(|e| e.call);
    events
}

/// A concurrent case: what runs first, then what runs at once, then what looks at the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// The protocol numbers the case runs under.
    pub params: Params,
    pub prefix: Vec<Op>,
    pub branches: Vec<Vec<Op>>,
    /// Operations run one after another once every branch has returned: they observe what the
    /// race left behind (a lost update to a counter shows only in a later answer).
    pub suffix: Vec<Op>,
}

impl Case {
    /// The same case with `suffix` appended to every user name (see
    /// [`crate::shared_server::isolate_names`]).
    pub fn isolated(&self, suffix: &str) -> Case {
        let rename = |ops: &[Op]| crate::shared_server::isolate_names(ops, suffix);
        Case {
            params: self.params,
            prefix: rename(&self.prefix),
            branches: self.branches.iter().map(|b| rename(b)).collect(),
            suffix: rename(&self.suffix),
        }
    }

    pub fn len(&self) -> usize {
        self.prefix.len() + self.branches.iter().map(Vec::len).sum::<usize>() + self.suffix.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// As a trace file: the prefix with its expectations, `== branch` sections, and the
    /// `== after` section.
    pub fn trace(&self, header: &[String]) -> Trace {
        let mut trace = Trace::new(
            header,
            &self.prefix,
            &lockstep::expectations(self.params, &self.prefix),
        );
        trace.set_params(self.params);
        let unchecked = |op: &Op| Line::Step {
            op: op.clone(),
            expected: None,
        };
        for branch in &self.branches {
            trace.lines.push(Line::Branch);
            trace.lines.extend(branch.iter().map(unchecked));
        }
        if !self.suffix.is_empty() {
            trace.lines.push(Line::After);
            trace.lines.extend(self.suffix.iter().map(unchecked));
        }
        trace
    }

    /// The concurrent case a trace file holds (`None` for a sequential trace).
    pub fn from_trace(trace: &Trace) -> Option<Case> {
        let mut case = Case {
            params: trace.params().unwrap_or_default(),
            prefix: Vec::new(),
            branches: Vec::new(),
            suffix: Vec::new(),
        };
        let mut after = false;
        for line in &trace.lines {
            match line {
                Line::Branch => case.branches.push(Vec::new()),
                Line::After => after = true,
                Line::Step { op, .. } => match case.branches.last_mut() {
                    _ if after => case.suffix.push(op.clone()),
                    Some(b) => b.push(op.clone()),
                    None => case.prefix.push(op.clone()),
                },
                _ => {}
            }
        }
        (!case.branches.is_empty()).then_some(case)
    }
}

/// The concrete string for a branch token: prefix handles from `handles`, local ones from the
/// branch's earlier answers.
pub fn render_local(token: &Token, handles: &Handles, earlier: &[Answer]) -> String {
    match token {
        Token::Local { op, refresh } => match earlier.get(*op) {
            Some(Answer::Tokens {
                access, refresh: r, ..
            }) => {
                if *refresh {
                    r.clone()
                } else {
                    access.clone()
                }
            }
            _ => format!("unresolved_local_{op}"),
        },
        Token::Truncated(inner) => {
            let mut s = render_local(inner, handles, earlier);
            s.pop();
            s
        }
        other => handles.render(other),
    }
}

/// How one concurrent case ended.
#[derive(Debug, Clone)]
pub enum CaseResult {
    Pass,
    /// The sequential prefix already left the model.
    Prefix(Failure),
    /// No order of the concurrent operations explains the answers.
    NotLinearizable {
        events: Vec<Event>,
        verdict: linearize::Verdict,
    },
}

impl CaseResult {
    pub fn failed(&self) -> bool {
        !matches!(self, CaseResult::Pass)
    }
}

/// Where and how concurrent cases run.
#[derive(Clone)]
pub struct Setup {
    pub adapter: Arc<dyn Adapter>,
    /// The protocol (choices, and the numbers unless they are drawn).
    pub profile: Profile,
    /// Draw the protocol numbers per case (parameter swarm) instead of the profile's.
    pub vary_params: bool,
    pub mode: Mode,
}

impl Setup {
    /// How branches actually run: deterministic only where the adapter can schedule them.
    pub fn effective_mode(&self) -> Mode {
        if self.mode == Mode::Deterministic && self.adapter.capabilities().scheduling {
            Mode::Deterministic
        } else {
            Mode::Real
        }
    }

    /// The numbers cases are generated under: `None` draws them.
    pub fn params(&self) -> Option<Params> {
        (!self.vary_params).then_some(self.profile.params)
    }

    /// The profile with a case's numbers.
    fn profile_for(&self, case: &Case) -> Profile {
        Profile {
            params: case.params,
            ..self.profile.clone()
        }
    }

    /// The case of `case_seed` for this setup.
    pub fn case(&self, case_seed: u64) -> Case {
        generate::case(
            case_seed,
            &generate::Settings {
                params: self.params(),
                choices: self.profile.choices,
                caps: self.adapter.capabilities(),
            },
        )
    }
}

/// Runs one case: the prefix in lockstep, then the branches concurrently, then the checker.
pub fn run_case(
    setup: &Setup,
    case: &Case,
    token_seed: u64,
    schedule_seed: u64,
) -> Result<CaseResult, DriverError> {
    run_case_covered(setup, case, token_seed, schedule_seed, None)
}

/// As [`run_case`], recording what the case reached in `coverage`: the prefix as a sequential
/// run does, and which kinds of operations overlapped in time on one account.
pub fn run_case_covered(
    setup: &Setup,
    case: &Case,
    token_seed: u64,
    schedule_seed: u64,
    mut coverage: Option<&mut Coverage>,
) -> Result<CaseResult, DriverError> {
    let profile = setup.profile_for(case);
    // A shared server remembers earlier runs (a retry, a shrink candidate): see shared_server.
    let isolated;
    let case = if setup.adapter.capabilities().fresh_start {
        case
    } else {
        isolated = case.isolated(&crate::shared_server::fresh_suffix());
        &isolated
    };
    let mut driver = Connection::start(setup.adapter.as_ref(), &profile, token_seed)?;
    let run = lockstep::run_with(&mut driver, &profile, &case.prefix, coverage.as_deref_mut());
    if let Some(f) = run.failure {
        return Ok(CaseResult::Prefix(f));
    }
    let mut state = State::with_choices(case.params, profile.choices);
    for op in &case.prefix {
        state.apply(op);
    }
    let handles = driver.handles().clone();
    let events = driver.run_concurrent(
        &case.branches,
        &case.suffix,
        setup.effective_mode(),
        schedule_seed,
    )?;
    if let Some(c) = coverage {
        record_races(c, &state, &events);
    }
    let verdict = linearize::check(&state, &handles, &events, &setup.adapter.observability());
    Ok(if verdict.linearizable {
        CaseResult::Pass
    } else {
        CaseResult::NotLinearizable { events, verdict }
    })
}

/// Every pair of branch operations that overlapped in time on one account.
fn record_races(coverage: &mut Coverage, state: &State, events: &[Event]) {
    let accounts = linearize::accounts(state, events);
    for (i, a) in events.iter().enumerate() {
        for (j, b) in events.iter().enumerate().skip(i + 1) {
            let overlap = a.call < b.ret && b.call < a.ret;
            if overlap
                && a.branch != b.branch
                && accounts[i].is_some()
                && accounts[i] == accounts[j]
            {
                coverage.record_race(a.op.kind(), b.op.kind());
            }
        }
    }
}

/// Whether a case fails under any of `tries` schedules (seeded; in real mode, just re-runs).
pub fn fails(
    setup: &Setup,
    case: &Case,
    token_seed: u64,
    schedule_seed: u64,
    tries: u64,
) -> Option<(u64, CaseResult)> {
    (0..tries).find_map(|i| {
        let seed = schedule_seed.wrapping_add(i);
        match run_case(setup, case, token_seed, seed) {
            Ok(r) if r.failed() => Some((seed, r)),
            _ => None,
        }
    })
}

/// A failing concurrent case, shrunk, with what replays it.
#[derive(Debug, Clone)]
pub struct ConcurrentFailure {
    pub case_seed: u64,
    pub schedule_seed: u64,
    pub original_len: usize,
    pub case: Case,
    pub result: CaseResult,
}

/// What a concurrent campaign did.
#[derive(Debug, Clone)]
pub struct CampaignRun {
    pub cases: u64,
    pub ops: u64,
    pub coverage: Coverage,
    pub failure: Option<ConcurrentFailure>,
}

/// Runs the generated cases of `seed` that `shard` takes, of `cases`; the first failure is
/// shrunk.
pub fn campaign(
    setup: &Setup,
    seed: u64,
    cases: u64,
    shard: crate::campaign::Shard,
    mut progress: impl FnMut(u64),
) -> CampaignRun {
    let mut coverage = Coverage::scoped(setup.profile.choices, setup.adapter.capabilities());
    if !setup.vary_params {
        coverage = coverage.with_fixed_numbers(&setup.profile.params);
    }
    let mut run = CampaignRun {
        cases: 0,
        ops: 0,
        coverage,
        failure: None,
    };
    for i in (0..cases).filter(|i| shard.takes(*i)) {
        let case = setup.case(crate::campaign::case_seed(seed, i));
        run.ops += case.len() as u64;
        run.cases += 1;
        progress(run.cases);
        run.failure = check_case(
            setup,
            crate::campaign::case_seed(seed, i),
            case,
            Some(&mut run.coverage),
        );
        if run.failure.is_some() {
            break;
        }
    }
    run
}

/// Runs one case generated from `case_seed` under a few schedules (two seeded ones in
/// deterministic mode, three re-runs in real mode); a failure comes back shrunk. The first
/// schedule records coverage.
pub fn check_case(
    setup: &Setup,
    case_seed: u64,
    case: Case,
    coverage: Option<&mut Coverage>,
) -> Option<ConcurrentFailure> {
    let tries = if setup.effective_mode() == Mode::Real {
        3
    } else {
        2
    };
    let first = run_case_covered(setup, &case, case_seed, case_seed, coverage);
    let failed = match first {
        Ok(r) if r.failed() => Some(case_seed),
        _ => fails(
            setup,
            &case,
            case_seed,
            case_seed.wrapping_add(1),
            tries - 1,
        )
        .map(|(s, _)| s),
    }?;
    let original_len = case.len();
    let (case, schedule_seed, result) = shrink::shrink(setup, case, case_seed, failed);
    Some(ConcurrentFailure {
        case_seed,
        schedule_seed,
        original_len,
        case,
        result,
    })
}

/// A human report of a failing case: the history and, per dead end, what the model expected.
pub fn report(result: &CaseResult) -> String {
    let mut out = String::new();
    match result {
        CaseResult::Pass => out.push_str("linearizable\n"),
        CaseResult::Prefix(f) => {
            out.push_str(&format!(
                "the sequential prefix failed at step {}: `{}` expected `{}`, service answered `{}`\n",
                f.step + 1,
                f.op,
                f.expected,
                f.actual
            ));
        }
        CaseResult::NotLinearizable { events, verdict } => {
            out.push_str("history (logical call..return time, per branch):\n");
            for e in events {
                let lane = if e.after {
                    "after   ".to_owned()
                } else {
                    format!("branch {}", e.branch + 1)
                };
                out.push_str(&format!(
                    "  [{:>2}..{:>2}] {lane} #{}: {}  →  {}\n",
                    e.call, e.ret, e.index, e.op, e.raw
                ));
            }
            out.push_str("no order of these operations is allowed by the model; every candidate order fails:\n");
            for d in &verdict.dead_ends {
                let order: Vec<String> = d
                    .order
                    .iter()
                    .map(|i| format!("b{}#{}", events[*i].branch + 1, events[*i].index))
                    .collect();
                out.push_str(&format!(
                    "  after [{}]: b{}#{} `{}` — model expected `{}`, service answered `{}`\n",
                    order.join(", "),
                    events[d.event].branch + 1,
                    events[d.event].index,
                    d.op,
                    d.expected,
                    d.actual
                ));
            }
            if verdict.more_dead_ends > 0 {
                out.push_str(&format!("  … and {} more\n", verdict.more_dead_ends));
            }
        }
    }
    out
}
