//! The lockstep check after a crash: the request that was in flight may have taken effect or
//! not, and the check must accept either (as a linearizability checker treats a pending
//! operation), but nothing else. Driven in process, so each explanation is forced exactly: a
//! wrapper runs the lost request (it took effect) or drops it (it never arrived), and answers
//! "lost" either way.

use authcheck::adapter::Instance;
use authcheck::driver::{in_process, Connection, Driver, DriverError, InProcess, StoreKind};
use authcheck::lockstep::run_with;
use authcheck::model::{Op, Outcome, Profile};
use authcheck::trace::Trace;

/// The in-process service, with `crash` handled here: the next request is lost after it
/// `took_effect` (the service ran it; its answer never reached the harness) or before.
struct Crashing {
    inner: Connection<InProcess>,
    armed: bool,
    took_effect: bool,
}

impl Crashing {
    fn new(took_effect: bool) -> Self {
        Crashing {
            inner: in_process(StoreKind::Memory, Default::default(), 1, None).unwrap(),
            armed: false,
            took_effect,
        }
    }
}

impl Driver for Crashing {
    fn apply(&mut self, op: &Op) -> Result<Outcome, DriverError> {
        if *op == Op::Crash {
            self.armed = true;
            return Ok(Outcome::Ok);
        }
        if std::mem::take(&mut self.armed) {
            if self.took_effect {
                let request = self.inner.request(op, &[]);
                self.inner.instance_mut().call(&request);
            }
            return Err(DriverError::Lost("killed mid-request".into()));
        }
        self.inner.apply(op)
    }
}

fn run(text: &str, took_effect: bool) -> authcheck::lockstep::Run {
    let trace = Trace::parse(text).unwrap();
    run_with(
        &mut Crashing::new(took_effect),
        &Profile::default(),
        &trace.ops(),
        None,
    )
}

/// A refresh lost in a crash, then retried with the same token: a rotation (it never
/// arrived) or a grace retry (it did) — the same answer; the next refresh tells them apart
/// only through the service's own state, and both states agree from then on.
const LOST_REFRESH: &str = r#"
register "ana" "correct horse battery" nomfa
login "ana" "correct horse battery" device=0
crash
refresh refresh#0.0
refresh refresh#0.0
access access#1
refresh refresh#0.1
tick 120
refresh refresh#0.1
"#;

#[test]
fn a_lost_refresh_is_accepted_whether_or_not_it_took_effect() {
    for took_effect in [false, true] {
        let run = run(LOST_REFRESH, took_effect);
        assert!(
            run.failure.is_none(),
            "took effect: {took_effect}: {:?}",
            run.failure
        );
        assert_eq!(run.steps[3].actual, None, "the lost step has no answer");
    }
}

/// A login lost in a crash: its tokens never reached the client, so the next login's session
/// is the client's first, whichever happened; a lost wrong password counts toward the lock
/// only if it arrived.
#[test]
fn a_lost_login_is_accepted_whether_or_not_it_took_effect() {
    let text = r#"
register "bo" "correct horse battery" nomfa
crash
login "bo" "correct horse battery" device=0
login "bo" "correct horse battery" device=1
access access#0
refresh refresh#0.0
"#;
    for took_effect in [false, true] {
        let run = run(text, took_effect);
        assert!(
            run.failure.is_none(),
            "took effect: {took_effect}: {:?}",
            run.failure
        );
    }
}

/// Either explanation, but not a third.
#[test]
fn an_answer_neither_explanation_allows_is_a_failure() {
    let text = r#"
register "cy" "correct horse battery" nomfa
login "cy" "correct horse battery" device=0
crash
refresh refresh#0.0
logout access#0 local
refresh refresh#0.0
"#;
    // After a local logout every refresh of the session is refused as revoked, in both
    // explanations; a service whose logout did nothing still refreshes, wrong whichever
    // happened.
    struct Ignores(Crashing);
    impl Driver for Ignores {
        fn apply(&mut self, op: &Op) -> Result<Outcome, DriverError> {
            if matches!(op, Op::Logout { .. }) {
                return Ok(Outcome::LoggedOut);
            }
            self.0.apply(op)
        }
    }
    let trace = Trace::parse(text).unwrap();
    let mut driver = Ignores(Crashing::new(true));
    let run = run_with(&mut driver, &Profile::default(), &trace.ops(), None);
    let failure = run
        .failure
        .expect("the refresh after the logout must be refused");
    assert_eq!(failure.step, 5);
}

/// Without a `crash` before it, a lost answer is a service failure, not an explanation.
#[test]
fn a_lost_answer_without_a_crash_is_a_failure() {
    struct Loses<D>(D);
    impl<D: Driver> Driver for Loses<D> {
        fn apply(&mut self, op: &Op) -> Result<Outcome, DriverError> {
            if matches!(op, Op::Refresh { .. }) {
                return Err(DriverError::Lost("gone".into()));
            }
            self.0.apply(op)
        }
    }
    let trace = Trace::parse(
        r#"
register "di" "correct horse battery" nomfa
login "di" "correct horse battery" device=0
refresh refresh#0.0
"#,
    )
    .unwrap();
    let mut driver = Loses(in_process(StoreKind::Memory, Default::default(), 1, None).unwrap());
    let run = run_with(&mut driver, &Profile::default(), &trace.ops(), None);
    assert_eq!(run.failure.map(|f| f.step), Some(2));
}
