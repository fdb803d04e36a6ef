//! The HTTP driver: speaks the DESIGN §3 HTTP API with reqwest, to
//!
//! - a **managed** `auth-server` child process on 127.0.0.1:0 over a SQLite file in a temp dir,
//!   with the test hooks (manual clock) and wiremock as its OTP provider. `Deploy` and `Restart`
//!   stop the process (SIGTERM) and start it again over the same database; the process is
//!   always stopped when the driver is dropped (a failed or interrupted check included);
//! - or an **external** server, as a black box: operations that need hooks it does not have
//!   (clock, deploy, restart, provider faults, MFA codes, admin without a token) are left out of
//!   generation by the campaign ([`Capabilities`]).
//!
//! Answers are abstracted from status and JSON body; a status that is not DESIGN's for the
//! reason given is a protocol violation in its own right.

use super::handles::{Handles, Issued};
use super::otp_mock::OtpMock;
use super::{Driver, DriverError};
use crate::model::{Aal, Code, Grant, Op, Outcome, Params, Reason, Scope, TokenReason, Version};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// What a server lets the harness do besides the protocol itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// A manual clock (`Tick`).
    pub clock: bool,
    /// `Deploy` and `Restart`.
    pub lifecycle: bool,
    /// Control of the OTP provider (`UpstreamFault`, and MFA accounts whose codes we can read).
    pub otp: bool,
    /// The admin token.
    pub admin: bool,
    /// The protocol numbers (TTLs, windows, thresholds) can be set per case, so a campaign
    /// may draw them (parameter swarm); otherwise the DESIGN defaults are assumed.
    pub params: bool,
}

impl Capabilities {
    pub const ALL: Capabilities = Capabilities {
        clock: true,
        lifecycle: true,
        otp: true,
        admin: true,
        params: true,
    };

    /// The kinds of operations these capabilities leave out, for the summary.
    pub fn left_out(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if !self.clock {
            out.push("tick (no manual clock)");
        }
        if !self.lifecycle {
            out.push("deploy, restart (not our process)");
        }
        if !self.otp {
            out.push("upstream faults and MFA accounts (not our OTP provider)");
        }
        if !self.admin {
            out.push("admin-disable/enable/unlock (no --admin-token)");
        }
        if !self.params {
            out.push("protocol numbers other than the defaults (not configurable per case)");
        }
        out
    }
}

/// Which server an HTTP driver talks to.
#[derive(Debug, Clone)]
pub enum HttpTarget {
    /// Start `auth-server` from this binary for every case.
    Managed { server_bin: PathBuf },
    /// A running server at this base URL (`http://host:port`).
    External {
        base: String,
        admin_token: Option<String>,
    },
}

