//! What a campaign reached, so its blind spots show:
//!
//! - **pairs**: (operation, outcome) pairs of the protocol table (PROTOCOL.md §4);
//! - **deadlines**: operations that acted on a subject one second before, on, or one second
//!   after one of its deadlines (`idle-timeout@-1`, `access-expiry@0`, …);
//! - **limits**: counters that reached their limit, and through which operation kind;
//! - **races**: operation kinds that ran concurrently on one account (concurrent cases).
//!
//! Everything is a count under a label, so the JSON of sharded runs adds up (`authcheck merge`).

use crate::adapter::Capabilities;
use crate::model::{
    design_table, Choices, CounterKind, DeadlineKind, Op, OpKind, OutcomeKind, State,
};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    /// What can be reached at all: the profile's choices and the target's capabilities
    /// (`None`: everything the protocol table (PROTOCOL.md §4) lists).
    scope: Option<(Choices, Capabilities)>,
    /// The protocol-table pairs in scope, as a run's JSON reported them (reached or missing):
    /// the scope of coverage read back by `authcheck merge`, whose runs' choices and
    /// capabilities are not in the JSON.
    reported_scope: Option<Vec<(OpKind, OutcomeKind)>>,
    /// Deadlines that never come: the target runs fixed numbers whose window is 'never'.
    never: Vec<DeadlineKind>,
    counts: BTreeMap<(OpKind, OutcomeKind), u64>,
    deadlines: BTreeMap<(DeadlineKind, i8), u64>,
    limits: BTreeMap<(CounterKind, OpKind), u64>,
    races: BTreeMap<(OpKind, OpKind), u64>,
}

/// Offsets from a deadline that coverage tracks (seconds; -1 = one second before).
pub const OFFSETS: [i8; 3] = [-1, 0, 1];

impl Coverage {
    /// Coverage of what `choices` and `caps` leave reachable (an API without MFA cannot reach
    /// `VerifyMfa`; a profile whose lock answers like a wrong password never says `locked`).
    pub fn scoped(choices: Choices, caps: Capabilities) -> Self {
        Coverage {
            scope: Some((choices, caps)),
            ..Coverage::default()
        }
    }

    /// Scoped further to a target that runs these numbers and no others: a window that is
    /// 'never' (DOT has no session timeouts) has no deadline to reach, nor what it expires.
    pub fn with_fixed_numbers(mut self, params: &crate::model::Params) -> Self {
        use crate::model::deadlines::NEVER;
        let window = |k: &DeadlineKind| match k {
            DeadlineKind::AccessExpiry => params.access_ttl,
            DeadlineKind::Idle => params.idle_timeout,
            DeadlineKind::Absolute => params.absolute_timeout,
            DeadlineKind::StepUp => params.step_up_window,
            DeadlineKind::Grace => params.refresh_grace,
            DeadlineKind::LockLapse => params.lockout_duration,
            DeadlineKind::ChallengeExpiry => params.mfa_challenge_ttl,
        };
        self.never = DeadlineKind::ALL
            .into_iter()
            .filter(|k| window(k) >= NEVER)
            .collect();
        self
    }

    /// The protocol-table pairs in scope.
    fn table(&self) -> Vec<(OpKind, OutcomeKind)> {
        use crate::model::{Grant, Reason, TokenReason};
        let table = design_table();
        let never = |kinds: &[DeadlineKind]| kinds.iter().all(|k| self.never.contains(k));
        let expires = |outcome: &OutcomeKind| match outcome {
            OutcomeKind::Rejected(Reason::InvalidGrant(Grant::Expired)) => {
                !never(&[DeadlineKind::Idle, DeadlineKind::Absolute])
            }
            OutcomeKind::Rejected(Reason::Unauthorized(TokenReason::Expired)) => !never(&[
                DeadlineKind::AccessExpiry,
                DeadlineKind::Idle,
                DeadlineKind::Absolute,
            ]),
            _ => true,
        };
        if let Some(pairs) = &self.reported_scope {
            return table.into_iter().filter(|p| pairs.contains(p)).collect();
        }
        match &self.scope {
            None => table,
            Some((choices, caps)) => table
                .into_iter()
                .filter(|(op, outcome)| reachable(*op, *outcome, choices, caps))
                .filter(|(_, outcome)| expires(outcome))
                .collect(),
        }
    }

