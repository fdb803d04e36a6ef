//! The lockstep check: for each operation the model steps, the driver runs it against the
//! service, and the two outcomes must be equal; the model's invariants must hold after every
//! step. The first difference is the failure.

use crate::coverage::Coverage;
use crate::driver::{Driver, DriverError};
use crate::model::{invariants, Op, Outcome, Params, Profile, State};

/// One step as it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    pub op: Op,
    pub expected: Outcome,
    /// The service's answer (`None` when it could not be abstracted, see the failure).
    pub actual: Option<Outcome>,
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
    /// Whether two failures are the same bug for the shrinker's purposes: the same kind of
    /// operation goes wrong, in the same category (a different answer, a protocol violation, a
    /// service failure, a broken model invariant). The exact wrong answer may change as the
    /// trace gets smaller: "expired instead of revoked" and "refreshed instead of revoked" are
    /// one missing revocation seen from two distances.
    pub fn same_kind(&self, other: &Failure) -> bool {
        let category = |a: &Actual| match a {
            Actual::Outcome(_) => 0,
            Actual::Error(DriverError::Violation(_)) => 1,
            Actual::Error(DriverError::Service(_)) => 2,
            Actual::Invariant(_) => 3,
        };
        self.op.kind() == other.op.kind() && category(&self.actual) == category(&other.actual)
    }
}

/// A whole run: every step up to and including the failing one.
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
pub fn run_with(
    driver: &mut impl Driver,
    profile: &Profile,
    ops: &[Op],
    mut coverage: Option<&mut Coverage>,
) -> Run {
    let mut state = State::with_choices(profile.params, profile.choices);
    let seen = driver.observability();
    let mut out = Run::default();
    for (i, op) in ops.iter().enumerate() {
        let before = invariants::Snapshot::of(&state);
        // Coverage looks at the state before and after (only when a campaign asks for it).
        let marks = coverage.as_deref_mut().map(|c| {
            c.record_deadlines(&state, op);
            state.limit_marks(op)
        });
        let expected = state.apply(op);
        if let (Some(c), Some(marks)) = (coverage.as_deref_mut(), marks) {
            c.record(op.kind(), expected.kind());
            for limit in state.limits_reached(&marks) {
                c.record_limit(limit, op.kind());
            }
        }
        let fail = |actual| Failure {
            step: i,
            op: op.clone(),
            expected: expected.clone(),
            actual,
        };
        if let Err(m) = invariants::check(&before, op, &expected, &state) {
            out.failure = Some(fail(Actual::Invariant(m)));
            out.steps.push(StepRecord {
                op: op.clone(),
                expected,
                actual: None,
            });
            return out;
        }
        match driver.apply(op) {
            Ok(actual) if seen.project(&actual) == seen.project(&expected) => {
                out.steps.push(StepRecord {
                    op: op.clone(),
                    expected,
                    actual: Some(actual),
                });
            }
            Ok(actual) => {
                out.failure = Some(fail(Actual::Outcome(actual.clone())));
                out.steps.push(StepRecord {
                    op: op.clone(),
                    expected,
                    actual: Some(actual),
                });
                return out;
            }
            Err(e) => {
                out.failure = Some(fail(Actual::Error(e)));
                out.steps.push(StepRecord {
                    op: op.clone(),
                    expected,
                    actual: None,
                });
                return out;
            }
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
