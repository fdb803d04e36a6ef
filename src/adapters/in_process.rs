//! The in-process adapter: `auth::Service` with a manual clock, a seeded RNG, the in-process
//! OTP provider and either store. `Deploy` and `Restart` build a new service over the same store
//! (for SQLite, the database file is reopened, as a restarted process would). Concurrent branches
//! run either under a seeded scheduler at the service's interleaving points (deterministic,
//! replayable) or on a multi-threaded runtime (real).

use crate::adapter::{
    Adapter, AdapterError, Answer, Caller, Capabilities, Control, Instance, Prepare, Request,
};
use crate::model::{self, Aal, Grant, Op, Params, Profile, Reason, TokenReason, Upstream, Version};
use auth::{
    Argon2Cost, AuthError, Config, Deps, GrantError, LoginOutcome, LogoutScope, ManualClock,
    MemoryOtpProvider, MemoryStore, OtpMode, Protocol, Service, SqliteStore, Store, TokenError,
    TokenRng, Tokens,
};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Where the service keeps its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    Sqlite,
}

/// The clock the service starts at (the model counts from 0; only differences matter).
pub const CLOCK_START: u64 = 1_700_000_000;

/// A flaw of the catalogue to switch on in the service (uninhabited without the `flaws`
/// feature).
#[cfg(feature = "flaws")]
pub type Flaw = auth::flaws::Flaw;
#[cfg(not(feature = "flaws"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {}

/// The `auth` service in this process, over `store`, with `flaw` switched on (if any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InProcessAdapter {
    pub store: StoreKind,
    pub flaw: Option<Flaw>,
}

impl Adapter for InProcessAdapter {
    fn describe(&self) -> String {
        let store = match self.store {
            StoreKind::Memory => "memory",
            StoreKind::Sqlite => "sqlite",
        };
        match self.flaw {
            None => format!("--store {store}"),
            Some(flaw) => format!("--store {store} --flaw {}", flaw_id(&flaw)),
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }

    fn start(&self, profile: &Profile, seed: u64) -> Result<Box<dyn Instance>, AdapterError> {
        Ok(Box::new(InProcess::with_flaw(
            self.store,
            profile.params,
            seed,
            self.flaw,
        )?))
    }
}

/// The catalogue id of a flaw.
#[cfg(feature = "flaws")]
pub fn flaw_id(flaw: &Flaw) -> &'static str {
    flaw.id()
}

#[cfg(not(feature = "flaws"))]
pub fn flaw_id(flaw: &Flaw) -> &'static str {
    match *flaw {}
}

/// The seeded scheduler the service awaits at its interleaving points (idle unless armed).
#[derive(Default)]
struct Scheduler {
    rng: Mutex<Option<rand_chacha::ChaCha20Rng>>,
}

impl Scheduler {
    fn arm(&self, seed: Option<u64>) {
        use rand_core::SeedableRng;
        *self.rng.lock().unwrap_or_else(|p| p.into_inner()) =
            seed.map(rand_chacha::ChaCha20Rng::seed_from_u64);
    }
}

impl auth::interleave::Interleave for Scheduler {
    fn point(&self, _at: &'static str) -> auth::interleave::PointFuture<'_> {
        use rand_core::RngCore;
        let yields = match self.rng.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            Some(rng) => rng.next_u32() % 4,
            None => 0,
        };
        Box::pin(async move {
            for _ in 0..yields {
                tokio::task::yield_now().await;
            }
        })
    }
}

/// A running `auth::Service` and everything around it.
pub struct InProcess {
    rt: tokio::runtime::Runtime,
    params: Params,
    store_kind: StoreKind,
    store: Arc<dyn Store>,
    dir: Option<tempfile::TempDir>,
    clock: ManualClock,
    rng: Arc<TokenRng>,
    otp: Arc<MemoryOtpProvider>,
    service: Arc<Service>,
    scheduler: Arc<Scheduler>,
    flaw: Option<Flaw>,
    /// The version deployed last (the adapter's own record, not the service's word for it).
    version: Version,
    /// Refresh tokens handed out so far (a grace retry hands back an old one).
    refresh_seen: HashSet<String>,
    destinations: Arc<AtomicU64>,
    /// The last answer as the HTTP layer would send it: status and JSON body.
    last_answer: Option<(u16, serde_json::Value)>,
}

