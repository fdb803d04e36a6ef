//! minisession: a small session service that is *not* this repository's `auth` — the kind of
//! service a user points the harness at. Its own HTTP API (OAuth-flavoured), its own protocol
//! choices (profile.toml), an in-memory store, a clock the tests can move, and one realistic
//! bug (switched on with [`Variant::Buggy`]): revoking a refresh token leaves the access token
//! issued beside it valid — RFC 7009 says a server *may* revoke the access tokens of the same
//! grant, minisession's profile says it does, and one refactoring later it did not.
//!
//! ```text
//! POST /users          {name, password}                     201 | 409 {error:taken} | 422 {error:invalid_name|weak_password}
//! POST /token          {grant_type:"password", name, password}   200 {access_token, refresh_token, expires_in} | 401 {error:invalid_grant}
//! POST /token          {grant_type:"refresh_token", refresh_token}  200 (same shape) | 400 {error:invalid_grant}
//! GET  /me             Bearer                                200 {name} | 401 {error:invalid_token}
//! POST /logout         Bearer                                204 | 401
//! POST /revoke         {token}                               200, always
//! POST /__test/advance {seconds}                             204 (the test clock)
//! ```

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use precis_core::profile::PrecisFastInvocation;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Which build of minisession runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Fixed,
    /// Revoking a refresh token does not revoke its access token.
    Buggy,
}

/// The numbers minisession is configured with (seconds, counts).
#[derive(Debug, Clone, Copy)]
pub struct Numbers {
    pub access_ttl: u64,
    pub idle: u64,
    pub absolute: u64,
    pub grace: u64,
    pub lock_after: u32,
    pub lock_for: u64,
}

struct User {
    password: String,
    failures: u32,
    locked_until: u64,
}

struct Session {
    user: String,
    created: u64,
    last_active: u64,
    /// The current refresh token, and the one before it with when it was replaced.
    refresh: String,
    previous: Option<(String, u64)>,
    /// The access token issued with the current refresh token (a grace retry returns it).
    access: String,
    refresh_revoked: bool,
    ended: bool,
}

struct Access {
    session: usize,
    issued: u64,
    /// The refresh token it was issued beside.
    refresh: String,
    revoked: bool,
}

struct Inner {
    now: u64,
    next: u64,
    users: HashMap<String, User>,
    sessions: Vec<Session>,
    access: HashMap<String, Access>,
    /// Every refresh token ever issued, to its session.
    refresh: HashMap<String, usize>,
}

#[derive(Clone)]
struct App {
    inner: Arc<Mutex<Inner>>,
    numbers: Numbers,
    variant: Variant,
}

/// A running minisession; dropping it stops the server.
pub struct Server {
    pub base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Serves minisession on 127.0.0.1 (a free port) from a background thread until the returned
/// [`Server`] is dropped.
pub fn serve(numbers: Numbers, variant: Variant) -> std::io::Result<Server> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = App {
        inner: Arc::new(Mutex::new(Inner {
            now: 1_000,
            next: 0,
            users: HashMap::new(),
            sessions: Vec::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
        })),
        numbers,
        variant,
    };
    let router = Router::new()
        .route("/users", post(register))
        .route("/token", post(token))
        .route("/me", get(me))
        .route("/logout", post(logout))
        .route("/revoke", post(revoke))
        .route("/__test/advance", post(advance))
        .with_state(app);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
    });
    Ok(Server { base, _stop: stop })
}

type Reply = (StatusCode, Json<Value>);

fn error(status: StatusCode, error: &str) -> Reply {
    (status, Json(json!({ "error": error })))
}

fn name_of(input: &str) -> Option<String> {
    let name = precis_profiles::UsernameCaseMapped::enforce(input)
        .ok()?
        .into_owned();
    (!name.is_empty() && name.len() <= 256).then_some(name)
}

fn password_of(input: &str) -> Option<String> {
    if input.len() > 512 {
        return None;
    }
    let p = precis_profiles::OpaqueString::enforce(input)
        .ok()?
        .into_owned();
    (8..=128).contains(&p.chars().count()).then_some(p)
}

async fn register(State(app): State<App>, Json(body): Json<Value>) -> Reply {
    let Some(name) = body["name"].as_str().and_then(name_of) else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_name");
    };
    let Some(password) = body["password"].as_str().and_then(password_of) else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "weak_password");
    };
    let mut s = app.inner.lock().unwrap();
    if s.users.contains_key(&name) {
        return error(StatusCode::CONFLICT, "taken");
    }
    s.users.insert(
        name,
        User {
            password,
            failures: 0,
            locked_until: 0,
        },
    );
    (StatusCode::CREATED, Json(json!({})))
}

impl Inner {
    fn token(&mut self, prefix: &str) -> String {
        self.next += 1;
        // Unguessable enough for a test service; a real one draws from the OS.
        format!(
            "{prefix}{:016x}",
            self.next.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        )
    }

    /// A session is alive unless ended or past its idle or absolute timeout.
    fn alive(&self, i: usize, n: &Numbers) -> bool {
        let s = &self.sessions[i];
        !s.ended && self.now < s.last_active + n.idle && self.now < s.created + n.absolute
    }

