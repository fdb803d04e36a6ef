//! Concurrent lockstep: the correct service passes in both modes; with the `flaws` feature,
//! `refresh-race` and `session-mixup` are each detected in at least 19 of 20 CI-budget
//! campaigns (deterministic mode, different campaign seeds), and shrink to a handful of ops.

use authcheck::adapter::{Answer as Raw, Observability};
use authcheck::campaign::{Shard, Target};
use authcheck::concurrent::{self, campaign, linearize, Case, CaseResult, Event, Setup};
use authcheck::driver::{in_process, Handles, Mode, StoreKind};
use authcheck::model::{Op, Params, Profile, State, Token};

fn setup(mode: Mode, store: StoreKind) -> Setup {
    Target::InProcess(store).concurrent_setup(&Profile::default(), false, mode)
}

#[test]
fn the_correct_service_is_linearizable_deterministic_and_real() {
    for (mode, store, cases) in [
        (Mode::Deterministic, StoreKind::Memory, 300),
        (Mode::Deterministic, StoreKind::Sqlite, 60),
        (Mode::Real, StoreKind::Memory, 150),
        (Mode::Real, StoreKind::Sqlite, 40),
    ] {
        let run = campaign(&setup(mode, store), 0xc0c0, cases, Shard::WHOLE, |_| {});
        if let Some(f) = run.failure {
            panic!(
                "{mode:?}/{store:?}: {}\n{}",
                f.case.trace(&[]),
                concurrent::report(&f.result)
            );
        }
    }
}

#[test]
fn the_correct_server_is_linearizable_over_http() {
    let bin = authcheck::driver::find_server_bin().unwrap();
    let s = Target::Http(authcheck::driver::HttpTarget::Managed { server_bin: bin })
        .concurrent_setup(&Profile::default(), false, Mode::Real);
    let run = campaign(&s, 0x4771, 25, Shard::WHOLE, |_| {});
    if let Some(f) = run.failure {
        panic!("{}\n{}", f.case.trace(&[]), concurrent::report(&f.result));
    }
    assert_eq!(run.cases, 25);
}

#[test]
fn a_deterministic_schedule_replays_exactly() {
    let s = setup(Mode::Deterministic, StoreKind::Memory);
    for seed in 0..20 {
        let case = s.case(seed);
        let events = |_: ()| {
            let mut driver = in_process(StoreKind::Memory, case.params, seed, None).unwrap();
            authcheck::lockstep::run(&mut driver, case.params, &case.prefix, None);
            driver
                .run_concurrent(&case.branches, &case.suffix, Mode::Deterministic, 99)
                .unwrap()
        };
        assert_eq!(events(()), events(()), "case {seed}");
    }
}

/// Hand-made histories: the checker must accept what some order explains and refuse the rest.
#[test]
fn the_checker_refuses_a_history_no_order_explains() {
    let params = Params::default();
    let mut driver = in_process(StoreKind::Memory, params, 5, None).unwrap();
    let prefix = vec![
        Op::Register {
            user: "alice".into(),
            password: "correct horse battery".into(),
            mfa: false,
        },
        Op::Login {
            user: "alice".into(),
            password: "correct horse battery".into(),
            device: 0,
        },
    ];
    authcheck::lockstep::run(&mut driver, params, &prefix, None);
    let mut state = State::new(params);
    prefix.iter().for_each(|op| drop(state.apply(op)));
    let handles: Handles = driver.handles().clone();
    let refresh = Op::Refresh {
        token: Token::Refresh {
            session: 0,
            generation: 0,
        },
    };
    let session_id = Some("s_x".to_owned());
    let tokens = |r: &str, a: &str| Raw::Tokens {
        session_id: session_id.clone(),
        access: a.into(),
        refresh: r.into(),
        aal: authcheck::model::Aal::Aal1,
    };
    // The real session id, so the answers name a known session.
    let sid = match driver
        .run_concurrent(
            &[vec![Op::Access {
                token: Token::Access(0),
            }]],
            &[],
            Mode::Deterministic,
            1,
        )
        .unwrap()[0]
        .raw
        .clone()
    {
        Raw::Principal { session_id, .. } => session_id,
        other => panic!("{other:?}"),
    };
    let with_sid = |raw: Raw| match raw {
        Raw::Tokens {
            access,
            refresh,
            aal,
            ..
        } => Raw::Tokens {
            session_id: sid.clone(),
            access,
            refresh,
            aal,
        },
        other => other,
    };
    let ev = |branch, raw, call, ret| Event {
        branch,
        index: 0,
        op: refresh.clone(),
        raw,
        call,
        ret,
        after: false,
    };
    // Concurrent R0 ∥ R0: one rotation and one grace retry with the same new token: fine.
    let ok = [
        ev(0, with_sid(tokens("rt_new", "at_1")), 0, 3),
        ev(1, with_sid(tokens("rt_new", "at_2")), 1, 2),
    ];
    assert!(linearize::check(&state, &handles, &ok, &Observability::ALL).linearizable);
    // Both rotated, to two different new tokens: no order explains it.
    let race = [
        ev(0, with_sid(tokens("rt_a", "at_1")), 0, 3),
        ev(1, with_sid(tokens("rt_b", "at_2")), 1, 2),
    ];
    let verdict = linearize::check(&state, &handles, &race, &Observability::ALL);
    assert!(!verdict.linearizable);
    assert!(!verdict.dead_ends.is_empty());
    let _ = (
        Case {
            params,
            prefix,
            branches: vec![],
            suffix: vec![],
        },
        CaseResult::Pass,
    );
}

#[cfg(feature = "flaws")]
mod flaws {
    use super::*;
    use auth::flaws::Flaw;

    fn detections(flaw: Flaw) -> (usize, usize) {
        let s = Target::Flawed(StoreKind::Memory, flaw).concurrent_setup(
            &Profile::default(),
            false,
            Mode::Deterministic,
        );
        let mut detected = 0;
        let mut longest = 0;
        for run in 0..20u64 {
            let outcome = campaign(&s, run * 1_000, 100, Shard::WHOLE, |_| {});
            if let Some(f) = outcome.failure {
                detected += 1;
                longest = longest.max(f.case.len());
            }
        }
        (detected, longest)
    }

    #[test]
    fn refresh_race_is_caught_in_19_of_20_runs() {
        let (detected, longest) = detections(Flaw::RefreshRace);
        assert!(
            detected >= 19,
            "refresh-race detected in {detected}/20 runs"
        );
        // PROTOCOL.md §10: register, login, refresh R0 ∥ refresh R0.
        assert!(longest <= 4, "shrunk to {longest} ops");
    }

    #[test]
    fn session_mixup_is_caught_in_19_of_20_runs() {
        let (detected, longest) = detections(Flaw::SessionMixup);
        assert!(
            detected >= 19,
            "session-mixup detected in {detected}/20 runs"
        );
        // PROTOCOL.md §10: two registrations, login A ∥ login B, two accesses.
        assert!(longest <= 6, "shrunk to {longest} ops");
    }
}
