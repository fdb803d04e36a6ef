//! The lockstep check: for each operation the model steps, the driver runs it against the
//! service, and the two outcomes must be equal; the model's invariants must hold after every
//! step. The first difference is the failure.

use crate::adapter::{Control, Observability};
use crate::coverage::Coverage;
use crate::driver::{Driver, DriverError};
use crate::model::{invariants, Op, OpKind, Outcome, OutcomeKind, Params, Profile, State};
use std::ops::ControlFlow;

/// One step as it ran: step `i` of a [`Run`] is the `i`-th of the operations it ran (the
/// record holds no copy of them: a run is read beside its operations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    pub expected: Outcome,
    /// The service's answer (`None` when it could not be abstracted, see the failure, or
    /// when the request was lost in a crash).
    pub actual: Option<Outcome>,
    /// Which build or instance answered, when the target says (an upgrade's mixed window).
    pub served_by: Option<String>,
}

/// What the service did instead of what the model expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actual {
    /// A different answer.
    Outcome(Outcome),
    /// An answer that breaks a rule on its own, or a service failure.
    Error(DriverError),
    /// The model broke one of its own invariants (a bug in the specification).
    Invariant(String),
}

impl std::fmt::Display for Actual {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actual::Outcome(o) => write!(f, "{o}"),
            Actual::Error(e) => write!(f, "{e}"),
            Actual::Invariant(m) => write!(f, "model invariant broken: {m}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// 0-based index of the failing step.
    pub step: usize,
    pub op: Op,
    pub expected: Outcome,
    pub actual: Actual,
}

impl Failure {
    /// Whether two failures are the same bug for the shrinker's purposes: they have one
    /// [`Shape`].
    pub fn same_kind(&self, other: &Failure) -> bool {
        self.shape() == other.shape()
    }

    pub fn shape(&self) -> Shape {
        let answer = match &self.actual {
            Actual::Outcome(_) => Answer::Different,
            Actual::Error(DriverError::Violation(_)) => Answer::Violation,
            Actual::Error(DriverError::Service(_) | DriverError::Lost(_)) => Answer::ServiceFailure,
            Actual::Invariant(_) => Answer::Invariant,
        };
        Shape {
            op: self.op.kind(),
            expected: self.expected.kind(),
            answer,
        }
    }
}

/// The shape of a divergence: the kind of operation that goes wrong, the kind of outcome the
/// model expected there, and the category of the service's answer. Shrinking keeps it (a
/// minimal trace shows the divergence its case showed), and a campaign tells a known bug by
/// it ([`crate::known`]). The exact wrong answer is not part of it, as it may change while the
/// trace gets smaller: "expired instead of revoked" and "refreshed instead of revoked" are one
/// missing revocation seen from two distances. What the model expects is: a service with two
/// bugs on one operation (an old refresh token honoured where reuse must be refused, a revoked
/// one honoured) would otherwise have the first shrunk into the shorter trace of the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub op: OpKind,
    pub expected: OutcomeKind,
    pub answer: Answer,
}

/// The category of the service's answer where it diverged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A different outcome from the model's.
    Different,
    /// An answer that breaks a rule on its own.
    Violation,
    /// A service failure, or a request lost in a crash.
    ServiceFailure,
    /// The model broke one of its own invariants.
    Invariant,
}

/// A whole run: every step up to and including the failing one (`steps[i]` ran `ops[i]`).
#[derive(Debug, Clone, Default)]
pub struct Run {
    pub steps: Vec<StepRecord>,
    pub failure: Option<Failure>,
}

/// Runs `ops` against `driver` beside the model. Stops at the first failure.
pub fn run(
    driver: &mut impl Driver,
    params: Params,
    ops: &[Op],
    coverage: Option<&mut Coverage>,
) -> Run {
    let profile = Profile {
        params,
        ..Profile::default()
    };
    run_with(driver, &profile, ops, coverage)
}

