//! Where ticks land. Deadlines come from the model, not from a list here: every pending
//! deadline of the state (`State::deadlines`: each live token, session window, lock and
//! challenge), including those the last call just moved, is a target at one second before, on
//! and after it. Beside them, *counterfactual* deadlines: each recent call's time plus each of
//! the protocol's windows — where a deadline would be if that call had (wrongly) set one — so a
//! service that moves a timestamp it should not is caught by a tick that lands in between. And
//! the other way round, *stale* deadlines: where a deadline the last call moved was before (a
//! service that fails to move a timestamp it should still has it there).

use crate::model::deadlines::NEVER;
use crate::model::{Deadline, Op, Params, State, Subject};
use arbitrary::{Result, Unstructured};

/// What the last few calls (not ticks) were about: their times, newest last, without repeats,
/// and what the newest one acted on (its *focus*: the session, token, account or challenge it
/// named or created), and which of the focus's deadlines it moved.
#[derive(Debug, Clone, Default)]
pub struct RecentCalls {
    times: Vec<u64>,
    focus: Vec<Subject>,
    moved: Vec<Moved>,
    /// The focus's deadlines before and after the newest call (kept only for their memory:
    /// the generator runs this on every operation, and allocating them afresh was a third of
    /// its time).
    before: Vec<Deadline>,
    after: Vec<Deadline>,
}

/// A deadline the newest call moved, and where it was before (still ahead of the clock).
#[derive(Debug, Clone)]
pub struct Moved {
    pub now: Deadline,
    pub was: u64,
}

impl RecentCalls {
    const KEEP: usize = 4;

    /// Applies `op` to `state`, remembering its time and what it acted on.
    pub fn apply(&mut self, state: &mut State, op: &Op) {
        let now = state.now;
        if self.times.last() != Some(&now) {
            self.times.push(now);
            if self.times.len() > Self::KEEP {
                self.times.remove(0);
            }
        }
        self.focus.clear();
        state.push_subjects(op, &mut self.focus);
        self.before.clear();
        for subject in &self.focus {
            state.push_deadlines_of(subject, &mut self.before);
        }
        let (sessions, challenges) = (state.sessions.len(), state.challenges.len());
        state.apply(op);
        self.after.clear();
        for subject in &self.focus {
            state.push_deadlines_of(subject, &mut self.after);
        }
        // A window a profile does not have ends at `NEVER` and later: nothing aims there (a
        // tick of 2^50 s is no time a service's clock can move by).
        self.moved.clear();
        for b in &self.before {
            if b.at <= state.now || !b.finite() {
                continue;
            }
            let now = self
                .after
                .iter()
                .find(|d| d.subject == b.subject && d.kind == b.kind && d.at != b.at && d.finite());
            if let Some(now) = now {
                self.moved.push(Moved {
                    now: now.clone(),
                    was: b.at,
                });
            }
        }
        if state.sessions.len() > sessions {
            self.focus.push(Subject::Session(state.sessions.len() - 1));
        }
        if state.challenges.len() > challenges {
            self.focus
                .push(Subject::Challenge(state.challenges.len() - 1));
        }
    }

    /// What the newest call acted on: what it named, and what it created.
    pub fn focus(&self) -> &[Subject] {
        &self.focus
    }

    /// The deadlines the newest call moved.
    pub fn moved(&self) -> &[Moved] {
        &self.moved
    }

    /// Whether deadline `d` belongs to what the last call acted on.
    pub fn in_focus(&self, s: &State, d: &Deadline) -> bool {
        self.focus.contains(&d.subject)
            || matches!(d.subject, Subject::Access(k)
                if s.access.get(k).is_some_and(|t| self.focus.contains(&Subject::Session(t.session))))
    }
}

