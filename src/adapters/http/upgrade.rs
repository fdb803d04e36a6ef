//! The upgrade target (`authcheck upgrade --from OLD --to NEW`): two builds of a server that
//! speaks the HTTP API of docs/PROTOCOL.md and `auth-server`'s command line, over **one**
//! SQLite file, the way an update ships.
//!
//! | step | what happens |
//! |---|---|
//! | (start) | OLD serves alone over a fresh store |
//! | `rollout start` | a NEW instance starts beside OLD (its migrations expand the schema); until the rollout ends, each request goes to OLD or NEW, chosen by the case seed |
//! | `rollout finish` | OLD stops: NEW serves alone |
//! | `rollback` | NEW stops, OLD starts again over what NEW wrote; after `finalize`, an OLD build that cannot read the store must refuse to start (and NEW keeps serving) |
//! | `finalize` | with NEW alone: `NEW --finalize-schema` (the contract step) |
//! | `crash` | the instance that serves the next request is killed (SIGKILL) with it in flight, at a commit the seed picks (through the test hooks' crash point), then started again |
//!
//! The model does not know any of this: every build must answer as the specification says at
//! every step. Each answer is labelled with the build that gave it.

use super::server::{Server, ServerCommand, ADMIN_TOKEN};
use super::{otp_provider, runtime_and_client, Client};
use crate::adapter::{Adapter, AdapterError, Answer, Capabilities, Control, Instance, Request};
use crate::model::{Profile, RolloutStep};
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The two builds of an upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeTarget {
    pub from: ServerCommand,
    pub to: ServerCommand,
    /// How the command line named them (for replay commands).
    pub from_words: String,
    pub to_words: String,
}

impl UpgradeTarget {
    /// An update between two commands, named on a command line by their own words.
    pub fn between(from: ServerCommand, to: ServerCommand) -> Self {
        let words = |c: &ServerCommand| {
            std::iter::once(c.program.display().to_string())
                .chain(c.args.iter().cloned())
                .collect::<Vec<_>>()
                .join(" ")
        };
        UpgradeTarget {
            from_words: words(&from),
            to_words: words(&to),
            from,
            to,
        }
    }
}

impl Adapter for UpgradeTarget {
    fn describe(&self) -> String {
        format!(
            "--target upgrade --from {} --to {}",
            shell_word(&self.from_words),
            shell_word(&self.to_words)
        )
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            // Restarts and deploys are what rollouts, rollbacks and crashes are made of here.
            lifecycle: false,
            // One request at a time: which build answers is the variable under test.
            concurrency: false,
            scheduling: false,
            rollout: true,
            crash: true,
            ..Capabilities::ALL
        }
    }

    fn start(&self, profile: &Profile, seed: u64) -> Result<Box<dyn Instance>, AdapterError> {
        Ok(Box::new(UpgradeInstance::new(self, profile, seed)?))
    }
}

/// `word` quoted for a shell when it has spaces.
fn shell_word(word: &str) -> String {
    if word.contains(char::is_whitespace) {
        format!("'{word}'")
    } else {
        word.to_owned()
    }
}

/// Where the rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Old,
    Mixed,
    New,
    Finalized,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Build {
    Old,
    New,
}

/// OLD and NEW over one store, and the rollout between them.
pub struct UpgradeInstance {
    client: Arc<Client>,
    old: Server,
    new: Server,
    phase: Phase,
    seed: u64,
    /// The manual clock every instance shares (started at it, ticked together).
    now: u64,
    crash_next: bool,
    /// How often each request text has been sent (routing is a function of the seed, the
    /// request and its occurrence, so removing other requests does not reroute it).
    sent: HashMap<String, u64>,
    served_by: Option<String>,
    _otp_server: wiremock::MockServer,
    _dir: tempfile::TempDir,
}

