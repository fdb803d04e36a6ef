//! Hostile input through a real socket: every answer is a 4xx with a JSON error, never a 5xx or
//! a dropped connection, and the server keeps serving afterwards.

mod common;

use common::http::{TestServer, ADMIN};
use common::openapi::ApiDocument;
use common::PASSWORD;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::json;

struct Case {
    name: &'static str,
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    authorization: Option<HeaderValue>,
    body: Vec<u8>,
}

fn case(name: &'static str, method: Method, path: &str, body: impl Into<Vec<u8>>) -> Case {
    Case {
        name,
        method,
        path: path.to_owned(),
        content_type: Some("application/json"),
        authorization: None,
        body: body.into(),
    }
}

fn cases() -> Vec<Case> {
    let huge = format!(
        r#"{{"username":"alice","password":"{}"}}"#,
        "x".repeat(2 << 20)
    );
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let long_field = format!(
        r#"{{"username":"{}","password":"{}"}}"#,
        "u".repeat(15_000),
        PASSWORD
    );
    let long_password = format!(
        r#"{{"username":"bob","password":"{}"}}"#,
        "p".repeat(15_000)
    );
    let mut all = vec![
        case(
            "truncated JSON",
            Method::POST,
            "/v1/session/login",
            r#"{"username":"#,
        ),
        case(
            "not JSON",
            Method::POST,
            "/v1/session/login",
            "username=alice",
        ),
        case("empty body", Method::POST, "/v1/session/login", ""),
        case("JSON null", Method::POST, "/v1/session/refresh", "null"),
        case("array for object", Method::POST, "/v1/accounts", "[1,2,3]"),
        case(
            "number for string",
            Method::POST,
            "/v1/accounts",
            r#"{"username":5,"password":"x"}"#,
        ),
        case(
            "missing field",
            Method::POST,
            "/v1/session/login",
            r#"{"username":"alice"}"#,
        ),
        case(
            "missing refresh token",
            Method::POST,
            "/v1/session/refresh",
            "{}",
        ),
        case("missing token", Method::POST, "/v1/oauth/revoke", "{}"),
        case(
            "bool for code",
            Method::POST,
            "/v1/session/mfa",
            r#"{"challenge_id":"x","code":true}"#,
        ),
        case(
            "non-UTF-8 body",
            Method::POST,
            "/v1/session/login",
            b"{\"username\":\"\xff\xfe\",\"password\":\"x\"}".to_vec(),
        ),
        case(
            "lone surrogate escape",
            Method::POST,
            "/v1/session/login",
            r#"{"username":"\ud800","password":"xxxxxxxxx"}"#,
        ),
        case("oversized body", Method::POST, "/v1/accounts", huge),
        case("deeply nested", Method::POST, "/v1/accounts", nested),
        case("15 KB username", Method::POST, "/v1/accounts", long_field),
        case(
            "15 KB password",
            Method::POST,
            "/v1/accounts",
            long_password,
        ),
        case(
            "NUL in username",
            Method::POST,
            "/v1/accounts",
            format!(r#"{{"username":"a\u0000b","password":"{PASSWORD}"}}"#),
        ),
        case(
            "control char device",
            Method::POST,
            "/v1/session/login",
            format!(r#"{{"username":"alice","password":"{PASSWORD}","device":"\u0007"}}"#),
        ),
        case("unknown path", Method::GET, "/v1/nothing-here", ""),
        case("root", Method::GET, "/", ""),
        case("wrong method", Method::GET, "/v1/session/login", ""),
        case("wrong method on session", Method::DELETE, "/v1/session", ""),
        case("path traversal", Method::GET, "/v1/../../etc/passwd", ""),
        case(
            "admin bad utf-8 in path",
            Method::POST,
            "/v1/admin/users/%FF%FE/disable",
            "",
        ),
        case(
            "admin unknown action",
            Method::POST,
            "/v1/admin/users/alice/explode",
            "",
        ),
        case(
            "logout bad scope",
            Method::POST,
            "/v1/session/logout",
            r#"{"scope":7}"#,
        ),
    ];
    let mut wrong_type = case(
        "wrong content type",
        Method::POST,
        "/v1/session/login",
        r#"{"username":"a","password":"b"}"#,
    );
    wrong_type.content_type = Some("text/plain");
    all.push(wrong_type);
    let mut no_type = case("no content type", Method::POST, "/v1/accounts", "{}");
    no_type.content_type = None;
    all.push(no_type);
    for (name, value) in [
        ("no scheme", HeaderValue::from_static("at_token")),
        (
            "basic scheme",
            HeaderValue::from_static("Basic YWxpY2U6cHc="),
        ),
        ("empty bearer", HeaderValue::from_static("Bearer ")),
        ("bearer only", HeaderValue::from_static("Bearer")),
        (
            "garbage bearer",
            HeaderValue::from_static("Bearer !!!@@@###"),
        ),
        (
            "non-UTF-8 bearer",
            HeaderValue::from_bytes(b"Bearer \xff\xfe\xfd").unwrap(),
        ),
        (
            "huge bearer",
            HeaderValue::from_str(&format!("Bearer {}", "a".repeat(8_000))).unwrap(),
        ),
    ] {
        for path in ["/v1/session", "/v1/admin/users/alice/disable"] {
            let method = if path == "/v1/session" {
                Method::GET
            } else {
                Method::POST
            };
            let mut c = case(name, method, path, "");
            c.authorization = Some(value.clone());
            all.push(c);
        }
    }
    all
}

#[tokio::test]
async fn every_malformed_request_gets_a_4xx_and_the_server_keeps_serving() {
    let s = TestServer::start().await;
    s.register("alice", None).await;
    for c in cases() {
        let mut request = s
            .client
            .request(c.method.clone(), format!("{}{}", s.base, c.path));
        if let Some(ct) = c.content_type {
            request = request.header(CONTENT_TYPE, ct);
        }
        if let Some(auth) = &c.authorization {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        let response = request.body(c.body).send().await;
        let response = match response {
            Ok(r) => r,
            Err(e) => panic!("{}: the server dropped the request: {e}", c.name),
        };
        let status = response.status();
        let body = response.bytes().await.unwrap();
        assert!(
            status.is_client_error(),
            "{}: got {status} {:?}",
            c.name,
            String::from_utf8_lossy(&body)
        );
        let json: serde_json::Value = serde_json::from_slice(&body)
            .unwrap_or_else(|_| panic!("{}: error body is not JSON: {body:?}", c.name));
        assert!(json["error"].is_string(), "{}: {json}", c.name);
        if let Err(e) =
            ApiDocument::get().check_answer(c.method.as_str(), &c.path, status.as_u16(), &json)
        {
            panic!(
                "{}: the OpenAPI document does not describe the answer: {e}",
                c.name
            );
        }
    }
    // Still serving, and nothing above touched Alice's account.
    assert_eq!(s.login("alice", PASSWORD).await.status, StatusCode::OK);
    assert_eq!(
        s.admin("alice", "unlock", Some(ADMIN)).await.status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn status_codes_of_the_bad_input_classes() {
    let s = TestServer::start().await;
    let status = |name: &str| {
        let c = cases().into_iter().find(|c| c.name == name).unwrap();
        let client = s.client.clone();
        let url = format!("{}{}", s.base, c.path);
        async move {
            let mut request = client.request(c.method, url).body(c.body);
            if let Some(ct) = c.content_type {
                request = request.header(CONTENT_TYPE, ct);
            }
            request.send().await.unwrap().status()
        }
    };
    assert_eq!(status("truncated JSON").await, StatusCode::BAD_REQUEST);
    assert_eq!(status("non-UTF-8 body").await, StatusCode::BAD_REQUEST);
    assert_eq!(
        status("missing field").await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        status("number for string").await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        status("oversized body").await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        status("wrong content type").await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert_eq!(status("unknown path").await, StatusCode::NOT_FOUND);
    assert_eq!(status("wrong method").await, StatusCode::METHOD_NOT_ALLOWED);
    let _ = json!(null);
}
