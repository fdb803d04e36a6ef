//! Lockstep on the real clock. The service decides each request at some instant between its
//! send and its receive, on its own clock (give or take a tolerated skew); the model may be at
//! any whole second of that window. So every answer is checked against the model at each
//! second of the window, and every matching state is kept for the next request: an answer that
//! depends on a deadline falling inside a request's own window is accepted either side of it,
//! and nothing else is.

use crate::adapter::Observability;
use crate::model::{Op, Outcome, State};

/// Whole seconds of the Unix clock, as a service's clock reads them.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The states the model may be in: more than one when an earlier answer was allowed at more
/// than one second.
#[derive(Debug, Clone)]
pub struct Candidates {
    states: Vec<State>,
    /// Requests whose window held seconds at which the model expected different answers.
    pub straddled: u64,
}

/// Distinct candidate states kept at most (a window of a few seconds never needs more).
const MAX_CANDIDATES: usize = 16;

impl Candidates {
    pub fn new(state: State) -> Self {
        Candidates {
            states: vec![state],
            straddled: 0,
        }
    }

    /// One of the states (they agree on everything but when things happened).
    pub fn any(&self) -> &State {
        &self.states[0]
    }

    /// What the model expects of `op` sent at `sent` (the first candidate, at the window's
    /// start): for the report of a divergence.
    pub fn expected_at(&self, op: &Op, sent: u64) -> Outcome {
        let mut s = self.states[0].clone();
        advance(&mut s, sent);
        s.apply(op)
    }

    /// Checks `actual` for `op`, sent at `sent` and answered at `received` (seconds), with the
    /// service's clock up to `skew` seconds off. Keeps the states that explain it; `false`
    /// (and no change) when none does.
    pub fn accept(
        &mut self,
        op: &Op,
        actual: &Outcome,
        sent: f64,
        received: f64,
        skew: u64,
        seen: &Observability,
    ) -> bool {
        let first = (sent.floor() as u64).saturating_sub(skew);
        let last = received.floor() as u64 + skew;
        let mut next: Vec<State> = Vec::new();
        let mut answers: Vec<Outcome> = Vec::new();
        for state in &self.states {
            for t in first.max(state.now)..=last.max(state.now) {
                let mut s = state.clone();
                advance(&mut s, t);
                let expected = s.apply(op);
                let projected = seen.project(&expected);
                if !answers.contains(&projected) {
                    answers.push(projected);
                }
                if seen.project(&expected) == seen.project(actual)
                    && !next.contains(&s)
                    && next.len() < MAX_CANDIDATES
                {
                    next.push(s);
                }
            }
        }
        if answers.len() > 1 {
            self.straddled += 1;
        }
        if next.is_empty() {
            return false;
        }
        self.states = next;
        true
    }

    /// Model time moves to `t` (a wait the flow does on purpose).
    pub fn wait_until(&mut self, t: u64) {
        for s in &mut self.states {
            advance(s, t);
        }
    }
}

fn advance(state: &mut State, t: u64) {
    if t > state.now {
        state.apply(&Op::Tick {
            seconds: t - state.now,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Params, Token};

    fn logged_in(now: u64, params: Params) -> State {
        let mut s = State::new(params);
        s.now = now;
        s.apply(&Op::Register {
            user: "probe".into(),
            password: "correct horse battery".into(),
            mfa: false,
        });
        s.apply(&Op::Login {
            user: "probe".into(),
            password: "correct horse battery".into(),
            device: 0,
        });
        s
    }

    #[test]
    fn a_deadline_inside_the_request_window_is_accepted_either_side() {
        let params = Params {
            access_ttl: 2,
            ..Params::default()
        };
        let access = Op::Access {
            token: Token::Access(0),
        };
        // Issued at 1000, expires at 1002: a request sent at 1001.5 and answered at 1002.2
        // may see it valid or expired.
        let seen = Observability::ALL;
        for answer_at in [1000, 1002] {
            let mut c = Candidates::new(logged_in(1000, params));
            let actual = {
                let mut s = c.any().clone();
                advance(&mut s, answer_at);
                s.apply(&access)
            };
            assert!(c.accept(&access, &actual, 1001.5, 1002.2, 0, &seen));
        }
        // Sent and answered well before the deadline: only "valid" is right.
        let mut c = Candidates::new(logged_in(1000, params));
        let expired = {
            let mut s = c.any().clone();
            advance(&mut s, 1005);
            s.apply(&access)
        };
        assert!(!c.accept(&access, &expired, 1000.1, 1000.3, 0, &seen));
    }

    #[test]
    fn the_model_never_goes_back_in_time() {
        let mut c = Candidates::new(logged_in(1000, Params::default()));
        c.wait_until(1010);
        let access = Op::Access {
            token: Token::Access(0),
        };
        let expected = c.expected_at(&access, 1010);
        // A window that starts before the model's now is clamped to it.
        assert!(c.accept(&access, &expected, 1003.0, 1003.1, 0, &Observability::ALL));
        assert_eq!(c.any().now, 1010);
    }
}
