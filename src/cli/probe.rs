//! `authcheck probe`: watch a live service with model-checked flows every interval, with
//! Prometheus metrics; `--once` for a cron job or a smoke test after a deploy.

use super::target::TargetArgs;
use super::{verdict, CliError, CliResult};
use authcheck::probe::flows::Account;
use authcheck::probe::{Probe, ProbeConfig, Round};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct ProbeArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// The service's protocol numbers, as `key=value` words over the profile's
    /// (`"refresh_grace=5 access_ttl=300"`), when it does not run the defaults.
    #[arg(long)]
    params: Option<String>,
    /// Seconds between the starts of two rounds.
    #[arg(long, default_value_t = 30.0)]
    interval: f64,
    /// Run one round and exit: 0 if every flow matched the model, 1 otherwise.
    #[arg(long)]
    once: bool,
    /// Stop after this many rounds (default: run until stopped).
    #[arg(long)]
    rounds: Option<u64>,
    /// Add the flows that wait across a window on purpose (the grace window, an access
    /// token's lifetime): a round then takes that long.
    #[arg(long)]
    long: bool,
    /// Serve the metrics at `http://ADDR/metrics` (Prometheus text format).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<std::net::SocketAddr>,
    /// A TOML file with `username = "…"` and `password = "…"` for the probe's account
    /// (default: the environment's AUTHCHECK_PROBE_USERNAME and AUTHCHECK_PROBE_PASSWORD).
    /// Never on the command line.
    #[arg(long, value_name = "FILE")]
    credentials: Option<PathBuf>,
    /// Every account the probe touches has a name starting with this.
    #[arg(long, default_value = "authcheck-probe")]
    account_prefix: String,
    /// At most this many requests per second.
    #[arg(long, default_value_t = 5.0)]
    max_rps: f64,
    /// How many seconds the service's clock may be off ours.
    #[arg(long, default_value_t = 1)]
    clock_skew: u64,
    /// Where a divergence's trace is written.
    #[arg(long, default_value = "authcheck-probe-failures")]
    out_dir: PathBuf,
    /// With --once: also write the round as a self-contained HTML page.
    #[arg(long, value_name = "FILE.html", requires = "once")]
    report: Option<PathBuf>,
}

#[derive(serde::Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

fn account(args: &ProbeArgs) -> Result<Account, CliError> {
    let creds = match &args.credentials {
        Some(file) => {
            let text = String::from_utf8_lossy(&super::read(file)?).into_owned();
            toml::from_str::<Credentials>(&text).map_err(|e| CliError::Trace {
                path: file.clone(),
                error: e.to_string(),
            })?
        }
        None => Credentials {
            username: std::env::var("AUTHCHECK_PROBE_USERNAME").map_err(|_| {
                CliError::Usage(
                    "the probe's account: give --credentials FILE or set AUTHCHECK_PROBE_USERNAME and AUTHCHECK_PROBE_PASSWORD".into(),
                )
            })?,
            password: std::env::var("AUTHCHECK_PROBE_PASSWORD").map_err(|_| {
                CliError::Usage("AUTHCHECK_PROBE_PASSWORD is not set".into())
            })?,
        },
    };
    if !creds.username.starts_with(&args.account_prefix) {
        return Err(CliError::Usage(format!(
            "the probe only touches accounts named {}…; {:?} is not one (see --account-prefix)",
            args.account_prefix, creds.username
        )));
    }
    Ok(Account {
        user: creds.username,
        password: creds.password,
    })
}

pub fn run(args: ProbeArgs) -> CliResult {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init()
        .ok();
    let base = args.target.target.clone();
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(CliError::Usage(format!(
            "--target {base}: the probe watches a live service: give its URL (http://HOST:PORT)"
        )));
    }
    let target = args.target.target()?;
    let mut profile = args
        .target
        .profile()?
        .unwrap_or_else(|| target.adapter().profile());
    if let Some(params) = super::check::parse_params(args.params.as_deref())? {
        profile.params = params;
    }
    let base = base.trim_end_matches('/').to_owned();
    let config = ProbeConfig {
        adapter: ProbeConfig::http_target(&base),
        base,
        profile,
        account: account(&args)?,
        long: args.long,
        max_rps: args.max_rps,
        skew: args.clock_skew,
        out_dir: args.out_dir.clone(),
    };
    config.check().map_err(CliError::Usage)?;
    let mut probe = Probe::new(config);
    if let Some(addr) = args.metrics {
        let bound = probe.metrics.serve(addr).map_err(CliError::Usage)?;
        println!("metrics: http://{bound}/metrics");
    }
    probe.ensure_account().map_err(CliError::Usage)?;
    let rounds = if args.once { Some(1) } else { args.rounds };
    let mut failed = false;
    let mut done = 0;
    loop {
        let started = Instant::now();
        let round = probe.round();
        done += 1;
        print_round(done, &round, started.elapsed());
        failed |= !round.passed();
        if args.once {
            if let Some(path) = &args.report {
                super::write_report(&authcheck::probe::report::page(&probe, &round), path)?;
            }
        }
        if rounds.is_some_and(|n| done >= n) {
            break;
        }
        let interval = Duration::from_secs_f64(args.interval.max(0.0));
        if let Some(rest) = interval.checked_sub(started.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    Ok(verdict(failed))
}

fn print_round(n: u64, round: &Round, took: Duration) {
    let bad: Vec<&str> = round
        .flows
        .iter()
        .filter(|f| f.divergence.is_some())
        .map(|f| f.name)
        .collect();
    let unreachable: Vec<&str> = round
        .flows
        .iter()
        .filter(|f| f.unreachable.is_some())
        .map(|f| f.name)
        .collect();
    println!(
        "round {n}: {} flows, {} requests in {:.2}s: {}",
        round.flows.len(),
        round.requests(),
        took.as_secs_f64(),
        match (bad.is_empty(), unreachable.is_empty()) {
            (true, true) => "ok".to_owned(),
            (false, _) => format!("DIVERGENCE in {}", bad.join(", ")),
            (true, false) => format!("UNREACHABLE in {}", unreachable.join(", ")),
        }
    );
    for (name, e) in round
        .flows
        .iter()
        .filter_map(|f| f.unreachable.as_ref().map(|e| (f.name, e)))
    {
        println!("  {name}: the service did not answer: {e}");
    }
    for d in round.flows.iter().filter_map(|f| f.divergence.as_ref()) {
        println!(
            "  {} step {}: `{}` — the model expected `{}`, the service answered `{}`",
            d.flow, d.step, d.op, d.expected, d.actual
        );
        println!("  trace: {}", d.trace_file.display());
        println!("  replay it: {}", d.replay);
    }
}
