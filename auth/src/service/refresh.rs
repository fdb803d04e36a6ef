//! Refresh: rotation, grace retry, reuse detection (PROTOCOL.md rule 3).

use super::*;

impl Service {
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
    pub(super) async fn refresh_check_then_act(
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
    pub(super) fn refresh_target(
        &self,
        tx: &mut dyn Tx,
        refresh_token: &str,
        claim: &RefreshClaim,
    ) -> Result<(Session, u64), AuthError> {
        let unknown = AuthError::InvalidGrant(GrantError::Unknown);
        #[cfg(feature = "flaws")]
        if self.flawed(crate::flaws::Flaw::V2RejectsV1Tokens)
            && self.cfg.protocol == Protocol::V2
            && *claim == RefreshClaim::Opaque
        {
            // The V2 build only parses its own format.
            return Err(unknown);
        }
        let record = self
            .refresh_record(tx, refresh_token, claim)?
            .ok_or(unknown.clone())?;
        let session = tx.session(&record.session_id)?.ok_or(unknown)?;
        Ok((session, record.generation))
    }

    /// Carries out a refresh decision on `session` and commits (rule 3).
    pub(super) fn apply_refresh<'s>(
        &'s self,
        mut tx: Box<dyn Tx + 's>,
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
        #[cfg(feature = "flaws")]
        if self.flawed(crate::flaws::Flaw::RotationTwoWrites) && decision == RefreshDecision::Rotate
        {
            // The rotation in two statements: first the new generation (nothing else, so the
            // row still says the old generation was never rotated), then when and the tokens.
            // A crash between them leaves a session at generation g+1 with no grace for g.
            let mut bumped = tx
                .session(&session.id)?
                .ok_or(AuthError::InvalidGrant(GrantError::Unknown))?;
            bumped.generation = session.generation;
            tx.put_session(&bumped)?;
            tx.commit()?;
            tx = self.deps.store.begin()?;
        }
        tx.put_session(&session)?;
        let tokens = self.issue(&mut *tx, &session, now)?;
        tx.commit()?;
        Ok(tokens)
    }
}
