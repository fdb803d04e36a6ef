//! MFA through the upstream OTP provider (PROTOCOL.md rules 2 and 7).
//!
//! Verification order: the challenge must be open (else `ChallengeExpired`), then the provider
//! must be up (else `UpstreamUnavailable`, nothing counted, challenge still usable), then the
//! code is judged. The wrong code that reaches `mfa_max_attempts` still answers `InvalidCode`
//! and kills the challenge.

use super::deadlines::valid;
use super::{Aal, Challenge, Code, Outcome, Reason, State, Token, Upstream};

impl State {
    /// Login reached the MFA step: the provider sends a code (or fails closed).
    pub(super) fn start_challenge(&mut self, user: super::Text) -> Outcome {
        if self.upstream != Upstream::Up {
            return Outcome::Rejected(Reason::UpstreamUnavailable);
        }
        self.challenges.push(Challenge {
            user,
            created_at: self.now,
            attempts: 0,
            dead: false,
        });
        Outcome::MfaRequired {
            challenge: self.challenges.len() - 1,
        }
    }

    pub(super) fn verify_mfa(&mut self, challenge: &Token, code: Code) -> Outcome {
        let expired = Outcome::Rejected(Reason::ChallengeExpired);
        let Token::Challenge(c) = challenge else {
            return expired;
        };
        let (now, p, upstream) = (self.now, self.params, self.upstream);
        let Some(ch) = self.challenges.get_mut(*c) else {
            return expired;
        };
        if ch.dead || !valid(now, ch.created_at.saturating_add(p.mfa_challenge_ttl)) {
            return expired;
        }
        if upstream != Upstream::Up {
            return Outcome::Rejected(Reason::UpstreamUnavailable);
        }
        if code == Code::Wrong {
            ch.attempts += 1;
            if ch.attempts >= p.mfa_max_attempts {
                ch.dead = true;
            }
            return Outcome::Rejected(Reason::InvalidCode);
        }
        ch.dead = true;
        let user = ch.user.clone();
        if self.accounts.get(&user).is_none_or(|a| a.disabled) {
            return expired;
        }
        let session = self.create_session(user, Aal::Aal2);
        Outcome::Issued {
            session,
            aal: Aal::Aal2,
        }
    }
}
