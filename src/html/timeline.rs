//! A concurrent history as a timeline: one lane per branch (and one for the operations run after
//! every branch returned), each operation a bar from its call to its return in logical time;
//! for a history no order explains, the orders the checker tried and where each failed.

use crate::concurrent::linearize::Verdict;
use crate::concurrent::Event;
use serde::Serialize;

#[derive(Serialize, Debug)]
pub struct Bar {
    pub x: u64,
    pub y: u64,
    pub width: u64,
    /// The operation, shortened to fit its bar.
    pub label: String,
    /// The whole event, for the tooltip and the table.
    pub title: String,
    /// An event a candidate order failed at.
    pub failing: bool,
}

#[derive(Serialize, Debug)]
pub struct Lane {
    pub name: String,
    pub y: u64,
}

#[derive(Serialize, Debug)]
pub struct EventRow {
    pub id: String,
    pub lane: String,
    pub call: u64,
    pub ret: u64,
    pub op: String,
    pub answer: String,
    pub failing: bool,
}

#[derive(Serialize, Debug)]
pub struct DeadEndView {
    pub after: Vec<String>,
    pub event: String,
    pub op: String,
    pub expected: String,
    pub actual: String,
}

#[derive(Serialize, Debug)]
pub struct TimelineView {
    pub width: u64,
    pub height: u64,
    pub lanes: Vec<Lane>,
    pub bars: Vec<Bar>,
    pub ticks: Vec<(u64, u64)>,
    pub events: Vec<EventRow>,
    pub linearizable: bool,
    pub dead_ends: Vec<DeadEndView>,
    pub more_dead_ends: usize,
}

const LANE_LABEL: u64 = 90;
const UNIT: u64 = 60;
const LANE_HEIGHT: u64 = 40;
const TOP: u64 = 24;

fn lane_name(e: &Event) -> String {
    if e.after {
        "after".to_owned()
    } else {
        format!("branch {}", e.branch + 1)
    }
}

fn event_id(e: &Event) -> String {
    if e.after {
        format!("after#{}", e.index)
    } else {
        format!("b{}#{}", e.branch + 1, e.index)
    }
}

pub fn view(events: &[Event], verdict: &Verdict) -> TimelineView {
    let failing: Vec<usize> = verdict.dead_ends.iter().map(|d| d.event).collect();
    let mut lane_names: Vec<String> = Vec::new();
    for e in events {
        let name = lane_name(e);
        if !lane_names.contains(&name) {
            lane_names.push(name);
        }
    }
    // Branches first in order, "after" last.
    lane_names.sort_by_key(|n| (n == "after", n.clone()));
    let lane_y = |name: &str| {
        TOP + LANE_HEIGHT * lane_names.iter().position(|n| n == name).unwrap_or(0) as u64
    };
    let end = events.iter().map(|e| e.ret).max().unwrap_or(0) + 1;
    let bars = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let width = (e.ret.saturating_sub(e.call)).max(1) * UNIT - 6;
            let op = e.op.to_string();
            let fits = (width / 7).max(4) as usize;
            let label = if op.chars().count() > fits {
                format!("{}…", op.chars().take(fits - 1).collect::<String>())
            } else {
                op.clone()
            };
            Bar {
                x: LANE_LABEL + e.call * UNIT + 3,
                y: lane_y(&lane_name(e)) + 6,
                width,
                label,
                title: format!("{} [{}..{}] {} → {}", event_id(e), e.call, e.ret, op, e.raw),
                failing: failing.contains(&i),
            }
        })
        .collect();
    TimelineView {
        width: LANE_LABEL + end * UNIT + 10,
        height: TOP + LANE_HEIGHT * lane_names.len() as u64 + 10,
        lanes: lane_names
            .iter()
            .map(|n| Lane {
                name: n.clone(),
                y: lane_y(n),
            })
            .collect(),
        bars,
        ticks: (0..=end).map(|t| (t, LANE_LABEL + t * UNIT)).collect(),
        events: events
            .iter()
            .enumerate()
            .map(|(i, e)| EventRow {
                id: event_id(e),
                lane: lane_name(e),
                call: e.call,
                ret: e.ret,
                op: e.op.to_string(),
                answer: e.raw.to_string(),
                failing: failing.contains(&i),
            })
            .collect(),
        linearizable: verdict.linearizable,
        dead_ends: verdict
            .dead_ends
            .iter()
            .map(|d| DeadEndView {
                after: d.order.iter().map(|i| event_id(&events[*i])).collect(),
                event: event_id(&events[d.event]),
                op: d.op.to_string(),
                expected: d.expected.to_string(),
                actual: d.actual.clone(),
            })
            .collect(),
        more_dead_ends: verdict.more_dead_ends,
    }
}
