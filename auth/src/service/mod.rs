//! [`Service`]: one async method per operation of docs/PROTOCOL.md §4, one file per concern.
//!
//! Each method takes the time once, then reads, decides (through [`crate::rules`]) and writes
//! inside store transactions. Slow or remote work (argon2, the OTP provider) happens between
//! transactions, never while one is open; the transaction after it re-reads what it relies on.
//!
//! | file | operations |
//! |---|---|
//! | this file | the service, its parts, and what every operation shares: authorizing a token, creating a session, issuing tokens |
//! | [`accounts`] | register; admin disable, enable, unlock |
//! | [`login`] | login, the MFA challenge, verify-mfa |
//! | [`refresh`] | refresh: rotation, grace retry, reuse detection |
//! | [`calls`] | access, sensitive, reauthenticate, logout, revoke, change password |

mod accounts;
mod calls;
mod login;
mod refresh;

use crate::clock::Clock;
use crate::config::Config;
#[cfg(feature = "flaws")]
use crate::config::Protocol;
use crate::credentials::PasswordHasherId;
use crate::error::{AuthError, GrantError, StoreError, TokenError};
use crate::interleave::Interleave;
use crate::otp::OtpProvider;
use crate::rng::TokenRng;
use crate::rules::{self, RefreshDecision};
use crate::store::{AccessRecord, Challenge, RefreshRecord, Session, Store, Tx};
use crate::tokens::{
    digest, RefreshClaim, TokenKey, ACCESS_PREFIX, CHALLENGE_PREFIX, SESSION_PREFIX,
};
use crate::Aal;
use serde::Serialize;
use std::sync::Arc;

/// What a service is built from. The store outlives service instances: a restart or a deploy
/// is a new `Service` over the same store.
#[derive(Clone)]
pub struct Deps {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub rng: Arc<TokenRng>,
    pub otp: Arc<dyn OtpProvider>,
}

pub struct Service {
    cfg: Config,
    deps: Deps,
    hasher: PasswordHasherId,
    key: TokenKey,
    /// Verified against when the username is unknown, so that answer takes as long as a real one.
    dummy_hash: String,
    /// Where a concurrency test chooses interleavings (none in production).
    interleave: Option<Arc<dyn Interleave>>,
    /// `session-mixup`: a response buffer shared by all requests (the bug).
    #[cfg(feature = "flaws")]
    scratch: std::sync::Mutex<Option<Tokens>>,
}

/// The tokens of a session, as handed to the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub session_id: String,
    /// Generation of `refresh_token`.
    pub generation: u64,
    pub aal: Aal,
    /// Seconds the access token lives.
    pub expires_in: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum LoginOutcome {
    Issued(Tokens),
    /// The password was right; a code was sent and must be verified with this challenge.
    MfaRequired {
        challenge_id: String,
    },
}

/// Who an access token speaks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Principal {
    pub username: String,
    pub aal: Aal,
    pub session_id: String,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum LogoutScope {
    /// This session.
    Local,
    /// Every other session of the user.
    Others,
    /// Every session of the user.
    Global,
}

const TOKEN_KEY_META: &str = "token_key";
/// How often a read-verify-write sequence is retried when the password hash changed under it.
const STALE_HASH_RETRIES: usize = 3;

