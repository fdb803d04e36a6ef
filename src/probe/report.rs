//! `probe --once --report`: one round as an HTML page.

use super::{Probe, Round};
use crate::html::{Page, Table, TableRow};

/// The page of one round: its flows, and each divergence as a sequence diagram.
pub fn page(probe: &Probe, round: &Round) -> Page {
    let rows = round
        .flows
        .iter()
        .map(|f| TableRow {
            cells: vec![
                f.name.to_owned(),
                f.requests.to_string(),
                match (&f.divergence, &f.unreachable) {
                    (None, None) => "matches the model".to_owned(),
                    (None, Some(e)) => format!("the service did not answer: {e}"),
                    (Some(d), _) => format!(
                        "step {}: `{}` — expected `{}`, answered `{}`",
                        d.step, d.op, d.expected, d.actual
                    ),
                },
            ],
            bad: f.divergence.is_some() || f.unreachable.is_some(),
        })
        .collect();
    let mut commands = vec![(
        "run again".to_owned(),
        format!("authcheck probe --once --target {}", probe.config.base),
    )];
    for d in round.flows.iter().filter_map(|f| f.divergence.as_ref()) {
        commands.push((
            format!("replay the {} divergence", d.flow),
            d.replay.clone(),
        ));
    }
    let sections = round
        .flows
        .iter()
        .filter_map(|f| f.divergence.as_ref().map(|d| (f, d)))
        .map(|(f, d)| crate::html::Section {
            heading: format!("Flow {}: divergence at step {}", f.name, d.step),
            finding: Some(format!(
                "step {}: `{}` — the model expected `{}`, the service answered `{}`",
                d.step, d.op, d.expected, d.actual
            )),
            sequence: Some(crate::html::sequence::view_from(
                &f.steps,
                Some(d.step - 1),
                super::flow_start(&probe.config),
            )),
            trace_text: std::fs::read_to_string(&d.trace_file).ok(),
            ..crate::html::Section::default()
        })
        .collect();
    Page {
        title: "authcheck probe".to_owned(),
        sections,
        passed: round.passed(),
        verdict: if round.passed() {
            "every flow matches the model".to_owned()
        } else {
            "DIVERGENCE".to_owned()
        },
        summary: vec![
            ("target".to_owned(), probe.config.base.clone()),
            ("account".to_owned(), probe.config.account.user.clone()),
            ("requests".to_owned(), round.requests().to_string()),
        ],
        commands,
        table: Some(Table {
            caption: "Flows of the round".to_owned(),
            header: vec!["flow".into(), "requests".into(), "result".into()],
            rows,
            ..Table::default()
        }),
        ..Page::default()
    }
}
