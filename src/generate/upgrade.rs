//! Upgrade steps laid over a generated trace, for targets that can roll out a new build and be
//! crashed (`authcheck upgrade`): where the mixed window opens and closes, whether the update
//! is rolled back (before or after `finalize`), and which requests die in a crash. The trace
//! under them is an ordinary case, so every kind of request meets every phase of the rollout,
//! and a request that dies in a crash is, like a real client's, usually sent again.

use crate::adapter::{Capabilities, Control};
use crate::model::{Op, RolloutStep};
use arbitrary::{Result, Unstructured};

/// `ops` with rollout steps and crashes woven in, as `caps` allows.
pub fn weave(u: &mut Unstructured<'_>, ops: Vec<Op>, caps: Capabilities) -> Vec<Op> {
    let plan = if caps.rollout {
        rollout_plan(u, ops.len()).unwrap_or_default()
    } else {
        Vec::new()
    };
    let mut out = Vec::with_capacity(ops.len() + plan.len() + 8);
    for (i, op) in ops.into_iter().enumerate() {
        out.extend(
            plan.iter()
                .filter(|(at, _)| *at == i)
                .map(|(_, step)| Op::Rollout { step: *step }),
        );
        // One request in about ten dies with the instance that serves it; a client whose
        // request died usually sends it again.
        if caps.crash && Control::is_request(&op) && u.ratio(1, 10).unwrap_or(false) {
            out.push(Op::Crash);
            if u.ratio(2, 3).unwrap_or(false) {
                out.push(op.clone());
            }
        }
        out.push(op);
    }
    out
}

/// Positions (before operation `at`) and steps: a mixed window that opens in the first half
/// and mostly closes, then perhaps a finalize, a rollback (refused after finalize), a second
/// rollout.
fn rollout_plan(u: &mut Unstructured<'_>, len: usize) -> Result<Vec<(usize, RolloutStep)>> {
    if len < 2 {
        return Ok(Vec::new());
    }
    let mut plan = Vec::new();
    let mut at = u.int_in_range(0..=len / 2)?;
    let next = |u: &mut Unstructured<'_>, at: usize| -> Result<usize> {
        Ok((at + u.int_in_range(1..=len.div_ceil(3).max(1))?).min(len - 1))
    };
    plan.push((at, RolloutStep::Start));
    // Sometimes the window never closes: the case ends mixed.
    if u.ratio(3, 4)? {
        at = next(u, at)?;
        // Rolled back from the mixed window, or finished first.
        if u.ratio(1, 4)? {
            plan.push((at, RolloutStep::Rollback));
        } else {
            plan.push((at, RolloutStep::Finish));
            if u.ratio(1, 3)? {
                at = next(u, at)?;
                plan.push((at, RolloutStep::Finalize));
            }
            if u.ratio(1, 2)? {
                at = next(u, at)?;
                plan.push((at, RolloutStep::Rollback));
            }
        }
        // And the update tried again.
        if u.ratio(1, 3)? {
            at = next(u, at)?;
            plan.push((at, RolloutStep::Start));
            if u.ratio(1, 2)? {
                plan.push((next(u, at)?, RolloutStep::Finish));
            }
        }
    }
    Ok(plan)
}
