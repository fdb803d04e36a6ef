//! The HTTP API of docs/PROTOCOL.md on the wire: the request for each operation, and the
//! answer an HTTP response stands for — checked against the API's contract (the status each
//! success and each rejection must come with, the shape of the bodies), so a wrong status or a
//! malformed body is a finding of its own.

use crate::adapter::{Answer, Request};
use crate::model::{Aal, Code, Grant, Op, Reason, Scope, TokenReason};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// What to send: method, path, bearer token and JSON body.
pub struct Wire {
    pub method: Method,
    pub path: String,
    pub bearer: Option<String>,
    pub body: Option<Value>,
}

/// The request the API uses for `request` (`None` for operations that are not requests).
/// `destination` numbers MFA destinations; `admin_token` goes with admin operations.
pub fn request_for(request: &Request, destination: u64, admin_token: Option<&str>) -> Option<Wire> {
    let token = || request.token.clone().unwrap_or_default();
    let wire = |method, path: &str, bearer, body| Wire {
        method,
        path: path.to_owned(),
        bearer,
        body,
    };
    Some(match &request.op {
        Op::Register {
            user,
            password,
            mfa,
        } => {
            let mut body = json!({ "username": user, "password": password });
            if *mfa {
                body["mfa_destination"] = json!(format!("otp:{destination}"));
            }
            wire(Method::POST, "/v1/accounts", None, Some(body))
        }
        Op::Login {
            user,
            password,
            device,
        } => wire(
            Method::POST,
            "/v1/session/login",
            None,
            Some(
                json!({ "username": user, "password": password, "device": format!("device-{device}") }),
            ),
        ),
        Op::VerifyMfa { code, .. } => {
            let code = request.code.clone().unwrap_or_else(|| match code {
                Code::Right => "000000".into(),
                Code::Wrong => "000001".into(),
            });
            wire(
                Method::POST,
                "/v1/session/mfa",
                None,
                Some(json!({ "challenge_id": token(), "code": code })),
            )
        }
        Op::Refresh { .. } => wire(
            Method::POST,
            "/v1/session/refresh",
            None,
            Some(json!({ "refresh_token": token() })),
        ),
        Op::Access { .. } => wire(Method::GET, "/v1/session", Some(token()), None),
        Op::Sensitive { .. } => wire(Method::POST, "/v1/session/sensitive", Some(token()), None),
        Op::Reauthenticate { password, .. } => wire(
            Method::POST,
            "/v1/session/reauth",
            Some(token()),
            Some(json!({ "password": password })),
        ),
        Op::Logout { scope, .. } => {
            let scope = match scope {
                Scope::Local => "local",
                Scope::Others => "others",
                Scope::Global => "global",
            };
            wire(
                Method::POST,
                "/v1/session/logout",
                Some(token()),
                Some(json!({ "scope": scope })),
            )
        }
        Op::Revoke { .. } => wire(
            Method::POST,
            "/v1/oauth/revoke",
            None,
            Some(json!({ "token": token() })),
        ),
        Op::ChangePassword { old, new, .. } => wire(
            Method::POST,
            "/v1/session/password",
            Some(token()),
            Some(json!({ "old_password": old, "new_password": new })),
        ),
        Op::AdminDisable { user } | Op::AdminEnable { user } | Op::AdminUnlock { user } => {
            let action = match request.op {
                Op::AdminDisable { .. } => "disable",
                Op::AdminEnable { .. } => "enable",
                _ => "unlock",
            };
            wire(
                Method::POST,
                &format!("/v1/admin/users/{}/{action}", percent_encode(user)),
                admin_token.map(str::to_owned),
                None,
            )
        }
        Op::Tick { .. }
        | Op::Deploy { .. }
        | Op::Restart
        | Op::UpstreamFault { .. }
        | Op::Rollout { .. }
        | Op::Crash => return None,
    })
}

/// The answer an HTTP response stands for. `body` is `None` when the body was not JSON;
/// `code` is the code the OTP provider sent last (for MFA challenges).
pub fn answer_from_http(
    op: &Op,
    status: StatusCode,
    body: Option<&Value>,
    code: Option<String>,
) -> Answer {
    let Some(body) = body else {
        return Answer::Violation(format!(
            "{:?} answered {status} with a body that is not JSON",
            op.kind()
        ));
    };
    if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
        return Answer::Failed(format!("{:?} answered {status}: {body}", op.kind()));
    }
    if !status.is_success() {
        return match rejection(op, status, body) {
            Ok(r) => Answer::Rejected(r),
            Err(m) => Answer::Violation(m),
        };
    }
    match success(op, status, body, code) {
        Ok(answer) => answer,
        Err(m) => Answer::Violation(m),
    }
}

