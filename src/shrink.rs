//! Shrinking works on traces, not bytes: delete operations (chunks, then single ones), merge and
//! shorten ticks, simplify arguments — keeping the trace valid under the model — until no
//! smaller trace still fails the same way.
//!
//! Deleting an operation that created a session (or a token, or a challenge) would shift every
//! later handle. So a deletion re-runs the model and maps each old handle to the handle the same
//! surviving operation creates now; operations left naming a handle that no longer exists are
//! dropped with it.

use crate::lockstep::Failure;
use crate::model::accounts::canonical;
use crate::model::{Op, Profile, State, Token};
use std::collections::HashMap;

/// Runs a candidate trace and returns its failure, if any.
pub trait Oracle {
    fn failure(&mut self, ops: &[Op]) -> Option<Failure>;
}

impl<F: FnMut(&[Op]) -> Option<Failure>> Oracle for F {
    fn failure(&mut self, ops: &[Op]) -> Option<Failure> {
        self(ops)
    }
}

/// The smallest trace found that still fails like `failure`, and its failure.
pub fn shrink(
    profile: &Profile,
    ops: &[Op],
    failure: Failure,
    oracle: &mut impl Oracle,
) -> (Vec<Op>, Failure) {
    let mut best = ops[..=failure.step.min(ops.len().saturating_sub(1))].to_vec();
    let mut best_failure = failure;
    let mut accept = |candidate: Vec<Op>, best: &mut Vec<Op>, best_failure: &mut Failure| -> bool {
        if candidate.len() > best.len() || candidate == *best || !valid(profile, &candidate) {
            return false;
        }
        match oracle.failure(&candidate) {
            Some(f) if f.same_kind(best_failure) => {
                *best = candidate[..=f.step].to_vec();
                *best_failure = f;
                true
            }
            _ => false,
        }
    };
    loop {
        let mut progress = false;
        // Chunks of decreasing size, from the end (later ops depend on earlier ones).
        let mut size = (best.len() / 2).max(1);
        loop {
            let mut start = best.len().saturating_sub(size);
            loop {
                if start + size <= best.len() {
                    if let Some(candidate) = remove(profile, &best, start..start + size) {
                        if accept(candidate, &mut best, &mut best_failure) {
                            progress = true;
                            start = start.min(best.len());
                            continue;
                        }
                    }
                }
                if start == 0 {
                    break;
                }
                start -= 1;
            }
            if size == 1 {
                break;
            }
            size /= 2;
        }
        // Per-operation rewrites, in order: ticks (merge neighbours, then shorten); tokens (an
        // earlier handle of the same kind, so the ops that made the later one can go);
        // arguments (plainer names, devices, scopes, garbage).
        let rewrites: [Rewrite; 5] = [
            tick_candidates,
            earlier_tokens,
            simpler_arguments,
            plainer_password,
            without_mfa,
        ];
        for rewrite in rewrites {
            let mut i = 0;
            while i < best.len() {
                // The first rewrite of this op that still fails wins.
                let candidates = rewrite(profile, &best, i);
                if candidates
                    .into_iter()
                    .any(|c| accept(c, &mut best, &mut best_failure))
                {
                    progress = true;
                }
                i += 1;
            }
        }
        if !progress {
            return (best, best_failure);
        }
    }
}

/// Candidate replacements of the trace that change operation `i` (and what depends on it).
type Rewrite = fn(&Profile, &[Op], usize) -> Vec<Vec<Op>>;

/// Whether no operation names a handle that does not exist at that point.
pub fn valid(profile: &Profile, ops: &[Op]) -> bool {
    let mut state = State::with_choices(profile.params, profile.choices);
    ops.iter().all(|op| {
        let ok = !state.dangles(op);
        state.apply(op);
        ok
    })
}

/// What an operation created, in handles.
#[derive(Default, Clone)]
struct Created {
    session: Option<usize>,
    /// (session, generation) pairs first issued by this op.
    generations: Vec<(usize, u64)>,
    access: Option<usize>,
    challenge: Option<usize>,
}