impl Service {
    /// Builds a service over `deps.store`, creating the token key on first use.
    pub fn new(cfg: Config, deps: Deps) -> Result<Self, StoreError> {
        #[cfg(feature = "flaws")]
        let deps = if cfg.has(crate::flaws::Flaw::SessionCache) {
            let store = crate::store::session_cache::SessionCache::new(deps.store.clone());
            Deps {
                store: Arc::new(store),
                ..deps
            }
        } else {
            deps
        };
        let key = {
            let mut tx = deps.store.begin()?;
            let key = match tx.meta(TOKEN_KEY_META)? {
                Some(bytes) if bytes.len() == 32 => {
                    let mut key = [0u8; 32];
                    key.copy_from_slice(&bytes);
                    key
                }
                Some(_) => return Err(StoreError("stored token key is not 32 bytes".into())),
                None => {
                    let mut key = [0u8; 32];
                    deps.rng.fill(&mut key);
                    tx.put_meta(TOKEN_KEY_META, &key)?;
                    key
                }
            };
            tx.commit()?;
            TokenKey::from_bytes(key)
        };
        let mut hasher = PasswordHasherId::new(cfg.argon2);
        if cfg.memoize_hashes {
            hasher = hasher.memoized();
        }
        #[cfg(feature = "flaws")]
        if cfg.has(crate::flaws::Flaw::PasswordTruncated) {
            hasher = hasher.truncating();
        }
        let dummy_hash = hasher.dummy_hash(&deps.rng);
        Ok(Service {
            cfg,
            deps,
            hasher,
            key,
            dummy_hash,
            interleave: None,
            #[cfg(feature = "flaws")]
            scratch: std::sync::Mutex::new(None),
        })
    }

    /// Awaits `hook` at every interleaving point (see [`crate::interleave`]).
    pub fn with_interleave(mut self, hook: Arc<dyn Interleave>) -> Self {
        self.interleave = Some(hook);
        self
    }

    pub(super) async fn point(&self, at: &'static str) {
        if let Some(hook) = &self.interleave {
            hook.point(at).await;
        }
    }

