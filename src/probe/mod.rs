//! `authcheck probe`: model-checked synthetic monitoring of a live service. Every interval a
//! round runs the flows of [`flows`] against the service on the real clock, each answer checked
//! against the model ([`realtime`]), with metrics ([`metrics`]) and, for a divergence, a trace
//! that `authcheck replay --target URL` reproduces.
//!
//! Safe by construction: one account of the probe's own (its name starts with the configured
//! prefix; credentials from a file or the environment), registered once; no admin operation,
//! no password change, local logouts only; fewer wrong passwords than the lockout threshold;
//! what a flow opened is closed at its end; a request rate cap; and a `User-Agent` naming the
//! probe.

pub mod flows;
pub mod metrics;
pub mod realtime;
pub mod report;

use crate::adapter::Adapter;
use crate::coverage::Coverage;
use crate::driver::{Connection, Driver, HttpTarget};
use crate::model::{Op, Outcome, Profile, State};
use crate::trace::Trace;
use flows::{Account, Flow};
use realtime::{unix_now, Candidates};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the probe runs.
#[derive(Clone)]
pub struct ProbeConfig {
    /// How to reach the live service: any adapter of the seam whose service runs on the real
    /// clock (no clock of its own to move); [`ProbeConfig::http_target`] for the HTTP API of
    /// docs/PROTOCOL.md §9.
    pub adapter: Arc<dyn Adapter>,
    /// How the service is named in reports and replay commands (`--target …`).
    pub base: String,
    pub profile: Profile,
    pub account: Account,
    /// Flows that wait across a window on purpose.
    pub long: bool,
    /// At most this many requests per second.
    pub max_rps: f64,
    /// How far the service's clock may be from ours, in seconds.
    pub skew: u64,
    /// Where divergence traces go.
    pub out_dir: PathBuf,
}

impl ProbeConfig {
    /// The HTTP API at `base`, every request saying `User-Agent: authcheck-probe/VERSION`.
    pub fn http_target(base: &str) -> Arc<dyn Adapter> {
        Arc::new(HttpTarget::External {
            base: base.to_owned(),
            admin_token: None,
            user_agent: Some(format!("authcheck-probe/{}", env!("CARGO_PKG_VERSION"))),
        })
    }

    /// Refuses an adapter the probe cannot watch: one whose service keeps a clock of its own,
    /// or starts empty for every connection (the probe's account lives across rounds).
    pub fn check(&self) -> Result<(), String> {
        let caps = self.adapter.capabilities();
        if caps.clock || caps.fresh_start {
            return Err(format!(
                "{}: not a live service (it {}); the probe watches one that runs on the real clock and keeps its accounts",
                self.adapter.describe(),
                if caps.clock { "runs on a clock of its own" } else { "starts empty for every connection" }
            ));
        }
        Ok(())
    }
}

/// The probe's password stands in traces and logs as this (a replay registers a fresh account,
/// so any password works as long as it is the same one throughout).
pub const REDACTED: &str = "probe-password-redacted";

/// `op` with the probe's password replaced by [`REDACTED`] (a wrong password keeps its tail).
fn redact(op: &Op, secret: &str) -> Op {
    let hide = |p: &mut crate::model::Text| {
        if let Some(tail) = p.strip_prefix(secret) {
            *p = format!("{REDACTED}{tail}").into();
        }
    };
    let mut op = op.clone();
    match &mut op {
        Op::Register { password, .. }
        | Op::Login { password, .. }
        | Op::Reauthenticate { password, .. } => hide(password),
        Op::ChangePassword { old, new, .. } => {
            hide(old);
            hide(new);
        }
        _ => {}
    }
    op
}

/// The model's state at the start of every flow, as the report shows the flow (password
/// redacted): the probe's account registered, nothing else.
pub fn flow_start(config: &ProbeConfig) -> State {
    let mut state = State::with_choices(config.profile.params, config.profile.choices);
    state.apply(&Op::Register {
        user: config.account.user.as_str().into(),
        password: REDACTED.into(),
        mfa: false,
    });
    state
}

/// What one flow of a round did.
#[derive(Debug, Clone)]
pub struct FlowRun {
    pub name: &'static str,
    pub requests: u64,
    pub divergence: Option<Divergence>,
    /// The service could not be reached or answered nothing the API defines (not a
    /// divergence: there is no answer to hold against the model).
    pub unreachable: Option<String>,
    /// Every request of the flow with what the service answered (the password redacted), for
    /// the report.
    pub steps: Vec<crate::html::sequence::StepInput>,
}

