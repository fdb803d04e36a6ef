//! The in-process adapter: `auth::Service` with a manual clock, a seeded RNG, the in-process
//! OTP provider and either store. `Deploy` and `Restart` build a new service over the same store
//! (for SQLite, the database file is reopened, as a restarted process would). A call one request
//! at a time runs without a runtime unless it waits (`executor.rs`). Concurrent branches run
//! either under a seeded scheduler at the service's interleaving points (deterministic,
//! replayable) or on a multi-threaded runtime (real).

use crate::adapter::{
    Adapter, AdapterError, Answer, Caller, Capabilities, Control, Instance, Prepare, Request,
};
use crate::model::{Op, Params, Profile, Upstream, Version};
use auth::{ManualClock, MemoryOtpProvider, OtpMode, Protocol, Service, Store, TokenRng};
use rustc_hash::FxHashSet;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

mod calls;
mod executor;
mod scheduler;
mod setup;

pub use calls::reason;
use calls::{call, panic_message, Shown};
use executor::Executor;
use scheduler::Scheduler;
pub use setup::config;
use setup::{build, open_store};

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

/// A running `auth::Service` and everything around it.
pub struct InProcess {
    executor: Executor,
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
    refresh_seen: FxHashSet<String>,
    destinations: Arc<AtomicU64>,
    /// The last answer as the HTTP layer would send it.
    last_answer: Option<Shown>,
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
        let (store, dir) = open_store(store_kind, None, flaw)?;
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
            executor: Executor::default(),
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
            refresh_seen: FxHashSet::default(),
            destinations: Arc::new(AtomicU64::new(0)),
            last_answer: None,
        })
    }

    /// The raw answer to the last request (status and JSON body, as the HTTP API would shape
    /// them), for transcripts; `None` for operations that are not requests (tick, deploy, …).
    pub fn last_answer(&self) -> Option<(u16, serde_json::Value)> {
        self.last_answer.as_ref().map(Shown::render)
    }

    fn redeploy(&mut self, version: Version) -> Result<(), AdapterError> {
        if self.store_kind == StoreKind::Sqlite {
            let (store, _) = open_store(self.store_kind, self.dir.as_ref(), self.flaw)?;
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
        let executor = &self.executor;
        // A panic in the service is a finding, not a crash of the harness.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            executor.block_on(call(svc, otp, destinations, request))
        }));
        let (answer, transcript) = match result {
            Ok(Ok(done)) => done,
            Ok(Err(no_runtime)) => (Answer::Failed(no_runtime), None),
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
            Control::Rollout(_) | Control::Crash => {
                return Err(AdapterError::Unavailable(
                    "one build in process: upgrades and crashes are `authcheck upgrade`'s".into(),
                ))
            }
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
        // Without a runtime the branches cannot be scheduled here; the engine runs them on
        // threads instead.
        let rt = self.executor.runtime().ok()?;
        let (svc, otp, destinations) = (&self.service, &self.otp, &self.destinations);
        self.scheduler.arm(Some(schedule_seed));
        let events =
            crate::concurrent::record(rt, branches, suffix, |op: Op, earlier: Vec<Answer>| {
                let request = prepare(&op, &earlier);
                async move { call(svc, otp, destinations, &request).await.0 }
            });
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