/// [`run`] under a profile's numbers and choices. Answers are compared as the service's API can
/// show them: both sides go through the driver's [`Driver::observability`] projection.
///
/// After a `crash`, the request that was in flight may or may not have taken effect: the check
/// then follows every state that explains what the service has said so far (as a
/// linearizability checker treats a pending operation), and fails only when none does.
pub fn run_with(
    driver: &mut impl Driver,
    profile: &Profile,
    ops: &[Op],
    coverage: Option<&mut Coverage>,
) -> Run {
    run_loop(driver, profile, ops, coverage, true)
}

/// [`run_with`], keeping only the verdict: the first failure, or `None` when every op passed.
/// What campaigns, the shrinker and the fuzzer need of a run; it records no steps (nor asks
/// the driver which build served each), so checking costs less.
pub fn verdict_with(
    driver: &mut impl Driver,
    profile: &Profile,
    ops: &[Op],
    coverage: Option<&mut Coverage>,
) -> Option<Failure> {
    run_loop(driver, profile, ops, coverage, false).failure
}

/// The lockstep loop of [`run_with`] and [`verdict_with`]: it records the passing steps only
/// when `record` (the failing one always).
fn run_loop(
    driver: &mut impl Driver,
    profile: &Profile,
    ops: &[Op],
    mut coverage: Option<&mut Coverage>,
    record: bool,
) -> Run {
    let mut state = Spare::take(profile);
    // Other states that explain every answer so far (only after a lost request).
    let mut others: Vec<State> = Vec::new();
    let mut crash_armed = false;
    let seen = driver.observability();
    let mut out = Run {
        steps: Vec::with_capacity(if record { ops.len() } else { 0 }),
        failure: None,
    };
    // The invariants' view of the state before each step (`check` moves it on).
    let mut before = invariants::Snapshot::of(&state);
    // Up to the first crash, a verdict needs none of the loop's bookkeeping below.
    let plain = if !record {
        match plain_steps(driver, &mut state, &mut before, seen, ops, &mut coverage) {
            ControlFlow::Continue(passed) => passed,
            ControlFlow::Break(failed) => return failed,
        }
    } else {
        0
    };
    for (i, op) in ops.iter().enumerate().skip(plain) {
        // Whether a crash may lose this op's effect: only asked once a crash is armed (reading
        // an operation's kind costs a dozen instructions, a tenth of the loop's own).
        let losable = crash_armed && Control::is_request(op);
        // Every explanation before a request that a crash may lose (a Vec: moved on every step,
        // so it should be small).
        let before_crash: Option<Vec<State>> =
            losable.then(|| std::iter::once(&*state).chain(&others).cloned().collect());
        let mut expected = model_step(&mut state, op, &mut coverage);
        // (Asked only when there are others: collecting from none cost every step a tenth of
        // the loop's own time.)
        let mut other_expected: Vec<Outcome> = if others.is_empty() {
            Vec::new()
        } else {
            others.iter_mut().map(|s| s.apply(op)).collect()
        };
        if let Err(m) = invariants::check(&mut before, op, &expected, &state) {
            let broken = Actual::Invariant(m.to_string());
            return finish(out, i, op, expected, None, broken, None);
        }
        let answer = driver.apply(op);
        if matches!(op, Op::Crash) {
            crash_armed = true;
        } else if losable {
            crash_armed = false;
        }
        // The answer is read where it lies: moving it (or the model's outcome) into another
        // slot on every step stalled the loop on reading it back (perf), for a verdict that
        // only compares and drops them.
        match &answer {
            Ok(actual) => {
                // Keep the explanations that predicted this answer; the first is reported.
                let explains = |e: &Outcome| seen.agree(e, actual);
                if !explains(&expected) {
                    match other_expected.iter().position(explains) {
                        Some(k) => {
                            std::mem::swap(&mut *state, &mut others[k]);
                            std::mem::swap(&mut expected, &mut other_expected[k]);
                            before.retake(&state);
                        }
                        None => {
                            let failed = Actual::Outcome(actual.clone());
                            let by = driver.served_by();
                            return finish(out, i, op, expected, answer.ok(), failed, by);
                        }
                    }
                }
                if !others.is_empty() {
                    let kept: Vec<State> = others
                        .drain(..)
                        .zip(other_expected)
                        .filter(|(_, e)| explains(e))
                        .map(|(s, _)| s)
                        .collect();
                    others = dedup(kept, &state);
                }
            }
            Err(DriverError::Lost(_)) if before_crash.is_some() => {
                // Either the request never took effect, or it did and its answer was lost:
                // every explanation so far splits in two.
                let mut all = Vec::new();
                for s in before_crash.into_iter().flatten() {
                    let mut applied = s.clone();
                    applied.apply_unanswered(op);
                    all.push(s);
                    all.push(applied);
                }
                *state = all.remove(0);
                others = dedup(all, &state);
                before.retake(&state);
            }
            Err(e) => {
                let (e, by) = (e.clone(), driver.served_by());
                return finish(out, i, op, expected, None, Actual::Error(e), by);
            }
        }
        if record {
            out.steps.push(StepRecord {
                expected,
                // `None`: lost in a crash.
                actual: answer.ok(),
                served_by: driver.served_by(),
            });
        }
    }
    out
}

