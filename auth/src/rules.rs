//! The protocol's decisions as pure functions of records, the time and the configuration: the
//! functional core. The service loads records, asks these functions, and writes what they say.
//! Numbers refer to the rules of PROTOCOL.md.

use crate::config::Config;
use crate::error::{GrantError, TokenError};
use crate::store::{AccessRecord, Account, Challenge, Session};

/// A timestamp `t` is still valid iff `now < t` (so an expiry equal to now has passed).
pub fn before(now: u64, deadline: u64) -> bool {
    now < deadline
}

/// Whether a session may still be used: not revoked, and neither idle nor absolute timeout has
/// passed. Revocation is reported before expiry (rule 9).
pub fn session_liveness(session: &Session, now: u64, cfg: &Config) -> Result<(), TokenError> {
    if session.revoked {
        return Err(TokenError::Revoked);
    }
    let idle_deadline = session.last_active.saturating_add(cfg.idle_timeout);
    let absolute_deadline = session.created_at.saturating_add(cfg.absolute_timeout);
    if !before(now, idle_deadline) || !before(now, absolute_deadline) {
        return Err(TokenError::Expired);
    }
    Ok(())
}

/// Rule 4: an access token is valid iff its session is live, it was issued in the session's
/// current access epoch (password change revokes older ones) and its TTL has not run out.
/// Order: revoked (session or epoch), then expired (token or session).
pub fn access_validity(
    session: &Session,
    token: &AccessRecord,
    now: u64,
    cfg: &Config,
) -> Result<(), TokenError> {
    if session.revoked || token.epoch != session.access_epoch {
        return Err(TokenError::Revoked);
    }
    let expires = token.issued_at.saturating_add(cfg.access_ttl);
    #[cfg(feature = "flaws")]
    if cfg.has(crate::flaws::Flaw::ExpiryOffByOne) && now == expires {
        // `<=` where `<` was meant: a token is still accepted at its expiry second.
        return session_liveness(session, now, cfg);
    }
    if !before(now, expires) {
        return Err(TokenError::Expired);
    }
    session_liveness(session, now, cfg)
}

/// Rule 4: sensitive actions also need a recent proof of a factor.
pub fn step_up_satisfied(session: &Session, now: u64, cfg: &Config) -> bool {
    before(now, session.auth_time.saturating_add(cfg.step_up_window))
}

/// What presenting refresh generation `g` does to a session (rule 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshDecision {
    /// `g` is current: rotate to `g + 1`.
    Rotate,
    /// `g` is the previous generation, within the grace window: hand back the current one.
    GraceRetry,
    /// An older generation outside the grace window: revoke the whole session.
    Reuse,
}

pub fn refresh_decision(
    session: &Session,
    presented: u64,
    now: u64,
    cfg: &Config,
) -> Result<RefreshDecision, GrantError> {
    session_liveness(session, now, cfg).map_err(|e| match e {
        TokenError::Revoked => GrantError::Revoked,
        TokenError::Expired => GrantError::Expired,
        TokenError::Unknown => GrantError::Unknown,
    })?;
    let current = session.generation;
    if presented == current {
        return Ok(RefreshDecision::Rotate);
    }
    if presented > current {
        // Only issued generations are in the store; a future one cannot be presented.
        return Err(GrantError::Unknown);
    }
    let in_grace = session
        .rotated_at
        .is_some_and(|at| before(now, at.saturating_add(cfg.refresh_grace)));
    #[cfg(feature = "flaws")]
    {
        use crate::flaws::Flaw;
        if cfg.has(Flaw::NoRefreshGrace) {
            // The grace window was "simplified away": every older generation is reuse.
            return Ok(RefreshDecision::Reuse);
        }
        if cfg.has(Flaw::GraceAnyAncestor) && in_grace {
            // `presented < current` where `presented + 1 == current` was meant.
            return Ok(RefreshDecision::GraceRetry);
        }
    }
    if presented + 1 == current && in_grace {
        Ok(RefreshDecision::GraceRetry)
    } else {
        Ok(RefreshDecision::Reuse)
    }
}

/// Rule 6: whether a lock is in force now. A lock lapses exactly at `locked_until`.
pub fn is_locked(account: &Account, now: u64) -> bool {
    account.locked_until.is_some_and(|until| before(now, until))
}

/// Rule 6: the account after a lapsed lock is noticed (count reset, lock cleared).
pub fn clear_lapsed_lock(account: &mut Account, now: u64) {
    if account.locked_until.is_some() && !is_locked(account, now) {
        account.locked_until = None;
        account.failed_logins = 0;
    }
}

/// Rule 6: count one wrong password; the one that reaches the threshold locks the account.
pub fn count_wrong_password(account: &mut Account, now: u64, cfg: &Config) {
    account.failed_logins = account.failed_logins.saturating_add(1);
    if account.failed_logins >= cfg.lockout_threshold {
        account.locked_until = Some(now.saturating_add(cfg.lockout_duration));
        // The count starts again from zero when the lock lapses or is lifted.
        account.failed_logins = 0;
    }
}