/// The handle counts of a state (what `created` compares; cheaper than a copy of the state).
struct Counts {
    sessions: usize,
    access: usize,
    challenges: usize,
    generations: Vec<u64>,
}

impl Counts {
    fn of(s: &State) -> Self {
        Counts {
            sessions: s.sessions.len(),
            access: s.access.len(),
            challenges: s.challenges.len(),
            generations: s.sessions.iter().map(|x| x.generation).collect(),
        }
    }
}

fn created(before: &Counts, after: &State) -> Created {
    let mut c = Created {
        session: (after.sessions.len() > before.sessions).then(|| after.sessions.len() - 1),
        access: (after.access.len() > before.access).then(|| after.access.len() - 1),
        challenge: (after.challenges.len() > before.challenges).then(|| after.challenges.len() - 1),
        generations: Vec::new(),
    };
    for (i, s) in after.sessions.iter().enumerate() {
        match before.generations.get(i) {
            None => c.generations.push((i, 0)),
            Some(g) if s.generation > *g => c.generations.push((i, s.generation)),
            _ => {}
        }
    }
    c
}

/// What an op's token meant when it ran, beyond its handle: "the current refresh token of
/// session s" (or the one before it), "the latest access token of session s". When a deletion
/// removes the op that issued the handle, the op keeps its meaning instead of being dropped:
/// deleting one of three rotations leaves "refresh the current token" a refresh of the current
/// token.
#[derive(Clone, Copy)]
enum Intent {
    None,
    RefreshBack { session: usize, back: u64 },
    LatestAccess { session: usize },
}

fn intent(s: &State, op: &Op) -> Intent {
    match op.token() {
        Some(Token::Refresh {
            session,
            generation,
        }) => match s.sessions.get(*session) {
            Some(x) if *generation <= x.generation => Intent::RefreshBack {
                session: *session,
                back: x.generation - generation,
            },
            _ => Intent::None,
        },
        Some(Token::Access(k)) => match s.access.get(*k) {
            Some(t) if s.access.iter().rposition(|a| a.session == t.session) == Some(*k) => {
                Intent::LatestAccess { session: t.session }
            }
            _ => Intent::None,
        },
        _ => Intent::None,
    }
}

#[derive(Default)]
struct Maps {
    sessions: HashMap<usize, usize>,
    generations: HashMap<(usize, u64), (usize, u64)>,
    access: HashMap<usize, usize>,
    challenges: HashMap<usize, usize>,
}

impl Maps {
    fn token(&self, t: &Token) -> Option<Token> {
        Some(match t {
            Token::Access(k) => Token::Access(*self.access.get(k)?),
            Token::Refresh {
                session,
                generation,
            } => {
                let (session, generation) = *self.generations.get(&(*session, *generation))?;
                Token::Refresh {
                    session,
                    generation,
                }
            }
            Token::ForgedV2 {
                session,
                generation,
            } => {
                let (session, generation) = *self.generations.get(&(*session, *generation))?;
                Token::ForgedV2 {
                    session,
                    generation,
                }
            }
            Token::Challenge(c) => Token::Challenge(*self.challenges.get(c)?),
            Token::Truncated(inner) => Token::Truncated(Box::new(self.token(inner)?)),
            Token::Garbage(g) => Token::Garbage(g.clone()),
            Token::Local { op, refresh } => Token::Local {
                op: *op,
                refresh: *refresh,
            },
        })
    }

    /// The token with the same meaning in the candidate's `state`.
    fn by_intent(&self, intent: Intent, state: &State) -> Option<Token> {
        match intent {
            Intent::None => None,
            Intent::RefreshBack { session, back } => {
                let s = *self.sessions.get(&session)?;
                let current = state.sessions.get(s)?.generation;
                Some(Token::Refresh {
                    session: s,
                    generation: current.checked_sub(back)?,
                })
            }
            Intent::LatestAccess { session } => {
                let s = *self.sessions.get(&session)?;
                let k = state.access.iter().rposition(|a| a.session == s)?;
                Some(Token::Access(k))
            }
        }
    }

