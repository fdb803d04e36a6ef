//! The test-hooks router: `POST /__test/clock {advance_seconds}` and `GET /__test/clock`.
//! Serve it only on a loopback address (the `auth-server` binary refuses anything else). It is
//! not part of the public API, so the OpenAPI document does not list it.

use super::extract::JsonBody;
use super::MAX_BODY_BYTES;
use crate::clock::ManualClock;
use crate::Clock;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

/// The hooks on a clock the service reads.
pub fn test_hooks_router(clock: ManualClock) -> Router {
    Router::new()
        .route("/__test/clock", get(clock_now).post(clock_advance))
        .fallback(super::not_found)
        .method_not_allowed_fallback(super::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(clock)
}

#[derive(Deserialize)]
struct ClockRequest {
    advance_seconds: u64,
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
