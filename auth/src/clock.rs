//! The injected clock: whole seconds. The server uses the system clock; tests and the harness use
//! a manual clock they advance explicitly, so no test ever sleeps.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub trait Clock: Send + Sync {
    /// Seconds since an epoch of the clock's choosing (Unix time for the system clock).
    fn now(&self) -> u64;
}

/// Unix time in seconds.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            // A system clock before 1970 is a broken host; treat it as the epoch.
            .unwrap_or(0)
    }
}

/// A clock that moves only when told to. Clones share the same time.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    pub fn new(start: u64) -> Self {
        ManualClock(Arc::new(AtomicU64::new(start)))
    }

    /// Moves the clock forward and returns the new time (saturating at `u64::MAX`).
    pub fn advance(&self, seconds: u64) -> u64 {
        let mut now = self.0.load(Ordering::SeqCst);
        loop {
            let next = now.saturating_add(seconds);
            match self
                .0
                .compare_exchange(now, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return next,
                Err(actual) => now = actual,
            }
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}
