//! The HTTP API of PROTOCOL.md on axum, its OpenAPI document, and the loopback-only test-hooks
//! router.
//!
//! Every answer is JSON (`{error, reason?, field?}` for errors). Bad input of any kind (wrong
//! content type, malformed or oversized JSON, wrong types, missing fields, a bad `Authorization`
//! header, unknown paths, wrong methods) gets a 4xx; only a store failure is a 5xx other than the
//! 503 of an unavailable OTP provider. Handlers never log bodies, tokens or headers.

mod error;
mod extract;
mod handlers;
mod openapi;
mod test_hooks;

pub use error::{status_of, ApiError, ERROR_CODES, REASONS};
pub use handlers::MAX_LABEL_CHARS;
pub use test_hooks::test_hooks_router;

use crate::service::Service;
use axum::extract::DefaultBodyLimit;
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Largest request body accepted; anything larger is 413.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

#[derive(Clone)]
struct AppState {
    service: Arc<Service>,
    /// SHA-256 of the admin token; `None` disables the admin endpoints (always 401).
    admin_token_digest: Option<[u8; 32]>,
    /// What `GET /openapi.json` answers, serialised once (a clone shares the bytes).
    openapi: axum::body::Bytes,
}

/// Every route of the public API, each with its OpenAPI operation: the one list both the router
/// and the document are built from.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(handlers::register))
        .routes(routes!(handlers::login))
        .routes(routes!(handlers::verify_mfa))
        .routes(routes!(handlers::refresh))
        .routes(routes!(handlers::access))
        .routes(routes!(handlers::sensitive))
        .routes(routes!(handlers::reauthenticate))
        .routes(routes!(handlers::logout))
        .routes(routes!(handlers::change_password))
        .routes(routes!(handlers::revoke))
        .routes(routes!(handlers::admin))
        .routes(routes!(handlers::openapi_document))
}

/// The router of [`routes`] and its document, links added.
fn routes_and_document() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut api) = routes().split_for_parts();
    openapi::add_links(&mut api);
    (router, api)
}

/// The OpenAPI 3.1 document of the public API, as `GET /openapi.json` serves it.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    routes_and_document().1
}

/// The public API router.
pub fn router(service: Arc<Service>, admin_token: Option<&str>) -> Router {
    let (router, document) = routes_and_document();
    let openapi = serde_json::to_vec(&document).expect("the document serialises");
    let state = AppState {
        service,
        admin_token_digest: admin_token
            .filter(|t| !t.is_empty())
            .map(|t| Sha256::digest(t.as_bytes()).into()),
        openapi: openapi.into(),
    };
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(no_store))
        .with_state(state)
}

/// The answer to a path no route serves (this router's and the test hooks').
async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found")
}

/// The answer to a method a route does not serve.
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
