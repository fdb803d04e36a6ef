//! Login (PROTOCOL.md rules 6, 9, 11), the MFA challenge and its verification (rules 2, 7).

use super::*;

impl Service {
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
            // What a successful login may change; the record is written only if it did.
            let counters_read = (account.failed_logins, account.locked_until);
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
            if (account.failed_logins, account.locked_until) != counters_read {
                tx.put_account(&account)?;
            }
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

    pub(super) async fn start_challenge(
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
}
