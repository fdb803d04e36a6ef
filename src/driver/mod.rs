//! The harness's side of the seam: a [`Connection`] to a running [`Instance`] turns the model's
//! operations into requests (symbolic handles → the concrete tokens the service issued) and the
//! service's answers into outcomes ([`outcome_of`], one function for every path). It knows
//! nothing of the model's state: it derives handles from what it sees (a session id it has not
//! seen before is a new session; a refresh token it has not seen before is the next
//! generation), so the comparison with the model tests the service, not the driver.

pub mod handles;
mod outcome;

pub use crate::adapters::http::{find_server_bin, HttpTarget};
pub use crate::adapters::in_process::{Flaw, InProcess, StoreKind};
pub use handles::Handles;
pub use outcome::outcome_of;

use crate::adapter::{Adapter, AdapterError, Answer, Control, Instance, Observability, Request};
use crate::model::{Choices, Code, Op, Outcome, Profile};

/// Why a step could not be compared (each is a failure of the service, not of the harness).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DriverError {
    /// The answer breaks a rule on its own (a token handed out twice, an unknown session id,
    /// a status the API never uses for that reason).
    Violation(String),
    /// The service failed (store error, 5xx), panicked, or could not be started.
    Service(String),
    /// The request died with the instance that served it (a `crash`): its effect is unknown.
    Lost(String),
}

impl std::fmt::Display for DriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DriverError::Violation(m) => write!(f, "protocol violation: {m}"),
            DriverError::Service(m) => write!(f, "service failure: {m}"),
            DriverError::Lost(m) => write!(f, "lost in a crash: {m}"),
        }
    }
}

impl std::error::Error for DriverError {}

impl From<AdapterError> for DriverError {
    fn from(e: AdapterError) -> Self {
        match e {
            AdapterError::Violation(m) => DriverError::Violation(m),
            AdapterError::Unavailable(m) => DriverError::Service(m),
        }
    }
}

/// How concurrent branches run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// At every interleaving point of the service a seeded scheduler decides how often the
    /// request yields, so the schedule seed replays the interleaving exactly (only services
    /// with interleaving hooks: the in-process `auth`; others run in real mode).
    Deterministic,
    /// Real parallelism (threads, or the server's own scheduling): not replayable.
    Real,
}

/// A system under test, driven one operation at a time (what the lockstep check runs).
pub trait Driver {
    fn apply(&mut self, op: &Op) -> Result<Outcome, DriverError>;

    /// Which distinctions the answers can show (the check projects both sides by it).
    fn observability(&self) -> Observability {
        Observability::ALL
    }

    /// The target's note on the last operation (which build answered it), if any.
    fn served_by(&self) -> Option<String> {
        None
    }
}

impl<D: Driver + ?Sized> Driver for Box<D> {
    fn apply(&mut self, op: &Op) -> Result<Outcome, DriverError> {
        (**self).apply(op)
    }

    fn observability(&self) -> Observability {
        (**self).observability()
    }

    fn served_by(&self) -> Option<String> {
        (**self).served_by()
    }
}

/// A running instance and the handles of what it handed out.
pub struct Connection<I = Box<dyn Instance>> {
    instance: I,
    handles: Handles,
    choices: Choices,
    observability: Observability,
}

impl Connection {
    /// A fresh instance of `adapter` under `profile`, drawing its random values from `seed`.
    pub fn start(adapter: &dyn Adapter, profile: &Profile, seed: u64) -> Result<Self, DriverError> {
        let instance = adapter.start(profile, seed)?;
        Ok(Connection::new(
            instance,
            profile.choices,
            adapter.observability(),
        ))
    }
}

impl<I: Instance> Connection<I> {
    pub fn new(instance: I, choices: Choices, observability: Observability) -> Self {
        Connection {
            instance,
            handles: Handles::default(),
            choices,
            observability,
        }
    }

    pub fn instance(&self) -> &I {
        &self.instance
    }

    pub fn instance_mut(&mut self) -> &mut I {
        &mut self.instance
    }

    /// The handles seen so far (for renderers and reports).
    pub fn handles(&self) -> &Handles {
        &self.handles
    }