/// The model's step of `op`, with what it covered recorded when a campaign asks for coverage
/// (which looks at the state before and after).
#[inline(always)]
fn model_step(state: &mut State, op: &Op, coverage: &mut Option<&mut Coverage>) -> Outcome {
    let Some(c) = coverage.as_deref_mut() else {
        return state.apply(op);
    };
    c.record_deadlines(state, op);
    let marks = state.limit_marks(op);
    let expected = state.apply(op);
    c.record(op.kind(), expected.kind());
    for limit in state.limits_reached(&marks) {
        c.record_limit(limit, op.kind());
    }
    expected
}

/// The steps of a verdict before the first `crash`: with no crash armed there is one
/// explanation of the service's answers, and with no records to keep a step is the model's
/// (and its coverage, if asked), the invariants' and the service's answers compared. Written
/// apart from [`run_loop`]'s general step, which costs a quarter more instructions for the
/// bookkeeping this stretch does not need (what a crash may lose, other explanations,
/// records). `Continue(n)`: the first `n` ops passed and `ops[n]`, if any, is a `crash`;
/// `Break`: the failed run.
fn plain_steps(
    driver: &mut impl Driver,
    state: &mut State,
    before: &mut invariants::Snapshot,
    seen: Observability,
    ops: &[Op],
    coverage: &mut Option<&mut Coverage>,
) -> ControlFlow<Run, usize> {
    for (i, op) in ops.iter().enumerate() {
        if matches!(op, Op::Crash) {
            return ControlFlow::Continue(i);
        }
        let expected = model_step(state, op, coverage);
        if let Err(m) = invariants::check(before, op, &expected, state) {
            let broken = Actual::Invariant(m.to_string());
            return ControlFlow::Break(finish(Run::default(), i, op, expected, None, broken, None));
        }
        // Read where it lies, as in `run_loop`.
        let answer = driver.apply(op);
        let failed = match &answer {
            Ok(actual) if seen.agree(&expected, actual) => continue,
            Ok(actual) => Actual::Outcome(actual.clone()),
            Err(e) => Actual::Error(e.clone()),
        };
        let (actual, by) = (answer.ok(), driver.served_by());
        return ControlFlow::Break(finish(Run::default(), i, op, expected, actual, failed, by));
    }
    ControlFlow::Continue(ops.len())
}

/// The run so far, ending with the failing step `i`.
fn finish(
    mut out: Run,
    i: usize,
    op: &Op,
    expected: Outcome,
    actual: Option<Outcome>,
    failed: Actual,
    served_by: Option<String>,
) -> Run {
    out.failure = Some(Failure {
        step: i,
        op: op.clone(),
        expected: expected.clone(),
        actual: failed,
    });
    out.steps.push(StepRecord {
        expected,
        actual,
        served_by,
    });
    out
}

thread_local! {
    /// The model state of the last run on this thread, kept to be reset rather than grown again.
    static SPARE: std::cell::Cell<Option<State>> = const { std::cell::Cell::new(None) };
}

/// A run's model state: the thread's spare one reset (or a new one), given back when the run
/// ends. A campaign, the shrinker and the fuzzer run thousands of short traces one after
/// another; growing each run's lists from empty again was a tenth of the check's instructions.
struct Spare(State);

