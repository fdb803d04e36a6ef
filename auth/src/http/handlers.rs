//! The handlers of the public API and their request and answer types. Each handler's
//! `#[utoipa::path]` is where the OpenAPI document gets its operation from: the statuses listed
//! there are every status the handler can answer (the HTTP tests validate each answer they see
//! against them).

use super::error::{ApiError, ErrorBody, JsonBodyFailures, StoreFailure};
use super::extract::{bearer_token, Bearer, JsonBody};
use super::AppState;
use crate::service::{LoginOutcome, LogoutScope, Principal, Tokens};
use crate::Aal;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

/// Longest device label and MFA destination accepted (characters).
pub const MAX_LABEL_CHARS: usize = 256;

// ---------------------------------------------------------------------------------------------
// Requests

// What JSON Schema can say of the service's input rules; the rest (PRECIS's disallowed and
// unassigned code points, lengths counted after preparation) only the service knows, so some
// schema-valid usernames and passwords are still refused with 422.

// The patterns: usernames have no spaces and no control characters (Unicode Cc), what PRECIS's
// IdentifierClass refuses that a pattern can name; passwords and labels have no control characters.

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// Prepared with PRECIS UsernameCaseMapped (RFC 8265); at most 256 bytes once prepared.
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\s\u0000-\u001F\u007F-\u009F]+$"
    )]
    username: String,
    /// Prepared with PRECIS OpaqueString; 8 to 128 characters once prepared.
    #[schema(
        min_length = 8,
        max_length = 128,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    password: String,
    /// Where one-time codes go (e.g. a phone number); present means MFA is on for the account.
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    mfa_destination: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    username: String,
    password: String,
    /// A label for the device, shown nowhere but kept with the session; empty means none.
    #[schema(max_length = 256, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    device: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct MfaRequest {
    challenge_id: String,
    code: String,
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    refresh_token: String,
}

#[derive(Deserialize, ToSchema)]
pub struct ReauthRequest {
    password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct LogoutRequest {
    scope: LogoutScope,
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordRequest {
    old_password: String,
    /// As `password` of `POST /v1/accounts`.
    #[schema(
        min_length = 8,
        max_length = 128,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    new_password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct RevokeRequest {
    /// An access or a refresh token, or anything else (RFC 7009: the answer is the same).
    token: String,
}

// ---------------------------------------------------------------------------------------------
// Answers

/// A session's tokens, as every operation that opens or rotates a session answers.
#[derive(Serialize, ToSchema)]
#[schema(as = Tokens)]
pub struct TokensBody {
    access_token: String,
    refresh_token: String,
    token_type: TokenType,
    /// Seconds until the access token expires.
    expires_in: u64,
    aal: Aal,
    session_id: String,
}

#[derive(Serialize, ToSchema)]
pub enum TokenType {
    Bearer,
}

impl From<Tokens> for TokensBody {
    fn from(t: Tokens) -> Self {
        TokensBody {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            token_type: TokenType::Bearer,
            expires_in: t.expires_in,
            aal: t.aal,
            session_id: t.session_id,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Registered {
    /// The canonical (PRECIS-prepared) username.
    username: String,
}

#[derive(Serialize, ToSchema)]
pub struct MfaChallenge {
    /// Pass it to `POST /v1/session/mfa` with the code the user received.
    challenge_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct Reauthenticated {
    reauthenticated: bool,
}

/// The empty object RFC 7009 answers with.
#[derive(Serialize, ToSchema)]
pub struct Revoked {}

// ---------------------------------------------------------------------------------------------
// Handlers

/// Create an account.
#[utoipa::path(post, path = "/v1/accounts", tag = "accounts", request_body = RegisterRequest,
    responses(
        (status = 201, description = "registered", body = Registered),
        (status = 400, description = "`invalid_json` or `invalid_body`", body = ErrorBody),
        (status = 409, description = "`username_taken`", body = ErrorBody),
        (status = 422, description = "`invalid_username`, `weak_password`, or `invalid_request` (a missing or mistyped field, a bad `mfa_destination`)", body = ErrorBody),
        JsonBodyFailures,
    ))]
pub async fn register(
    State(app): State<AppState>,
    JsonBody(req): JsonBody<RegisterRequest>,
) -> Result<Response, ApiError> {
    if let Some(dest) = &req.mfa_destination {
        check_label(dest, "mfa_destination")?;
    }
    let username = app
        .service
        .register(&req.username, &req.password, req.mfa_destination.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(Registered { username })).into_response())
}

/// Log in with a password: tokens at aal1, or an MFA challenge for an account with MFA.
#[utoipa::path(post, path = "/v1/session/login", tag = "session", request_body = LoginRequest,
    responses(
        (status = 200, description = "a new session at aal1", body = TokensBody),
        (status = 202, description = "the account has MFA: a code was sent", body = MfaChallenge),
        (status = 400, description = "`invalid_json` or `invalid_body`", body = ErrorBody),
        (status = 401, description = "`invalid_credentials` (also for an unknown user)", body = ErrorBody),
        (status = 403, description = "`disabled`", body = ErrorBody),
        (status = 422, description = "`invalid_request`: a missing or mistyped field, a bad `device`", body = ErrorBody),
        (status = 423, description = "`locked`: too many failures", body = ErrorBody),
        JsonBodyFailures,
        (status = 503, description = "`upstream_unavailable`: the OTP provider failed", body = ErrorBody),
    ))]
pub async fn login(
    State(app): State<AppState>,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Result<Response, ApiError> {
    let device = req.device.unwrap_or_default();
    if !device.is_empty() {
        check_label(&device, "device")?;
    }
    match app
        .service
        .login(&req.username, &req.password, &device)
        .await?
    {
        LoginOutcome::Issued(tokens) => Ok(Json(TokensBody::from(tokens)).into_response()),
        LoginOutcome::MfaRequired { challenge_id } => {
            Ok((StatusCode::ACCEPTED, Json(MfaChallenge { challenge_id })).into_response())
        }
    }
}

/// Answer an MFA challenge with the code: a new session at aal2.
#[utoipa::path(post, path = "/v1/session/mfa", tag = "session", request_body = MfaRequest,
    responses(
        (status = 200, description = "a new session at aal2", body = TokensBody),
        (status = 400, description = "`invalid_json` or `invalid_body`", body = ErrorBody),
        (status = 401, description = "`invalid_code`", body = ErrorBody),
        (status = 410, description = "`challenge_expired`: unknown, used, timed out or out of attempts", body = ErrorBody),
        (status = 422, description = "`invalid_request`: a missing or mistyped field", body = ErrorBody),
        JsonBodyFailures,
        (status = 503, description = "`upstream_unavailable`: the OTP provider failed", body = ErrorBody),
    ))]
pub async fn verify_mfa(
    State(app): State<AppState>,
    JsonBody(req): JsonBody<MfaRequest>,
) -> Result<Json<TokensBody>, ApiError> {
    let tokens = app.service.verify_mfa(&req.challenge_id, &req.code).await?;
    Ok(Json(tokens.into()))
}

/// Rotate a session's tokens with its refresh token.
#[utoipa::path(post, path = "/v1/session/refresh", tag = "session", request_body = RefreshRequest,
    responses(
        (status = 200, description = "the session's next generation", body = TokensBody),
        (status = 400, description = "`invalid_grant` with reason `unknown`, `expired`, `revoked` or `reuse`; or `invalid_json`, `invalid_body`", body = ErrorBody),
        (status = 422, description = "`invalid_request`: a missing or mistyped field", body = ErrorBody),
        JsonBodyFailures,
    ))]
