//! Error answers: the status of each rejection and the `{error, reason?, field?}` body.

use crate::error::AuthError;
use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::Schema;
use utoipa::ToSchema;

/// Every `error` word the API answers with: the rejections of PROTOCOL.md §4 in snake_case, the
/// malformed-request words of the extractors, and the router's fallbacks. The OpenAPI document
/// lists exactly these, so a word added without being listed fails the response validation of
/// the HTTP tests.
pub const ERROR_CODES: &[&str] = &[
    "username_taken",
    "invalid_username",
    "weak_password",
    "invalid_credentials",
    "locked",
    "disabled",
    "upstream_unavailable",
    "invalid_code",
    "challenge_expired",
    "invalid_grant",
    "unauthorized",
    "step_up_required",
    "unknown_user",
    "internal_error",
    "invalid_request",
    "invalid_json",
    "invalid_body",
    "invalid_path",
    "unsupported_media_type",
    "payload_too_large",
    "not_found",
    "method_not_allowed",
];

/// The `reason` words: why a refresh was refused (`invalid_grant`) or a token not accepted
/// (`unauthorized`).
pub const REASONS: &[&str] = &["unknown", "expired", "revoked", "reuse"];

/// The body of every error answer.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// What went wrong, one word.
    #[schema(schema_with = error_code_schema)]
    error: &'static str,
    /// For `invalid_grant` and `unauthorized`: why the token was not accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = reason_schema)]
    reason: Option<&'static str>,
    /// For `invalid_request` on a field the service checks itself: which field.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = field_schema)]
    field: Option<&'static str>,
}

fn error_code_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(ERROR_CODES.iter().copied()))
        .into()
}

fn reason_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(REASONS.iter().copied()))
        .into()
}

fn field_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["device", "mfa_destination"]))
        .into()
}

/// For the OpenAPI document: what any operation with a JSON body may answer besides its own
/// outcomes (never built; [`ApiError`] makes these answers).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum JsonBodyFailures {
    /// `payload_too_large`
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// `unsupported_media_type`
    #[response(status = 415)]
    NotJson(ErrorBody),
    /// `internal_error`: the store failed
    #[response(status = 500)]
    StoreFailed(ErrorBody),
}

/// For the OpenAPI document: what an operation without a body may answer besides its own.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum StoreFailure {
    /// `internal_error`: the store failed
    #[response(status = 500)]
    StoreFailed(ErrorBody),
}

/// An error answer: a status and an [`ErrorBody`].
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    error: &'static str,
    reason: Option<&'static str>,
    field: Option<&'static str>,
    bearer_challenge: bool,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, error: &'static str) -> Self {
        ApiError {
            status,
            error,
            reason: None,
            field: None,
            bearer_challenge: false,
        }
    }

    pub(super) fn detail(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }

    pub(super) fn bearer_challenge(mut self) -> Self {
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
        let body = ErrorBody {
            error: self.error,
            reason: self.reason,
            field: self.field,
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.bearer_challenge {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