impl InProcess {
    /// A fresh service with an empty store, drawing tokens from `seed`.
    pub fn new(store_kind: StoreKind, params: Params, seed: u64) -> Result<Self, AdapterError> {
        Self::with_flaw(store_kind, params, seed, None)
    }

    /// As [`InProcess::new`], with a catalogue flaw switched on in the service.
    pub fn with_flaw(
        store_kind: StoreKind,
        params: Params,
        seed: u64,
        flaw: Option<Flaw>,
    ) -> Result<Self, AdapterError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| AdapterError::Unavailable(format!("cannot build a runtime: {e}")))?;
        let (store, dir) = open_store(store_kind, None)?;
        let clock = ManualClock::new(CLOCK_START);
        let rng = Arc::new(TokenRng::seeded(seed));
        let otp = Arc::new(MemoryOtpProvider::new());
        let scheduler = Arc::new(Scheduler::default());
        let service = build(
            &params,
            Version::V1,
            flaw,
            &scheduler,
            &store,
            &clock,
            &rng,
            &otp,
        )?;
        Ok(InProcess {
            rt,
            params,
            store_kind,
            store,
            dir,
            clock,
            rng,
            otp,
            service,
            scheduler,
            flaw,
            version: Version::V1,
            refresh_seen: HashSet::new(),
            destinations: Arc::new(AtomicU64::new(0)),
            last_answer: None,
        })
    }

    /// The raw answer to the last request (status and JSON body, as the HTTP API would shape
    /// them), for transcripts; `None` for operations that are not requests (tick, deploy, …).
    pub fn last_answer(&self) -> Option<&(u16, serde_json::Value)> {
        self.last_answer.as_ref()
    }

    fn redeploy(&mut self, version: Version) -> Result<(), AdapterError> {
        if self.store_kind == StoreKind::Sqlite {
            let (store, _) = open_store(self.store_kind, self.dir.as_ref())?;
            self.store = store;
        }
        self.version = version;
        self.service = build(
            &self.params,
            version,
            self.flaw,
            &self.scheduler,
            &self.store,
            &self.clock,
            &self.rng,
            &self.otp,
        )?;
        let running = match self.service.config().protocol {
            Protocol::V1 => Version::V1,
            Protocol::V2 => Version::V2,
        };
        if running != version {
            return Err(AdapterError::Violation(format!(
                "deployed {version:?}, the service runs {running:?}"
            )));
        }
        Ok(())
    }

    /// PROTOCOL.md rule 8: a refresh token issued now is in the deployed version's format (V1
    /// opaque `rt_…`, V2 structured `v2.…`). Grace retries hand back an earlier token and are
    /// exempt.
    fn check_format(&mut self, answer: Answer) -> Answer {
        let Answer::Tokens { refresh, .. } = &answer else {
            return answer;
        };
        if !self.refresh_seen.insert(refresh.clone()) {
            return answer;
        }
        let ok = match self.version {
            Version::V1 => refresh.starts_with("rt_"),
            Version::V2 => refresh.starts_with("v2."),
        };
        if ok {
            answer
        } else {
            Answer::Violation(format!(
                "a new refresh token under {:?} is not in its format",
                self.version
            ))
        }
    }
}

