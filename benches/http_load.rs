//! A bounded load run against the real `auth-server` (loopback only): CLIENTS concurrent clients
//! each loop login → 3 × (refresh, access) → logout for SECONDS, then every client checks that
//! its last live session still works and its logged-out ones are revoked: no session lost, none
//! wrongly revoked. Prints requests/s per endpoint and latency p50/p99.
//!
//! `cargo bench --bench http_load` (env HTTP_LOAD_CLIENTS, HTTP_LOAD_SECS; the server runs with
//! its production argon2id cost unless HTTP_LOAD_CHEAP_ARGON2=1).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Stats {
    latencies: BTreeMap<&'static str, Vec<Duration>>,
    errors: BTreeMap<String, u64>,
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn call(
    client: &reqwest::Client,
    stats: &mut Stats,
    name: &'static str,
    request: reqwest::RequestBuilder,
) -> Option<serde_json::Value> {
    let start = Instant::now();
    let response = request.send().await;
    let elapsed = start.elapsed();
    let _ = client;
    match response {
        Ok(r) => {
            let status = r.status();
            let body = r
                .json::<serde_json::Value>()
                .await
                .unwrap_or(serde_json::Value::Null);
            stats.latencies.entry(name).or_default().push(elapsed);
            if status.is_success() {
                Some(body)
            } else {
                *stats
                    .errors
                    .entry(format!("{name} {status} {}", body["error"]))
                    .or_default() += 1;
                None
            }
        }
        Err(e) => {
            *stats.errors.entry(format!("{name}: {e}")).or_default() += 1;
            None
        }
    }
}

/// One client's loop; returns its stats and the number of integrity failures at the end.
async fn client_loop(base: String, id: u64, deadline: Instant) -> (Stats, u64) {
    let client = reqwest::Client::new();
    let mut stats = Stats::default();
    let user = format!("load-{id}");
    let creds = serde_json::json!({ "username": user, "password": "correct horse battery" });
    call(
        &client,
        &mut stats,
        "register",
        client.post(format!("{base}/v1/accounts")).json(&creds),
    )
    .await;
    let mut logged_out: Vec<(String, String)> = Vec::new();
    let mut live: Option<(String, String)> = None;
    while Instant::now() < deadline {
        let Some(t) = call(
            &client,
            &mut stats,
            "login",
            client.post(format!("{base}/v1/session/login")).json(&creds),
        )
        .await
        else {
            continue;
        };
        let (mut access, mut refresh) = (
            t["access_token"].as_str().unwrap_or_default().to_owned(),
            t["refresh_token"].as_str().unwrap_or_default().to_owned(),
        );
        for _ in 0..3 {
            let body = serde_json::json!({ "refresh_token": refresh });
            if let Some(t) = call(
                &client,
                &mut stats,
                "refresh",
                client
                    .post(format!("{base}/v1/session/refresh"))
                    .json(&body),
            )
            .await
            {
                access = t["access_token"].as_str().unwrap_or_default().to_owned();
                refresh = t["refresh_token"].as_str().unwrap_or_default().to_owned();
            }
            call(
                &client,
                &mut stats,
                "access",
                client
                    .get(format!("{base}/v1/session"))
                    .bearer_auth(&access),
            )
            .await;
        }
        if Instant::now() < deadline {
            let body = serde_json::json!({ "scope": "local" });
            call(
                &client,
                &mut stats,
                "logout",
                client
                    .post(format!("{base}/v1/session/logout"))
                    .bearer_auth(&access)
                    .json(&body),
            )
            .await;
            logged_out.push((access, refresh));
        } else {
            live = Some((access, refresh));
        }
    }
    // Integrity: the live session works; logged-out ones stay revoked.
    let mut failures = 0;
    if let Some((access, refresh)) = live {
        let ok = client
            .get(format!("{base}/v1/session"))
            .bearer_auth(&access)
            .send()
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false);
        let body = serde_json::json!({ "refresh_token": refresh });
        let refreshed = client
            .post(format!("{base}/v1/session/refresh"))
            .json(&body)
            .send()
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false);
        failures += u64::from(!ok) + u64::from(!refreshed);
    }
    for (_, refresh) in logged_out.iter().rev().take(5) {
        let body = serde_json::json!({ "refresh_token": refresh });
        let r = client
            .post(format!("{base}/v1/session/refresh"))
            .json(&body)
            .send()
            .await;
        let revoked = match r {
            Ok(r) => {
                r.status() == 400
                    && r.json::<serde_json::Value>()
                        .await
                        .map(|b| b["reason"] == "revoked")
                        .unwrap_or(false)
            }
            Err(_) => false,
        };
        failures += u64::from(!revoked);
    }
    (stats, failures)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let clients = env("HTTP_LOAD_CLIENTS", 8);
    let seconds = env("HTTP_LOAD_SECS", 10);
    let cheap = std::env::var("HTTP_LOAD_CHEAP_ARGON2").is_ok_and(|v| v == "1");
    let bin = authcheck::driver::find_server_bin().expect("auth-server");
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin);
    cmd.args(["--listen", "127.0.0.1:0"])
        .arg("--db")
        .arg(dir.path().join("load.db"));
    if cheap {
        cmd.args(["--argon2-memory-kib", "8", "--argon2-iterations", "1"]);
    }
    let mut child = cmd
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();
    let base = format!("http://{addr}");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let results = rt.block_on(async {
        let tasks: Vec<_> = (0..clients)
            .map(|id| tokio::spawn(client_loop(base.clone(), id, deadline)))
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    let elapsed = start.elapsed().as_secs_f64();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();

    let mut all: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut failures = 0;
    for (stats, f) in results {
        failures += f;
        for (k, v) in stats.latencies {
            all.entry(k).or_default().extend(v);
        }
        for (k, v) in stats.errors {
            *errors.entry(k).or_default() += v;
        }
    }
    println!(
        "http load: {clients} clients, {seconds} s, argon2 {}",
        if cheap {
            "cheap (8 KiB)"
        } else {
            "production (19 MiB, t=2)"
        }
    );
    println!(
        "{:<10} {:>8} {:>10} {:>10} {:>10}",
        "endpoint", "requests", "req/s", "p50", "p99"
    );
    let mut total = 0;
    for (name, mut lat) in all {
        lat.sort();
        total += lat.len();
        println!(
            "{:<10} {:>8} {:>10.0} {:>9.2}ms {:>9.2}ms",
            name,
            lat.len(),
            lat.len() as f64 / elapsed,
            percentile(&lat, 0.5).as_secs_f64() * 1e3,
            percentile(&lat, 0.99).as_secs_f64() * 1e3
        );
    }
    println!(
        "{:<10} {:>8} {:>10.0}",
        "all",
        total,
        total as f64 / elapsed
    );
    for (e, n) in &errors {
        println!("error: {e} × {n}");
    }
    println!("integrity: {failures} sessions lost or wrongly revoked");
    assert_eq!(failures, 0, "sessions lost or wrongly revoked");
    assert!(errors.is_empty(), "requests failed under load");
}
