//! The one function that turns a service's [`Answer`] into the model's [`Outcome`], for the
//! sequential lockstep and for every order the concurrency checker tries alike. New handles
//! are numbered in `handles` as they appear.

use super::handles::{Handles, Issued};
use super::DriverError;
use crate::adapter::Answer;
use crate::model::profile::GraceRetry;
use crate::model::{Choices, Op, Outcome, Token};

/// The outcome `answer` stands for, given the operation that got it.
pub fn outcome_of(
    op: &Op,
    answer: &Answer,
    handles: &mut Handles,
    choices: &Choices,
) -> Result<Outcome, DriverError> {
    // The session the presented token belongs to (for APIs whose answers name none).
    let presented = match op.token() {
        Some(Token::Refresh { session, .. }) => Some(*session),
        Some(Token::Access(k)) => handles.session_of_access(*k),
        _ => None,
    };
    Ok(match answer {
        Answer::Registered => Outcome::Registered,
        Answer::Tokens {
            session_id,
            access,
            refresh,
            aal,
        } => {
            let issued = Issued {
                session_id: session_id.as_deref(),
                access_token: access,
                refresh_token: refresh,
            };
            match op {
                Op::Login { .. } | Op::VerifyMfa { .. } => Outcome::Issued {
                    session: handles.new_session(issued)?,
                    aal: *aal,
                },
                Op::ChangePassword { .. } => {
                    let (session, generation) = handles.rotated(issued, presented, false)?;
                    Outcome::PasswordChanged {
                        session,
                        generation,
                    }
                }
                Op::Refresh { .. } => {
                    let same_pair = choices.grace_retry == GraceRetry::SamePair;
                    let (session, generation) = handles.rotated(issued, presented, same_pair)?;
                    Outcome::Refreshed {
                        session,
                        generation,
                    }
                }
                other => {
                    return Err(DriverError::Violation(format!(
                        "{:?} answered with tokens",
                        other.kind()
                    )))
                }
            }
        }
        Answer::Challenge { id, code } => match op {
            Op::Login { .. } => Outcome::MfaRequired {
                challenge: handles.new_challenge(id, code.clone())?,
            },
            other => {
                return Err(DriverError::Violation(format!(
                    "{:?} answered with an MFA challenge",
                    other.kind()
                )))
            }
        },
        Answer::Principal {
            username,
            aal,
            session_id,
        } => Outcome::Authorized {
            user: username.as_str().into(),
            aal: *aal,
            session: match session_id {
                Some(id) => handles.session(id)?,
                None => presented.unwrap_or(usize::MAX),
            },
        },
        Answer::Done => match op {
            Op::Reauthenticate { .. } => Outcome::Reauthenticated,
            Op::Logout { .. } => Outcome::LoggedOut,
            Op::Revoke { .. } => Outcome::Revoked,
            Op::AdminDisable { .. } | Op::AdminEnable { .. } | Op::AdminUnlock { .. } => {
                Outcome::Done
            }
            other => {
                return Err(DriverError::Violation(format!(
                    "{:?} answered with a bare success",
                    other.kind()
                )))
            }
        },
        Answer::Rejected(r) => Outcome::Rejected(*r),
        Answer::Violation(m) => return Err(DriverError::Violation(m.clone())),
        Answer::Failed(m) => return Err(DriverError::Service(m.clone())),
        Answer::Lost(m) => return Err(DriverError::Lost(m.clone())),
    })
}
