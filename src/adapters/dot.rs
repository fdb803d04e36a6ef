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
use crate::adapters::http::wire::percent_encode;
use crate::model::profile::{Reuse, Rotation};
use crate::model::{Aal, Grant, Op, Profile, Reason, TokenReason};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The public client the project registers.
const CLIENT_ID: &str = "authcheck";
const ADMIN_TOKEN: &str = "authcheck-admin";

/// DOT at `version`, from the project in `dir` (`targets/django-oauth-toolkit`), over
/// `database`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DjangoOauthToolkit {
    pub version: String,
    pub dir: PathBuf,
    pub database: Database,
}

/// Where DOT keeps its tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file per instance: writes are serialized by the database lock.
    Sqlite,
    /// A database per instance in a private PostgreSQL cluster (`postgres.sh`): row locks,
    /// so concurrent requests interleave as they do in production.
    Postgres,
}

impl DjangoOauthToolkit {
    /// DOT `version` from this repository's `targets/django-oauth-toolkit/`.
    pub fn new(version: &str) -> Self {
        DjangoOauthToolkit {
            version: version.to_owned(),
            dir: std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("targets/django-oauth-toolkit"),
            database: Database::Sqlite,
        }
    }

    /// The same, over `database`.
    pub fn over(mut self, database: Database) -> Self {
        self.database = database;
        self
    }

    /// The profile file `profiles/NAME.toml` of the target.
    pub fn profile_named(&self, name: &str) -> Result<Profile, String> {
        Profile::load(&self.dir.join("profiles").join(format!("{name}.toml")))
    }

    fn venv(&self) -> PathBuf {
        self.dir.join(format!(".venv-{}", self.version))
    }

    /// The virtualenv (created or refreshed by `setup.sh`), the database options of every
    /// server, and the migrated template database (a file, or a database of the cluster), once
    /// per process, version and database.
    fn prepare(&self) -> Result<Prepared, AdapterError> {
        static READY: Mutex<Vec<(String, Database, Prepared)>> = Mutex::new(Vec::new());
        let mut ready = READY.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, _, p)) = ready
            .iter()
            .find(|(v, d, _)| *v == self.version && *d == self.database)
        {
            return Ok(p.clone());
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
        let (database, template) = match self.database {
            Database::Sqlite => {
                let template = self.venv().join("template.sqlite3");
                let _ = std::fs::remove_file(&template);
                (vec![], template.display().to_string())
            }
            Database::Postgres => {
                let options = vec!["--postgres".to_owned(), postgres_cluster(&self.dir)?];
                (
                    options,
                    format!("dot_{}_template", self.version.replace('.', "_")),
                )
            }
        };
        let made = Command::new(self.venv().join("bin/python"))
            .arg(self.dir.join("server.py"))
            .args(&database)
            .args(["--db", &template, "--make-template"])
            .status()
            .map_err(|e| fail(format!("server.py --make-template: {e}")))?;
        if !made.success() {
            return Err(fail("server.py --make-template failed".into()));
        }
        let prepared = Prepared {
            python: self.venv().join("bin/python"),
            database,
            template,
        };
        ready.push((self.version.clone(), self.database, prepared.clone()));
        Ok(prepared)
    }
}

/// What every server of one version and database is started with.
#[derive(Debug, Clone)]
struct Prepared {
    python: PathBuf,
    /// `--postgres HOST:PORT:USER`, or nothing for SQLite.
    database: Vec<String>,
    /// The migrated template: a file, or a database name.
    template: String,
}

/// The private PostgreSQL cluster of this process (`HOST:PORT:USER` for `server.py`), started
/// on first use by `postgres.sh`, which stops it and removes its files when this process exits
/// (its stdin, a pipe from here, closes). As root, the cluster runs as the `postgres` user.
fn postgres_cluster(dir: &std::path::Path) -> Result<String, AdapterError> {
    static CLUSTER: Mutex<Option<(String, Child)>> = Mutex::new(None);
    let mut cluster = CLUSTER.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((host, _)) = cluster.as_ref() {
        return Ok(host.clone());
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let script = dir.join("postgres.sh");
    let mut command = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&script);
        c
    } else {
        Command::new(&script)
    };
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| AdapterError::Unavailable(format!("postgres.sh: {e}")))?;
    let socket_dir = child
        .stdout
        .take()
        .and_then(|out| BufReader::new(out).lines().next())
        .and_then(Result::ok)
        .filter(|line| line.starts_with('/'))
        .ok_or_else(|| {
            AdapterError::Unavailable(
                "postgres.sh did not start a cluster (is PostgreSQL installed?)".into(),
            )
        })?;
    let host = format!("{socket_dir}:5432:postgres");
    *cluster = Some((host.clone(), child));
    Ok(host)
}

