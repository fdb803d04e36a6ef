//! Calls made with an access token: access, sensitive, reauthenticate, logout, revoke,
//! change password (PROTOCOL.md rules 1, 4, 5, 10).

use super::*;

impl Service {
    /// `Access(access_token)`.
    pub async fn access(&self, access_token: &str) -> Result<Principal, AuthError> {
        self.authorized_call(access_token, false).await
    }

    /// `Sensitive(access_token)`: as `access`, and the last proof of a factor must be recent.
    pub async fn sensitive(&self, access_token: &str) -> Result<Principal, AuthError> {
        self.authorized_call(access_token, true).await
    }

    pub(super) async fn authorized_call(
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
        let mut tx = self.deps.store.begin()?;
        let session_id = match tx.access_token(&self.access_key(token))? {
            Some(access) => Some(access.session_id),
            None => match self.key.classify_refresh(token) {
                Some(claim) => self
                    .refresh_record(&mut *tx, token, &claim)?
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
            let prepared = self
                .hasher
                .prepare(new_password)
                .ok_or(AuthError::WeakPassword)?;
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
}
