//! The operations of PROTOCOL.md, with symbolic handles instead of concrete tokens.
//!
//! Handles are numbered in the order the model hands them out: session #n is the n-th session
//! ever issued, access #k the k-th access token, challenge #c the c-th MFA challenge, and
//! refresh #s.g the refresh token of generation g of session s. A driver maps them to the
//! concrete strings the service returned.

/// A token as presented in an operation: a handle, or something hostile.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Token {
    /// The k-th access token issued.
    Access(usize),
    /// The refresh token of `generation` of session `session`.
    Refresh { session: usize, generation: u64 },
    /// The c-th MFA challenge id.
    Challenge(usize),
    /// A real token with its last character cut off.
    Truncated(Box<Token>),
    /// A V2-shaped refresh token naming a real session and generation with a forged MAC.
    ForgedV2 { session: usize, generation: u64 },
    /// Anything at all.
    Garbage(String),
    /// Only in a concurrent branch: the access (`refresh: false`) or refresh token that the
    /// branch's own operation number `op` received. The concurrency checker resolves it to a
    /// handle before the model sees it (the handle depends on the order being tried).
    Local { op: usize, refresh: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Local,
    Others,
    Global,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Version {
    #[default]
    V1,
    V2,
}

/// How the upstream OTP provider behaves from now on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Upstream {
    #[default]
    Up,
    Down,
    Garbage,
}

/// A step of a rolling upgrade (`authcheck upgrade`): the old build (OLD) is replaced by the
/// new one (NEW) over the same store. A step that makes no sense where the rollout stands (a
/// `rollout finish` with no rollout started) does nothing, so a shrunk trace stays runnable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RolloutStep {
    /// A mixed window opens: a NEW instance starts beside the OLD one, and every following
    /// request is routed to one of them (by the case's seed).
    Start,
    /// The OLD instances stop: NEW serves alone.
    Finish,
    /// Back to OLD, over everything NEW wrote. After `Finalize` the OLD build must refuse to
    /// start (and NEW keeps serving).
    Rollback,
    /// The contract step: once NEW serves alone, the store is finalized for NEW.
    Finalize,
}

/// The code presented at MFA verification: the one the provider sent, or another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    Right,
    Wrong,
}

pub use super::text::Text;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    Register {
        user: Text,
        password: Text,
        mfa: bool,
    },
    Login {
        user: Text,
        password: Text,
        device: u8,
    },
    VerifyMfa {
        challenge: Token,
        code: Code,
    },
    Refresh {
        token: Token,
    },
    Access {
        token: Token,
    },
    Sensitive {
        token: Token,
    },
    Reauthenticate {
        token: Token,
        password: Text,
    },
    Logout {
        token: Token,
        scope: Scope,
    },
    Revoke {
        token: Token,
    },
    ChangePassword {
        token: Token,
        old: Text,
        new: Text,
    },
    AdminDisable {
        user: Text,
    },
    AdminEnable {
        user: Text,
    },
    AdminUnlock {
        user: Text,
    },
    Tick {
        seconds: u64,
    },
    Deploy {
        version: Version,
    },
    Restart,
    UpstreamFault {
        mode: Upstream,
    },
    Rollout {
        step: RolloutStep,
    },
    /// The next request is in flight when the instance serving it is killed (SIGKILL); it then
    /// starts again over the same store. The request may or may not have taken effect.
    Crash,
}

/// The kind of an operation, without arguments (for coverage and reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    Register,
    Login,
    VerifyMfa,
    Refresh,
    Access,
    Sensitive,
    Reauthenticate,
    Logout,
    Revoke,
    ChangePassword,
    AdminDisable,
    AdminEnable,
    AdminUnlock,
    Tick,
    Deploy,
    Restart,
    UpstreamFault,
    Rollout,
    Crash,
}

impl OpKind {
    pub const ALL: [OpKind; 19] = [
        OpKind::Register,
        OpKind::Login,
        OpKind::VerifyMfa,
        OpKind::Refresh,
        OpKind::Access,
        OpKind::Sensitive,
        OpKind::Reauthenticate,
        OpKind::Logout,
        OpKind::Revoke,
        OpKind::ChangePassword,
        OpKind::AdminDisable,
        OpKind::AdminEnable,
        OpKind::AdminUnlock,
        OpKind::Tick,
        OpKind::Deploy,
        OpKind::Restart,
        OpKind::UpstreamFault,
        OpKind::Rollout,
        OpKind::Crash,
    ];
}

impl Op {
    pub fn kind(&self) -> OpKind {
        match self {
            Op::Register { .. } => OpKind::Register,
            Op::Login { .. } => OpKind::Login,
            Op::VerifyMfa { .. } => OpKind::VerifyMfa,
            Op::Refresh { .. } => OpKind::Refresh,
            Op::Access { .. } => OpKind::Access,
            Op::Sensitive { .. } => OpKind::Sensitive,
            Op::Reauthenticate { .. } => OpKind::Reauthenticate,
            Op::Logout { .. } => OpKind::Logout,
            Op::Revoke { .. } => OpKind::Revoke,
            Op::ChangePassword { .. } => OpKind::ChangePassword,
            Op::AdminDisable { .. } => OpKind::AdminDisable,
            Op::AdminEnable { .. } => OpKind::AdminEnable,
            Op::AdminUnlock { .. } => OpKind::AdminUnlock,
            Op::Tick { .. } => OpKind::Tick,
            Op::Deploy { .. } => OpKind::Deploy,
            Op::Restart => OpKind::Restart,
            Op::UpstreamFault { .. } => OpKind::UpstreamFault,
            Op::Rollout { .. } => OpKind::Rollout,
            Op::Crash => OpKind::Crash,
        }
    }

    /// The token the operation presents, if any.
    pub fn token(&self) -> Option<&Token> {
        match self {
            Op::VerifyMfa { challenge: t, .. }
            | Op::Refresh { token: t }
            | Op::Access { token: t }
            | Op::Sensitive { token: t }
            | Op::Reauthenticate { token: t, .. }
            | Op::Logout { token: t, .. }
            | Op::Revoke { token: t }
            | Op::ChangePassword { token: t, .. } => Some(t),
            _ => None,
        }
    }

    pub fn token_mut(&mut self) -> Option<&mut Token> {
        match self {
            Op::VerifyMfa { challenge: t, .. }
            | Op::Refresh { token: t }
            | Op::Access { token: t }
            | Op::Sensitive { token: t }
            | Op::Reauthenticate { token: t, .. }
            | Op::Logout { token: t, .. }
            | Op::Revoke { token: t }
            | Op::ChangePassword { token: t, .. } => Some(t),
            _ => None,
        }
    }
}
