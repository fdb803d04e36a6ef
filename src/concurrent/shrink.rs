//! Shrinking concurrent cases: drop whole branches, then single branch operations (renumbering
//! branch-local references), suffix operations, then prefix operations, then protocol numbers
//! back to the protocol's defaults, keeping every candidate that still fails (under a few schedules,
//! or a few re-runs in real mode).

use super::{fails, Case, CaseResult, Setup};
use crate::driver::Mode;
use crate::model::{Op, Token};

pub fn shrink(
    setup: &Setup,
    mut case: Case,
    token_seed: u64,
    schedule_seed: u64,
) -> (Case, u64, CaseResult) {
    let tries = if setup.effective_mode() == Mode::Real {
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
        for candidate in candidates(&case, &setup.profile, setup.adapter.capabilities().params)
            .into_iter()
            .filter(|c| measure(c) < size)
        {
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
/// converging branches is progress, and shrinking cannot cycle), then how many protocol numbers
/// differ from the defaults.
fn measure(case: &Case) -> (usize, usize, usize) {
    let mut ops: Vec<&Op> = case.branches.iter().flatten().collect();
    ops.sort();
    ops.dedup();
    (case.len(), ops.len(), case.params.changed().len())
}

/// `configurable`: the target is configured with the case's numbers (else they stay).
fn candidates(case: &Case, base: &crate::model::Profile, configurable: bool) -> Vec<Case> {
    let profile = crate::model::Profile {
        params: case.params,
        ..base.clone()
    };
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
    for i in (0..case.suffix.len()).rev() {
        let mut c = case.clone();
        c.suffix.remove(i);
        out.push(c);
    }
    // Prefix ops: removed with handle remapping over prefix, branches and suffix together (a
    // branch that would lose a handle it names makes the candidate unusable).
    let flat: Vec<Op> = case
        .prefix
        .iter()
        .chain(case.branches.iter().flatten())
        .chain(&case.suffix)
        .cloned()
        .collect();
    for i in (0..case.prefix.len()).rev() {
        let Some(rest) = crate::shrink::remove(&profile, &flat, i..i + 1) else {
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
        let suffix = rest.collect();
        let c = Case {
            params: case.params,
            prefix,
            branches,
            suffix,
        };
        if usable(&c, &profile) {
            out.push(c);
        }
    }
    // MFA accounts made plain, when the race does not need the second factor.
    let bounds = {
        let mut b = vec![case.prefix.len()];
        for branch in &case.branches {
            b.push(b.last().copied().unwrap_or(0) + branch.len());
        }
        b
    };
    for i in 0..case.prefix.len() {
        let Some(kept) = crate::shrink::plain_account(&profile, &flat, i) else {
            continue;
        };
        // Branch ops keep their positions (a dropped one would renumber `local#` refs).
        let dropped_in_branch = (case.prefix.len()..flat.len())
            .any(|j| j < bounds[bounds.len() - 1] && !kept.iter().any(|(k, _)| *k == j));
        if dropped_in_branch {
            continue;
        }
        let part = |lo: usize, hi: usize| -> Vec<Op> {
            kept.iter()
                .filter(|(k, _)| (lo..hi).contains(k))
                .map(|(_, op)| op.clone())
                .collect()
        };
        let c = Case {
            params: case.params,
            prefix: part(0, bounds[0]),
            branches: bounds.windows(2).map(|w| part(w[0], w[1])).collect(),
            suffix: part(bounds[bounds.len() - 1], flat.len()),
        };
        if usable(&c, &profile) {
            out.push(c);
        }
    }
    // Plainer numbers: all defaults, or one number back to its default.
    if !configurable {
        return out;
    }
    let defaults = crate::model::Params::default();
    let mut plainer = vec![defaults];
    for key in case.params.changed() {
        let mut p = case.params;
        let _ = p.set(key, defaults.get(key).unwrap_or_default());
        plainer.push(p);
    }
    for params in plainer.into_iter().filter(|p| *p != case.params) {
        let c = Case {
            params,
            ..case.clone()
        };
        if usable(&c, &profile) {
            out.push(c);
        }
    }
    out
}

/// Whether the prefix is valid under the case's numbers and every later op names only what
/// the prefix issued (or its own branch's answers, or nothing real).
fn usable(c: &Case, profile: &crate::model::Profile) -> bool {
    let profile = crate::model::Profile {
        params: c.params,
        ..profile.clone()
    };
    crate::shrink::valid(&profile, &c.prefix)
        && c.branches
            .iter()
            .flatten()
            .chain(&c.suffix)
            .all(|op| op.token().is_none_or(|t| issued_after(c, &profile, t)))
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
fn issued_after(case: &Case, profile: &crate::model::Profile, t: &Token) -> bool {
    let mut state = crate::model::State::with_choices(case.params, profile.choices);
    for op in &case.prefix {
        state.apply(op);
    }
    matches!(t, Token::Local { .. } | Token::Garbage(_))
        || !state.dangles(&Op::Access { token: t.clone() })
}
