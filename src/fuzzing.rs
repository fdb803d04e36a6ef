//! Fuzz entry points. Each `fuzz/fuzz_targets/*.rs` is a one-line call to one of these, and
//! `cargo test` (tests/fuzz_corpus.rs) runs them over the committed corpus on stable Rust.
//!
//! | target | input | property |
//! |---|---|---|
//! | [`lockstep`] | bytes for the generator, or `#trace\n` + a trace | the service never leaves the model |
//! | [`trace_parse`] | any bytes | the parser never panics; what parses reprints and reparses identically |
//! | [`token_decode`] | any bytes | decoders never panic; nothing the service did not issue is accepted |
//! | [`http_request`] | `METHOD PATH\n(Name: value\n)*\nbody` | the router never panics and never answers 5xx to bad input |

use crate::adapter::Capabilities;
use crate::campaign::{shrink_failure, verdict_with, CaseFailure, Target};
use crate::driver::StoreKind;
use crate::generate::{self, Plan, Settings};
use crate::lockstep::expectations;
use crate::model::Profile;
use crate::shrink::valid;
use crate::trace::Trace;
use auth::tokens::{RefreshClaim, TokenKey};
use auth::{
    AuthError, Config, Deps, GrantError, LoginOutcome, MemoryStore, NoOtpProvider, Service,
    TokenError, TokenRng,
};
use std::sync::{Arc, OnceLock};

/// A lockstep input that starts with this is a trace file, not generator bytes (so regression
/// traces seed the corpus as they are).
pub const TRACE_MAGIC: &[u8] = b"#trace\n";
/// Longest generated trace under fuzzing.
pub const FUZZ_MAX_OPS: usize = 40;
/// The token RNG seed of fuzzed services (a failure replays with the same tokens).
pub const FUZZ_TOKEN_SEED: u64 = 0;

/// The case a lockstep input stands for: protocol numbers and operations (`None` if it is a
/// trace that does not parse or is not valid under the model). Generator bytes draw the numbers
/// too (parameter swarm), as `check` does.
pub fn plan_from_bytes(data: &[u8]) -> Option<Plan> {
    if let Some(text) = data.strip_prefix(TRACE_MAGIC) {
        let trace = Trace::parse(std::str::from_utf8(text).ok()?).ok()?;
        let params = trace.params().ok()?;
        let mut ops = trace.ops();
        ops.truncate(FUZZ_MAX_OPS * 2);
        let profile = Profile {
            params,
            ..Profile::default()
        };
        return valid(&profile, &ops).then_some(Plan { params, ops });
    }
    let settings = Settings {
        vary_length: false,
        ..Settings::campaign(Capabilities::ALL, FUZZ_MAX_OPS, Default::default())
    };
    Some(generate::plan(
        &mut arbitrary::Unstructured::new(data),
        &settings,
    ))
}

/// Lockstep against the in-process service (memory store). A divergence panics with the
/// minimal trace.
pub fn lockstep(data: &[u8]) {
    let Some(Plan { params, ops }) = plan_from_bytes(data) else {
        return;
    };
    let target = fuzzed_target();
    let profile = target.profile(params);
    if let Some(failure) = verdict_with(&target, &profile, FUZZ_TOKEN_SEED, &ops, None) {
        let original_len = failure.step + 1;
        let (params, ops, failure) =
            shrink_failure(&target, params, FUZZ_TOKEN_SEED, &ops, failure);
        let expected = expectations(params, &ops);
        let report = CaseFailure {
            case_seed: FUZZ_TOKEN_SEED,
            profile: Profile {
                params,
                ..Profile::default()
            },
            original_len,
            ops,
            failure,
            expected,
            served_by: Vec::new(),
        };
        panic!(
            "the service left the model; minimal trace:\n{}\npromote it: cargo run --release -- promote <artifact>",
            report.trace(&target)
        );
    }
}

/// The service `lockstep` fuzzes: the in-process one on the memory store or, in a build with the
/// `flaws` feature, the catalogue flaw named by `AUTHCHECK_FUZZ_FLAW` (so that two ways of
/// fuzzing can be compared by how fast each finds the same flaw).
fn fuzzed_target() -> Target {
    #[cfg(feature = "flaws")]
    if let Ok(name) = std::env::var("AUTHCHECK_FUZZ_FLAW") {
        let flaw = name
            .parse()
            .unwrap_or_else(|e| panic!("AUTHCHECK_FUZZ_FLAW: {e}"));
        return Target::Flawed(StoreKind::Memory, flaw);
    }
    Target::InProcess(StoreKind::Memory)
}

/// The trace parser never panics, and print ∘ parse is stable on whatever it accepts.
pub fn trace_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(trace) = Trace::parse(text) else {
        return;
    };
    let printed = trace.to_string();
    let again = Trace::parse(&printed)
        .unwrap_or_else(|e| panic!("a printed trace does not parse: {e}\n{printed}"));
    assert_eq!(again, trace, "parse(print(t)) != t for:\n{printed}");
    assert_eq!(again.to_string(), printed, "print is not stable");
}

/// A service with a few sessions in both token formats, and every token it issued.
struct TokenFixture {
    rt: tokio::runtime::Runtime,
    service: Service,
    key: TokenKey,
    issued: Vec<String>,
}