impl UpgradeInstance {
    fn new(target: &UpgradeTarget, profile: &Profile, seed: u64) -> Result<Self, AdapterError> {
        let (rt, http) = runtime_and_client(None)?;
        let (otp, otp_server) = otp_provider(&rt);
        // A crash here is a process's, not a machine's: the page cache survives it, so the
        // store may live in memory-backed /dev/shm where there is one (fsyncs cost nothing).
        let shm = std::path::Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            tempfile::Builder::new()
                .prefix("authcheck-upgrade")
                .tempdir_in(shm)
        } else {
            tempfile::tempdir()
        }
        .map_err(|e| AdapterError::Unavailable(e.to_string()))?;
        let db = dir.path().join("auth.db");
        // Distinct token seeds: two instances at once must never draw the same tokens.
        let server = |command, name, n: u64| {
            Server::over(
                command,
                &db,
                name,
                profile.params,
                seed.wrapping_mul(2).wrapping_add(n),
                otp.clone(),
                otp_server.uri(),
            )
        };
        let mut old = server(&target.from, "old", 0);
        let new = server(&target.to, "new", 1);
        let now = crate::adapters::in_process::CLOCK_START;
        old.start(now)?;
        Ok(UpgradeInstance {
            client: Arc::new(Client {
                rt,
                http,
                base: Mutex::new(old.base.clone()),
                admin_token: Some(ADMIN_TOKEN.to_owned()),
                otp: Some(otp),
                destinations: AtomicU64::new(0),
            }),
            old,
            new,
            phase: Phase::Old,
            seed,
            now,
            crash_next: false,
            sent: HashMap::new(),
            served_by: None,
            _otp_server: otp_server,
            _dir: dir,
        })
    }

    fn server(&mut self, build: Build) -> &mut Server {
        match build {
            Build::Old => &mut self.old,
            Build::New => &mut self.new,
        }
    }

    /// A draw from the seed, for this request and its occurrence.
    fn draw(&self, key: &str, occurrence: u64, salt: u64) -> u64 {
        let mut h = crate::campaign::mix(self.seed ^ salt);
        for b in key.bytes().chain(occurrence.to_le_bytes()) {
            h = crate::campaign::mix(h ^ u64::from(b));
        }
        h
    }

    /// The build that serves a request now.
    fn route(&self, key: &str, occurrence: u64) -> Build {
        match self.phase {
            Phase::Old => Build::Old,
            Phase::New | Phase::Finalized => Build::New,
            Phase::Mixed if self.draw(key, occurrence, 1) % 2 == 0 => Build::Old,
            Phase::Mixed => Build::New,
        }
    }

    fn post_hook(
        &self,
        build: Build,
        path: &str,
        body: serde_json::Value,
    ) -> Result<u16, AdapterError> {
        let server = match build {
            Build::Old => &self.old,
            Build::New => &self.new,
        };
        let url = format!("{}{path}", server.hooks);
        let http = self.client.http.clone();
        self.client
            .rt
            .block_on(async { http.post(url).json(&body).send().await })
            .map(|r| r.status().as_u16())
            .map_err(|e| AdapterError::Unavailable(format!("test hooks: {e}")))
    }

    fn start(&mut self, build: Build) -> Result<(), AdapterError> {
        let now = self.now;
        self.server(build).start(now)
    }

    fn step(&mut self, step: RolloutStep) -> Result<(), AdapterError> {
        self.served_by = None;
        self.phase = match (step, self.phase) {
            (RolloutStep::Start, Phase::Old) => {
                self.start(Build::New)?;
                Phase::Mixed
            }
            (RolloutStep::Finish, Phase::Old) => {
                self.start(Build::New)?;
                self.old.stop();
                Phase::New
            }
            (RolloutStep::Finish, Phase::Mixed) => {
                self.old.stop();
                Phase::New
            }
            (RolloutStep::Rollback, Phase::Mixed | Phase::New) => {
                self.new.stop();
                if !self.old.running() {
                    self.start(Build::Old)?;
                }
                Phase::Old
            }
            (RolloutStep::Rollback, Phase::Finalized) => {
                // The store is NEW's now. An OLD build that cannot read it must refuse to
                // start (NEW keeps serving); one that can (the same schema) serves, and its
                // answers are checked like any other.
                match self.start(Build::Old) {
                    Ok(()) => {
                        self.new.stop();
                        Phase::Old
                    }
                    Err(AdapterError::Unavailable(why)) => {
                        self.served_by =
                            Some(format!("rollback refused, the new build serves on: {why}"));
                        Phase::Finalized
                    }
                    Err(e) => return Err(e),
                }
            }
            (RolloutStep::Finalize, Phase::New) => {
                self.new
                    .run_once(&["--finalize-schema"])
                    .map_err(|why| AdapterError::Unavailable(format!("finalize: {why}")))?;
                Phase::Finalized
            }
            (_, phase) => phase,
        };
        Ok(())
    }

    /// Sends `request` to `build` with its crash point armed, then kills that instance (if the
    /// crash point did not) and starts it again over the same store.
    fn call_and_crash(
        &mut self,
        build: Build,
        request: &Request,
        key: &str,
        occurrence: u64,
    ) -> Answer {
        let commits = self.draw(key, occurrence, 2) % 3;
        // A server without the hook (404) is killed once its answer is in.
        let _ = self.post_hook(build, "/__test/crash-point", json!({ "commits": commits }));
        let answer = self.client.call(request, None);
        let died = match answer {
            Answer::Failed(_) => self.server(build).died(Duration::from_secs(5)),
            _ => false,
        };
        self.server(build).kill();
        if let Err(e) = self.start(build) {
            return Answer::Failed(format!("could not start again after the crash: {e}"));
        }
        self.served_by = Some(format!(
            "answered by the {} build, killed {}",
            label(build),
            if died {
                format!("with the request in flight (after {commits} commit(s))")
            } else {
                "after answering".into()
            }
        ));
        if died {
            Answer::Lost(format!(
                "the {} instance was killed mid-request",
                label(build)
            ))
        } else {
            answer
        }
    }
}

