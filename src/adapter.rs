//! **The seam.** To check your own session service, implement [`Adapter`] (how to start a
//! fresh instance of it, what it can do) and [`Instance`] (how to run one operation against a
//! running instance). That is all: every engine — sequential lockstep, concurrent cases and the
//! linearizability check, shrinking, replay, promote, fuzzing, the CLI — runs over these two
//! traits. `examples/` holds a complete adapter for a service that is not this repository's;
//! `src/adapters/` holds the two this repository ships (`auth` in process, and the HTTP API of
//! docs/PROTOCOL.md).
//!
//! An instance is given [`Request`]s — the model's operation with its token already turned into
//! the concrete string your service issued — and answers with an [`Answer`]: what your service
//! said, in a small vocabulary (tokens, a principal, a rejection with its reason, …). The
//! harness keeps the symbolic handles, turns answers into the model's outcomes (one function,
//! [`crate::driver::outcome_of`], for every path), and compares.
//!
//! What your API cannot show is declared, not faked: [`Observability`] lists the distinctions
//! an API may not make (why a refresh was refused, whether a login failed on a lock), and the
//! harness projects both sides the same way before comparing; the summary says what could not
//! be observed. What your service cannot be asked to do is declared in [`Capabilities`], and
//! the generator never produces it.

use crate::model::{Aal, Op, Outcome, Profile, Reason, RolloutStep, Upstream, Version};
use std::sync::Arc;

/// A kind of service under test: starts fresh instances of it.
pub trait Adapter: Send + Sync {
    /// How the command line names this target again (`--target …` words), for the replay
    /// commands a report prints.
    fn describe(&self) -> String;

    /// What the harness may ask of the service besides the protocol.
    fn capabilities(&self) -> Capabilities;

    /// Which distinctions between outcomes the service's API shows.
    fn observability(&self) -> Observability {
        Observability::ALL
    }

    /// The protocol the service means to follow (numbers and choices); `--profile` overrides.
    fn profile(&self) -> Profile {
        Profile::default()
    }

    /// A fresh instance over an empty store, configured with `profile`'s numbers where
    /// [`Capabilities::params`] says it can be, drawing its random values from `seed` where it
    /// lets us (so a failing case replays with the same tokens).
    fn start(&self, profile: &Profile, seed: u64) -> Result<Box<dyn Instance>, AdapterError>;
}

/// A running service (and whatever the harness controls around it: clock, OTP provider).
pub trait Instance: Send {
    /// Runs one protocol operation (never one of the [`Control`]s).
    fn call(&mut self, request: &Request) -> Answer;

    /// `Tick` (advance the service's clock), `Deploy`, `Restart` (over the same store),
    /// `UpstreamFault` (how the OTP provider behaves from now on), and an upgrade's rollout
    /// steps and crashes. Only those the adapter's capabilities claim are ever asked for.
    fn control(&mut self, op: &Control) -> Result<(), AdapterError>;

    /// A note on the last call or control for reports (`answered by the new build` in an
    /// upgrade's mixed window), when there is something to say.
    fn served_by(&self) -> Option<String> {
        None
    }

    /// Something that takes calls from several threads at once, for concurrent cases (real
    /// concurrency). `None`: the service is only ever called one request at a time.
    fn caller(&self) -> Option<Arc<dyn Caller>> {
        None
    }

    /// Runs concurrent branches under a seeded schedule, so an interleaving replays exactly
    /// (needs interleaving hooks inside the service; only the in-process `auth` adapter has
    /// them). `None`: not supported, the engine runs branches on threads over [`Instance::caller`].
    fn run_scheduled(
        &mut self,
        _branches: &[Vec<Op>],
        _suffix: &[Op],
        _schedule_seed: u64,
        _prepare: &Prepare<'_>,
    ) -> Option<Vec<crate::concurrent::Event>> {
        None
    }
}

/// Turns a branch operation into a request, given the branch's earlier answers (a branch may
/// use the tokens its own earlier operations received).
pub type Prepare<'a> = dyn Fn(&Op, &[Answer]) -> Request + Send + Sync + 'a;

/// Takes protocol calls from several threads at once.
pub trait Caller: Send + Sync {
    fn call(&self, request: &Request) -> Answer;
}

