//! Time in the model (PROTOCOL.md §2).

use super::{Params, Session, TokenReason};

/// Deadlines this far away never come: a profile whose service has no such timeout sets the
/// window to (at least) this, and nothing aims at it.
pub const NEVER: u64 = 1 << 50;

/// A timestamp `t` is valid iff `now < t`: a token whose expiry is `now` is rejected.
pub fn valid(now: u64, t: u64) -> bool {
    now < t
}

/// Whether a session still stands: not revoked (reported first, rule 9), and neither
/// `last_active + idle_timeout` nor `created_at + absolute_timeout` has passed.
pub fn liveness(s: &Session, now: u64, p: &Params) -> Result<(), TokenReason> {
    if s.revoked {
        return Err(TokenReason::Revoked);
    }
    let idle = s.last_active.saturating_add(p.idle_timeout);
    let absolute = s.created_at.saturating_add(p.absolute_timeout);
    if valid(now, idle) && valid(now, absolute) {
        Ok(())
    } else {
        Err(TokenReason::Expired)
    }
}

/// A timestamp of the state that changes an answer when the clock crosses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeadlineKind {
    /// An access token's `issued_at + access_ttl`.
    AccessExpiry,
    /// A session's `last_active + idle_timeout`.
    Idle,
    /// A session's `created_at + absolute_timeout`.
    Absolute,
    /// A session's `auth_time + step_up_window` (sensitive actions).
    StepUp,
    /// A session's `rotated_at + refresh_grace` (retries of the previous refresh token).
    Grace,
    /// An account's `locked_until`.
    LockLapse,
    /// An MFA challenge's `created_at + mfa_challenge_ttl`.
    ChallengeExpiry,
}

impl DeadlineKind {
    pub const ALL: [DeadlineKind; 7] = [
        DeadlineKind::AccessExpiry,
        DeadlineKind::Idle,
        DeadlineKind::Absolute,
        DeadlineKind::StepUp,
        DeadlineKind::Grace,
        DeadlineKind::LockLapse,
        DeadlineKind::ChallengeExpiry,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DeadlineKind::AccessExpiry => "access-expiry",
            DeadlineKind::Idle => "idle-timeout",
            DeadlineKind::Absolute => "absolute-timeout",
            DeadlineKind::StepUp => "step-up-window",
            DeadlineKind::Grace => "refresh-grace",
            DeadlineKind::LockLapse => "lock-lapse",
            DeadlineKind::ChallengeExpiry => "challenge-expiry",
        }
    }
}

/// What a deadline (or a counter) belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    Session(usize),
    Access(usize),
    /// A canonical username.
    Account(String),
    Challenge(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    pub at: u64,
    pub kind: DeadlineKind,
    pub subject: Subject,
}

impl Deadline {
    /// Whether it can come: a window a profile does not have ends at [`NEVER`] or later.
    pub fn finite(&self) -> bool {
        self.at < NEVER
    }
}

impl super::State {
    /// Whether session `i` still stands (not revoked, neither timeout passed).
    pub fn live(&self, i: usize) -> bool {
        self.sessions
            .get(i)
            .is_some_and(|s| liveness(s, self.now, &self.params).is_ok())
    }

    /// Every pending deadline of the state (`at >= now`): for every live session, its live
    /// access tokens, its grace window; every lock; every open challenge. The generator aims
    /// ticks at them.
    pub fn deadlines(&self) -> Vec<Deadline> {
        let now = self.now;
        let mut out = Vec::new();
        for (i, s) in self.sessions.iter().enumerate() {
            if liveness(s, now, &self.params).is_ok() {
                self.push_deadlines_of(&Subject::Session(i), &mut out);
            }
        }
        for (k, t) in self.access.iter().enumerate() {
            if t.epoch == self.sessions[t.session].access_epoch && self.live(t.session) {
                self.push_deadlines_of(&Subject::Access(k), &mut out);
            }
        }
        for (name, a) in self.accounts.iter() {
            if a.locked_until.is_some() {
                self.push_deadlines_of(&Subject::Account(name.to_string()), &mut out);
            }
        }
        for (c, challenge) in self.challenges.iter().enumerate() {
            if !challenge.dead {
                self.push_deadlines_of(&Subject::Challenge(c), &mut out);
            }
        }
        out.retain(|d| d.at >= now && d.finite());
        out
    }

    /// The timestamps of one subject that decide answers (past ones included): a session's
    /// idle, absolute, step-up and grace deadlines; an access token's expiry; an account's lock;
    /// a challenge's expiry.
    pub fn deadlines_of(&self, subject: &Subject) -> Vec<Deadline> {
        let mut out = Vec::new();
        self.push_deadlines_of(subject, &mut out);
        out
    }

    /// [`deadlines_of`](Self::deadlines_of) onto the end of `out` (the generator asks on every
    /// step, into vectors it reuses).
    pub fn push_deadlines_of(&self, subject: &Subject, out: &mut Vec<Deadline>) {
        let p = &self.params;
        let mut at = |at: u64, kind| {
            out.push(Deadline {
                at,
                kind,
                subject: subject.clone(),
            })
        };
        match subject {
            Subject::Session(i) => {
                let Some(s) = self.sessions.get(*i).filter(|s| !s.revoked) else {
                    return;
                };
                at(
                    s.last_active.saturating_add(p.idle_timeout),
                    DeadlineKind::Idle,
                );
                at(
                    s.created_at.saturating_add(p.absolute_timeout),
                    DeadlineKind::Absolute,
                );
                at(
                    s.auth_time.saturating_add(p.step_up_window),
                    DeadlineKind::StepUp,
                );
                if let Some(r) = s.rotated_at {
                    at(r.saturating_add(p.refresh_grace), DeadlineKind::Grace);
                }
            }
            Subject::Access(k) => {
                if let Some(t) = self.access.get(*k) {
                    at(
                        t.issued_at.saturating_add(p.access_ttl),
                        DeadlineKind::AccessExpiry,
                    );
                }
            }
            Subject::Account(name) => {
                if let Some(u) = self.accounts.get(name).and_then(|a| a.locked_until) {
                    at(u, DeadlineKind::LockLapse);
                }
            }
            Subject::Challenge(c) => {
                if let Some(ch) = self.challenges.get(*c).filter(|ch| !ch.dead) {
                    at(
                        ch.created_at.saturating_add(p.mfa_challenge_ttl),
                        DeadlineKind::ChallengeExpiry,
                    );
                }
            }
        }
    }

    /// What `op` acts on: the session and access token its token names, the account it names,
    /// the challenge it presents.
    pub fn subjects(&self, op: &super::Op) -> Vec<Subject> {
        let mut out = Vec::new();
        self.push_subjects(op, &mut out);
        out
    }

    /// [`subjects`](Self::subjects) onto the end of `out`.
    pub fn push_subjects(&self, op: &super::Op, out: &mut Vec<Subject>) {
        use super::{Op, Token};
        match op.token() {
            Some(Token::Access(k)) => {
                out.push(Subject::Access(*k));
                if let Some(t) = self.access.get(*k) {
                    out.push(Subject::Session(t.session));
                }
            }
            Some(Token::Refresh { session, .. }) => out.push(Subject::Session(*session)),
            Some(Token::Challenge(c)) => out.push(Subject::Challenge(*c)),
            _ => {}
        }
        match op {
            Op::Login { user, .. }
            | Op::AdminDisable { user }
            | Op::AdminEnable { user }
            | Op::AdminUnlock { user } => {
                out.extend(self.account_name(user).map(Subject::Account));
            }
            _ => {}
        }
    }
}
