//! `authcheck probe` against a real `auth-server` on the real clock. The correct server runs many
//! rounds with no divergence, with windows so short (1 s) that requests straddle deadlines;
//! redeployed into a flawed build while the probe runs, the probe flags it within one interval,
//! with a trace that replays, and `probe_success` drops on the metrics endpoint.
//!
//! The probe's subject is real time, so these tests take a few seconds of it: short windows and
//! intervals keep that small.

use authcheck::driver::find_server_bin;
use authcheck::model::{Params, Profile};
use authcheck::probe::flows::Account;
use authcheck::probe::{Probe, ProbeConfig};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The windows of the server and of the probe's profile: one second, so deadlines fall inside
/// rounds all the time.
fn params() -> Params {
    Params {
        access_ttl: 1,
        refresh_grace: 1,
        ..Params::default()
    }
}

struct Server(Child);

impl Server {
    /// `auth-server` over `db` on `listen`; returns it and its address.
    fn start(bin: &Path, db: &Path, listen: &str, flaw: Option<&str>) -> (Server, String) {
        let mut command = Command::new(bin);
        command
            .args(["--listen", listen, "--db"])
            .arg(db)
            .args(["--argon2-memory-kib", "64", "--argon2-iterations", "1"])
            .args(["--access-ttl", "1", "--refresh-grace", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(flaw) = flaw {
            command.args(["--flaw", flaw]);
        }
        let mut child = command.spawn().expect("auth-server starts");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        (Server(child), first.trim().to_owned())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn config(base: &str, out_dir: &Path) -> ProbeConfig {
    ProbeConfig {
        adapter: ProbeConfig::http_target(base),
        base: base.to_owned(),
        profile: Profile {
            params: params(),
            ..Profile::default()
        },
        account: Account {
            user: "authcheck-probe-test".into(),
            password: "probe password 1234".into(),
        },
        long: false,
        max_rps: 200.0,
        skew: 0,
        out_dir: out_dir.to_owned(),
    }
}

#[test]
fn the_correct_server_passes_many_rounds_that_straddle_deadlines() {
    use authcheck::model::{OpKind, OutcomeKind, Reason, TokenReason};
    let dir = tempfile::tempdir().unwrap();
    let bin = find_server_bin().unwrap();
    let (_server, addr) = Server::start(&bin, &dir.path().join("auth.db"), "127.0.0.1:0", None);
    // 100 ms between requests: a flow spans a second boundary about every other time, so with
    // 1-second windows access tokens expire and grace windows lapse between (and, now and
    // then, during) requests.
    let mut probe = Probe::new(ProbeConfig {
        max_rps: 10.0,
        ..config(&format!("http://{addr}"), dir.path())
    });
    probe.ensure_account().unwrap();
    let mut requests = 0;
    for round in 0..6 {
        let r = probe.round();
        assert!(
            r.passed(),
            "round {round}: {:?}",
            r.flows
                .iter()
                .filter_map(|f| f.divergence.as_ref())
                .collect::<Vec<_>>()
        );
        requests += r.requests();
    }
    assert!(requests >= 6 * 20, "{requests} requests");
    let expired = probe.coverage().count(
        OpKind::Access,
        OutcomeKind::Rejected(Reason::Unauthorized(TokenReason::Expired)),
    );
    assert!(
        expired > 0,
        "no access token expired between requests in 6 rounds of 1-second windows"
    );
    let text = probe.metrics.encode();
    assert!(text.contains("probe_divergences_total 0"), "{text}");
    assert!(text.contains("probe_errors_total 0"), "{text}");
}

#[test]
fn the_probe_watches_live_services_only() {
    let dir = tempfile::tempdir().unwrap();
    let live = config("http://127.0.0.1:9", dir.path());
    assert!(live.check().is_ok());
    let managed = ProbeConfig {
        adapter: std::sync::Arc::new(authcheck::driver::HttpTarget::Managed {
            server_bin: "auth-server".into(),
        }),
        ..live
    };
    let refused = managed.check().unwrap_err();
    assert!(refused.contains("clock of its own"), "{refused}");
}

#[test]
fn the_probe_refuses_nothing_it_should_not_send() {
    let profile = Profile {
        params: params(),
        ..Profile::default()
    };
    let account = Account {
        user: "authcheck-probe-x".into(),
        password: "pw pw pw pw".into(),
    };
    for long in [false, true] {
        for flow in authcheck::probe::flows::flows(&profile, &account, long) {
            for op in &flow.ops {
                assert!(
                    !authcheck::probe::flows::forbidden(op),
                    "{}: {op}",
                    flow.name
                );
            }
        }
    }
    // A threshold of 1 leaves no wrong password to spend.
    let strict = Profile {
        params: Params {
            lockout_threshold: 1,
            ..params()
        },
        ..Profile::default()
    };
    assert_eq!(authcheck::probe::flows::failure_budget(&strict), 0);
    assert!(authcheck::probe::flows::flows(&strict, &account, false)
        .iter()
        .all(|f| f.name != "wrong-password"));
}

#[cfg(feature = "flaws")]
#[path = "support/flaws_server.rs"]
mod flaws_server;
#[cfg(feature = "flaws")]
use flaws_server::flaws_server_bin;

#[cfg(feature = "flaws")]
#[test]
fn a_bad_deploy_is_flagged_within_one_interval_with_a_trace_that_replays() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("auth.db");
    let bin = flaws_server_bin();
    let (server, addr) = Server::start(&bin, &db, "127.0.0.1:0", None);
    let base = format!("http://{addr}");
    let mut probe = Probe::new(config(&base, dir.path()));
    let metrics_addr = probe.metrics.serve("127.0.0.1:0".parse().unwrap()).unwrap();
    probe.ensure_account().unwrap();

    // The probe runs rounds every `interval`, as `authcheck probe --interval` does.
    let interval = Duration::from_millis(400);
    let stop = Arc::new(AtomicBool::new(false));
    type Found = (Instant, authcheck::probe::Divergence, String);
    let first_divergence: Arc<Mutex<Option<Found>>> = Arc::default();
    let rounds_before_deploy = Arc::new(Mutex::new(0u64));
    let runner = {
        let (stop, first, before) = (
            stop.clone(),
            first_divergence.clone(),
            rounds_before_deploy.clone(),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let started = Instant::now();
                let round = probe.round();
                if let Some(d) = round.flows.iter().find_map(|f| f.divergence.clone()) {
                    let html =
                        authcheck::html::render(&authcheck::probe::report::page(&probe, &round))
                            .unwrap();
                    first
                        .lock()
                        .unwrap()
                        .get_or_insert((Instant::now(), d, html));
                } else if first.lock().unwrap().is_none() {
                    *before.lock().unwrap() += 1;
                }
                if let Some(rest) = interval.checked_sub(started.elapsed()) {
                    std::thread::sleep(rest);
                }
            }
        })
    };
    // Clean rounds first.
    while *rounds_before_deploy.lock().unwrap() < 3 {
        assert!(
            first_divergence.lock().unwrap().is_none(),
            "the correct server diverged"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        first_divergence.lock().unwrap().is_none(),
        "the correct server diverged"
    );
    // The bad deploy: the flawed build over the same database, on the same address.
    drop(server);
    let deployed = Instant::now();
    let (_flawed, _) = Server::start(&bin, &db, &addr, Some("logout-keeps-refresh"));
    let deadline = deployed + Duration::from_secs(20);
    let (flagged, divergence, html) = loop {
        if let Some(found) = first_divergence.lock().unwrap().clone() {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "the bad deploy was never flagged"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    stop.store(true, Ordering::SeqCst);
    runner.join().unwrap();

    // Within one interval (plus the round that was running when the server went away).
    let took = flagged - deployed;
    assert!(took < interval * 3, "flagged {took:?} after the deploy");
    assert_eq!(divergence.flow, "logout");

    // probe_success dropped, scraped over HTTP.
    let scraped = reqwest::blocking::get(format!("http://{metrics_addr}/metrics"))
        .unwrap()
        .text()
        .unwrap();
    assert!(
        scraped.contains("probe_success{flow=\"logout\"} 0"),
        "{scraped}"
    );
    assert!(!scraped.contains("probe_divergences_total 0"), "{scraped}");

    // The trace replays against the live (flawed) server: `authcheck replay --target URL`.
    let trace =
        authcheck::trace::Trace::parse(&std::fs::read_to_string(&divergence.trace_file).unwrap())
            .unwrap();
    let target = authcheck::campaign::Target::Http(authcheck::driver::HttpTarget::External {
        base: base.clone(),
        admin_token: None,
        user_agent: None,
    });
    let profile = Profile {
        params: params(),
        ..Profile::default()
    };
    let run = authcheck::campaign::run_ops_with(&target, &profile, 1, &trace.ops(), None);
    assert!(
        run.failure.is_some(),
        "the probe's trace does not reproduce"
    );
    // The probe's password is in no trace (a replay registers a fresh account with any one).
    let text = std::fs::read_to_string(&divergence.trace_file).unwrap();
    assert!(!text.contains("probe password 1234"), "{text}");
    // The round's report: the divergent step highlighted in the flow's sequence diagram, its
    // handles linked to the login that issued them, no password.
    assert_eq!(html.matches("<tr class=\"step divergent\"").count(), 1);
    assert!(html.contains("href=\"#issued-refresh-0-0\""));
    assert!(html.contains("id=\"issued-refresh-0-0\""));
    assert!(!html.contains("probe password 1234"));
}

#[test]
fn probe_once_exits_0_on_the_correct_server_and_refuses_accounts_outside_its_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let bin = find_server_bin().unwrap();
    let (_server, addr) = Server::start(&bin, &dir.path().join("auth.db"), "127.0.0.1:0", None);
    let probe = |user: &str| {
        Command::new(env!("CARGO_BIN_EXE_authcheck"))
            .args(["probe", "--once", "--max-rps", "200", "--target"])
            .arg(format!("http://{addr}"))
            .args(["--params", "access_ttl=1 refresh_grace=1", "--out-dir"])
            .arg(dir.path())
            .env("AUTHCHECK_PROBE_USERNAME", user)
            .env("AUTHCHECK_PROBE_PASSWORD", "probe password 1234")
            .output()
            .unwrap()
    };
    let ok = probe("authcheck-probe-cli");
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("round 1: "));
    let refused = probe("alice");
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr)
        .contains("only touches accounts named authcheck-probe"));
}
