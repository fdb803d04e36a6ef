//! Time in the model (DESIGN §3, first paragraphs).

use super::{Params, Session, TokenReason};

/// A timestamp `t` is valid iff `now < t`: a token whose expiry is `now` is rejected.
pub fn valid(now: u64, t: u64) -> bool {
    now < t
}

/// Whether a session still stands: not revoked (reported first, rule 9), and neither
/// `last_active + idle_timeout` nor `created_at + absolute_timeout` has passed.
pub fn liveness(s: &Session, now: u64, p: &Params) -> Result<(), TokenReason> {
    if s.revoked {
        return Err(TokenReason::Revoked);
    }
    let idle = s.last_active.saturating_add(p.idle_timeout);
    let absolute = s.created_at.saturating_add(p.absolute_timeout);
    if valid(now, idle) && valid(now, absolute) {
        Ok(())
    } else {
        Err(TokenReason::Expired)
    }
}
