//! Model coverage: which (operation, outcome) pairs of the DESIGN table a campaign exercised.

use crate::model::{design_table, OpKind, OutcomeKind};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    counts: BTreeMap<(OpKind, OutcomeKind), u64>,
}

impl Coverage {
    pub fn record(&mut self, op: OpKind, outcome: OutcomeKind) {
        *self.counts.entry((op, outcome)).or_default() += 1;
    }

    pub fn merge(&mut self, other: &Coverage) {
        for (k, v) in &other.counts {
            *self.counts.entry(*k).or_default() += v;
        }
    }

    pub fn count(&self, op: OpKind, outcome: OutcomeKind) -> u64 {
        self.counts.get(&(op, outcome)).copied().unwrap_or(0)
    }

    /// The DESIGN-table pairs not reached yet.
    pub fn missing(&self) -> Vec<(OpKind, OutcomeKind)> {
        design_table()
            .into_iter()
            .filter(|(op, outcome)| self.count(*op, *outcome) == 0)
            .collect()
    }

    pub fn total(&self) -> usize {
        design_table().len()
    }

    pub fn covered(&self) -> usize {
        self.total() - self.missing().len()
    }

    /// "Refresh → Rejected(InvalidGrant(Reuse))"-style labels.
    pub fn label(op: OpKind, outcome: OutcomeKind) -> String {
        format!("{op:?} → {outcome:?}")
    }
}
