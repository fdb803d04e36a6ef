//! Parameter swarm: real deployments do not run on the protocol's defaults, and bugs hide where
//! numbers meet (a grace window of zero, a threshold of one, an absolute timeout that is a
//! small multiple of the idle one, every window equal). Each case may draw its protocol
//! numbers from one of these shapes; the service under test is configured with exactly the
//! same numbers and the trace records them. Small numbers also bring long horizons (an
//! absolute timeout kept alive by calls every few minutes) within reach of short traces.

use crate::model::Params;
use arbitrary::{Result, Unstructured};

/// The shapes, in the order `draw` numbers them (for reports).
pub const SHAPES: [&str; 7] = [
    "defaults",
    "small",
    "equal",
    "zero-grace",
    "threshold-one",
    "absolute-multiple-of-idle",
    "mixed",
];

/// Protocol numbers for one case: the defaults two times in five, otherwise one shape.
pub fn draw(u: &mut Unstructured<'_>) -> Result<Params> {
    let d = Params::default();
    Ok(match u.int_in_range(0..=9)? {
        0..=3 => d,
        4 => small(u)?,
        5 => {
            let v = *u.choose(&[1, 2, 5, 10, 60, 300])?;
            Params {
                access_ttl: v,
                idle_timeout: v,
                absolute_timeout: v,
                refresh_grace: v,
                lockout_duration: v,
                mfa_challenge_ttl: v,
                step_up_window: v,
                lockout_threshold: u.int_in_range(1..=3)?,
                mfa_max_attempts: u.int_in_range(1..=3)?,
            }
        }
        6 => Params {
            refresh_grace: 0,
            ..d
        },
        7 => Params {
            lockout_threshold: 1,
            mfa_max_attempts: 1,
            lockout_duration: *u.choose(&[1, 30, 900])?,
            ..d
        },
        8 => {
            let idle = *u.choose(&[10, 30, 60, 120])?;
            Params {
                idle_timeout: idle,
                absolute_timeout: idle * u.int_in_range(1..=4)?,
                access_ttl: *u.choose(&[idle / 2, idle, idle * 2])?,
                step_up_window: *u.choose(&[idle / 2, idle * 3])?,
                refresh_grace: u.int_in_range(0..=5)?,
                ..d
            }
        }
        _ => {
            // Each number independently: the default, or a small one.
            let s = small(u)?;
            let mut p = d;
            for key in crate::model::params::KEYS {
                if u.ratio(1, 2)? {
                    let _ = p.set(key, s.get(key).unwrap_or_default());
                }
            }
            p
        }
    })
}

/// Every number small and independent of the others (windows of seconds to minutes,
/// thresholds of 1 to 4).
fn small(u: &mut Unstructured<'_>) -> Result<Params> {
    Ok(Params {
        access_ttl: u.int_in_range(1..=120)?,
        idle_timeout: u.int_in_range(1..=240)?,
        absolute_timeout: u.int_in_range(1..=600)?,
        refresh_grace: u.int_in_range(0..=15)?,
        lockout_threshold: u.int_in_range(1..=4)?,
        lockout_duration: u.int_in_range(1..=120)?,
        mfa_challenge_ttl: u.int_in_range(1..=120)?,
        mfa_max_attempts: u.int_in_range(1..=4)?,
        step_up_window: u.int_in_range(1..=240)?,
    })
}