    /// Whether a catalogue flaw (PROTOCOL.md §10) is switched on (never, without the `flaws` feature).
    #[cfg(feature = "flaws")]
    pub(super) fn flawed(&self, flaw: crate::flaws::Flaw) -> bool {
        self.cfg.has(flaw)
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The account a typed name stands for. (`username-normalization-changed`: the V2 build
    /// lower-cases and decomposes (NFD) instead of running PRECIS, so names stored by V1 in NFC
    /// are no longer found.)
    pub(super) fn canonical(&self, username: &str) -> Option<String> {
        #[cfg(feature = "flaws")]
        if self.flawed(crate::flaws::Flaw::UsernameNormalizationChanged)
            && self.cfg.protocol == Protocol::V2
        {
            use unicode_normalization::UnicodeNormalization;
            let name: String = username.to_lowercase().nfd().collect();
            return (!name.is_empty() && !name.contains(char::is_whitespace)).then_some(name);
        }
        self.hasher.canonical(username)
    }

    /// The session an access token belongs to, if the token is valid now (rule 4, order rule 9).
    pub(super) fn authorize(
        &self,
        tx: &mut dyn Tx,
        access_token: &str,
        now: u64,
    ) -> Result<Session, AuthError> {
        let unknown = AuthError::Unauthorized(TokenError::Unknown);
        #[cfg(feature = "flaws")]
        if self.flawed(crate::flaws::Flaw::TokenConfusion)
            && tx.access_token(&self.access_key(access_token))?.is_none()
        {
            // Any token the store knows is taken as proof of a session.
            if let Some(r) = tx.refresh_token(&digest(access_token))? {
                let session = tx.session(&r.session_id)?.ok_or(unknown.clone())?;
                rules::session_liveness(&session, now, &self.cfg)
                    .map_err(AuthError::Unauthorized)?;
                return Ok(session);
            }
        }
        let record = tx
            .access_token(&self.access_key(access_token))?
            .ok_or(unknown.clone())?;
        let session = tx.session(&record.session_id)?.ok_or(unknown)?;
        rules::access_validity(&session, &record, now, &self.cfg)
            .map_err(AuthError::Unauthorized)?;
        Ok(session)
    }

    pub(super) fn password_hash_of(
        &self,
        tx: &mut dyn Tx,
        username: &str,
    ) -> Result<String, AuthError> {
        tx.account(username)?
            .map(|a| a.password_hash)
            // Accounts are never deleted; a session without one cannot authorise anything.
            .ok_or(AuthError::Unauthorized(TokenError::Revoked))
    }

    pub(super) fn create_session(
        &self,
        tx: &mut dyn Tx,
        username: &str,
        device: &str,
        aal: Aal,
        now: u64,
    ) -> Result<Tokens, AuthError> {
        let session = Session {
            id: self.deps.rng.token(SESSION_PREFIX, 16),
            username: username.to_owned(),
            device: device.to_owned(),
            aal,
            created_at: now,
            auth_time: now,
            last_active: now,
            generation: 0,
            rotated_at: None,
            token_format: self.cfg.protocol,
            access_epoch: 0,
            revoked: false,
        };
        tx.put_session(&session)?;
        self.issue(tx, &session, now)
    }

    /// A new access token, and the refresh token of the session's current generation.
    pub(super) fn issue(
        &self,
        tx: &mut dyn Tx,
        session: &Session,
        now: u64,
    ) -> Result<Tokens, AuthError> {
        let access_token = self.new_access_token();
        tx.put_access_token(
            &self.access_key(&access_token),
            &AccessRecord {
                session_id: session.id.clone(),
                issued_at: now,
                epoch: session.access_epoch,
            },
        )?;
        let refresh_token =
            self.key
                .refresh_token(&session.id, session.generation, session.token_format);
        tx.put_refresh_token(
            &digest(&refresh_token),
            &RefreshRecord {
                session_id: session.id.clone(),
                generation: session.generation,
            },
        )?;
        Ok(Tokens {
            access_token,
            refresh_token,
            session_id: session.id.clone(),
            generation: session.generation,
            aal: session.aal,
            expires_in: self.cfg.access_ttl,
        })
    }

    /// The last step of a login: hand the tokens back. (With `session-mixup` they go through a
    /// buffer every request shares, and a concurrent login can overwrite them.)
    pub(super) async fn respond(&self, tokens: Tokens) -> Tokens {
        #[cfg(feature = "flaws")]
        if self.flawed(crate::flaws::Flaw::SessionMixup) {
            *self.scratch.lock().unwrap_or_else(|p| p.into_inner()) = Some(tokens.clone());
            self.point("login.respond").await;
            let shared = self
                .scratch
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            return shared.unwrap_or(tokens);
        }
        self.point("login.respond").await;
        tokens
    }
}

impl Service {
    /// A fresh access token. (`selector-access-tokens`, an upgrade-only flaw: the new build
    /// issues `at2_<selector>.<verifier>` and keys its row by the verifier alone; it reads
    /// both formats, but the builds before it look every token up whole and find none of
    /// these.)
    fn new_access_token(&self) -> String {
        #[cfg(feature = "flaws")]
        if self.flawed(crate::flaws::Flaw::SelectorAccessTokens) {
            let selector = self.deps.rng.token("at2_", 8);
            let verifier = self.deps.rng.token("", 32);
            return format!("{selector}.{verifier}");
        }
        self.deps.rng.token(ACCESS_PREFIX, 32)
    }

    /// The key an access token's row is stored under.
    pub(super) fn access_key(&self, access_token: &str) -> crate::tokens::TokenHash {
        #[cfg(feature = "flaws")]
        if self.flawed(crate::flaws::Flaw::SelectorAccessTokens) {
            if let Some((_, verifier)) = access_token
                .strip_prefix("at2_")
                .and_then(|rest| rest.split_once('.'))
            {
                return digest(verifier);
            }
        }
        digest(access_token)
    }

    /// The stored record of a presented refresh token, if the token is one this service issued
    /// (a V2 token must also name the session and generation it is stored under).
    pub(super) fn refresh_record(
        &self,
        tx: &mut dyn Tx,
        refresh_token: &str,
        claim: &RefreshClaim,
    ) -> Result<Option<RefreshRecord>, StoreError> {
        let record = tx.refresh_token(&digest(refresh_token))?;
        Ok(record.filter(|r| claim_matches(claim, r)))
    }
}

/// A V2 token must name the session and generation it is stored under.
fn claim_matches(claim: &RefreshClaim, record: &RefreshRecord) -> bool {
    match claim {
        RefreshClaim::Opaque => true,
        RefreshClaim::Structured {
            session_id,
            generation,
        } => *session_id == record.session_id && *generation == record.generation,
    }
}
