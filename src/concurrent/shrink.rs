//! Shrinking concurrent cases: drop whole branches, then single branch operations (renumbering
//! branch-local references), then prefix operations, keeping every candidate that still fails
//! (under a few schedules, or a few re-runs in real mode).

use super::{fails, Case, CaseResult, Setup};
use crate::driver::Mode;
use crate::model::{Op, Token};

pub fn shrink(setup: &Setup, mut case: Case, token_seed: u64, schedule_seed: u64) -> (Case, u64, CaseResult) {
    let tries = if setup.mode == Mode::Real { 5 } else { 16 };
    let mut best = fails(setup, &case, token_seed, schedule_seed, 1)
        .or_else(|| fails(setup, &case, token_seed, schedule_seed, tries))
        .map(|(s, r)| (s, r));
    let Some((mut seed, mut result)) = best.take() else { return (case, schedule_seed, CaseResult::Pass) };
    loop {
        let mut progress = false;
        for candidate in candidates(&case) {
            // The seed that failed first, then a few others.
            if let Some((s, r)) = fails(setup, &candidate, token_seed, seed, 1).or_else(|| fails(setup, &candidate, token_seed, seed.wrapping_add(1), tries)) {
                case = candidate;
                seed = s;
                result = r;
                progress = true;
                break;
            }
        }
        if !progress {
            return (case, seed, result);
        }
    }
}

fn candidates(case: &Case) -> Vec<Case> {
    let mut out = Vec::new();
    for b in 0..case.branches.len() {
        if case.branches.len() > 1 {
            let mut c = case.clone();
            c.branches.remove(b);
            out.push(c);
        }
    }
    for b in 0..case.branches.len() {
        for i in (0..case.branches[b].len()).rev() {
            if case.branches[b].len() > 1 {
                if let Some(branch) = without(&case.branches[b], i) {
                    let mut c = case.clone();
                    c.branches[b] = branch;
                    out.push(c);
                }
            }
        }
    }
    // Prefix ops: removed with handle remapping over prefix and branches together (a branch
    // that would lose a handle it names makes the candidate unusable).
    let flat: Vec<Op> = case.prefix.iter().chain(case.branches.iter().flatten()).cloned().collect();
    for i in (0..case.prefix.len()).rev() {
        let Some(rest) = crate::shrink::remove(crate::model::Params::default(), &flat, i..i + 1) else { continue };
        if rest.len() + 1 != flat.len() {
            continue;
        }
        let mut rest = rest.into_iter();
        let prefix: Vec<Op> = rest.by_ref().take(case.prefix.len() - 1).collect();
        let branches = case.branches.iter().map(|b| rest.by_ref().take(b.len()).collect()).collect();
        let c = Case { prefix, branches };
        if crate::shrink::valid(crate::model::Params::default(), &c.prefix)
            && c.branches.iter().flatten().all(|op| op.token().is_none_or(|t| issued_after(&c.prefix, t)))
        {
            out.push(c);
        }
    }
    out
}

/// A branch without op `i`; later local references are renumbered, references to `i` dropped.
fn without(branch: &[Op], i: usize) -> Option<Vec<Op>> {
    let mut out = Vec::new();
    for (j, op) in branch.iter().enumerate() {
        if j == i {
            continue;
        }
        let mut op = op.clone();
        if let Some(Token::Local { op: k, refresh }) = op.token().cloned() {
            if k == i {
                continue;
            }
            if k > i {
                *op.token_mut()? = Token::Local { op: k - 1, refresh };
            }
        }
        out.push(op);
    }
    (!out.is_empty()).then_some(out)
}

/// Whether a branch token names something the prefix issued (or is local or hostile).
fn issued_after(prefix: &[Op], t: &Token) -> bool {
    let mut state = crate::model::State::new(crate::model::Params::default());
    for op in prefix {
        state.apply(op);
    }
    matches!(t, Token::Local { .. } | Token::Garbage(_)) || !state.dangles(&Op::Access { token: t.clone() })
}
