//! The specification: a pure, deterministic state machine of session login — the protocol of
//! `docs/PROTOCOL.md` made executable.
//!
//! `step(&State, &Op) -> (State, Outcome)`: no I/O, no clock, no randomness, and no dependency on
//! the `auth` crate. It is written from docs/PROTOCOL.md, readable beside it:
//!
//! | file | docs/PROTOCOL.md |
//! |---|---|
//! | [`op`], [`outcome`] | §4, the operations and outcomes, with symbolic handles |
//! | [`account_map`] | a state's accounts by canonical name (a sorted vector read like a map) |
//! | [`accounts`] | accounts, PRECIS names, register, login order, lockout (rules 6, 9, 11), admin |
//! | [`sessions`] | refresh rotation / grace / reuse, access, step-up, logout, revoke, password change (rules 1, 3, 4, 5, 10) |
//! | [`mfa`] | MFA challenges and the upstream provider (rules 2, 7) |
//! | [`params`] | §2, the protocol's numbers, and their `key=value` form |
//! | [`deadlines`] | §2, "a timestamp t is valid iff now < t"; idle and absolute timeouts; every pending deadline of a state |
//! | [`counters`] | wrong passwords and wrong codes toward their limits |
//! | [`profile`] | §6, the named protocol choices other services make, and profiles in TOML |
//! | [`invariants`] | properties checked after every step |
//! | [`text`] | the shared text of names and passwords, which remembers its RFC 8265 preparations |
//!
//! Where the rules are silent the model encodes the decisions of docs/PROTOCOL.md §7. A handle
//! that was never issued (session #9 in a trace with three sessions) is a token nobody was
//! given: it answers like any unknown token.

pub mod account_map;
pub mod accounts;
pub mod counters;
pub mod deadlines;
pub mod invariants;
pub mod mfa;
pub mod op;
pub mod outcome;
pub mod params;
pub mod profile;
pub mod session_list;
pub mod sessions;
pub mod text;
pub mod touched;

pub use counters::{Counter, CounterKind};
pub use deadlines::{Deadline, DeadlineKind, Subject};
pub use op::{Code, Op, OpKind, RolloutStep, Scope, Text, Token, Upstream, Version};
pub use outcome::{design_table, Aal, Grant, Outcome, OutcomeKind, Reason, TokenReason};
pub use params::Params;
pub use profile::{Choices, Profile};

