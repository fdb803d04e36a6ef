//! The linearizability checker: is there an order of the concurrent operations, consistent with
//! their real-time order (`a` before `b` when `a` returned before `b` was called), in which the
//! model gives every operation the answer the service gave? A depth-first search over the
//! operations that may come next (Wing & Gong, with Lowe's memoisation of (done set, model
//! state)), run separately per user: operations on different accounts commute in this model, so
//! each user's sub-history must be linearizable on its own (P-compositionality).

use super::Event;
use crate::adapter::Observability;
use crate::driver::{outcome_of, Handles};
use crate::model::{Op, Outcome, State, Token};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};

/// The verdict, with what each failing candidate order expected.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    pub linearizable: bool,
    /// One witness order (indexes into the events) when linearizable.
    pub order: Vec<usize>,
    pub dead_ends: Vec<DeadEnd>,
    pub more_dead_ends: usize,
    /// Search nodes visited (for the benchmark).
    pub explored: u64,
}

/// A candidate that could not come next: after `order`, `event` got `actual` but the model
/// expected `expected`.
#[derive(Debug, Clone)]
pub struct DeadEnd {
    pub order: Vec<usize>,
    pub event: usize,
    pub op: Op,
    pub expected: Outcome,
    pub actual: String,
}

const MAX_DEAD_ENDS: usize = 12;

/// Checks `events` from the model state and driver handles the prefix left, comparing answers
/// as the API can show them (`observability`).
pub fn check(
    state: &State,
    handles: &Handles,
    events: &[Event],
    observability: &Observability,
) -> Verdict {
    let mut verdict = Verdict {
        linearizable: true,
        ..Verdict::default()
    };
    for part in partitions(state, events) {
        let mut search = Search {
            events,
            observability,
            part: &part,
            visited: HashSet::new(),
            dead_ends: Vec::new(),
            more: 0,
            explored: 0,
        };
        let mut order = Vec::new();
        let ok = search.dfs(
            state.clone(),
            handles.clone(),
            &mut vec![false; part.len()],
            &mut HashMap::new(),
            &mut order,
        );
        verdict.explored += search.explored;
        if ok {
            verdict.order.extend(order);
        } else {
            verdict.linearizable = false;
            verdict.dead_ends = search.dead_ends;
            verdict.more_dead_ends = search.more;
            return verdict;
        }
    }
    verdict
}

/// Groups events by the account they concern (events of one branch stay in order).
fn partitions(state: &State, events: &[Event]) -> Vec<Vec<usize>> {
    let mut groups: BTreeMap<Option<String>, Vec<usize>> = BTreeMap::new();
    for (i, key) in accounts(state, events).into_iter().enumerate() {
        groups.entry(key).or_default().push(i);
    }
    groups.into_values().collect()
}

/// The account each event concerns (canonical name), where one can be told.
pub fn accounts(state: &State, events: &[Event]) -> Vec<Option<String>> {
    let mut key_of: HashMap<(usize, usize), Option<String>> = HashMap::new();
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        let key = match &e.op {
            Op::Register { user, .. }
            | Op::Login { user, .. }
            | Op::AdminDisable { user }
            | Op::AdminEnable { user }
            | Op::AdminUnlock { user } => {
                Some(state.account_name(user).unwrap_or_else(|| user.to_string()))
            }
            op => op
                .token()
                .and_then(|t| token_user(state, t, e.branch, &key_of)),
        };
        key_of.insert((e.branch, e.index), key.clone());
        out.push(key);
    }
    out
}

fn token_user(
    state: &State,
    t: &Token,
    branch: usize,
    keys: &HashMap<(usize, usize), Option<String>>,
) -> Option<String> {
    let session_user = |s: usize| state.sessions.get(s).map(|x| x.user.to_string());
    match t {
        Token::Access(k) => state.access.get(*k).and_then(|a| session_user(a.session)),
        Token::Refresh { session, .. } | Token::ForgedV2 { session, .. } => session_user(*session),
        Token::Challenge(c) => state.challenges.get(*c).map(|c| c.user.to_string()),
        Token::Truncated(inner) => token_user(state, inner, branch, keys),
        Token::Local { op, .. } => keys.get(&(branch, *op)).cloned().flatten(),
        Token::Garbage(_) => None,
    }
}

