//! Lockstep throughput, and the cost of the model and comparison on top of the service.
//!
//! `lockstep/*` runs generated traces with the model beside the service, recording every step
//! (`lockstep::run`, what replay and reports use); `service_alone/*` runs the very same ops
//! against the service with no model (the driver's abstraction included, since any harness needs
//! it); `check_alone/*` runs the lockstep loop against the service's recorded answers, so it
//! times the model, the invariants, the comparison and the run record on their own. Checking's
//! share is `check_alone / lockstep`; `lockstep - service_alone` estimates the same thing by
//! subtraction, which is noisier. `lockstep_verdict` and `check_verdict` are the same two
//! without the run record (`lockstep::verdict_with`, what campaign cases, the shrinker and the
//! fuzzer run): `check_verdict / lockstep_verdict` is the share of the model, its invariants
//! and the comparison alone. `fuzz/lockstep_exec` runs the `lockstep`
//! fuzz entry point over its committed corpus, outside libFuzzer (execs/s).
//!
//! `cargo bench --bench lockstep` (add `-- --quick` for a fast pass, or a filter such as
//! `memory` or `fuzz`).

mod common;

use authcheck::driver::{Connection, InProcess, StoreKind};
use common::{answers, fresh, lockstep_all, replayed, service_all, traces, verdict_all};
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion, Throughput,
};
use std::hint::black_box;

/// Times `run` on drivers that `setup` makes before each iteration (made and dropped outside
/// the timing).
fn bench_drivers<D>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    setup: impl Fn() -> Vec<D>,
    run: impl Fn(&mut [D]),
) {
    group.bench_function(name, |b| {
        b.iter_batched(
            &setup,
            |mut drivers| {
                run(&mut drivers);
                drivers
            },
            BatchSize::PerIteration,
        )
    });
}

fn bench_store(c: &mut Criterion, store: StoreKind, name: &str, cases: u64) {
    let traces = traces(cases);
    let ops: u64 = traces.iter().map(|(_, t)| t.len() as u64).sum();
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(ops));
    group.sample_size(10);
    let fresh = || -> Vec<Connection<InProcess>> { fresh(store, &traces) };
    bench_drivers(&mut group, "lockstep", fresh, |d| lockstep_all(d, &traces));
    bench_drivers(&mut group, "lockstep_verdict", fresh, |d| {
        verdict_all(d, &traces)
    });
    bench_drivers(&mut group, "service_alone", fresh, |d| {
        service_all(d, &traces)
    });
    let answers = answers(store, &traces);
    let replayed = || replayed(&answers);
    bench_drivers(&mut group, "check_alone", replayed, |d| {
        lockstep_all(d, &traces)
    });
    bench_drivers(&mut group, "check_verdict", replayed, |d| {
        verdict_all(d, &traces)
    });
    group.finish();
}

fn memory(c: &mut Criterion) {
    bench_store(c, StoreKind::Memory, "memory", 100);
}

fn sqlite(c: &mut Criterion) {
    bench_store(c, StoreKind::Sqlite, "sqlite", 10);
}

/// One `lockstep` fuzz exec per committed corpus input, outside libFuzzer (no instrumentation):
/// the entry point's own cost, in execs/s.
fn fuzz_exec(c: &mut Criterion) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/lockstep");
    let inputs: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    let mut group = c.benchmark_group("fuzz");
    group.throughput(Throughput::Elements(inputs.len() as u64));
    group.bench_function("lockstep_exec", |b| {
        b.iter(|| {
            for input in &inputs {
                authcheck::fuzzing::lockstep(black_box(input));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, memory, sqlite, fuzz_exec);
criterion_main!(benches);