pub use account_map::AccountMap;
pub use session_list::SessionList;
pub use touched::Touched;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Account {
    /// The OpaqueString-prepared password (shared with the operation that set it, when
    /// preparation left it as typed).
    pub password: Text,
    pub mfa: bool,
    pub disabled: bool,
    /// Consecutive wrong passwords (always below the threshold: reaching it locks and resets).
    pub failures: u32,
    pub locked_until: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Session {
    /// Canonical username (shared with the outcomes that name it).
    pub user: Text,
    pub aal: Aal,
    pub created_at: u64,
    pub auth_time: u64,
    pub last_active: u64,
    /// Current refresh generation; every generation up to it was issued.
    pub generation: u64,
    /// When a refresh made the current generation (`None`: no grace for the previous one).
    pub rotated_at: Option<u64>,
    /// Access tokens of an older epoch are revoked (a password change starts a new epoch).
    pub access_epoch: u64,
    pub revoked: bool,
    /// Its refresh token was revoked on its own (`revoke = token-pair`): the session cannot
    /// be refreshed, its other access tokens live on.
    pub refresh_revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccessToken {
    pub session: usize,
    pub issued_at: u64,
    pub epoch: u64,
    /// The refresh generation it was issued beside.
    pub generation: u64,
    /// Revoked on its own (`revoke = token-pair`).
    pub revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Challenge {
    pub user: Text,
    pub created_at: u64,
    pub attempts: u32,
    pub dead: bool,
}

/// Everything the protocol remembers. Handles are indexes into the vectors.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct State {
    pub params: Params,
    /// The protocol choices (this repository's protocol unless a profile says otherwise).
    pub choices: Choices,
    pub now: u64,
    pub version: Version,
    pub upstream: Upstream,
    pub accounts: AccountMap,
    pub sessions: SessionList,
    pub access: Vec<AccessToken>,
    pub challenges: Vec<Challenge>,
}

/// The model's transition function.
pub fn step(state: &State, op: &Op) -> (State, Outcome) {
    let mut next = state.clone();
    let outcome = next.apply(op);
    (next, outcome)
}

impl State {
    /// The state before anything happened, under this repository's protocol choices.
    pub fn new(params: Params) -> Self {
        State {
            params,
            ..State::default()
        }
    }

    /// The state before anything happened, under `profile`'s choices and `params`.
    pub fn with_choices(params: Params, choices: Choices) -> Self {
        State {
            params,
            choices,
            ..State::default()
        }
    }

    /// Makes this the state before anything happened under `params` and `choices`
    /// ([`State::with_choices`]), keeping the capacity of its lists: a campaign checks
    /// thousands of traces, and growing the same lists from empty for each was a tenth of the
    /// lockstep check's instructions.
    pub fn reset(&mut self, params: Params, choices: Choices) {
        // Every field named: one added to `State` must be reset here too.
        let State {
            params: p,
            choices: c,
            now,
            version,
            upstream,
            accounts,
            sessions,
            access,
            challenges,
        } = self;
        (*p, *c, *now) = (params, choices, 0);
        (*version, *upstream) = (Version::default(), Upstream::default());
        accounts.clear();
        accounts.forget_touched();
        sessions.clear();
        sessions.forget_touched();
        access.clear();
        challenges.clear();
    }

    /// `step` in place: the same transition without copying the state (what the lockstep loop
    /// uses; `step` is defined by it).
    pub fn apply(&mut self, op: &Op) -> Outcome {
        self.sessions.forget_touched();
        self.accounts.forget_touched();
        match op {
            Op::Register {
                user,
                password,
                mfa,
            } => self.register(user, password, *mfa),
            Op::Login { user, password, .. } => self.login(user, password),
            Op::VerifyMfa { challenge, code } => self.verify_mfa(challenge, *code),
            Op::Refresh { token } => self.refresh(token),
            Op::Access { token } => self.access(token, false),
            Op::Sensitive { token } => self.access(token, true),
            Op::Reauthenticate { token, password } => self.reauthenticate(token, password),
            Op::Logout { token, scope } => self.logout(token, *scope),
            Op::Revoke { token } => self.revoke(token),
            Op::ChangePassword { token, old, new } => self.change_password(token, old, new),
            Op::AdminDisable { user } => self.admin_disable(user),
            Op::AdminEnable { user } => self.admin_enable(user),
            Op::AdminUnlock { user } => self.admin_unlock(user),
            Op::Tick { seconds } => {
                self.now = self.now.saturating_add(*seconds);
                Outcome::Ok
            }
            Op::Deploy { version } => {
                self.version = *version;
                Outcome::Ok
            }
            Op::Restart => Outcome::Ok,
            Op::UpstreamFault { mode } => {
                self.upstream = *mode;
                Outcome::Ok
            }
            // Which build serves changes nothing the protocol promises: every build must
            // answer as the model does at every step.
            Op::Rollout { .. } | Op::Crash => Outcome::Ok,
        }
    }

    /// `op` took effect but its answer never reached the client (the service was killed with
    /// the request in flight): the same transition, except that the tokens it handed out were
    /// never received. They are forgotten, so the handles of what the client sees next are
    /// numbered as the service's answers will number them. A new refresh generation stays: a
    /// grace retry of the previous token reveals it.
    pub fn apply_unanswered(&mut self, op: &Op) {
        let issued = (
            self.sessions.len(),
            self.access.len(),
            self.challenges.len(),
        );
        self.apply(op);
        self.sessions.truncate(issued.0);
        self.access.truncate(issued.1);
        self.challenges.truncate(issued.2);
    }

    /// Whether `op` names a handle that has not been issued yet (a trace is *valid* when no op
    /// does; the shrinker keeps traces valid).
    pub fn dangles(&self, op: &Op) -> bool {
        op.token().is_some_and(|t| !self.issued(t))
    }

    fn issued(&self, token: &Token) -> bool {
        match token {
            Token::Access(k) => *k < self.access.len(),
            Token::Refresh {
                session,
                generation,
            }
            | Token::ForgedV2 {
                session,
                generation,
            } => self
                .sessions
                .get(*session)
                .is_some_and(|s| *generation <= s.generation),
            Token::Challenge(c) => *c < self.challenges.len(),
            Token::Truncated(inner) => self.issued(inner),
            Token::Garbage(_) => true,
            Token::Local { .. } => false,
        }
    }

    /// Issues a new access token for `session` and returns its handle.
    pub(super) fn issue_access(&mut self, session: usize) -> usize {
        let (epoch, generation) = {
            let s = &self.sessions[session];
            (s.access_epoch, s.generation)
        };
        self.access.push(AccessToken {
            session,
            issued_at: self.now,
            epoch,
            generation,
            revoked: false,
        });
        self.access.len() - 1
    }

    /// Creates a session of `user` (its shared name) and its first access token; returns its handle.
    pub(super) fn create_session(&mut self, user: Text, aal: Aal) -> usize {
        self.sessions.push(Session {
            user,
            aal,
            created_at: self.now,
            auth_time: self.now,
            last_active: self.now,
            generation: 0,
            rotated_at: None,
            access_epoch: 0,
            revoked: false,
            refresh_revoked: false,
        });
        let session = self.sessions.len() - 1;
        self.issue_access(session);
        session
    }
}