/// An answer the model did not allow.
#[derive(Debug, Clone)]
pub struct Divergence {
    pub flow: &'static str,
    /// 1-based step of the flow.
    pub step: usize,
    pub op: Op,
    pub expected: String,
    pub actual: String,
    /// The trace written for it.
    pub trace_file: PathBuf,
    pub replay: String,
}

/// One round: every flow once.
#[derive(Debug, Clone, Default)]
pub struct Round {
    pub flows: Vec<FlowRun>,
}

impl Round {
    pub fn passed(&self) -> bool {
        self.flows
            .iter()
            .all(|f| f.divergence.is_none() && f.unreachable.is_none())
    }

    pub fn requests(&self) -> u64 {
        self.flows.iter().map(|f| f.requests).sum()
    }
}

/// The probe: its configuration, its metrics and what it has seen.
pub struct Probe {
    pub config: ProbeConfig,
    pub metrics: metrics::Metrics,
    coverage: Coverage,
    /// The flows of every round (they follow from the configuration alone).
    flows: Vec<Flow>,
    last_request: Option<Instant>,
    /// Requests whose send..receive window held a deadline (either answer was accepted).
    pub straddled: u64,
}

impl Probe {
    /// A probe of `config` (see [`ProbeConfig::check`] for what it can watch).
    pub fn new(config: ProbeConfig) -> Self {
        let caps = config.adapter.capabilities();
        let coverage = Coverage::scoped(config.profile.choices, caps)
            .with_fixed_numbers(&config.profile.params);
        let flows = flows::flows(&config.profile, &config.account, config.long);
        Probe {
            config,
            metrics: metrics::Metrics::default(),
            coverage,
            flows,
            last_request: None,
            straddled: 0,
        }
    }

    /// What the probe's answers have reached so far.
    pub fn coverage(&self) -> &Coverage {
        &self.coverage
    }

    /// Registers the probe's account (once: an account that already exists is fine). Its
    /// password is checked by the first login of every round.
    pub fn ensure_account(&mut self) -> Result<(), String> {
        let mut driver = Connection::start(self.config.adapter.as_ref(), &self.config.profile, 0)
            .map_err(|e| format!("{}: {e}", self.config.base))?;
        self.pace();
        let answer = driver
            .apply(&Op::Register {
                user: self.config.account.user.as_str().into(),
                password: self.config.account.password.as_str().into(),
                mfa: false,
            })
            .map_err(|e| {
                format!(
                    "{}: cannot register the probe account: {e}",
                    self.config.base
                )
            })?;
        self.metrics.requests.inc();
        match answer {
            Outcome::Registered => Ok(()),
            Outcome::Rejected(crate::model::Reason::UsernameTaken) => Ok(()),
            other => Err(format!(
                "{}: registering the probe account {:?} answered {other}",
                self.config.base, self.config.account.user
            )),
        }
    }

    /// Runs every flow once.
    pub fn round(&mut self) -> Round {
        let mut round = Round::default();
        let flows = std::mem::take(&mut self.flows);
        for flow in &flows {
            let run = self.run_flow(flow);
            self.metrics
                .flow_success(flow.name, run.divergence.is_none());
            if let Some(d) = &run.divergence {
                self.metrics.divergences.inc();
                self.metrics.last_divergence.set(unix_now());
                tracing::error!(
                    flow = d.flow,
                    step = d.step,
                    op = %d.op,
                    expected = %d.expected,
                    actual = %d.actual,
                    trace = %d.trace_file.display(),
                    "the service left the model"
                );
            }
            round.flows.push(run);
        }
        self.flows = flows;
        self.metrics.rounds.inc();
        self.metrics
            .coverage_pairs
            .set(self.coverage.covered() as i64);
        self.metrics
            .coverage_ratio
            .set(self.coverage.covered() as f64 / self.coverage.total().max(1) as f64);
        round
    }

    /// Waits so that requests stay under the rate cap.
    fn pace(&mut self) {
        let gap = Duration::from_secs_f64(1.0 / self.config.max_rps.max(0.001));
        if let Some(last) = self.last_request {
            let since = last.elapsed();
            if since < gap {
                std::thread::sleep(gap - since);
            }
        }
        self.last_request = Some(Instant::now());
    }

