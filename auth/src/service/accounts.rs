//! Accounts: register, and the admin operations (PROTOCOL.md rules 5, 6).

use super::*;

impl Service {
    /// `Register(user, password, mfa)`. Returns the canonical username.
    pub async fn register(
        &self,
        username: &str,
        password: &str,
        mfa_destination: Option<&str>,
    ) -> Result<String, AuthError> {
        let name = self.canonical(username).ok_or(AuthError::InvalidUsername)?;
        let prepared = self
            .hasher
            .prepare(password)
            .ok_or(AuthError::WeakPassword)?;
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

    pub(super) async fn admin(
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
}
