//! Where the in-process service's calls run. A call one request at a time never waits: the
//! service's clock, store and OTP provider are injected and answer at once, and the seeded
//! scheduler yields only while it is armed for concurrent branches. So a call is polled once
//! first, with no runtime around it, and only a call that does wait goes on under a tokio
//! runtime, built the first time one is needed. Entering a runtime for every call cost the fuzz
//! target about a twentieth of each execution, and building and dropping one with every service
//! a fiftieth.
//!
//! The first poll has no tokio context: a service whose calls spawned tasks or set timers on
//! tokio would panic there, and the panic would be reported as the service's. `auth`'s calls use
//! nothing of tokio's (its HTTP layer does, and is not run here); a service that did would need
//! the runtime entered first.

use futures::FutureExt;
use std::future::Future;
use std::pin::pin;
use std::sync::OnceLock;
use tokio::runtime::{Builder, Runtime};

#[derive(Default)]
pub(super) struct Executor {
    runtime: OnceLock<Runtime>,
}

impl Executor {
    /// The runtime for calls that wait and for concurrent branches (built on first use).
    pub(super) fn runtime(&self) -> Result<&Runtime, String> {
        if let Some(rt) = self.runtime.get() {
            return Ok(rt);
        }
        let rt = Builder::new_current_thread()
            .build()
            .map_err(|e| format!("cannot build a runtime: {e}"))?;
        Ok(self.runtime.get_or_init(|| rt))
    }

    /// Runs `call` to completion: at once if it does not wait, else under the runtime.
    pub(super) fn block_on<F: Future>(&self, call: F) -> Result<F::Output, String> {
        let mut call = pin!(call);
        // Polled through a reborrow, so a call that waits goes on where it stopped.
        if let Some(done) = call.as_mut().now_or_never() {
            return Ok(done);
        }
        Ok(self.runtime()?.block_on(call))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_that_does_not_wait_needs_no_runtime() {
        let executor = Executor::default();
        assert_eq!(executor.block_on(async { 7 }), Ok(7));
        assert!(executor.runtime.get().is_none());
    }

    #[test]
    fn a_call_that_waits_goes_on_under_the_runtime() {
        let executor = Executor::default();
        let waits = async {
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
            8
        };
        assert_eq!(executor.block_on(waits), Ok(8));
        assert!(executor.runtime.get().is_some());
    }
}
