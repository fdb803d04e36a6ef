//! The HTTP API of PROTOCOL.md on axum, and the loopback-only test-hooks router.
//!
//! Every answer is JSON (`{error, reason?}` for errors). Bad input of any kind (wrong content
//! type, malformed or oversized JSON, wrong types, missing fields, a bad `Authorization` header,
//! unknown paths, wrong methods) gets a 4xx; only a store failure is a 5xx other than the 503 of
//! an unavailable OTP provider. Handlers never log bodies, tokens or headers.

use crate::clock::ManualClock;
use crate::error::{AuthError, TokenError};
use crate::service::{LoginOutcome, LogoutScope, Principal, Service, Tokens};
use crate::{Aal, Clock};
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Largest request body accepted; anything larger is 413.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest device label and MFA destination accepted (characters).
pub const MAX_LABEL_CHARS: usize = 256;

#[derive(Clone)]
struct AppState {
    service: Arc<Service>,
    /// SHA-256 of the admin token; `None` disables the admin endpoints (always 401).
    admin_token_digest: Option<[u8; 32]>,
}

/// The public API router.
pub fn router(service: Arc<Service>, admin_token: Option<&str>) -> Router {
    let state = AppState {
        service,
        admin_token_digest: admin_token
            .filter(|t| !t.is_empty())
            .map(|t| Sha256::digest(t.as_bytes()).into()),
    };
    Router::new()
        .route("/v1/accounts", post(register))
        .route("/v1/session/login", post(login))
        .route("/v1/session/mfa", post(verify_mfa))
        .route("/v1/session/refresh", post(refresh))
        .route("/v1/session", get(access))
        .route("/v1/session/sensitive", post(sensitive))
        .route("/v1/session/reauth", post(reauthenticate))
        .route("/v1/session/logout", post(logout))
        .route("/v1/session/password", post(change_password))
        .route("/v1/oauth/revoke", post(revoke))
        .route("/v1/admin/users/{username}/{action}", post(admin))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(no_store))
        .with_state(state)
}

/// The test-hooks router: `POST /__test/clock {advance_seconds}` and `GET /__test/clock`.
/// Serve it only on a loopback address (the `auth-server` binary refuses anything else).
pub fn test_hooks_router(clock: ManualClock) -> Router {
    Router::new()
        .route("/__test/clock", get(clock_now).post(clock_advance))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(clock)
}

// ---------------------------------------------------------------------------------------------
// Requests and responses

#[derive(Deserialize)]
struct RegisterRequest {
    username: String,
    password: String,
    mfa_destination: Option<String>,
}

#[derive(Deserialize)]
struct LoginRequest {
    username: String,
    password: String,
    device: Option<String>,
}

#[derive(Deserialize)]
struct MfaRequest {
    challenge_id: String,
    code: String,
}

#[derive(Deserialize)]
struct RefreshRequest {
    refresh_token: String,
}

#[derive(Deserialize)]
struct ReauthRequest {
    password: String,
}

#[derive(Deserialize)]
struct LogoutRequest {
    scope: LogoutScope,
}

#[derive(Deserialize)]
struct PasswordRequest {
    old_password: String,
    new_password: String,
}

#[derive(Deserialize)]
struct RevokeRequest {
    token: String,
}

#[derive(Deserialize)]
struct ClockRequest {
    advance_seconds: u64,
}

#[derive(Serialize)]
struct TokensBody {
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: u64,
    aal: Aal,
    session_id: String,
}

impl From<Tokens> for TokensBody {
    fn from(t: Tokens) -> Self {
        TokensBody {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            token_type: "Bearer",
            expires_in: t.expires_in,
            aal: t.aal,
            session_id: t.session_id,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers

async fn register(
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
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "username": username })),
    )
        .into_response())
}

async fn login(
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
        LoginOutcome::MfaRequired { challenge_id } => Ok((
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "challenge_id": challenge_id })),
        )
            .into_response()),
    }
}

async fn verify_mfa(
    State(app): State<AppState>,
    JsonBody(req): JsonBody<MfaRequest>,
) -> Result<Json<TokensBody>, ApiError> {
    let tokens = app.service.verify_mfa(&req.challenge_id, &req.code).await?;
    Ok(Json(tokens.into()))
}

async fn refresh(
    State(app): State<AppState>,
    JsonBody(req): JsonBody<RefreshRequest>,
) -> Result<Json<TokensBody>, ApiError> {
    Ok(Json(app.service.refresh(&req.refresh_token).await?.into()))
}

async fn access(
    State(app): State<AppState>,
    Bearer(token): Bearer,
) -> Result<Json<Principal>, ApiError> {
    Ok(Json(app.service.access(&token).await?))
}

