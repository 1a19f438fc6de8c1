//! Engine throughput: record + backward per node, on a long chain of mixed operations and on
//! micrograd's demo graph written with binary operations only (whose record and backward are
//! also timed alone); anomaly detection off vs on.
//!
//! `cargo bench --bench engine`. Per-node figures: divide the reported time by the node count
//! printed at the start. A test run (`cargo test --benches`) uses short chains and 4 samples.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tapegrad::Tape;
use tapegrad_suite::{SIZES, bench_test_mode, moons, parameters, record_binary, record_fused};

const CHAIN: usize = 1_000_000;

/// The chain's length: 1e6 nodes when measuring, 1e3 in a test run.
fn chain_len() -> usize {
    if bench_test_mode() { 1_000 } else { CHAIN }
}

/// Two-moons samples of the graph benchmarks: micrograd's 100 when measuring, 4 in a test run.
fn samples() -> usize {
    if bench_test_mode() { 4 } else { 100 }
}

/// A chain of `n` nodes over two leaves, cycling through `*`, `+`, `tanh`, `* c`, `sin`.
fn chain(tape: &Tape, n: usize) -> f64 {
    let a = tape.var(0.999);
    let b = tape.var(0.001);
    let mut x = tape.var(0.5);
    for i in 0..(n - 3) {
        x = match i % 5 {
            0 => x * a,
            1 => x + b,
            2 => x.tanh(),
            3 => x * 1.0001,
            _ => x.sin(),
        };
    }
    let g = x.backward();
    g[a] + g[b]
}

fn bench_chain(c: &mut Criterion) {
    let n = chain_len();
    let mut group = c.benchmark_group("chain_1e6");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(20);
    for anomaly in [false, true] {
        let name = if anomaly { "anomaly_on" } else { "anomaly_off" };
        let mut tape = Tape::with_capacity(n);
        tape.set_detect_anomaly(anomaly);
        group.bench_function(BenchmarkId::new("record_backward", name), |bch| {
            bch.iter(|| {
                tape.clear();
                black_box(chain(&tape, n))
            })
        });
        // Only when the benchmark ran (a filter may have skipped it, leaving the tape empty).
        if !anomaly && !tape.is_empty() {
            // The tape's own buffers, then with the gradient buffer backward keeps for reuse.
            let fresh = Tape::<f64>::with_capacity(n);
            eprintln!(
                "chain: {} nodes; {:.1} bytes per node on the tape, {:.1} with the gradients",
                tape.len(),
                fresh.memory_bytes() as f64 / n as f64,
                tape.memory_bytes() as f64 / tape.len() as f64
            );
        }
    }
    group.finish();
}

fn bench_micrograd_graph(c: &mut Criterion) {
    let (xs, ys) = moons(samples());
    let params = parameters(&SIZES, 1);
    let mut tape = Tape::new();
    let nodes = {
        let p = tape.vars(&params);
        let _ = record_binary(&tape, &p, &xs, &ys);
        tape.len()
    };
    eprintln!("micrograd-shaped graph: {nodes} nodes per step");
    let mut group = c.benchmark_group("micrograd_graph");
    group.throughput(Throughput::Elements(nodes as u64));
    group.bench_function("record", |bch| {
        bch.iter(|| {
            tape.clear();
            let p = tape.vars(&params);
            black_box(record_binary(&tape, &p, &xs, &ys).value())
        })
    });
    group.bench_function("record_backward", |bch| {
        bch.iter(|| {
            tape.clear();
            let p = tape.vars(&params);
            let loss = record_binary(&tape, &p, &xs, &ys);
            black_box(loss.backward()[p[0]])
        })
    });
    // Backward alone, on one recording (backward leaves the tape as it is).
    tape.clear();
    let p = tape.vars(&params);
    let loss = record_binary(&tape, &p, &xs, &ys);
    group.bench_function("backward", |bch| {
        bch.iter(|| black_box(loss.backward()[p[0]]))
    });
    group.finish();
}

/// The same loss with fused nodes (a `dot` per neuron, one `sum`, one `dot` for L2), the way
/// the `mlp` crate records it.
fn bench_fused_graph(c: &mut Criterion) {
    let (xs, ys) = moons(samples());
    let params = parameters(&SIZES, 1);
    let mut tape = Tape::new();
    let nodes = {
        let p = tape.run(&params);
        let _ = record_fused(&tape, p, &xs, &ys);
        tape.len()
    };
    eprintln!("fused graph: {nodes} nodes per step");
    let mut group = c.benchmark_group("fused_graph");
    group.throughput(Throughput::Elements(nodes as u64));
    group.bench_function("record_backward", |bch| {
        bch.iter(|| {
            tape.clear();
            let p = tape.run(&params);
            let loss = record_fused(&tape, p, &xs, &ys);
            black_box(loss.backward()[p.get(0)])
        })
    });
    group.finish();
}

/// Time and memory against tape length: a chain `x = x·a + b` of 1e3 to 1e7 nodes. Linear
/// scaling shows as a flat throughput (nodes per second) across sizes.
fn bench_scale(c: &mut Criterion) {
    let mut group = c.benchmark_group("scale");
    group.sample_size(10);
    let sizes: &[usize] = if bench_test_mode() {
        &[1_000]
    } else {
        &[1_000, 10_000, 100_000, 1_000_000, 10_000_000]
    };
    for &n in sizes {
        let mut tape = Tape::new();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |bch, &n| {
            bch.iter(|| {
                tape.clear();
                let a = tape.var(0.999_999);
                let b = tape.var(1e-6);
                let mut x = tape.var(1.0);
                while tape.len() + 2 <= n {
                    x = x * a + b;
                }
                let g = x.backward();
                black_box(g[a])
            })
        });
        if !tape.is_empty() {
            eprintln!(
                "scale: {} nodes, {:.1} bytes per node (tape and gradient buffer)",
                tape.len(),
                tape.memory_bytes() as f64 / tape.len() as f64
            );
        }
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_chain,
    bench_micrograd_graph,
    bench_fused_graph,
    bench_scale
);
criterion_main!(benches);
