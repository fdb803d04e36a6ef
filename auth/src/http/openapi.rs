//! The OpenAPI 3.1 document of the public API. Operations, schemas and statuses come from the
//! handlers' `#[utoipa::path]` (the router and the document are built from the same list, so a
//! route cannot be served undocumented); this file adds what the handlers cannot say: the
//! security schemes, and the links a stateful client follows from one answer to the next call.

use serde_json::json;
use utoipa::openapi::link::Link;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, RefOr};
use utoipa::Modify;

/// The document's fixed parts; `#[derive(utoipa::OpenApi)]` fills in the version and info.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "auth",
        description = "A session-login service: password login with argon2id and PRECIS usernames, \
            refresh-token rotation with a grace window and reuse detection, MFA through an \
            upstream OTP provider, lockout, step-up, logout scopes and token revocation. The \
            rules behind every answer are in docs/PROTOCOL.md of the authcheck repository."
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "accounts", description = "Creating accounts"),
        (name = "session", description = "Logging in, using and ending sessions"),
        (name = "admin", description = "Needs the server's admin token"),
        (name = "meta", description = "This document"),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, api: &mut OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        let bearer = |what: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(what))
                    .build(),
            )
        };
        components.add_security_scheme(
            "session",
            bearer("An access token from login, mfa, refresh or password"),
        );
        components.add_security_scheme(
            "admin",
            bearer("The admin token the server was started with"),
        );
    }
}

/// What a client can do with an answer that carries a session's tokens.
fn token_links() -> Links {
    let bearer = || json!({ "header.Authorization": "Bearer {$response.body#/access_token}" });
    vec![
        (
            "refresh",
            link(
                "refresh",
                "Rotate the session with the refresh token just issued",
                None,
                Some(json!({ "refresh_token": "$response.body#/refresh_token" })),
            ),
        ),
        (
            "access",
            link("access", "Use the access token", Some(bearer()), None),
        ),
        (
            "sensitive",
            link(
                "sensitive",
                "Use the access token for a sensitive operation",
                Some(bearer()),
                None,
            ),
        ),
        (
            "reauthenticate",
            link(
                "reauthenticate",
                "Prove the password again in this session",
                Some(bearer()),
                None,
            ),
        ),
        (
            "logout",
            link("logout", "End this session or others", Some(bearer()), None),
        ),
        (
            "change_password",
            link(
                "change_password",
                "Change the password from this session",
                Some(bearer()),
                None,
            ),
        ),
        (
            "revoke_refresh",
            link(
                "revoke",
                "Revoke the refresh token just issued",
                None,
                Some(json!({ "token": "$response.body#/refresh_token" })),
            ),
        ),
        (
            "revoke_access",
            link(
                "revoke",
                "Revoke the access token just issued",
                None,
                Some(json!({ "token": "$response.body#/access_token" })),
            ),
        ),
    ]
}

fn link(
    operation_id: &str,
    description: &str,
    parameters: Option<serde_json::Value>,
    request_body: Option<serde_json::Value>,
) -> Link {
    let mut builder = Link::builder()
        .operation_id(operation_id)
        .description(description);
    if let Some(serde_json::Value::Object(parameters)) = parameters {
        for (name, value) in parameters {
            builder = builder.parameter(name, value);
        }
    }
    if let Some(body) = request_body {
        builder = builder.request_body(Some(body));
    }
    builder.build()
}

/// Named links from one response.
type Links = Vec<(&'static str, Link)>;

/// The links of the document: (operation, status) → what can follow.
fn links() -> Vec<(&'static str, &'static str, Links)> {
    let after_tokens = |op: &'static str| (op, "200", token_links());
    vec![
        (
            "register",
            "201",
            vec![(
                "login",
                link(
                    "login",
                    "Log in to the account just created",
                    None,
                    Some(json!({
                        "username": "$response.body#/username",
                        "password": "$request.body#/password",
                    })),
                ),
            )],
        ),
        after_tokens("login"),
        (
            "login",
            "202",
            vec![(
                "verify_mfa",
                link(
                    "verify_mfa",
                    "Answer the challenge",
                    None,
                    Some(json!({ "challenge_id": "$response.body#/challenge_id" })),
                ),
            )],
        ),
        after_tokens("verify_mfa"),
        {
            let (op, status, mut next) = after_tokens("refresh");
            next.push((
                "retry",
                link(
                    "refresh",
                    "Present the same refresh token again (a retry inside the grace window, or reuse)",
                    None,
                    Some(json!({ "refresh_token": "$request.body#/refresh_token" })),
                ),
            ));
            (op, status, next)
        },
        after_tokens("change_password"),
        (
            "revoke",
            "200",
            vec![(
                "refresh_revoked",
                link(
                    "refresh",
                    "Try the revoked token as a refresh token",
                    None,
                    Some(json!({ "refresh_token": "$request.body#/token" })),
                ),
            )],
        ),
    ]
}

/// Adds [`links`] to the operations the handlers described.
pub(super) fn add_links(api: &mut OpenApi) {
    for (operation_id, status, next) in links() {
        let operation = api
            .paths
            .paths
            .values_mut()
            .flat_map(|item| {
                [
                    item.get.as_mut(),
                    item.post.as_mut(),
                    item.put.as_mut(),
                    item.delete.as_mut(),
                ]
            })
            .flatten()
            .find(|op| op.operation_id.as_deref() == Some(operation_id))
            .unwrap_or_else(|| panic!("links name an operation the API lacks: {operation_id}"));
        let Some(RefOr::T(response)) = operation.responses.responses.get_mut(status) else {
            panic!("links name a response {operation_id} lacks: {status}");
        };
        for (name, link) in next {
            response.links.insert(name.to_owned(), RefOr::T(link));
        }
    }
}
