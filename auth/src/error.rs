//! The service's answers when it says no. Every variant is a reason from PROTOCOL.md, so a caller
//! (the harness) can compare it with the model's reason with `assert_eq!`.

/// Why a refresh token was refused (`InvalidGrant(..)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantError {
    /// Never issued, malformed or forged.
    Unknown,
    /// The session timed out (idle or absolute).
    Expired,
    /// The session was revoked (logout, reuse, password change, admin disable, RFC 7009).
    Revoked,
    /// An older generation was presented outside the grace window: the session is now revoked.
    Reuse,
}

/// Why an access token was refused (`Unauthorized(..)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenError {
    Unknown,
    Expired,
    Revoked,
}

impl GrantError {
    /// The snake_case word used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantError::Unknown => "unknown",
            GrantError::Expired => "expired",
            GrantError::Revoked => "revoked",
            GrantError::Reuse => "reuse",
        }
    }
}

impl TokenError {
    /// The snake_case word used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenError::Unknown => "unknown",
            TokenError::Expired => "expired",
            TokenError::Revoked => "revoked",
        }
    }
}

impl std::fmt::Display for GrantError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The store failed (I/O, corruption). Not a protocol answer: the HTTP layer maps it to 500.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("store failure: {0}")]
pub struct StoreError(pub String);

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(e.to_string())
    }
}

/// Every rejection of PROTOCOL.md, plus the one non-protocol failure (`Store`).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("username taken")]
    UsernameTaken,
    #[error("invalid username")]
    InvalidUsername,
    #[error("weak password")]
    WeakPassword,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("account locked")]
    Locked,
    #[error("account disabled")]
    Disabled,
    #[error("upstream OTP provider unavailable")]
    UpstreamUnavailable,
    #[error("invalid code")]
    InvalidCode,
    #[error("challenge expired")]
    ChallengeExpired,
    #[error("invalid grant: {0}")]
    InvalidGrant(GrantError),
    #[error("unauthorized: {0}")]
    Unauthorized(TokenError),
    #[error("step-up required")]
    StepUpRequired,
    #[error("unknown user")]
    UnknownUser,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AuthError {
    /// The `error` word of the JSON error body.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::UsernameTaken => "username_taken",
            AuthError::InvalidUsername => "invalid_username",
            AuthError::WeakPassword => "weak_password",
            AuthError::InvalidCredentials => "invalid_credentials",
            AuthError::Locked => "locked",
            AuthError::Disabled => "disabled",
            AuthError::UpstreamUnavailable => "upstream_unavailable",
            AuthError::InvalidCode => "invalid_code",
            AuthError::ChallengeExpired => "challenge_expired",
            AuthError::InvalidGrant(_) => "invalid_grant",
            AuthError::Unauthorized(_) => "unauthorized",
            AuthError::StepUpRequired => "step_up_required",
            AuthError::UnknownUser => "unknown_user",
            AuthError::Store(_) => "internal_error",
        }
    }

    /// The `reason` word of the JSON error body, for the rejections that carry one.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            AuthError::InvalidGrant(g) => Some(g.as_str()),
            AuthError::Unauthorized(t) => Some(t.as_str()),
            _ => None,
        }
    }
}
