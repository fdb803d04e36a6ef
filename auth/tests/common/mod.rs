//! Shared set-up for the service tests: a service over either store, with a manual clock, a
//! seeded RNG and the in-process OTP provider; "deploys" rebuild it over the same store.
#![allow(dead_code)] // each test binary uses a different part of this

pub mod http;
pub mod openapi;

use auth::{
    AuthError, Config, Deps, LoginOutcome, ManualClock, MemoryOtpProvider, MemoryStore, Protocol,
    Service, SqliteStore, Store, TokenRng, Tokens,
};
use std::sync::Arc;

pub const PASSWORD: &str = "correct horse battery";
pub const START: u64 = 1_000_000;

pub struct World {
    pub cfg: Config,
    pub clock: ManualClock,
    pub otp: Arc<MemoryOtpProvider>,
    pub store: Arc<dyn Store>,
    pub rng: Arc<TokenRng>,
    pub svc: Service,
    dir: Option<tempfile::TempDir>,
}

impl World {
    pub fn memory() -> Self {
        Self::build(Arc::new(MemoryStore::new()), None)
    }

    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(dir.path().join("auth.db")).expect("open sqlite");
        Self::build(Arc::new(store), Some(dir))
    }

    fn build(store: Arc<dyn Store>, dir: Option<tempfile::TempDir>) -> Self {
        let cfg = Config::for_tests();
        let clock = ManualClock::new(START);
        let otp = Arc::new(MemoryOtpProvider::new());
        let rng = Arc::new(TokenRng::seeded(7));
        let svc = Service::new(
            cfg.clone(),
            Deps {
                store: store.clone(),
                clock: Arc::new(clock.clone()),
                rng: rng.clone(),
                otp: otp.clone(),
            },
        )
        .expect("service");
        World {
            cfg,
            clock,
            otp,
            store,
            rng,
            svc,
            dir,
        }
    }

    /// Replaces the running service by a new one at `protocol`, over the same store (a deploy);
    /// for SQLite the store itself is reopened from its file, as a process restart would.
    pub fn deploy(&mut self, protocol: Protocol) {
        if let Some(dir) = &self.dir {
            self.store = Arc::new(SqliteStore::open(dir.path().join("auth.db")).expect("reopen"));
        }
        self.cfg = self.cfg.clone().with_protocol(protocol);
        self.svc = Service::new(
            self.cfg.clone(),
            Deps {
                store: self.store.clone(),
                clock: Arc::new(self.clock.clone()),
                rng: self.rng.clone(),
                otp: self.otp.clone(),
            },
        )
        .expect("service");
    }

    pub fn tick(&self, seconds: u64) {
        self.clock.advance(seconds);
    }

    pub async fn user(&self, name: &str) {
        self.svc
            .register(name, PASSWORD, None)
            .await
            .expect("register");
    }

    pub async fn mfa_user(&self, name: &str) {
        self.svc
            .register(name, PASSWORD, Some(&format!("sms:{name}")))
            .await
            .expect("register");
    }

    pub async fn login(&self, name: &str) -> Tokens {
        match self.svc.login(name, PASSWORD, "device").await {
            Ok(LoginOutcome::Issued(tokens)) => tokens,
            other => panic!("login of {name} should issue tokens, got {other:?}"),
        }
    }

    pub async fn login_err(&self, name: &str, password: &str) -> AuthError {
        self.svc
            .login(name, password, "device")
            .await
            .expect_err("login should fail")
    }

    pub async fn challenge(&self, name: &str) -> String {
        match self.svc.login(name, PASSWORD, "device").await {
            Ok(LoginOutcome::MfaRequired { challenge_id }) => challenge_id,
            other => panic!("login of {name} should ask for MFA, got {other:?}"),
        }
    }

    pub fn code(&self, name: &str) -> String {
        self.otp
            .last_code(&format!("sms:{name}"))
            .expect("a code was sent")
    }
}