impl HttpTarget {
    pub fn capabilities(&self) -> Capabilities {
        match self {
            HttpTarget::Managed { .. } => Capabilities::ALL,
            HttpTarget::External { admin_token, .. } => Capabilities {
                clock: false,
                lifecycle: false,
                otp: false,
                admin: admin_token.is_some(),
                params: false,
            },
        }
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

const ADMIN_TOKEN: &str = "authcheck-admin";
const CLOCK_START: u64 = super::in_process::CLOCK_START;

pub struct HttpDriver {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    base: String,
    hooks: Option<String>,
    admin_token: Option<String>,
    managed: Option<Managed>,
    handles: Handles,
    destinations: u64,
    /// Every exchange so far, when recording.
    pub exchanges: Option<Vec<Exchange>>,
}

/// The server process we own, and what restarting it needs.
struct Managed {
    server_bin: PathBuf,
    child: Option<Child>,
    dir: tempfile::TempDir,
    seed: u64,
    params: Params,
    starts: u64,
    version: Version,
    otp: OtpMock,
    _otp_server: wiremock::MockServer,
    otp_url: String,
}

impl HttpDriver {
    /// A driver for `target`; a managed server is started with the protocol numbers `params`
    /// (an external server runs with whatever it was configured with).
    pub fn new(target: &HttpTarget, params: Params, seed: u64) -> Result<Self, DriverError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| DriverError::Service(format!("cannot build a runtime: {e}")))?;
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| DriverError::Service(e.to_string()))?;
        let mut driver = match target {
            HttpTarget::External { base, admin_token } => HttpDriver {
                rt,
                client,
                base: base.trim_end_matches('/').to_owned(),
                hooks: None,
                admin_token: admin_token.clone(),
                managed: None,
                handles: Handles::default(),
                destinations: 0,
                exchanges: None,
            },
            HttpTarget::Managed { server_bin } => {
                let otp = OtpMock::default();
                let otp_server = rt.block_on(async {
                    let server = wiremock::MockServer::start().await;
                    otp.mount(&server).await;
                    server
                });
                let dir = tempfile::tempdir().map_err(|e| DriverError::Service(e.to_string()))?;
                let otp_url = otp_server.uri();
                HttpDriver {
                    rt,
                    client,
                    base: String::new(),
                    hooks: None,
                    admin_token: Some(ADMIN_TOKEN.into()),
                    managed: Some(Managed {
                        server_bin: server_bin.clone(),
                        child: None,
                        dir,
                        seed,
                        params,
                        starts: 0,
                        version: Version::V1,
                        otp,
                        _otp_server: otp_server,
                        otp_url,
                    }),
                    handles: Handles::default(),
                    destinations: 0,
                    exchanges: None,
                }
            }
        };
        if driver.managed.is_some() {
            driver.start(CLOCK_START)?;
        }
        Ok(driver)
    }

    /// Records every exchange from now on.
    pub fn record(mut self) -> Self {
        self.exchanges = Some(Vec::new());
        self
    }

    fn start(&mut self, clock: u64) -> Result<(), DriverError> {
        let Some(m) = self.managed.as_mut() else {
            return Ok(());
        };
        let fail = |e: String| DriverError::Service(e);
        let version = match m.version {
            Version::V1 => "v1",
            Version::V2 => "v2",
        };
        // Each start draws tokens from its own seed, so a restarted server never repeats one.
        let seed = m.seed.wrapping_mul(1_000).wrapping_add(m.starts);
        m.starts += 1;
        let mut child = Command::new(&m.server_bin)
            .args(["--listen", "127.0.0.1:0", "--test-hooks", "127.0.0.1:0"])
            .args(["--protocol", version, "--admin-token", ADMIN_TOKEN])
            .args([
                "--clock-start",
                &clock.to_string(),
                "--seed",
                &seed.to_string(),
            ])
            .args([
                "--argon2-memory-kib",
                "8",
                "--argon2-iterations",
                "1",
                "--argon2-parallelism",
                "1",
            ])
            .args(["--otp-url", &m.otp_url])
            .args(crate::model::params::KEYS.iter().flat_map(|k| {
                let value = m.params.get(k).unwrap_or_default();
                [format!("--{}", k.replace('_', "-")), value.to_string()]
            }))
            .arg("--db")
            .arg(m.dir.path().join("auth.db"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| fail(format!("cannot start {}: {e}", m.server_bin.display())))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| fail("no stdout".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let mut line = || -> Result<String, DriverError> {
            lines
                .next()
                .and_then(Result::ok)
                .ok_or_else(|| fail("auth-server exited before printing its address".into()))
        };
        let api = line()?;
        let hooks = line()?;
        self.base = format!("http://{api}");
        self.hooks = Some(format!(
            "http://{}",
            hooks.trim_start_matches("test-hooks ")
        ));
        m.child = Some(child);
        Ok(())
    }

    /// Stops the server gracefully (SIGTERM) and waits for it.
    fn stop(&mut self) {
        if let Some(mut child) = self.managed.as_mut().and_then(|m| m.child.take()) {
            terminate(&mut child);
        }
    }

    fn restart(&mut self, version: Option<Version>) -> Result<(), DriverError> {
        let now = self.now()?;
        self.stop();
        if let (Some(m), Some(v)) = (self.managed.as_mut(), version) {
            m.version = v;
        }
        self.start(now)
    }

    fn now(&mut self) -> Result<u64, DriverError> {
        let hooks = self
            .hooks
            .clone()
            .ok_or_else(|| DriverError::Service("no test hooks".into()))?;
        let client = self.client.clone();
        let v: Value = self
            .rt
            .block_on(async {
                client
                    .get(format!("{hooks}/__test/clock"))
                    .send()
                    .await?
                    .json()
                    .await
            })
            .map_err(|e| DriverError::Service(format!("test hooks: {e}")))?;
        v["now"]
            .as_u64()
            .ok_or_else(|| DriverError::Service("test hooks: no time".into()))
    }

    fn advance(&mut self, seconds: u64) -> Result<(), DriverError> {
        let hooks = self
            .hooks
            .clone()
            .ok_or_else(|| DriverError::Service("no test hooks".into()))?;
        let client = self.client.clone();
        self.rt
            .block_on(async {
                client
                    .post(format!("{hooks}/__test/clock"))
                    .json(&json!({ "advance_seconds": seconds }))
                    .send()
                    .await
            })
            .map_err(|e| DriverError::Service(format!("test hooks: {e}")))?;
        Ok(())
    }

    /// Sends one request; returns status and JSON body (`Null` when empty).
    fn send(
        &mut self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> Result<(StatusCode, Value), DriverError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.client.request(method.clone(), url);
        // A token that cannot be a header value cannot be presented: the request goes without.
        let auth = bearer
            .and_then(|t| reqwest::header::HeaderValue::from_str(&format!("Bearer {t}")).ok());
        if let Some(value) = &auth {
            request = request.header(reqwest::header::AUTHORIZATION, value.clone());
        }
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = self
            .rt
            .block_on(async { request.send().await })
            .map_err(|e| DriverError::Service(format!("{method} {path}: {e}")))?;
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
        let bytes = self
            .rt
            .block_on(async { response.bytes().await })
            .map_err(|e| DriverError::Service(format!("{method} {path}: {e}")))?;
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|_| {
                DriverError::Violation(format!(
                    "{method} {path} answered {status} with a body that is not JSON"
                ))
            })?
        };
        if let Some(log) = self.exchanges.as_mut() {
            log.push(Exchange {
                method: method.to_string(),
                path: path.to_owned(),
                authorization: auth.map(|_| "Bearer [token]".to_owned()),
                request: body,
                status: status.as_u16(),
                headers,
                response: json.clone(),
            });
        }
        if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            return Err(DriverError::Service(format!(
                "{method} {path} answered {status}: {json}"
            )));
        }
        Ok((status, json))
    }

    fn tokens(&mut self, new_session: bool, body: &Value) -> Result<Outcome, DriverError> {
        let field = |name: &str| {
            body[name]
                .as_str()
                .ok_or_else(|| DriverError::Violation(format!("tokens without `{name}`: {body}")))
        };
        if body["token_type"] != "Bearer" || body["expires_in"].as_u64().is_none() {
            return Err(DriverError::Violation(format!(
                "tokens body is not DESIGN's shape: {body}"
            )));
        }
        let issued = Issued {
            session_id: field("session_id")?,
            access_token: field("access_token")?,
            refresh_token: field("refresh_token")?,
        };
        let aal = aal(field("aal")?)?;
        if new_session {
            let session = self.handles.new_session(issued)?;
            Ok(Outcome::Issued { session, aal })
        } else {
            let (session, generation) = self.handles.rotated(issued)?;
            Ok(Outcome::Refreshed {
                session,
                generation,
            })
        }
    }

    fn run(&mut self, op: &Op) -> Result<Outcome, DriverError> {
        match op {
            Op::Tick { seconds } => {
                self.advance(*seconds)?;
                return Ok(Outcome::Ok);
            }
            Op::Deploy { version } => {
                self.restart(Some(*version))?;
                return Ok(Outcome::Ok);
            }
            Op::Restart => {
                self.restart(None)?;
                return Ok(Outcome::Ok);
            }
            Op::UpstreamFault { mode } => {
                if let Some(m) = &self.managed {
                    m.otp.set_mode(*mode);
                }
                return Ok(Outcome::Ok);
            }
            Op::Register { mfa: true, .. } => self.destinations += 1,
            _ => {}
        }
        let code = op
            .token()
            .and_then(|t| self.handles.code(t))
            .map(str::to_owned);
        let render = |t: &crate::model::Token| self.handles.render(t);
        let Some((method, path, bearer, body)) = request_for(
            op,
            &render,
            code,
            self.destinations,
            self.admin_token.as_deref(),
        ) else {
            unreachable!("every op but tick, deploy, restart and upstream is a request")
        };
        let (status, body) = self.send(method, &path, bearer.as_deref(), body)?;
        if !status.is_success() {
            return rejection(op, status, &body).map(Outcome::Rejected);
        }
        let expect = |wanted: u16| {
            if status.as_u16() == wanted {
                Ok(())
            } else {
                Err(DriverError::Violation(format!(
                    "{:?} answered {status}, DESIGN says {wanted}",
                    op.kind()
                )))
            }
        };
        Ok(match op {
            Op::Register { .. } => {
                expect(201)?;
                Outcome::Registered
            }
            Op::Login { .. } if status == StatusCode::ACCEPTED => {
                let id = body["challenge_id"].as_str().ok_or_else(|| {
                    DriverError::Violation(format!("202 without challenge_id: {body}"))
                })?;
                let code = self.managed.as_ref().and_then(|m| m.otp.last_code());
                let challenge = self.handles.new_challenge(id, code)?;
                Outcome::MfaRequired { challenge }
            }
            Op::Login { .. } | Op::VerifyMfa { .. } => {
                expect(200)?;
                self.tokens(true, &body)?
            }
            Op::Refresh { .. } => {
                expect(200)?;
                self.tokens(false, &body)?
            }
            Op::ChangePassword { .. } => {
                expect(200)?;
                match self.tokens(false, &body)? {
                    Outcome::Refreshed {
                        session,
                        generation,
                    } => Outcome::PasswordChanged {
                        session,
                        generation,
                    },
                    other => other,
                }
            }
            Op::Access { .. } | Op::Sensitive { .. } => {
                expect(200)?;
                let session_id = body["session_id"].as_str().unwrap_or_default();
                Outcome::Authorized {
                    session: self.handles.session(session_id)?,
                    user: body["username"].as_str().unwrap_or_default().to_owned(),
                    aal: aal(body["aal"].as_str().unwrap_or_default())?,
                }
            }
            Op::Reauthenticate { .. } => {
                expect(200)?;
                Outcome::Reauthenticated
            }
            Op::Logout { .. } => {
                expect(204)?;
                Outcome::LoggedOut
            }
            Op::Revoke { .. } => {
                expect(200)?;
                Outcome::Revoked
            }
            _ => {
                expect(204)?;
                Outcome::Done
            }
        })
    }
}

