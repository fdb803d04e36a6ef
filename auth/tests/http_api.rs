//! Every endpoint and status code of the PROTOCOL.md §9 HTTP API, through a real socket, with
//! wiremock as the OTP provider.

mod common;

use common::http::{otp_down, otp_garbage, otp_up, TestServer, ADMIN, GOOD_CODE};
use common::PASSWORD;
use reqwest::{Method, StatusCode};
use serde_json::json;

const WRONG: &str = "wrong password!";

fn error(answer: &common::http::Answer) -> (&str, Option<&str>) {
    (
        answer.body["error"].as_str().unwrap_or("<none>"),
        answer.body["reason"].as_str(),
    )
}

#[tokio::test]
async fn register_statuses() {
    let s = TestServer::start().await;
    let created = s.register("Alice", None).await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body, json!({ "username": "alice" }));
    let taken = s.register("ALICE", None).await;
    assert_eq!(
        (taken.status, error(&taken)),
        (StatusCode::CONFLICT, ("username_taken", None))
    );
    let invalid = s.register("no spaces allowed", None).await;
    assert_eq!(
        (invalid.status, error(&invalid).0),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_username")
    );
    let weak = s
        .post(
            "/v1/accounts",
            json!({ "username": "bob", "password": "short" }),
        )
        .await;
    assert_eq!(
        (weak.status, error(&weak).0),
        (StatusCode::UNPROCESSABLE_ENTITY, "weak_password")
    );
    let bad_dest = s
        .post(
            "/v1/accounts",
            json!({ "username": "bob", "password": PASSWORD, "mfa_destination": "" }),
        )
        .await;
    assert_eq!(bad_dest.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn login_refresh_access_logout_walk() {
    let s = TestServer::start().await;
    s.register("alice", None).await;
    let login = s.login("alice", PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK);
    let b = &login.body;
    assert_eq!(
        (
            b["token_type"].as_str(),
            b["expires_in"].as_u64(),
            b["aal"].as_str()
        ),
        (Some("Bearer"), Some(300), Some("aal1"))
    );
    assert!(b["session_id"].as_str().unwrap().starts_with("s_"));
    assert_eq!(login.headers["cache-control"], "no-store");

    let refreshed = s.refresh(&b["refresh_token"]).await;
    assert_eq!(refreshed.status, StatusCode::OK);
    assert_eq!(refreshed.body["session_id"], b["session_id"]);
    let access = refreshed.body["access_token"].as_str().unwrap();

    let me = s.session(access).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(
        me.body,
        json!({ "username": "alice", "aal": "aal1", "session_id": b["session_id"] })
    );

    let out = s
        .post_bearer("/v1/session/logout", access, json!({ "scope": "local" }))
        .await;
    assert_eq!(
        (out.status, out.body.clone()),
        (StatusCode::NO_CONTENT, serde_json::Value::Null)
    );
    let after = s.session(access).await;
    assert_eq!(
        (after.status, error(&after)),
        (StatusCode::UNAUTHORIZED, ("unauthorized", Some("revoked")))
    );
    assert_eq!(after.headers["www-authenticate"], "Bearer");
    let stale = s.refresh(&refreshed.body["refresh_token"]).await;
    assert_eq!(
        (stale.status, error(&stale)),
        (StatusCode::BAD_REQUEST, ("invalid_grant", Some("revoked")))
    );
}

#[tokio::test]
async fn login_rejections_401_423_403() {
    let s = TestServer::start().await;
    s.register("alice", None).await;
    let unknown = s.login("nobody", PASSWORD).await;
    assert_eq!(
        (unknown.status, error(&unknown).0),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    for _ in 0..5 {
        assert_eq!(
            s.login("alice", WRONG).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let locked = s.login("alice", PASSWORD).await;
    assert_eq!(
        (locked.status, error(&locked).0),
        (StatusCode::LOCKED, "locked")
    );
    // The lock lapses on the injected clock, moved through the test hooks.
    s.advance(900).await;
    assert_eq!(s.login("alice", PASSWORD).await.status, StatusCode::OK);
    assert_eq!(
        s.admin("alice", "disable", Some(ADMIN)).await.status,
        StatusCode::NO_CONTENT
    );
    let disabled = s.login("alice", PASSWORD).await;
    assert_eq!(
        (disabled.status, error(&disabled).0),
        (StatusCode::FORBIDDEN, "disabled")
    );
}

#[tokio::test]
async fn mfa_flow_202_200_401_410() {
    let s = TestServer::start().await;
    s.register("carol", Some("sms:+15550100")).await;
    let started = s.login("carol", PASSWORD).await;
    assert_eq!(started.status, StatusCode::ACCEPTED);
    let challenge = started.body["challenge_id"].clone();
    assert!(started.body.get("access_token").is_none());

    let wrong = s
        .post(
            "/v1/session/mfa",
            json!({ "challenge_id": challenge, "code": "000000" }),
        )
        .await;
    assert_eq!(
        (wrong.status, error(&wrong).0),
        (StatusCode::UNAUTHORIZED, "invalid_code")
    );
    let ok = s
        .post(
            "/v1/session/mfa",
            json!({ "challenge_id": challenge, "code": GOOD_CODE }),
        )
        .await;
    assert_eq!(
        (ok.status, ok.body["aal"].as_str()),
        (StatusCode::OK, Some("aal2"))
    );
    let used = s
        .post(
            "/v1/session/mfa",
            json!({ "challenge_id": challenge, "code": GOOD_CODE }),
        )
        .await;
    assert_eq!(
        (used.status, error(&used).0),
        (StatusCode::GONE, "challenge_expired")
    );

    let sent = s.otp.received_requests().await.unwrap();
    let send = sent.iter().find(|r| r.url.path() == "/send").unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&send.body).unwrap(),
        json!({ "destination": "sms:+15550100" })
    );
}

#[tokio::test]
async fn provider_down_or_garbage_is_503_and_counts_nothing() {
    let s = TestServer::start().await;
    s.register("carol", Some("sms:1")).await;
    let challenge = s.login("carol", PASSWORD).await.body["challenge_id"].clone();
    for (name, fault) in [("down", 0), ("garbage", 1)] {
        if fault == 0 {
            otp_down(&s.otp).await
        } else {
            otp_garbage(&s.otp).await
        }
        let login = s.login("carol", PASSWORD).await;
        assert_eq!(
            (login.status, error(&login).0),
            (StatusCode::SERVICE_UNAVAILABLE, "upstream_unavailable"),
            "{name}"
        );
        for _ in 0..4 {
            let verify = s
                .post(
                    "/v1/session/mfa",
                    json!({ "challenge_id": challenge, "code": GOOD_CODE }),
                )
                .await;
            assert_eq!(verify.status, StatusCode::SERVICE_UNAVAILABLE, "{name}");
        }
    }
    otp_up(&s.otp).await;
    // No failure was counted against the account or the challenge.
    for _ in 0..4 {
        assert_eq!(
            s.login("carol", WRONG).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        s.login("carol", PASSWORD).await.status,
        StatusCode::ACCEPTED
    );
    let ok = s
        .post(
            "/v1/session/mfa",
            json!({ "challenge_id": challenge, "code": GOOD_CODE }),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn refresh_reasons_unknown_reuse_revoked_expired() {
    let s = TestServer::start().await;
    s.register("alice", None).await;
    let unknown = s.refresh(&json!("rt_forged")).await;
    assert_eq!(
        (unknown.status, error(&unknown)),
        (StatusCode::BAD_REQUEST, ("invalid_grant", Some("unknown")))
    );

    let r0 = s.login("alice", PASSWORD).await.body["refresh_token"].clone();
    let r1 = s.refresh(&r0).await.body["refresh_token"].clone();
    let grace = s.refresh(&r0).await;
    assert_eq!(
        (grace.status, &grace.body["refresh_token"]),
        (StatusCode::OK, &r1)
    );
    s.advance(10).await;
    let reuse = s.refresh(&r0).await;
    assert_eq!(error(&reuse), ("invalid_grant", Some("reuse")));
    assert_eq!(
        error(&s.refresh(&r1).await),
        ("invalid_grant", Some("revoked"))
    );

    let r = s.login("alice", PASSWORD).await.body["refresh_token"].clone();
    s.advance(900).await;
    assert_eq!(
        error(&s.refresh(&r).await),
        ("invalid_grant", Some("expired"))
    );
}

#[tokio::test]
async fn access_and_sensitive_statuses() {
    let s = TestServer::start().await;
    s.register("alice", None).await;
    let t = s.login("alice", PASSWORD).await.body;
    let access = t["access_token"].as_str().unwrap();
    let ok = s
        .send(Method::POST, "/v1/session/sensitive", Some(access), None)
        .await;
    assert_eq!(
        (ok.status, ok.body["username"].as_str()),
        (StatusCode::OK, Some("alice"))
    );
    let missing = s.send(Method::GET, "/v1/session", None, None).await;
    assert_eq!(
        (missing.status, error(&missing)),
        (StatusCode::UNAUTHORIZED, ("unauthorized", Some("unknown")))
    );
    // A refresh token is not an access token.
    let confused = s.session(t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(error(&confused), ("unauthorized", Some("unknown")));

    s.advance(299).await;
    let fresh = s.refresh(&t["refresh_token"]).await.body;
    let fresh_access = fresh["access_token"].as_str().unwrap();
    s.advance(1).await;
    let expired = s.session(access).await;
    assert_eq!(
        (expired.status, error(&expired)),
        (StatusCode::UNAUTHORIZED, ("unauthorized", Some("expired")))
    );
    let step_up = s
        .send(
            Method::POST,
            "/v1/session/sensitive",
            Some(fresh_access),
            None,
        )
        .await;
    assert_eq!(
        (step_up.status, error(&step_up).0),
        (StatusCode::FORBIDDEN, "step_up_required")
    );

    let bad = s
        .post_bearer(
            "/v1/session/reauth",
            fresh_access,
            json!({ "password": WRONG }),
        )
        .await;
    assert_eq!(
        (bad.status, error(&bad).0),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    let reauth = s
        .post_bearer(
            "/v1/session/reauth",
            fresh_access,
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(reauth.status, StatusCode::OK);
    let unauth = s
        .post_bearer(
            "/v1/session/reauth",
            "at_nope",
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(error(&unauth), ("unauthorized", Some("unknown")));
    let ok = s
        .send(
            Method::POST,
            "/v1/session/sensitive",
            Some(fresh_access),
            None,
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn logout_scopes_and_password_change() {
    let s = TestServer::start().await;
    s.register("alice", None).await;
    let a = s.login("alice", PASSWORD).await.body;
    let b = s.login("alice", PASSWORD).await.body;
    let c = s.login("alice", PASSWORD).await.body;
    let token = |v: &serde_json::Value| v["access_token"].as_str().unwrap().to_owned();

    let bad_scope = s
        .post_bearer(
            "/v1/session/logout",
            &token(&a),
            json!({ "scope": "everyone" }),
        )
        .await;
    assert_eq!(bad_scope.status, StatusCode::UNPROCESSABLE_ENTITY);
    let out = s
        .post_bearer(
            "/v1/session/logout",
            &token(&a),
            json!({ "scope": "others" }),
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(s.session(&token(&b)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(s.session(&token(&a)).await.status, StatusCode::OK);

    let weak = s
        .post_bearer(
            "/v1/session/password",
            &token(&a),
            json!({ "old_password": PASSWORD, "new_password": "short" }),
        )
        .await;
    assert_eq!(
        (weak.status, error(&weak).0),
        (StatusCode::UNPROCESSABLE_ENTITY, "weak_password")
    );
    let wrong = s
        .post_bearer(
            "/v1/session/password",
            &token(&a),
            json!({ "old_password": WRONG, "new_password": "a new password" }),
        )
        .await;
    assert_eq!(
        (wrong.status, error(&wrong).0),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    let changed = s
        .post_bearer(
            "/v1/session/password",
            &token(&a),
            json!({ "old_password": PASSWORD, "new_password": "a new password" }),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(changed.body["session_id"], a["session_id"]);
    assert_eq!(s.session(&token(&a)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        s.session(&token(&changed.body)).await.status,
        StatusCode::OK
    );
    assert_eq!(s.session(&token(&c)).await.status, StatusCode::UNAUTHORIZED);

    let global = s
        .post_bearer(
            "/v1/session/logout",
            &token(&changed.body),
            json!({ "scope": "global" }),
        )
        .await;
    assert_eq!(global.status, StatusCode::NO_CONTENT);
    let again = s
        .post_bearer(
            "/v1/session/logout",
            &token(&changed.body),
            json!({ "scope": "local" }),
        )
        .await;
    assert_eq!(
        (again.status, error(&again)),
        (StatusCode::UNAUTHORIZED, ("unauthorized", Some("revoked")))
    );
}

#[tokio::test]
async fn revoke_is_always_200() {
    let s = TestServer::start().await;
    s.register("alice", None).await;
    let t = s.login("alice", PASSWORD).await.body;
    for token in [json!("garbage"), json!(""), t["refresh_token"].clone()] {
        let answer = s.post("/v1/oauth/revoke", json!({ "token": token })).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    assert_eq!(
        error(&s.session(t["access_token"].as_str().unwrap()).await),
        ("unauthorized", Some("revoked"))
    );
}

#[tokio::test]
async fn admin_endpoints_need_the_admin_token() {
    let s = TestServer::start().await;
    s.register("alice", None).await;
    for token in [None, Some("wrong"), Some("")] {
        let answer = s.admin("alice", "disable", token).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{token:?}");
    }
    for action in ["disable", "enable", "unlock"] {
        assert_eq!(
            s.admin("alice", action, Some(ADMIN)).await.status,
            StatusCode::NO_CONTENT
        );
        let unknown = s.admin("nobody", action, Some(ADMIN)).await;
        assert_eq!(
            (unknown.status, error(&unknown).0),
            (StatusCode::NOT_FOUND, "unknown_user")
        );
    }
    assert_eq!(
        s.admin("alice", "delete", Some(ADMIN)).await.status,
        StatusCode::NOT_FOUND
    );
    // Usernames in the path are PRECIS-canonicalised like everywhere else.
    assert_eq!(
        s.admin("ALICE", "disable", Some(ADMIN)).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.login("alice", PASSWORD).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn test_hooks_move_the_clock() {
    let s = TestServer::start().await;
    assert_eq!(s.advance(0).await, common::START);
    assert_eq!(s.advance(42).await, common::START + 42);
    let now: serde_json::Value = s
        .client
        .get(format!("{}/__test/clock", s.hooks))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(now["now"], json!(common::START + 42));
    // Bad requests to the hooks get the API's JSON errors too.
    let wrong_method = s
        .client
        .delete(format!("{}/__test/clock", s.hooks))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: serde_json::Value = wrong_method.json().await.unwrap();
    assert_eq!(body["error"], "method_not_allowed");
    let unknown = s
        .client
        .get(format!("{}/__test/nothing", s.hooks))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}