    fn learn(&mut self, old: &Created, new: &Created) {
        if let (Some(o), Some(n)) = (old.session, new.session) {
            self.sessions.insert(o, n);
        }
        if let (Some(o), Some(n)) = (old.access, new.access) {
            self.access.insert(o, n);
        }
        if let (Some(o), Some(n)) = (old.challenge, new.challenge) {
            self.challenges.insert(o, n);
        }
        for (o, n) in old.generations.iter().zip(&new.generations) {
            self.generations.insert(*o, *n);
        }
    }
}

/// `ops` without `range`, with handles remapped; `None` when nothing would change.
pub(crate) fn remove(
    profile: &Profile,
    ops: &[Op],
    range: std::ops::Range<usize>,
) -> Option<Vec<Op>> {
    // What each op created in the original run, and what its token meant.
    let mut state = State::with_choices(profile.params, profile.choices);
    let old: Vec<(Created, Intent)> = ops
        .iter()
        .map(|op| {
            let before = Counts::of(&state);
            let meant = intent(&state, op);
            state.apply(op);
            (created(&before, &state), meant)
        })
        .collect();
    let mut maps = Maps::default();
    let mut state = State::with_choices(profile.params, profile.choices);
    let mut out = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        if range.contains(&i) {
            continue;
        }
        let mut op = op.clone();
        if let Some(t) = op.token_mut() {
            match maps.token(t).or_else(|| maps.by_intent(old[i].1, &state)) {
                Some(mapped) => *t = mapped,
                None => continue, // its handle is gone: the op goes too
            }
        }
        let before = Counts::of(&state);
        state.apply(&op);
        maps.learn(&old[i].0, &created(&before, &state));
        out.push(op);
    }
    (out.len() < ops.len()).then_some(out)
}

fn earlier_tokens(_: &Profile, ops: &[Op], i: usize) -> Vec<Vec<Op>> {
    let Some(token) = ops[i].token() else {
        return vec![];
    };
    let earlier: Vec<Token> = match token {
        Token::Access(k) if *k > 0 => vec![Token::Access(0), Token::Access(k - 1)],
        Token::Refresh {
            session,
            generation,
        } if *generation > 0 => vec![
            Token::Refresh {
                session: *session,
                generation: 0,
            },
            Token::Refresh {
                session: *session,
                generation: generation - 1,
            },
        ],
        Token::Refresh {
            session,
            generation: 0,
        } if *session > 0 => {
            vec![
                Token::Refresh {
                    session: 0,
                    generation: 0,
                },
                Token::Refresh {
                    session: session - 1,
                    generation: 0,
                },
            ]
        }
        Token::Challenge(c) if *c > 0 => vec![Token::Challenge(0), Token::Challenge(c - 1)],
        _ => vec![],
    };
    let mut seen = Vec::new();
    earlier
        .into_iter()
        .filter(|t| {
            let fresh = !seen.contains(t);
            seen.push(t.clone());
            fresh
        })
        .map(|t| {
            let mut candidate = ops.to_vec();
            if let Some(slot) = candidate[i].token_mut() {
                *slot = t;
            }
            candidate
        })
        .collect()
}

fn tick_candidates(_: &Profile, ops: &[Op], i: usize) -> Vec<Vec<Op>> {
    let Op::Tick { seconds } = ops[i] else {
        return vec![];
    };
    let mut out = Vec::new();
    if let Some(Op::Tick { seconds: next }) = ops.get(i + 1) {
        let mut merged = ops.to_vec();
        merged[i] = Op::Tick {
            seconds: seconds.saturating_add(*next),
        };
        merged.remove(i + 1);
        out.push(merged);
    }
    // Ticks on both sides of one operation: all the time before it, or all after it.
    if let (Some(op), Some(Op::Tick { seconds: next })) = (ops.get(i + 1), ops.get(i + 2)) {
        let total = Op::Tick {
            seconds: seconds.saturating_add(*next),
        };
        for (first, second) in [(total.clone(), op.clone()), (op.clone(), total)] {
            let mut merged = ops.to_vec();
            merged.splice(i..i + 3, [first, second]);
            out.push(merged);
        }
    }
    // Shorter ticks, the biggest cut first: half, then a quarter less, an eighth less, ... one
    // second less. The first that still fails wins, so a tick far above the least time that
    // still fails gets there in a few rounds, not in one round per second (each round runs
    // the target on every candidate of the trace: hundreds of starts of a real server).
    let mut smaller = vec![seconds / 2];
    let mut cut = seconds / 4;
    while cut > 1 {
        smaller.push(seconds - cut);
        cut /= 2;
    }
    smaller.push(seconds.saturating_sub(1));
    smaller.retain(|s| *s > 0 && *s < seconds);
    smaller.dedup();
    for s in smaller {
        let mut shorter = ops.to_vec();
        shorter[i] = Op::Tick { seconds: s };
        out.push(shorter);
    }
    out
}

