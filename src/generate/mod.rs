//! The model-aware generator: decodes a case — its protocol numbers and its operations — from
//! bytes (`arbitrary`), consulting the model's state so almost every operation is meaningful (it
//! names existing users, sessions, generations, tokens and challenges). proptest feeds it
//! random bytes under `cargo test`; libFuzzer feeds it under `cargo fuzz`; `check` feeds it
//! bytes from the case seed.
//!
//! Detection power comes from mechanisms, not from a list of known bugs:
//!
//! | file | mechanism |
//! |---|---|
//! | [`swarm`] | each case draws its own mix of operation kinds (some off, some weighted up) |
//! | [`shapes`] | each case may draw its protocol numbers from a shape (small, equal, zero grace, threshold one, …) |
//! | [`moves`] | repeat the previous operation k times (at once, or retried across a deadline); keep a session alive up to a far deadline; probe a deadline's subject at -1/0/+1 s; push a counter to its limit; observe what a call changed right after it |
//! | [`time`] | ticks aimed at the model's pending deadlines and at counterfactual ones, ±1 s |
//! | [`values`] | names in many scripts and spellings, passwords, hostile and cross-typed tokens |
//! | [`upgrade`] | for upgrade targets: a mixed window, rollbacks, finalize and crashes laid over the case |
//!
//! Case lengths vary too: most cases are short, some run to hundreds of operations (long
//! horizons need them; keep-alive calls and ticks are cheap).

pub mod moves;
pub mod shapes;
pub mod swarm;
pub mod time;
pub mod upgrade;
pub mod values;

pub use values::{INVALID_NAMES, NAMES, PASSWORDS, WEAK_PASSWORDS};

use crate::adapter::Capabilities;
use crate::model::{Choices, Op, OpKind, Params, State};
use arbitrary::{Result, Unstructured};
use swarm::Swarm;
use time::RecentCalls;

/// A generated case: the protocol numbers it runs under, and its operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub params: Params,
    pub ops: Vec<Op>,
}

/// What a campaign lets the generator choose.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// What the target can run (no clock: no ticks; …).
    pub caps: Capabilities,
    /// The longest case.
    pub max_ops: usize,
    /// Protocol numbers: `None` draws them per case (parameter swarm), `Some` fixes them.
    pub params: Option<Params>,
    /// Draw each case's length (most short, some up to `max_ops`), or always run to `max_ops`.
    pub vary_length: bool,
    /// The protocol choices: the generator spends nothing on what they switch off.
    pub choices: Choices,
}

impl Settings {
    /// A campaign's settings for a target: numbers drawn per case when the target can be
    /// configured with them, lengths varied.
    pub fn campaign(caps: Capabilities, max_ops: usize, choices: Choices) -> Self {
        Settings {
            caps,
            max_ops,
            params: (!caps.params).then(Params::default),
            vary_length: true,
            choices,
        }
    }
}

/// Decodes a case: numbers, a swarm mix, a length, then operations until that length or the
/// bytes run out.
pub fn plan(u: &mut Unstructured<'_>, settings: &Settings) -> Plan {
    let params = match settings.params {
        Some(p) => p,
        None => shapes::draw(u).unwrap_or_default(),
    };
    let len = if settings.vary_length {
        length(u, settings.max_ops).unwrap_or(settings.max_ops)
    } else {
        settings.max_ops
    };
    let (caps, choices) = (settings.caps, settings.choices);
    let swarm = Swarm::draw(u, caps, choices).unwrap_or_else(|_| Swarm::full(caps, choices));
    let mut ops = Generator::new(params, choices, caps, swarm).run(u, len);
    if caps.rollout || caps.crash {
        ops = upgrade::weave(u, ops, caps);
    }
    Plan { params, ops }
}

/// Decodes operations under fixed `params` until `max_ops` or the bytes run out (swarm mix and
/// moves included; every kind of operation allowed).
pub fn generate(u: &mut Unstructured<'_>, params: Params, max_ops: usize) -> Vec<Op> {
    generate_for(u, params, max_ops, Capabilities::ALL)
}