/// Rule 7: a challenge answers only while it is neither used/killed nor past its TTL.
pub fn challenge_open(challenge: &Challenge, now: u64, cfg: &Config) -> bool {
    !challenge.dead
        && before(
            now,
            challenge.created_at.saturating_add(cfg.mfa_challenge_ttl),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Protocol;
    use crate::Aal;

    fn session(now: u64) -> Session {
        Session {
            id: "s_1".into(),
            username: "alice".into(),
            device: "phone".into(),
            aal: Aal::Aal1,
            created_at: now,
            auth_time: now,
            last_active: now,
            generation: 0,
            rotated_at: None,
            token_format: Protocol::V1,
            access_epoch: 0,
            revoked: false,
        }
    }

    fn account() -> Account {
        Account {
            username: "alice".into(),
            password_hash: String::new(),
            mfa_destination: None,
            disabled: false,
            failed_logins: 0,
            locked_until: None,
        }
    }

    #[test]
    fn a_deadline_equal_to_now_has_passed() {
        assert!(before(9, 10));
        assert!(!before(10, 10));
    }

    #[test]
    fn access_tokens_expire_at_exactly_issued_at_plus_ttl() {
        let cfg = Config::for_tests();
        let s = session(100);
        let t = AccessRecord {
            session_id: "s_1".into(),
            issued_at: 100,
            epoch: 0,
        };
        assert_eq!(
            access_validity(&s, &t, 100 + cfg.access_ttl - 1, &cfg),
            Ok(())
        );
        assert_eq!(
            access_validity(&s, &t, 100 + cfg.access_ttl, &cfg),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn revocation_is_reported_before_expiry() {
        let cfg = Config::for_tests();
        let mut s = session(0);
        s.revoked = true;
        let t = AccessRecord {
            session_id: "s_1".into(),
            issued_at: 0,
            epoch: 0,
        };
        assert_eq!(
            access_validity(&s, &t, 10_000, &cfg),
            Err(TokenError::Revoked)
        );
        s.revoked = false;
        s.access_epoch = 1;
        assert_eq!(access_validity(&s, &t, 1, &cfg), Err(TokenError::Revoked));
    }

    #[test]
    fn idle_and_absolute_timeouts_each_end_a_session() {
        let cfg = Config::for_tests();
        let mut s = session(0);
        assert_eq!(session_liveness(&s, cfg.idle_timeout - 1, &cfg), Ok(()));
        assert_eq!(
            session_liveness(&s, cfg.idle_timeout, &cfg),
            Err(TokenError::Expired)
        );
        // Kept active, the session still ends at the absolute timeout.
        s.last_active = cfg.absolute_timeout - 1;
        assert_eq!(session_liveness(&s, cfg.absolute_timeout - 1, &cfg), Ok(()));
        assert_eq!(
            session_liveness(&s, cfg.absolute_timeout, &cfg),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn refresh_decisions_at_the_grace_edges() {
        let cfg = Config::for_tests();
        let mut s = session(0);
        s.generation = 2;
        s.rotated_at = Some(50);
        assert_eq!(
            refresh_decision(&s, 2, 50, &cfg),
            Ok(RefreshDecision::Rotate)
        );
        assert_eq!(
            refresh_decision(&s, 1, 50 + cfg.refresh_grace - 1, &cfg),
            Ok(RefreshDecision::GraceRetry)
        );
        assert_eq!(
            refresh_decision(&s, 1, 50 + cfg.refresh_grace, &cfg),
            Ok(RefreshDecision::Reuse)
        );
        assert_eq!(
            refresh_decision(&s, 0, 51, &cfg),
            Ok(RefreshDecision::Reuse)
        );
        s.rotated_at = None;
        assert_eq!(
            refresh_decision(&s, 1, 51, &cfg),
            Ok(RefreshDecision::Reuse)
        );
        s.revoked = true;
        assert_eq!(refresh_decision(&s, 2, 51, &cfg), Err(GrantError::Revoked));
    }

    #[test]
    fn lockout_at_exactly_the_threshold_and_lapse_at_exactly_the_deadline() {
        let cfg = Config::for_tests();
        let mut a = account();
        for _ in 0..cfg.lockout_threshold - 1 {
            count_wrong_password(&mut a, 10, &cfg);
            assert!(!is_locked(&a, 10));
        }
        count_wrong_password(&mut a, 10, &cfg);
        assert!(is_locked(&a, 10));
        assert!(is_locked(&a, 10 + cfg.lockout_duration - 1));
        assert!(!is_locked(&a, 10 + cfg.lockout_duration));
        clear_lapsed_lock(&mut a, 10 + cfg.lockout_duration);
        assert_eq!((a.failed_logins, a.locked_until), (0, None));
    }

    #[test]
    fn challenges_close_at_ttl_or_when_dead() {
        let cfg = Config::for_tests();
        let mut c = Challenge {
            username: "alice".into(),
            upstream_ref: "r".into(),
            created_at: 0,
            attempts: 0,
            dead: false,
        };
        assert!(challenge_open(&c, cfg.mfa_challenge_ttl - 1, &cfg));
        assert!(!challenge_open(&c, cfg.mfa_challenge_ttl, &cfg));
        c.dead = true;
        assert!(!challenge_open(&c, 0, &cfg));
    }
}
