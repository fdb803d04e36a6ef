//! The `auth-server` binary as an operator runs it: first stdout line is the bound address,
//! SQLite state survives SIGTERM and SIGKILL restarts and `--protocol v1 → v2 → v1` deploys,
//! with nobody logged out and no revoked token revived.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const PASSWORD: &str = "correct horse battery";
const CLOCK_START: u64 = 2_000_000;

struct Server {
    child: Child,
    base: String,
    hooks: String,
}

impl Server {
    fn start(db: &Path, protocol: &str, clock: u64) -> Server {
        Server::start_with(db, protocol, clock, &[])
    }

    fn start_with(db: &Path, protocol: &str, clock: u64, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_auth-server"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--protocol",
                protocol,
                "--admin-token",
                "adm",
            ])
            .args([
                "--test-hooks",
                "127.0.0.1:0",
                "--clock-start",
                &clock.to_string(),
            ])
            .args(["--argon2-memory-kib", "64", "--argon2-iterations", "1"])
            .arg("--db")
            .arg(db)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn auth-server");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = lines.next().expect("first line").unwrap();
        assert!(
            addr.parse::<std::net::SocketAddr>().is_ok(),
            "first line is the address: {addr}"
        );
        let hooks = lines.next().expect("hooks line").unwrap();
        let hooks = hooks
            .strip_prefix("test-hooks ")
            .expect("hooks line")
            .to_owned();
        Server {
            child,
            base: format!("http://{addr}"),
            hooks: format!("http://{hooks}"),
        }
    }

    async fn post(&self, path: &str, bearer: Option<&str>, body: Value) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .json(&body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str, bearer: &str) -> (u16, Value) {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn now(&self) -> u64 {
        let v: Value = reqwest::get(format!("{}/__test/clock", self.hooks))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["now"].as_u64().unwrap()
    }

    async fn advance(&self, seconds: u64) {
        reqwest::Client::new()
            .post(format!("{}/__test/clock", self.hooks))
            .json(&json!({ "advance_seconds": seconds }))
            .send()
            .await
            .unwrap();
    }

    /// Graceful stop (SIGTERM) and wait; returns whether the process exited cleanly.
    fn terminate(mut self) -> bool {
        use rustix::process::{kill_process, Pid, Signal};
        let _ = kill_process(Pid::from_child(&self.child), Signal::TERM);
        self.child.wait().map(|s| s.success()).unwrap_or(false)
    }

    /// A crash: SIGKILL, no chance to flush anything.
    fn crash(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

#[tokio::test]
async fn state_survives_restarts_and_protocol_deploys() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("auth.db");
    let v1 = Server::start(&db, "v1", CLOCK_START);

    v1.post(
        "/v1/accounts",
        None,
        json!({ "username": "Alice", "password": PASSWORD }),
    )
    .await;
    v1.post(
        "/v1/accounts",
        None,
        json!({ "username": "mallory", "password": PASSWORD }),
    )
    .await;
    let (_, live) = v1
        .post(
            "/v1/session/login",
            None,
            json!({ "username": "alice", "password": PASSWORD }),
        )
        .await;
    let (_, gone) = v1
        .post(
            "/v1/session/login",
            None,
            json!({ "username": "alice", "password": PASSWORD }),
        )
        .await;
    assert_eq!(
        v1.post(
            "/v1/session/logout",
            gone["access_token"].as_str(),
            json!({ "scope": "local" })
        )
        .await
        .0,
        204
    );
    for _ in 0..5 {
        v1.post(
            "/v1/session/login",
            None,
            json!({ "username": "mallory", "password": "wrong password" }),
        )
        .await;
    }
    assert!(live["refresh_token"].as_str().unwrap().starts_with("rt_"));
    let now = v1.now().await;
    assert!(v1.terminate(), "SIGTERM is a clean shutdown");

    // v2 over the same file: the v1 session lives on, the revoked one stays dead, the lock holds.
    let v2 = Server::start(&db, "v2", now);
    assert_eq!(
        v2.get("/v1/session", live["access_token"].as_str().unwrap())
            .await
            .0,
        200
    );
    let (status, rotated) = v2
        .post(
            "/v1/session/refresh",
            None,
            json!({ "refresh_token": live["refresh_token"] }),
        )
        .await;
    assert_eq!(status, 200);
    assert!(rotated["refresh_token"]
        .as_str()
        .unwrap()
        .starts_with("v2."));
    let (status, body) = v2
        .post(
            "/v1/session/refresh",
            None,
            json!({ "refresh_token": gone["refresh_token"] }),
        )
        .await;
    assert_eq!((status, body["reason"].as_str()), (400, Some("revoked")));
    let (status, _) = v2
        .post(
            "/v1/session/login",
            None,
            json!({ "username": "mallory", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, 423);
    v2.advance(20).await; // past the grace window, so R0 is now reuse evidence, not a retry
    let now = v2.now().await;
    v2.crash();

    // Back to v1 after a crash: the v2 token still works, nothing revoked came back.
    let back = Server::start(&db, "v1", now);
    let (status, again) = back
        .post(
            "/v1/session/refresh",
            None,
            json!({ "refresh_token": rotated["refresh_token"] }),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    assert!(again["refresh_token"].as_str().unwrap().starts_with("rt_"));
    let (status, body) = back
        .post(
            "/v1/session/refresh",
            None,
            json!({ "refresh_token": gone["refresh_token"] }),
        )
        .await;
    assert_eq!((status, body["reason"].as_str()), (400, Some("revoked")));
    let (status, body) = back
        .get("/v1/session", again["access_token"].as_str().unwrap())
        .await;
    assert_eq!((status, body["username"].as_str()), (200, Some("alice")));
    assert!(back.terminate());
}

#[test]
fn bad_flags_are_usage_errors() {
    let bin = env!("CARGO_BIN_EXE_auth-server");
    let out = Command::new(bin)
        .args(["--protocol", "v3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(bin).args(["--seed", "1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "--seed needs --test-hooks");
    let out = Command::new(bin)
        .args(["--listen", "127.0.0.1:0", "--test-hooks", "0.0.0.0:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "test hooks must refuse a non-loopback address"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}

/// A server you deploy cannot be switched into a catalogue flaw: the option does not exist.
#[cfg(not(feature = "flaws"))]
#[test]
fn a_production_build_has_no_flaw_switch() {
    let out = Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .args(["--flaw", "password-truncated"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--flaw"));
}

/// A `flaws` build runs the flaw it is given (here: passwords compared on their first 72
/// bytes), and refuses an unknown one.
#[cfg(feature = "flaws")]
#[tokio::test]
async fn a_flaws_build_runs_the_flaw_it_is_given() {
    let prefix = "p".repeat(72);
    let outcome = |extra: &'static [&'static str]| {
        let prefix = prefix.clone();
        async move {
            let dir = tempfile::tempdir().unwrap();
            let server = Server::start_with(&dir.path().join("auth.db"), "v1", CLOCK_START, extra);
            let (status, _) = server
                .post(
                    "/v1/accounts",
                    None,
                    json!({ "username": "kim", "password": format!("{prefix}-the-real-end") }),
                )
                .await;
            assert_eq!(status, 201);
            server
                .post(
                    "/v1/session/login",
                    None,
                    json!({ "username": "kim", "password": format!("{prefix}-another-end") }),
                )
                .await
                .0
        }
    };
    assert_eq!(
        outcome(&[]).await,
        401,
        "the correct build refuses the wrong tail"
    );
    assert_eq!(
        outcome(&["--flaw", "password-truncated"]).await,
        200,
        "the flawed build compares 72 bytes"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .args(["--flaw", "no-such-flaw"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("password-truncated"));
}

#[test]
fn finalize_schema_records_that_older_builds_cannot_open_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("auth.db");
    drop(Server::start(&db, "v1", CLOCK_START));
    let out = Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .args(["--finalize-schema", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("finalized"));
    // A build that knows fewer migrations than the database says it needs refuses to start,
    // with the reason, instead of serving: simulate one by raising the requirement.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE schema_version SET version = 99, readable_by = 99",
            [],
        )
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .args(["--listen", "127.0.0.1:0", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("finalized for builds that know 99"), "{err}");
    // And without a file there is nothing to finalize.
    let out = Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .arg("--finalize-schema")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