/// As [`generate`], leaving out what a target cannot do.
pub fn generate_for(
    u: &mut Unstructured<'_>,
    params: Params,
    max_ops: usize,
    caps: Capabilities,
) -> Vec<Op> {
    let choices = Choices::default();
    let swarm = Swarm::draw(u, caps, choices).unwrap_or_else(|_| Swarm::full(caps, choices));
    Generator::new(params, choices, caps, swarm).run(u, max_ops)
}

/// Six cases in eight run to 60 operations, one to 150, one to `max` (hundreds): long
/// horizons get room, and a campaign costs well under twice one of 60-op cases.
fn length(u: &mut Unstructured<'_>, max: usize) -> Result<usize> {
    let len = match u.int_in_range(0..=7)? {
        0..=5 => 60,
        6 => 150,
        _ => max,
    };
    Ok(len.min(max))
}

/// The state of one generation: the model beside the operations so far.
pub struct Generator {
    state: State,
    caps: Capabilities,
    swarm: Swarm,
    recent: RecentCalls,
    ops: Vec<Op>,
}

impl Generator {
    pub fn new(params: Params, choices: Choices, caps: Capabilities, swarm: Swarm) -> Self {
        Generator {
            state: State::with_choices(params, choices),
            caps,
            swarm,
            recent: RecentCalls::default(),
            ops: Vec::new(),
        }
    }

    /// Continues from `state` (operations it already holds are not returned by [`run`]).
    ///
    /// [`run`]: Generator::run
    pub fn resume(state: State, caps: Capabilities, swarm: Swarm) -> Self {
        let choices = state.choices;
        Generator {
            state,
            ..Generator::new(Params::default(), choices, caps, swarm)
        }
    }

    /// The model after the operations so far.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Generates until `len` operations or the bytes run out.
    pub fn run(mut self, u: &mut Unstructured<'_>, len: usize) -> Vec<Op> {
        // Room for what is asked, up to a bound: a caller may ask for far more operations than
        // the bytes can make. (A move may overshoot `len`; the vector grows then.)
        self.ops.reserve(len.min(1024));
        while self.ops.len() < len && !u.is_empty() {
            if self.step(u, len).is_err() {
                break;
            }
        }
        self.ops.truncate(len);
        self.ops
    }

    fn push(&mut self, op: Op) {
        if op.kind() == OpKind::Tick {
            self.state.apply(&op);
        } else {
            self.recent.apply(&mut self.state, &op);
        }
        self.ops.push(op);
    }

    /// One move: usually a single operation from the swarm mix.
    pub fn step(&mut self, u: &mut Unstructured<'_>, len: usize) -> Result<()> {
        let room = len.saturating_sub(self.ops.len());
        match u.int_in_range(0..=99)? {
            0..=4 if !self.ops.is_empty() => self.repeat_last(u, room),
            5..=7 if !self.ops.is_empty() => self.repeat_kind(u, room),
            8..=11 if !self.ops.is_empty() && self.caps.clock => self.retry_across(u, room),
            12..=14 if self.caps.clock => self.keep_alive(u, room),
            15..=17 => self.approach_limit(u),
            18..=25 if self.caps.clock => self.probe_deadline(u),
            26..=41 => self.act_then_observe(u),
            42..=45 if self.caps.clock => self.neutral_probe(u),
            _ => self.single(u),
        }
    }

    fn probe_deadline(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        match moves::probe_deadline(u, &self.state, &self.recent)? {
            Some(ops) => {
                for op in ops {
                    self.push(op);
                }
                Ok(())
            }
            None => self.single(u),
        }
    }

    fn neutral_probe(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        match moves::neutral_probe(u, &self.state, self.caps)? {
            Some(ops) => {
                for op in ops {
                    self.push(op);
                }
                Ok(())
            }
            None => self.single(u),
        }
    }

    /// One operation from the mix, then one that looks at what it changed
    /// ([`moves::observe`]). A tick is not followed: what the clock changes, the deadline
    /// probes look at.
    fn act_then_observe(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        let kind = self.pick_kind(u)?;
        let op = moves::one(u, &self.state, kind, self.caps, &self.swarm, &self.recent)?;
        if kind == OpKind::Tick {
            self.push(op);
            return Ok(());
        }
        let before = self.state.clone();
        self.push(op);
        if let Some(op) = moves::observe(u, &before, &self.state, &self.recent, self.caps)? {
            self.push(op);
        }
        Ok(())
    }