/// The method, path, bearer token and JSON body DESIGN's API uses for `op` (`None` for ops that
/// are not requests).
fn request_for(
    op: &Op,
    render: &dyn Fn(&crate::model::Token) -> String,
    code: Option<String>,
    destination: u64,
    admin_token: Option<&str>,
) -> Option<(Method, String, Option<String>, Option<Value>)> {
    Some(match op {
        Op::Register {
            user,
            password,
            mfa,
        } => {
            let mut body = json!({ "username": user, "password": password });
            if *mfa {
                body["mfa_destination"] = json!(format!("otp:{destination}"));
            }
            (Method::POST, "/v1/accounts".into(), None, Some(body))
        }
        Op::Login {
            user,
            password,
            device,
        } => (
            Method::POST,
            "/v1/session/login".into(),
            None,
            Some(
                json!({ "username": user, "password": password, "device": format!("device-{device}") }),
            ),
        ),
        Op::VerifyMfa {
            challenge,
            code: which,
        } => {
            let right = code.unwrap_or_else(|| "000000".into());
            let code = match which {
                Code::Right => right,
                Code::Wrong if right == "000000" => "000001".into(),
                Code::Wrong => "000000".into(),
            };
            (
                Method::POST,
                "/v1/session/mfa".into(),
                None,
                Some(json!({ "challenge_id": render(challenge), "code": code })),
            )
        }
        Op::Refresh { token } => (
            Method::POST,
            "/v1/session/refresh".into(),
            None,
            Some(json!({ "refresh_token": render(token) })),
        ),
        Op::Access { token } => (Method::GET, "/v1/session".into(), Some(render(token)), None),
        Op::Sensitive { token } => (
            Method::POST,
            "/v1/session/sensitive".into(),
            Some(render(token)),
            None,
        ),
        Op::Reauthenticate { token, password } => (
            Method::POST,
            "/v1/session/reauth".into(),
            Some(render(token)),
            Some(json!({ "password": password })),
        ),
        Op::Logout { token, scope } => {
            let scope = match scope {
                Scope::Local => "local",
                Scope::Others => "others",
                Scope::Global => "global",
            };
            (
                Method::POST,
                "/v1/session/logout".into(),
                Some(render(token)),
                Some(json!({ "scope": scope })),
            )
        }
        Op::Revoke { token } => (
            Method::POST,
            "/v1/oauth/revoke".into(),
            None,
            Some(json!({ "token": render(token) })),
        ),
        Op::ChangePassword { token, old, new } => (
            Method::POST,
            "/v1/session/password".into(),
            Some(render(token)),
            Some(json!({ "old_password": old, "new_password": new })),
        ),
        Op::AdminDisable { user } | Op::AdminEnable { user } | Op::AdminUnlock { user } => {
            let action = match op {
                Op::AdminDisable { .. } => "disable",
                Op::AdminEnable { .. } => "enable",
                _ => "unlock",
            };
            (
                Method::POST,
                format!("/v1/admin/users/{}/{action}", percent_encode(user)),
                admin_token.map(str::to_owned),
                None,
            )
        }
        Op::Tick { .. } | Op::Deploy { .. } | Op::Restart | Op::UpstreamFault { .. } => {
            return None
        }
    })
}

