//! Hostile clients against the real `auth-server` binary: 600 requests made by seeded mutation
//! of valid ones (bytes flipped, cut, inserted; fields duplicated, emptied, blown up; headers
//! garbled; methods and paths changed), sent over a real socket. Every answer must be a 4xx (or a
//! 2xx for a mutant that is still valid), never a 5xx, always JSON; the server keeps serving.

use authcheck::fuzzing::decode_request;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const VALID: &[&str] = &[
    "POST /v1/accounts\ncontent-type: application/json\n\n{\"username\":\"mallory\",\"password\":\"correct horse battery\"}",
    "POST /v1/session/login\ncontent-type: application/json\n\n{\"username\":\"alice\",\"password\":\"correct horse battery\",\"device\":\"d\"}",
    "POST /v1/session/mfa\ncontent-type: application/json\n\n{\"challenge_id\":\"mfa_x\",\"code\":\"123456\"}",
    "POST /v1/session/refresh\ncontent-type: application/json\n\n{\"refresh_token\":\"rt_x\"}",
    "GET /v1/session\nauthorization: Bearer at_x\n\n",
    "POST /v1/session/sensitive\nauthorization: Bearer at_x\n\n",
    "POST /v1/session/reauth\nauthorization: Bearer at_x\ncontent-type: application/json\n\n{\"password\":\"x\"}",
    "POST /v1/session/logout\nauthorization: Bearer at_x\ncontent-type: application/json\n\n{\"scope\":\"global\"}",
    "POST /v1/session/password\nauthorization: Bearer at_x\ncontent-type: application/json\n\n{\"old_password\":\"a\",\"new_password\":\"b\"}",
    "POST /v1/oauth/revoke\ncontent-type: application/json\n\n{\"token\":\"anything\"}",
    "POST /v1/admin/users/alice/unlock\nauthorization: Bearer admin\n\n",
];

fn mutate(rng: &mut ChaCha20Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.next_u32() % 4 {
        let at = (rng.next_u32() as usize) % (out.len() + 1);
        match rng.next_u32() % 9 {
            0 if at < out.len() => out[at] ^= 1 << (rng.next_u32() % 8),
            1 => out.truncate(at),
            2 => out
                .splice(
                    at..at,
                    [b'"', b'{', b'}', b'[', b'\xff', b'\0', b':', b',']
                        [rng.next_u32() as usize % 8..][..1]
                        .to_vec(),
                )
                .for_each(drop),
            3 => out
                .splice(at..at, std::iter::repeat_n(b'A', 20_000))
                .for_each(drop),
            4 => {
                out = String::from_utf8_lossy(&out)
                    .replace("\"correct horse battery\"", "12345")
                    .into_bytes()
            }
            5 => {
                out = String::from_utf8_lossy(&out)
                    .replace("application/json", "text/plain")
                    .into_bytes()
            }
            6 => {
                out = String::from_utf8_lossy(&out)
                    .replacen(
                        "POST",
                        ["GET", "PUT", "DELETE", "PATCH"][rng.next_u32() as usize % 4],
                        1,
                    )
                    .into_bytes()
            }
            7 => {
                out = String::from_utf8_lossy(&out)
                    .replace(
                        "Bearer",
                        ["Basic", "bearer", "Bearer  ", ""][rng.next_u32() as usize % 4],
                    )
                    .into_bytes()
            }
            _ => {
                out = String::from_utf8_lossy(&out)
                    .replace(
                        "/v1/",
                        ["/v2/", "/v1//", "/V1/", "/v1/../"][rng.next_u32() as usize % 4],
                    )
                    .into_bytes()
            }
        }
    }
    out
}

#[tokio::test]
async fn mutated_requests_never_get_a_5xx_and_the_server_keeps_serving() {
    let bin = authcheck::driver::find_server_bin().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Stop(
        Command::new(bin)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--admin-token",
                "admin",
                "--argon2-memory-kib",
                "8",
                "--argon2-iterations",
                "1",
            ])
            .arg("--db")
            .arg(dir.path().join("auth.db"))
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let addr = BufReader::new(child.0.stdout.take().unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    let register = client
        .post(format!("{base}/v1/accounts"))
        .json(&serde_json::json!({"username": "alice", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(register.status(), 201);

    let mut rng = ChaCha20Rng::seed_from_u64(0xbad);
    let mut sent = 0;
    for i in 0..600 {
        let valid = VALID[i % VALID.len()].as_bytes();
        let bytes = mutate(&mut rng, valid);
        let Some(request) = decode_request(&bytes) else {
            continue;
        };
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let url = format!("{base}{}", parts.uri);
        let Ok(url) = reqwest::Url::parse(&url) else {
            continue;
        };
        let response = client
            .request(parts.method, url)
            .headers(parts.headers)
            .body(body)
            .send()
            .await;
        let response = response.unwrap_or_else(|e| {
            panic!(
                "request {i} was dropped: {e}\n{}",
                String::from_utf8_lossy(&bytes)
            )
        });
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(
            status.as_u16() < 500,
            "request {i} got {status} {text}\n{}",
            String::from_utf8_lossy(&bytes)
        );
        if !text.is_empty() {
            assert!(
                serde_json::from_str::<serde_json::Value>(&text).is_ok(),
                "request {i}: not JSON: {text}"
            );
        }
        sent += 1;
    }
    assert!(
        sent > 400,
        "only {sent} mutants were representable as requests"
    );
    let login = client
        .post(format!("{base}/v1/session/login"))
        .json(&serde_json::json!({"username": "alice", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert!(
        login.status() == 200 || login.status() == 423,
        "still serving: {}",
        login.status()
    );
}

/// Stops the server however the test ends.
struct Stop(std::process::Child);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