fn label(build: Build) -> &'static str {
    match build {
        Build::Old => "old",
        Build::New => "new",
    }
}

impl Instance for UpgradeInstance {
    fn call(&mut self, request: &Request) -> Answer {
        let key = request.op.to_string();
        let occurrence = {
            let n = self.sent.entry(key.clone()).or_default();
            *n += 1;
            *n
        };
        let build = self.route(&key, occurrence);
        let base = self.server(build).base.clone();
        *self.client.base.lock().unwrap_or_else(|p| p.into_inner()) = base;
        if std::mem::take(&mut self.crash_next) {
            return self.call_and_crash(build, request, &key, occurrence);
        }
        self.served_by = Some(format!("answered by the {} build", label(build)));
        self.client.call(request, None)
    }

    fn control(&mut self, control: &Control) -> Result<(), AdapterError> {
        self.served_by = None;
        match control {
            Control::Tick(seconds) => {
                self.now = self.now.saturating_add(*seconds);
                for build in [Build::Old, Build::New] {
                    if self.server(build).running() {
                        let status = self.post_hook(
                            build,
                            "/__test/clock",
                            json!({ "advance_seconds": seconds }),
                        )?;
                        // Both builds must keep one time, or the check would test the clocks.
                        if status != 200 {
                            return Err(AdapterError::Unavailable(format!(
                                "the {} build's clock hook answered {status}",
                                label(build)
                            )));
                        }
                    }
                }
                Ok(())
            }
            Control::Upstream(mode) => {
                if let Some(otp) = &self.client.otp {
                    otp.set_mode(*mode);
                }
                Ok(())
            }
            Control::Rollout(step) => self.step(*step),
            Control::Crash => {
                self.crash_next = true;
                Ok(())
            }
            Control::Deploy(_) | Control::Restart => Err(AdapterError::Unavailable(
                "an upgrade target deploys by rollout steps".into(),
            )),
        }
    }

    fn served_by(&self) -> Option<String> {
        self.served_by.clone()
    }
}