impl HttpDriver {
    /// Runs `branches` concurrently against the server (real concurrency: the server schedules
    /// its own requests), then `suffix`, and records every operation's raw answer with logical
    /// times.
    pub fn run_concurrent(
        &mut self,
        branches: &[Vec<Op>],
        suffix: &[Op],
    ) -> Result<Vec<crate::concurrent::Event>, DriverError> {
        use crate::concurrent::{render_local, Raw};
        let handles = std::sync::Arc::new(self.handles.clone());
        let otp = self.managed.as_ref().map(|m| m.otp.clone());
        let (client, base, admin) = (
            self.client.clone(),
            self.base.clone(),
            self.admin_token.clone(),
        );
        let call = move |op: Op, earlier: Vec<Raw>| {
            let (client, base, admin, handles, otp) = (
                client.clone(),
                base.clone(),
                admin.clone(),
                handles.clone(),
                otp.clone(),
            );
            async move {
                let render = |t: &crate::model::Token| render_local(t, &handles, &earlier);
                let code = op.token().and_then(|t| handles.code(t)).map(str::to_owned);
                let Some((method, path, bearer, body)) =
                    request_for(&op, &render, code, 0, admin.as_deref())
                else {
                    return Raw::Failed(format!("`{op}` cannot run in a concurrent branch"));
                };
                let mut request = client.request(method, format!("{base}{path}"));
                if let Some(v) = bearer.and_then(|t| {
                    reqwest::header::HeaderValue::from_str(&format!("Bearer {t}")).ok()
                }) {
                    request = request.header(reqwest::header::AUTHORIZATION, v);
                }
                if let Some(body) = body {
                    request = request.json(&body);
                }
                match request.send().await {
                    Err(e) => Raw::Failed(e.to_string()),
                    Ok(r) => {
                        let status = r.status();
                        let body: Value = r.json().await.unwrap_or(Value::Null);
                        raw_from_http(&op, status, &body, otp.as_ref().and_then(|o| o.last_code()))
                    }
                }
            }
        };
        Ok(crate::concurrent::record(&self.rt, branches, suffix, call))
    }

