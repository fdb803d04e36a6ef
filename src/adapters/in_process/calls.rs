//! One protocol call against `auth::Service`, and its answer in the model's words.

use crate::adapter::{Answer, Request};
use crate::model::{self, Aal, Grant, Op, Reason, TokenReason};
use auth::{
    AuthError, GrantError, LoginOutcome, LogoutScope, MemoryOtpProvider, Principal, Service,
    TokenError, Tokens,
};
use std::sync::atomic::{AtomicU64, Ordering};

/// What the HTTP layer would send for a call: kept as the service returned it and rendered as
/// JSON only when a transcript asks ([`Shown::render`]). Rendering on every call cost the fuzz
/// target and every campaign a JSON tree per operation that almost nobody reads.
#[derive(Debug, Clone)]
pub(super) enum Shown {
    Ok { status: u16, body: Body },
    Err { status: u16, error: AuthError },
}

/// The body of a successful call.
#[derive(Debug, Clone)]
pub(super) enum Body {
    Empty,
    Registered { username: String },
    Challenge { challenge_id: String },
    Tokens(Tokens),
    Principal(Principal),
}

impl Shown {
    /// The status and JSON body: the value's JSON on success, `{error, reason?}` otherwise.
    pub(super) fn render(&self) -> (u16, serde_json::Value) {
        match self {
            Shown::Ok { status, body } => (*status, body.render()),
            Shown::Err { status, error } => {
                let mut body = serde_json::json!({ "error": error.code() });
                if let Some(reason) = error.reason() {
                    body["reason"] = reason.into();
                }
                (*status, body)
            }
        }
    }
}

impl Body {
    fn render(&self) -> serde_json::Value {
        match self {
            Body::Empty => serde_json::Value::Null,
            Body::Registered { username } => serde_json::json!({ "username": username }),
            Body::Challenge { challenge_id } => {
                serde_json::json!({ "challenge_id": challenge_id })
            }
            Body::Tokens(t) => json(t),
            Body::Principal(p) => json(p),
        }
    }
}

/// One protocol call against the service: its answer, and what the HTTP layer would send (for
/// transcripts).
pub(super) async fn call(
    svc: &Service,
    otp: &MemoryOtpProvider,
    destinations: &AtomicU64,
    request: &Request,
) -> (Answer, Option<Shown>) {
    let token = request.token.as_deref().unwrap_or_default();
    match &request.op {
        Op::Register {
            user,
            password,
            mfa,
        } => {
            let destination =
                mfa.then(|| format!("otp:{}", destinations.fetch_add(1, Ordering::SeqCst) + 1));
            let r = svc.register(user, password, destination.as_deref()).await;
            answer(r, 201, |username| {
                (Answer::Registered, Body::Registered { username })
            })
        }
        Op::Login {
            user,
            password,
            device,
        } => {
            let mut name = [0u8; DEVICE_NAME_ROOM];
            let r = svc
                .login(user, password, device_name(*device, &mut name))
                .await;
            match r {
                Ok(LoginOutcome::MfaRequired { challenge_id }) => {
                    let code = otp.last_sent().map(|(_, code)| code);
                    let answer = Answer::Challenge {
                        id: challenge_id.clone(),
                        code,
                    };
                    let body = Body::Challenge { challenge_id };
                    (answer, Some(Shown::Ok { status: 202, body }))
                }
                Ok(LoginOutcome::Issued(t)) => answer(Ok(t), 200, issued),
                Err(e) => answer::<Tokens>(Err(e), 200, |_| unreachable!()),
            }
        }
        Op::VerifyMfa { .. } => {
            let code = request.code.as_deref().unwrap_or_default();
            let r = svc.verify_mfa(token, code).await;
            answer(r, 200, issued)
        }
        Op::Refresh { .. } => answer(svc.refresh(token).await, 200, issued),
        Op::Access { .. } | Op::Sensitive { .. } => {
            let r = if matches!(request.op, Op::Access { .. }) {
                svc.access(token).await
            } else {
                svc.sensitive(token).await
            };
            answer(r, 200, |p| {
                let answer = Answer::Principal {
                    username: p.username.clone(),
                    aal: aal(p.aal),
                    session_id: Some(p.session_id.clone()),
                };
                (answer, Body::Principal(p))
            })
        }
        Op::Reauthenticate { password, .. } => {
            answer(svc.reauthenticate(token, password).await, 200, done)
        }
        Op::Logout { scope, .. } => {
            let scope = match scope {
                model::Scope::Local => LogoutScope::Local,
                model::Scope::Others => LogoutScope::Others,
                model::Scope::Global => LogoutScope::Global,
            };
            answer(svc.logout(token, scope).await, 204, done)
        }
        Op::Revoke { .. } => answer(svc.revoke(token).await, 200, done),
        Op::ChangePassword { old, new, .. } => {
            answer(svc.change_password(token, old, new).await, 200, issued)
        }
        Op::AdminDisable { user } => answer(svc.admin_disable(user).await, 204, done),
        Op::AdminEnable { user } => answer(svc.admin_enable(user).await, 204, done),
        Op::AdminUnlock { user } => answer(svc.admin_unlock(user).await, 204, done),
        Op::Tick { .. }
        | Op::Deploy { .. }
        | Op::Restart
        | Op::UpstreamFault { .. }
        | Op::Rollout { .. }
        | Op::Crash => (
            Answer::Failed(format!("`{}` is not a request", request.op)),
            None,
        ),
    }
}

