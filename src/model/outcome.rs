//! What an operation answers, abstracted so the model's answer and the service's can be compared
//! with `==`: handles instead of tokens, canonical usernames, reasons from PROTOCOL.md.

use super::op::{OpKind, Text};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Aal {
    Aal1,
    Aal2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Grant {
    Unknown,
    Expired,
    Revoked,
    Reuse,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TokenReason {
    Unknown,
    Expired,
    Revoked,
}

/// Every rejection reason of PROTOCOL.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    UsernameTaken,
    InvalidUsername,
    WeakPassword,
    InvalidCredentials,
    Locked,
    Disabled,
    UpstreamUnavailable,
    InvalidCode,
    ChallengeExpired,
    InvalidGrant(Grant),
    Unauthorized(TokenReason),
    StepUpRequired,
    UnknownUser,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    Registered,
    /// A new session (its handle) at this assurance level.
    Issued {
        session: usize,
        aal: Aal,
    },
    MfaRequired {
        challenge: usize,
    },
    /// The session's refresh token is now (or, on a grace retry, still) of `generation`.
    Refreshed {
        session: usize,
        generation: u64,
    },
    Authorized {
        user: Text,
        aal: Aal,
        session: usize,
    },
    Reauthenticated,
    LoggedOut,
    Revoked,
    PasswordChanged {
        session: usize,
        generation: u64,
    },
    Done,
    /// Tick, Deploy, Restart, UpstreamFault.
    Ok,
    Rejected(Reason),
}

/// An outcome without its handles (for coverage).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutcomeKind {
    Registered,
    Issued(Aal),
    MfaRequired,
    Refreshed,
    Authorized,
    Reauthenticated,
    LoggedOut,
    Revoked,
    PasswordChanged,
    Done,
    Ok,
    Rejected(Reason),
}

impl Reason {
    /// Every reason there is.
    pub fn all() -> Vec<Reason> {
        let mut out = vec![
            Reason::UsernameTaken,
            Reason::InvalidUsername,
            Reason::WeakPassword,
            Reason::InvalidCredentials,
            Reason::Locked,
            Reason::Disabled,
            Reason::UpstreamUnavailable,
            Reason::InvalidCode,
            Reason::ChallengeExpired,
            Reason::StepUpRequired,
            Reason::UnknownUser,
        ];
        out.extend(
            [Grant::Unknown, Grant::Expired, Grant::Revoked, Grant::Reuse]
                .map(Reason::InvalidGrant),
        );
        out.extend(
            [
                TokenReason::Unknown,
                TokenReason::Expired,
                TokenReason::Revoked,
            ]
            .map(Reason::Unauthorized),
        );
        out
    }
}

impl OutcomeKind {
    /// Every kind of outcome there is.
    pub fn all() -> Vec<OutcomeKind> {
        let mut out = vec![
            OutcomeKind::Registered,
            OutcomeKind::Issued(Aal::Aal1),
            OutcomeKind::Issued(Aal::Aal2),
            OutcomeKind::MfaRequired,
            OutcomeKind::Refreshed,
            OutcomeKind::Authorized,
            OutcomeKind::Reauthenticated,
            OutcomeKind::LoggedOut,
            OutcomeKind::Revoked,
            OutcomeKind::PasswordChanged,
            OutcomeKind::Done,
            OutcomeKind::Ok,
        ];
        out.extend(Reason::all().into_iter().map(OutcomeKind::Rejected));
        out
    }
}

impl Outcome {
    pub fn kind(&self) -> OutcomeKind {
        match self {
            Outcome::Registered => OutcomeKind::Registered,
            Outcome::Issued { aal, .. } => OutcomeKind::Issued(*aal),
            Outcome::MfaRequired { .. } => OutcomeKind::MfaRequired,
            Outcome::Refreshed { .. } => OutcomeKind::Refreshed,
            Outcome::Authorized { .. } => OutcomeKind::Authorized,
            Outcome::Reauthenticated => OutcomeKind::Reauthenticated,
            Outcome::LoggedOut => OutcomeKind::LoggedOut,
            Outcome::Revoked => OutcomeKind::Revoked,
            Outcome::PasswordChanged { .. } => OutcomeKind::PasswordChanged,
            Outcome::Done => OutcomeKind::Done,
            Outcome::Ok => OutcomeKind::Ok,
            Outcome::Rejected(r) => OutcomeKind::Rejected(*r),
        }
    }

    pub fn rejected(&self) -> bool {
        matches!(self, Outcome::Rejected(_))
    }
}

/// Every (operation, outcome) pair the protocol table (PROTOCOL.md §4) allows: what a campaign must reach.
pub fn design_table() -> Vec<(OpKind, OutcomeKind)> {
    use Grant as G;
    use OpKind as K;
    use OutcomeKind as O;
    use Reason as R;
    use TokenReason as T;
    let token_rejections =
        [T::Unknown, T::Expired, T::Revoked].map(|t| O::Rejected(R::Unauthorized(t)));
    let mut table = vec![
        (K::Register, O::Registered),
        (K::Register, O::Rejected(R::UsernameTaken)),
        (K::Register, O::Rejected(R::InvalidUsername)),
        (K::Register, O::Rejected(R::WeakPassword)),
        (K::Login, O::Issued(Aal::Aal1)),
        (K::Login, O::MfaRequired),
        (K::Login, O::Rejected(R::InvalidCredentials)),
        (K::Login, O::Rejected(R::Locked)),
        (K::Login, O::Rejected(R::Disabled)),
        (K::Login, O::Rejected(R::UpstreamUnavailable)),
        (K::VerifyMfa, O::Issued(Aal::Aal2)),
        (K::VerifyMfa, O::Rejected(R::InvalidCode)),
        (K::VerifyMfa, O::Rejected(R::ChallengeExpired)),
        (K::VerifyMfa, O::Rejected(R::UpstreamUnavailable)),
        (K::Refresh, O::Refreshed),
        (K::Access, O::Authorized),
        (K::Sensitive, O::Authorized),
        (K::Sensitive, O::Rejected(R::StepUpRequired)),
        (K::Reauthenticate, O::Reauthenticated),
        (K::Reauthenticate, O::Rejected(R::InvalidCredentials)),
        (K::Logout, O::LoggedOut),
        (K::Revoke, O::Revoked),
        (K::ChangePassword, O::PasswordChanged),
        (K::ChangePassword, O::Rejected(R::InvalidCredentials)),
        (K::ChangePassword, O::Rejected(R::WeakPassword)),
        (K::Tick, O::Ok),
        (K::Deploy, O::Ok),
        (K::Restart, O::Ok),
        (K::Rollout, O::Ok),
        (K::Crash, O::Ok),
        (K::UpstreamFault, O::Ok),
    ];
    for g in [G::Unknown, G::Expired, G::Revoked, G::Reuse] {
        table.push((K::Refresh, O::Rejected(R::InvalidGrant(g))));
    }
    for kind in [
        K::Access,
        K::Sensitive,
        K::Reauthenticate,
        K::Logout,
        K::ChangePassword,
    ] {
        for rejection in token_rejections {
            table.push((kind, rejection));
        }
    }
    for kind in [K::AdminDisable, K::AdminEnable, K::AdminUnlock] {
        table.push((kind, O::Done));
        table.push((kind, O::Rejected(R::UnknownUser)));
    }
    table
}
