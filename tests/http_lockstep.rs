//! Lockstep over the wire: the real `auth-server` binary (SQLite file, test hooks, wiremock as
//! its OTP provider) checked against the model; every regression trace replays over HTTP; and
//! golden transcripts of the full HTTP exchanges for the canonical flows.

use authcheck::adapter::Observability;
use authcheck::adapters::http::HttpInstance;
use authcheck::campaign::{check, run_ops, CheckOptions, Target};
use authcheck::driver::find_server_bin;
use authcheck::driver::{Connection, HttpTarget};
use authcheck::lockstep;
use authcheck::model::Profile;
use authcheck::trace::regression_traces;

fn managed() -> HttpTarget {
    HttpTarget::Managed {
        server_bin: find_server_bin().expect("auth-server binary"),
    }
}

#[test]
fn lockstep_over_http_with_deploys_and_restarts() {
    let opts = CheckOptions {
        cases: 25,
        seed: 0x4777,
        target: Target::Http(managed()),
        max_ops: 40,
        ..CheckOptions::default()
    };
    let summary = check(&opts, |_| {});
    if let Some(f) = &summary.failure {
        panic!(
            "the server left the model over HTTP:\n{}",
            authcheck::report::finding_trace(&opts, f)
        );
    }
    assert_eq!(summary.cases, 25);
}

#[test]
fn every_regression_trace_replays_over_http() {
    let target = Target::Http(managed());
    for (name, trace) in regression_traces() {
        if trace.is_concurrent() {
            continue; // concurrent traces replay in tests/regressions.rs
        }
        let run = run_ops(&target, trace.params().unwrap(), 0, &trace.ops(), None);
        assert!(run.failure.is_none(), "{name} over HTTP: {:?}", run.failure);
    }
}

/// The canonical flows of the issue, as regression traces, with their HTTP exchanges.
const GOLDEN: &[&str] = &[
    "0006-login-access-refresh",  // register, login, refresh rotation, access
    "0007-mfa-login",             // login with MFA
    "0001-grace-retry",           // grace retry
    "0002-reuse-revokes-session", // reuse detection
    "0008-logout-scopes",         // logout local / others / global
    "0009-password-change",       // password change
    "0003-lockout-canonical-account", // lockout and its lapse
    "0011-step-up",               // step-up
    "0005-mfa-upstream-down",     // provider down
    "0017-upstream-garbage",      // provider garbage
    "0004-deploy-v1-v2-v1",       // deploy V1 → V2 → V1
];

#[test]
fn golden_http_transcripts() {
    let traces: std::collections::BTreeMap<_, _> = regression_traces().into_iter().collect();
    for name in GOLDEN {
        let trace = &traces[*name];
        let params = trace.params().unwrap();
        let profile = Profile {
            params,
            ..Profile::default()
        };
        let instance = HttpInstance::new(&managed(), &profile, 0).unwrap().record();
        let mut driver = Connection::new(instance, profile.choices, Observability::ALL);
        let run = lockstep::run(&mut driver, params, &trace.ops(), None);
        assert!(run.failure.is_none(), "{name}: {:?}", run.failure);
        let exchanges = driver.instance_mut().take_exchanges();
        insta::with_settings!({
            snapshot_path => "../regressions/snapshots/http",
            prepend_module_to_snapshot => false,
            description => trace.header_value("reproduces").unwrap_or_default(),
            omit_expression => true,
        }, {
            insta::assert_yaml_snapshot!(*name, exchanges, {
                "[].request.refresh_token" => "[refresh token]",
                "[].request.token" => "[token]",
                "[].request.challenge_id" => "[challenge id]",
                "[].response.access_token" => "[access token]",
                "[].response.refresh_token" => "[refresh token]",
                "[].response.session_id" => "[session id]",
                "[].response.challenge_id" => "[challenge id]",
            });
        });
    }
}
