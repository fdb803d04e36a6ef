//! `authcheck flaws`: every catalogue flaw (PROTOCOL.md §10) under K campaign seeds — detection, cases, time and
//! shrunk length — beside the proptest-state-machine peer (build with `--features flaws`).

use super::CliResult;

#[derive(clap::Args)]
pub struct FlawsArgs {
    /// Campaign seeds per flaw.
    #[arg(long, default_value_t = 10)]
    seeds: u64,
    /// Print a JSON object as the last line of stdout.
    #[arg(long)]
    json: bool,
    /// Leave out the proptest-state-machine peer (its campaigns are the slow part).
    #[arg(long)]
    no_peer: bool,
    /// Also write the detection table as one self-contained HTML page.
    #[arg(long, value_name = "FILE.html")]
    report: Option<std::path::PathBuf>,
    /// The upgrade-only flaws instead: each under `authcheck upgrade` (real builds of
    /// auth-server over one store) and under the atomic deploy campaign of one build.
    #[arg(long, conflicts_with_all = ["report", "no_peer"])]
    upgrade: bool,
    /// With `--upgrade`: a `flaws` build of auth-server (default: next to authcheck).
    #[arg(long)]
    server_bin: Option<std::path::PathBuf>,
}

#[cfg(not(feature = "flaws"))]
pub fn run(_: FlawsArgs) -> CliResult {
    Err(super::CliError::Usage(
        "this build has no flaws; run `cargo run --release --features flaws -- flaws`".into(),
    ))
}

/// `flaws --upgrade`: the upgrade-only flaws, each where it shows and where it does not.
#[cfg(feature = "flaws")]
fn run_upgrade(args: &FlawsArgs) -> CliResult {
    use authcheck::catalogue::{
        detect_atomic, detect_upgrade, has_flaw_catalogue, median, SEQUENTIAL_BUDGET,
        UPGRADE_BUDGET,
    };
    let bin = match &args.server_bin {
        Some(p) => p.clone(),
        None => authcheck::driver::find_server_bin().map_err(super::CliError::Usage)?,
    };
    if !has_flaw_catalogue(&bin).map_err(super::CliError::Usage)? {
        return Err(super::CliError::Usage(format!(
            "{} is not a flaws build of auth-server (it has no --flaw): build one with \
             `cargo build --release -p auth --features flaws`, or name one with --server-bin",
            bin.display()
        )));
    }
    let seeds = args.seeds;
    println!(
        "upgrade-only flaws: {seeds} seeds per flaw; authcheck upgrade (budget {UPGRADE_BUDGET} cases) \
         and the atomic deploy campaign of one build (budget {SEQUENTIAL_BUDGET} cases)"
    );
    println!(
        "{:<25} {:>9} {:>7} {:>7} {:>6} | {:>15}",
        "flaw", "detected", "cases", "ms", "shrunk", "atomic deploys"
    );
    let mut rows = Vec::new();
    let mut missed = 0;
    for flaw in auth::flaws::Flaw::UPGRADE {
        let runs: Vec<_> = (0..seeds)
            .map(|k| detect_upgrade(flaw, &bin, k * 7_919))
            .collect();
        let hits: Vec<_> = runs.iter().filter(|d| d.detected).collect();
        let cases = median(hits.iter().map(|d| d.cases).collect());
        let ms = median(hits.iter().map(|d| d.elapsed.as_millis() as u64).collect());
        let shrunk = median(hits.iter().map(|d| d.shrunk_len as u64).collect());
        missed += u64::from(hits.len() as u64 != seeds);
        let atomic = (0..seeds)
            .filter(|k| detect_atomic(flaw, k * 7_919).detected)
            .count();
        let show = |v: Option<u64>| v.map_or_else(|| "—".to_owned(), |v| v.to_string());
        println!(
            "{:<25} {:>9} {:>7} {:>7} {:>6} | {:>15}",
            flaw.id(),
            format!("{}/{seeds}", hits.len()),
            show(cases),
            show(ms),
            show(shrunk),
            format!("{atomic}/{seeds} found")
        );
        rows.push(serde_json::json!({
            "id": flaw.id(), "detected": hits.len(), "seeds": seeds, "median_cases": cases,
            "median_ms": ms, "shrunk_len": shrunk, "atomic_deploy_detected": atomic,
        }));
    }
    if args.json {
        println!("{}", serde_json::json!({ "upgrade_flaws": rows }));
    }
    Ok(super::verdict(missed > 0))
}