fn simpler_arguments(_: &Profile, ops: &[Op], i: usize) -> Vec<Vec<Op>> {
    let mut variants: Vec<Op> = Vec::new();
    let plain = |user: &str| canonical(user).filter(|c| c != user);
    match &ops[i] {
        Op::Register {
            user,
            password,
            mfa,
        } => {
            if let Some(c) = plain(user) {
                variants.push(Op::Register {
                    user: c.into(),
                    password: password.clone(),
                    mfa: *mfa,
                });
            }
            if *mfa {
                variants.push(Op::Register {
                    user: user.clone(),
                    password: password.clone(),
                    mfa: false,
                });
            }
        }
        Op::Login {
            user,
            password,
            device,
        } => {
            if let Some(c) = plain(user) {
                variants.push(Op::Login {
                    user: c.into(),
                    password: password.clone(),
                    device: *device,
                });
            }
            if *device != 0 {
                variants.push(Op::Login {
                    user: user.clone(),
                    password: password.clone(),
                    device: 0,
                });
            }
        }
        Op::Logout { token, scope } if *scope != crate::model::Scope::Local => {
            variants.push(Op::Logout {
                token: token.clone(),
                scope: crate::model::Scope::Local,
            });
        }
        Op::AdminDisable { user } | Op::AdminEnable { user } | Op::AdminUnlock { user } => {
            if let Some(c) = plain(user) {
                let mut op = ops[i].clone();
                if let Op::AdminDisable { user }
                | Op::AdminEnable { user }
                | Op::AdminUnlock { user } = &mut op
                {
                    *user = c.into();
                }
                variants.push(op);
            }
        }
        _ => {}
    }
    if let Some(Token::Garbage(g)) = ops[i].token() {
        if g.len() > 1 {
            let mut op = ops[i].clone();
            if let Some(t) = op.token_mut() {
                *t = Token::Garbage("x".into());
            }
            variants.push(op);
        }
    }
    variants
        .into_iter()
        .map(|v| {
            let mut candidate = ops.to_vec();
            candidate[i] = v;
            candidate
        })
        .collect()
}

/// An MFA registration made plain: the account registers without MFA, its logins issue
/// sessions directly, and each `verify-mfa … right` that completed one of its logins goes (the
/// session it issued is the login's now); its other code checks go too.
fn without_mfa(profile: &Profile, ops: &[Op], i: usize) -> Vec<Vec<Op>> {
    plain_account(profile, ops, i)
        .map(|kept| kept.into_iter().map(|(_, op)| op).collect())
        .into_iter()
        .collect()
}

