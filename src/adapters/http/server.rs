//! The `auth-server` processes a managed HTTP target runs: started on 127.0.0.1:0 over a SQLite
//! file, with the test hooks (manual clock, crash point) and wiremock as its OTP provider;
//! stopped with SIGTERM (and always when dropped, a failed or interrupted check included), or
//! killed with SIGKILL for a crash; started again over the same file for `Deploy`, `Restart`
//! and the steps of an upgrade (where two builds take turns, or serve at once, over one file).

use super::otp_mock::OtpMock;
use crate::adapter::AdapterError;
use crate::model::{Params, Version};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ADMIN_TOKEN: &str = "authcheck-admin";

/// How to run one build: a program and the arguments of its own (a flaw, say) before the ones
/// the harness adds (`--listen`, `--db`, `--test-hooks`, the protocol numbers …: the command
/// line of `auth-server`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
}

/// The server process we own, and what restarting it needs.
pub struct Server {
    command: ServerCommand,
    child: Option<Child>,
    /// The SQLite file, and where the process's log goes.
    db: PathBuf,
    log: PathBuf,
    /// The temp dir holding the file, when this server owns it.
    _dir: Option<tempfile::TempDir>,
    seed: u64,
    params: Params,
    starts: u64,
    pub version: Version,
    pub otp: OtpMock,
    otp_url: String,
    /// The API's base URL and the test hooks' base URL of the running process.
    pub base: String,
    pub hooks: String,
}

impl Server {
    /// A server of `server_bin` over a database of its own.
    pub fn new(
        server_bin: &Path,
        params: Params,
        seed: u64,
        otp: OtpMock,
        otp_url: String,
    ) -> Result<Self, AdapterError> {
        let dir = tempfile::tempdir().map_err(|e| AdapterError::Unavailable(e.to_string()))?;
        let command = ServerCommand {
            program: server_bin.to_owned(),
            args: Vec::new(),
        };
        let mut server = Server::over(
            &command,
            &dir.path().join("auth.db"),
            "server",
            params,
            seed,
            otp,
            otp_url,
        );
        server._dir = Some(dir);
        Ok(server)
    }

    /// A server of `command` over the database file `db` (which others may share); its log
    /// goes beside the file, as `NAME.log`.
    pub fn over(
        command: &ServerCommand,
        db: &Path,
        name: &str,
        params: Params,
        seed: u64,
        otp: OtpMock,
        otp_url: String,
    ) -> Self {
        Server {
            command: command.clone(),
            child: None,
            db: db.to_owned(),
            log: db.with_file_name(format!("{name}.log")),
            _dir: None,
            seed,
            params,
            starts: 0,
            version: Version::V1,
            otp,
            otp_url,
            base: String::new(),
            hooks: String::new(),
        }
    }

    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    /// Starts the process with its manual clock at `clock`.
    pub fn start(&mut self, clock: u64) -> Result<(), AdapterError> {
        let fail = AdapterError::Unavailable;
        let version = match self.version {
            Version::V1 => "v1",
            Version::V2 => "v2",
        };
        // Each start draws tokens from its own seed, so a restarted server never repeats one.
        let seed = self.seed.wrapping_mul(1_000).wrapping_add(self.starts);
        self.starts += 1;
        let log = std::fs::File::create(&self.log)
            .map_err(|e| fail(format!("{}: {e}", self.log.display())))?;
        let mut child = Command::new(&self.command.program)
            .args(&self.command.args)
            .args(["--listen", "127.0.0.1:0", "--test-hooks", "127.0.0.1:0"])
            .args(["--protocol", version, "--admin-token", ADMIN_TOKEN])
            .args([
                "--clock-start",
                &clock.to_string(),
                "--seed",
                &seed.to_string(),
            ])
            .args([
                "--argon2-memory-kib",
                "8",
                "--argon2-iterations",
                "1",
                "--argon2-parallelism",
                "1",
            ])
            .args(["--otp-url", &self.otp_url])
            .args(crate::model::params::KEYS.iter().flat_map(|k| {
                let value = self.params.get(k).unwrap_or_default();
                [format!("--{}", k.replace('_', "-")), value.to_string()]
            }))
            .arg("--db")
            .arg(&self.db)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| {
                fail(format!(
                    "cannot start {}: {e}",
                    self.command.program.display()
                ))
            })?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| fail("no stdout".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let log = &self.log;
        let mut line = || -> Result<String, AdapterError> {
            lines.next().and_then(Result::ok).ok_or_else(|| {
                fail(format!(
                    "the server exited before printing its address: {}",
                    last_line(log)
                ))
            })
        };
        let api = line()?;
        let hooks = line()?;
        self.base = format!("http://{api}");
        self.hooks = format!("http://{}", hooks.trim_start_matches("test-hooks "));
        self.child = Some(child);
        Ok(())
    }

