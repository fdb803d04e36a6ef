//! Building a service: its configuration from the model's numbers, and its store.

use super::{Flaw, Scheduler, StoreKind};
use crate::adapter::AdapterError;
use crate::model::{Params, Version};
use auth::{
    Argon2Cost, Config, Deps, ManualClock, MemoryOtpProvider, MemoryStore, Protocol, Service,
    SqliteStore, Store, TokenRng,
};
use std::sync::Arc;

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
pub(super) fn build(
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

pub(super) fn open_store(
    kind: StoreKind,
    existing: Option<&tempfile::TempDir>,
    flaw: Option<Flaw>,
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
            // A flaw may lay the schema out its own way (`refresh-table-moved`).
            #[cfg(feature = "flaws")]
            let store = SqliteStore::open_flawed(&path, flaw);
            #[cfg(not(feature = "flaws"))]
            let store = match flaw {
                Some(never) => match never {},
                None => SqliteStore::open(&path),
            };
            let store = store.map_err(|e| fail(e.to_string()))?;
            Ok((Arc::new(store), dir))
        }
    }
}