fn token_fixture() -> &'static TokenFixture {
    static FIXTURE: OnceLock<TokenFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let store = Arc::new(MemoryStore::new());
        let deps = |store: &Arc<MemoryStore>| Deps {
            store: store.clone(),
            clock: Arc::new(auth::ManualClock::new(1_000)),
            rng: Arc::new(TokenRng::seeded(FUZZ_TOKEN_SEED)),
            otp: Arc::new(auth::MemoryOtpProvider::new()),
        };
        let mut issued = Vec::new();
        for protocol in [auth::Protocol::V1, auth::Protocol::V2] {
            let service = Service::new(Config::for_tests().with_protocol(protocol), deps(&store))
                .expect("service");
            rt.block_on(async {
                let name = format!("user-{protocol}");
                service
                    .register(&name, "correct horse battery", None)
                    .await
                    .expect("register");
                let Ok(LoginOutcome::Issued(t)) =
                    service.login(&name, "correct horse battery", "d").await
                else {
                    unreachable!("a fresh account logs in")
                };
                let r = service.refresh(&t.refresh_token).await.expect("refresh");
                issued.extend([
                    t.access_token,
                    t.refresh_token,
                    r.access_token,
                    r.refresh_token,
                ]);
            });
        }
        let service = Service::new(Config::for_tests(), deps(&store)).expect("service");
        let key = {
            use auth::store::Store;
            let mut tx = store.begin().expect("tx");
            let bytes: [u8; 32] = tx
                .meta("token_key")
                .expect("meta")
                .and_then(|k| k.try_into().ok())
                .expect("a 32-byte key");
            TokenKey::from_bytes(bytes)
        };
        TokenFixture {
            rt,
            service,
            key,
            issued,
        }
    })
}

/// The tokens the token fixture issued (the seed corpus of `token_decode`).
pub fn issued_tokens() -> Vec<String> {
    token_fixture().issued.clone()
}

/// Decoders never panic, a V2 token verifies only in its one canonical spelling, and the service
/// accepts nothing it did not issue, as an access token, a refresh token or a challenge id.
pub fn token_decode(data: &[u8]) {
    let f = token_fixture();
    let input = String::from_utf8_lossy(data);
    if let Some(RefreshClaim::Structured {
        session_id,
        generation,
    }) = f.key.classify_refresh(&input)
    {
        let canonical = f
            .key
            .refresh_token(&session_id, generation, auth::Protocol::V2);
        assert_eq!(
            canonical, input,
            "a V2 token verified in a spelling the service never issues"
        );
    }
    if f.issued.iter().any(|t| *t == input) {
        return; // accepted, rightly; and using it would change the fixture
    }
    f.rt.block_on(async {
        assert_eq!(
            f.service.refresh(&input).await.err(),
            Some(AuthError::InvalidGrant(GrantError::Unknown))
        );
        assert_eq!(
            f.service.access(&input).await.err(),
            Some(AuthError::Unauthorized(TokenError::Unknown))
        );
        assert_eq!(
            f.service.sensitive(&input).await.err(),
            Some(AuthError::Unauthorized(TokenError::Unknown))
        );
        assert_eq!(
            f.service.verify_mfa(&input, "000000").await.err(),
            Some(AuthError::ChallengeExpired)
        );
    });
}

/// An HTTP request decoded from `METHOD PATH\n(Name: value\n)*\nbody`; `None` when the bytes do
/// not make a request `http` can represent.
pub fn decode_request(data: &[u8]) -> Option<axum::http::Request<axum::body::Body>> {
    let split = data.windows(2).position(|w| w == b"\n\n");
    let (head, body) = match split {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &[][..]),
    };
    let mut lines = head.split(|b| *b == b'\n');
    let first = lines.next()?;
    let space = first.iter().position(|b| *b == b' ')?;
    let method = axum::http::Method::from_bytes(&first[..space]).ok()?;
    let path = std::str::from_utf8(&first[space + 1..]).ok()?;
    let mut request = axum::http::Request::builder().method(method).uri(path);
    for line in lines {
        let colon = line.iter().position(|b| *b == b':')?;
        let value = line[colon + 1..]
            .strip_prefix(b" ")
            .unwrap_or(&line[colon + 1..]);
        let name = axum::http::HeaderName::from_bytes(&line[..colon]).ok()?;
        let value = axum::http::HeaderValue::from_bytes(value).ok()?;
        request = request.header(name, value);
    }
    request.body(axum::body::Body::from(body.to_vec())).ok()
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime =
        tokio::runtime::Builder::new_current_thread().build().expect("runtime");
}

/// The router never panics and answers bad input with a 4xx (a 503 only for the OTP provider).
pub fn http_request(data: &[u8]) {
    let Some(request) = decode_request(data) else {
        return;
    };
    RUNTIME.with(|rt| {
        rt.block_on(async {
            use tower::ServiceExt;
            let deps = Deps {
                store: Arc::new(MemoryStore::new()),
                clock: Arc::new(auth::ManualClock::new(1_000)),
                rng: Arc::new(TokenRng::seeded(FUZZ_TOKEN_SEED)),
                otp: Arc::new(NoOtpProvider),
            };
            let service = Service::new(Config::for_tests(), deps).expect("service");
            service
                .register("alice", "correct horse battery", None)
                .await
                .expect("register");
            service
                .register("carol", "correct horse battery", Some("sms:1"))
                .await
                .expect("register");
            let app = auth::http::router(Arc::new(service), Some("admin-token"));
            let response = app
                .oneshot(request)
                .await
                .expect("the router is infallible");
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .expect("body");
            if status.is_server_error() {
                let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                assert!(
                    status == 503 && json["error"] == "upstream_unavailable",
                    "{status} for a request: {}",
                    String::from_utf8_lossy(&body)
                );
            }
            if !body.is_empty() {
                assert!(
                    serde_json::from_slice::<serde_json::Value>(&body).is_ok(),
                    "{status}: body is not JSON"
                );
            }
        })
    });
}
