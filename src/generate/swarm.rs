//! Swarm testing (Groce et al., ISSTA 2012): every case draws its own mix of operation kinds —
//! some switched off, some weighted up — instead of one fixed mix for all. A case that is "only
//! refreshes and ticks" or "only logins and provider faults" makes long runs of one kind likely,
//! and long runs are where counters, thresholds and chained deadlines live.
//!
//! Switching a kind off never strands a case: the operations that set up what the enabled kinds
//! need (an account to log in to, a session to refresh, a challenge to verify) stay available
//! while that need is unmet.

use crate::adapter::Capabilities;
use crate::model::{Choices, OpKind, State};
use arbitrary::{Result, Unstructured};

/// Every kind the generator chooses between, with its weight in the default mix.
const BASE: [(OpKind, u32); 17] = [
    (OpKind::Register, 6),
    (OpKind::Login, 18),
    (OpKind::VerifyMfa, 10),
    (OpKind::Refresh, 20),
    (OpKind::Access, 10),
    (OpKind::Sensitive, 6),
    (OpKind::Reauthenticate, 3),
    (OpKind::Logout, 4),
    (OpKind::Revoke, 3),
    (OpKind::ChangePassword, 3),
    (OpKind::AdminDisable, 2),
    (OpKind::AdminEnable, 1),
    (OpKind::AdminUnlock, 1),
    (OpKind::Tick, 14),
    (OpKind::UpstreamFault, 5),
    (OpKind::Deploy, 3),
    (OpKind::Restart, 3),
];

/// Kinds that need a session (a token) to mean anything.
const NEEDS_SESSION: [OpKind; 7] = [
    OpKind::Refresh,
    OpKind::Access,
    OpKind::Sensitive,
    OpKind::Reauthenticate,
    OpKind::Logout,
    OpKind::Revoke,
    OpKind::ChangePassword,
];

/// A case's mix: the weight of every kind (0 = switched off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swarm {
    weights: Vec<(OpKind, u32)>,
    /// Whether an enabled kind needs a session, and whether MFA verification is enabled on a
    /// target that can run it: what the menu's set-up moves serve, fixed for the case (and
    /// asked on every step).
    wants_session: bool,
    wants_challenge: bool,
}

impl Swarm {
    /// The default mix: every kind the target can run and the profile has, at its base
    /// weight.
    pub fn full(caps: Capabilities, choices: Choices) -> Self {
        Swarm::of(
            BASE.iter()
                .map(|&(k, w)| (k, if runnable(k, caps, choices) { w } else { 0 }))
                .collect(),
            caps,
        )
    }

    fn of(weights: Vec<(OpKind, u32)>, caps: Capabilities) -> Self {
        let mut swarm = Swarm {
            weights,
            wants_session: false,
            wants_challenge: false,
        };
        swarm.wants_session = NEEDS_SESSION.iter().any(|k| swarm.enabled(*k));
        swarm.wants_challenge = swarm.enabled(OpKind::VerifyMfa) && caps.mfa;
        swarm
    }

    /// A third of cases keep the full mix; the others switch each kind off with probability
    /// 1/2 and weight the rest ×1 or ×4.
    pub fn draw(u: &mut Unstructured<'_>, caps: Capabilities, choices: Choices) -> Result<Self> {
        let full = Swarm::full(caps, choices);
        if u.ratio(1, 3)? {
            return Ok(full);
        }
        let mut weights = full.weights.clone();
        for (_, w) in weights.iter_mut() {
            *w = match u.int_in_range(0..=3)? {
                0 | 1 => 0,
                2 => *w,
                _ => *w * 4,
            };
        }
        if weights.iter().all(|(_, w)| *w == 0) {
            return Ok(full);
        }
        Ok(Swarm::of(weights, caps))
    }

    pub fn weight(&self, kind: OpKind) -> u32 {
        self.weights
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0, |(_, w)| *w)
    }

    pub fn enabled(&self, kind: OpKind) -> bool {
        self.weight(kind) > 0
    }

    /// The kinds on the menu in `state`, with their weights: enabled kinds that make sense now,
    /// plus whatever sets up what they need.
    pub fn menu(&self, s: &State) -> Vec<(OpKind, u32)> {
        let has_accounts = !s.accounts.is_empty();
        let has_sessions = !s.sessions.is_empty();
        // Room for every kind and the set-up moves: the generator asks on every step, and
        // growing the vector one kind at a time was half of what a menu cost.
        let mut menu: Vec<(OpKind, u32)> = Vec::with_capacity(self.weights.len() + 2);
        for &(kind, w) in &self.weights {
            if w == 0 {
                continue;
            }
            let applicable = match kind {
                OpKind::Login
                | OpKind::AdminDisable
                | OpKind::AdminEnable
                | OpKind::AdminUnlock => has_accounts,
                OpKind::VerifyMfa => !s.challenges.is_empty(),
                k if NEEDS_SESSION.contains(&k) => has_sessions,
                _ => true,
            };
            if applicable {
                menu.push((kind, w));
            }
        }
        // Set-up moves for what the enabled kinds need.
        let no_live_session = || !s.sessions.iter().any(|x| !x.revoked);
        let no_open_challenge = || !s.challenges.iter().any(|c| !c.dead);
        if !has_accounts {
            ensure(&mut menu, OpKind::Register, 60);
        } else if (self.wants_session && no_live_session())
            || (self.wants_challenge && no_open_challenge())
        {
            ensure(&mut menu, OpKind::Login, 12);
            if self.wants_challenge && !s.accounts.values().any(|a| a.mfa) {
                ensure(&mut menu, OpKind::Register, 12);
            }
        }
        if menu.is_empty() {
            ensure(&mut menu, OpKind::Register, 6);
        }
        menu
    }
}

/// `kind` on the menu with at least weight `w`.
fn ensure(menu: &mut Vec<(OpKind, u32)>, kind: OpKind, w: u32) {
    match menu.iter_mut().find(|(k, _)| *k == kind) {
        Some((_, have)) => *have = (*have).max(w),
        None => menu.push((kind, w)),
    }
}

/// Whether a target with `caps` can run `kind` at all, and the profile has it.
pub fn runnable(kind: OpKind, caps: Capabilities, choices: Choices) -> bool {
    match kind {
        OpKind::Tick => caps.clock,
        OpKind::Deploy | OpKind::Restart => caps.lifecycle,
        OpKind::Rollout => caps.rollout,
        OpKind::Crash => caps.crash,
        OpKind::UpstreamFault => caps.upstream_faults && choices.mfa,
        OpKind::VerifyMfa => caps.mfa && choices.mfa,
        OpKind::AdminDisable | OpKind::AdminEnable | OpKind::AdminUnlock => {
            caps.admin && choices.admin
        }
        OpKind::Sensitive | OpKind::Reauthenticate => choices.step_up,
        OpKind::ChangePassword => choices.password_change,
        OpKind::Logout => choices.logout,
        _ => true,
    }
}
