//! The seeded scheduler concurrent branches run under in deterministic mode.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// The seeded scheduler the service awaits at its interleaving points (idle unless armed).
#[derive(Default)]
pub(super) struct Scheduler {
    /// Whether `rng` holds a schedule: an idle point then costs one load, no lock and no
    /// allocation (every sequential call passes several points).
    armed: AtomicBool,
    rng: Mutex<Option<rand_chacha::ChaCha20Rng>>,
}

impl Scheduler {
    pub(super) fn arm(&self, seed: Option<u64>) {
        use rand_core::SeedableRng;
        *self.rng.lock().unwrap_or_else(|p| p.into_inner()) =
            seed.map(rand_chacha::ChaCha20Rng::seed_from_u64);
        self.armed.store(seed.is_some(), Ordering::SeqCst);
    }
}

impl auth::interleave::Interleave for Scheduler {
    fn point(&self, _at: &'static str) -> auth::interleave::PointFuture<'_> {
        use rand_core::RngCore;
        if !self.armed.load(Ordering::SeqCst) {
            // A zero-sized future: boxing it allocates nothing.
            return Box::pin(std::future::ready(()));
        }
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