struct Search<'a> {
    events: &'a [Event],
    observability: &'a Observability,
    part: &'a [usize],
    visited: HashSet<u64>,
    dead_ends: Vec<DeadEnd>,
    more: usize,
    explored: u64,
}

/// Handles created by each linearized event: (access handle, refresh handle).
type Created = HashMap<(usize, usize), (Option<usize>, Option<(usize, u64)>)>;

impl Search<'_> {
    fn dfs(
        &mut self,
        state: State,
        handles: Handles,
        done: &mut Vec<bool>,
        created: &mut Created,
        order: &mut Vec<usize>,
    ) -> bool {
        self.explored += 1;
        if done.iter().all(|d| *d) {
            return true;
        }
        let key = {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            done.hash(&mut h);
            state.hash(&mut h);
            handles.counts().hash(&mut h);
            h.finish()
        };
        if !self.visited.insert(key) {
            return false;
        }
        for slot in 0..self.part.len() {
            if done[slot] || !self.minimal(slot, done) {
                continue;
            }
            let e = &self.events[self.part[slot]];
            let op = resolve(&e.op, e.branch, created);
            let mut next = state.clone();
            let expected = next.apply(&op);
            let mut next_handles = handles.clone();
            let actual = outcome_of(&op, &e.raw, &mut next_handles, &state.choices);
            let seen = |o: &Outcome| self.observability.project(o);
            if actual.as_ref().map(seen) != Ok(seen(&expected)) {
                if self.dead_ends.len() < MAX_DEAD_ENDS {
                    self.dead_ends.push(DeadEnd {
                        order: order.clone(),
                        event: self.part[slot],
                        op: op.clone(),
                        expected,
                        actual: match actual {
                            Ok(o) => o.to_string(),
                            Err(e) => e.to_string(),
                        },
                    });
                } else {
                    self.more += 1;
                }
                continue;
            }
            let made = made_by(&expected, &next);
            created.insert((e.branch, e.index), made);
            done[slot] = true;
            order.push(self.part[slot]);
            if self.dfs(next, next_handles, done, created, order) {
                return true;
            }
            order.pop();
            done[slot] = false;
            created.remove(&(e.branch, e.index));
        }
        false
    }

    /// Whether no other pending event of the partition returned before this one was called.
    fn minimal(&self, slot: usize, done: &[bool]) -> bool {
        let call = self.events[self.part[slot]].call;
        (0..self.part.len()).all(|o| o == slot || done[o] || self.events[self.part[o]].ret > call)
    }
}

fn made_by(outcome: &Outcome, after: &State) -> (Option<usize>, Option<(usize, u64)>) {
    match outcome {
        Outcome::Issued { session, .. } => (after.access.len().checked_sub(1), Some((*session, 0))),
        Outcome::Refreshed {
            session,
            generation,
        }
        | Outcome::PasswordChanged {
            session,
            generation,
        } => (
            after.access.len().checked_sub(1),
            Some((*session, *generation)),
        ),
        _ => (None, None),
    }
}

/// The op with its branch-local token replaced by the handle that branch's op got in this order.
fn resolve(op: &Op, branch: usize, created: &Created) -> Op {
    let mut op = op.clone();
    if let Some(t) = op.token_mut() {
        *t = resolve_token(t, branch, created);
    }
    op
}

fn resolve_token(t: &Token, branch: usize, created: &Created) -> Token {
    match t {
        Token::Local { op, refresh } => {
            let made = created.get(&(branch, *op));
            match (made, refresh) {
                (Some((Some(k), _)), false) => Token::Access(*k),
                (Some((_, Some((session, generation)))), true) => Token::Refresh {
                    session: *session,
                    generation: *generation,
                },
                _ => Token::Garbage(format!("unresolved_local_{op}")),
            }
        }
        Token::Truncated(inner) => {
            Token::Truncated(Box::new(resolve_token(inner, branch, created)))
        }
        other => other.clone(),
    }
}
