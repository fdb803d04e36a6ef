//! Counters that change an answer when they reach a limit: consecutive wrong passwords of an
//! account (rule 6) and wrong codes of an MFA challenge (rule 7). The generator pushes them to
//! one below their limit; coverage records which limits were reached, and by which operation.

use super::deadlines::{valid, Subject};
use super::State;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CounterKind {
    /// Consecutive wrong passwords toward `lockout_threshold`.
    WrongPasswords,
    /// Wrong codes toward `mfa_max_attempts`.
    WrongCodes,
}

impl CounterKind {
    pub const ALL: [CounterKind; 2] = [CounterKind::WrongPasswords, CounterKind::WrongCodes];

    pub fn name(self) -> &'static str {
        match self {
            CounterKind::WrongPasswords => "lockout-threshold",
            CounterKind::WrongCodes => "mfa-max-attempts",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub kind: CounterKind,
    pub subject: Subject,
    pub value: u32,
    pub limit: u32,
}

impl State {
    /// Every counter that can still move: accounts not locked now, challenges still open.
    pub fn counters(&self) -> Vec<Counter> {
        let mut out = Vec::new();
        let lockout = self.choices.lockout != super::profile::Lockout::None;
        for (name, a) in self.accounts.iter().filter(|_| lockout) {
            let locked = a.locked_until.is_some_and(|u| valid(self.now, u));
            if !locked {
                // A lapsed lock resets the count at the next login.
                let value = if a.locked_until.is_some() {
                    0
                } else {
                    a.failures
                };
                out.push(Counter {
                    kind: CounterKind::WrongPasswords,
                    subject: Subject::Account(name.to_string()),
                    value,
                    limit: self.params.lockout_threshold,
                });
            }
        }
        for (c, ch) in self.challenges.iter().enumerate() {
            let open = !ch.dead
                && valid(
                    self.now,
                    ch.created_at.saturating_add(self.params.mfa_challenge_ttl),
                );
            if open {
                out.push(Counter {
                    kind: CounterKind::WrongCodes,
                    subject: Subject::Challenge(c),
                    value: ch.attempts,
                    limit: self.params.mfa_max_attempts,
                });
            }
        }
        out
    }

    /// What [`State::limits_reached`] compares, taken before `op` runs (cheap: only the
    /// account and challenge `op` names).
    pub fn limit_marks(&self, op: &super::Op) -> LimitMarks {
        let mut marks = LimitMarks::default();
        for subject in self.subjects(op) {
            match subject {
                Subject::Account(name) => {
                    marks.lock = Some((
                        name.clone(),
                        self.accounts.get(&name).and_then(|a| a.locked_until),
                    ));
                }
                Subject::Challenge(c) => {
                    marks.challenge = self.challenges.get(c).map(|ch| (c, ch.dead));
                }
                _ => {}
            }
        }
        marks
    }

    /// The limits the operation that ran since `marks` were taken reached: its account newly
    /// locked, or its challenge killed by a wrong code at `mfa_max_attempts`.
    pub fn limits_reached(&self, marks: &LimitMarks) -> Vec<CounterKind> {
        let mut out = Vec::new();
        if let Some((name, was)) = &marks.lock {
            let now = self.accounts.get(name).and_then(|a| a.locked_until);
            if now.is_some() && now != *was {
                out.push(CounterKind::WrongPasswords);
            }
        }
        if let Some((c, false)) = marks.challenge {
            let ch = &self.challenges[c];
            if ch.dead && ch.attempts >= self.params.mfa_max_attempts {
                out.push(CounterKind::WrongCodes);
            }
        }
        out
    }
}

/// The state of the counters an operation names, before it runs.
#[derive(Debug, Clone, Default)]
pub struct LimitMarks {
    lock: Option<(String, Option<u64>)>,
    challenge: Option<(usize, bool)>,
}
