//! The protocol's numbers (PROTOCOL.md §2) and their text form, `key=value` words, as trace
//! headers record them (`# params: access_ttl=30 lockout_threshold=1`): a case generated under
//! other numbers replays under the same ones.

use std::fmt;

/// The protocol's numbers; `Default` is PROTOCOL.md §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Params {
    pub access_ttl: u64,
    pub idle_timeout: u64,
    pub absolute_timeout: u64,
    pub refresh_grace: u64,
    pub lockout_threshold: u32,
    pub lockout_duration: u64,
    pub mfa_challenge_ttl: u64,
    pub mfa_max_attempts: u32,
    pub step_up_window: u64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            access_ttl: 300,
            idle_timeout: 900,
            absolute_timeout: 43_200,
            refresh_grace: 10,
            lockout_threshold: 5,
            lockout_duration: 900,
            mfa_challenge_ttl: 300,
            mfa_max_attempts: 3,
            step_up_window: 300,
        }
    }
}

/// Every key, in the order they are printed.
pub const KEYS: [&str; 9] = [
    "access_ttl",
    "idle_timeout",
    "absolute_timeout",
    "refresh_grace",
    "lockout_threshold",
    "lockout_duration",
    "mfa_challenge_ttl",
    "mfa_max_attempts",
    "step_up_window",
];

impl Params {
    /// The value of `key` (one of [`KEYS`]).
    pub fn get(&self, key: &str) -> Option<u64> {
        Some(match key {
            "access_ttl" => self.access_ttl,
            "idle_timeout" => self.idle_timeout,
            "absolute_timeout" => self.absolute_timeout,
            "refresh_grace" => self.refresh_grace,
            "lockout_threshold" => u64::from(self.lockout_threshold),
            "lockout_duration" => self.lockout_duration,
            "mfa_challenge_ttl" => self.mfa_challenge_ttl,
            "mfa_max_attempts" => u64::from(self.mfa_max_attempts),
            "step_up_window" => self.step_up_window,
            _ => return None,
        })
    }

    /// Sets `key` to `value`; an unknown key or a value out of range is an error that says so.
    pub fn set(&mut self, key: &str, value: u64) -> Result<(), String> {
        let count = |v: u64| {
            u32::try_from(v)
                .ok()
                .filter(|v| *v >= 1)
                .ok_or_else(|| format!("{key}={value}: expected a count from 1 to {}", u32::MAX))
        };
        match key {
            "access_ttl" => self.access_ttl = value,
            "idle_timeout" => self.idle_timeout = value,
            "absolute_timeout" => self.absolute_timeout = value,
            "refresh_grace" => self.refresh_grace = value,
            "lockout_threshold" => self.lockout_threshold = count(value)?,
            "lockout_duration" => self.lockout_duration = value,
            "mfa_challenge_ttl" => self.mfa_challenge_ttl = value,
            "mfa_max_attempts" => self.mfa_max_attempts = count(value)?,
            "step_up_window" => self.step_up_window = value,
            other => {
                return Err(format!(
                    "unknown parameter {other:?} (known: {})",
                    KEYS.join(", ")
                ))
            }
        }
        Ok(())
    }

    /// The durations (seconds) of the protocol: every window a timestamp can be offset by.
    pub fn windows(&self) -> [u64; 7] {
        [
            self.access_ttl,
            self.idle_timeout,
            self.absolute_timeout,
            self.refresh_grace,
            self.lockout_duration,
            self.mfa_challenge_ttl,
            self.step_up_window,
        ]
    }

    /// The keys whose value differs from the protocol's default.
    pub fn changed(&self) -> Vec<&'static str> {
        let d = Params::default();
        KEYS.into_iter()
            .filter(|k| self.get(k) != d.get(k))
            .collect()
    }
}

/// Only the keys that differ from the defaults: `access_ttl=30 refresh_grace=0` (empty for the
/// defaults).
impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<String> = self
            .changed()
            .into_iter()
            .map(|k| format!("{k}={}", self.get(k).unwrap_or_default()))
            .collect();
        f.write_str(&words.join(" "))
    }
}

/// `key=value` words over the defaults; the empty string is the defaults.
impl std::str::FromStr for Params {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut p = Params::default();
        for word in s.split_whitespace() {
            let (key, value) = word
                .split_once('=')
                .ok_or_else(|| format!("{word:?}: expected key=value"))?;
            let value: u64 = value
                .parse()
                .map_err(|_| format!("{word:?}: the value is not a whole number"))?;
            p.set(key, value)?;
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips_and_names_only_changes() {
        assert_eq!(Params::default().to_string(), "");
        let p = Params {
            refresh_grace: 0,
            lockout_threshold: 1,
            ..Params::default()
        };
        assert_eq!(p.to_string(), "refresh_grace=0 lockout_threshold=1");
        assert_eq!(p.to_string().parse::<Params>(), Ok(p));
        assert!("nope=1".parse::<Params>().unwrap_err().contains("known:"));
        assert!("lockout_threshold=0".parse::<Params>().is_err());
    }
}