    /// Every pair of the protocol table in scope, with how often the campaign reached it.
    pub fn pair_counts(&self) -> Vec<(OpKind, OutcomeKind, u64)> {
        self.table()
            .into_iter()
            .map(|(op, outcome)| (op, outcome, self.count(op, outcome)))
            .collect()
    }

    pub fn record(&mut self, op: OpKind, outcome: OutcomeKind) {
        *self.counts.entry((op, outcome)).or_default() += 1;
    }

    /// Before `op` runs in `state`: the deadlines of what it acts on that are one second away.
    pub fn record_deadlines(&mut self, state: &State, op: &Op) {
        if matches!(
            op.kind(),
            OpKind::Tick
                | OpKind::Deploy
                | OpKind::Restart
                | OpKind::UpstreamFault
                | OpKind::Rollout
                | OpKind::Crash
        ) {
            return;
        }
        for subject in state.subjects(op) {
            for d in state.deadlines_of(&subject) {
                let offset = state.now as i128 - d.at as i128;
                if let Ok(offset) = i8::try_from(offset) {
                    if OFFSETS.contains(&offset) {
                        *self.deadlines.entry((d.kind, offset)).or_default() += 1;
                    }
                }
            }
        }
    }

    pub fn record_limit(&mut self, counter: CounterKind, through: OpKind) {
        *self.limits.entry((counter, through)).or_default() += 1;
    }

    /// Two operations of these kinds overlapped in time on one account.
    pub fn record_race(&mut self, a: OpKind, b: OpKind) {
        *self.races.entry((a.min(b), a.max(b))).or_default() += 1;
    }

    pub fn merge(&mut self, other: &Coverage) {
        if self.scope.is_none() && self.reported_scope.is_none() {
            self.scope = other.scope;
            self.reported_scope = other.reported_scope.clone();
            self.never = other.never.clone();
        }
        for (k, v) in &other.counts {
            *self.counts.entry(*k).or_default() += v;
        }
        for (k, v) in &other.deadlines {
            *self.deadlines.entry(*k).or_default() += v;
        }
        for (k, v) in &other.limits {
            *self.limits.entry(*k).or_default() += v;
        }
        for (k, v) in &other.races {
            *self.races.entry(*k).or_default() += v;
        }
    }

    pub fn count(&self, op: OpKind, outcome: OutcomeKind) -> u64 {
        self.counts.get(&(op, outcome)).copied().unwrap_or(0)
    }

    /// The protocol-table pairs (in scope) not reached yet.
    pub fn missing(&self) -> Vec<(OpKind, OutcomeKind)> {
        self.table()
            .into_iter()
            .filter(|(op, outcome)| self.count(*op, *outcome) == 0)
            .collect()
    }

    pub fn total(&self) -> usize {
        self.table().len()
    }

    pub fn covered(&self) -> usize {
        self.total() - self.missing().len()
    }

    /// The deadline kinds the profile and target make reachable.
    fn deadline_kinds(&self) -> Vec<DeadlineKind> {
        use crate::model::profile::{Lockout, Rotation};
        DeadlineKind::ALL
            .into_iter()
            .filter(|k| !self.never.contains(k))
            .filter(|k| match (&self.scope, k) {
                (None, _) => true,
                (Some((_, caps)), _) if !caps.clock => false,
                (Some((c, caps)), DeadlineKind::ChallengeExpiry) => c.mfa && caps.mfa,
                (Some((c, _)), DeadlineKind::LockLapse) => c.lockout != Lockout::None,
                (Some((c, _)), DeadlineKind::StepUp) => c.step_up,
                (Some((c, _)), DeadlineKind::Grace) => c.rotation == Rotation::Rotate,
                _ => true,
            })
            .collect()
    }

    /// Deadline kinds × offsets no operation met.
    pub fn deadlines_missing(&self) -> Vec<String> {
        self.deadline_kinds()
            .into_iter()
            .flat_map(|k| OFFSETS.map(|o| (k, o)))
            .filter(|key| !self.deadlines.contains_key(key))
            .map(|(k, o)| deadline_label(k, o))
            .collect()
    }