fn json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}

fn done(_: ()) -> (Answer, Body) {
    (Answer::Done, Body::Empty)
}

/// A token pair as an answer and a body.
fn issued(t: Tokens) -> (Answer, Body) {
    let answer = Answer::Tokens {
        session_id: Some(t.session_id.clone()),
        access: t.access_token.clone(),
        refresh: t.refresh_token.clone(),
        aal: aal(t.aal),
    };
    (answer, Body::Tokens(t))
}

/// The answer to a call, and what the HTTP layer would send: `status` and the value on success,
/// the error's status and the error otherwise.
fn answer<T>(
    result: Result<T, AuthError>,
    status: u16,
    ok: impl FnOnce(T) -> (Answer, Body),
) -> (Answer, Option<Shown>) {
    match result {
        Ok(value) => {
            let (answer, body) = ok(value);
            (answer, Some(Shown::Ok { status, body }))
        }
        Err(error) => {
            let answer = match reason(&error) {
                Ok(r) => Answer::Rejected(r),
                Err(m) => Answer::Failed(m),
            };
            let status = auth::http::status_of(&error).as_u16();
            (answer, Some(Shown::Err { status, error }))
        }
    }
}

/// Room for the longest device name, `device-255`.
const DEVICE_NAME_ROOM: usize = 10;

/// The name a device logs in under, written into `room` (a login is a third of the calls, and
/// a fresh `String` for each was measurable in a fuzz exec).
fn device_name(device: u8, room: &mut [u8; DEVICE_NAME_ROOM]) -> &str {
    use std::io::Write;
    let mut rest = &mut room[..];
    write!(rest, "device-{device}").expect("`device-255` fits");
    let len = DEVICE_NAME_ROOM - rest.len();
    std::str::from_utf8(&room[..len]).expect("ASCII")
}

fn aal(a: auth::Aal) -> Aal {
    match a {
        auth::Aal::Aal1 => Aal::Aal1,
        auth::Aal::Aal2 => Aal::Aal2,
    }
}

/// The service's rejection in the model's words (a store error is a service failure).
pub fn reason(e: &AuthError) -> Result<Reason, String> {
    let token = |t: &TokenError| match t {
        TokenError::Unknown => TokenReason::Unknown,
        TokenError::Expired => TokenReason::Expired,
        TokenError::Revoked => TokenReason::Revoked,
    };
    Ok(match e {
        AuthError::UsernameTaken => Reason::UsernameTaken,
        AuthError::InvalidUsername => Reason::InvalidUsername,
        AuthError::WeakPassword => Reason::WeakPassword,
        AuthError::InvalidCredentials => Reason::InvalidCredentials,
        AuthError::Locked => Reason::Locked,
        AuthError::Disabled => Reason::Disabled,
        AuthError::UpstreamUnavailable => Reason::UpstreamUnavailable,
        AuthError::InvalidCode => Reason::InvalidCode,
        AuthError::ChallengeExpired => Reason::ChallengeExpired,
        AuthError::InvalidGrant(g) => Reason::InvalidGrant(match g {
            GrantError::Unknown => Grant::Unknown,
            GrantError::Expired => Grant::Expired,
            GrantError::Revoked => Grant::Revoked,
            GrantError::Reuse => Grant::Reuse,
        }),
        AuthError::Unauthorized(t) => Reason::Unauthorized(token(t)),
        AuthError::StepUpRequired => Reason::StepUpRequired,
        AuthError::UnknownUser => Reason::UnknownUser,
        AuthError::Store(e) => return Err(e.to_string()),
        other => return Err(format!("unexpected error {other:?}")),
    })
}

pub(super) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_are_written_whole() {
        for (device, name) in [
            (0, "device-0"),
            (7, "device-7"),
            (42, "device-42"),
            (255, "device-255"),
        ] {
            let mut room = [0u8; DEVICE_NAME_ROOM];
            assert_eq!(device_name(device, &mut room), name);
        }
    }
}
