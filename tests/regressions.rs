//! Every trace in `regressions/traces/` replays against the service (memory and SQLite): each
//! step must equal the model, and the model must equal the expectation written in the file.

use authcheck::campaign::{run_ops, Target};
use authcheck::concurrent::Setup;
use authcheck::driver::{Mode, StoreKind};
use authcheck::lockstep::expectations;
use authcheck::model::Params;
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
        let prefix = trace
            .branches()
            .map_or_else(|| trace.ops(), |(prefix, _)| prefix);
        let model = expectations(Params::default(), &prefix);
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
        if let Some((prefix, branches)) = trace.branches() {
            let case = authcheck::concurrent::Case { prefix, branches };
            for (store, mode) in [
                (StoreKind::Memory, Mode::Deterministic),
                (StoreKind::Sqlite, Mode::Real),
            ] {
                let setup = Setup {
                    store,
                    params: Params::default(),
                    mode,
                    flaw: None,
                    http: None,
                };
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
                Params::default(),
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
