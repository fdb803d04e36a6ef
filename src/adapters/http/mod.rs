//! The HTTP adapter: speaks the HTTP API of docs/PROTOCOL.md with reqwest, to
//!
//! - a **managed** `auth-server` child process ([`server`]): 127.0.0.1:0, a SQLite file in a
//!   temp dir, the test hooks (manual clock), wiremock as its OTP provider ([`otp_mock`]);
//! - or an **external** server, as a black box: what it cannot do (clock, deploy, restart,
//!   provider faults, MFA codes, admin without a token) is declared in its capabilities and
//!   left out of generation.
//!
//! Requests and the reading of responses — with the API's status table, so a wrong status is
//! a finding of its own — are in [`wire`]. [`upgrade`] runs two builds of a managed server over
//! one store (mixed windows, rollbacks, crashes); [`builds`] turns `--from`/`--to` into them.

pub mod builds;
pub mod otp_mock;
pub mod server;
pub mod upgrade;
pub mod wire;

pub use server::find_server_bin;

use crate::adapter::{
    Adapter, AdapterError, Answer, Caller, Capabilities, Control, Instance, Request,
};
use crate::model::{Profile, Version};
use otp_mock::OtpMock;
use reqwest::StatusCode;
use serde_json::{json, Value};
use server::{Server, ADMIN_TOKEN};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Which server an HTTP adapter talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpTarget {
    /// Start `auth-server` from this binary for every case.
    Managed { server_bin: PathBuf },
    /// A running server at this base URL (`http://host:port`).
    External {
        base: String,
        admin_token: Option<String>,
        /// The `User-Agent` of every request (default `authcheck/VERSION`); the probe names
        /// itself so operators can filter its traffic.
        user_agent: Option<String>,
    },
}

impl Adapter for HttpTarget {
    fn describe(&self) -> String {
        match self {
            HttpTarget::Managed { .. } => "--target http".into(),
            HttpTarget::External { base, .. } => format!("--target {base}"),
        }
    }

    fn capabilities(&self) -> Capabilities {
        match self {
            HttpTarget::Managed { .. } => Capabilities {
                // The server schedules its own requests: concurrency is real, not replayable.
                scheduling: false,
                ..Capabilities::ALL
            },
            HttpTarget::External { admin_token, .. } => Capabilities {
                admin: admin_token.is_some(),
                ..Capabilities::BLACK_BOX
            },
        }
    }

    fn start(&self, profile: &Profile, seed: u64) -> Result<Box<dyn Instance>, AdapterError> {
        Ok(Box::new(HttpInstance::new(self, profile, seed)?))
    }
}

/// One request and its answer, as sent over the wire (for golden transcripts).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Exchange {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub request: Option<Value>,
    pub status: u16,
    pub headers: std::collections::BTreeMap<String, String>,
    pub response: Value,
}

/// What sends requests: shared by the instance and its concurrent callers.
struct Client {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    base: Mutex<String>,
    admin_token: Option<String>,
    otp: Option<OtpMock>,
    destinations: AtomicU64,
}

/// A server of an HTTP target, and the OTP provider it talks to when we manage it.
pub struct HttpInstance {
    client: Arc<Client>,
    server: Option<Server>,
    _otp_server: Option<wiremock::MockServer>,
    /// Every exchange so far, when recording.
    exchanges: Option<Vec<Exchange>>,
}

impl HttpInstance {
    pub fn new(target: &HttpTarget, profile: &Profile, seed: u64) -> Result<Self, AdapterError> {
        let agent = match target {
            HttpTarget::External {
                user_agent: Some(agent),
                ..
            } => Some(agent.as_str()),
            _ => None,
        };
        let (rt, http) = runtime_and_client(agent)?;
        let (base, admin_token, otp, otp_server, server) = match target {
            HttpTarget::External {
                base, admin_token, ..
            } => (
                base.trim_end_matches('/').to_owned(),
                admin_token.clone(),
                None,
                None,
                None,
            ),
            HttpTarget::Managed { server_bin } => {
                let (otp, otp_server) = otp_provider(&rt);
                let mut server = Server::new(
                    server_bin,
                    profile.params,
                    seed,
                    otp.clone(),
                    otp_server.uri(),
                )?;
                server.start(crate::adapters::in_process::CLOCK_START)?;
                (
                    server.base.clone(),
                    Some(ADMIN_TOKEN.to_owned()),
                    Some(otp),
                    Some(otp_server),
                    Some(server),
                )
            }
        };
        Ok(HttpInstance {
            client: Arc::new(Client {
                rt,
                http,
                base: Mutex::new(base),
                admin_token,
                otp,
                destinations: AtomicU64::new(0),
            }),
            server,
            _otp_server: otp_server,
            exchanges: None,
        })
    }

    /// Records every exchange from now on.
    pub fn record(mut self) -> Self {
        self.exchanges = Some(Vec::new());
        self
    }

    /// The exchanges recorded so far (empty unless recording).
    pub fn take_exchanges(&mut self) -> Vec<Exchange> {
        self.exchanges.take().unwrap_or_default()
    }

    fn hooks(&self) -> Result<String, AdapterError> {
        self.server
            .as_ref()
            .map(|s| s.hooks.clone())
            .ok_or_else(|| AdapterError::Unavailable("no test hooks".into()))
    }

    fn now(&self) -> Result<u64, AdapterError> {
        let url = format!("{}/__test/clock", self.hooks()?);
        let http = self.client.http.clone();
        let v: Value = self
            .client
            .rt
            .block_on(async { http.get(url).send().await?.json().await })
            .map_err(|e| AdapterError::Unavailable(format!("test hooks: {e}")))?;
        v["now"]
            .as_u64()
            .ok_or_else(|| AdapterError::Unavailable("test hooks: no time".into()))
    }

