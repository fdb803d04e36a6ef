//! The CI-budget campaign reaches every outcome and every rejection reason of the protocol table (PROTOCOL.md §4).

use authcheck::campaign::{check, CheckOptions, Target};
use authcheck::coverage::Coverage;
use authcheck::driver::StoreKind;

#[test]
fn the_ci_budget_reaches_every_pair_of_the_design_table() {
    let opts = CheckOptions {
        cases: 150,
        seed: 42,
        target: Target::InProcess(StoreKind::Memory),
        ..CheckOptions::default()
    };
    let summary = check(&opts, |_| {});
    assert!(summary.failure.is_none(), "{:?}", summary.failure);
    let missing: Vec<String> = summary
        .coverage
        .missing()
        .into_iter()
        .map(|(o, k)| Coverage::label(o, k))
        .collect();
    assert!(missing.is_empty(), "not reached: {missing:?}");
    assert_eq!(summary.coverage.covered(), summary.coverage.total());
}

/// What `authcheck merge` reads back from a run's JSON keeps the run's scope: the pairs the
/// target could reach, not the whole protocol table (an in-process run cannot reach an
/// upgrade's rollout steps, and merging its shards must not report them missing).
#[test]
fn coverage_read_back_from_json_keeps_the_scope_of_the_run() {
    let opts = CheckOptions {
        cases: 20,
        seed: 5,
        target: Target::InProcess(StoreKind::Memory),
        ..CheckOptions::default()
    };
    let summary = check(&opts, |_| {});
    let original = &summary.coverage;
    assert!(original.total() < Coverage::default().total());
    let back = Coverage::from_json(&original.to_json()).unwrap();
    assert_eq!(back.total(), original.total());
    assert_eq!(back.missing(), original.missing());
    let mut merged = Coverage::default();
    merged.merge(&back);
    merged.merge(&back);
    assert_eq!(merged.total(), original.total());
    assert_eq!(merged.missing(), original.missing());
}