    /// Counters that never reached their limit (of those the profile has).
    pub fn limits_missing(&self) -> Vec<&'static str> {
        let has = |c: &CounterKind| match (&self.scope, c) {
            (None, _) => true,
            (Some((ch, caps)), CounterKind::WrongCodes) => ch.mfa && caps.mfa,
            (Some((ch, _)), CounterKind::WrongPasswords) => {
                ch.lockout != crate::model::profile::Lockout::None
            }
        };
        CounterKind::ALL
            .into_iter()
            .filter(has)
            .filter(|c| !self.limits.keys().any(|(k, _)| k == c))
            .map(CounterKind::name)
            .collect()
    }

    pub fn races_seen(&self) -> usize {
        self.races.len()
    }

    /// "Refresh → Rejected(InvalidGrant(Reuse))"-style labels.
    pub fn label(op: OpKind, outcome: OutcomeKind) -> String {
        format!("{op:?} → {outcome:?}")
    }

    /// One line per kind of coverage, for the `check` summary; what was never reached is named.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let missing: Vec<String> = self
            .missing()
            .into_iter()
            .map(|(op, outcome)| Coverage::label(op, outcome))
            .collect();
        if !missing.is_empty() {
            out.push(format!("not reached: {}", missing.join(", ")));
        }
        let total_deadlines = self.deadline_kinds().len() * OFFSETS.len();
        let deadlines_missing = self.deadlines_missing();
        out.push(format!(
            "deadlines met at -1/0/+1 s: {}/{total_deadlines}{}",
            total_deadlines - deadlines_missing.len(),
            list(" — never", &deadlines_missing)
        ));
        let reached: Vec<String> = self
            .limits
            .iter()
            .map(|((c, op), n)| format!("{} via {op:?} ×{n}", c.name()))
            .collect();
        let limits_missing: Vec<String> = self
            .limits_missing()
            .into_iter()
            .map(str::to_owned)
            .collect();
        out.push(format!(
            "limits reached: {}{}",
            if reached.is_empty() {
                "none".to_owned()
            } else {
                reached.join(", ")
            },
            list(" — never", &limits_missing)
        ));
        if !self.races.is_empty() {
            out.push(format!(
                "kinds raced on one account: {} pairs",
                self.races.len()
            ));
        }
        out
    }

    /// The JSON form: every count under its label, plus the protocol-pair totals.
    pub fn to_json(&self) -> serde_json::Value {
        let pairs: serde_json::Map<String, serde_json::Value> = self
            .counts
            .iter()
            .map(|((op, o), n)| (Coverage::label(*op, *o), (*n).into()))
            .collect();
        let deadlines: serde_json::Map<String, serde_json::Value> = self
            .deadlines
            .iter()
            .map(|((k, o), n)| (deadline_label(*k, *o), (*n).into()))
            .collect();
        let limits: serde_json::Map<String, serde_json::Value> = self
            .limits
            .iter()
            .map(|((c, op), n)| (limit_label(*c, *op), (*n).into()))
            .collect();
        let races: serde_json::Map<String, serde_json::Value> = self
            .races
            .iter()
            .map(|((a, b), n)| (race_label(*a, *b), (*n).into()))
            .collect();
        let missing: Vec<String> = self
            .missing()
            .into_iter()
            .map(|(op, o)| Coverage::label(op, o))
            .collect();
        serde_json::json!({
            "covered": self.covered(),
            "total": self.total(),
            "missing": missing,
            "pairs": pairs,
            "deadlines": deadlines,
            "deadlines_missing": self.deadlines_missing(),
            "limits": limits,
            "limits_missing": self.limits_missing(),
            "races": races,
        })
    }

    /// Reads what [`Coverage::to_json`] wrote (labels it does not know are an error).
    pub fn from_json(v: &serde_json::Value) -> Result<Coverage, String> {
        let mut c = Coverage::default();
        let counts = |key: &str| -> Result<Vec<(String, u64)>, String> {
            match v.get(key) {
                None => Ok(Vec::new()),
                Some(serde_json::Value::Object(m)) => m
                    .iter()
                    .map(|(k, n)| {
                        n.as_u64()
                            .map(|n| (k.clone(), n))
                            .ok_or_else(|| format!("coverage.{key}.{k}: not a count"))
                    })
                    .collect(),
                Some(_) => Err(format!("coverage.{key}: not an object")),
            }
        };
        let op_kinds = all_op_kinds();
        let pair = |label: &str| {
            design_table()
                .into_iter()
                .chain(
                    op_kinds
                        .iter()
                        .flat_map(|op| OutcomeKind::all().into_iter().map(|o| (*op, o))),
                )
                .find(|(op, o)| Coverage::label(*op, *o) == label)
        };
        let table = design_table();
        let mut in_scope = Vec::new();
        for (label, n) in counts("pairs")? {
            let key =
                pair(&label).ok_or_else(|| format!("coverage.pairs: unknown pair {label:?}"))?;
            *c.counts.entry(key).or_default() += n;
            if table.contains(&key) {
                in_scope.push(key);
            }
        }
        // The scope the run had: what it reached and what it reported missing.
        if let Some(missing) = v.get("missing").and_then(|m| m.as_array()) {
            for label in missing {
                let label = label.as_str().unwrap_or_default();
                in_scope.push(
                    pair(label)
                        .ok_or_else(|| format!("coverage.missing: unknown pair {label:?}"))?,
                );
            }
            c.reported_scope = Some(in_scope);
        }
        for (label, n) in counts("deadlines")? {
            let key = DeadlineKind::ALL
                .into_iter()
                .flat_map(|k| OFFSETS.map(|o| (k, o)))
                .find(|(k, o)| deadline_label(*k, *o) == label)
                .ok_or_else(|| format!("coverage.deadlines: unknown {label:?}"))?;
            *c.deadlines.entry(key).or_default() += n;
        }
        for (label, n) in counts("limits")? {
            let key = CounterKind::ALL
                .into_iter()
                .flat_map(|k| op_kinds.iter().map(move |op| (k, *op)))
                .find(|(k, op)| limit_label(*k, *op) == label)
                .ok_or_else(|| format!("coverage.limits: unknown {label:?}"))?;
            *c.limits.entry(key).or_default() += n;
        }
        for (label, n) in counts("races")? {
            let key = op_kinds
                .iter()
                .flat_map(|a| op_kinds.iter().map(move |b| (*a, *b)))
                .find(|(a, b)| race_label(*a, *b) == label)
                .ok_or_else(|| format!("coverage.races: unknown {label:?}"))?;
            *c.races.entry(key).or_default() += n;
        }
        Ok(c)
    }
}