impl Instance for InProcess {
    fn call(&mut self, request: &Request) -> Answer {
        let (svc, otp, destinations) = (&self.service, &self.otp, &self.destinations);
        let rt = &self.rt;
        // A panic in the service is a finding, not a crash of the harness.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(call(svc, otp, destinations, request))
        }));
        let (answer, transcript) = match result {
            Ok(done) => done,
            Err(panic) => (
                Answer::Failed(format!("panicked: {}", panic_message(&panic))),
                None,
            ),
        };
        self.last_answer = transcript;
        self.check_format(answer)
    }

    fn control(&mut self, control: &Control) -> Result<(), AdapterError> {
        self.last_answer = None;
        match control {
            Control::Tick(seconds) => {
                self.clock.advance(*seconds);
            }
            Control::Deploy(version) => self.redeploy(*version)?,
            Control::Restart => self.redeploy(self.version)?,
            Control::Upstream(mode) => self.otp.set_mode(match mode {
                Upstream::Up => OtpMode::Up,
                Upstream::Down => OtpMode::Down,
                Upstream::Garbage => OtpMode::Garbage,
            }),
        }
        Ok(())
    }

    fn caller(&self) -> Option<Arc<dyn Caller>> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .ok()?;
        Some(Arc::new(ThreadCaller {
            rt,
            service: self.service.clone(),
            otp: self.otp.clone(),
            destinations: self.destinations.clone(),
        }))
    }

    fn run_scheduled(
        &mut self,
        branches: &[Vec<Op>],
        suffix: &[Op],
        schedule_seed: u64,
        prepare: &Prepare<'_>,
    ) -> Option<Vec<crate::concurrent::Event>> {
        let (svc, otp, destinations) = (&self.service, &self.otp, &self.destinations);
        self.scheduler.arm(Some(schedule_seed));
        let events = crate::concurrent::record(
            &self.rt,
            branches,
            suffix,
            |op: Op, earlier: Vec<Answer>| {
                let request = prepare(&op, &earlier);
                async move { call(svc, otp, destinations, &request).await.0 }
            },
        );
        self.scheduler.arm(None);
        Some(events)
    }
}

/// Calls from several threads: the same service on a multi-threaded runtime.
struct ThreadCaller {
    rt: tokio::runtime::Runtime,
    service: Arc<Service>,
    otp: Arc<MemoryOtpProvider>,
    destinations: Arc<AtomicU64>,
}

impl Caller for ThreadCaller {
    fn call(&self, request: &Request) -> Answer {
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.rt
                .block_on(call(&self.service, &self.otp, &self.destinations, request))
        }));
        match run {
            Ok((answer, _)) => answer,
            Err(panic) => Answer::Failed(format!("panicked: {}", panic_message(&panic))),
        }
    }
}