    fn run_flow(&mut self, flow: &Flow) -> FlowRun {
        let mut run = FlowRun {
            name: flow.name,
            requests: 0,
            divergence: None,
            unreachable: None,
            steps: Vec::new(),
        };
        let profile = self.config.profile.clone();
        let mut driver = match Connection::start(self.config.adapter.as_ref(), &profile, 0) {
            Ok(d) => d,
            Err(e) => {
                run.unreachable = Some(e.to_string());
                return run;
            }
        };
        let seen = driver.observability();
        // The account exists: the model registers it without asking the service.
        let mut start = State::with_choices(profile.params, profile.choices);
        start.now = unix_now().floor() as u64;
        start.apply(&Op::Register {
            user: self.config.account.user.as_str().into(),
            password: self.config.account.password.as_str().into(),
            mfa: false,
        });
        let mut model = Candidates::new(start);
        let mut sent: Vec<(Op, f64)> = Vec::new();
        let mut ops: Vec<Op> = flow.ops.clone();
        let mut i = 0;
        let mut cleaned = false;
        while i < ops.len() || !cleaned {
            if i == ops.len() {
                // What the flow left open is closed: the model says what that is.
                ops.extend(flows::cleanup(model.any()));
                cleaned = true;
                continue;
            }
            let op = ops[i].clone();
            i += 1;
            if let Op::Tick { seconds } = op {
                std::thread::sleep(Duration::from_secs(seconds));
                model.wait_until(unix_now().floor() as u64);
                continue;
            }
            self.pace();
            let t0 = unix_now();
            let answer = driver.apply(&op);
            let t1 = unix_now();
            run.requests += 1;
            self.metrics.requests.inc();
            self.metrics
                .observe_latency(&format!("{:?}", op.kind()), t1 - t0);
            sent.push((op.clone(), t0));
            let actual = match answer {
                Ok(actual) => actual,
                Err(e) => {
                    let shown = redact(&op, &self.config.account.password);
                    run.unreachable = Some(format!("step {} `{shown}`: {e}", sent.len()));
                    return run;
                }
            };
            let straddled = model.straddled;
            let expected = model.expected_at(&op, t0.floor() as u64).to_string();
            let ok = model.accept(&op, &actual, t0, t1, self.config.skew, &seen);
            self.straddled += model.straddled - straddled;
            run.steps.push(crate::html::sequence::StepInput {
                op: redact(&op, &self.config.account.password),
                expected: if ok {
                    actual.to_string()
                } else {
                    expected.clone()
                },
                actual: Some(actual.to_string()),
            });
            if ok {
                self.coverage.record(op.kind(), actual.kind());
                continue;
            }
            run.divergence =
                Some(self.divergence(flow, sent.len(), &op, &expected, &actual.to_string(), &sent));
            return run;
        }
        run
    }

    /// Writes the trace of a divergence: the account's registration (so a replay on the live
    /// service, which gives it a fresh name, starts from nothing) and the requests as sent.
    fn divergence(
        &self,
        flow: &Flow,
        step: usize,
        op: &Op,
        expected: &str,
        actual: &str,
        sent: &[(Op, f64)],
    ) -> Divergence {
        let secret = &self.config.account.password;
        let op = &redact(op, secret);
        let mut ops = vec![Op::Register {
            user: self.config.account.user.as_str().into(),
            password: REDACTED.into(),
            mfa: false,
        }];
        ops.extend(sent.iter().map(|(op, _)| redact(op, secret)));
        let first = sent.first().map_or(0.0, |(_, t)| *t);
        let timing: Vec<String> = sent
            .iter()
            .enumerate()
            .map(|(i, (_, t))| format!("{}@+{:.3}s", i + 2, t - first))
            .collect();
        let now = unix_now();
        let header = vec![
            "authcheck trace".to_owned(),
            format!(
                "reproduces: step {} `{op}` expected `{expected}`, service answered `{actual}`",
                step + 1
            ),
            format!(
                "found-by: authcheck probe --target {} (flow {}, at unix time {:.0})",
                self.config.base, flow.name, now
            ),
            format!("sent-at: {}", timing.join(" ")),
        ];
        let expectations = crate::lockstep::expectations_with(&self.config.profile, &ops);
        let mut trace = Trace::new(&header, &ops, &expectations);
        trace.set_profile(&self.config.profile);
        let _ = std::fs::create_dir_all(&self.config.out_dir);
        let file =
            self.config
                .out_dir
                .join(format!("probe-{}-{}.trace", flow.name, now.floor() as u64));
        let _ = std::fs::write(&file, trace.to_string());
        Divergence {
            flow: flow.name,
            step,
            op: op.clone(),
            expected: expected.to_owned(),
            actual: actual.to_owned(),
            replay: format!(
                "authcheck replay {} --target {}",
                file.display(),
                self.config.base
            ),
            trace_file: file,
        }
    }
}
