//! A sequential trace as a sequence diagram: one row per step, the client's request, the
//! service's answer and the model's expectation side by side; the divergent step marked; every
//! token handle in a request linked to the step that issued it; long passing stretches folded.

use crate::model::{Choices, Op, Params, State};
use serde::Serialize;

/// One step as the harness saw it.
#[derive(Debug, Clone)]
pub struct StepInput {
    pub op: Op,
    /// The model's outcome, as text.
    pub expected: String,
    /// The service's answer, as text (`None`: the step never ran, the run stopped before it).
    pub actual: Option<String>,
}

/// Text, or a link to where a handle was issued.
#[derive(Serialize, Debug, PartialEq)]
pub struct Part {
    pub text: String,
    pub href: Option<String>,
}

#[derive(Serialize, Debug)]
pub struct StepView {
    /// 1-based, as reports and traces count.
    pub number: usize,
    pub request: Vec<Part>,
    pub expected: String,
    pub actual: Option<String>,
    pub divergent: bool,
    /// Anchors of the handles this step issued (`access-0`, `refresh-0-1`…) and their names.
    pub issues: Vec<(String, String)>,
}

/// A run of steps shown together: open, or folded (passing steps far from the divergence).
#[derive(Serialize, Debug)]
pub struct Stretch {
    pub folded: bool,
    pub first: usize,
    pub last: usize,
    pub steps: Vec<StepView>,
}

#[derive(Serialize, Debug)]
pub struct SequenceView {
    pub stretches: Vec<Stretch>,
    pub divergent: Option<usize>,
    pub len: usize,
}

/// Passing steps this close to the divergence (or to either end) stay open.
const CONTEXT: usize = 3;
/// A passing stretch folds only when it is at least this long.
const FOLD_AT: usize = 8;

pub fn view(
    steps: &[StepInput],
    divergent: Option<usize>,
    params: Params,
    choices: Choices,
) -> SequenceView {
    view_from(steps, divergent, State::with_choices(params, choices))
}

/// As [`view`], for steps that start from `start` rather than from nothing (the probe's flows
/// start with its account registered).
pub fn view_from(steps: &[StepInput], divergent: Option<usize>, start: State) -> SequenceView {
    let issued = issued_by_step(steps, start);
    let views: Vec<StepView> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| StepView {
            number: i + 1,
            request: link_handles(&s.op.to_string()),
            expected: s.expected.clone(),
            actual: s.actual.clone(),
            divergent: divergent == Some(i),
            issues: issued[i].iter().map(|h| (anchor(h), h.clone())).collect(),
        })
        .collect();
    SequenceView {
        stretches: fold(views, divergent),
        divergent: divergent.map(|d| d + 1),
        len: steps.len(),
    }
}

/// Which handles each step issued, from the model: what exists after the step that did not
/// before it.
fn issued_by_step(steps: &[StepInput], mut state: State) -> Vec<Vec<String>> {
    let mut seen = handles(&state);
    steps
        .iter()
        .map(|s| {
            state.apply(&s.op);
            let now = handles(&state);
            let new: Vec<String> = now.iter().filter(|h| !seen.contains(h)).cloned().collect();
            seen = now;
            new
        })
        .collect()
}

fn handles(state: &State) -> Vec<String> {
    let mut all = Vec::new();
    for (s, session) in state.sessions.iter().enumerate() {
        all.push(format!("session#{s}"));
        for g in 0..=session.generation {
            all.push(format!("refresh#{s}.{g}"));
        }
    }
    all.extend((0..state.access.len()).map(|k| format!("access#{k}")));
    all.extend((0..state.challenges.len()).map(|c| format!("challenge#{c}")));
    all
}

fn anchor(handle: &str) -> String {
    format!("issued-{}", handle.replace(['#', '.'], "-"))
}

