//! `auth-server`: the session-login service over HTTP.
//!
//! Prints the bound address as the first line on stdout (so `--listen 127.0.0.1:0` is usable by
//! scripts), then `test-hooks ADDR` when the test hooks are on. Logs go to stderr (`RUST_LOG`).

use auth::{
    Argon2Cost, Clock, Config, CrashPoint, Deps, HttpOtpProvider, ManualClock, MemoryStore,
    NoOtpProvider, OtpProvider, Protocol, Service, SqliteStore, Store, SystemClock, TokenRng,
};
use clap::Parser;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Session-login service (argon2id, PRECIS, refresh rotation, MFA)"
)]
struct Args {
    /// Address to serve the API on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// SQLite database file, or `:memory:` for a store that lives as long as the process.
    #[arg(long, default_value = ":memory:")]
    db: String,
    /// Refresh-token format to issue (both are always accepted).
    #[arg(long, default_value = "v1")]
    protocol: Protocol,
    /// Base URL of the OTP provider (`POST {url}/send`, `POST {url}/check`). Without it, logins
    /// of MFA accounts fail closed with 503.
    #[arg(long)]
    otp_url: Option<String>,
    /// Timeout of each OTP provider call, in milliseconds.
    #[arg(long, default_value_t = 3000)]
    otp_timeout_ms: u64,
    /// Bearer token for the admin endpoints (or env AUTH_ADMIN_TOKEN). Without it they answer 401.
    #[arg(long, env = "AUTH_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Serve the test hooks (manual clock) on this loopback address. Off unless given.
    #[arg(long)]
    test_hooks: Option<SocketAddr>,
    /// With --test-hooks: the manual clock's start time in seconds (default: now).
    #[arg(long, requires = "test_hooks")]
    clock_start: Option<u64>,
    /// With --test-hooks: draw tokens from a seeded generator instead of the OS (never in
    /// production: tokens become predictable).
    #[arg(long, requires = "test_hooks")]
    seed: Option<u64>,
    /// argon2id memory cost in KiB.
    #[arg(long, default_value_t = Argon2Cost::PRODUCTION.memory_kib)]
    argon2_memory_kib: u32,
    /// argon2id passes.
    #[arg(long, default_value_t = Argon2Cost::PRODUCTION.iterations)]
    argon2_iterations: u32,
    /// argon2id lanes.
    #[arg(long, default_value_t = Argon2Cost::PRODUCTION.parallelism)]
    argon2_parallelism: u32,
    #[command(flatten)]
    protocol_numbers: ProtocolNumbers,
    /// With a SQLite `--db`: the contract step of an upgrade. Runs the pending contract halves
    /// of the schema migrations and records that older builds can no longer open the database
    /// (they then refuse to start instead of misreading it), then exits. Run it once every
    /// instance runs this build.
    #[arg(long)]
    finalize_schema: bool,
    /// Print the OpenAPI 3.1 document of the API (also served at `GET /openapi.json`) and exit.
    #[arg(long)]
    print_openapi: bool,
    /// Only in a build with the `flaws` feature (never one you deploy): switch on a flaw of
    /// the catalogue (docs/PROTOCOL.md §10), so a real upgrade to a flawed build can be checked.
    #[cfg(feature = "flaws")]
    #[arg(long, value_name = "ID")]
    flaw: Option<auth::flaws::Flaw>,
}

/// The protocol's numbers (seconds, counts); the defaults are PROTOCOL.md §2.
#[derive(clap::Args, Debug)]
struct ProtocolNumbers {
    /// Access-token lifetime, seconds.
    #[arg(long, default_value_t = Config::default().access_ttl)]
    access_ttl: u64,
    /// A session ends when idle this long, seconds.
    #[arg(long, default_value_t = Config::default().idle_timeout)]
    idle_timeout: u64,
    /// A session ends this long after login, seconds.
    #[arg(long, default_value_t = Config::default().absolute_timeout)]
    absolute_timeout: u64,
    /// Window in which the previous refresh token may be presented again, seconds.
    #[arg(long, default_value_t = Config::default().refresh_grace)]
    refresh_grace: u64,
    /// Consecutive wrong passwords that lock an account.
    #[arg(long, default_value_t = Config::default().lockout_threshold, value_parser = clap::value_parser!(u32).range(1..))]
    lockout_threshold: u32,
    /// How long a lock lasts, seconds.
    #[arg(long, default_value_t = Config::default().lockout_duration)]
    lockout_duration: u64,
    /// An MFA challenge dies after this, seconds.
    #[arg(long, default_value_t = Config::default().mfa_challenge_ttl)]
    mfa_challenge_ttl: u64,
    /// Wrong codes that kill an MFA challenge.
    #[arg(long, default_value_t = Config::default().mfa_max_attempts, value_parser = clap::value_parser!(u32).range(1..))]
    mfa_max_attempts: u32,
    /// Sensitive actions need a factor proven this recently, seconds.
    #[arg(long, default_value_t = Config::default().step_up_window)]
    step_up_window: u64,
}

