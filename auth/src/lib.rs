//! `auth`: a session-login service, the system the harness checks (PROTOCOL.md).
//!
//! | module | what lives there |
//! |---|---|
//! | [`config`] | every timeout, threshold and the protocol version, in one `Config` |
//! | [`service`] | [`Service`]: one async method per protocol operation |
//! | [`rules`] | the protocol's decisions as pure functions (the service's functional core) |
//! | [`credentials`] | PRECIS usernames and passwords, argon2id hashing |
//! | [`tokens`] | token formats, V1/V2 refresh tokens and their MACs, digests |
//! | [`store`] | the `Store` trait, its in-memory and SQLite implementations |
//! | [`otp`] | the upstream OTP provider: HTTP client, in-process provider |
//! | [`clock`], [`rng`] | the injected clock and randomness |
//! | [`http`] | the axum router speaking the HTTP API, and the test-hooks router |
//! | [`error`] | [`AuthError`]: every rejection reason, comparable with `==` |
//! | [`interleave`] | injectable interleaving points (concurrency tests choose interleavings) |
//! | `flaws` | the flaw catalogue (PROTOCOL.md §10), only with the `flaws` cargo feature |
//!
//! The binary `auth-server` (src/bin) wires these to a socket.

pub mod clock;
pub mod config;
pub mod credentials;
pub mod error;
#[cfg(feature = "flaws")]
pub mod flaws;
pub mod http;
pub mod interleave;
pub mod otp;
pub mod rng;
pub mod rules;
pub mod service;
pub mod store;
pub mod tokens;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Argon2Cost, Config, Protocol};
pub use error::{AuthError, GrantError, StoreError, TokenError};
pub use otp::{HttpOtpProvider, MemoryOtpProvider, NoOtpProvider, OtpMode, OtpProvider};
pub use rng::TokenRng;
pub use service::{Deps, LoginOutcome, LogoutScope, Principal, Service, Tokens};
pub use store::{CrashPoint, MemoryStore, SqliteStore, Store};

use serde::{Deserialize, Serialize};

/// Authenticator assurance level of a session: what its creating event proved.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Aal {
    /// Password only.
    Aal1,
    /// Password and a one-time code.
    Aal2,
}

impl Aal {
    pub fn as_str(self) -> &'static str {
        match self {
            Aal::Aal1 => "aal1",
            Aal::Aal2 => "aal2",
        }
    }
}

/// Compares two secrets without leaking where they differ (or, through the digest, their
/// lengths).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    let (da, db) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    da.ct_eq(&db).into()
}