/// One protocol call against the service: its answer, and the status and JSON body the HTTP
/// layer would send (for transcripts).
async fn call(
    svc: &Service,
    otp: &MemoryOtpProvider,
    destinations: &AtomicU64,
    request: &Request,
) -> (Answer, Option<(u16, serde_json::Value)>) {
    let token = request.token.as_deref().unwrap_or_default();
    let tokens = |t: &Tokens| Answer::Tokens {
        session_id: Some(t.session_id.clone()),
        access: t.access_token.clone(),
        refresh: t.refresh_token.clone(),
        aal: aal(t.aal),
    };
    match &request.op {
        Op::Register {
            user,
            password,
            mfa,
        } => {
            let destination =
                mfa.then(|| format!("otp:{}", destinations.fetch_add(1, Ordering::SeqCst) + 1));
            let r = svc.register(user, password, destination.as_deref()).await;
            answer(r, 201, |name| {
                (Answer::Registered, serde_json::json!({ "username": name }))
            })
        }
        Op::Login {
            user,
            password,
            device,
        } => {
            let r = svc.login(user, password, &format!("device-{device}")).await;
            match r {
                Ok(LoginOutcome::MfaRequired { challenge_id }) => {
                    let code = otp.last_sent().map(|(_, code)| code);
                    let body = serde_json::json!({ "challenge_id": challenge_id });
                    (
                        Answer::Challenge {
                            id: challenge_id,
                            code,
                        },
                        Some((202, body)),
                    )
                }
                Ok(LoginOutcome::Issued(t)) => answer(Ok(t), 200, |t| (tokens(&t), json(&t))),
                Err(e) => answer::<Tokens>(Err(e), 200, |_| unreachable!()),
            }
        }
        Op::VerifyMfa { .. } => {
            let code = request.code.as_deref().unwrap_or_default();
            let r = svc.verify_mfa(token, code).await;
            answer(r, 200, |t| (tokens(&t), json(&t)))
        }
        Op::Refresh { .. } => answer(svc.refresh(token).await, 200, |t| (tokens(&t), json(&t))),
        Op::Access { .. } | Op::Sensitive { .. } => {
            let r = if matches!(request.op, Op::Access { .. }) {
                svc.access(token).await
            } else {
                svc.sensitive(token).await
            };
            answer(r, 200, |p| {
                let body = json(&p);
                (
                    Answer::Principal {
                        username: p.username,
                        aal: aal(p.aal),
                        session_id: Some(p.session_id),
                    },
                    body,
                )
            })
        }
        Op::Reauthenticate { password, .. } => {
            answer(svc.reauthenticate(token, password).await, 200, done)
        }
        Op::Logout { scope, .. } => {
            let scope = match scope {
                model::Scope::Local => LogoutScope::Local,
                model::Scope::Others => LogoutScope::Others,
                model::Scope::Global => LogoutScope::Global,
            };
            answer(svc.logout(token, scope).await, 204, done)
        }
        Op::Revoke { .. } => answer(svc.revoke(token).await, 200, done),
        Op::ChangePassword { old, new, .. } => {
            answer(svc.change_password(token, old, new).await, 200, |t| {
                (tokens(&t), json(&t))
            })
        }
        Op::AdminDisable { user } => answer(svc.admin_disable(user).await, 204, done),
        Op::AdminEnable { user } => answer(svc.admin_enable(user).await, 204, done),
        Op::AdminUnlock { user } => answer(svc.admin_unlock(user).await, 204, done),
        Op::Tick { .. } | Op::Deploy { .. } | Op::Restart | Op::UpstreamFault { .. } => (
            Answer::Failed(format!("`{}` is not a request", request.op)),
            None,
        ),
    }
}

fn json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}

fn done(_: ()) -> (Answer, serde_json::Value) {
    (Answer::Done, serde_json::Value::Null)
}

/// The answer to a call, and what the HTTP layer would send: `status` and the value's JSON on
/// success, the error's status and `{error, reason?}` otherwise.
fn answer<T>(
    result: Result<T, AuthError>,
    status: u16,
    ok: impl FnOnce(T) -> (Answer, serde_json::Value),
) -> (Answer, Option<(u16, serde_json::Value)>) {
    match result {
        Ok(value) => {
            let (answer, body) = ok(value);
            (answer, Some((status, body)))
        }
        Err(e) => {
            let mut body = serde_json::json!({ "error": e.code() });
            if let Some(reason) = e.reason() {
                body["reason"] = reason.into();
            }
            let answer = match reason(&e) {
                Ok(r) => Answer::Rejected(r),
                Err(m) => Answer::Failed(m),
            };
            (answer, Some((auth::http::status_of(&e).as_u16(), body)))
        }
    }
}

/// The service's configuration for the model's numbers at `version`.
pub fn config(params: &Params, version: Version) -> Config {
    let mut c = Config::for_tests();
    c.access_ttl = params.access_ttl;
    c.idle_timeout = params.idle_timeout;
    c.absolute_timeout = params.absolute_timeout;
    c.refresh_grace = params.refresh_grace;
    c.lockout_threshold = params.lockout_threshold;
    c.lockout_duration = params.lockout_duration;
    c.mfa_challenge_ttl = params.mfa_challenge_ttl;
    c.mfa_max_attempts = params.mfa_max_attempts;
    c.step_up_window = params.step_up_window;
    c.protocol = match version {
        Version::V1 => Protocol::V1,
        Version::V2 => Protocol::V2,
    };
    c.argon2 = Argon2Cost::CHEAP;
    // The harness runs the same passwords and salts again and again: argon2id is a pure
    // function, remembering it changes no answer.
    c.memoize_hashes = true;
    c
}

