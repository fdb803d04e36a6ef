//! Properties of the model checked after every step. They guard the specification itself: a
//! model edit that breaks one is caught before it can bless a wrong service answer.

use super::{Aal, Op, Outcome, State};

/// What the invariants need of the state before a step: cheap to keep (no strings, no maps), so
/// checking every step costs little next to the service. [`check`] moves it on to the state
/// after the step as it goes. A snapshot just taken makes the next check compare every session
/// and account; after that, a check compares only those the step touched (the state's lists
/// mark every one they hand out a way to change), so a step costs what it changed, not what the
/// trace has built up.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    now: u64,
    access: usize,
    sessions: Vec<SessionMark>,
    /// Whether the next check compares everything (the state it is of may not be the one the
    /// step started from: it was just taken, or replaced by another explanation).
    whole: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct SessionMark {
    revoked: bool,
    generation: u64,
    access_epoch: u64,
    aal: Aal,
}

impl SessionMark {
    fn of(s: &super::Session) -> Self {
        SessionMark {
            revoked: s.revoked,
            generation: s.generation,
            access_epoch: s.access_epoch,
            aal: s.aal,
        }
    }
}

/// Two snapshots are equal when they hold the same marks (whether the next check compares
/// everything is not part of what they remember).
impl PartialEq for Snapshot {
    fn eq(&self, other: &Self) -> bool {
        (self.now, self.access, &self.sessions) == (other.now, other.access, &other.sessions)
    }
}

impl Snapshot {
    pub fn of(state: &State) -> Self {
        let mut snapshot = Snapshot::default();
        snapshot.retake(state);
        snapshot
    }

    /// Takes `state` again, reusing this snapshot's memory (when the loop's state is replaced
    /// by another explanation of the service's answers).
    pub fn retake(&mut self, state: &State) {
        self.now = state.now;
        self.access = state.access.len();
        self.sessions.clear();
        self.sessions
            .extend(state.sessions.iter().map(SessionMark::of));
        self.whole = true;
    }
}

/// Which invariant a step broke. Built where the check finds it and put into words only when
/// shown: formatting in the check itself made every passing step pay for the frames it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Broken {
    TimeWentBackwards,
    SessionsForgotten,
    RevokedSessionAuthorised(usize),
    CameBackFromRevocation(usize),
    WentBack(usize),
    ChangedAssurance(usize),
    /// An operation created a number of sessions its answer does not account for.
    SessionsCreated {
        op: Op,
        outcome: Outcome,
        created: usize,
    },
    /// A refusal (or an MFA challenge) came with an access token.
    GrantedAccess(Outcome),
    /// An account kept a failure count at or over the lockout threshold.
    OverThreshold {
        name: String,
        failures: u32,
    },
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Broken::TimeWentBackwards => write!(f, "time went backwards"),
            Broken::SessionsForgotten => write!(f, "sessions were forgotten"),
            Broken::RevokedSessionAuthorised(s) => {
                write!(f, "revoked session #{s} authorised a call")
            }
            Broken::CameBackFromRevocation(s) => {
                write!(f, "session #{s} came back from revocation")
            }
            Broken::WentBack(s) => write!(f, "session #{s} went back a generation or epoch"),
            Broken::ChangedAssurance(s) => write!(f, "session #{s} changed its assurance level"),
            Broken::SessionsCreated {
                op,
                outcome,
                created,
            } => write!(
                f,
                "{op:?} answered {outcome:?} but created {created} sessions"
            ),
            Broken::GrantedAccess(outcome) => write!(f, "{outcome:?} granted an access token"),
            Broken::OverThreshold { name, failures } => {
                write!(
                    f,
                    "{name} has {failures} failures, at or over the threshold"
                )
            }
        }
    }
}

impl std::error::Error for Broken {}

/// Checks one transition `before --op/outcome--> after`, and on success leaves `before` a
/// snapshot of `after` (on failure it is left part way: take it again before using it). Unless
/// `before` was just taken, `after` must be the state it was taken of after one
/// [`State::apply`] (what tells which sessions and accounts the step touched).
#[inline]
pub fn check(
    before: &mut Snapshot,
    op: &Op,
    outcome: &Outcome,
    after: &State,
) -> Result<(), Broken> {
    // A step that touched no session or account, created no session nor access token, and
    // answered neither `Authorized` nor `Issued` cannot break any invariant but time's (a
    // tick, a deploy, a refusal before any account was read: a third or more of a trace's
    // steps). It is checked here, where the loop inlines it, without the frame of the rest.
    // (`&`, not `&&`: the check share measured 0.1-0.2 points lower with it, alternated, though
    // callgrind counts as many branches either way.)
    let quiet = !before.whole
        & after.sessions.touched().is_empty()
        & after.accounts.touched().is_empty()
        & (after.sessions.len() == before.sessions.len())
        & (after.access.len() == before.access)
        & !matches!(outcome, Outcome::Authorized { .. } | Outcome::Issued { .. })
        & (after.now >= before.now);
    if quiet {
        before.now = after.now;
        return Ok(());
    }
    check_step(before, op, outcome, after)
}