/// An operation that is not a request: the harness's control of time, builds and the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Advance the service's clock.
    Tick(u64),
    /// Replace the service with this version, over the same store.
    Deploy(Version),
    /// Stop and start the service over the same store.
    Restart,
    /// The OTP provider behaves like this from now on.
    Upstream(Upstream),
    /// A step of a rolling upgrade (only targets with [`Capabilities::rollout`]).
    Rollout(RolloutStep),
    /// Kill the instance that serves the next request while that request is in flight, then
    /// start it again over the same store (only targets with [`Capabilities::crash`]). The call
    /// answers [`Answer::Lost`] when the request died with the instance.
    Crash,
}

impl Control {
    /// Whether `op` is a protocol request, not a control ([`Control::of`] is `None`): a test of
    /// the operation's discriminant, for loops that ask on every step.
    #[inline]
    pub fn is_request(op: &Op) -> bool {
        !matches!(
            op,
            Op::Tick { .. }
                | Op::Deploy { .. }
                | Op::Restart
                | Op::UpstreamFault { .. }
                | Op::Rollout { .. }
                | Op::Crash
        )
    }

    /// The control an operation stands for (`None` for protocol requests).
    pub fn of(op: &Op) -> Option<Control> {
        Some(match op {
            Op::Tick { seconds } => Control::Tick(*seconds),
            Op::Deploy { version } => Control::Deploy(*version),
            Op::Restart => Control::Restart,
            Op::UpstreamFault { mode } => Control::Upstream(*mode),
            Op::Rollout { step } => Control::Rollout(*step),
            Op::Crash => Control::Crash,
            _ => return None,
        })
    }
}

/// One protocol operation, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The model's operation (user names, passwords, scopes … as they are to be sent; its
    /// token is a symbolic handle — send [`Request::token`] instead).
    pub op: Op,
    /// The concrete token the operation presents: what your service issued for that handle,
    /// or a hostile string (forged, truncated, garbage, another kind of token).
    pub token: Option<String>,
    /// For `VerifyMfa`: the code to type — the one the provider sent, or a wrong one.
    pub code: Option<String>,
}

/// What a service answered, in the harness's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `Register` succeeded.
    Registered,
    /// A login, an MFA verification, a refresh or a password change handed out tokens.
    /// `session_id` is `None` when the API does not name sessions (then
    /// [`Observability::session_ids`] is false and the harness tells sessions apart itself).
    Tokens {
        session_id: Option<String>,
        access: String,
        refresh: String,
        aal: Aal,
    },
    /// A login needs a second factor: the challenge id, and the code the provider sent (when
    /// the adapter controls the provider and can read it).
    Challenge { id: String, code: Option<String> },
    /// An authenticated call (`Access`, `Sensitive`) went through, for this user.
    Principal {
        username: String,
        aal: Aal,
        session_id: Option<String>,
    },
    /// `Reauthenticate`, `Logout`, `Revoke`, or an admin operation succeeded.
    Done,
    /// Refused, for this reason.
    Rejected(Reason),
    /// The answer breaks the API's own contract (a status the API never uses for that
    /// reason, a body of the wrong shape): a finding in its own right.
    Violation(String),
    /// The service failed (a 5xx, a crash, a store error, a panic).
    Failed(String),
    /// The request was in flight when the harness killed the instance (after a
    /// [`Control::Crash`]): whether it took effect is unknown, and the check accepts either.
    Lost(String),
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Tokens { session_id, .. } => match session_id {
                Some(id) => write!(f, "tokens of session {id}"),
                None => write!(f, "tokens"),
            },
            Answer::Principal { username, .. } => write!(f, "authorized {username:?}"),
            Answer::Challenge { .. } => write!(f, "mfa-required"),
            Answer::Rejected(r) => write!(f, "{}", Outcome::Rejected(*r)),
            Answer::Violation(m) => write!(f, "protocol violation: {m}"),
            Answer::Failed(m) => write!(f, "service failure: {m}"),
            Answer::Lost(m) => write!(f, "lost in a crash: {m}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// What a service lets the harness do besides the protocol itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// A manual clock (`Tick`). Without it real time passes and deadlines are left alone.
    pub clock: bool,
    /// `Deploy` and `Restart` over the same store.
    pub lifecycle: bool,
    /// MFA logins can be completed: the adapter reads the codes the provider sends.
    pub mfa: bool,
    /// The OTP provider can be made to fail (`UpstreamFault`).
    pub upstream_faults: bool,
    /// The admin operations (disable, enable, unlock) can be called.
    pub admin: bool,
    /// The protocol numbers (TTLs, windows, thresholds) can be set per instance, so a
    /// campaign may draw them (parameter swarm).
    pub params: bool,
    /// Requests may be sent concurrently (concurrent cases).
    pub concurrency: bool,
    /// Concurrent branches can run under a seeded schedule that replays exactly
    /// ([`Instance::run_scheduled`]); otherwise they run with real parallelism.
    pub scheduling: bool,
    /// Rolling upgrades between two builds over one store ([`Control::Rollout`]).
    pub rollout: bool,
    /// The instance can be killed with a request in flight ([`Control::Crash`]).
    pub crash: bool,
    /// Every [`Adapter::start`] is a fresh, empty service. A shared server (one already
    /// running) is not: the harness then gives each case its own user names.
    pub fresh_start: bool,
}