pub async fn refresh(
    State(app): State<AppState>,
    JsonBody(req): JsonBody<RefreshRequest>,
) -> Result<Json<TokensBody>, ApiError> {
    Ok(Json(app.service.refresh(&req.refresh_token).await?.into()))
}

/// Who the access token speaks for.
#[utoipa::path(get, path = "/v1/session", tag = "session", security(("session" = [])),
    responses(
        (status = 200, description = "authorized", body = Principal),
        (status = 401, description = "`unauthorized` with reason `unknown`, `expired` or `revoked`", body = ErrorBody),
        StoreFailure,
    ))]
pub async fn access(
    State(app): State<AppState>,
    Bearer(token): Bearer,
) -> Result<Json<Principal>, ApiError> {
    Ok(Json(app.service.access(&token).await?))
}

/// As `GET /v1/session`, for an operation that needs a recent authentication.
#[utoipa::path(post, path = "/v1/session/sensitive", tag = "session", security(("session" = [])),
    responses(
        (status = 200, description = "authorized", body = Principal),
        (status = 401, description = "`unauthorized` with reason `unknown`, `expired` or `revoked`", body = ErrorBody),
        (status = 403, description = "`step_up_required`: reauthenticate first", body = ErrorBody),
        StoreFailure,
    ))]
pub async fn sensitive(
    State(app): State<AppState>,
    Bearer(token): Bearer,
) -> Result<Json<Principal>, ApiError> {
    Ok(Json(app.service.sensitive(&token).await?))
}

/// Prove the password again, so sensitive operations are allowed for a while.
#[utoipa::path(post, path = "/v1/session/reauth", tag = "session", security(("session" = [])),
    request_body = ReauthRequest,
    responses(
        (status = 200, description = "reauthenticated", body = Reauthenticated),
        (status = 400, description = "`invalid_json` or `invalid_body`", body = ErrorBody),
        (status = 401, description = "`unauthorized` (with a reason) or `invalid_credentials`", body = ErrorBody),
        (status = 422, description = "`invalid_request`: a missing or mistyped field", body = ErrorBody),
        JsonBodyFailures,
    ))]
