//! The example adapter (examples/minisession) under `cargo test`: a session service with its
//! own API and its own protocol choices, checked through the seam. The buggy build is caught
//! and shrunk to the four operations that show the bug; the fixed build passes the campaign.

#[path = "../examples/minisession/adapter.rs"]
mod adapter;
#[path = "../examples/minisession/service.rs"]
mod service;

use adapter::MiniSession;
use authcheck::campaign::{self, CheckOptions, Finding, Mix, Target};
use authcheck::model::{Op, Token};
use service::Variant;
use std::sync::Arc;

fn options(variant: Variant, cases: u64) -> CheckOptions {
    CheckOptions {
        cases,
        seed: 1,
        target: Target::Custom(Arc::new(MiniSession { variant })),
        mix: Mix::Mixed,
        ..CheckOptions::default()
    }
}

#[test]
fn the_bug_is_found_and_shrunk_to_revoke_then_access() {
    let opts = options(Variant::Buggy, 300);
    let summary = campaign::check(&opts, |_| {});
    let Some(Finding::Sequential(f)) = &summary.failure else {
        panic!("the buggy build passed {} cases", summary.cases);
    };
    // register, login, revoke the refresh token, use the access token issued beside it.
    assert!(
        f.ops.len() <= 4,
        "{}",
        authcheck::report::finding_trace(&opts, summary.failure.as_ref().unwrap())
    );
    assert!(matches!(
        f.ops.iter().rev().nth(1),
        Some(Op::Revoke {
            token: Token::Refresh { .. }
        })
    ));
    assert!(matches!(f.ops.last(), Some(Op::Access { .. })));
}

#[test]
fn the_fixed_build_passes_with_its_profile_and_nothing_it_cannot_do() {
    let opts = options(Variant::Fixed, 80);
    let summary = campaign::check(&opts, |_| {});
    if let Some(finding) = &summary.failure {
        panic!(
            "{}",
            authcheck::report::finding_text(
                &opts,
                finding,
                &authcheck::report::finding_trace(&opts, finding),
                "-"
            )
        );
    }
    assert!(summary.concurrent_cases > 0);
    // The coverage is of what this profile and these capabilities make reachable: all of it.
    assert_eq!(summary.coverage.missing(), vec![]);
}

#[test]
fn the_profile_file_says_what_minisession_does() {
    use authcheck::adapter::Adapter;
    use authcheck::model::profile::{GraceRetry, Lockout, Reuse, Revoke};
    let p = MiniSession {
        variant: Variant::Fixed,
    }
    .profile();
    assert_eq!(p.choices.grace_retry, GraceRetry::SamePair);
    assert_eq!(p.choices.reuse, Reuse::Reject);
    assert_eq!(p.choices.revoke, Revoke::TokenPair);
    assert_eq!(p.choices.lockout, Lockout::AsInvalidCredentials);
    assert!(!p.choices.mfa && !p.choices.step_up && !p.choices.admin);
    assert_eq!(p.params.lockout_threshold, 3);
}
