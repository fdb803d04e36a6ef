//! Every tunable of the protocol in one place (PROTOCOL.md §2), plus the argon2 cost.

use serde::{Deserialize, Serialize};

/// Which refresh-token format the service issues. Both versions *accept* both formats
/// (expand/contract), so a deploy in either direction logs nobody out (PROTOCOL.md rule 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Opaque refresh tokens (`rt_…`), looked up by their hash.
    V1,
    /// Structured refresh tokens (`v2.<session>.<generation>.<mac>`), HMAC-protected.
    V2,
}

impl std::str::FromStr for Protocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "v1" | "V1" => Ok(Protocol::V1),
            "v2" | "V2" => Ok(Protocol::V2),
            other => Err(format!(
                "unknown protocol version {other:?} (expected v1 or v2)"
            )),
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protocol::V1 => "v1",
            Protocol::V2 => "v2",
        })
    }
}

/// Argon2id cost. Hashes record their own parameters, so changing the cost never
/// invalidates stored passwords; it only applies to passwords hashed from then on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Argon2Cost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Argon2Cost {
    /// OWASP's recommended minimum for argon2id (19 MiB, 2 passes, 1 lane).
    pub const PRODUCTION: Argon2Cost = Argon2Cost {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };
    /// Real argon2id at the smallest cost the algorithm allows (8 KiB, one pass, one lane), so
    /// tests and fuzzing hash tens of thousands of passwords a second.
    pub const CHEAP: Argon2Cost = Argon2Cost {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };
}

/// Times are whole seconds on the injected clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub access_ttl: u64,
    pub idle_timeout: u64,
    pub absolute_timeout: u64,
    pub refresh_grace: u64,
    pub lockout_threshold: u32,
    pub lockout_duration: u64,
    pub mfa_challenge_ttl: u64,
    pub mfa_max_attempts: u32,
    pub step_up_window: u64,
    pub protocol: Protocol,
    pub argon2: Argon2Cost,
    /// Remember argon2id results by their inputs (a pure function): tests and fuzzing run the
    /// same passwords and salts over and over. Never for a server: it keeps passwords in memory
    /// and gives up constant-time answers.
    #[serde(default)]
    pub memoize_hashes: bool,
    /// A deliberate bug from PROTOCOL.md §10 (harness self-tests only).
    #[cfg(feature = "flaws")]
    #[serde(skip)]
    pub flaw: Option<crate::flaws::Flaw>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            access_ttl: 300,
            idle_timeout: 900,
            absolute_timeout: 43_200,
            refresh_grace: 10,
            lockout_threshold: 5,
            lockout_duration: 900,
            mfa_challenge_ttl: 300,
            mfa_max_attempts: 3,
            step_up_window: 300,
            protocol: Protocol::V1,
            argon2: Argon2Cost::PRODUCTION,
            memoize_hashes: false,
            #[cfg(feature = "flaws")]
            flaw: None,
        }
    }
}

impl Config {
    /// The protocol defaults with a cheap (but real) argon2id cost.
    pub fn for_tests() -> Self {
        Config {
            argon2: Argon2Cost::CHEAP,
            ..Config::default()
        }
    }

    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Whether `flaw` is switched on (always false without the `flaws` feature).
    #[cfg(feature = "flaws")]
    pub fn has(&self, flaw: crate::flaws::Flaw) -> bool {
        self.flaw == Some(flaw)
    }
}
