//! Where ticks land. Deadlines come from the model, not from a list here: every pending
//! deadline of the state (`State::deadlines`: each live token, session window, lock and
//! challenge), including those the last call just moved, is a target at one second before, on
//! and after it. Beside them, *counterfactual* deadlines: each recent call's time plus each of
//! the protocol's windows — where a deadline would be if that call had (wrongly) set one — so a
//! service that moves a timestamp it should not is caught by a tick that lands in between.

use crate::model::{Params, State};
use arbitrary::{Result, Unstructured};

/// Times of the last few calls (not ticks), newest last, without repeats.
#[derive(Debug, Clone, Default)]
pub struct RecentCalls(Vec<u64>);

impl RecentCalls {
    const KEEP: usize = 4;

    pub fn record(&mut self, now: u64) {
        if self.0.last() != Some(&now) {
            self.0.push(now);
            if self.0.len() > Self::KEEP {
                self.0.remove(0);
            }
        }
    }
}

/// The targets a tick can aim at from `s` (each strictly after now).
pub fn targets(s: &State, recent: &RecentCalls) -> (Vec<u64>, Vec<u64>) {
    let mut model: Vec<u64> = s.deadlines().iter().map(|d| d.at).collect();
    model.sort_unstable();
    model.dedup();
    let mut counterfactual: Vec<u64> = recent
        .0
        .iter()
        .flat_map(|t| s.params.windows().map(|w| t.saturating_add(w)))
        .collect();
    counterfactual.sort_unstable();
    counterfactual.dedup();
    (model, counterfactual)
}

/// A tick: usually to one second before, on, or after a model or counterfactual deadline;
/// otherwise a random span (seconds to a day, or a multiple of one of the windows).
pub fn tick(u: &mut Unstructured<'_>, s: &State, recent: &RecentCalls) -> Result<u64> {
    let (model, counterfactual) = targets(s, recent);
    let aim = |u: &mut Unstructured<'_>, list: &[u64]| -> Result<Option<u64>> {
        let d = *u.choose(list)?;
        let target = d.saturating_add_signed(*u.choose(&[-1i64, 0, 0, 1])?);
        Ok((target > s.now).then(|| target - s.now))
    };
    let pick = u.int_in_range(0..=19)?;
    if pick < 10 && !model.is_empty() {
        if let Some(t) = aim(u, &model)? {
            return Ok(t);
        }
    } else if pick < 14 && !counterfactual.is_empty() {
        if let Some(t) = aim(u, &counterfactual)? {
            return Ok(t);
        }
    }
    random_span(u, &s.params)
}

fn random_span(u: &mut Unstructured<'_>, p: &Params) -> Result<u64> {
    Ok(match u.int_in_range(0..=4)? {
        0 => u.int_in_range(1..=5)?,
        1 => u.int_in_range(1..=60)?,
        2 => u.int_in_range(1..=1000)?,
        3 => u.int_in_range(1..=50_000)?,
        _ => {
            let w = (*u.choose(&p.windows())?).max(1);
            w.saturating_mul(u.int_in_range(1..=3)?)
        }
    })
}
