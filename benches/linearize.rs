//! The linearizability checker on histories of 10, 100 and 1000 operations, recorded from the
//! real service (3 branches, run concurrently under the seeded scheduler): time, search nodes,
//! and the peak heap the check allocates (a counting allocator).
//!
//! `cargo bench --bench linearize`

use authcheck::adapter::Observability;
use authcheck::concurrent::linearize;
use authcheck::driver::{in_process, Mode, StoreKind};
use authcheck::model::{Op, Params, State, Token};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// The one place the workspace needs `unsafe`: a counting allocator for the peak-heap column.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: forwarding the caller's layout to the system allocator unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const PASSWORD: &str = "correct horse battery";

/// `n` operations in 3 branches over `users` accounts: each branch logs in, refreshes what it
/// got, uses it, and touches the users' shared prefix sessions.
fn case(n: usize) -> (Vec<Op>, Vec<Vec<Op>>) {
    let users = (n / 40).max(1);
    let mut prefix = Vec::new();
    for u in 0..users {
        prefix.push(Op::Register {
            user: format!("user{u}").into(),
            password: PASSWORD.into(),
            mfa: false,
        });
        prefix.push(Op::Login {
            user: format!("user{u}").into(),
            password: PASSWORD.into(),
            device: 0,
        });
    }
    let branches = (0..3)
        .map(|b| {
            (0..n / 3)
                .map(|j| {
                    let user = format!("user{}", (j / 3 + b) % users);
                    match j % 3 {
                        0 => Op::Login {
                            user: user.into(),
                            password: PASSWORD.into(),
                            device: b as u8,
                        },
                        1 => Op::Refresh {
                            token: Token::Local {
                                op: j - 1,
                                refresh: true,
                            },
                        },
                        _ => Op::Access {
                            token: Token::Access((j / 3 + b) % users),
                        },
                    }
                })
                .collect()
        })
        .collect();
    (prefix, branches)
}

fn main() {
    let params = Params::default();
    println!(
        "{:>6} {:>9} {:>10} {:>12} {:>12} {:>12}",
        "ops", "branches", "users", "check time", "nodes", "peak heap"
    );
    for n in [10usize, 100, 1000] {
        let (prefix, branches) = case(n);
        let mut driver = in_process(StoreKind::Memory, params, 1, None).unwrap();
        let run = authcheck::lockstep::run(&mut driver, params, &prefix, None);
        assert!(run.failure.is_none());
        let mut state = State::new(params);
        prefix.iter().for_each(|op| drop(state.apply(op)));
        let handles = driver.handles().clone();
        let events = driver
            .run_concurrent(&branches, &[], Mode::Deterministic, 7)
            .unwrap();
        let before = CURRENT.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let start = Instant::now();
        let verdict = linearize::check(&state, &handles, &events, &Observability::ALL);
        let elapsed = start.elapsed();
        let peak = PEAK.load(Ordering::Relaxed) - before;
        assert!(verdict.linearizable, "the correct service must pass");
        println!(
            "{:>6} {:>9} {:>10} {:>10.2}ms {:>12} {:>10.1}MB",
            events.len(),
            branches.len(),
            (n / 40).max(1),
            elapsed.as_secs_f64() * 1e3,
            verdict.explored,
            peak as f64 / 1e6
        );
    }
}
