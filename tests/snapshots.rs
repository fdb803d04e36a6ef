//! Snapshot regressions: every trace in `regressions/traces/` replays against the service, and
//! its full transcript (op, the model's and the service's outcome, the HTTP status and JSON body
//! the service produced, random values redacted by field) is an insta snapshot under
//! `regressions/snapshots/`. Any behaviour change shows as a reviewable diff
//! (`cargo insta review`). CI never writes snapshots (insta refuses when `CI` is set).
//!
//! The transcript must be the same on the memory and the SQLite store; it is snapshotted once.

use authcheck::driver::{in_process, Connection, Driver, DriverError, InProcess, StoreKind};
use authcheck::lockstep;
use authcheck::model::{Op, Outcome, Params};
use authcheck::trace::Trace;
use serde::Serialize;

#[derive(Serialize, PartialEq, Debug)]
struct Step {
    op: String,
    model: String,
    service: String,
    status: Option<u16>,
    body: Option<serde_json::Value>,
}

/// Records the raw answer of every operation as it passes.
struct Recording {
    inner: Connection<InProcess>,
    answers: Vec<Option<(u16, serde_json::Value)>>,
}

impl Driver for Recording {
    fn apply(&mut self, op: &Op) -> Result<Outcome, DriverError> {
        let outcome = self.inner.apply(op);
        self.answers.push(self.inner.instance().last_answer());
        outcome
    }
}

fn transcript(trace: &Trace, store: StoreKind) -> Vec<Step> {
    let params = Params::default();
    let mut driver = Recording {
        inner: in_process(store, params, 0, None).unwrap(),
        answers: Vec::new(),
    };
    let ops = trace.ops();
    let run = lockstep::run(&mut driver, params, &ops, None);
    run.steps
        .iter()
        .zip(&ops)
        .zip(driver.answers)
        .map(|((step, op), answer)| Step {
            op: op.to_string(),
            model: step.expected.to_string(),
            service: step
                .actual
                .as_ref()
                .map_or_else(|| "—".into(), ToString::to_string),
            status: answer.as_ref().map(|(s, _)| *s),
            body: answer.map(|(_, b)| b),
        })
        .collect()
}

#[test]
fn every_regression_trace_has_a_reviewed_transcript() {
    for (name, trace) in authcheck::trace::regression_traces() {
        if trace.is_concurrent() {
            continue; // concurrent: no single transcript (tests/regressions.rs replays them)
        }
        let memory = transcript(&trace, StoreKind::Memory);
        let sqlite = transcript(&trace, StoreKind::Sqlite);
        assert_eq!(memory, sqlite, "{name}: the stores disagree");
        insta::with_settings!({
            snapshot_path => "../regressions/snapshots",
            prepend_module_to_snapshot => false,
            description => trace.header_value("reproduces").unwrap_or_default(),
            omit_expression => true,
        }, {
            insta::assert_yaml_snapshot!(name, memory, {
                "[].body.access_token" => "[access token]",
                "[].body.refresh_token" => "[refresh token]",
                "[].body.session_id" => "[session id]",
                "[].body.challenge_id" => "[challenge id]",
            });
        });
    }
}
