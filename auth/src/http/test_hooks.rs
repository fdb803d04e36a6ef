//! The test-hooks router: `POST /__test/clock {advance_seconds}`, `GET /__test/clock`, and, over
//! a SQLite store, `POST /__test/crash-point {commits}` (let that many commits through, then
//! SIGKILL the process at the next one: a crash test's request dies on a chosen statement
//! boundary). Serve it only on a loopback address (the `auth-server` binary refuses anything
//! else). It is not part of the public API, so the OpenAPI document does not list it.

use super::extract::JsonBody;
use super::MAX_BODY_BYTES;
use crate::clock::ManualClock;
use crate::store::CrashPoint;
use crate::Clock;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

/// The hooks on a clock the service reads, and on the store's crash point if it has one.
pub fn test_hooks_router(clock: ManualClock, crash: Option<CrashPoint>) -> Router {
    let clock_routes = Router::new()
        .route("/__test/clock", get(clock_now).post(clock_advance))
        .with_state(clock);
    let crash_routes = match crash {
        Some(crash) => Router::new()
            .route("/__test/crash-point", post(arm_crash_point))
            .with_state(crash),
        None => Router::new(),
    };
    clock_routes
        .merge(crash_routes)
        .fallback(super::not_found)
        .method_not_allowed_fallback(super::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
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

#[derive(Deserialize)]
struct CrashRequest {
    /// Commits to let through before the process is killed; `null` disarms.
    commits: Option<u32>,
}

async fn arm_crash_point(
    State(crash): State<CrashPoint>,
    JsonBody(req): JsonBody<CrashRequest>,
) -> Json<serde_json::Value> {
    match req.commits {
        Some(n) => crash.arm(n),
        None => crash.disarm(),
    }
    Json(serde_json::json!({ "commits": req.commits }))
}
