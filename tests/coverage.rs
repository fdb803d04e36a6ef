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
