//! The adapter for minisession: everything the harness needs to check a service it did not
//! write. Start an instance, say what it can do and what its API can show, and translate one
//! operation into a request and the response into an [`Answer`].

use super::service::{self, Numbers, Variant};
use authcheck::adapter::{
    Adapter, AdapterError, Answer, Caller, Capabilities, Control, Instance, Observability, Request,
};
use authcheck::model::{Aal, Grant, Op, Profile, Reason, TokenReason};
use serde_json::{json, Value};
use std::sync::Arc;

/// minisession's protocol choices, as its profile file states them.
pub const PROFILE: &str = include_str!("profile.toml");

pub struct MiniSession {
    pub variant: Variant,
}

impl Adapter for MiniSession {
    fn describe(&self) -> String {
        format!("minisession ({:?})", self.variant)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            clock: true,      // POST /__test/advance
            params: true,     // every instance is started with the numbers asked for
            lifecycle: false, // in memory: a restart would lose everything
            mfa: false,
            upstream_faults: false,
            admin: false,
            concurrency: true,
            scheduling: false,
            rollout: false, // one build
            crash: false,
            fresh_start: true,
        }
    }

    fn observability(&self) -> Observability {
        Observability {
            // Every refused refresh is `invalid_grant`, every refused token `invalid_token`.
            grant_reasons: false,
            token_reasons: false,
            // Answers name no session and no assurance level.
            session_ids: false,
            aal: false,
            ..Observability::ALL
        }
    }

    fn profile(&self) -> Profile {
        Profile::from_toml("examples/minisession/profile.toml", PROFILE)
            .expect("the example's profile parses")
    }

    fn start(&self, profile: &Profile, _seed: u64) -> Result<Box<dyn Instance>, AdapterError> {
        let p = profile.params;
        let numbers = Numbers {
            access_ttl: p.access_ttl,
            idle: p.idle_timeout,
            absolute: p.absolute_timeout,
            grace: p.refresh_grace,
            lock_after: p.lockout_threshold,
            lock_for: p.lockout_duration,
        };
        let server = service::serve(numbers, self.variant)
            .map_err(|e| AdapterError::Unavailable(e.to_string()))?;
        Ok(Box::new(Running {
            client: Arc::new(Client {
                http: reqwest::blocking::Client::new(),
                base: server.base.clone(),
            }),
            _server: server,
        }))
    }
}

struct Running {
    client: Arc<Client>,
    _server: service::Server,
}

struct Client {
    http: reqwest::blocking::Client,
    base: String,
}

impl Instance for Running {
    fn call(&mut self, request: &Request) -> Answer {
        self.client.call(request)
    }

    fn control(&mut self, control: &Control) -> Result<(), AdapterError> {
        match control {
            Control::Tick(seconds) => self
                .client
                .http
                .post(format!("{}/__test/advance", self.client.base))
                .json(&json!({ "seconds": seconds }))
                .send()
                .map(|_| ())
                .map_err(|e| AdapterError::Unavailable(e.to_string())),
            other => Err(AdapterError::Unavailable(format!(
                "minisession cannot {other:?}"
            ))),
        }
    }

    fn caller(&self) -> Option<Arc<dyn Caller>> {
        Some(self.client.clone())
    }
}

impl Caller for Client {
    fn call(&self, request: &Request) -> Answer {
        let token = request.token.clone().unwrap_or_default();
        let url = |path: &str| format!("{}{path}", self.base);
        let http = &self.http;
        let sent = match &request.op {
            Op::Register { user, password, .. } => http
                .post(url("/users"))
                .json(&json!({ "name": user, "password": password })),
            Op::Login { user, password, .. } => http
                .post(url("/token"))
                .json(&json!({ "grant_type": "password", "name": user, "password": password })),
            Op::Refresh { .. } => http
                .post(url("/token"))
                .json(&json!({ "grant_type": "refresh_token", "refresh_token": token })),
            Op::Access { .. } => http.get(url("/me")).bearer_auth(&token),
            Op::Logout { .. } => http.post(url("/logout")).bearer_auth(&token),
            Op::Revoke { .. } => http.post(url("/revoke")).json(&json!({ "token": token })),
            other => return Answer::Failed(format!("minisession has no {:?}", other.kind())),
        };
        let response = match sent.send() {
            Ok(r) => r,
            Err(e) => return Answer::Failed(e.to_string()),
        };
        let status = response.status().as_u16();
        let body: Value = response.json().unwrap_or(Value::Null);
        let tokens = || match (
            body["access_token"].as_str(),
            body["refresh_token"].as_str(),
        ) {
            (Some(access), Some(refresh)) => Answer::Tokens {
                session_id: None,
                access: access.to_owned(),
                refresh: refresh.to_owned(),
                aal: Aal::Aal1,
            },
            _ => Answer::Violation(format!("tokens without both tokens: {body}")),
        };
        match (&request.op, status) {
            (Op::Register { .. }, 201) => Answer::Registered,
            (Op::Register { .. }, 409) => Answer::Rejected(Reason::UsernameTaken),
            (Op::Register { .. }, 422) if body["error"] == "invalid_name" => {
                Answer::Rejected(Reason::InvalidUsername)
            }
            (Op::Register { .. }, 422) => Answer::Rejected(Reason::WeakPassword),
            (Op::Login { .. } | Op::Refresh { .. }, 200) => tokens(),
            (Op::Login { .. }, 401) => Answer::Rejected(Reason::InvalidCredentials),
            (Op::Refresh { .. }, 400) => Answer::Rejected(Reason::InvalidGrant(Grant::Unknown)),
            (Op::Access { .. }, 200) => Answer::Principal {
                username: body["name"].as_str().unwrap_or_default().to_owned(),
                aal: Aal::Aal1,
                session_id: None,
            },
            (Op::Access { .. } | Op::Logout { .. }, 401) => {
                Answer::Rejected(Reason::Unauthorized(TokenReason::Unknown))
            }
            (Op::Logout { .. }, 204) | (Op::Revoke { .. }, 200) => Answer::Done,
            (_, s) if s >= 500 => Answer::Failed(format!("{status}: {body}")),
            (op, _) => Answer::Violation(format!("{:?} answered {status} {body}", op.kind())),
        }
    }
}
