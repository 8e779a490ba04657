//! Cost of schema inference per event, next to what parsing alone costs.
//!
//! `cargo bench -p schema --bench inference`
//!
//! - `stable`: ~150 B JSON events of one shape (values vary) into an inferrer that has seen the
//!   shape: the steady state, paid by every forwarded event. Baselines on the same payloads:
//!   `serde_json` into `IgnoredAny` (validation only, the floor for a visitor) and into
//!   `serde_json::Value` (what a DOM-based inference would pay first).
//! - `changing`: 64 events, each adding a property, into a fresh inferrer, with the schema
//!   text and its SHA-256 name made after each change (what the runtime does before it
//!   registers a new version): the cost while a shape is still being learnt.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use schema::{Inferrer, Observed};

fn stable_payloads() -> Vec<Vec<u8>> {
    (0..1000)
        .map(|seq| {
            let value = f64::from(seq % 1000) / 10.0;
            format!(
                "{{\"sensor\":\"temp-01\",\"site\":\"plant-3/line-2\",\"value\":{value:.2},\
                 \"unit\":\"C\",\"quality\":\"good\",\"ts\":\"2026-11-27T10:00:00.000Z\",\
                 \"seq\":{seq},\"ok\":true,\"flags\":[]}}"
            )
            .into_bytes()
        })
        .collect()
}

fn changing_payloads() -> Vec<Vec<u8>> {
    (0..64)
        .map(|i| {
            format!(
                "{{\"sensor\":\"temp-01\",\"value\":{i}.5,\"unit\":\"C\",\"ts\":\"2026-11-27T10:00:00Z\",\
                 \"seq\":{i},\"extra_{i}\":{i}}}"
            )
            .into_bytes()
        })
        .collect()
}

fn stable(c: &mut Criterion) {
    let payloads = stable_payloads();
    let bytes: usize = payloads.iter().map(Vec::len).sum();
    println!(
        "stable: {} payloads, {} B on average",
        payloads.len(),
        bytes / payloads.len()
    );
    let mut inferrer = Inferrer::new();
    for p in &payloads {
        let _ = inferrer.observe(p);
    }
    let mut group = c.benchmark_group("stable");
    group.throughput(Throughput::Elements(payloads.len() as u64));
    group.bench_function("infer", |b| {
        b.iter(|| {
            for p in &payloads {
                let observed = inferrer.observe(p);
                assert_eq!(observed, Ok(Observed::Unchanged));
            }
        });
    });
    group.bench_function("serde_json_ignored_any", |b| {
        b.iter(|| {
            for p in &payloads {
                let parsed = serde_json::from_slice::<serde::de::IgnoredAny>(p);
                assert!(parsed.is_ok());
            }
        });
    });
    group.bench_function("serde_json_value", |b| {
        b.iter(|| {
            for p in &payloads {
                let parsed = serde_json::from_slice::<serde_json::Value>(p);
                assert!(parsed.is_ok());
                std::hint::black_box(parsed.ok());
            }
        });
    });
    group.finish();
}

fn changing(c: &mut Criterion) {
    let payloads = changing_payloads();
    let mut group = c.benchmark_group("changing");
    group.throughput(Throughput::Elements(payloads.len() as u64));
    group.bench_function("infer_and_emit", |b| {
        b.iter_batched(
            Inferrer::new,
            |mut inferrer| {
                for p in &payloads {
                    if inferrer.observe(p) == Ok(Observed::Changed) {
                        std::hint::black_box(inferrer.schema());
                    }
                }
                inferrer
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(benches, stable, changing);
criterion_main!(benches);