    fn advance(&self, seconds: u64) -> Result<(), AdapterError> {
        let url = format!("{}/__test/clock", self.hooks()?);
        let http = self.client.http.clone();
        self.client
            .rt
            .block_on(async {
                http.post(url)
                    .json(&json!({ "advance_seconds": seconds }))
                    .send()
                    .await
            })
            .map_err(|e| AdapterError::Unavailable(format!("test hooks: {e}")))?;
        Ok(())
    }

    fn restart(&mut self, version: Option<Version>) -> Result<(), AdapterError> {
        let now = self.now()?;
        let server = self
            .server
            .as_mut()
            .ok_or_else(|| AdapterError::Unavailable("not our server".into()))?;
        server.stop();
        if let Some(v) = version {
            server.version = v;
        }
        server.start(now)?;
        *self.client.base.lock().unwrap_or_else(|p| p.into_inner()) = server.base.clone();
        Ok(())
    }
}

/// The runtime a client's requests run on, and the client (`User-Agent: agent`, by default
/// `authcheck/VERSION`).
fn runtime_and_client(
    agent: Option<&str>,
) -> Result<(tokio::runtime::Runtime, reqwest::Client), AdapterError> {
    let unavailable = AdapterError::Unavailable;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| unavailable(format!("cannot build a runtime: {e}")))?;
    let agent = agent.map_or_else(
        || format!("authcheck/{}", env!("CARGO_PKG_VERSION")),
        str::to_owned,
    );
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .user_agent(agent)
        .build()
        .map_err(|e| unavailable(e.to_string()))?;
    Ok((rt, http))
}

/// The OTP provider our servers talk to: wiremock on `rt`, and the handle that reads its codes.
fn otp_provider(rt: &tokio::runtime::Runtime) -> (OtpMock, wiremock::MockServer) {
    let otp = OtpMock::default();
    let server = rt.block_on(async {
        let server = wiremock::MockServer::start().await;
        otp.mount(&server).await;
        server
    });
    (otp, server)
}

impl Client {
    fn call(&self, request: &Request, log: Option<&mut Vec<Exchange>>) -> Answer {
        let destination = match request.op {
            crate::model::Op::Register { mfa: true, .. } => {
                self.destinations.fetch_add(1, Ordering::SeqCst) + 1
            }
            _ => self.destinations.load(Ordering::SeqCst),
        };
        let Some(wire) = wire::request_for(request, destination, self.admin_token.as_deref())
        else {
            return Answer::Failed(format!("`{}` is not a request", request.op));
        };
        let base = self.base.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut builder = self
            .http
            .request(wire.method.clone(), format!("{base}{}", wire.path));
        // A token that cannot be a header value cannot be presented: the request goes without.
        let auth = wire
            .bearer
            .as_deref()
            .and_then(|t| reqwest::header::HeaderValue::from_str(&format!("Bearer {t}")).ok());
        if let Some(value) = &auth {
            builder = builder.header(reqwest::header::AUTHORIZATION, value.clone());
        }
        if let Some(body) = &wire.body {
            builder = builder.json(body);
        }
        let sent = self.rt.block_on(async {
            let response = builder.send().await?;
            let status = response.status();
            let headers: std::collections::BTreeMap<String, String> =
                ["content-type", "cache-control", "www-authenticate"]
                    .iter()
                    .filter_map(|h| {
                        Some((
                            h.to_string(),
                            response.headers().get(*h)?.to_str().ok()?.to_owned(),
                        ))
                    })
                    .collect();
            let bytes = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, bytes))
        });
        let (status, headers, bytes) = match sent {
            Ok(s) => s,
            Err(e) => return Answer::Failed(format!("{} {}: {e}", wire.method, wire.path)),
        };
        let body: Option<Value> = if bytes.is_empty() {
            Some(Value::Null)
        } else {
            serde_json::from_slice(&bytes).ok()
        };
        if let Some(log) = log {
            log.push(Exchange {
                method: wire.method.to_string(),
                path: wire.path.clone(),
                authorization: auth.map(|_| "Bearer [token]".to_owned()),
                request: wire.body.clone(),
                status: status.as_u16(),
                headers,
                response: body.clone().unwrap_or(Value::Null),
            });
        }
        let code = match (&request.op, status) {
            (crate::model::Op::Login { .. }, StatusCode::ACCEPTED) => {
                self.otp.as_ref().and_then(OtpMock::last_code)
            }
            _ => None,
        };
        wire::answer_from_http(&request.op, status, body.as_ref(), code)
    }
}

impl Caller for Client {
    fn call(&self, request: &Request) -> Answer {
        Client::call(self, request, None)
    }
}

impl Instance for HttpInstance {
    fn call(&mut self, request: &Request) -> Answer {
        self.client.call(request, self.exchanges.as_mut())
    }

    fn control(&mut self, control: &Control) -> Result<(), AdapterError> {
        match control {
            Control::Tick(seconds) => self.advance(*seconds),
            Control::Deploy(version) => self.restart(Some(*version)),
            Control::Restart => self.restart(None),
            Control::Upstream(mode) => match &self.client.otp {
                Some(otp) => {
                    otp.set_mode(*mode);
                    Ok(())
                }
                None => Err(AdapterError::Unavailable("not our OTP provider".into())),
            },
            Control::Rollout(_) | Control::Crash => Err(AdapterError::Unavailable(
                "one build only: upgrades and crashes are `authcheck upgrade`'s".into(),
            )),
        }
    }

    fn caller(&self) -> Option<Arc<dyn Caller>> {
        Some(self.client.clone())
    }
}
