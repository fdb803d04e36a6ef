//! Drivers run operations against a system under test and abstract its answers to the model's
//! [`Outcome`] vocabulary. A driver knows nothing of the model's state: it keeps its own map from
//! handles to the concrete tokens the service returned, and derives handles from what it sees
//! (a session id it has not seen before is a new session; a refresh token it has not seen before
//! is the next generation), so the comparison with the model tests the service, not the driver.

pub mod handles;
pub mod http;
mod in_process;
mod otp_mock;

pub use handles::Handles;
pub use http::{Capabilities, HttpDriver, HttpTarget};
pub use in_process::{Flaw, InProcess, Mode, StoreKind};

use crate::model::{Op, Outcome};

/// Why a step could not be compared (each is a failure of the service, not of the harness).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverError {
    /// The answer breaks a rule on its own (a token handed out twice, an unknown session id).
    Violation(String),
    /// The service failed (store error, 5xx) or panicked.
    Service(String),
}

impl std::fmt::Display for DriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DriverError::Violation(m) => write!(f, "protocol violation: {m}"),
            DriverError::Service(m) => write!(f, "service failure: {m}"),
        }
    }
}

/// A system under test, driven one operation at a time.
pub trait Driver {
    fn apply(&mut self, op: &Op) -> Result<Outcome, DriverError>;
}

impl<D: Driver + ?Sized> Driver for Box<D> {
    fn apply(&mut self, op: &Op) -> Result<Outcome, DriverError> {
        (**self).apply(op)
    }
}
