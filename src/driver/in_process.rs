//! The in-process driver: `auth::Service` with a manual clock, a seeded RNG, the in-process OTP
//! provider and either store. `Deploy` and `Restart` build a new service over the same store
//! (for SQLite, the database file is reopened, as a restarted process would).

use super::handles::{Handles, Issued};
use super::{Driver, DriverError};
use crate::model::{
    self, Aal, Code, Grant, Op, Outcome, Params, Reason, TokenReason, Upstream, Version,
};
use auth::{
    Argon2Cost, AuthError, Config, Deps, GrantError, LoginOutcome, LogoutScope, ManualClock,
    MemoryOtpProvider, MemoryStore, OtpMode, Protocol, Service, SqliteStore, Store, TokenError,
    TokenRng, Tokens,
};
use std::sync::Arc;

/// Where the service keeps its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    Sqlite,
}

/// The clock the service starts at (the model counts from 0; only differences matter).
pub const CLOCK_START: u64 = 1_700_000_000;

/// A DESIGN §5 flaw to switch on in the service (uninhabited without the `flaws` feature).
#[cfg(feature = "flaws")]
pub type Flaw = auth::flaws::Flaw;
#[cfg(not(feature = "flaws"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {}

/// How concurrent branches run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One thread; at every interleaving point of the service a seeded scheduler decides how
    /// often the request yields, so the schedule seed replays the interleaving exactly.
    Deterministic,
    /// A multi-threaded runtime: real parallelism, not replayable.
    Real,
}

/// The seeded scheduler the service awaits at its interleaving points (idle unless armed).
#[derive(Default)]
struct Scheduler {
    rng: std::sync::Mutex<Option<rand_chacha::ChaCha20Rng>>,
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

pub struct InProcess {
    rt: tokio::runtime::Runtime,
    sut: Sut,
}

/// The system under test and the driver's bookkeeping (apart from the runtime, so the runtime
/// can drive a future that borrows it).
struct Sut {
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
    /// The version deployed last (the driver's own record, not the service's word for it).
    version: Version,
    handles: Handles,
    /// The last answer as the HTTP layer would send it: status and JSON body.
    last_answer: Option<(u16, serde_json::Value)>,
}

impl InProcess {
    /// A fresh service with an empty store, drawing tokens from `seed`.
    pub fn new(store_kind: StoreKind, params: Params, seed: u64) -> Result<Self, DriverError> {
        Self::with_flaw(store_kind, params, seed, None)
    }

    /// As [`InProcess::new`], with a DESIGN §5 flaw switched on in the service.
    pub fn with_flaw(
        store_kind: StoreKind,
        params: Params,
        seed: u64,
        flaw: Option<Flaw>,
    ) -> Result<Self, DriverError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| DriverError::Service(format!("cannot build a runtime: {e}")))?;
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
            sut: Sut {
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
                handles: Handles::default(),
                last_answer: None,
            },
        })
    }

    /// The raw answer to the last operation (status and JSON body, as the HTTP API would shape
    /// them), for transcripts; `None` for operations that are not requests (tick, deploy, …).
    pub fn last_answer(&self) -> Option<&(u16, serde_json::Value)> {
        self.sut.last_answer.as_ref()
    }

    /// The handles seen so far (for renderers and reports).
    pub fn handles(&self) -> &Handles {
        &self.sut.handles
    }

    /// Runs `branches` concurrently against the service as it is now, then `suffix`, and
    /// records every operation's raw answer with its logical call and return times.
    pub fn run_concurrent(
        &mut self,
        branches: &[Vec<Op>],
        suffix: &[Op],
        mode: Mode,
        schedule_seed: u64,
    ) -> Result<Vec<crate::concurrent::Event>, DriverError> {
        let (svc, otp) = (self.sut.service.clone(), self.sut.otp.clone());
        let handles = Arc::new(self.sut.handles.clone());
        let call = move |op: Op, earlier: Vec<crate::concurrent::Raw>| {
            let (svc, otp, handles) = (svc.clone(), otp.clone(), handles.clone());
            async move { raw_call(&svc, &otp, &op, &handles, &earlier).await }
        };
        Ok(match mode {
            Mode::Deterministic => {
                self.sut.scheduler.arm(Some(schedule_seed));
                let events = crate::concurrent::record(&self.rt, branches, suffix, call);
                self.sut.scheduler.arm(None);
                events
            }
            Mode::Real => {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .build()
                    .map_err(|e| DriverError::Service(e.to_string()))?;
                crate::concurrent::record(&rt, branches, suffix, call)
            }
        })
    }
}