    fn single(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        let kind = self.pick_kind(u)?;
        let op = moves::one(u, &self.state, kind, self.caps, &self.swarm, &self.recent)?;
        self.push(op);
        Ok(())
    }

    fn pick_kind(&self, u: &mut Unstructured<'_>) -> Result<OpKind> {
        let menu = self.swarm.menu(&self.state);
        let total: u32 = menu.iter().map(|(_, w)| w).sum();
        let mut pick = u.int_in_range(0..=total.saturating_sub(1))?;
        for (kind, w) in &menu {
            if pick < *w {
                return Ok(*kind);
            }
            pick -= w;
        }
        Ok(menu[0].0)
    }

    /// The previous operation again, k times, exactly as it was (handles and all).
    fn repeat_last(&mut self, u: &mut Unstructured<'_>, room: usize) -> Result<()> {
        let Some(last) = self.ops.last().cloned() else {
            return self.single(u);
        };
        let k = moves::repetitions(u, &self.state)?.min(room);
        for _ in 0..k {
            self.push(last.clone());
        }
        Ok(())
    }

    /// The previous operation again, k times, spread evenly from now to one second before, on or
    /// after a pending deadline — a client retrying while a window runs out. A service whose
    /// retries move a deadline they should not (a grace window, a lock, a challenge's life)
    /// answers the last retry differently from the model.
    fn retry_across(&mut self, u: &mut Unstructured<'_>, room: usize) -> Result<()> {
        let Some(last) = self.ops.last().cloned() else {
            return self.single(u);
        };
        let Some(at) = time::pick_target(u, &self.state, &self.recent)? else {
            return self.single(u);
        };
        let end = at.saturating_add_signed(*u.choose(&[-1i64, 0, 1])?);
        let k = u.int_in_range(2..=4)?.min(room / 2) as u64;
        if end <= self.state.now || k == 0 {
            return self.single(u);
        }
        let span = end - self.state.now;
        for i in 1..=k {
            let when = self.state.now.max(end - span + span * i / k);
            if when > self.state.now {
                self.push(Op::Tick {
                    seconds: when - self.state.now,
                });
            }
            if self.state.dangles(&last) {
                break;
            }
            self.push(last.clone());
        }
        Ok(())
    }

    /// The previous operation's kind again, k times, each drawn afresh from the state.
    fn repeat_kind(&mut self, u: &mut Unstructured<'_>, room: usize) -> Result<()> {
        let Some(kind) = self.ops.last().map(Op::kind) else {
            return self.single(u);
        };
        let k = moves::repetitions(u, &self.state)?.min(room);
        for _ in 0..k {
            let op = moves::one(u, &self.state, kind, self.caps, &self.swarm, &self.recent)?;
            if self.state.dangles(&op) {
                break;
            }
            self.push(op);
        }
        Ok(())
    }

    /// Keeps a session alive up to a deadline, then probes it there (±1 s).
    fn keep_alive(&mut self, u: &mut Unstructured<'_>, room: usize) -> Result<()> {
        let Some((session, at)) = moves::keep_alive_target(u, &self.state, &self.recent)? else {
            return self.single(u);
        };
        let step = moves::keep_alive_step(u, &self.state)?;
        let offset = *u.choose(&[-1i64, 0, 1])?;
        let target = at.saturating_add_signed(offset);
        let start = self.ops.len();
        // Two operations per round, and room for the last tick and the probe.
        while self.ops.len() + 4 <= start + room && self.state.now + step < target {
            self.push(Op::Tick { seconds: step });
            if !self.state.live(session) {
                break;
            }
            let call = moves::keep_alive_call(u, &self.state, session)?;
            self.push(call);
        }
        if target > self.state.now && self.ops.len() + 2 <= start + room {
            self.push(Op::Tick {
                seconds: target - self.state.now,
            });
            let probe = moves::probe(u, &self.state, session)?;
            self.push(probe);
        }
        Ok(())
    }

    fn approach_limit(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        match moves::approach_limit(u, &self.state)? {
            Some(ops) => {
                for op in ops {
                    self.push(op);
                }
                Ok(())
            }
            None => self.single(u),
        }
    }
}
