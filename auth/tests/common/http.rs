//! An `auth` HTTP server in-process on 127.0.0.1:0, with wiremock playing the OTP provider.

use auth::{Config, Deps, HttpOtpProvider, ManualClock, Service, SqliteStore, TokenRng};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const ADMIN: &str = "admin-secret";
/// The code the mock provider approves.
pub const GOOD_CODE: &str = "424242";

pub struct TestServer {
    pub base: String,
    pub hooks: String,
    pub client: reqwest::Client,
    pub clock: ManualClock,
    pub otp: MockServer,
    _dir: tempfile::TempDir,
}

pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl TestServer {
    pub async fn start() -> Self {
        let otp = MockServer::start().await;
        otp_up(&otp).await;
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(super::START);
        let service = Service::new(
            Config::for_tests(),
            Deps {
                store: Arc::new(SqliteStore::open(dir.path().join("auth.db")).unwrap()),
                clock: Arc::new(clock.clone()),
                rng: Arc::new(TokenRng::seeded(3)),
                otp: Arc::new(HttpOtpProvider::new(&otp.uri(), Duration::from_secs(2)).unwrap()),
            },
        )
        .unwrap();
        let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hooks = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", api.local_addr().unwrap());
        let hooks_base = format!("http://{}", hooks.local_addr().unwrap());
        let app = auth::http::router(Arc::new(service), Some(ADMIN));
        tokio::spawn(async move { axum::serve(api, app).await });
        let hooks_app = auth::http::test_hooks_router(clock.clone(), None);
        tokio::spawn(async move { axum::serve(hooks, hooks_app).await });
        TestServer {
            base,
            hooks: hooks_base,
            client: reqwest::Client::new(),
            clock,
            otp,
            _dir: dir,
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let method_name = method.as_str().to_owned();
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!(
                    "{path}: body is not JSON: {:?}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        // Every answer the HTTP tests see is one the OpenAPI document describes.
        if let Err(e) = super::openapi::ApiDocument::get().check_answer(
            &method_name,
            path,
            status.as_u16(),
            &body,
        ) {
            panic!("the OpenAPI document does not describe this answer: {e}");
        }
        Answer {
            status,
            body,
            headers,
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(Method::POST, path, None, Some(body)).await
    }

    pub async fn post_bearer(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn session(&self, token: &str) -> Answer {
        self.send(Method::GET, "/v1/session", Some(token), None)
            .await
    }

    pub async fn admin(&self, user: &str, action: &str, token: Option<&str>) -> Answer {
        let path = format!("/v1/admin/users/{user}/{action}");
        self.send(Method::POST, &path, token, None).await
    }

    pub async fn register(&self, user: &str, mfa: Option<&str>) -> Answer {
        let mut body = json!({ "username": user, "password": super::PASSWORD });
        if let Some(dest) = mfa {
            body["mfa_destination"] = json!(dest);
        }
        self.post("/v1/accounts", body).await
    }

    pub async fn login(&self, user: &str, password: &str) -> Answer {
        self.post(
            "/v1/session/login",
            json!({ "username": user, "password": password, "device": "test" }),
        )
        .await
    }

    pub async fn refresh(&self, token: &Value) -> Answer {
        self.post("/v1/session/refresh", json!({ "refresh_token": token }))
            .await
    }

    pub async fn advance(&self, seconds: u64) -> u64 {
        let answer: Value = self
            .client
            .post(format!("{}/__test/clock", self.hooks))
            .json(&json!({ "advance_seconds": seconds }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["now"].as_u64().unwrap()
    }
}

/// The provider sends codes and approves exactly [`GOOD_CODE`].
pub async fn otp_up(otp: &MockServer) {
    otp.reset().await;
    Mock::given(method("POST"))
        .and(path("/send"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "challenge_ref": "ref-1" })))
        .mount(otp)
        .await;
    Mock::given(method("POST"))
        .and(path("/check"))
        .and(body_partial_json(
            json!({ "challenge_ref": "ref-1", "code": GOOD_CODE }),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "approved": true })))
        .with_priority(1)
        .mount(otp)
        .await;
    Mock::given(method("POST"))
        .and(path("/check"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "approved": false })))
        .with_priority(2)
        .mount(otp)
        .await;
}

/// The provider answers 500 to everything.
pub async fn otp_down(otp: &MockServer) {
    otp.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(otp)
        .await;
}

/// The provider answers 200 with bodies that are not its protocol.
pub async fn otp_garbage(otp: &MockServer) {
    otp.reset().await;
    Mock::given(method("POST"))
        .and(path("/send"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>gateway</html>"))
        .mount(otp)
        .await;
    Mock::given(method("POST"))
        .and(path("/check"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "approved": "yes" })))
        .mount(otp)
        .await;
}