impl ProtocolNumbers {
    fn apply(&self, c: &mut Config) {
        c.access_ttl = self.access_ttl;
        c.idle_timeout = self.idle_timeout;
        c.absolute_timeout = self.absolute_timeout;
        c.refresh_grace = self.refresh_grace;
        c.lockout_threshold = self.lockout_threshold;
        c.lockout_duration = self.lockout_duration;
        c.mfa_challenge_ttl = self.mfa_challenge_ttl;
        c.mfa_max_attempts = self.mfa_max_attempts;
        c.step_up_window = self.step_up_window;
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("auth-server: {message}");
            std::process::ExitCode::from(1)
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    if args.finalize_schema {
        if args.db == ":memory:" {
            return Err("--finalize-schema needs a SQLite --db file".into());
        }
        let store = open_sqlite(&args)?;
        let s = store
            .finalize_schema()
            .map_err(|e| format!("{}: {e}", args.db))?;
        println!(
            "{}: schema version {} finalized; builds that know fewer than {} migrations can no longer open it",
            args.db, s.version, s.readable_by
        );
        return Ok(());
    }
    if args.print_openapi {
        let document = serde_json::to_string_pretty(&auth::http::openapi_document())
            .map_err(|e| e.to_string())?;
        println!("{document}");
        return Ok(());
    }
    // With the test hooks, a SQLite store can be made to crash at a chosen commit.
    let crash = (args.test_hooks.is_some() && args.db != ":memory:").then(CrashPoint::default);
    let store: Arc<dyn Store> = if args.db == ":memory:" {
        Arc::new(MemoryStore::new())
    } else {
        let sqlite = open_sqlite(&args)?;
        Arc::new(match &crash {
            Some(crash) => sqlite.with_crash_point(crash.clone()),
            None => sqlite,
        })
    };
    let manual_clock = args
        .test_hooks
        .map(|_| ManualClock::new(args.clock_start.unwrap_or_else(|| SystemClock.now())));
    let clock: Arc<dyn Clock> = match &manual_clock {
        Some(clock) => Arc::new(clock.clone()),
        None => Arc::new(SystemClock),
    };
    let otp: Arc<dyn OtpProvider> = match &args.otp_url {
        Some(url) => Arc::new(HttpOtpProvider::new(
            url,
            Duration::from_millis(args.otp_timeout_ms),
        )?),
        None => Arc::new(NoOtpProvider),
    };
    let rng = Arc::new(args.seed.map_or_else(TokenRng::os, TokenRng::seeded));
    let mut config = Config {
        protocol: args.protocol,
        argon2: Argon2Cost {
            memory_kib: args.argon2_memory_kib,
            iterations: args.argon2_iterations,
            parallelism: args.argon2_parallelism,
        },
        ..Config::default()
    };
    args.protocol_numbers.apply(&mut config);
    #[cfg(feature = "flaws")]
    if let Some(flaw) = args.flaw {
        tracing::warn!(%flaw, "a catalogue flaw is switched on: this server is wrong on purpose");
        config.flaw = Some(flaw);
    }
    let service = Service::new(
        config,
        Deps {
            store,
            clock,
            rng,
            otp,
        },
    )
    .map_err(|e| format!("cannot start the service: {e}"))?;
    if args.admin_token.is_none() {
        tracing::warn!("no --admin-token: admin endpoints will answer 401");
    }

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let api_addr = listener.local_addr().map_err(|e| e.to_string())?;
    let hooks = match (args.test_hooks, manual_clock) {
        (Some(addr), Some(clock)) => {
            if !addr.ip().is_loopback() {
                return Err(format!(
                    "--test-hooks must be a loopback address, not {addr}"
                ));
            }
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            Some((listener, clock))
        }
        _ => None,
    };

    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{api_addr}");
    if let Some((listener, _)) = &hooks {
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let _ = writeln!(stdout, "test-hooks {addr}");
    }
    let _ = stdout.flush();
    drop(stdout);
    tracing::info!(addr = %api_addr, protocol = %args.protocol, db = %args.db, "serving");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });

    let app = auth::http::router(Arc::new(service), args.admin_token.as_deref());
    let api = axum::serve(listener, app).with_graceful_shutdown(stopped(stop_rx.clone()));
    match hooks {
        Some((listener, clock)) => {
            let hooks = axum::serve(listener, auth::http::test_hooks_router(clock, crash))
                .with_graceful_shutdown(stopped(stop_rx));
            let (a, b) = tokio::join!(api, hooks);
            a.and(b).map_err(|e| e.to_string())
        }
        None => api.await.map_err(|e| e.to_string()),
    }
}

/// The SQLite store `--db` names, laid out as this build (and its flaw, if any) keeps it.
fn open_sqlite(args: &Args) -> Result<SqliteStore, String> {
    #[cfg(feature = "flaws")]
    let opened = SqliteStore::open_flawed(&args.db, args.flaw);
    #[cfg(not(feature = "flaws"))]
    let opened = SqliteStore::open(&args.db);
    opened.map_err(|e| format!("cannot open {}: {e}", args.db))
}

async fn stopped(mut rx: tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
