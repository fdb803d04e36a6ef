//! Interleaving points: places between transactions (and around calls to the OTP provider)
//! where the service awaits an injected hook. In production there is no hook and a point costs
//! nothing; a concurrency test injects a seeded scheduler that yields to other tasks there, so
//! a chosen interleaving of concurrent requests replays exactly.

use std::future::Future;
use std::pin::Pin;

pub type PointFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

pub trait Interleave: Send + Sync {
    /// Called at the named point; the returned future decides when the request goes on.
    fn point(&self, at: &'static str) -> PointFuture<'_>;
}