/// One operation against the service, its answer kept raw (concrete tokens and ids).
async fn raw_call(
    svc: &Service,
    otp: &MemoryOtpProvider,
    op: &Op,
    handles: &Handles,
    earlier: &[crate::concurrent::Raw],
) -> crate::concurrent::Raw {
    use crate::concurrent::Raw;
    let render = |t: &model::Token| crate::concurrent::render_local(t, handles, earlier);
    let tokens = |t: Tokens| Raw::Tokens {
        session_id: t.session_id,
        access: t.access_token,
        refresh: t.refresh_token,
        aal: aal(t.aal),
    };
    let done = |r: Result<(), AuthError>| r.map(|_| Raw::Done);
    let result = match op {
        Op::Register {
            user,
            password,
            mfa,
        } => {
            let destination = mfa.then(|| "otp:branch".to_owned());
            svc.register(user, password, destination.as_deref())
                .await
                .map(|_| Raw::Registered)
        }
        Op::Login {
            user,
            password,
            device,
        } => svc
            .login(user, password, &format!("device-{device}"))
            .await
            .map(|o| match o {
                LoginOutcome::Issued(t) => tokens(t),
                LoginOutcome::MfaRequired { challenge_id } => {
                    let code = otp.last_sent().map(|(_, c)| c);
                    Raw::Challenge {
                        id: challenge_id,
                        code,
                    }
                }
            }),
        Op::VerifyMfa { challenge, code } => {
            let right = handles.code(challenge).unwrap_or("000000").to_owned();
            let code = if *code == Code::Right {
                right
            } else {
                wrong_code(&right)
            };
            svc.verify_mfa(&render(challenge), &code).await.map(tokens)
        }
        Op::Refresh { token } => svc.refresh(&render(token)).await.map(tokens),
        Op::Access { token } | Op::Sensitive { token } => {
            let t = render(token);
            let r = if matches!(op, Op::Access { .. }) {
                svc.access(&t).await
            } else {
                svc.sensitive(&t).await
            };
            r.map(|p| Raw::Principal {
                username: p.username,
                aal: aal(p.aal),
                session_id: p.session_id,
            })
        }
        Op::Reauthenticate { token, password } => {
            done(svc.reauthenticate(&render(token), password).await)
        }
        Op::Logout { token, scope } => {
            let scope = match scope {
                model::Scope::Local => LogoutScope::Local,
                model::Scope::Others => LogoutScope::Others,
                model::Scope::Global => LogoutScope::Global,
            };
            done(svc.logout(&render(token), scope).await)
        }
        Op::Revoke { token } => done(svc.revoke(&render(token)).await),
        Op::ChangePassword { token, old, new } => svc
            .change_password(&render(token), old, new)
            .await
            .map(tokens),
        Op::AdminDisable { user } => done(svc.admin_disable(user).await),
        Op::AdminEnable { user } => done(svc.admin_enable(user).await),
        Op::AdminUnlock { user } => done(svc.admin_unlock(user).await),
        Op::Tick { .. } | Op::Deploy { .. } | Op::Restart | Op::UpstreamFault { .. } => {
            return Raw::Failed(format!("`{op}` cannot run in a concurrent branch"));
        }
    };
    match result {
        Ok(raw) => raw,
        Err(e) => match reason(&e) {
            Ok(r) => Raw::Rejected(r),
            Err(e) => Raw::Failed(e.to_string()),
        },
    }
}

