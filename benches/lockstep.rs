//! Lockstep throughput, and the cost of the model and comparison on top of the service.
//!
//! `lockstep/*` runs generated traces with the model beside the service; `service_alone/*` runs
//! the very same ops against the service with no model (the driver's abstraction included, since
//! any harness needs it). The difference is what checking costs (goal: at most 10% of the total).
//!
//! `cargo bench --bench lockstep` (add `-- --quick` for a fast pass).

use authcheck::campaign::case_ops;
use authcheck::driver::{in_process, Connection, Driver, InProcess, StoreKind};
use authcheck::lockstep;
use authcheck::model::{Op, Params};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;

fn traces(cases: u64) -> Vec<(u64, Vec<Op>)> {
    (0..cases)
        .map(|seed| (seed, case_ops(seed, Params::default(), 60)))
        .collect()
}

fn bench_store(c: &mut Criterion, store: StoreKind, name: &str, cases: u64) {
    let params = Params::default();
    let traces = traces(cases);
    let ops: u64 = traces.iter().map(|(_, t)| t.len() as u64).sum();
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(ops));
    group.sample_size(10);
    let fresh = |traces: &[(u64, Vec<Op>)]| -> Vec<Connection<InProcess>> {
        traces
            .iter()
            .map(|(seed, _)| in_process(store, params, *seed, None).unwrap())
            .collect()
    };
    group.bench_function("lockstep", |b| {
        b.iter_batched(
            || fresh(&traces),
            |mut drivers| {
                for (driver, (_, ops)) in drivers.iter_mut().zip(&traces) {
                    let run = lockstep::run(driver, params, ops, None);
                    assert!(run.failure.is_none());
                    black_box(run);
                }
                drivers
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("service_alone", |b| {
        b.iter_batched(
            || fresh(&traces),
            |mut drivers| {
                for (driver, (_, ops)) in drivers.iter_mut().zip(&traces) {
                    for op in ops {
                        black_box(driver.apply(op).unwrap());
                    }
                }
                drivers
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn memory(c: &mut Criterion) {
    bench_store(c, StoreKind::Memory, "memory", 100);
}

fn sqlite(c: &mut Criterion) {
    bench_store(c, StoreKind::Sqlite, "sqlite", 10);
}

criterion_group!(benches, memory, sqlite);
criterion_main!(benches);