async fn sensitive(
    State(app): State<AppState>,
    Bearer(token): Bearer,
) -> Result<Json<Principal>, ApiError> {
    Ok(Json(app.service.sensitive(&token).await?))
}

async fn reauthenticate(
    State(app): State<AppState>,
    Bearer(token): Bearer,
    JsonBody(req): JsonBody<ReauthRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    app.service.reauthenticate(&token, &req.password).await?;
    Ok(Json(serde_json::json!({ "reauthenticated": true })))
}

async fn logout(
    State(app): State<AppState>,
    Bearer(token): Bearer,
    JsonBody(req): JsonBody<LogoutRequest>,
) -> Result<StatusCode, ApiError> {
    app.service.logout(&token, req.scope).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn change_password(
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

async fn revoke(
    State(app): State<AppState>,
    JsonBody(req): JsonBody<RevokeRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    app.service.revoke(&req.token).await?;
    Ok(Json(serde_json::json!({})))
}

async fn admin(
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

async fn clock_now(State(clock): State<ManualClock>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "now": clock.now() }))
}

async fn clock_advance(
    State(clock): State<ManualClock>,
    JsonBody(req): JsonBody<ClockRequest>,
) -> Json<serde_json::Value> {
    let now = clock.advance(req.advance_seconds);
    Json(serde_json::json!({ "now": now }))
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
}

async fn no_store(mut response: Response) -> Response {
    // Responses carry tokens; no cache may keep them (RFC 6749 §5.1).
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
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

// ---------------------------------------------------------------------------------------------
// Extractors and errors

/// A JSON body: requires `Content-Type: application/json` (415), fits [`MAX_BODY_BYTES`] (413),
/// is well-formed JSON (400) of the right shape (422).
struct JsonBody<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(status, "payload_too_large")
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_body")
            }
        })?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            use serde_json::error::Category;
            match e.classify() {
                Category::Data => {
                    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request")
                }
                Category::Syntax | Category::Eof | Category::Io => {
                    ApiError::new(StatusCode::BAD_REQUEST, "invalid_json")
                }
            }
        })
    }
}

/// `Authorization: Bearer <token>`; anything else is 401 with reason `unknown`.
struct Bearer(String);

impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        bearer_token(parts)
            .map(Bearer)
            .ok_or_else(|| ApiError::from(AuthError::Unauthorized(TokenError::Unknown)))
    }
}

fn bearer_token(parts: &Parts) -> Option<String> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// An error answer: status and `{error, reason?, field?}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    error: &'static str,
    reason: Option<&'static str>,
    field: Option<&'static str>,
    bearer_challenge: bool,
}

impl ApiError {
    fn new(status: StatusCode, error: &'static str) -> Self {
        ApiError {
            status,
            error,
            reason: None,
            field: None,
            bearer_challenge: false,
        }
    }

    fn detail(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }

    fn bearer_challenge(mut self) -> Self {
        self.bearer_challenge = true;
        self
    }
}

/// The status of each rejection (PROTOCOL.md §9).
pub fn status_of(error: &AuthError) -> StatusCode {
    match error {
        AuthError::UsernameTaken => StatusCode::CONFLICT,
        AuthError::InvalidUsername | AuthError::WeakPassword => StatusCode::UNPROCESSABLE_ENTITY,
        AuthError::InvalidCredentials | AuthError::InvalidCode | AuthError::Unauthorized(_) => {
            StatusCode::UNAUTHORIZED
        }
        AuthError::Locked => StatusCode::LOCKED,
        AuthError::Disabled | AuthError::StepUpRequired => StatusCode::FORBIDDEN,
        AuthError::UpstreamUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        AuthError::ChallengeExpired => StatusCode::GONE,
        AuthError::InvalidGrant(_) => StatusCode::BAD_REQUEST,
        AuthError::UnknownUser => StatusCode::NOT_FOUND,
        AuthError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        if let AuthError::Store(inner) = &e {
            tracing::error!(error = %inner, "store failure");
        }
        ApiError {
            status: status_of(&e),
            error: e.code(),
            reason: e.reason(),
            field: None,
            bearer_challenge: matches!(e, AuthError::Unauthorized(_)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::Map::new();
        body.insert("error".into(), self.error.into());
        if let Some(reason) = self.reason {
            body.insert("reason".into(), reason.into());
        }
        if let Some(field) = self.field {
            body.insert("field".into(), field.into());
        }
        let mut response = (self.status, Json(serde_json::Value::Object(body))).into_response();
        if self.bearer_challenge {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
