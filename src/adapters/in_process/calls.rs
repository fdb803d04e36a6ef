//! One protocol call against `auth::Service`, and its answer in the model's words.

use crate::adapter::{Answer, Request};
use crate::model::{self, Aal, Grant, Op, Reason, TokenReason};
use auth::{
    AuthError, GrantError, LoginOutcome, LogoutScope, MemoryOtpProvider, Service, TokenError,
    Tokens,
};
use std::sync::atomic::{AtomicU64, Ordering};

/// One protocol call against the service: its answer, and the status and JSON body the HTTP
/// layer would send (for transcripts).
pub(super) async fn call(
    svc: &Service,
    otp: &MemoryOtpProvider,
    destinations: &AtomicU64,
    request: &Request,
) -> (Answer, Option<(u16, serde_json::Value)>) {
    let token = request.token.as_deref().unwrap_or_default();
    let tokens = |t: &Tokens| Answer::Tokens {
        session_id: Some(t.session_id.clone()),
        access: t.access_token.clone(),
        refresh: t.refresh_token.clone(),
        aal: aal(t.aal),
    };
    match &request.op {
        Op::Register {
            user,
            password,
            mfa,
        } => {
            let destination =
                mfa.then(|| format!("otp:{}", destinations.fetch_add(1, Ordering::SeqCst) + 1));
            let r = svc.register(user, password, destination.as_deref()).await;
            answer(r, 201, |name| {
                (Answer::Registered, serde_json::json!({ "username": name }))
            })
        }
        Op::Login {
            user,
            password,
            device,
        } => {
            let r = svc.login(user, password, &format!("device-{device}")).await;
            match r {
                Ok(LoginOutcome::MfaRequired { challenge_id }) => {
                    let code = otp.last_sent().map(|(_, code)| code);
                    let body = serde_json::json!({ "challenge_id": challenge_id });
                    (
                        Answer::Challenge {
                            id: challenge_id,
                            code,
                        },
                        Some((202, body)),
                    )
                }
                Ok(LoginOutcome::Issued(t)) => answer(Ok(t), 200, |t| (tokens(&t), json(&t))),
                Err(e) => answer::<Tokens>(Err(e), 200, |_| unreachable!()),
            }
        }
        Op::VerifyMfa { .. } => {
            let code = request.code.as_deref().unwrap_or_default();
            let r = svc.verify_mfa(token, code).await;
            answer(r, 200, |t| (tokens(&t), json(&t)))
        }
        Op::Refresh { .. } => answer(svc.refresh(token).await, 200, |t| (tokens(&t), json(&t))),
        Op::Access { .. } | Op::Sensitive { .. } => {
            let r = if matches!(request.op, Op::Access { .. }) {
                svc.access(token).await
            } else {
                svc.sensitive(token).await
            };
            answer(r, 200, |p| {
                let body = json(&p);
                (
                    Answer::Principal {
                        username: p.username,
                        aal: aal(p.aal),
                        session_id: Some(p.session_id),
                    },
                    body,
                )
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
            answer(svc.change_password(token, old, new).await, 200, |t| {
                (tokens(&t), json(&t))
            })
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

fn done(_: ()) -> (Answer, serde_json::Value) {
    (Answer::Done, serde_json::Value::Null)
}

/// The answer to a call, and what the HTTP layer would send: `status` and the value's JSON on
/// success, the error's status and `{error, reason?}` otherwise.
fn answer<T>(
    result: Result<T, AuthError>,
    status: u16,
    ok: impl FnOnce(T) -> (Answer, serde_json::Value),
) -> (Answer, Option<(u16, serde_json::Value)>) {
    match result {
        Ok(value) => {
            let (answer, body) = ok(value);
            (answer, Some((status, body)))
        }
        Err(e) => {
            let mut body = serde_json::json!({ "error": e.code() });
            if let Some(reason) = e.reason() {
                body["reason"] = reason.into();
            }
            let answer = match reason(&e) {
                Ok(r) => Answer::Rejected(r),
                Err(m) => Answer::Failed(m),
            };
            (answer, Some((auth::http::status_of(&e).as_u16(), body)))
        }
    }
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