impl Capabilities {
    pub const ALL: Capabilities = Capabilities {
        clock: true,
        lifecycle: true,
        mfa: true,
        upstream_faults: true,
        admin: true,
        params: true,
        concurrency: true,
        scheduling: true,
        // Upgrades and crashes need two builds and real processes: only `authcheck upgrade`'s
        // target has them, so "everything" means everything a single build can do.
        rollout: false,
        crash: false,
        fresh_start: true,
    };

    /// A black box: the protocol, sent one request at a time or concurrently, nothing else.
    pub const BLACK_BOX: Capabilities = Capabilities {
        clock: false,
        lifecycle: false,
        mfa: false,
        upstream_faults: false,
        admin: false,
        params: false,
        concurrency: true,
        scheduling: false,
        rollout: false,
        crash: false,
        fresh_start: false,
    };

    /// The kinds of operations these capabilities leave out, for the summary.
    pub fn left_out(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if !self.clock {
            out.push("tick (no manual clock)");
        }
        if !self.lifecycle && self.rollout {
            out.push("deploy, restart (an upgrade deploys by rollout steps, restarts by crashes)");
        } else if !self.lifecycle {
            out.push("deploy, restart (not our process)");
        }
        if !self.mfa {
            out.push("MFA accounts (codes cannot be read)");
        }
        if !self.upstream_faults {
            out.push("upstream faults (not our OTP provider)");
        }
        if !self.admin {
            out.push("admin-disable/enable/unlock (no admin access)");
        }
        if !self.params {
            out.push("protocol numbers other than the profile's (not configurable per case)");
        }
        if !self.concurrency {
            out.push("concurrent cases");
        }
        out
    }
}

/// Which distinctions between outcomes a service's API shows. Where it cannot show one, the
/// model's answer and the service's are projected the same way before they are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Observability {
    /// Why a refresh was refused (`unknown`, `expired`, `revoked`, `reuse`).
    pub grant_reasons: bool,
    /// Why an access token was refused (`unknown`, `expired`, `revoked`).
    pub token_reasons: bool,
    /// A locked account answers differently from a wrong password.
    pub locked: bool,
    /// A disabled account answers differently from a wrong password.
    pub disabled: bool,
    /// Answers name the session (tokens and principals carry a session id).
    pub session_ids: bool,
    /// Answers say the assurance level (aal1 / aal2).
    pub aal: bool,
}

impl Observability {
    pub const ALL: Observability = Observability {
        grant_reasons: true,
        token_reasons: true,
        locked: true,
        disabled: true,
        session_ids: true,
        aal: true,
    };

