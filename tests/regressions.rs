//! Every trace in `regressions/traces/` replays against the service (memory and SQLite): each
//! step must equal the model, and the model must equal the expectation written in the file.

use authcheck::campaign::{run_ops, Target};
use authcheck::concurrent::Case;
use authcheck::driver::{Mode, StoreKind};
use authcheck::lockstep::expectations;
use authcheck::trace::regression_traces;

#[test]
fn every_trace_says_what_it_reproduces_and_expects_what_the_model_says() {
    let all = regression_traces();
    assert!(!all.is_empty());
    for (name, trace) in all {
        assert!(
            trace.header_value("reproduces").is_some(),
            "{name}: header must say what it reproduces"
        );
        // Concurrent traces: only the sequential prefix has expectations.
        let prefix = Case::from_trace(&trace).map_or_else(|| trace.ops(), |case| case.prefix);
        let params = trace.params().unwrap();
        let model = expectations(params, &prefix);
        for (i, ((op, written), model)) in trace.steps().zip(&model).enumerate() {
            let written = written
                .unwrap_or_else(|| panic!("{name}: step {} ({op}) has no expectation", i + 1));
            assert_eq!(written, model, "{name}: step {} ({op})", i + 1);
        }
    }
}

#[test]
fn every_trace_replays_against_the_service_on_both_stores() {
    for (name, trace) in regression_traces() {
        if let Some(case) = Case::from_trace(&trace) {
            for (store, mode) in [
                (StoreKind::Memory, Mode::Deterministic),
                (StoreKind::Sqlite, Mode::Real),
            ] {
                let profile = trace.profile().unwrap();
                let setup = Target::InProcess(store).concurrent_setup(&profile, true, mode);
                for schedule in 0..8 {
                    let result =
                        authcheck::concurrent::run_case(&setup, &case, 0, schedule).unwrap();
                    assert!(
                        !result.failed(),
                        "{name} on {store:?}: {}",
                        authcheck::concurrent::report(&result)
                    );
                }
            }
            continue;
        }
        for store in [StoreKind::Memory, StoreKind::Sqlite] {
            let run = run_ops(
                &Target::InProcess(store),
                trace.params().unwrap(),
                0,
                &trace.ops(),
                None,
            );
            assert!(
                run.failure.is_none(),
                "{name} on {store:?}: {:?}",
                run.failure
            );
        }
    }
}