    /// The handles seen so far.
    pub fn handles(&self) -> &Handles {
        &self.handles
    }
}

/// A raw answer from an HTTP answer.
fn raw_from_http(
    op: &Op,
    status: StatusCode,
    body: &Value,
    code: Option<String>,
) -> crate::concurrent::Raw {
    use crate::concurrent::Raw;
    if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
        return Raw::Failed(format!("{status}: {body}"));
    }
    if !status.is_success() {
        return match rejection(op, status, body) {
            Ok(r) => Raw::Rejected(r),
            Err(e) => Raw::Failed(e.to_string()),
        };
    }
    let s = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
    let aal = |b: &Value| {
        if b["aal"] == "aal2" {
            Aal::Aal2
        } else {
            Aal::Aal1
        }
    };
    match (op, status.as_u16()) {
        (Op::Register { .. }, 201) => Raw::Registered,
        (Op::Login { .. }, 202) => Raw::Challenge {
            id: s("challenge_id"),
            code,
        },
        (_, 200) if body.get("refresh_token").is_some() => Raw::Tokens {
            session_id: s("session_id"),
            access: s("access_token"),
            refresh: s("refresh_token"),
            aal: aal(body),
        },
        (Op::Access { .. } | Op::Sensitive { .. }, 200) => Raw::Principal {
            username: s("username"),
            aal: aal(body),
            session_id: s("session_id"),
        },
        (Op::Reauthenticate { .. } | Op::Revoke { .. }, 200)
        | (
            Op::Logout { .. }
            | Op::AdminDisable { .. }
            | Op::AdminEnable { .. }
            | Op::AdminUnlock { .. },
            204,
        ) => Raw::Done,
        _ => Raw::Failed(format!("{:?} answered {status} {body}", op.kind())),
    }
}

impl Driver for HttpDriver {
    fn apply(&mut self, op: &Op) -> Result<Outcome, DriverError> {
        self.run(op)
    }
}

impl Drop for HttpDriver {
    fn drop(&mut self) {
        self.stop();
    }
}

fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    for _ in 0..200 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn aal(word: &str) -> Result<Aal, DriverError> {
    match word {
        "aal1" => Ok(Aal::Aal1),
        "aal2" => Ok(Aal::Aal2),
        other => Err(DriverError::Violation(format!("unknown aal `{other}`"))),
    }
}

/// The rejection an error answer names, checked against DESIGN's status for it.
fn rejection(op: &Op, status: StatusCode, body: &Value) -> Result<Reason, DriverError> {
    // An empty name leaves no path segment to route: the resource does not exist.
    if let Op::AdminDisable { user } | Op::AdminEnable { user } | Op::AdminUnlock { user } = op {
        if user.is_empty() && status == StatusCode::NOT_FOUND {
            return Ok(Reason::UnknownUser);
        }
    }
    let error = body["error"].as_str().unwrap_or_default();
    let reason = body["reason"].as_str();
    let token = |r: Option<&str>| match r {
        Some("unknown") => Ok(TokenReason::Unknown),
        Some("expired") => Ok(TokenReason::Expired),
        Some("revoked") => Ok(TokenReason::Revoked),
        other => Err(DriverError::Violation(format!(
            "unauthorized with reason {other:?}"
        ))),
    };
    let parsed = match error {
        "username_taken" => Reason::UsernameTaken,
        "invalid_username" => Reason::InvalidUsername,
        "weak_password" => Reason::WeakPassword,
        "invalid_credentials" => Reason::InvalidCredentials,
        "locked" => Reason::Locked,
        "disabled" => Reason::Disabled,
        "upstream_unavailable" => Reason::UpstreamUnavailable,
        "invalid_code" => Reason::InvalidCode,
        "challenge_expired" => Reason::ChallengeExpired,
        "step_up_required" => Reason::StepUpRequired,
        "unknown_user" => Reason::UnknownUser,
        "unauthorized" => Reason::Unauthorized(token(reason)?),
        "invalid_grant" => Reason::InvalidGrant(match reason {
            Some("unknown") => Grant::Unknown,
            Some("expired") => Grant::Expired,
            Some("revoked") => Grant::Revoked,
            Some("reuse") => Grant::Reuse,
            other => {
                return Err(DriverError::Violation(format!(
                    "invalid_grant with reason {other:?}"
                )))
            }
        }),
        _ => {
            return Err(DriverError::Violation(format!(
                "{:?} answered {status} {body}",
                op.kind()
            )));
        }
    };
    let wanted = design_status(parsed);
    if status.as_u16() != wanted {
        return Err(DriverError::Violation(format!(
            "`{error}` came with {status}, DESIGN says {wanted}"
        )));
    }
    Ok(parsed)
}

/// DESIGN §3's status for each rejection.
pub fn design_status(reason: Reason) -> u16 {
    match reason {
        Reason::UsernameTaken => 409,
        Reason::InvalidUsername | Reason::WeakPassword => 422,
        Reason::InvalidCredentials | Reason::InvalidCode | Reason::Unauthorized(_) => 401,
        Reason::Locked => 423,
        Reason::Disabled | Reason::StepUpRequired => 403,
        Reason::UpstreamUnavailable => 503,
        Reason::ChallengeExpired => 410,
        Reason::InvalidGrant(_) => 400,
        Reason::UnknownUser => 404,
    }
}

/// Percent-encodes a path segment (everything but unreserved characters).
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Finds the `auth-server` binary: `$AUTH_SERVER_BIN`, next to this executable (or one level
/// up, from `target/*/deps`), or else builds it with cargo.
pub fn find_server_bin() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("AUTH_SERVER_BIN") {
        return Ok(path.into());
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let name = format!("auth-server{}", std::env::consts::EXE_SUFFIX);
    for dir in exe.ancestors().skip(1).take(2) {
        let candidate = dir.join(&name);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    let release = exe.components().any(|c| c.as_os_str() == "release");
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo.args(["build", "-q", "-p", "auth", "--bin", "auth-server"]);
    if release {
        cargo.arg("--release");
    }
    let status = cargo
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .status()
        .map_err(|e| format!("cannot run cargo to build auth-server: {e}"))?;
    let dir = exe.ancestors().find(|d| {
        d.file_name()
            .is_some_and(|n| n == "debug" || n == "release")
    });
    match (status.success(), dir) {
        (true, Some(dir)) if dir.join(&name).is_file() => Ok(dir.join(&name)),
        _ => Err(
            "auth-server not found; build it (`cargo build -p auth`) or set AUTH_SERVER_BIN".into(),
        ),
    }
}