#[allow(clippy::too_many_arguments)] // every part of a service, handed over once
fn build(
    params: &Params,
    version: Version,
    flaw: Option<Flaw>,
    scheduler: &Arc<Scheduler>,
    store: &Arc<dyn Store>,
    clock: &ManualClock,
    rng: &Arc<TokenRng>,
    otp: &Arc<MemoryOtpProvider>,
) -> Result<Arc<Service>, AdapterError> {
    #[allow(unused_mut)] // assigned only with the `flaws` feature
    let mut config = config(params, version);
    #[cfg(feature = "flaws")]
    {
        config.flaw = flaw;
    }
    #[cfg(not(feature = "flaws"))]
    let _ = flaw;
    Service::new(
        config,
        Deps {
            store: store.clone(),
            clock: Arc::new(clock.clone()),
            rng: rng.clone(),
            otp: otp.clone(),
        },
    )
    .map(|s| Arc::new(s.with_interleave(scheduler.clone())))
    .map_err(|e| AdapterError::Unavailable(e.to_string()))
}

fn open_store(
    kind: StoreKind,
    existing: Option<&tempfile::TempDir>,
) -> Result<(Arc<dyn Store>, Option<tempfile::TempDir>), AdapterError> {
    let fail = AdapterError::Unavailable;
    match kind {
        StoreKind::Memory => Ok((Arc::new(MemoryStore::new()), None)),
        StoreKind::Sqlite => {
            let (path, dir) = match existing {
                Some(dir) => (dir.path().join("auth.db"), None),
                None => {
                    let dir = tempfile::tempdir().map_err(|e| fail(e.to_string()))?;
                    (dir.path().join("auth.db"), Some(dir))
                }
            };
            let store = SqliteStore::open(&path).map_err(|e| fail(e.to_string()))?;
            Ok((Arc::new(store), dir))
        }
    }
}

fn aal(a: auth::Aal) -> Aal {
    match a {
        auth::Aal::Aal1 => Aal::Aal1,
        auth::Aal::Aal2 => Aal::Aal2,
    }
}

/// The service's rejection in the model's words (a store error is a service failure).
pub fn reason(e: &AuthError) -> Result<Reason, String> {
    let token = |t: &TokenError| match t {
        TokenError::Unknown => TokenReason::Unknown,
        TokenError::Expired => TokenReason::Expired,
        TokenError::Revoked => TokenReason::Revoked,
    };
    Ok(match e {
        AuthError::UsernameTaken => Reason::UsernameTaken,
        AuthError::InvalidUsername => Reason::InvalidUsername,
        AuthError::WeakPassword => Reason::WeakPassword,
        AuthError::InvalidCredentials => Reason::InvalidCredentials,
        AuthError::Locked => Reason::Locked,
        AuthError::Disabled => Reason::Disabled,
        AuthError::UpstreamUnavailable => Reason::UpstreamUnavailable,
        AuthError::InvalidCode => Reason::InvalidCode,
        AuthError::ChallengeExpired => Reason::ChallengeExpired,
        AuthError::InvalidGrant(g) => Reason::InvalidGrant(match g {
            GrantError::Unknown => Grant::Unknown,
            GrantError::Expired => Grant::Expired,
            GrantError::Revoked => Grant::Revoked,
            GrantError::Reuse => Grant::Reuse,
        }),
        AuthError::Unauthorized(t) => Reason::Unauthorized(token(t)),
        AuthError::StepUpRequired => Reason::StepUpRequired,
        AuthError::UnknownUser => Reason::UnknownUser,
        AuthError::Store(e) => return Err(e.to_string()),
        other => return Err(format!("unexpected error {other:?}")),
    })
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic".into())
}