    /// Stops the process gracefully (SIGTERM) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child);
        }
    }

    /// Kills the process (SIGKILL: no shutdown, no flush) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether the process has died on its own (its crash point fired, say), waiting up to
    /// `patience` for it to finish dying.
    pub fn died(&mut self, patience: Duration) -> bool {
        let Some(child) = self.child.as_mut() else {
            return true;
        };
        let died = exited_within(child, patience);
        if died {
            self.child = None;
        }
        died
    }

    /// Runs the build once with `args` over the same database (not serving), e.g.
    /// `--finalize-schema`; returns what it printed, or why it failed.
    pub fn run_once(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(&self.command.program)
            .args(&self.command.args)
            .args(args)
            .arg("--db")
            .arg(&self.db)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.command.program.display()))?;
        let text = |b: &[u8]| String::from_utf8_lossy(b).trim().to_owned();
        if out.status.success() {
            Ok(text(&out.stdout))
        } else {
            Err(text(&out.stderr))
        }
    }
}

/// The last line a server wrote to its log (why it would not start).
fn last_line(log: &Path) -> String {
    std::fs::read_to_string(log)
        .ok()
        .and_then(|t| {
            t.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "no message".into())
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn terminate(child: &mut Child) {
    use rustix::process::{kill_process, Pid, Signal};
    let _ = kill_process(Pid::from_child(child), Signal::TERM);
    if !exited_within(child, Duration::from_secs(2)) {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Whether `child` exits (and is reaped) within `patience`.
fn exited_within(child: &mut Child, patience: Duration) -> bool {
    let until = Instant::now() + patience;
    let mut pause = Duration::from_micros(100);
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        // A graceful stop takes a few milliseconds: look again soon, then less often.
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

/// Finds the `auth-server` binary: `$AUTH_SERVER_BIN`, next to this executable (or one level
/// up, from `target/*/deps`), or else builds it with cargo.
pub fn find_server_bin() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("AUTH_SERVER_BIN") {
        return Ok(path.into());
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let name = format!("auth-server{}", std::env::consts::EXE_SUFFIX);
    for dir in exe.ancestors().skip(1).take(2) {
        let candidate = dir.join(&name);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    let release = exe.components().any(|c| c.as_os_str() == "release");
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo.args(["build", "-q", "-p", "auth", "--bin", "auth-server"]);
    if release {
        cargo.arg("--release");
    }
    let status = cargo
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .status()
        .map_err(|e| format!("cannot run cargo to build auth-server: {e}"))?;
    let dir = exe.ancestors().find(|d| {
        d.file_name()
            .is_some_and(|n| n == "debug" || n == "release")
    });
    match (status.success(), dir) {
        (true, Some(dir)) if dir.join(&name).is_file() => Ok(dir.join(&name)),
        _ => Err(
            "auth-server not found; build it (`cargo build -p auth`) or set AUTH_SERVER_BIN".into(),
        ),
    }
}