    /// `outcome` as this API can show it.
    pub fn project(&self, outcome: &Outcome) -> Outcome {
        use crate::model::{Grant, TokenReason};
        let mut o = outcome.clone();
        match &mut o {
            Outcome::Rejected(Reason::InvalidGrant(g)) if !self.grant_reasons => {
                *g = Grant::Unknown
            }
            Outcome::Rejected(Reason::Unauthorized(t)) if !self.token_reasons => {
                *t = TokenReason::Unknown
            }
            Outcome::Rejected(r @ Reason::Locked) if !self.locked => {
                *r = Reason::InvalidCredentials
            }
            Outcome::Rejected(r @ Reason::Disabled) if !self.disabled => {
                *r = Reason::InvalidCredentials
            }
            _ => {}
        }
        if !self.aal {
            match &mut o {
                Outcome::Issued { aal, .. } | Outcome::Authorized { aal, .. } => *aal = Aal::Aal1,
                _ => {}
            }
        }
        if !self.session_ids {
            if let Outcome::Authorized { session, .. } = &mut o {
                *session = usize::MAX;
            }
        }
        o
    }

    /// Whether `a` and `b` look the same through this API (without copying either when they
    /// are simply equal, the lockstep's usual case: inlined into the loop, with the projection
    /// out of line).
    #[inline]
    pub fn agree(&self, a: &Outcome, b: &Outcome) -> bool {
        a == b || self.agree_projected(a, b)
    }

    #[inline(never)]
    fn agree_projected(&self, a: &Outcome, b: &Outcome) -> bool {
        self.project(a) == self.project(b)
    }

    /// What this API cannot show, for the summary.
    pub fn hidden(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut note = |shown: bool, what| {
            if !shown {
                out.push(what);
            }
        };
        note(self.grant_reasons, "why a refresh was refused");
        note(self.token_reasons, "why an access token was refused");
        note(self.locked, "a lock (it answers like a wrong password)");
        note(
            self.disabled,
            "a disabled account (it answers like a wrong password)",
        );
        note(self.session_ids, "which session an access token belongs to");
        note(self.aal, "assurance levels");
        out
    }
}

/// Why an adapter could not do what it was asked (the instance could not start, a control
/// operation failed). Answers to protocol calls are [`Answer`]s, never errors.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdapterError {
    /// The service could not be started, stopped or reached.
    Unavailable(String),
    /// The service did something the protocol forbids while being controlled (a deploy that
    /// came back as another version, say).
    Violation(String),
}

impl std::fmt::Display for AdapterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdapterError::Unavailable(m) => write!(f, "service unavailable: {m}"),
            AdapterError::Violation(m) => write!(f, "protocol violation: {m}"),
        }
    }
}

impl std::error::Error for AdapterError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Code, RolloutStep, Scope, Token, Upstream, Version};

    #[test]
    fn is_request_is_what_has_no_control() {
        let t = || Token::Access(0);
        let ops = [
            Op::Register {
                user: "a".into(),
                password: "p".into(),
                mfa: true,
            },
            Op::Login {
                user: "a".into(),
                password: "p".into(),
                device: 0,
            },
            Op::VerifyMfa {
                challenge: Token::Challenge(0),
                code: Code::Right,
            },
            Op::Refresh { token: t() },
            Op::Access { token: t() },
            Op::Sensitive { token: t() },
            Op::Reauthenticate {
                token: t(),
                password: "p".into(),
            },
            Op::Logout {
                token: t(),
                scope: Scope::Global,
            },
            Op::Revoke { token: t() },
            Op::ChangePassword {
                token: t(),
                old: "p".into(),
                new: "q".into(),
            },
            Op::AdminDisable { user: "a".into() },
            Op::AdminEnable { user: "a".into() },
            Op::AdminUnlock { user: "a".into() },
            Op::Tick { seconds: 1 },
            Op::Deploy {
                version: Version::V2,
            },
            Op::Restart,
            Op::UpstreamFault {
                mode: Upstream::Down,
            },
            Op::Rollout {
                step: RolloutStep::Start,
            },
            Op::Crash,
        ];
        // One of every kind (a new kind fails here until it is listed).
        let kinds: std::collections::BTreeSet<_> = ops.iter().map(Op::kind).collect();
        assert_eq!(kinds.len(), crate::model::op::OpKind::ALL.len());
        for op in &ops {
            assert_eq!(Control::is_request(op), Control::of(op).is_none(), "{op:?}");
        }
        assert_eq!(ops.iter().filter(|op| Control::is_request(op)).count(), 13);
    }
}
