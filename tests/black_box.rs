//! A server already running, checked as a black box (`--target http://HOST:PORT`): it keeps
//! every account of every run, so each run — a case, a retry of a concurrent case with another
//! schedule, a shrink candidate, a replay — must get user names no earlier run used, or the
//! harness reports divergences the service never made.

use authcheck::campaign::{check, run_ops, CheckOptions, Mix, Target};
use authcheck::driver::{find_server_bin, HttpTarget, Mode};
use authcheck::model::{Op, Params};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const ADMIN: &str = "black-box-admin";

/// An `auth-server` nobody restarts between runs, as a user's staging server would be.
struct SharedServer {
    child: Child,
    base: String,
}

impl SharedServer {
    fn start() -> Self {
        let mut child = Command::new(find_server_bin().expect("auth-server binary"))
            .args(["--listen", "127.0.0.1:0", "--admin-token", ADMIN])
            .args(["--argon2-memory-kib", "64", "--argon2-iterations", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("auth-server starts");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        SharedServer {
            child,
            base: format!("http://{}", first.trim()),
        }
    }

    fn target(&self) -> Target {
        Target::Http(HttpTarget::External {
            base: self.base.clone(),
            admin_token: Some(ADMIN.to_owned()),
            user_agent: None,
        })
    }
}

impl Drop for SharedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_same_trace_runs_twice_against_one_server_with_the_same_outcome() {
    let server = SharedServer::start();
    let ops = vec![
        Op::Register {
            user: "alice".into(),
            password: "correct horse battery".into(),
            mfa: false,
        },
        Op::Register {
            user: "Alice".into(),
            password: "another password".into(),
            mfa: false,
        },
        Op::AdminUnlock { user: "bob".into() },
        Op::Login {
            user: "ALICE".into(),
            password: "correct horse battery".into(),
            device: 0,
        },
        Op::Access {
            token: authcheck::model::Token::Access(0),
        },
    ];
    for attempt in 0..2 {
        let run = run_ops(&server.target(), Params::default(), 1, &ops, None);
        assert!(
            run.failure.is_none(),
            "attempt {attempt}: {:?}",
            run.failure
        );
        // Answers are reported under the names of the trace, not the names sent (a run's record
        // holds no requests: step i ran ops[i]).
        assert_eq!(run.steps.len(), ops.len());
        assert!(
            matches!(&run.steps[4].actual, Some(authcheck::model::Outcome::Authorized { user, .. }) if &**user == "alice"),
            "{:?}",
            run.steps[4].actual
        );
    }
}

#[test]
fn the_correct_server_passes_a_mixed_campaign_as_a_black_box() {
    let server = SharedServer::start();
    let opts = CheckOptions {
        cases: 40,
        seed: 0xb1ac,
        target: server.target(),
        max_ops: 60,
        mix: Mix::Mixed,
        mode: Mode::Real,
        ..CheckOptions::default()
    };
    let summary = check(&opts, |_| {});
    if let Some(f) = &summary.failure {
        panic!(
            "a false alarm against a shared server:\n{}",
            authcheck::report::finding_trace(&opts, f)
        );
    }
    assert_eq!(summary.cases, 40);
    assert!(summary.concurrent_cases >= 4, "{summary:?}");
}
