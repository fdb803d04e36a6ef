//! Known findings: bugs a campaign is told about, so that it passes over them and goes on
//! looking for others.
//!
//! A campaign stops at its first finding. Against a service with a bug that is already filed
//! and not yet fixed (a third-party server, a release being rolled back), most campaigns would
//! meet that bug again and say nothing new. Given the bug's minimal trace (`check --known
//! FILE.trace`), the campaign replays it once on the target to learn the [`Shape`] of its
//! divergence: which kind of operation goes wrong, what kind of outcome the model expected
//! there, and whether the service answered otherwise, broke a rule or failed. Every case whose
//! first divergence has that shape is counted, not shrunk nor reported, and the campaign goes
//! on. Shrinking keeps a divergence's shape, so the trace a campaign writes, given back as
//! known, passes over the very case it came from; and a new finding's minimal trace is of the
//! new bug, never a shorter trace of a known one.
//!
//! A shape is coarse on purpose: two bugs with one shape are one to a campaign, and a bug with
//! several faces (a timeout a second late shows on access tokens, refresh tokens and logouts)
//! needs a trace per face. A case that meets a known bug first cannot show a later one. A
//! known trace that no longer fails on the target is an error: the bug is fixed, and the file
//! should go.

use crate::campaign::{run_ops_with, Target};
use crate::lockstep::{Failure, Shape};
use crate::model::Profile;
use crate::trace::Trace;
use std::fmt;

/// A bug the campaign passes over: where its trace came from, and its shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownFinding {
    /// The trace file (or another name a person recognises).
    pub name: String,
    pub shape: Shape,
}

/// Why a trace cannot serve as a known finding.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KnownError {
    /// It passes on the target: the bug is fixed (or the trace is of another target).
    Passes { name: String },
    /// Its `params:` or `choices:` header does not parse.
    Header { name: String, error: String },
    /// A concurrent trace: its divergence has no single failing step to take a shape from.
    Concurrent { name: String },
}

impl fmt::Display for KnownError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KnownError::Passes { name } => write!(
                f,
                "known finding {name} passes on this target: the bug is fixed (drop the file) or the trace is of another target"
            ),
            KnownError::Header { name, error } => write!(f, "known finding {name}: {error}"),
            KnownError::Concurrent { name } => write!(
                f,
                "known finding {name} is a concurrent trace; only sequential findings can be passed over"
            ),
        }
    }
}

impl std::error::Error for KnownError {}

impl KnownFinding {
    /// Replays `trace` on `target` under `base` (the campaign's profile, with the trace's own
    /// `params:` and `choices:` headers over it) and takes the shape of its divergence.
    pub fn replayed(
        target: &Target,
        base: &Profile,
        name: &str,
        trace: &Trace,
    ) -> Result<KnownFinding, KnownError> {
        if trace.is_concurrent() {
            return Err(KnownError::Concurrent {
                name: name.to_owned(),
            });
        }
        let profile = trace
            .profile_over(base.clone())
            .map_err(|error| KnownError::Header {
                name: name.to_owned(),
                error,
            })?;
        let run = run_ops_with(target, &profile, trace.token_seed(), &trace.ops(), None);
        let failure = run.failure.ok_or_else(|| KnownError::Passes {
            name: name.to_owned(),
        })?;
        Ok(KnownFinding {
            name: name.to_owned(),
            shape: failure.shape(),
        })
    }
}

/// Which of `known` a divergence is, if any.
pub fn matching(known: &[KnownFinding], failure: &Failure) -> Option<usize> {
    let shape = failure.shape();
    known.iter().position(|k| k.shape == shape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::DriverError;
    use crate::lockstep::Actual;
    use crate::model::{Grant, Op, Outcome, Reason, Token};

    fn refresh_failure(expected: Outcome, actual: Actual) -> Failure {
        Failure {
            step: 3,
            op: Op::Refresh {
                token: Token::Refresh {
                    session: 0,
                    generation: 0,
                },
            },
            expected,
            actual,
        }
    }

    /// Handles, generations and the exact wrong answer are not part of a shape; the kind of
    /// outcome expected and the category of the answer are.
    #[test]
    fn a_case_is_known_by_its_shape() {
        let revoked = Outcome::Rejected(Reason::InvalidGrant(Grant::Revoked));
        let reuse = Outcome::Rejected(Reason::InvalidGrant(Grant::Reuse));
        let refreshed = |generation| {
            Actual::Outcome(Outcome::Refreshed {
                session: 0,
                generation,
            })
        };
        let known = [KnownFinding {
            name: "revoked-honoured.trace".into(),
            shape: refresh_failure(revoked.clone(), refreshed(1)).shape(),
        }];
        let later = refresh_failure(revoked.clone(), refreshed(4));
        let expired_instead = refresh_failure(
            revoked.clone(),
            Actual::Outcome(Outcome::Rejected(Reason::InvalidGrant(Grant::Expired))),
        );
        let reuse_honoured = refresh_failure(reuse, refreshed(3));
        let violation = refresh_failure(
            revoked,
            Actual::Error(DriverError::Violation("no body".into())),
        );
        assert_eq!(matching(&known, &later), Some(0));
        assert_eq!(matching(&known, &expired_instead), Some(0));
        assert_eq!(matching(&known, &reuse_honoured), None);
        assert_eq!(matching(&known, &violation), None);
    }
}
