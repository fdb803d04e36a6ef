//! Token formats. Every token the service hands out is stored (or checked) by its SHA-256
//! digest, never in the clear, so a copy of the database does not hold usable tokens.
//!
//! | token | format | how it is recognised |
//! |---|---|---|
//! | access | `at_<32 random bytes>` | digest lookup |
//! | refresh, V1 | `rt_<HMAC(key, session, generation)>` | digest lookup |
//! | refresh, V2 | `v2.<session id>.<generation>.<HMAC(key, session, generation)>` | MAC check, then digest lookup |
//! | MFA challenge | `mfa_<32 random bytes>` | digest lookup |
//!
//! Refresh tokens are derived from the server key rather than drawn at random so that a grace
//! retry can hand back the *same* current token without the store ever holding it in the clear.

use crate::config::Protocol;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub type TokenHash = [u8; 32];

/// Prefixes of the randomly drawn identifiers.
pub const ACCESS_PREFIX: &str = "at_";
pub const CHALLENGE_PREFIX: &str = "mfa_";
pub const SESSION_PREFIX: &str = "s_";
const V1_PREFIX: &str = "rt_";
const V2_PREFIX: &str = "v2";
const V1_CONTEXT: &[u8] = b"auth.refresh.v1";
const V2_CONTEXT: &[u8] = b"auth.refresh.v2";

/// SHA-256 of a presented token: the key under which it is stored.
pub fn digest(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

/// The server's secret for deriving and authenticating refresh tokens. Persisted in the store so
/// a restart or a deploy keeps every session valid.
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

/// What a presented refresh token claims before the store is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshClaim {
    /// A V1 token (or anything that is not V2-shaped): only the store can tell.
    Opaque,
    /// A V2 token whose MAC verified: it was issued for this session and generation.
    Structured { session_id: String, generation: u64 },
}

impl TokenKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        TokenKey(bytes)
    }

    /// The refresh token of `generation` of `session_id`, in the given format.
    pub fn refresh_token(&self, session_id: &str, generation: u64, format: Protocol) -> String {
        match format {
            Protocol::V1 => {
                let mac = self.mac(V1_CONTEXT, session_id, generation);
                let mut token = String::from(V1_PREFIX);
                URL_SAFE_NO_PAD.encode_string(mac, &mut token);
                token
            }
            Protocol::V2 => {
                let mac = self.mac(V2_CONTEXT, session_id, generation);
                format!(
                    "{V2_PREFIX}.{session_id}.{generation}.{}",
                    URL_SAFE_NO_PAD.encode(mac)
                )
            }
        }
    }

    /// Classifies a presented refresh token. `None` means it is V2-shaped but forged or mangled,
    /// so it can be refused without touching the store.
    pub fn classify_refresh(&self, token: &str) -> Option<RefreshClaim> {
        if !token.starts_with("v2.") {
            return Some(RefreshClaim::Opaque);
        }
        let mut parts = token.split('.');
        let (Some(V2_PREFIX), Some(session_id), Some(generation), Some(mac), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let generation_text = generation;
        let generation: u64 = generation_text.parse().ok()?;
        // Exactly one spelling per generation ("01" and "+1" are not "1").
        if !session_id.starts_with(SESSION_PREFIX) || generation_text != generation.to_string() {
            return None;
        }
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        // `verify_slice` compares in constant time.
        self.hmac(V2_CONTEXT, session_id, generation)
            .verify_slice(&mac)
            .ok()?;
        Some(RefreshClaim::Structured {
            session_id: session_id.to_owned(),
            generation,
        })
    }

    fn mac(&self, context: &[u8], session_id: &str, generation: u64) -> [u8; 32] {
        self.hmac(context, session_id, generation)
            .finalize()
            .into_bytes()
            .into()
    }

    fn hmac(&self, context: &[u8], session_id: &str, generation: u64) -> Hmac<Sha256> {
        // HMAC accepts keys of any length, so this cannot fail for a 32-byte key.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(context);
        mac.update(&[0]);
        mac.update(session_id.as_bytes());
        mac.update(&[0]);
        mac.update(&generation.to_be_bytes());
        mac
    }
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> TokenKey {
        TokenKey::from_bytes([byte; 32])
    }

    #[test]
    fn v2_tokens_round_trip_and_name_their_session() {
        let token = key(1).refresh_token("s_abc", 7, Protocol::V2);
        assert_eq!(
            key(1).classify_refresh(&token),
            Some(RefreshClaim::Structured {
                session_id: "s_abc".into(),
                generation: 7
            })
        );
    }

    #[test]
    fn v2_tokens_from_another_key_or_edited_are_refused() {
        let token = key(1).refresh_token("s_abc", 7, Protocol::V2);
        assert_eq!(key(2).classify_refresh(&token), None);
        let bumped = token.replacen(".7.", ".8.", 1);
        assert_eq!(key(1).classify_refresh(&bumped), None);
        let padded = token.replacen(".7.", ".07.", 1);
        assert_eq!(key(1).classify_refresh(&padded), None);
        let other_session = token.replacen("s_abc", "s_abd", 1);
        assert_eq!(key(1).classify_refresh(&other_session), None);
        for junk in [
            "v2.",
            "v2....",
            "v2.s_a.1",
            "v2.s_a.1.x.y",
            "v2.s_a.-1.AAAA",
        ] {
            assert_eq!(key(1).classify_refresh(junk), None, "{junk}");
        }
    }

    #[test]
    fn v1_tokens_are_opaque_and_differ_by_generation_and_format() {
        let k = key(3);
        let a = k.refresh_token("s_x", 0, Protocol::V1);
        let b = k.refresh_token("s_x", 1, Protocol::V1);
        assert_ne!(a, b);
        assert!(a.starts_with("rt_"));
        assert_eq!(k.classify_refresh(&a), Some(RefreshClaim::Opaque));
        assert_ne!(digest(&a), digest(&k.refresh_token("s_x", 0, Protocol::V2)));
    }
}