/// Splits a request's text so every `access#K`, `refresh#S.G`, `session#S` and `challenge#C`
/// links to its anchor.
fn link_handles(text: &str) -> Vec<Part> {
    const KINDS: [&str; 4] = ["access#", "refresh#", "session#", "challenge#"];
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some((at, kind)) = KINDS
        .iter()
        .filter_map(|k| rest.find(k).map(|at| (at, *k)))
        .min()
    {
        // A handle starts a word, or follows `truncated:` and the like.
        let starts_word = at == 0 || !rest.as_bytes()[at - 1].is_ascii_alphanumeric();
        let digits = rest[at + kind.len()..]
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len() - at - kind.len());
        let end = at + kind.len() + digits;
        let handle = rest[at..end].trim_end_matches('.');
        if !starts_word || digits == 0 {
            parts.push(Part {
                text: rest[..at + kind.len()].to_owned(),
                href: None,
            });
            rest = &rest[at + kind.len()..];
            continue;
        }
        if at > 0 {
            parts.push(Part {
                text: rest[..at].to_owned(),
                href: None,
            });
        }
        parts.push(Part {
            text: handle.to_owned(),
            href: Some(format!("#{}", anchor(handle))),
        });
        rest = &rest[at + handle.len()..];
    }
    if !rest.is_empty() {
        parts.push(Part {
            text: rest.to_owned(),
            href: None,
        });
    }
    merge_text(parts)
}

fn merge_text(parts: Vec<Part>) -> Vec<Part> {
    let mut merged: Vec<Part> = Vec::new();
    for p in parts {
        match merged.last_mut() {
            Some(last) if last.href.is_none() && p.href.is_none() => last.text.push_str(&p.text),
            _ => merged.push(p),
        }
    }
    merged
}

/// Open stretches around the divergence and at both ends; long passing runs between folded.
fn fold(views: Vec<StepView>, divergent: Option<usize>) -> Vec<Stretch> {
    let n = views.len();
    let open = |i: usize| {
        i < CONTEXT
            || i + CONTEXT >= n
            || divergent.is_some_and(|d| i + CONTEXT >= d && i <= d + CONTEXT)
    };
    let mut stretches: Vec<Stretch> = Vec::new();
    for (i, v) in views.into_iter().enumerate() {
        let folded = !open(i) && !v.divergent;
        match stretches.last_mut() {
            Some(s) if s.folded == folded => {
                s.last = v.number;
                s.steps.push(v);
            }
            _ => stretches.push(Stretch {
                folded,
                first: v.number,
                last: v.number,
                steps: vec![v],
            }),
        }
    }
    // A short folded stretch is not worth a click: open it, and join it to its open neighbours.
    let mut joined: Vec<Stretch> = Vec::new();
    for mut s in stretches {
        if s.folded && s.steps.len() < FOLD_AT {
            s.folded = false;
        }
        match joined.last_mut() {
            Some(last) if !last.folded && !s.folded => {
                last.last = s.last;
                last.steps.append(&mut s.steps);
            }
            _ => joined.push(s),
        }
    }
    joined
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_in_a_request_link_to_their_anchor() {
        let parts = link_handles("refresh truncated:refresh#0.12 then access#3");
        let links: Vec<_> = parts.iter().filter_map(|p| p.href.clone()).collect();
        assert_eq!(links, ["#issued-refresh-0-12", "#issued-access-3"]);
        let text: String = parts.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(text, "refresh truncated:refresh#0.12 then access#3");
    }

    #[test]
    fn a_handle_inside_a_quoted_word_is_not_a_handle() {
        let parts = link_handles("login \"xaccess#1\" \"pw\"");
        assert!(parts.iter().all(|p| p.href.is_none()));
    }

    #[test]
    fn long_passing_stretches_fold_and_the_divergence_stays_open() {
        let views = (0..40)
            .map(|i| StepView {
                number: i + 1,
                request: Vec::new(),
                expected: String::new(),
                actual: None,
                divergent: i == 30,
                issues: Vec::new(),
            })
            .collect();
        let stretches = fold(views, Some(30));
        let shape: Vec<_> = stretches
            .iter()
            .map(|s| (s.folded, s.first, s.last))
            .collect();
        assert_eq!(shape, [(false, 1, 3), (true, 4, 27), (false, 28, 40)]);
    }
}
