//! wiremock playing the upstream OTP provider for a server under test: it "sends" deterministic
//! codes, checks them, and follows the model's `UpstreamFault` ops (down: 503, garbage: 200 with
//! a body that is not the protocol).

use crate::model::Upstream;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

#[derive(Default)]
struct State {
    mode: Upstream,
    sent: u64,
    codes: HashMap<String, String>,
    last_code: Option<String>,
}

#[derive(Clone, Default)]
pub struct OtpMock {
    state: Arc<Mutex<State>>,
}

struct Send(OtpMock);
struct Check(OtpMock);

impl OtpMock {
    /// Mounts `/send` and `/check` on `server`.
    pub async fn mount(&self, server: &MockServer) {
        Mock::given(method("POST"))
            .and(path("/send"))
            .respond_with(Send(self.clone()))
            .mount(server)
            .await;
        Mock::given(method("POST"))
            .and(path("/check"))
            .respond_with(Check(self.clone()))
            .mount(server)
            .await;
    }

    pub fn set_mode(&self, mode: Upstream) {
        self.lock().mode = mode;
    }

    /// The code of the last successful send (what the user would read off their phone).
    pub fn last_code(&self) -> Option<String> {
        self.lock().last_code.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fault(&self) -> Option<ResponseTemplate> {
        match self.lock().mode {
            Upstream::Up => None,
            Upstream::Down => Some(ResponseTemplate::new(503)),
            Upstream::Garbage => {
                Some(ResponseTemplate::new(200).set_body_string("<html>gateway timeout</html>"))
            }
        }
    }
}

impl Respond for Send {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        if let Some(fault) = self.0.fault() {
            return fault;
        }
        let mut s = self.0.lock();
        s.sent += 1;
        let reference = format!("ref-{}", s.sent);
        let code = format!("{:06}", (s.sent * 7_919 + 104_729) % 1_000_000);
        s.codes.insert(reference.clone(), code.clone());
        s.last_code = Some(code);
        ResponseTemplate::new(200).set_body_json(serde_json::json!({ "challenge_ref": reference }))
    }
}

impl Respond for Check {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if let Some(fault) = self.0.fault() {
            return fault;
        }
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let s = self.0.lock();
        let approved = match (body["challenge_ref"].as_str(), body["code"].as_str()) {
            (Some(r), Some(code)) => s.codes.get(r).is_some_and(|c| c == code),
            _ => false,
        };
        ResponseTemplate::new(200).set_body_json(serde_json::json!({ "approved": approved }))
    }
}