fn success(
    op: &Op,
    status: StatusCode,
    body: &Value,
    code: Option<String>,
) -> Result<Answer, String> {
    let expect = |wanted: u16| {
        if status.as_u16() == wanted {
            Ok(())
        } else {
            Err(format!(
                "{:?} answered {status}, the API says {wanted}",
                op.kind()
            ))
        }
    };
    let field = |name: &str| {
        body[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{:?} answered without `{name}`: {body}", op.kind()))
    };
    let tokens = || -> Result<Answer, String> {
        if body["token_type"] != "Bearer" || body["expires_in"].as_u64().is_none() {
            return Err(format!("tokens body is not the API's shape: {body}"));
        }
        Ok(Answer::Tokens {
            session_id: Some(field("session_id")?),
            access: field("access_token")?,
            refresh: field("refresh_token")?,
            aal: aal(&field("aal")?)?,
        })
    };
    Ok(match op {
        Op::Register { .. } => {
            expect(201)?;
            Answer::Registered
        }
        Op::Login { .. } if status == StatusCode::ACCEPTED => Answer::Challenge {
            id: field("challenge_id")?,
            code,
        },
        Op::Login { .. }
        | Op::VerifyMfa { .. }
        | Op::Refresh { .. }
        | Op::ChangePassword { .. } => {
            expect(200)?;
            tokens()?
        }
        Op::Access { .. } | Op::Sensitive { .. } => {
            expect(200)?;
            Answer::Principal {
                username: field("username")?,
                aal: aal(&field("aal")?)?,
                session_id: Some(field("session_id")?),
            }
        }
        Op::Reauthenticate { .. } | Op::Revoke { .. } => {
            expect(200)?;
            Answer::Done
        }
        Op::Logout { .. }
        | Op::AdminDisable { .. }
        | Op::AdminEnable { .. }
        | Op::AdminUnlock { .. } => {
            expect(204)?;
            Answer::Done
        }
        Op::Tick { .. }
        | Op::Deploy { .. }
        | Op::Restart
        | Op::UpstreamFault { .. }
        | Op::Rollout { .. }
        | Op::Crash => return Err(format!("`{op}` is not a request")),
    })
}

fn aal(word: &str) -> Result<Aal, String> {
    match word {
        "aal1" => Ok(Aal::Aal1),
        "aal2" => Ok(Aal::Aal2),
        other => Err(format!("unknown aal `{other}`")),
    }
}

/// The rejection an error answer names, checked against the API's status for it.
fn rejection(op: &Op, status: StatusCode, body: &Value) -> Result<Reason, String> {
    // An empty name leaves no path segment to route: the resource does not exist.
    if let Op::AdminDisable { user } | Op::AdminEnable { user } | Op::AdminUnlock { user } = op {
        if user.is_empty() && status == StatusCode::NOT_FOUND {
            return Ok(Reason::UnknownUser);
        }
    }
    let error = body["error"].as_str().unwrap_or_default();
    let reason = body["reason"].as_str();
    let token = |r: Option<&str>| match r {
        Some("unknown") => Ok(TokenReason::Unknown),
        Some("expired") => Ok(TokenReason::Expired),
        Some("revoked") => Ok(TokenReason::Revoked),
        other => Err(format!("unauthorized with reason {other:?}")),
    };
    let parsed = match error {
        "username_taken" => Reason::UsernameTaken,
        "invalid_username" => Reason::InvalidUsername,
        "weak_password" => Reason::WeakPassword,
        "invalid_credentials" => Reason::InvalidCredentials,
        "locked" => Reason::Locked,
        "disabled" => Reason::Disabled,
        "upstream_unavailable" => Reason::UpstreamUnavailable,
        "invalid_code" => Reason::InvalidCode,
        "challenge_expired" => Reason::ChallengeExpired,
        "step_up_required" => Reason::StepUpRequired,
        "unknown_user" => Reason::UnknownUser,
        "unauthorized" => Reason::Unauthorized(token(reason)?),
        "invalid_grant" => Reason::InvalidGrant(match reason {
            Some("unknown") => Grant::Unknown,
            Some("expired") => Grant::Expired,
            Some("revoked") => Grant::Revoked,
            Some("reuse") => Grant::Reuse,
            other => return Err(format!("invalid_grant with reason {other:?}")),
        }),
        _ => return Err(format!("{:?} answered {status} {body}", op.kind())),
    };
    let wanted = status_of(parsed);
    if status.as_u16() != wanted {
        return Err(format!(
            "`{error}` came with {status}, the API says {wanted}"
        ));
    }
    Ok(parsed)
}

/// The API's status for each rejection.
pub fn status_of(reason: Reason) -> u16 {
    match reason {
        Reason::UsernameTaken => 409,
        Reason::InvalidUsername | Reason::WeakPassword => 422,
        Reason::InvalidCredentials | Reason::InvalidCode | Reason::Unauthorized(_) => 401,
        Reason::Locked => 423,
        Reason::Disabled | Reason::StepUpRequired => 403,
        Reason::UpstreamUnavailable => 503,
        Reason::ChallengeExpired => 410,
        Reason::InvalidGrant(_) => 400,
        Reason::UnknownUser => 404,
    }
}

/// Percent-encodes a path segment (everything but unreserved characters).
pub(crate) fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
