//! Checking's share of a lockstep run, timed interleaved: the number the project holds itself to
//! (model + invariants + comparison ≤ 5 % of an in-process lockstep run).
//!
//! Criterion times `lockstep` and `check_alone` (benches/lockstep.rs) minutes apart, and this
//! machine's speed drifts by up to 2× within an hour, so their ratio moves by more than the
//! changes it should show. Here each round times the very same traces both ways back to back
//! (against fresh services, then against those services' recorded answers) and the ratio is
//! taken per round; the medians over all rounds are printed, with the spread between the
//! first and third quartiles. The order within a round alternates, so drift favours neither.
//! The check runs against a stand-in driver that hands out the recorded answers; what that
//! costs on its own is timed too, and the share is also printed without it (the model, the
//! invariants, the comparison and the loop alone).
//!
//! `cargo bench --bench check_share` (add `-- --rounds N`; default 40).

mod common;

use authcheck::driver::{Driver, StoreKind};
use authcheck::model::Op;
use common::{answers, fresh, lockstep_all, replayed, service_all, traces, verdict_all};
use std::time::{Duration, Instant};

/// How long `run` takes on drivers made by `setup` (not timed).
fn time<D>(setup: impl Fn() -> Vec<D>, run: impl Fn(&mut [D])) -> Duration {
    let mut drivers = setup();
    let start = Instant::now();
    run(&mut drivers);
    let took = start.elapsed();
    drop(drivers);
    took
}

/// Runs every trace keeping only its verdict (mode 0) or recording every step (mode 1).
fn run(mode: usize, drivers: &mut [impl Driver], traces: &[(u64, Vec<Op>)]) {
    match mode {
        0 => verdict_all(drivers, traces),
        _ => lockstep_all(drivers, traces),
    }
}

/// The median and the first and third quartiles.
fn quartiles(mut xs: Vec<f64>) -> [f64; 3] {
    xs.sort_by(f64::total_cmp);
    let at = |q: f64| xs[((xs.len() - 1) as f64 * q).round() as usize];
    [at(0.5), at(0.25), at(0.75)]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .map_or(40, |n| n.parse().expect("--rounds takes a number"));
    let store = StoreKind::Memory;
    let traces = traces(100);
    let ops = traces.iter().map(|(_, t)| t.len()).sum::<usize>() as f64;
    let answers = answers(store, &traces);
    let services = || fresh(store, &traces);
    let recorded = || replayed(&answers);
    // Per mode: lockstep ns/op, check ns/op, check ÷ lockstep, (check - replay) ÷ lockstep.
    let mut samples = [[(); 4].map(|_| Vec::new()), [(); 4].map(|_| Vec::new())];
    let mut replays = Vec::new();
    for round in 0..rounds {
        // Handing out the recorded answers alone: the part of `check` that is the stand-in
        // driver, not the model nor the comparison.
        let replay = time(recorded, |d| service_all(d, &traces)).as_secs_f64();
        replays.push(replay * 1e9 / ops);
        for (mode, samples) in samples.iter_mut().enumerate() {
            let (lockstep, check) = if round % 2 == 0 {
                let l = time(services, |d| run(mode, d, &traces));
                (l, time(recorded, |d| run(mode, d, &traces)))
            } else {
                let c = time(recorded, |d| run(mode, d, &traces));
                (time(services, |d| run(mode, d, &traces)), c)
            };
            let (l, c) = (lockstep.as_secs_f64(), check.as_secs_f64());
            samples[0].push(l * 1e9 / ops);
            samples[1].push(c * 1e9 / ops);
            samples[2].push(c / l * 100.0);
            samples[3].push((c - replay) / l * 100.0);
        }
    }
    println!(
        "{rounds} rounds of {ops} ops (100 traces), in-process memory store, medians [Q1 Q3]:"
    );
    let [r, ..] = quartiles(replays);
    println!("  replaying the recorded answers alone: {r:.1} ns/op");
    for (name, [lockstep, check, share, net]) in ["verdict only", "recorded"].iter().zip(samples) {
        let [l, ..] = quartiles(lockstep);
        let [c, ..] = quartiles(check);
        let [s, s1, s3] = quartiles(share);
        let [n, n1, n3] = quartiles(net);
        println!(
            "  {name:<12}  lockstep {l:6.0} ns/op  check {c:5.1} ns/op  share {s:4.2} % [{s1:.2} {s3:.2}]  without the replay {n:4.2} % [{n1:.2} {n3:.2}]"
        );
    }
}