impl Sut {
    fn redeploy(&mut self, version: Version) -> Result<(), DriverError> {
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
            return Err(DriverError::Violation(format!(
                "deployed {version:?}, the service runs {running:?}"
            )));
        }
        Ok(())
    }

    async fn run(&mut self, op: &Op) -> Result<Outcome, DriverError> {
        let svc = &self.service;
        let h = &mut self.handles;
        let version = self.version;
        let raw = &mut self.last_answer;
        *raw = None;
        Ok(match op {
            Op::Register {
                user,
                password,
                mfa,
            } => {
                let destination = mfa.then(|| format!("otp:{}", h.challenge_count() + 1));
                answer(
                    raw,
                    svc.register(user, password, destination.as_deref())
                        .await
                        .map(|username| serde_json::json!({ "username": username })),
                    |_| Ok(Outcome::Registered),
                )?
            }
            Op::Login {
                user,
                password,
                device,
            } => {
                let device = format!("device-{device}");
                let otp = &self.otp;
                answer(raw, svc.login(user, password, &device).await, |o| match o {
                    LoginOutcome::Issued(t) => {
                        check_format(h, &t, version)?;
                        issued(h, &t)
                    }
                    LoginOutcome::MfaRequired { challenge_id } => {
                        let code = otp.last_sent().map(|(_, code)| code);
                        let challenge = h.new_challenge(&challenge_id, code)?;
                        Ok(Outcome::MfaRequired { challenge })
                    }
                })?
            }
            Op::VerifyMfa { challenge, code } => {
                let right = h.code(challenge).unwrap_or("000000").to_owned();
                let presented = match code {
                    Code::Right => right,
                    Code::Wrong => wrong_code(&right),
                };
                let id = h.render(challenge);
                answer(raw, svc.verify_mfa(&id, &presented).await, |t| {
                    check_format(h, &t, version)?;
                    issued(h, &t)
                })?
            }
            Op::Refresh { token } => {
                let token = h.render(token);
                answer(raw, svc.refresh(&token).await, |t| {
                    check_format(h, &t, version)?;
                    let (session, generation) = h.rotated(view(&t))?;
                    Ok(Outcome::Refreshed {
                        session,
                        generation,
                    })
                })?
            }
            Op::Access { token } => {
                let token = h.render(token);
                answer(raw, svc.access(&token).await, |p| authorized(h, p))?
            }
            Op::Sensitive { token } => {
                let token = h.render(token);
                answer(raw, svc.sensitive(&token).await, |p| authorized(h, p))?
            }
            Op::Reauthenticate { token, password } => {
                let token = h.render(token);
                answer(raw, svc.reauthenticate(&token, password).await, |_| {
                    Ok(Outcome::Reauthenticated)
                })?
            }
            Op::Logout { token, scope } => {
                let token = h.render(token);
                let scope = match scope {
                    model::Scope::Local => LogoutScope::Local,
                    model::Scope::Others => LogoutScope::Others,
                    model::Scope::Global => LogoutScope::Global,
                };
                answer(raw, svc.logout(&token, scope).await, |_| {
                    Ok(Outcome::LoggedOut)
                })?
            }
            Op::Revoke { token } => {
                let token = h.render(token);
                answer(raw, svc.revoke(&token).await, |_| Ok(Outcome::Revoked))?
            }
            Op::ChangePassword { token, old, new } => {
                let token = h.render(token);
                answer(raw, svc.change_password(&token, old, new).await, |t| {
                    check_format(h, &t, version)?;
                    let (session, generation) = h.rotated(view(&t))?;
                    Ok(Outcome::PasswordChanged {
                        session,
                        generation,
                    })
                })?
            }
            Op::AdminDisable { user } => {
                answer(raw, svc.admin_disable(user).await, |_| Ok(Outcome::Done))?
            }
            Op::AdminEnable { user } => {
                answer(raw, svc.admin_enable(user).await, |_| Ok(Outcome::Done))?
            }
            Op::AdminUnlock { user } => {
                answer(raw, svc.admin_unlock(user).await, |_| Ok(Outcome::Done))?
            }
            Op::Tick { seconds } => {
                self.clock.advance(*seconds);
                Outcome::Ok
            }
            Op::Deploy { version } => {
                self.redeploy(*version)?;
                Outcome::Ok
            }
            Op::Restart => {
                self.redeploy(self.version)?;
                Outcome::Ok
            }
            Op::UpstreamFault { mode } => {
                self.otp.set_mode(match mode {
                    Upstream::Up => OtpMode::Up,
                    Upstream::Down => OtpMode::Down,
                    Upstream::Garbage => OtpMode::Garbage,
                });
                Outcome::Ok
            }
        })
    }
}

