//! The flaw catalogue (PROTOCOL.md §10): realistic, update-style bugs that can be switched on one at a
//! time, to prove the harness catches them. Compiled only with the `flaws` cargo feature, which
//! is off by default and absent from release builds of the server.

/// One flaw of PROTOCOL.md §10, by its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flaw {
    NoRefreshGrace,
    GraceAnyAncestor,
    ReuseNotDetected,
    LogoutKeepsRefresh,
    PasswordChangeKeepsSessions,
    DisabledCanRefresh,
    TokenConfusion,
    RefreshResetsAuthTime,
    LockoutRawUsername,
    LockoutNeverResets,
    UsernameNormalizationChanged,
    V2RejectsV1Tokens,
    ExpiryOffByOne,
    RefreshRace,
    PasswordTruncated,
    SessionMixup,
    // Upgrade-only flaws: each shows only when two builds share one store (a mixed window, a
    // rollback) or when a process dies mid-request; one build over its own store is correct.
    RefreshTableMoved,
    SessionCache,
    SelectorAccessTokens,
    RotationTwoWrites,
}

impl Flaw {
    pub const ALL: [Flaw; 16] = [
        Flaw::NoRefreshGrace,
        Flaw::GraceAnyAncestor,
        Flaw::ReuseNotDetected,
        Flaw::LogoutKeepsRefresh,
        Flaw::PasswordChangeKeepsSessions,
        Flaw::DisabledCanRefresh,
        Flaw::TokenConfusion,
        Flaw::RefreshResetsAuthTime,
        Flaw::LockoutRawUsername,
        Flaw::LockoutNeverResets,
        Flaw::UsernameNormalizationChanged,
        Flaw::V2RejectsV1Tokens,
        Flaw::ExpiryOffByOne,
        Flaw::RefreshRace,
        Flaw::PasswordTruncated,
        Flaw::SessionMixup,
    ];

    /// The flaws only a real upgrade (old and new builds over one store) or a crash can show.
    /// `authcheck upgrade` checks them; [`Flaw::ALL`]'s campaigns (one build, atomic deploys)
    /// miss them by construction.
    pub const UPGRADE: [Flaw; 4] = [
        Flaw::RefreshTableMoved,
        Flaw::SessionCache,
        Flaw::SelectorAccessTokens,
        Flaw::RotationTwoWrites,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Flaw::NoRefreshGrace => "no-refresh-grace",
            Flaw::GraceAnyAncestor => "grace-any-ancestor",
            Flaw::ReuseNotDetected => "reuse-not-detected",
            Flaw::LogoutKeepsRefresh => "logout-keeps-refresh",
            Flaw::PasswordChangeKeepsSessions => "password-change-keeps-sessions",
            Flaw::DisabledCanRefresh => "disabled-can-refresh",
            Flaw::TokenConfusion => "token-confusion",
            Flaw::RefreshResetsAuthTime => "refresh-resets-auth-time",
            Flaw::LockoutRawUsername => "lockout-raw-username",
            Flaw::LockoutNeverResets => "lockout-never-resets",
            Flaw::UsernameNormalizationChanged => "username-normalization-changed",
            Flaw::V2RejectsV1Tokens => "v2-rejects-v1-tokens",
            Flaw::ExpiryOffByOne => "expiry-off-by-one",
            Flaw::RefreshRace => "refresh-race",
            Flaw::PasswordTruncated => "password-truncated",
            Flaw::SessionMixup => "session-mixup",
            Flaw::RefreshTableMoved => "refresh-table-moved",
            Flaw::SessionCache => "session-cache",
            Flaw::SelectorAccessTokens => "selector-access-tokens",
            Flaw::RotationTwoWrites => "rotation-two-writes",
        }
    }

    /// Whether the flaw only shows when an instance dies mid-request.
    pub fn needs_crash(self) -> bool {
        matches!(self, Flaw::RotationTwoWrites)
    }

    /// Whether the flaw only shows when requests run concurrently.
    pub fn needs_concurrency(self) -> bool {
        matches!(self, Flaw::RefreshRace | Flaw::SessionMixup)
    }
}

impl std::str::FromStr for Flaw {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let every = || Flaw::ALL.into_iter().chain(Flaw::UPGRADE);
        every().find(|f| f.id() == s).ok_or_else(|| {
            format!(
                "unknown flaw `{s}` (one of: {})",
                every().map(Flaw::id).collect::<Vec<_>>().join(", ")
            )
        })
    }
}

impl std::fmt::Display for Flaw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}
