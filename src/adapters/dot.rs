//! django-oauth-toolkit (DOT), a server nobody here wrote, checked over HTTP: the Django project
//! in `targets/django-oauth-toolkit/` (DOT's token, revocation and introspection endpoints, a
//! protected resource, user creation, admin disable, and a loopback-only clock moved with
//! time-machine). Each instance is a fresh server process on 127.0.0.1 over a fresh SQLite
//! database copied from a migrated template. The adapter creates the pinned virtualenv itself
//! (`setup.sh`) when it is missing or stale.
//!
//! DOT's settings come from the profile: `ROTATE_REFRESH_TOKEN` from `rotation`,
//! `REFRESH_TOKEN_GRACE_PERIOD_SECONDS` from `refresh_grace`, `REFRESH_TOKEN_REUSE_PROTECTION`
//! from `reuse`, `ACCESS_TOKEN_EXPIRE_SECONDS` from `access_ttl`.

use crate::adapter::{
    Adapter, AdapterError, Answer, Caller, Capabilities, Control, Instance, Observability, Request,
};
use crate::model::profile::{Reuse, Rotation};
use crate::model::{Aal, Grant, Op, Profile, Reason, TokenReason};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// The public client the project registers.
const CLIENT_ID: &str = "authcheck";
const ADMIN_TOKEN: &str = "authcheck-admin";

/// DOT at `version`, from the project in `dir` (`targets/django-oauth-toolkit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DjangoOauthToolkit {
    pub version: String,
    pub dir: PathBuf,
}

impl DjangoOauthToolkit {
    /// DOT `version` from this repository's `targets/django-oauth-toolkit/`.
    pub fn new(version: &str) -> Self {
        DjangoOauthToolkit {
            version: version.to_owned(),
            dir: std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("targets/django-oauth-toolkit"),
        }
    }

    /// The profile file `profiles/NAME.toml` of the target.
    pub fn profile_named(&self, name: &str) -> Result<Profile, String> {
        Profile::load(&self.dir.join("profiles").join(format!("{name}.toml")))
    }

    fn venv(&self) -> PathBuf {
        self.dir.join(format!(".venv-{}", self.version))
    }

    /// The virtualenv (created or refreshed by `setup.sh`) and the migrated template database,
    /// once per process and version.
    fn prepare(&self) -> Result<(PathBuf, PathBuf), AdapterError> {
        static READY: Mutex<Vec<String>> = Mutex::new(Vec::new());
        let mut ready = READY.lock().unwrap_or_else(|p| p.into_inner());
        let python = self.venv().join("bin/python");
        let template = self.venv().join("template.sqlite3");
        if ready.contains(&self.version) {
            return Ok((python, template));
        }
        let fail = |what: String| AdapterError::Unavailable(what);
        let setup = Command::new(self.dir.join("setup.sh"))
            .arg(&self.version)
            .stdout(Stdio::null())
            .status()
            .map_err(|e| fail(format!("setup.sh: {e}")))?;
        if !setup.success() {
            return Err(fail(format!(
                "setup.sh {} failed (it installs from PyPI)",
                self.version
            )));
        }
        let _ = std::fs::remove_file(&template);
        let made = Command::new(&python)
            .arg(self.dir.join("server.py"))
            .arg("--db")
            .arg(&template)
            .arg("--make-template")
            .status()
            .map_err(|e| fail(format!("server.py --make-template: {e}")))?;
        if !made.success() {
            return Err(fail("server.py --make-template failed".into()));
        }
        ready.push(self.version.clone());
        Ok((python, template))
    }
}

impl Adapter for DjangoOauthToolkit {
    fn describe(&self) -> String {
        format!(
            "--target django-oauth-toolkit --dot-version {}",
            self.version
        )
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            clock: true,
            // A restart would start the clock over; DOT has no versions of its own protocol.
            lifecycle: false,
            mfa: false,
            upstream_faults: false,
            admin: true,
            // DOT has its own numbers (no idle or absolute session timeout): the profile's.
            params: false,
            concurrency: true,
            scheduling: false,
            fresh_start: true,
        }
    }

    fn observability(&self) -> Observability {
        Observability {
            // Every refused grant is `invalid_grant`; every refused token a bare 401/403.
            grant_reasons: false,
            token_reasons: false,
            // Django refuses an inactive user like a wrong password.
            disabled: false,
            // OAuth token responses name no session and no assurance level.
            session_ids: false,
            aal: false,
            ..Observability::ALL
        }
    }

    fn profile(&self) -> Profile {
        self.profile_named("defaults").unwrap_or_default()
    }

    fn start(&self, profile: &Profile, _seed: u64) -> Result<Box<dyn Instance>, AdapterError> {
        let (python, template) = self.prepare()?;
        let dir = tempfile::tempdir().map_err(|e| AdapterError::Unavailable(e.to_string()))?;
        let flag = |b: bool| if b { "1" } else { "0" };
        let mut child = Command::new(&python)
            .arg(self.dir.join("server.py"))
            .arg("--db")
            .arg(dir.path().join("db.sqlite3"))
            .arg("--template")
            .arg(&template)
            .args(["--access-ttl", &profile.params.access_ttl.to_string()])
            .args(["--grace", &profile.params.refresh_grace.to_string()])
            .args([
                "--rotate",
                flag(profile.choices.rotation == Rotation::Rotate),
            ])
            .args([
                "--reuse-protection",
                flag(profile.choices.reuse == Reuse::RevokeSession),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| AdapterError::Unavailable(format!("cannot start DOT: {e}")))?;
        let stdout = child.stdout.take();
        let base = stdout
            .and_then(|out| BufReader::new(out).lines().next())
            .and_then(Result::ok)
            .filter(|line| line.starts_with("http://127.0.0.1:"));
        let Some(base) = base else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(AdapterError::Unavailable(
                "DOT exited before printing its address".into(),
            ));
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| AdapterError::Unavailable(e.to_string()))?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| AdapterError::Unavailable(e.to_string()))?;
        Ok(Box::new(DotInstance {
            client: Arc::new(DotClient { rt, http, base }),
            child,
            _dir: dir,
        }))
    }
}

