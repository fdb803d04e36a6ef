//! Properties of the model checked after every step. They guard the specification itself: a
//! model edit that breaks one is caught before it can bless a wrong service answer.

use super::{Aal, Op, Outcome, State};

/// What the invariants need of the state before a step: cheap to take (no strings, no maps), so
/// checking every step costs little next to the service.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    now: u64,
    access: usize,
    sessions: Vec<SessionMark>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct SessionMark {
    revoked: bool,
    generation: u64,
    access_epoch: u64,
    aal: Aal,
}

impl Snapshot {
    pub fn of(state: &State) -> Self {
        let mut snapshot = Snapshot::default();
        snapshot.retake(state);
        snapshot
    }

    /// Takes `state` again, reusing this snapshot's memory (one per step in the lockstep loop).
    pub fn retake(&mut self, state: &State) {
        self.now = state.now;
        self.access = state.access.len();
        self.sessions.clear();
        self.sessions
            .extend(state.sessions.iter().map(|s| SessionMark {
                revoked: s.revoked,
                generation: s.generation,
                access_epoch: s.access_epoch,
                aal: s.aal,
            }));
    }
}

/// Checks one transition `before --op/outcome--> after`.
pub fn check(before: &Snapshot, op: &Op, outcome: &Outcome, after: &State) -> Result<(), String> {
    if after.now < before.now {
        return Err("time went backwards".into());
    }
    for (i, (b, a)) in before.sessions.iter().zip(&after.sessions).enumerate() {
        if b.revoked && !a.revoked {
            return Err(format!("session #{i} came back from revocation"));
        }
        if a.generation < b.generation || a.access_epoch < b.access_epoch {
            return Err(format!("session #{i} went back a generation or epoch"));
        }
        if a.aal != b.aal {
            return Err(format!("session #{i} changed its assurance level"));
        }
    }
    let new_sessions = &after.sessions[before.sessions.len()..];
    let expected_aal = match (op, outcome) {
        (Op::Login { .. }, Outcome::Issued { .. }) => Some(Aal::Aal1),
        (Op::VerifyMfa { .. }, Outcome::Issued { .. }) => Some(Aal::Aal2),
        _ => None,
    };
    match expected_aal {
        Some(aal) if new_sessions.len() == 1 && new_sessions[0].aal == aal => {}
        None if new_sessions.is_empty() => {}
        _ => {
            return Err(format!(
                "{op:?} answered {outcome:?} but created {} sessions",
                new_sessions.len()
            ))
        }
    }
    let grants_nothing = outcome.rejected() || matches!(outcome, Outcome::MfaRequired { .. });
    if grants_nothing && after.access.len() != before.access {
        return Err(format!("{outcome:?} granted an access token"));
    }
    if let Outcome::Authorized { session, .. } = outcome {
        if before.sessions[*session].revoked {
            return Err(format!("revoked session #{session} authorised a call"));
        }
    }
    for (name, account) in &after.accounts {
        if account.failures >= after.params.lockout_threshold {
            return Err(format!(
                "{name} has {} failures, at or over the threshold",
                account.failures
            ));
        }
    }
    Ok(())
}