fn list(prefix: &str, items: &[String]) -> String {
    if items.is_empty() {
        String::new()
    } else {
        format!("{prefix}: {}", items.join(", "))
    }
}

fn deadline_label(kind: DeadlineKind, offset: i8) -> String {
    format!("{}@{offset:+}", kind.name()).replace("@+0", "@0")
}

fn limit_label(counter: CounterKind, through: OpKind) -> String {
    format!("{} via {through:?}", counter.name())
}

fn race_label(a: OpKind, b: OpKind) -> String {
    format!("{a:?} ∥ {b:?}")
}

fn all_op_kinds() -> Vec<OpKind> {
    OpKind::ALL.to_vec()
}

/// Whether `op` can answer `outcome` under `choices` on a target with `caps`.
fn reachable(op: OpKind, outcome: OutcomeKind, choices: &Choices, caps: &Capabilities) -> bool {
    use crate::model::profile::{Lockout, Rotation};
    use crate::model::{Aal, Grant, Reason};
    if !crate::generate::swarm::runnable(op, *caps, *choices) {
        return false;
    }
    let mfa = choices.mfa && caps.mfa;
    match outcome {
        OutcomeKind::MfaRequired | OutcomeKind::Issued(Aal::Aal2) => mfa,
        OutcomeKind::Rejected(Reason::Locked) => choices.lockout == Lockout::Distinct,
        OutcomeKind::Rejected(Reason::UpstreamUnavailable) => mfa && caps.upstream_faults,
        OutcomeKind::Rejected(Reason::InvalidCode | Reason::ChallengeExpired) => mfa,
        OutcomeKind::Rejected(Reason::Disabled) => choices.admin && caps.admin,
        OutcomeKind::Rejected(Reason::StepUpRequired) => choices.step_up,
        OutcomeKind::Rejected(Reason::InvalidGrant(Grant::Reuse)) => {
            choices.rotation == Rotation::Rotate || choices.password_change
        }
        OutcomeKind::Rejected(Reason::InvalidGrant(Grant::Expired))
        | OutcomeKind::Rejected(Reason::Unauthorized(crate::model::TokenReason::Expired)) => {
            caps.clock
        }
        _ => true,
    }
}