    fn issue(&mut self, session: usize) -> Value {
        let access = self.token("a_");
        let refresh = self.sessions[session].refresh.clone();
        self.access.insert(
            access.clone(),
            Access {
                session,
                issued: self.now,
                refresh: refresh.clone(),
                revoked: false,
            },
        );
        self.sessions[session].access = access.clone();
        json!({ "access_token": access, "refresh_token": refresh, "expires_in": 0 })
    }
}

async fn token(State(app): State<App>, Json(body): Json<Value>) -> Reply {
    let n = app.numbers;
    let mut s = app.inner.lock().unwrap();
    let now = s.now;
    match body["grant_type"].as_str() {
        Some("password") => {
            let refused = error(StatusCode::UNAUTHORIZED, "invalid_grant");
            let Some(name) = body["name"].as_str().and_then(name_of) else {
                return refused;
            };
            let given = body["password"].as_str().and_then(password_of);
            let Some(user) = s.users.get_mut(&name) else {
                return refused;
            };
            // A lock answers like a wrong password (the profile's choice).
            if now < user.locked_until {
                return refused;
            }
            if user.locked_until != 0 {
                user.locked_until = 0;
                user.failures = 0;
            }
            if given.as_deref() != Some(user.password.as_str()) {
                user.failures += 1;
                if user.failures >= n.lock_after {
                    user.locked_until = now + n.lock_for;
                    user.failures = 0;
                }
                return refused;
            }
            user.failures = 0;
            let refresh = s.token("r_");
            s.sessions.push(Session {
                user: name,
                created: now,
                last_active: now,
                refresh: refresh.clone(),
                previous: None,
                access: String::new(),
                refresh_revoked: false,
                ended: false,
            });
            let i = s.sessions.len() - 1;
            s.refresh.insert(refresh, i);
            let mut tokens = s.issue(i);
            tokens["expires_in"] = n.access_ttl.into();
            (StatusCode::OK, Json(tokens))
        }
        Some("refresh_token") => {
            let refused = error(StatusCode::BAD_REQUEST, "invalid_grant");
            let presented = body["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let Some(&i) = s.refresh.get(&presented) else {
                return refused;
            };
            if !s.alive(i, &n) || s.sessions[i].refresh_revoked {
                return refused;
            }
            let session = &s.sessions[i];
            let tokens = if session.refresh == presented {
                // Rotate.
                let next = s.token("r_");
                let session = &mut s.sessions[i];
                session.previous = Some((presented, now));
                session.refresh = next.clone();
                session.last_active = now;
                s.refresh.insert(next, i);
                s.issue(i)
            } else {
                match &session.previous {
                    // A retry inside the grace window gets the very same pair again.
                    Some((prev, at)) if *prev == presented && now < at + n.grace => {
                        let tokens = json!({
                            "access_token": session.access,
                            "refresh_token": session.refresh,
                        });
                        s.sessions[i].last_active = now;
                        tokens
                    }
                    // Reuse is refused; the session lives on (the profile's choice).
                    _ => return refused,
                }
            };
            let mut tokens = tokens;
            tokens["expires_in"] = n.access_ttl.into();
            (StatusCode::OK, Json(tokens))
        }
        _ => error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
    }
}

/// The session of a valid bearer token.
fn authorize(s: &Inner, headers: &HeaderMap, n: &Numbers) -> Option<usize> {
    let token = headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    let a = s.access.get(token)?;
    (!a.revoked && s.now < a.issued + n.access_ttl && s.alive(a.session, n)).then_some(a.session)
}

async fn me(State(app): State<App>, headers: HeaderMap) -> Reply {
    let mut s = app.inner.lock().unwrap();
    let Some(i) = authorize(&s, &headers, &app.numbers) else {
        return error(StatusCode::UNAUTHORIZED, "invalid_token");
    };
    let now = s.now;
    s.sessions[i].last_active = now;
    (StatusCode::OK, Json(json!({ "name": s.sessions[i].user })))
}

async fn logout(State(app): State<App>, headers: HeaderMap) -> Reply {
    let mut s = app.inner.lock().unwrap();
    let Some(i) = authorize(&s, &headers, &app.numbers) else {
        return error(StatusCode::UNAUTHORIZED, "invalid_token");
    };
    s.sessions[i].ended = true;
    (StatusCode::NO_CONTENT, Json(Value::Null))
}

async fn revoke(State(app): State<App>, Json(body): Json<Value>) -> Reply {
    let token = body["token"].as_str().unwrap_or_default().to_owned();
    let mut s = app.inner.lock().unwrap();
    if let Some(a) = s.access.get_mut(&token) {
        a.revoked = true;
    } else if let Some(&i) = s.refresh.get(&token) {
        // Only the current refresh token still grants anything.
        if s.sessions[i].refresh == token {
            s.sessions[i].refresh_revoked = true;
            if app.variant == Variant::Fixed {
                // …and so do the access tokens issued beside it.
                for a in s.access.values_mut().filter(|a| a.refresh == token) {
                    a.revoked = true;
                }
            }
        }
    }
    (StatusCode::OK, Json(json!({})))
}

async fn advance(State(app): State<App>, Json(body): Json<Value>) -> StatusCode {
    app.inner.lock().unwrap().now += body["seconds"].as_u64().unwrap_or(0);
    StatusCode::NO_CONTENT
}