    /// `op` as a request: its token rendered from the handles (or, in a concurrent branch,
    /// from the branch's `earlier` answers), its MFA code looked up.
    pub fn request(&self, op: &Op, earlier: &[Answer]) -> Request {
        prepare(&self.handles, op, earlier)
    }

    /// Runs `branches` at once, then `suffix`, recording every answer with its logical call
    /// and return time. Deterministic mode uses the instance's seeded scheduler where it has
    /// one, real threads otherwise.
    pub fn run_concurrent(
        &mut self,
        branches: &[Vec<Op>],
        suffix: &[Op],
        mode: Mode,
        schedule_seed: u64,
    ) -> Result<Vec<crate::concurrent::Event>, DriverError> {
        let handles = self.handles.clone();
        let prepare = move |op: &Op, earlier: &[Answer]| prepare(&handles, op, earlier);
        if mode == Mode::Deterministic {
            if let Some(events) =
                self.instance
                    .run_scheduled(branches, suffix, schedule_seed, &prepare)
            {
                return Ok(events);
            }
        }
        let caller = self.instance.caller().ok_or_else(|| {
            DriverError::Service("this target cannot take concurrent requests".into())
        })?;
        Ok(crate::concurrent::record_threads(
            caller.as_ref(),
            branches,
            suffix,
            &prepare,
        ))
    }
}

/// The request for `op`: handles rendered (a branch's own tokens from its earlier answers), the
/// MFA code to present.
pub fn prepare(handles: &Handles, op: &Op, earlier: &[Answer]) -> Request {
    let token = op
        .token()
        .map(|t| crate::concurrent::render_local(t, handles, earlier));
    let code = match op {
        Op::VerifyMfa { challenge, code } => {
            let right = handles.code(challenge).unwrap_or("000000").to_owned();
            Some(match code {
                Code::Right => right,
                Code::Wrong => wrong_code(&right),
            })
        }
        _ => None,
    };
    Request {
        op: op.clone(),
        token,
        code,
    }
}

/// A code that is certainly not `right`.
fn wrong_code(right: &str) -> String {
    if right == "000000" {
        "000001".into()
    } else {
        "000000".into()
    }
}

impl<I: Instance> Driver for Connection<I> {
    fn apply(&mut self, op: &Op) -> Result<Outcome, DriverError> {
        if let Some(control) = Control::of(op) {
            self.instance.control(&control)?;
            return Ok(Outcome::Ok);
        }
        let request = self.request(op, &[]);
        let answer = self.instance.call(&request);
        outcome_of(op, &answer, &mut self.handles, &self.choices)
    }

    fn observability(&self) -> Observability {
        self.observability
    }

    fn served_by(&self) -> Option<String> {
        self.instance.served_by()
    }
}

impl Instance for Box<dyn Instance> {
    fn call(&mut self, request: &Request) -> Answer {
        (**self).call(request)
    }

    fn control(&mut self, op: &Control) -> Result<(), AdapterError> {
        (**self).control(op)
    }

    fn caller(&self) -> Option<std::sync::Arc<dyn crate::adapter::Caller>> {
        (**self).caller()
    }

    fn served_by(&self) -> Option<String> {
        (**self).served_by()
    }

    fn run_scheduled(
        &mut self,
        branches: &[Vec<Op>],
        suffix: &[Op],
        schedule_seed: u64,
        prepare: &crate::adapter::Prepare<'_>,
    ) -> Option<Vec<crate::concurrent::Event>> {
        (**self).run_scheduled(branches, suffix, schedule_seed, prepare)
    }
}

/// A connection to a fresh in-process `auth` service (with `flaw` switched on, if any), under
/// this repository's protocol: what tests, benchmarks and the peer drive directly.
pub fn in_process(
    store: StoreKind,
    params: crate::model::Params,
    seed: u64,
    flaw: Option<Flaw>,
) -> Result<Connection<InProcess>, DriverError> {
    Ok(Connection::new(
        InProcess::with_flaw(store, params, seed, flaw)?,
        Choices::default(),
        Observability::ALL,
    ))
}
