//! A crash point: the test hook that kills the process (SIGKILL, no cleanup, no flush) just
//! before the n-th next commit, so a crash in the middle of a request lands on a chosen
//! statement boundary and a crash test replays exactly. Armed only through the loopback test
//! hooks; never in production.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Shared by the store (which asks before every commit) and the test hooks (which arm it).
#[derive(Clone, Debug)]
pub struct CrashPoint(Arc<AtomicI64>);

impl Default for CrashPoint {
    fn default() -> Self {
        CrashPoint(Arc::new(AtomicI64::new(-1)))
    }
}

impl CrashPoint {
    /// Let `commits` more commits through, then kill the process at the one after.
    pub fn arm(&self, commits: u32) {
        self.0.store(i64::from(commits), Ordering::SeqCst);
    }

    pub fn disarm(&self) {
        self.0.store(-1, Ordering::SeqCst);
    }

    /// Called before every commit.
    pub fn before_commit(&self) {
        let left = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n > 0).then(|| n - 1)
            });
        // Err(0): armed, and no commit left to let through.
        if left == Err(0) {
            kill_self();
        }
    }
}

/// SIGKILL to ourselves: what an OOM kill or a lost machine does to a request in flight.
fn kill_self() -> ! {
    use rustix::process::{getpid, kill_process, Signal};
    let _ = kill_process(getpid(), Signal::KILL);
    // SIGKILL cannot be caught or ignored: nothing after this point runs for long.
    loop {
        std::thread::park();
    }
}