impl Adapter for DjangoOauthToolkit {
    fn describe(&self) -> String {
        let database = match self.database {
            Database::Sqlite => "",
            Database::Postgres => " --dot-db postgres",
        };
        format!(
            "--target django-oauth-toolkit --dot-version {}{database}",
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
            rollout: false,
            crash: false,
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
        let prepared = self.prepare()?;
        let flag = |b: bool| if b { "1" } else { "0" };
        let settings = vec![
            format!("--access-ttl={}", profile.params.access_ttl),
            format!("--grace={}", profile.params.refresh_grace),
            format!(
                "--rotate={}",
                flag(profile.choices.rotation == Rotation::Rotate)
            ),
            format!(
                "--reuse-protection={}",
                flag(profile.choices.reuse == Reuse::RevokeSession)
            ),
        ];
        let key = (format!("{} {:?}", self.version, self.database), settings);
        // A server left by an earlier instance with the same settings, reset to a fresh
        // database and clock (a process start costs most of a short case).
        let idle = {
            let mut pool = IDLE.lock().unwrap_or_else(|p| p.into_inner());
            let at = pool.iter().position(|s| s.key == key);
            at.map(|i| pool.swap_remove(i))
        };
        if let Some(server) = idle {
            if server.client.post_empty("/__test/reset") == Some(204) {
                return Ok(Box::new(DotInstance {
                    server: Some(server),
                }));
            }
        }
        let server = Server::spawn(&prepared, &self.dir, key)?;
        Ok(Box::new(DotInstance {
            server: Some(server),
        }))
    }
}

/// Servers no instance is using, by their settings, for the next instance to reset and take.
static IDLE: Mutex<Vec<Server>> = Mutex::new(Vec::new());
/// More idle servers than this are stopped (a campaign uses one configuration at a time).
const MAX_IDLE: usize = 2;

/// One DOT server process: killed when dropped. It also exits by itself when its stdin (a
/// pipe from this process) closes, so servers left idle do not outlive the harness.
struct Server {
    key: (String, Vec<String>),
    client: Arc<DotClient>,
    child: Child,
    _stdin: Option<std::process::ChildStdin>,
    _dir: tempfile::TempDir,
}

impl Server {
    fn spawn(
        prepared: &Prepared,
        dir: &std::path::Path,
        key: (String, Vec<String>),
    ) -> Result<Server, AdapterError> {
        static SERVERS: AtomicU64 = AtomicU64::new(0);
        let scratch = tempfile::tempdir().map_err(|e| AdapterError::Unavailable(e.to_string()))?;
        // Its own database: a file in its scratch directory, or a database of the cluster.
        let db = if prepared.database.is_empty() {
            scratch.path().join("db.sqlite3").display().to_string()
        } else {
            let n = SERVERS.fetch_add(1, Ordering::Relaxed);
            format!("dot_{}_{n}", std::process::id())
        };
        // The server's stderr (Django's tracebacks of a 500) goes to a file a failure quotes.
        let log = scratch.path().join("server.log");
        let stderr = std::fs::File::create(&log)
            .map_err(|e| AdapterError::Unavailable(format!("{}: {e}", log.display())))?;
        let mut child = Command::new(&prepared.python)
            .arg(dir.join("server.py"))
            .args(&prepared.database)
            .args(["--db", &db, "--template", &prepared.template])
            .args(&key.1)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| AdapterError::Unavailable(format!("cannot start DOT: {e}")))?;
        let stdin = child.stdin.take();
        let base = child
            .stdout
            .take()
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
        Ok(Server {
            key,
            client: Arc::new(DotClient {
                rt,
                http,
                base,
                log,
                broken: AtomicBool::new(false),
            }),
            child,
            _stdin: stdin,
            _dir: scratch,
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct DotClient {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    base: String,
    /// The server's stderr.
    log: PathBuf,
    /// A request failed in transport or with a 5xx: the server is not reused.
    broken: AtomicBool,
}

/// A DOT server serving one instance; back to the idle servers when dropped, if it is healthy.
struct DotInstance {
    server: Option<Server>,
}

impl Drop for DotInstance {
    fn drop(&mut self) {
        let Some(mut server) = self.server.take() else {
            return;
        };
        let running = matches!(server.child.try_wait(), Ok(None));
        let alone = Arc::strong_count(&server.client) == 1;
        if running && alone && !server.client.broken.load(Ordering::Relaxed) {
            let mut pool = IDLE.lock().unwrap_or_else(|p| p.into_inner());
            if pool.len() < MAX_IDLE {
                pool.push(server);
            }
        }
    }
}

impl DotInstance {
    fn client(&self) -> &Arc<DotClient> {
        &self
            .server
            .as_ref()
            .expect("a live instance has its server")
            .client
    }
}

impl Instance for DotInstance {
    fn call(&mut self, request: &Request) -> Answer {
        self.client().call(request)
    }

    fn control(&mut self, control: &Control) -> Result<(), AdapterError> {
        match control {
            Control::Tick(seconds) => {
                let body = serde_json::json!({ "advance_seconds": seconds });
                match self.client().post_json("/__test/clock", &body) {
                    Some(204) => Ok(()),
                    status => Err(AdapterError::Unavailable(format!(
                        "the clock hook answered {status:?}"
                    ))),
                }
            }
            other => Err(AdapterError::Unavailable(format!("DOT cannot {other:?}"))),
        }
    }

    fn caller(&self) -> Option<Arc<dyn Caller>> {
        Some(self.client().clone())
    }
}

impl Caller for DotClient {
    fn call(&self, request: &Request) -> Answer {
        DotClient::call(self, request)
    }
}

impl DotClient {
    /// POSTs `body` to a test hook; its status, or `None` (and the server marked broken).
    fn post_json(&self, path: &str, body: &Value) -> Option<u16> {
        let request = self.http.post(format!("{}{path}", self.base)).json(body);
        let status = self
            .rt
            .block_on(async { request.send().await })
            .map(|r| r.status().as_u16())
            .ok();
        if status.is_none() {
            self.broken.store(true, Ordering::Relaxed);
        }
        status
    }

    fn post_empty(&self, path: &str) -> Option<u16> {
        self.post_json(path, &Value::Null)
    }

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
            Err(e) => {
                self.broken.store(true, Ordering::Relaxed);
                return Answer::Failed(format!("{:?}: {e}", request.op.kind()));
            }
        };
        if status >= 500 {
            self.broken.store(true, Ordering::Relaxed);
        }
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        match answer(&request.op, token.is_empty(), status, &body) {
            Answer::Failed(what) if status >= 500 => Answer::Failed(format!(
                "{what}\n  the server's log ends:\n{}",
                self.log_tail(12)
            )),
            other => other,
        }
    }

    /// The last `lines` lines of the server's stderr, indented.
    fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..]
            .iter()
            .map(|line| format!("    {line}\n"))
            .collect()
    }
}

/// What a DOT response stands for (`empty_token`: the request carried an empty token).
fn answer(op: &Op, empty_token: bool, status: u16, body: &Value) -> Answer {
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
        // An empty `token` is a missing one (RFC 6749 §3.1: "parameters sent without a value
        // MUST be treated as if they were omitted"), so oauthlib refuses the request as
        // malformed ("Missing token parameter."). Nothing is revoked either way, which is all
        // the model's `revoked` of a garbage token promises.
        (Op::Revoke { .. }, 400) if empty_token && error == "invalid_request" => Answer::Done,
        (Op::AdminDisable { .. } | Op::AdminEnable { .. } | Op::AdminUnlock { .. }, 204) => {
            Answer::Done
        }
        (Op::AdminDisable { .. } | Op::AdminEnable { .. } | Op::AdminUnlock { .. }, 404) => {
            Answer::Rejected(Reason::UnknownUser)
        }
        _ => Answer::Violation(format!("{:?} answered {status} {body}", op.kind())),
    }
}