/// [`without_mfa`] for the registration at `i`, as the surviving operations with their
/// original positions (the concurrent shrinker splits them back into prefix and branches).
pub(crate) fn plain_account(profile: &Profile, ops: &[Op], i: usize) -> Option<Vec<(usize, Op)>> {
    let Op::Register {
        user,
        password,
        mfa: true,
    } = &ops[i]
    else {
        return None;
    };
    let name = canonical(user)?;
    let mut state = State::with_choices(profile.params, profile.choices);
    let old: Vec<(Created, Intent, Option<usize>)> = ops
        .iter()
        .map(|op| {
            let before = Counts::of(&state);
            let meant = intent(&state, op);
            // The challenge of this account the op presents, if any.
            let challenge = match op.token() {
                Some(Token::Challenge(c))
                    if state.challenges.get(*c).is_some_and(|ch| *ch.user == *name) =>
                {
                    Some(*c)
                }
                _ => None,
            };
            state.apply(op);
            (created(&before, &state), meant, challenge)
        })
        .collect();
    let mut maps = Maps::default();
    // Original challenge → the session and access token its login issues now.
    let mut direct: HashMap<usize, (usize, Option<usize>)> = HashMap::new();
    let mut state = State::with_choices(profile.params, profile.choices);
    let mut out = Vec::new();
    for (j, op) in ops.iter().enumerate() {
        let mut op = op.clone();
        if j == i {
            op = Op::Register {
                user: user.clone(),
                password: password.clone(),
                mfa: false,
            };
        }
        let (was, meant, challenge) = &old[j];
        if let Some(c) = challenge {
            if let (Some(s), Some(&(ns, na))) = (was.session, direct.get(c)) {
                maps.sessions.insert(s, ns);
                maps.generations.insert((s, 0), (ns, 0));
                if let (Some(a), Some(na)) = (was.access, na) {
                    maps.access.insert(a, na);
                }
            }
            continue;
        }
        if let Some(t) = op.token_mut() {
            match maps.token(t).or_else(|| maps.by_intent(*meant, &state)) {
                Some(mapped) => *t = mapped,
                None => continue,
            }
        }
        let before = Counts::of(&state);
        state.apply(&op);
        let now = created(&before, &state);
        if let (Some(c), Some(s)) = (was.challenge, now.session) {
            direct.insert(c, (s, now.access));
        } else {
            maps.learn(was, &now);
        }
        out.push((j, op));
    }
    Some(out)
}

/// The password registered at `i` replaced by a plain one everywhere it is typed (wrong
/// passwords that merely resemble it stay as they are).
fn plainer_password(_: &Profile, ops: &[Op], i: usize) -> Vec<Vec<Op>> {
    const PLAIN: &str = "correct horse battery";
    let Op::Register { password, .. } = &ops[i] else {
        return vec![];
    };
    if &**password == PLAIN || crate::model::accounts::prepared(password).is_none() {
        return vec![];
    }
    let old = password.clone();
    let swap = |p: &mut crate::model::Text| {
        if *p == old {
            *p = PLAIN.into();
        }
    };
    let candidate = ops
        .iter()
        .cloned()
        .map(|mut op| {
            match &mut op {
                Op::Register { password, .. }
                | Op::Login { password, .. }
                | Op::Reauthenticate { password, .. } => swap(password),
                Op::ChangePassword { old, new, .. } => {
                    swap(old);
                    swap(new);
                }
                _ => {}
            }
            op
        })
        .collect();
    vec![candidate]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lockstep::Actual;
    use crate::model::Outcome;
    use std::cell::Cell;

    /// A service that is wrong only after `threshold` seconds idle: its failure is the op after
    /// the tick.
    fn fails_after_idle(
        threshold: u64,
        calls: &Cell<u32>,
    ) -> impl FnMut(&[Op]) -> Option<Failure> + '_ {
        move |ops: &[Op]| {
            calls.set(calls.get() + 1);
            let step = ops
                .iter()
                .position(|op| matches!(op, Op::Tick { seconds } if *seconds >= threshold))?
                + 1;
            ops.get(step).map(|op| Failure {
                step,
                op: op.clone(),
                expected: Outcome::Registered,
                actual: Actual::Invariant("wrong after a long idle".into()),
            })
        }
    }

    #[test]
    fn a_long_tick_shrinks_to_the_least_time_that_fails_in_few_runs() {
        let ops = vec![
            Op::Tick { seconds: 1_000_000 },
            Op::Register {
                user: "ana".into(),
                password: "correct horse battery".into(),
                mfa: false,
            },
        ];
        let calls = Cell::new(0);
        let mut oracle = fails_after_idle(900, &calls);
        let failure = oracle(&ops).unwrap();
        let (small, _) = shrink(&Profile::default(), &ops, failure, &mut oracle);
        assert_eq!(small[0], Op::Tick { seconds: 900 });
        // Cuts of only a half, a quarter or one second took 416 runs here (67 now).
        let calls = calls.get();
        assert!(calls < 200, "{calls} runs of the target");
    }
}
