//! Shrinking concurrent cases: drop whole branches, then single branch operations (renumbering
//! branch-local references), then prefix operations, keeping every candidate that still fails
//! (under a few schedules, or a few re-runs in real mode).

use super::{fails, Case, CaseResult, Setup};
use crate::driver::Mode;
use crate::model::{Op, Token};

pub fn shrink(
    setup: &Setup,
    mut case: Case,
    token_seed: u64,
    schedule_seed: u64,
) -> (Case, u64, CaseResult) {
    let tries = if setup.mode == Mode::Real || setup.http.is_some() {
        5
    } else {
        16
    };
    let first = fails(setup, &case, token_seed, schedule_seed, 1)
        .or_else(|| fails(setup, &case, token_seed, schedule_seed, tries));
    let Some((mut seed, mut result)) = first else {
        return (case, schedule_seed, CaseResult::Pass);
    };
    loop {
        let mut progress = false;
        let size = measure(&case);
        for candidate in candidates(&case).into_iter().filter(|c| measure(c) < size) {
            // The seed that failed first, then a few others.
            if let Some((s, r)) = fails(setup, &candidate, token_seed, seed, 1)
                .or_else(|| fails(setup, &candidate, token_seed, seed.wrapping_add(1), tries))
            {
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

/// What shrinking decreases: length first, then how many different branch ops there are (so
/// converging branches is progress, and shrinking cannot cycle).
fn measure(case: &Case) -> (usize, usize) {
    let mut ops: Vec<&Op> = case.branches.iter().flatten().collect();
    ops.sort();
    ops.dedup();
    (case.len(), ops.len())
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
    // Converge: an op takes the place of another branch's op (two devices doing the same thing
    // is the smallest race there is).
    for (a, branch_a) in case.branches.iter().enumerate() {
        for op in branch_a
            .iter()
            .filter(|op| !matches!(op.token(), Some(Token::Local { .. })))
        {
            for (b, branch_b) in case.branches.iter().enumerate() {
                for j in 0..branch_b.len() {
                    if a != b && branch_b[j] != *op && !references_local(branch_b, j) {
                        let mut c = case.clone();
                        c.branches[b][j] = op.clone();
                        out.push(c);
                    }
                }
            }
        }
    }
    // Prefix ops: removed with handle remapping over prefix and branches together (a branch
    // that would lose a handle it names makes the candidate unusable).
    let flat: Vec<Op> = case
        .prefix
        .iter()
        .chain(case.branches.iter().flatten())
        .cloned()
        .collect();
    for i in (0..case.prefix.len()).rev() {
        let Some(rest) = crate::shrink::remove(crate::model::Params::default(), &flat, i..i + 1)
        else {
            continue;
        };
        if rest.len() + 1 != flat.len() {
            continue;
        }
        let mut rest = rest.into_iter();
        let prefix: Vec<Op> = rest.by_ref().take(case.prefix.len() - 1).collect();
        let branches = case
            .branches
            .iter()
            .map(|b| rest.by_ref().take(b.len()).collect())
            .collect();
        let c = Case { prefix, branches };
        if crate::shrink::valid(crate::model::Params::default(), &c.prefix)
            && c.branches
                .iter()
                .flatten()
                .all(|op| op.token().is_none_or(|t| issued_after(&c.prefix, t)))
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

/// Whether a later op of the branch names op `j`'s tokens.
fn references_local(branch: &[Op], j: usize) -> bool {
    branch
        .iter()
        .any(|op| matches!(op.token(), Some(Token::Local { op, .. }) if *op == j))
}

/// Whether a branch token names something the prefix issued (or is local or hostile).
fn issued_after(prefix: &[Op], t: &Token) -> bool {
    let mut state = crate::model::State::new(crate::model::Params::default());
    for op in prefix {
        state.apply(op);
    }
    matches!(t, Token::Local { .. } | Token::Garbage(_))
        || !state.dangles(&Op::Access { token: t.clone() })
}
