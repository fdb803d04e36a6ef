//! How the shrinker treats the protocol numbers. A bug that shows only after a session was kept
//! alive for a long time (half its absolute timeout) is found in a long trace of keep-alive
//! refreshes; the shrinker halves the windows until the trace is a handful of operations. And a
//! target that runs its own numbers keeps them: the shrinker never reports a trace under numbers
//! the service was not configured with.

use authcheck::adapter::{Adapter, AdapterError, Answer, Capabilities, Control, Instance, Request};
use authcheck::adapters::in_process::InProcessAdapter;
use authcheck::campaign::{self, Target};
use authcheck::driver::StoreKind;
use authcheck::model::{Op, Params, Profile, Token};
use std::sync::Arc;

/// `auth` in process, with a bug put in at the seam: once the clock has run for half the
/// absolute timeout since the first login, a granted `access` fails (a cache that goes bad
/// after a long uptime, say). Only a session kept alive that long shows it.
#[derive(Debug)]
struct LongUptimeBug {
    configurable: bool,
}

struct Buggy {
    inner: Box<dyn Instance>,
    horizon: u64,
    clock: u64,
    first_login: Option<u64>,
}

impl Adapter for LongUptimeBug {
    fn describe(&self) -> String {
        "long-uptime-bug".into()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            params: self.configurable,
            concurrency: false,
            ..Capabilities::ALL
        }
    }

    fn start(&self, profile: &Profile, seed: u64) -> Result<Box<dyn Instance>, AdapterError> {
        let inner = InProcessAdapter {
            store: StoreKind::Memory,
            flaw: None,
        };
        Ok(Box::new(Buggy {
            inner: inner.start(profile, seed)?,
            horizon: profile.params.absolute_timeout / 2,
            clock: 0,
            first_login: None,
        }))
    }
}

impl Instance for Buggy {
    fn call(&mut self, request: &Request) -> Answer {
        let answer = self.inner.call(request);
        if matches!(request.op, Op::Login { .. }) && self.first_login.is_none() {
            self.first_login = Some(self.clock);
        }
        let up = self.first_login.map_or(0, |t| self.clock - t);
        match answer {
            Answer::Principal { .. } if up >= self.horizon => {
                Answer::Failed("the session cache went bad".into())
            }
            other => other,
        }
    }

    fn control(&mut self, control: &Control) -> Result<(), AdapterError> {
        if let Control::Tick(s) = control {
            self.clock += s;
        }
        self.inner.control(control)
    }
}

/// register, log in, then (tick just inside the idle timeout, refresh) until the clock has run
/// for half the absolute timeout, then access: 2 + 2·25 + 1 ops under the default numbers.
fn keep_alive_trace(params: Params) -> Vec<Op> {
    let user = "kim".to_owned();
    let password = "correct horse battery".to_owned();
    let mut ops = vec![
        Op::Register {
            user: user.as_str().into(),
            password: password.as_str().into(),
            mfa: false,
        },
        Op::Login {
            user: user.into(),
            password: password.into(),
            device: 0,
        },
    ];
    let step = params.idle_timeout - 10;
    let mut elapsed = 0;
    let mut generation = 0;
    while elapsed < params.absolute_timeout / 2 {
        ops.push(Op::Tick { seconds: step });
        ops.push(Op::Refresh {
            token: Token::Refresh {
                session: 0,
                generation,
            },
        });
        elapsed += step;
        generation += 1;
    }
    let last_access = ops.len() / 2 - 1;
    ops.push(Op::Access {
        token: Token::Access(last_access),
    });
    ops
}

fn shrunk(configurable: bool) -> (Profile, Vec<Op>) {
    let target = Target::Custom(Arc::new(LongUptimeBug { configurable }));
    let profile = target.profile(Params::default());
    let ops = keep_alive_trace(profile.params);
    let failure = campaign::run_ops_with(&target, &profile, 1, &ops, None)
        .failure
        .expect("the long trace shows the bug");
    assert_eq!(failure.step, ops.len() - 1, "{failure:?}");
    let (profile, ops, _) = campaign::shrink_failure_with(&target, &profile, 1, &ops, failure);
    (profile, ops)
}

#[test]
fn a_long_horizon_bug_shrinks_to_a_few_ops_under_shorter_windows() {
    let (profile, ops) = shrunk(true);
    assert!(
        ops.len() <= 8,
        "{} ops under {}: {ops:?}",
        ops.len(),
        profile.params
    );
    assert!(profile.params.absolute_timeout < Params::default().absolute_timeout);
}

#[test]
fn a_target_with_its_own_numbers_keeps_them() {
    let (profile, ops) = shrunk(false);
    assert_eq!(profile.params, Params::default());
    // Under the numbers it was found with, the keep-alive chain cannot get shorter.
    assert!(ops.len() > 40, "{} ops", ops.len());
}