/// Where a tick aims from `s`, if anywhere: every pending deadline of the model, those of the
/// last call's focus, and the counterfactual ones, with the kinds weighted: the focus's
/// deadlines half the time when it has any (its nearest one, the first a retrying client
/// crosses, half of that), counterfactual ones now and then, else any deadline of the model.
/// Each list is sorted (so the nearest comes first) and only the one drawn is built: the
/// generator aims on most moves.
pub fn pick_target(
    u: &mut Unstructured<'_>,
    s: &State,
    recent: &RecentCalls,
) -> Result<Option<u64>> {
    let deadlines = s.deadlines();
    let focused = || {
        deadlines
            .iter()
            .filter(|d| recent.in_focus(s, d))
            .map(|d| d.at)
    };
    let counterfactual = || {
        recent
            .times
            .iter()
            .flat_map(|t| s.params.windows().map(|w| t.saturating_add(w)))
            .filter(|at| *at < NEVER)
    };
    let nearest_focused = focused().min();
    let list = match u.int_in_range(0..=7)? {
        0 | 1 if nearest_focused.is_some() => nearest_focused.into_iter().collect(),
        2 | 3 if nearest_focused.is_some() => sorted(focused()),
        4 | 5 if counterfactual().next().is_some() => sorted(counterfactual()),
        _ if !deadlines.is_empty() => sorted(deadlines.iter().map(|d| d.at)),
        _ => sorted(counterfactual()),
    };
    Ok(u.choose(&list).ok().copied())
}

/// `times` in order, each once (so the nearest comes first).
fn sorted(times: impl Iterator<Item = u64>) -> Vec<u64> {
    let mut v: Vec<u64> = times.collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// A tick: usually to one second before, on, or after a model or counterfactual deadline;
/// otherwise a random span (seconds to a day, or a multiple of one of the windows).
pub fn tick(u: &mut Unstructured<'_>, s: &State, recent: &RecentCalls) -> Result<u64> {
    if u.ratio(7, 10)? {
        if let Some(d) = pick_target(u, s, recent)? {
            let target = d.saturating_add_signed(*u.choose(&[-1i64, 0, 0, 1])?);
            if target > s.now {
                return Ok(target - s.now);
            }
        }
    }
    random_span(u, &s.params)
}

fn random_span(u: &mut Unstructured<'_>, p: &Params) -> Result<u64> {
    Ok(match u.int_in_range(0..=4)? {
        0 => u.int_in_range(1..=5)?,
        1 => u.int_in_range(1..=60)?,
        2 => u.int_in_range(1..=1000)?,
        3 => u.int_in_range(1..=50_000)?,
        _ => {
            // A multiple of a window the profile has ('never' is not a span to wait).
            let finite: Vec<u64> = p.windows().into_iter().filter(|w| *w < NEVER).collect();
            if finite.is_empty() {
                u.int_in_range(1..=50_000)?
            } else {
                (*u.choose(&finite)?).max(1) * u.int_in_range(1..=3)?
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A profile without session timeouts (DOT's) has no span to wait a multiple of: every
    /// tick stays a real amount of time a service's clock can move by.
    #[test]
    fn ticks_are_finite_when_windows_are_never() {
        let params = Params {
            idle_timeout: NEVER,
            absolute_timeout: NEVER,
            lockout_duration: NEVER,
            mfa_challenge_ttl: NEVER,
            step_up_window: NEVER,
            ..Params::default()
        };
        let state = State::new(params);
        let recent = RecentCalls::default();
        for seed in 0..4000u64 {
            use rand_core::{RngCore, SeedableRng};
            let mut bytes = [0u8; 64];
            rand_chacha::ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut bytes);
            let mut u = Unstructured::new(&bytes);
            let t = tick(&mut u, &state, &recent).unwrap();
            assert!(t < 10 * 365 * 86_400, "a tick of {t} s");
        }
    }

    /// Nor is a window the profile does not have remembered as moved: a call that moves
    /// `last_active` moves no idle timeout that never comes.
    #[test]
    fn a_window_that_never_ends_is_never_moved() {
        let params = Params {
            idle_timeout: NEVER,
            absolute_timeout: NEVER,
            step_up_window: NEVER,
            ..Params::default()
        };
        let mut state = crate::generate::moves::tests::logged_in(params);
        let mut recent = RecentCalls::default();
        recent.apply(
            &mut state,
            &Op::Reauthenticate {
                token: crate::model::Token::Access(0),
                password: "correct horse battery".into(),
            },
        );
        assert!(recent.moved().is_empty(), "{:?}", recent.moved());
    }
}
