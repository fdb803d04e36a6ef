//! Model coverage as an operation × outcome matrix with counts (a cell for every pair the
//! protocol table has in scope), and the deadlines, limits and races a campaign reached.

use crate::coverage::Coverage;
use crate::model::{OpKind, OutcomeKind};
use serde::Serialize;
use serde_json::Value;

#[derive(Serialize, Debug)]
pub struct Cell {
    /// `None`: the protocol has no such pair (or it is out of scope).
    pub count: Option<u64>,
}

#[derive(Serialize, Debug)]
pub struct Row {
    pub op: String,
    pub cells: Vec<Cell>,
}

#[derive(Serialize, Debug)]
pub struct Counted {
    pub name: String,
    pub count: u64,
}

#[derive(Serialize, Debug)]
pub struct CoverageView {
    pub covered: usize,
    pub total: usize,
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
    pub missing: Vec<String>,
    pub deadlines: Vec<Counted>,
    pub deadlines_missing: Vec<String>,
    pub limits: Vec<Counted>,
    pub limits_missing: Vec<String>,
    pub races: Vec<Counted>,
}

/// A column heading: the outcome without Rust's brackets (`invalid-grant:reuse`).
fn outcome_label(o: OutcomeKind) -> String {
    let debug = format!("{o:?}");
    let words: Vec<String> = debug
        .split(['(', ')'])
        .filter(|w| !w.is_empty())
        .map(kebab)
        .collect();
    match words.as_slice() {
        [rejected, rest @ ..] if rejected == "rejected" && !rest.is_empty() => rest.join(":"),
        _ => words.join(" "),
    }
}

fn kebab(word: &str) -> String {
    let mut out = String::new();
    for (i, c) in word.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('-');
        }
        out.extend(c.to_lowercase());
    }
    out
}

fn counted(map: &Value) -> Vec<Counted> {
    map.as_object()
        .map(|m| {
            m.iter()
                .map(|(name, n)| Counted {
                    name: name.clone(),
                    count: n.as_u64().unwrap_or(0),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn strings(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|l| {
            l.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

pub fn view(coverage: &Coverage) -> CoverageView {
    let pairs = coverage.pair_counts();
    let mut outcomes: Vec<OutcomeKind> = pairs.iter().map(|(_, o, _)| *o).collect();
    outcomes.sort();
    outcomes.dedup();
    let ops: Vec<OpKind> = OpKind::ALL
        .into_iter()
        .filter(|op| pairs.iter().any(|(p, _, _)| p == op))
        .collect();
    let rows = ops
        .iter()
        .map(|op| Row {
            op: format!("{op:?}"),
            cells: outcomes
                .iter()
                .map(|o| Cell {
                    count: pairs
                        .iter()
                        .find(|(p, q, _)| p == op && q == o)
                        .map(|(_, _, n)| *n),
                })
                .collect(),
        })
        .collect();
    let json = coverage.to_json();
    CoverageView {
        covered: coverage.covered(),
        total: coverage.total(),
        columns: outcomes.into_iter().map(outcome_label).collect(),
        rows,
        missing: strings(&json["missing"]),
        deadlines: counted(&json["deadlines"]),
        deadlines_missing: strings(&json["deadlines_missing"]),
        limits: counted(&json["limits"]),
        limits_missing: strings(&json["limits_missing"]),
        races: counted(&json["races"]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Grant, Reason};

    #[test]
    fn column_labels_read_like_the_protocol() {
        assert_eq!(
            outcome_label(OutcomeKind::Rejected(Reason::InvalidGrant(Grant::Reuse))),
            "invalid-grant:reuse"
        );
        assert_eq!(
            outcome_label(OutcomeKind::PasswordChanged),
            "password-changed"
        );
    }

    #[test]
    fn every_pair_in_scope_has_a_cell_with_its_count() {
        let mut c = Coverage::default();
        c.record(OpKind::Register, OutcomeKind::Registered);
        c.record(OpKind::Register, OutcomeKind::Registered);
        let v = view(&c);
        let register = v.rows.iter().find(|r| r.op == "Register").unwrap();
        let column = v.columns.iter().position(|c| c == "registered").unwrap();
        assert_eq!(register.cells[column].count, Some(2));
        let cells: usize = v
            .rows
            .iter()
            .map(|r| r.cells.iter().filter(|c| c.count.is_some()).count())
            .sum();
        assert_eq!(cells, v.total);
    }
}
