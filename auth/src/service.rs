//! [`Service`]: one async method per operation of PROTOCOL.md.
//!
//! Each method takes the time once, then reads, decides (through [`crate::rules`]) and writes
//! inside store transactions. Slow or remote work (argon2, the OTP provider) happens between
//! transactions, never while one is open; the transaction after it re-reads what it relies on.

use crate::clock::Clock;
use crate::config::Config;
use crate::credentials::{canonical_username, prepared_password, PasswordHasherId};
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub username: String,
    pub aal: Aal,
    pub session_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, Serialize)]
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
        #[allow(unused_mut)] // changed only by a flaw
        let mut hasher = PasswordHasherId::new(cfg.argon2);
        #[cfg(feature = "flaws")]
        if cfg.has(crate::flaws::Flaw::PasswordTruncated) {
            hasher = hasher.truncating();
        }
        let dummy_hash = hasher.hash("not a password anyone has", &deps.rng);
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

    async fn point(&self, at: &'static str) {
        if let Some(hook) = &self.interleave {
            hook.point(at).await;
        }
    }

    /// Whether a catalogue flaw (PROTOCOL.md §10) is switched on (never, without the `flaws` feature).
    #[cfg(feature = "flaws")]
    fn flawed(&self, flaw: crate::flaws::Flaw) -> bool {
        self.cfg.has(flaw)
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The account a typed name stands for. (`username-normalization-changed`: the V2 build
    /// lower-cases and decomposes (NFD) instead of running PRECIS, so names stored by V1 in NFC
    /// are no longer found.)
    fn canonical(&self, username: &str) -> Option<String> {
        #[cfg(feature = "flaws")]
        if self.flawed(crate::flaws::Flaw::UsernameNormalizationChanged)
            && self.cfg.protocol == crate::config::Protocol::V2
        {
            use unicode_normalization::UnicodeNormalization;
            let name: String = username.to_lowercase().nfd().collect();
            return (!name.is_empty() && !name.contains(char::is_whitespace)).then_some(name);
        }
        canonical_username(username)
    }

    /// `Register(user, password, mfa)`. Returns the canonical username.
    pub async fn register(
        &self,
        username: &str,
        password: &str,
        mfa_destination: Option<&str>,
    ) -> Result<String, AuthError> {
        let name = self.canonical(username).ok_or(AuthError::InvalidUsername)?;
        let prepared = prepared_password(password).ok_or(AuthError::WeakPassword)?;
        let password_hash = self.hasher.hash(&prepared, &self.deps.rng);
        let mut tx = self.deps.store.begin()?;
        if tx.account(&name)?.is_some() {
            return Err(AuthError::UsernameTaken);
        }
        tx.put_account(&crate::store::Account {
            username: name.clone(),
            password_hash,
            mfa_destination: mfa_destination.map(str::to_owned),
            disabled: false,
            failed_logins: 0,
            locked_until: None,
        })?;
        tx.commit()?;
        tracing::info!(user = %name, mfa = mfa_destination.is_some(), "account registered");
        Ok(name)
    }

    /// `Login(user, password, device)`. Check order (rule 9): unknown user → locked → wrong
    /// password (counted) → disabled → MFA.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        device: &str,
    ) -> Result<LoginOutcome, AuthError> {
        let now = self.deps.clock.now();
        let Some(name) = self.canonical(username) else {
            self.hasher.verify(password, &self.dummy_hash);
            return Err(AuthError::InvalidCredentials);
        };
        for _ in 0..STALE_HASH_RETRIES {
            let stored_hash = {
                let mut tx = self.deps.store.begin()?;
                let Some(account) = tx.account(&name)? else {
                    drop(tx);
                    self.hasher.verify(password, &self.dummy_hash);
                    return Err(AuthError::InvalidCredentials);
                };
                if rules::is_locked(&account, now) {
                    return Err(AuthError::Locked);
                }
                account.password_hash
            };
            self.point("login.read").await;
            let password_ok = self.hasher.verify(password, &stored_hash);
            self.point("login.verified").await;

            let mut tx = self.deps.store.begin()?;
            let Some(mut account) = tx.account(&name)? else {
                return Err(AuthError::InvalidCredentials);
            };
            if rules::is_locked(&account, now) {
                return Err(AuthError::Locked);
            }
            if account.password_hash != stored_hash {
                continue; // changed while we verified: verify against the new one
            }
            rules::clear_lapsed_lock(&mut account, now);
            #[cfg(feature = "flaws")]
            if !password_ok && self.flawed(crate::flaws::Flaw::LockoutRawUsername) {
                // The failure counter is keyed by what was typed, not by the account.
                let key = format!("failures:{username}");
                let count = tx
                    .meta(&key)?
                    .and_then(|b| b.first().copied())
                    .unwrap_or(0)
                    .saturating_add(1);
                tx.put_meta(&key, &[count])?;
                if u32::from(count) >= self.cfg.lockout_threshold {
                    account.locked_until = Some(now.saturating_add(self.cfg.lockout_duration));
                    tx.put_meta(&key, &[0])?;
                }
                tx.put_account(&account)?;
                tx.commit()?;
                return Err(AuthError::InvalidCredentials);
            }
            if !password_ok {
                rules::count_wrong_password(&mut account, now, &self.cfg);
                tx.put_account(&account)?;
                tx.commit()?;
                if rules::is_locked(&account, now) {
                    tracing::warn!(user = %name, "account locked after repeated wrong passwords");
                }
                return Err(AuthError::InvalidCredentials);
            }
            #[cfg(feature = "flaws")]
            if self.flawed(crate::flaws::Flaw::LockoutRawUsername) {
                // Success resets the counter of what was typed (and only that spelling's).
                tx.put_meta(&format!("failures:{username}"), &[0])?;
            }
            #[cfg(feature = "flaws")]
            let keep_count = self.flawed(crate::flaws::Flaw::LockoutNeverResets);
            #[cfg(not(feature = "flaws"))]
            let keep_count = false;
            if !keep_count {
                account.failed_logins = 0;
            }
            account.locked_until = None;
            tx.put_account(&account)?;
            if account.disabled {
                tx.commit()?;
                return Err(AuthError::Disabled);
            }
            let Some(destination) = account.mfa_destination.clone() else {
                let tokens = self.create_session(&mut *tx, &name, device, Aal::Aal1, now)?;
                tx.commit()?;
                tracing::info!(user = %name, session = %tokens.session_id, "login");
                let tokens = self.respond(tokens).await;
                return Ok(LoginOutcome::Issued(tokens));
            };
            tx.commit()?;
            return self.start_challenge(&name, &destination, now).await;
        }
        Err(AuthError::InvalidCredentials)
    }

    /// `VerifyMfa(challenge, code)`.
    pub async fn verify_mfa(&self, challenge_id: &str, code: &str) -> Result<Tokens, AuthError> {
        let now = self.deps.clock.now();
        let key = digest(challenge_id);
        let upstream_ref = {
            let mut tx = self.deps.store.begin()?;
            match tx.challenge(&key)? {
                Some(c) if rules::challenge_open(&c, now, &self.cfg) => c.upstream_ref,
                _ => return Err(AuthError::ChallengeExpired),
            }
        };
        self.point("mfa.check").await;
        let approved = self
            .deps
            .otp
            .check(&upstream_ref, code)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "OTP provider failed at check");
                AuthError::UpstreamUnavailable
            })?;

        let mut tx = self.deps.store.begin()?;
        let Some(mut challenge) = tx.challenge(&key)? else {
            return Err(AuthError::ChallengeExpired);
        };
        // Another request may have used or killed it while the provider was asked.
        if !rules::challenge_open(&challenge, now, &self.cfg) {
            return Err(AuthError::ChallengeExpired);
        }
        if !approved {
            challenge.attempts += 1;
            if challenge.attempts >= self.cfg.mfa_max_attempts {
                challenge.dead = true;
            }
            tx.put_challenge(&key, &challenge)?;
            tx.commit()?;
            return Err(AuthError::InvalidCode);
        }
        challenge.dead = true;
        tx.put_challenge(&key, &challenge)?;
        let account = tx.account(&challenge.username)?;
        let result = match account {
            Some(account) if !account.disabled => {
                self.create_session(&mut *tx, &account.username, "mfa", Aal::Aal2, now)
            }
            // Disabled after the password step: the login in progress dies with the account.
            _ => Err(AuthError::ChallengeExpired),
        };
        tx.commit()?;
        if let Ok(tokens) = &result {
            tracing::info!(user = %challenge.username, session = %tokens.session_id, "login with MFA");
        }
        match result {
            Ok(tokens) => Ok(self.respond(tokens).await),
            Err(e) => Err(e),
        }
    }

    /// The last step of a login: hand the tokens back. (With `session-mixup` they go through a
    /// buffer every request shares, and a concurrent login can overwrite them.)
    async fn respond(&self, tokens: Tokens) -> Tokens {
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

    /// `Refresh(refresh_token)`: rotation, grace retry or reuse detection (rule 3).
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens, AuthError> {
        let now = self.deps.clock.now();
        self.point("refresh").await;
        let claim = self
            .key
            .classify_refresh(refresh_token)
            .ok_or(AuthError::InvalidGrant(GrantError::Unknown))?;
        #[cfg(feature = "flaws")]
        if self.flawed(crate::flaws::Flaw::RefreshRace) {
            return self
                .refresh_check_then_act(refresh_token, &claim, now)
                .await;
        }
        let mut tx = self.deps.store.begin()?;
        let (session, generation) = self.refresh_target(&mut *tx, refresh_token, &claim)?;
        let decision = rules::refresh_decision(&session, generation, now, &self.cfg)
            .map_err(AuthError::InvalidGrant)?;
        self.apply_refresh(tx, session, decision, now)
    }

    /// `refresh-race`: the decision is taken in one transaction and applied in another, with
    /// `generation + 1` on the row as it is by then — two concurrent refreshes both rotate.
    #[cfg(feature = "flaws")]
    async fn refresh_check_then_act(
        &self,
        refresh_token: &str,
        claim: &RefreshClaim,
        now: u64,
    ) -> Result<Tokens, AuthError> {
        let (session_id, decision) = {
            let mut tx = self.deps.store.begin()?;
            let (session, generation) = self.refresh_target(&mut *tx, refresh_token, claim)?;
            let decision = rules::refresh_decision(&session, generation, now, &self.cfg)
                .map_err(AuthError::InvalidGrant)?;
            (session.id, decision)
        };
        self.point("refresh.decided").await;
        let mut tx = self.deps.store.begin()?;
        let session = tx
            .session(&session_id)?
            .ok_or(AuthError::InvalidGrant(GrantError::Unknown))?;
        self.apply_refresh(tx, session, decision, now)
    }

    /// The session a presented refresh token belongs to, and the generation it carries.
    fn refresh_target(
        &self,
        tx: &mut dyn Tx,
        refresh_token: &str,
        claim: &RefreshClaim,
    ) -> Result<(Session, u64), AuthError> {
        let unknown = AuthError::InvalidGrant(GrantError::Unknown);
        #[cfg(feature = "flaws")]
        if self.flawed(crate::flaws::Flaw::V2RejectsV1Tokens)
            && self.cfg.protocol == crate::config::Protocol::V2
            && *claim == RefreshClaim::Opaque
        {
            // The V2 build only parses its own format.
            return Err(unknown);
        }
        let record = tx
            .refresh_token(&digest(refresh_token))?
            .ok_or(unknown.clone())?;
        if !claim_matches(claim, &record) {
            return Err(unknown);
        }
        let session = tx.session(&record.session_id)?.ok_or(unknown)?;
        Ok((session, record.generation))
    }

    /// Carries out a refresh decision on `session` and commits (rule 3).
    fn apply_refresh(
        &self,
        mut tx: Box<dyn Tx + '_>,
        mut session: Session,
        decision: RefreshDecision,
        now: u64,
    ) -> Result<Tokens, AuthError> {
        match decision {
            RefreshDecision::Rotate => {
                session.generation += 1;
                session.rotated_at = Some(now);
                session.token_format = self.cfg.protocol;
                session.last_active = now;
                #[cfg(feature = "flaws")]
                if self.flawed(crate::flaws::Flaw::RefreshResetsAuthTime) {
                    session.auth_time = now;
                }
            }
            RefreshDecision::GraceRetry => session.last_active = now,
            RefreshDecision::Reuse => {
                #[cfg(feature = "flaws")]
                if self.flawed(crate::flaws::Flaw::ReuseNotDetected) {
                    // Used tokens are pruned once the grace window is over: an old token is
                    // simply not found, and nothing is revoked.
                    return Err(AuthError::InvalidGrant(GrantError::Unknown));
                }
                session.revoked = true;
                tx.put_session(&session)?;
                tx.commit()?;
                tracing::warn!(session = %session.id, user = %session.username,
                    "refresh token reuse detected: session revoked");
                return Err(AuthError::InvalidGrant(GrantError::Reuse));
            }
        }
        tx.put_session(&session)?;
        let tokens = self.issue(&mut *tx, &session, now)?;
        tx.commit()?;
        Ok(tokens)
    }

    /// `Access(access_token)`.
    pub async fn access(&self, access_token: &str) -> Result<Principal, AuthError> {
        self.authorized_call(access_token, false).await
    }

    /// `Sensitive(access_token)`: as `access`, and the last proof of a factor must be recent.
    pub async fn sensitive(&self, access_token: &str) -> Result<Principal, AuthError> {
        self.authorized_call(access_token, true).await
    }

    /// `Reauthenticate(access_token, password)`: proves the password again (sets `auth_time`),
    /// rotates nothing, and counts no failure (rule 6).
    pub async fn reauthenticate(
        &self,
        access_token: &str,
        password: &str,
    ) -> Result<(), AuthError> {
        let now = self.deps.clock.now();
        let stored_hash = {
            let mut tx = self.deps.store.begin()?;
            let session = self.authorize(&mut *tx, access_token, now)?;
            self.password_hash_of(&mut *tx, &session.username)?
        };
        let password_ok = self.hasher.verify(password, &stored_hash);
        self.point("reauth.verified").await;
        let mut tx = self.deps.store.begin()?;
        let mut session = self.authorize(&mut *tx, access_token, now)?;
        if !password_ok || self.password_hash_of(&mut *tx, &session.username)? != stored_hash {
            return Err(AuthError::InvalidCredentials);
        }
        session.auth_time = now;
        session.last_active = now;
        tx.put_session(&session)?;
        tx.commit()?;
        Ok(())
    }

    /// `Logout(access_token, scope)` (rule 5).
    pub async fn logout(&self, access_token: &str, scope: LogoutScope) -> Result<(), AuthError> {
        let now = self.deps.clock.now();
        self.point("logout").await;
        let mut tx = self.deps.store.begin()?;
        let session = self.authorize(&mut *tx, access_token, now)?;
        for mut other in tx.sessions_of(&session.username)? {
            let hit = match scope {
                LogoutScope::Local => other.id == session.id,
                LogoutScope::Others => other.id != session.id,
                LogoutScope::Global => true,
            };
            if hit && !other.revoked {
                #[cfg(feature = "flaws")]
                if self.flawed(crate::flaws::Flaw::LogoutKeepsRefresh) {
                    // Logout ends the access tokens only; the refresh token lives on.
                    other.access_epoch += 1;
                    tx.put_session(&other)?;
                    continue;
                }
                other.revoked = true;
                tx.put_session(&other)?;
            }
        }
        tx.commit()?;
        tracing::info!(user = %session.username, ?scope, "logout");
        Ok(())
    }

    /// `Revoke(token)` (RFC 7009, rule 10): any token of a session revokes that session;
    /// anything else is ignored. Only a store failure is an error.
    pub async fn revoke(&self, token: &str) -> Result<(), AuthError> {
        let key = digest(token);
        let mut tx = self.deps.store.begin()?;
        let session_id = match tx.access_token(&key)? {
            Some(access) => Some(access.session_id),
            None => match self.key.classify_refresh(token) {
                Some(claim) => tx
                    .refresh_token(&key)?
                    .filter(|record| claim_matches(&claim, record))
                    .map(|record| record.session_id),
                None => None,
            },
        };
        if let Some(mut session) = session_id.map(|id| tx.session(&id)).transpose()?.flatten() {
            if !session.revoked {
                session.revoked = true;
                tx.put_session(&session)?;
                tracing::info!(session = %session.id, "session revoked (RFC 7009)");
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// `ChangePassword(access_token, old, new)`: the current session moves to a new generation
    /// without grace, its earlier access tokens are revoked, every other session is revoked.
    pub async fn change_password(
        &self,
        access_token: &str,
        old_password: &str,
        new_password: &str,
    ) -> Result<Tokens, AuthError> {
        let now = self.deps.clock.now();
        for _ in 0..STALE_HASH_RETRIES {
            let stored_hash = {
                let mut tx = self.deps.store.begin()?;
                let session = self.authorize(&mut *tx, access_token, now)?;
                self.password_hash_of(&mut *tx, &session.username)?
            };
            if !self.hasher.verify(old_password, &stored_hash) {
                return Err(AuthError::InvalidCredentials);
            }
            let prepared = prepared_password(new_password).ok_or(AuthError::WeakPassword)?;
            let new_hash = self.hasher.hash(&prepared, &self.deps.rng);
            self.point("password.verified").await;

            let mut tx = self.deps.store.begin()?;
            let mut session = self.authorize(&mut *tx, access_token, now)?;
            let Some(mut account) = tx.account(&session.username)? else {
                return Err(AuthError::Unauthorized(TokenError::Revoked));
            };
            if account.password_hash != stored_hash {
                continue;
            }
            account.password_hash = new_hash;
            tx.put_account(&account)?;
            #[cfg(feature = "flaws")]
            let keep_others = self.flawed(crate::flaws::Flaw::PasswordChangeKeepsSessions);
            #[cfg(not(feature = "flaws"))]
            let keep_others = false;
            for mut other in tx.sessions_of(&session.username)? {
                if !keep_others && other.id != session.id && !other.revoked {
                    other.revoked = true;
                    tx.put_session(&other)?;
                }
            }
            session.generation += 1;
            session.rotated_at = None;
            session.access_epoch += 1;
            session.token_format = self.cfg.protocol;
            tx.put_session(&session)?;
            let tokens = self.issue(&mut *tx, &session, now)?;
            tx.commit()?;
            tracing::info!(user = %session.username, "password changed; other sessions revoked");
            return Ok(tokens);
        }
        Err(AuthError::InvalidCredentials)
    }

    /// `AdminDisable(user)`: revokes every session and pending MFA challenge, refuses login.
    pub async fn admin_disable(&self, username: &str) -> Result<(), AuthError> {
        #[cfg(feature = "flaws")]
        let keep_sessions = self.flawed(crate::flaws::Flaw::DisabledCanRefresh);
        #[cfg(not(feature = "flaws"))]
        let keep_sessions = false;
        self.admin(username, |tx, account| {
            account.disabled = true;
            if keep_sessions {
                // Only new logins are refused; existing sessions were "left for a cleanup job".
                return Ok(());
            }
            for mut session in tx.sessions_of(&account.username)? {
                if !session.revoked {
                    session.revoked = true;
                    tx.put_session(&session)?;
                }
            }
            for (key, mut challenge) in tx.challenges_of(&account.username)? {
                if !challenge.dead {
                    challenge.dead = true;
                    tx.put_challenge(&key, &challenge)?;
                }
            }
            Ok(())
        })
        .await
    }

    /// `AdminEnable(user)`: logins work again; revoked sessions stay revoked.
    pub async fn admin_enable(&self, username: &str) -> Result<(), AuthError> {
        self.admin(username, |_, account| {
            account.disabled = false;
            Ok(())
        })
        .await
    }

    /// `AdminUnlock(user)`: lifts a lock and clears the failure count.
    pub async fn admin_unlock(&self, username: &str) -> Result<(), AuthError> {
        self.admin(username, |_, account| {
            account.failed_logins = 0;
            account.locked_until = None;
            Ok(())
        })
        .await
    }

    async fn admin(
        &self,
        username: &str,
        change: impl FnOnce(&mut dyn Tx, &mut crate::store::Account) -> Result<(), StoreError>,
    ) -> Result<(), AuthError> {
        let name = self.canonical(username).ok_or(AuthError::UnknownUser)?;
        let mut tx = self.deps.store.begin()?;
        let mut account = tx.account(&name)?.ok_or(AuthError::UnknownUser)?;
        change(&mut *tx, &mut account)?;
        tx.put_account(&account)?;
        tx.commit()?;
        tracing::info!(user = %name, "admin change");
        Ok(())
    }

    async fn authorized_call(
        &self,
        access_token: &str,
        sensitive: bool,
    ) -> Result<Principal, AuthError> {
        let now = self.deps.clock.now();
        self.point("access").await;
        let mut tx = self.deps.store.begin()?;
        let mut session = self.authorize(&mut *tx, access_token, now)?;
        if sensitive && !rules::step_up_satisfied(&session, now, &self.cfg) {
            return Err(AuthError::StepUpRequired);
        }
        session.last_active = now;
        tx.put_session(&session)?;
        tx.commit()?;
        Ok(Principal {
            username: session.username,
            aal: session.aal,
            session_id: session.id,
        })
    }

    async fn start_challenge(
        &self,
        username: &str,
        destination: &str,
        now: u64,
    ) -> Result<LoginOutcome, AuthError> {
        self.point("login.send").await;
        let upstream_ref = self.deps.otp.send(destination).await.map_err(|e| {
            tracing::warn!(error = %e, "OTP provider failed at send");
            AuthError::UpstreamUnavailable
        })?;
        let challenge_id = self.deps.rng.token(CHALLENGE_PREFIX, 32);
        let mut tx = self.deps.store.begin()?;
        tx.put_challenge(
            &digest(&challenge_id),
            &Challenge {
                username: username.to_owned(),
                upstream_ref,
                created_at: now,
                attempts: 0,
                dead: false,
            },
        )?;
        tx.commit()?;
        Ok(LoginOutcome::MfaRequired { challenge_id })
    }

    /// The session an access token belongs to, if the token is valid now (rule 4, order rule 9).
    fn authorize(
        &self,
        tx: &mut dyn Tx,
        access_token: &str,
        now: u64,
    ) -> Result<Session, AuthError> {
        let unknown = AuthError::Unauthorized(TokenError::Unknown);
        #[cfg(feature = "flaws")]
        if self.flawed(crate::flaws::Flaw::TokenConfusion)
            && tx.access_token(&digest(access_token))?.is_none()
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
            .access_token(&digest(access_token))?
            .ok_or(unknown.clone())?;
        let session = tx.session(&record.session_id)?.ok_or(unknown)?;
        rules::access_validity(&session, &record, now, &self.cfg)
            .map_err(AuthError::Unauthorized)?;
        Ok(session)
    }

    fn password_hash_of(&self, tx: &mut dyn Tx, username: &str) -> Result<String, AuthError> {
        tx.account(username)?
            .map(|a| a.password_hash)
            // Accounts are never deleted; a session without one cannot authorise anything.
            .ok_or(AuthError::Unauthorized(TokenError::Revoked))
    }

    fn create_session(
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
    fn issue(&self, tx: &mut dyn Tx, session: &Session, now: u64) -> Result<Tokens, AuthError> {
        let access_token = self.deps.rng.token(ACCESS_PREFIX, 32);
        tx.put_access_token(
            &digest(&access_token),
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