struct DotClient {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    base: String,
}

/// A running DOT server; stopped (killed) when dropped.
struct DotInstance {
    client: Arc<DotClient>,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for DotInstance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Instance for DotInstance {
    fn call(&mut self, request: &Request) -> Answer {
        self.client.call(request)
    }

    fn control(&mut self, control: &Control) -> Result<(), AdapterError> {
        match control {
            Control::Tick(seconds) => {
                let url = format!("{}/__test/clock", self.client.base);
                let body = serde_json::json!({ "advance_seconds": seconds });
                let http = self.client.http.clone();
                self.client
                    .rt
                    .block_on(async { http.post(url).json(&body).send().await })
                    .map(|_| ())
                    .map_err(|e| AdapterError::Unavailable(format!("clock: {e}")))
            }
            other => Err(AdapterError::Unavailable(format!("DOT cannot {other:?}"))),
        }
    }

    fn caller(&self) -> Option<Arc<dyn Caller>> {
        Some(self.client.clone())
    }
}

impl Caller for DotClient {
    fn call(&self, request: &Request) -> Answer {
        DotClient::call(self, request)
    }
}

impl DotClient {
    fn call(&self, request: &Request) -> Answer {
        let token = request.token.clone().unwrap_or_default();
        let url = |path: &str| format!("{}{path}", self.base);
        let form = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .chain([("client_id".to_owned(), CLIENT_ID.to_owned())])
                .collect()
        };
        let http = &self.http;
        let builder = match &request.op {
            Op::Register { user, password, .. } => http
                .post(url("/users"))
                .json(&serde_json::json!({ "username": user, "password": password })),
            Op::Login { user, password, .. } => http.post(url("/o/token/")).form(&form(&[
                ("grant_type", "password"),
                ("username", user),
                ("password", password),
            ])),
            Op::Refresh { .. } => http.post(url("/o/token/")).form(&form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &token),
            ])),
            Op::Access { .. } => http.get(url("/me")).bearer_auth(&token),
            Op::Revoke { .. } => http
                .post(url("/o/revoke_token/"))
                .form(&form(&[("token", &token)])),
            Op::AdminDisable { user } | Op::AdminEnable { user } | Op::AdminUnlock { user } => {
                let action = match request.op {
                    Op::AdminDisable { .. } => "disable",
                    Op::AdminEnable { .. } => "enable",
                    _ => "unlock",
                };
                http.post(url(&format!(
                    "/admin/users/{}/{action}",
                    percent_encode(user)
                )))
                .bearer_auth(ADMIN_TOKEN)
            }
            other => return Answer::Failed(format!("DOT has no {:?}", other.kind())),
        };
        let sent = self.rt.block_on(async {
            let response = builder.send().await?;
            let status = response.status().as_u16();
            let bytes = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, bytes))
        });
        let (status, bytes) = match sent {
            Ok(s) => s,
            Err(e) => return Answer::Failed(format!("{:?}: {e}", request.op.kind())),
        };
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        answer(&request.op, status, &body)
    }
}

/// What a DOT response stands for.
fn answer(op: &Op, status: u16, body: &Value) -> Answer {
    let error = body["error"].as_str().unwrap_or_default();
    if status >= 500 {
        return Answer::Failed(format!("{:?} answered {status}: {body}", op.kind()));
    }
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
        _ => Answer::Violation(format!("a token response without both tokens: {body}")),
    };
    match (op, status) {
        (Op::Register { .. }, 201) => Answer::Registered,
        (Op::Register { .. }, 409) => Answer::Rejected(Reason::UsernameTaken),
        (Op::Register { .. }, 422) if error == "invalid_username" => {
            Answer::Rejected(Reason::InvalidUsername)
        }
        (Op::Register { .. }, 422) => Answer::Rejected(Reason::WeakPassword),
        (Op::Login { .. } | Op::Refresh { .. }, 200) => tokens(),
        // A wrong password, an unknown or inactive user: all `invalid_grant` (oauthlib says
        // `invalid_request` when the password is empty).
        (Op::Login { .. }, 400 | 401) if matches!(error, "invalid_grant" | "invalid_request") => {
            Answer::Rejected(Reason::InvalidCredentials)
        }
        (Op::Refresh { .. }, 400 | 401) if matches!(error, "invalid_grant" | "invalid_request") => {
            Answer::Rejected(Reason::InvalidGrant(Grant::Unknown))
        }
        (Op::Access { .. }, 200) => Answer::Principal {
            username: body["username"].as_str().unwrap_or_default().to_owned(),
            aal: Aal::Aal1,
            session_id: None,
        },
        (Op::Access { .. }, 401 | 403) => {
            Answer::Rejected(Reason::Unauthorized(TokenReason::Unknown))
        }
        (Op::Revoke { .. }, 200) => Answer::Done,
        (Op::AdminDisable { .. } | Op::AdminEnable { .. } | Op::AdminUnlock { .. }, 204) => {
            Answer::Done
        }
        (Op::AdminDisable { .. } | Op::AdminEnable { .. } | Op::AdminUnlock { .. }, 404) => {
            Answer::Rejected(Reason::UnknownUser)
        }
        _ => Answer::Violation(format!("{:?} answered {status} {body}", op.kind())),
    }
}

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
