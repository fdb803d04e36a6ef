//! Sessions and tokens: refresh rotation, grace and reuse (rule 3), access and step-up (rule 4),
//! logout scopes and password change (rules 1, 5), RFC 7009 revocation (rule 10).

use super::deadlines::{liveness, valid};
use super::{Grant, Outcome, Reason, Scope, State, Text, Token, TokenReason};

impl State {
    /// The session an access token speaks for, if it is valid now.
    /// Order (rule 9): unknown → revoked (session, or an older access epoch) → expired.
    pub fn authorize(&self, token: &Token) -> Result<usize, TokenReason> {
        let Token::Access(k) = token else {
            return Err(TokenReason::Unknown);
        };
        let t = self.access.get(*k).ok_or(TokenReason::Unknown)?;
        let s = &self.sessions[t.session];
        if s.revoked || t.revoked || t.epoch != s.access_epoch {
            return Err(TokenReason::Revoked);
        }
        if !valid(self.now, t.issued_at.saturating_add(self.params.access_ttl)) {
            return Err(TokenReason::Expired);
        }
        liveness(s, self.now, &self.params)?;
        Ok(t.session)
    }

    /// `Access` and `Sensitive`; a success moves `last_active`.
    pub(super) fn access(&mut self, token: &Token, sensitive: bool) -> Outcome {
        let session = match self.authorize(token) {
            Ok(s) => s,
            Err(r) => return Outcome::Rejected(Reason::Unauthorized(r)),
        };
        let now = self.now;
        let window = self.params.step_up_window;
        let step_up = self.choices.step_up;
        let s = &mut self.sessions[session];
        if sensitive && step_up && !valid(now, s.auth_time.saturating_add(window)) {
            return Outcome::Rejected(Reason::StepUpRequired);
        }
        s.last_active = now;
        Outcome::Authorized {
            user: s.user.clone(),
            aal: s.aal,
            session,
        }
    }

    /// Rule 3. `g == c` rotates; `g == c-1` within the grace window of that rotation returns the
    /// current generation without advancing; any other `g < c` is reuse and revokes the session.
    /// (Profile choices: no rotation; a grace retry that returns the same pair; reuse that only
    /// rejects; a refresh token revoked on its own.)
    pub(super) fn refresh(&mut self, token: &Token) -> Outcome {
        use super::profile::{GraceRetry, Reuse, Rotation};
        let choices = self.choices;
        let reject = |g| Outcome::Rejected(Reason::InvalidGrant(g));
        let &Token::Refresh {
            session,
            generation: g,
        } = token
        else {
            return reject(Grant::Unknown);
        };
        let (now, p) = (self.now, self.params);
        let Some(s) = self.sessions.get_mut(session).filter(|s| g <= s.generation) else {
            return reject(Grant::Unknown);
        };
        match liveness(s, now, &p) {
            Err(TokenReason::Revoked) => return reject(Grant::Revoked),
            Err(_) => return reject(Grant::Expired),
            Ok(()) => {}
        }
        if s.refresh_revoked {
            return reject(Grant::Revoked);
        }
        let c = s.generation;
        let in_grace = s
            .rotated_at
            .is_some_and(|at| valid(now, at.saturating_add(p.refresh_grace)));
        let mut new_access = true;
        if g == c {
            if choices.rotation_ends_previous_access {
                for t in self
                    .access
                    .iter_mut()
                    .filter(|t| t.session == session && t.generation == c)
                {
                    t.revoked = true;
                }
            }
            let s = &mut self.sessions[session];
            if choices.rotation == Rotation::Rotate {
                s.generation += 1;
                s.rotated_at = Some(now);
            }
        } else if g + 1 == c && in_grace {
            // Grace retry: same current generation, a new access token (or the same pair).
            new_access = choices.grace_retry == GraceRetry::NewAccess;
        } else {
            if choices.reuse == Reuse::RevokeSession {
                s.revoked = true;
            }
            return reject(Grant::Reuse);
        }
        let s = &mut self.sessions[session];
        s.last_active = now;
        let generation = s.generation;
        if new_access {
            self.issue_access(session);
        }
        Outcome::Refreshed {
            session,
            generation,
        }
    }

    /// Proves the password again: `auth_time = now`; nothing rotates; no failure is counted.
    pub(super) fn reauthenticate(&mut self, token: &Token, password: &Text) -> Outcome {
        let session = match self.authorize(token) {
            Ok(s) => s,
            Err(r) => return Outcome::Rejected(Reason::Unauthorized(r)),
        };
        if !self.password_matches(&self.sessions[session].user.clone(), password) {
            return Outcome::Rejected(Reason::InvalidCredentials);
        }
        let s = &mut self.sessions[session];
        s.auth_time = self.now;
        s.last_active = self.now;
        Outcome::Reauthenticated
    }