impl Spare {
    fn take(profile: &Profile) -> Spare {
        let mut state = SPARE.take().unwrap_or_default();
        state.reset(profile.params, profile.choices);
        Spare(state)
    }
}

impl Drop for Spare {
    fn drop(&mut self) {
        SPARE.set(Some(std::mem::take(&mut self.0)));
    }
}

impl std::ops::Deref for Spare {
    type Target = State;
    fn deref(&self) -> &State {
        &self.0
    }
}

impl std::ops::DerefMut for Spare {
    fn deref_mut(&mut self) -> &mut State {
        &mut self.0
    }
}

/// `states` without duplicates and without `primary`.
fn dedup(states: Vec<State>, primary: &State) -> Vec<State> {
    let mut out: Vec<State> = Vec::new();
    for s in states {
        if &s != primary && !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// The model's outcomes for `ops`, without any service (for printing expectations).
pub fn expectations(params: Params, ops: &[Op]) -> Vec<Outcome> {
    let mut state = State::new(params);
    ops.iter().map(|op| state.apply(op)).collect()
}

/// [`expectations`] under a profile's choices.
pub fn expectations_with(profile: &Profile, ops: &[Op]) -> Vec<Outcome> {
    let mut state = State::with_choices(profile.params, profile.choices);
    ops.iter().map(|op| state.apply(op)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A service that answers as the model does, except at step `wrong` (if any), where it
    /// answers `Done` (an even step) or fails (an odd one); it names itself on every answer.
    struct Spec {
        state: State,
        step: usize,
        wrong: Option<usize>,
    }

    impl Driver for Spec {
        fn apply(&mut self, op: &Op) -> Result<Outcome, DriverError> {
            let right = self.state.apply(op);
            self.step += 1;
            match self.wrong == Some(self.step - 1) && right != Outcome::Done {
                true if self.step % 2 == 0 => Err(DriverError::Service("down".into())),
                true => Ok(Outcome::Done),
                false => Ok(right),
            }
        }

        fn served_by(&self) -> Option<String> {
            Some(format!("spec, step {}", self.step))
        }
    }

    #[test]
    fn the_verdict_and_its_coverage_are_those_a_recorded_run_reports() {
        let profile = Profile::default();
        let (mut failed, mut crashed) = (0, 0);
        // Crashes too: a verdict steps a plain loop up to the first, and the general one after.
        let settings = crate::generate::Settings {
            params: Some(profile.params),
            ..crate::generate::Settings::campaign(
                crate::adapter::Capabilities {
                    crash: true,
                    ..crate::adapter::Capabilities::ALL
                },
                40,
                Default::default(),
            )
        };
        for seed in 0..20 {
            let ops = crate::campaign::case_plan(seed, &settings).ops;
            crashed += usize::from(ops.contains(&Op::Crash));
            for wrong in std::iter::once(None).chain((0..ops.len()).map(Some)) {
                let spec = || Spec {
                    state: State::new(profile.params),
                    step: 0,
                    wrong,
                };
                let (mut run_covered, mut verdict_covered) =
                    (Coverage::default(), Coverage::default());
                let run = run_with(&mut spec(), &profile, &ops, Some(&mut run_covered));
                let verdict = verdict_with(&mut spec(), &profile, &ops, Some(&mut verdict_covered));
                assert_eq!(verdict, run.failure, "seed {seed}, wrong at {wrong:?}");
                assert_eq!(
                    verdict_covered, run_covered,
                    "seed {seed}, wrong at {wrong:?}"
                );
                assert_eq!(
                    verdict_with(&mut spec(), &profile, &ops, None),
                    verdict,
                    "seed {seed}, wrong at {wrong:?}: coverage changed the verdict"
                );
                let ran = run.failure.as_ref().map_or(ops.len(), |f| f.step + 1);
                assert_eq!(
                    run.steps.len(),
                    ran,
                    "seed {seed}: one record per step that ran"
                );
                assert!(run.steps.iter().all(|s| s.served_by.is_some()));
                failed += usize::from(verdict.is_some());
            }
        }
        assert!(
            failed > 500,
            "only {failed} runs failed: the spec driver is not wrong enough"
        );
        assert!(crashed >= 3, "only {crashed} traces crash the service");
    }
}