impl Driver for InProcess {
    fn apply(&mut self, op: &Op) -> Result<Outcome, DriverError> {
        // A panic in the service is a finding, not a crash of the harness.
        let (rt, sut) = (&self.rt, &mut self.sut);
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.block_on(sut.run(op))))
            .unwrap_or_else(|panic| {
                Err(DriverError::Service(format!(
                    "panicked: {}",
                    panic_message(&panic)
                )))
            })
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
) -> Result<Arc<Service>, DriverError> {
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
    .map_err(|e| DriverError::Service(e.to_string()))
}

fn open_store(
    kind: StoreKind,
    existing: Option<&tempfile::TempDir>,
) -> Result<(Arc<dyn Store>, Option<tempfile::TempDir>), DriverError> {
    let fail = |e: String| DriverError::Service(e);
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

fn answer<T: serde::Serialize>(
    raw: &mut Option<(u16, serde_json::Value)>,
    result: Result<T, AuthError>,
    ok: impl FnOnce(T) -> Result<Outcome, DriverError>,
) -> Result<Outcome, DriverError> {
    match result {
        Ok(value) => {
            *raw = Some((0, serde_json::to_value(&value).unwrap_or_default()));
            let outcome = ok(value)?;
            if let Some((status, _)) = raw.as_mut() {
                *status = success_status(&outcome);
            }
            Ok(outcome)
        }
        Err(e) => {
            let mut body = serde_json::json!({ "error": e.code() });
            if let Some(reason) = e.reason() {
                body["reason"] = reason.into();
            }
            *raw = Some((auth::http::status_of(&e).as_u16(), body));
            reason(&e).map(Outcome::Rejected)
        }
    }
}

/// The status the HTTP API gives a success (DESIGN §3 HTTP table).
fn success_status(outcome: &Outcome) -> u16 {
    match outcome {
        Outcome::Registered => 201,
        Outcome::MfaRequired { .. } => 202,
        Outcome::LoggedOut | Outcome::Done => 204,
        _ => 200,
    }
}

/// DESIGN rule 8: a refresh token issued now is in the deployed version's format (V1 opaque
/// `rt_…`, V2 structured `v2.…`). Grace retries hand back an earlier token and are exempt.
fn check_format(h: &Handles, t: &Tokens, version: Version) -> Result<(), DriverError> {
    if h.knows_refresh(&t.refresh_token) {
        return Ok(());
    }
    let ok = match version {
        Version::V1 => t.refresh_token.starts_with("rt_"),
        Version::V2 => t.refresh_token.starts_with("v2."),
    };
    if ok {
        Ok(())
    } else {
        Err(DriverError::Violation(format!(
            "a new refresh token under {version:?} is not in its format"
        )))
    }
}

fn view(t: &Tokens) -> Issued<'_> {
    Issued {
        session_id: &t.session_id,
        access_token: &t.access_token,
        refresh_token: &t.refresh_token,
    }
}

fn issued(h: &mut Handles, t: &Tokens) -> Result<Outcome, DriverError> {
    let session = h.new_session(view(t))?;
    Ok(Outcome::Issued {
        session,
        aal: aal(t.aal),
    })
}

fn authorized(h: &Handles, p: auth::Principal) -> Result<Outcome, DriverError> {
    Ok(Outcome::Authorized {
        session: h.session(&p.session_id)?,
        user: p.username,
        aal: aal(p.aal),
    })
}

fn aal(a: auth::Aal) -> Aal {
    match a {
        auth::Aal::Aal1 => Aal::Aal1,
        auth::Aal::Aal2 => Aal::Aal2,
    }
}

/// The service's rejection in the model's words.
pub fn reason(e: &AuthError) -> Result<Reason, DriverError> {
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
        AuthError::Store(e) => return Err(DriverError::Service(e.to_string())),
        other => return Err(DriverError::Service(format!("unexpected error {other:?}"))),
    })
}

/// A code that is certainly not `right`.
fn wrong_code(right: &str) -> String {
    if right == "000000" {
        "000001".into()
    } else {
        "000000".into()
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic".into())
}