    /// Rule 5: `Local` this session, `Others` every other session of the user, `Global` all.
    pub(super) fn logout(&mut self, token: &Token, scope: Scope) -> Outcome {
        let session = match self.authorize(token) {
            Ok(s) => s,
            Err(r) => return Outcome::Rejected(Reason::Unauthorized(r)),
        };
        let user = self.sessions[session].user.clone();
        // Without scopes, a logout ends the session it was made from.
        let scope = if self.choices.logout_scopes {
            scope
        } else {
            Scope::Local
        };
        for (i, s) in self.sessions.iter_mut().enumerate() {
            let hit = match scope {
                Scope::Local => i == session,
                Scope::Others => s.user == user && i != session,
                Scope::Global => s.user == user,
            };
            if hit {
                s.revoked = true;
            }
        }
        Outcome::LoggedOut
    }

    /// Rule 10: any access or refresh token of a session revokes it; anything else is ignored.
    /// (Profile choice `revoke = token-pair`: only that token, or the current refresh token with
    /// the access tokens issued beside it.)
    pub(super) fn revoke(&mut self, token: &Token) -> Outcome {
        use super::profile::Revoke;
        match self.choices.revoke {
            Revoke::Session => {}
            Revoke::TokenPair => {
                self.revoke_pair(token);
                return Outcome::Revoked;
            }
            Revoke::Pair => {
                // An access token of the current pair takes its refresh token with it; one a
                // refresh already replaced (or a revoke already ended) is gone, and takes
                // nothing (DOT deletes such tokens: revoking one revokes an unknown token).
                if let Token::Access(k) = token {
                    if let Some(t) = self.access.get(*k) {
                        let s = &self.sessions[t.session];
                        if t.generation == s.generation && !t.revoked {
                            let (session, generation) = (t.session, t.generation);
                            self.revoke_pair(&Token::Refresh {
                                session,
                                generation,
                            });
                        }
                    }
                }
                self.revoke_pair(token);
                return Outcome::Revoked;
            }
        }
        let session = match token {
            Token::Access(k) => self.access.get(*k).map(|t| t.session),
            Token::Refresh {
                session,
                generation,
            } => self
                .sessions
                .get(*session)
                .filter(|s| *generation <= s.generation)
                .map(|_| *session),
            _ => None,
        };
        if let Some(s) = session {
            self.sessions[s].revoked = true;
        }
        Outcome::Revoked
    }

    fn revoke_pair(&mut self, token: &Token) {
        match token {
            Token::Access(k) => {
                if let Some(t) = self.access.get_mut(*k) {
                    t.revoked = true;
                }
            }
            Token::Refresh {
                session,
                generation,
            } => {
                let Some(s) = self.sessions.get_mut(*session) else {
                    return;
                };
                if *generation != s.generation {
                    return; // an old refresh token: nothing it could still do
                }
                s.refresh_revoked = true;
                for t in self
                    .access
                    .iter_mut()
                    .filter(|t| t.session == *session && t.generation == *generation)
                {
                    t.revoked = true;
                }
            }
            _ => {}
        }
    }

    /// Rule 1 and 5: order unauthorized → wrong old password → weak new password. On success the
    /// current session moves to a new generation with no grace, every access token issued before
    /// is revoked (a new epoch), every other session of the user is revoked.
    pub(super) fn change_password(&mut self, token: &Token, old: &Text, new: &Text) -> Outcome {
        let session = match self.authorize(token) {
            Ok(s) => s,
            Err(r) => return Outcome::Rejected(Reason::Unauthorized(r)),
        };
        let user = self.sessions[session].user.clone();
        if !self.password_matches(&user, old) {
            return Outcome::Rejected(Reason::InvalidCredentials);
        }
        let Some(new) = super::accounts::prepared_text(new).map(|p| p.keep(new)) else {
            return Outcome::Rejected(Reason::WeakPassword);
        };
        if let Some(account) = self.accounts.get_mut(&user) {
            account.password = new;
        }
        if self.choices.password_change_ends_other_sessions {
            for (i, s) in self.sessions.iter_mut().enumerate() {
                if s.user == user && i != session {
                    s.revoked = true;
                }
            }
        }
        let s = &mut self.sessions[session];
        s.generation += 1;
        s.rotated_at = None;
        s.access_epoch += 1;
        let generation = s.generation;
        self.issue_access(session);
        Outcome::PasswordChanged {
            session,
            generation,
        }
    }
}