pub async fn reauthenticate(
    State(app): State<AppState>,
    Bearer(token): Bearer,
    JsonBody(req): JsonBody<ReauthRequest>,
) -> Result<Json<Reauthenticated>, ApiError> {
    app.service.reauthenticate(&token, &req.password).await?;
    Ok(Json(Reauthenticated {
        reauthenticated: true,
    }))
}

/// End this session, the user's other sessions, or all of them.
#[utoipa::path(post, path = "/v1/session/logout", tag = "session", security(("session" = [])),
    request_body = LogoutRequest,
    responses(
        (status = 204, description = "logged out"),
        (status = 400, description = "`invalid_json` or `invalid_body`", body = ErrorBody),
        (status = 401, description = "`unauthorized` with reason `unknown`, `expired` or `revoked`", body = ErrorBody),
        (status = 422, description = "`invalid_request`: a missing field or an unknown scope", body = ErrorBody),
        JsonBodyFailures,
    ))]
pub async fn logout(
    State(app): State<AppState>,
    Bearer(token): Bearer,
    JsonBody(req): JsonBody<LogoutRequest>,
) -> Result<StatusCode, ApiError> {
    app.service.logout(&token, req.scope).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Change the password: this session rotates, every other session of the user ends.
#[utoipa::path(post, path = "/v1/session/password", tag = "session", security(("session" = [])),
    request_body = PasswordRequest,
    responses(
        (status = 200, description = "this session's next generation", body = TokensBody),
        (status = 400, description = "`invalid_json` or `invalid_body`", body = ErrorBody),
        (status = 401, description = "`unauthorized` (with a reason) or `invalid_credentials`", body = ErrorBody),
        (status = 422, description = "`weak_password`, or `invalid_request`: a missing or mistyped field", body = ErrorBody),
        JsonBodyFailures,
    ))]
pub async fn change_password(
    State(app): State<AppState>,
    Bearer(token): Bearer,
    JsonBody(req): JsonBody<PasswordRequest>,
) -> Result<Json<TokensBody>, ApiError> {
    let tokens = app
        .service
        .change_password(&token, &req.old_password, &req.new_password)
        .await?;
    Ok(Json(tokens.into()))
}

/// Revoke a token (RFC 7009): the same answer whatever the token was.
#[utoipa::path(post, path = "/v1/oauth/revoke", tag = "session", request_body = RevokeRequest,
    responses(
        (status = 200, description = "revoked, or nothing to revoke", body = Revoked),
        (status = 400, description = "`invalid_json` or `invalid_body`", body = ErrorBody),
        (status = 422, description = "`invalid_request`: a missing or mistyped field", body = ErrorBody),
        JsonBodyFailures,
    ))]
pub async fn revoke(
    State(app): State<AppState>,
    JsonBody(req): JsonBody<RevokeRequest>,
) -> Result<Json<Revoked>, ApiError> {
    app.service.revoke(&req.token).await?;
    Ok(Json(Revoked {}))
}

/// What an administrator can do to an account.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AdminAction {
    /// Refuse logins and end every session.
    Disable,
    Enable,
    /// Clear a lockout.
    Unlock,
}

/// Disable, enable or unlock an account (needs the server's admin token).
#[utoipa::path(post, path = "/v1/admin/users/{username}/{action}", tag = "admin",
    security(("admin" = [])),
    params(
        ("username" = String, Path, description = "the account, as registered or any spelling PRECIS maps to it"),
        ("action" = inline(AdminAction), Path),
    ),
    responses(
        (status = 204, description = "done"),
        (status = 400, description = "`invalid_path`: the path is not valid UTF-8", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no admin token, or the wrong one", body = ErrorBody),
        (status = 404, description = "`unknown_user`, or `not_found` for an unknown action", body = ErrorBody),
        StoreFailure,
    ))]
pub async fn admin(
    State(app): State<AppState>,
    parts: Parts,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let presented = bearer_token(&parts);
    let authorised = match (&app.admin_token_digest, presented) {
        (Some(expected), Some(token)) => {
            let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
            subtle::ConstantTimeEq::ct_eq(&digest[..], &expected[..]).into()
        }
        _ => false,
    };
    if !authorised {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized").bearer_challenge());
    }
    let Path((username, action)) =
        path.map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "invalid_path"))?;
    match action.as_str() {
        "disable" => app.service.admin_disable(&username).await?,
        "enable" => app.service.admin_enable(&username).await?,
        "unlock" => app.service.admin_unlock(&username).await?,
        _ => return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found")),
    }
    Ok(StatusCode::NO_CONTENT)
}

/// This document: the OpenAPI 3.1 description of the API.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "the OpenAPI document", content_type = "application/json", body = Object)))]
pub async fn openapi_document(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        app.openapi,
    )
}

fn check_label(value: &str, field: &'static str) -> Result<(), ApiError> {
    let chars = value.chars().count();
    if chars == 0 || chars > MAX_LABEL_CHARS || value.chars().any(char::is_control) {
        return Err(
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request").detail(field),
        );
    }
    Ok(())
}