#[cfg(feature = "flaws")]
pub fn run(args: FlawsArgs) -> CliResult {
    use authcheck::catalogue::{detect, median, minimal_len};
    if args.upgrade {
        return run_upgrade(&args);
    }
    let (seeds, json, with_peer) = (args.seeds, args.json, !args.no_peer);
    println!(
        "flaw catalogue: {seeds} campaign seeds per flaw (budget: {} cases, {} concurrent)",
        authcheck::catalogue::SEQUENTIAL_BUDGET,
        authcheck::catalogue::CONCURRENT_BUDGET
    );
    println!("medians over the seeds that detected; shrunk = ops in the reported trace");
    println!(
        "{:<31} {:>7} | {:<34} | {:<34}",
        "", "", "authcheck", "proptest-state-machine peer"
    );
    println!(
        "{:<31} {:>7} | {:>9} {:>7} {:>7} {:>6} | {:>9} {:>7} {:>7} {:>6}",
        "flaw", "minimal", "detected", "cases", "ms", "shrunk", "detected", "cases", "ms", "shrunk"
    );
    let mut rows = Vec::new();
    let mut table_rows = Vec::new();
    let mut missed = 0;
    for flaw in auth::flaws::Flaw::ALL {
        let runs: Vec<_> = (0..seeds).map(|k| detect(flaw, k * 7_919)).collect();
        let hits: Vec<_> = runs.iter().filter(|d| d.detected).collect();
        let cases = median(hits.iter().map(|d| d.cases).collect());
        let ms = median(hits.iter().map(|d| d.elapsed.as_millis() as u64).collect());
        let shrunk = median(hits.iter().map(|d| d.shrunk_len as u64).collect());
        let minimal = minimal_len(flaw);
        missed += u64::from(hits.len() as u64 != seeds);
        // The peer is sequential only: concurrency flaws are out of its reach.
        let peer_runs = with_peer && !flaw.needs_concurrency();
        let peer: Vec<_> = if peer_runs {
            (0..seeds)
                .map(|k| {
                    authcheck::peer::detect(
                        Some(flaw),
                        k * 7_919,
                        authcheck::catalogue::SEQUENTIAL_BUDGET as u32,
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        let peer_hits: Vec<_> = peer.iter().filter(|d| d.detected).collect();
        let p_cases = median(peer_hits.iter().map(|d| d.cases).collect());
        let p_ms = median(
            peer_hits
                .iter()
                .map(|d| d.elapsed.as_millis() as u64)
                .collect(),
        );
        let p_shrunk = median(peer_hits.iter().map(|d| d.shrunk_len as u64).collect());
        let show = |v: Option<u64>| v.map_or_else(|| "—".to_owned(), |v| v.to_string());
        let peer_detected = if peer_runs {
            format!("{}/{}", peer_hits.len(), seeds)
        } else {
            "n/a".to_owned()
        };
        println!(
            "{:<31} {:>7} | {:>9} {:>7} {:>7} {:>6} | {:>9} {:>7} {:>7} {:>6}",
            flaw.id(),
            minimal,
            format!("{}/{}", hits.len(), seeds),
            show(cases),
            show(ms),
            show(shrunk),
            peer_detected,
            show(p_cases),
            show(p_ms),
            show(p_shrunk)
        );
        let mut cells = vec![
            flaw.id().to_owned(),
            minimal.to_string(),
            format!("{}/{}", hits.len(), seeds),
            show(cases),
            show(ms),
            show(shrunk),
        ];
        if with_peer {
            cells.extend([
                peer_detected.clone(),
                show(p_cases),
                show(p_ms),
                show(p_shrunk),
            ]);
        }
        table_rows.push(authcheck::html::TableRow {
            cells,
            bad: hits.len() as u64 != seeds,
        });
        rows.push(serde_json::json!({
            "id": flaw.id(), "detected": hits.len(), "seeds": seeds,
            "median_cases": cases, "median_ms": ms, "shrunk_len": shrunk, "minimal_len": minimal,
            "peer": if peer_runs { serde_json::json!({
                "detected": peer_hits.len(), "median_cases": p_cases, "median_ms": p_ms, "shrunk_len": p_shrunk,
            }) } else { serde_json::Value::Null },
        }));
    }
    if json {
        println!("{}", serde_json::json!({ "flaws": rows }));
    }
    if let Some(path) = &args.report {
        let page = authcheck::html::Page {
            title: "authcheck flaws".to_owned(),
            passed: missed == 0,
            verdict: if missed == 0 {
                "every flaw caught under every seed".to_owned()
            } else {
                format!("{missed} flaws missed by some seed")
            },
            summary: vec![
                ("seeds per flaw".to_owned(), seeds.to_string()),
                (
                    "budget".to_owned(),
                    format!(
                        "{} cases, {} concurrent",
                        authcheck::catalogue::SEQUENTIAL_BUDGET,
                        authcheck::catalogue::CONCURRENT_BUDGET
                    ),
                ),
            ],
            commands: vec![(
                "run again".to_owned(),
                format!(
                    "authcheck flaws --seeds {seeds}{}",
                    if with_peer { "" } else { " --no-peer" }
                ),
            )],
            table: Some(authcheck::html::Table {
                caption: "The flaw catalogue: detection by authcheck and by a proptest-state-machine peer".to_owned(),
                groups: [
                    (String::new(), 2),
                    ("authcheck".to_owned(), 4),
                    ("proptest-state-machine peer".to_owned(), 4),
                ][..if with_peer { 3 } else { 2 }]
                    .to_vec(),
                header: ["flaw", "minimal", "detected", "cases", "ms", "shrunk", "detected", "cases", "ms", "shrunk"]
                    [..if with_peer { 10 } else { 6 }]
                    .iter()
                    .map(|h| h.to_string())
                    .collect(),
                rows: table_rows,
                notes: vec![
                    "Medians over the seeds that detected; shrunk = operations in the reported trace; minimal = the hand-written trace's length.".to_owned(),
                    "The peer is sequential only: n/a where a flaw needs concurrency.".to_owned(),
                ],
            }),
            ..authcheck::html::Page::default()
        };
        super::write_report(&page, path)?;
    }
    Ok(super::verdict(missed > 0))
}
