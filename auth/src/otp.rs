//! The upstream OTP provider. The service asks it to send a code at login and to check a code at
//! verification, and fails closed on anything but a well-formed answer (PROTOCOL.md rule 7).
//!
//! Wire protocol (JSON over HTTP):
//! `POST {base}/send {destination} -> {challenge_ref}`,
//! `POST {base}/check {challenge_ref, code} -> {approved: bool}`.

use async_trait::async_trait;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::time::Duration;

/// Why the provider could not be used. All of them fail closed as `UpstreamUnavailable`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    #[error("OTP provider unreachable or timed out")]
    Unreachable,
    #[error("OTP provider answered status {0}")]
    Status(u16),
    #[error("OTP provider answered something that is not its protocol")]
    Garbage,
    #[error("no OTP provider is configured")]
    NotConfigured,
}

#[async_trait]
pub trait OtpProvider: Send + Sync {
    /// Sends a code to `destination`; returns the provider's handle for it.
    async fn send(&self, destination: &str) -> Result<String, UpstreamError>;
    /// Whether `code` is the code sent under `challenge_ref`.
    async fn check(&self, challenge_ref: &str, code: &str) -> Result<bool, UpstreamError>;
}

/// The real client: reqwest with a timeout on every call.
pub struct HttpOtpProvider {
    client: reqwest::Client,
    base: String,
}

#[derive(Serialize)]
struct SendRequest<'a> {
    destination: &'a str,
}

#[derive(Deserialize)]
struct SendResponse {
    challenge_ref: String,
}

#[derive(Serialize)]
struct CheckRequest<'a> {
    challenge_ref: &'a str,
    code: &'a str,
}

#[derive(Deserialize)]
struct CheckResponse {
    approved: bool,
}

/// Longest challenge handle we accept from the provider (we store it).
const MAX_REF_LEN: usize = 512;

impl HttpOtpProvider {
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| format!("cannot build HTTP client: {e}"))?;
        Ok(HttpOtpProvider {
            client,
            base: base_url.trim_end_matches('/').to_owned(),
        })
    }

    async fn post<B: Serialize, R: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<R, UpstreamError> {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .map_err(|_| UpstreamError::Unreachable)?;
        let status = response.status();
        if !status.is_success() {
            return Err(UpstreamError::Status(status.as_u16()));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|_| UpstreamError::Unreachable)?;
        serde_json::from_slice(&bytes).map_err(|_| UpstreamError::Garbage)
    }
}

#[async_trait]
impl OtpProvider for HttpOtpProvider {
    async fn send(&self, destination: &str) -> Result<String, UpstreamError> {
        let answer: SendResponse = self.post("/send", &SendRequest { destination }).await?;
        if answer.challenge_ref.is_empty() || answer.challenge_ref.len() > MAX_REF_LEN {
            return Err(UpstreamError::Garbage);
        }
        Ok(answer.challenge_ref)
    }

    async fn check(&self, challenge_ref: &str, code: &str) -> Result<bool, UpstreamError> {
        let answer: CheckResponse = self
            .post(
                "/check",
                &CheckRequest {
                    challenge_ref,
                    code,
                },
            )
            .await?;
        Ok(answer.approved)
    }
}

/// Used when no provider is configured: every MFA login fails closed.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoOtpProvider;

#[async_trait]
impl OtpProvider for NoOtpProvider {
    async fn send(&self, _: &str) -> Result<String, UpstreamError> {
        Err(UpstreamError::NotConfigured)
    }
    async fn check(&self, _: &str, _: &str) -> Result<bool, UpstreamError> {
        Err(UpstreamError::NotConfigured)
    }
}

/// How an in-process provider behaves (the `upstream` operation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OtpMode {
    Up,
    Down,
    Garbage,
}

/// An in-process provider for tests and the harness: it "sends" deterministic codes, remembers
/// them, and can be switched down or to garbage answers.
#[derive(Debug)]
pub struct MemoryOtpProvider {
    state: Mutex<MemoryOtpState>,
}

#[derive(Debug)]
struct MemoryOtpState {
    mode: OtpMode,
    next: u64,
    // A test double's own handles and its callers' destinations: no one floods these, so the
    // fast hash serves (SipHash was most of a `send` in a fuzz exec).
    codes: FxHashMap<String, String>,
    last_code: FxHashMap<String, String>,
    last_sent: Option<(String, String)>,
}

impl Default for MemoryOtpProvider {
    fn default() -> Self {
        MemoryOtpProvider {
            state: Mutex::new(MemoryOtpState {
                mode: OtpMode::Up,
                next: 0,
                codes: FxHashMap::default(),
                last_code: FxHashMap::default(),
                last_sent: None,
            }),
        }
    }
}

impl MemoryOtpProvider {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set_mode(&self, mode: OtpMode) {
        self.lock().mode = mode;
    }

    pub fn mode(&self) -> OtpMode {
        self.lock().mode
    }

    /// The last code sent to `destination`, as the user would read it off their phone.
    pub fn last_code(&self, destination: &str) -> Option<String> {
        self.lock().last_code.get(destination).cloned()
    }

    /// The destination and code of the last code sent, to anyone.
    pub fn last_sent(&self) -> Option<(String, String)> {
        self.lock().last_sent.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryOtpState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl OtpProvider for MemoryOtpProvider {
    async fn send(&self, destination: &str) -> Result<String, UpstreamError> {
        let mut state = self.lock();
        match state.mode {
            OtpMode::Down => return Err(UpstreamError::Unreachable),
            OtpMode::Garbage => return Err(UpstreamError::Garbage),
            OtpMode::Up => {}
        }
        state.next += 1;
        let challenge_ref = format!("ref-{}", state.next);
        // Six digits that differ from one challenge to the next.
        let code = format!("{:06}", (state.next * 7_919 + 104_729) % 1_000_000);
        state.codes.insert(challenge_ref.clone(), code.clone());
        state.last_code.insert(destination.to_owned(), code.clone());
        state.last_sent = Some((destination.to_owned(), code));
        Ok(challenge_ref)
    }

    async fn check(&self, challenge_ref: &str, code: &str) -> Result<bool, UpstreamError> {
        let state = self.lock();
        match state.mode {
            OtpMode::Down => Err(UpstreamError::Unreachable),
            OtpMode::Garbage => Err(UpstreamError::Garbage),
            OtpMode::Up => Ok(state
                .codes
                .get(challenge_ref)
                .is_some_and(|expected| crate::constant_time_eq(expected, code))),
        }
    }
}
