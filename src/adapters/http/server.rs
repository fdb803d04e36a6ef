//! The `auth-server` process a managed HTTP target runs: started on 127.0.0.1:0 over a SQLite
//! file in a temp dir, with the test hooks (manual clock) and wiremock as its OTP provider;
//! stopped with SIGTERM (and always when dropped, a failed or interrupted check included);
//! started again over the same file for `Deploy` and `Restart`.

use super::otp_mock::OtpMock;
use crate::adapter::AdapterError;
use crate::model::{Params, Version};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub const ADMIN_TOKEN: &str = "authcheck-admin";

/// The server process we own, and what restarting it needs.
pub struct Server {
    server_bin: PathBuf,
    child: Option<Child>,
    dir: tempfile::TempDir,
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
    pub fn new(
        server_bin: &Path,
        params: Params,
        seed: u64,
        otp: OtpMock,
        otp_url: String,
    ) -> Result<Self, AdapterError> {
        let dir = tempfile::tempdir().map_err(|e| AdapterError::Unavailable(e.to_string()))?;
        Ok(Server {
            server_bin: server_bin.to_owned(),
            child: None,
            dir,
            seed,
            params,
            starts: 0,
            version: Version::V1,
            otp,
            otp_url,
            base: String::new(),
            hooks: String::new(),
        })
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
        let mut child = Command::new(&self.server_bin)
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
            .arg(self.dir.path().join("auth.db"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| fail(format!("cannot start {}: {e}", self.server_bin.display())))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| fail("no stdout".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let mut line = || -> Result<String, AdapterError> {
            lines
                .next()
                .and_then(Result::ok)
                .ok_or_else(|| fail("auth-server exited before printing its address".into()))
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
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    for _ in 0..200 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
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