/// [`check`] of a step that may have changed what the invariants watch.
#[inline(never)]
fn check_step(
    before: &mut Snapshot,
    op: &Op,
    outcome: &Outcome,
    after: &State,
) -> Result<(), Broken> {
    if after.now < before.now {
        return Err(Broken::TimeWentBackwards);
    }
    if after.sessions.len() < before.sessions.len() {
        return Err(Broken::SessionsForgotten);
    }
    // A revoked session that authorised a call: judged on the state before the step.
    if let Outcome::Authorized { session, .. } = outcome {
        if before.sessions.get(*session).is_some_and(|s| s.revoked) {
            return Err(Broken::RevokedSessionAuthorised(*session));
        }
    }
    let mut changed = after.sessions.touched();
    let mut accounts = after.accounts.touched();
    if before.whole {
        changed.mark_all();
        accounts.mark_all();
    }
    for i in changed.below(before.sessions.len()) {
        let (b, a) = (&mut before.sessions[i], &after.sessions[i]);
        if b.revoked && !a.revoked {
            return Err(Broken::CameBackFromRevocation(i));
        }
        if a.generation < b.generation || a.access_epoch < b.access_epoch {
            return Err(Broken::WentBack(i));
        }
        if a.aal != b.aal {
            return Err(Broken::ChangedAssurance(i));
        }
        *b = SessionMark::of(a);
    }
    let new_sessions = &after.sessions[before.sessions.len()..];
    // A login or an MFA verification answered `Issued` creates one session at its level; any
    // other step none. (Most steps here answer otherwise and create none: asked first, that
    // spares them matching the operation.)
    let issued = matches!(outcome, Outcome::Issued { .. });
    if issued || !new_sessions.is_empty() {
        let expected_aal = match op {
            Op::Login { .. } if issued => Some(Aal::Aal1),
            Op::VerifyMfa { .. } if issued => Some(Aal::Aal2),
            _ => None,
        };
        match expected_aal {
            Some(aal) if new_sessions.len() == 1 && new_sessions[0].aal == aal => {}
            None if new_sessions.is_empty() => {}
            _ => {
                return Err(Broken::SessionsCreated {
                    op: op.clone(),
                    outcome: outcome.clone(),
                    created: new_sessions.len(),
                })
            }
        }
    }
    let grants_nothing = outcome.rejected() || matches!(outcome, Outcome::MfaRequired { .. });
    if grants_nothing && after.access.len() != before.access {
        return Err(Broken::GrantedAccess(outcome.clone()));
    }
    for i in accounts.below(after.accounts.len()) {
        let (name, account) = after.accounts.at(i);
        if account.failures >= after.params.lockout_threshold {
            return Err(Broken::OverThreshold {
                name: name.to_string(),
                failures: account.failures,
            });
        }
    }
    if !new_sessions.is_empty() {
        before
            .sessions
            .extend(new_sessions.iter().map(SessionMark::of));
    }
    before.now = after.now;
    before.access = after.access.len();
    before.whole = false;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Params, Reason, Token};

    /// A state with alice registered and logged in once (session #0, access #0).
    fn logged_in() -> State {
        let mut s = State::new(Params::default());
        s.apply(&Op::Register {
            user: "alice".into(),
            password: "correct horse battery".into(),
            mfa: false,
        });
        s.apply(&Op::Login {
            user: "alice".into(),
            password: "correct horse battery".into(),
            device: 0,
        });
        s
    }

    fn access() -> Op {
        Op::Access {
            token: Token::Access(0),
        }
    }

    /// `check` of a step from [`logged_in`] changed by `before` to [`logged_in`] changed by
    /// `after`, answering `outcome`.
    fn judge(
        before: fn(&mut State),
        after: fn(&mut State),
        op: Op,
        outcome: Outcome,
    ) -> Result<(), String> {
        let (mut b, mut a) = (logged_in(), logged_in());
        before(&mut b);
        after(&mut a);
        check(&mut Snapshot::of(&b), &op, &outcome, &a).map_err(|b| b.to_string())
    }

    fn same(_: &mut State) {}

    /// A change to the state before, one to the state after, the step between them, and what
    /// the report must say.
    type Case = (fn(&mut State), fn(&mut State), Op, Outcome, &'static str);

    #[test]
    fn an_unchanged_state_passes() {
        assert_eq!(judge(same, same, Op::Restart, Outcome::Ok), Ok(()));
    }

    #[test]
    fn each_broken_rule_is_reported() {
        let login = Op::Login {
            user: "alice".into(),
            password: "correct horse battery".into(),
            device: 0,
        };
        let authorized = Outcome::Authorized {
            user: "alice".into(),
            aal: Aal::Aal1,
            session: 0,
        };
        let issued = Outcome::Issued {
            session: 1,
            aal: Aal::Aal1,
        };
        let refused = Outcome::Rejected(Reason::InvalidCredentials);
        let revoked: fn(&mut State) = |s| s.sessions[0].revoked = true;
        let cases: [Case; 10] = [
            (
                |s| s.now = 5,
                same,
                Op::Restart,
                Outcome::Ok,
                "time went backwards",
            ),
            (
                same,
                |s| s.sessions.clear(),
                Op::Restart,
                Outcome::Ok,
                "forgotten",
            ),
            (
                revoked,
                same,
                Op::Restart,
                Outcome::Ok,
                "came back from revocation",
            ),
            (
                revoked,
                revoked,
                access(),
                authorized,
                "revoked session #0 authorised",
            ),
            (
                |s| s.sessions[0].generation = 2,
                same,
                Op::Restart,
                Outcome::Ok,
                "went back a generation",
            ),
            (
                |s| s.sessions[0].access_epoch = 1,
                same,
                Op::Restart,
                Outcome::Ok,
                "or epoch",
            ),
            (
                same,
                |s| s.sessions[0].aal = Aal::Aal2,
                Op::Restart,
                Outcome::Ok,
                "changed its assurance level",
            ),
            (same, same, login.clone(), issued, "created 0 sessions"),
            (
                same,
                |s| {
                    s.issue_access(0);
                },
                login,
                refused,
                "granted an access token",
            ),
            (
                same,
                |s| s.accounts.get_mut("alice").unwrap().failures = 5,
                Op::Restart,
                Outcome::Ok,
                "at or over the threshold",
            ),
        ];
        for (before, after, op, outcome, says) in cases {
            match judge(before, after, op, outcome) {
                Err(m) => assert!(m.contains(says), "{m:?} should say {says:?}"),
                Ok(()) => panic!("a broken transition passed (expected {says:?})"),
            }
        }
        let two: fn(&mut State) = |s| {
            let user = s.sessions[0].user.clone();
            s.create_session(user, Aal::Aal1);
        };
        assert!(judge(same, two, Op::Restart, Outcome::Ok)
            .is_err_and(|m| m.contains("created 1 sessions")));
    }

    /// A change to the state after, the step, and what the report must say.
    type Step = (fn(&mut State), Op, Outcome, &'static str);

    #[test]
    fn a_moved_on_snapshot_catches_what_a_step_that_looks_quiet_breaks() {
        // After a first check the snapshot compares only what a step touched, and a step that
        // touched nothing takes a shorter path: each break must still be reported there.
        let mut base = logged_in();
        base.apply(&Op::Tick { seconds: 10 });
        base.sessions[0].generation = 1;
        let mut marks = Snapshot::of(&base);
        base.apply(&Op::Restart);
        assert_eq!(check(&mut marks, &Op::Restart, &Outcome::Ok, &base), Ok(()));
        assert!(!marks.whole);
        let login = Op::Login {
            user: "alice".into(),
            password: "correct horse battery".into(),
            device: 0,
        };
        let issued = Outcome::Issued {
            session: 1,
            aal: Aal::Aal1,
        };
        let refused = Outcome::Rejected(Reason::InvalidCredentials);
        let cases: [Step; 5] = [
            (
                |s| s.now = 5,
                Op::Restart,
                Outcome::Ok,
                "time went backwards",
            ),
            (|_| {}, login.clone(), issued, "created 0 sessions"),
            (
                |s| {
                    s.issue_access(0);
                },
                login,
                refused,
                "granted an access token",
            ),
            (
                |s| {
                    let user = s.sessions[0].user.clone();
                    s.create_session(user, Aal::Aal1);
                },
                Op::Restart,
                Outcome::Ok,
                "created 1 sessions",
            ),
            (
                |s| s.sessions[0].generation = 0,
                Op::Restart,
                Outcome::Ok,
                "went back a generation",
            ),
        ];
        for (change, op, outcome, says) in cases {
            let (mut after, mut before) = (base.clone(), marks.clone());
            after.apply(&Op::Restart);
            change(&mut after);
            match check(&mut before, &op, &outcome, &after) {
                Err(m) => assert!(m.to_string().contains(says), "{m} should say {says:?}"),
                Ok(()) => panic!("a broken transition passed (expected {says:?})"),
            }
        }
    }

    #[test]
    fn a_passing_check_leaves_the_snapshot_of_the_state_after() {
        // Every step of generated traces: the snapshot `check` moves on is the one taken afresh.
        for seed in 0..40 {
            let ops = crate::campaign::case_ops(seed, Params::default(), 60);
            let mut state = State::new(Params::default());
            let mut marks = Snapshot::of(&state);
            for op in &ops {
                let outcome = state.apply(op);
                assert_eq!(check(&mut marks, op, &outcome, &state), Ok(()), "{op:?}");
                assert_eq!(marks, Snapshot::of(&state), "seed {seed}, after {op:?}");
            }
        }
    }
}
