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
use crate::model::{Op, Params, State, Token};
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
    params: Params,
    ops: &[Op],
    failure: Failure,
    oracle: &mut impl Oracle,
) -> (Vec<Op>, Failure) {
    let mut best = ops[..=failure.step.min(ops.len().saturating_sub(1))].to_vec();
    let mut best_failure = failure;
    let mut accept = |candidate: Vec<Op>, best: &mut Vec<Op>, best_failure: &mut Failure| -> bool {
        if candidate.len() > best.len() || candidate == *best || !valid(params, &candidate) {
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
                    if let Some(candidate) = remove(params, &best, start..start + size) {
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
        let rewrites: [Rewrite; 3] = [tick_candidates, earlier_tokens, simpler_arguments];
        for rewrite in rewrites {
            let mut i = 0;
            while i < best.len() {
                // The first rewrite of this op that still fails wins.
                let candidates = rewrite(&best, i);
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

/// Candidate replacements of the trace that change operation `i` only.
type Rewrite = fn(&[Op], usize) -> Vec<Vec<Op>>;

/// Whether no operation names a handle that does not exist at that point.
pub fn valid(params: Params, ops: &[Op]) -> bool {
    let mut state = State::new(params);
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

fn created(before: &State, after: &State) -> Created {
    let mut c = Created {
        session: (after.sessions.len() > before.sessions.len()).then(|| after.sessions.len() - 1),
        access: (after.access.len() > before.access.len()).then(|| after.access.len() - 1),
        challenge: (after.challenges.len() > before.challenges.len())
            .then(|| after.challenges.len() - 1),
        generations: Vec::new(),
    };
    for (i, s) in after.sessions.iter().enumerate() {
        let old = before.sessions.get(i).map(|b| b.generation);
        match old {
            None => c.generations.push((i, 0)),
            Some(g) if s.generation > g => c.generations.push((i, s.generation)),
            _ => {}
        }
    }
    c
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
pub(crate) fn remove(params: Params, ops: &[Op], range: std::ops::Range<usize>) -> Option<Vec<Op>> {
    // What each op created in the original run.
    let mut state = State::new(params);
    let old: Vec<Created> = ops
        .iter()
        .map(|op| {
            let before = state.clone();
            state.apply(op);
            created(&before, &state)
        })
        .collect();
    let mut maps = Maps::default();
    let mut state = State::new(params);
    let mut out = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        if range.contains(&i) {
            continue;
        }
        let mut op = op.clone();
        if let Some(t) = op.token_mut() {
            match maps.token(t) {
                Some(mapped) => *t = mapped,
                None => continue, // its handle is gone: the op goes too
            }
        }
        let before = state.clone();
        state.apply(&op);
        maps.learn(&old[i], &created(&before, &state));
        out.push(op);
    }
    (out.len() < ops.len()).then_some(out)
}

fn earlier_tokens(ops: &[Op], i: usize) -> Vec<Vec<Op>> {
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

fn tick_candidates(ops: &[Op], i: usize) -> Vec<Vec<Op>> {
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
    let mut smaller = vec![
        seconds / 2,
        seconds - seconds / 4,
        seconds.saturating_sub(1),
    ];
    smaller.retain(|s| *s > 0 && *s < seconds);
    smaller.dedup();
    for s in smaller {
        let mut shorter = ops.to_vec();
        shorter[i] = Op::Tick { seconds: s };
        out.push(shorter);
    }
    out
}

fn simpler_arguments(ops: &[Op], i: usize) -> Vec<Vec<Op>> {
    let mut variants: Vec<Op> = Vec::new();
    let plain = |user: &String| canonical(user).filter(|c| c != user);
    match &ops[i] {
        Op::Register {
            user,
            password,
            mfa,
        } => {
            if let Some(c) = plain(user) {
                variants.push(Op::Register {
                    user: c,
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
                    user: c,
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
                    *user = c;
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
