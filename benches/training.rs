//! One training step of the main job's workload (GUIDE §5): MLP 2-16-16-1 on 100 two-moons
//! points, max-margin loss + 1e-4 L2, one full-batch SGD step, everything included (clear,
//! bind the 337 parameters, forward, backward, update), next to hand-written steps with
//! explicit gradient loops as the yardstick. Compare medians within one run:
//! `cargo bench --bench training`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tapegrad::Tape;
use tapegrad_suite::handwritten::{Net, step_plain};
use tapegrad_suite::{SIZES, moons, parameters, tape_step};

fn bench_step(c: &mut Criterion) {
    let (xs, ys) = moons(100);
    let start = parameters(&SIZES, 1);
    // A zero learning rate keeps the workload the same at every iteration (which ReLUs are
    // dead, which samples are inside the margin) while still doing the update's arithmetic.
    let lr = black_box(0.0);
    let mut group = c.benchmark_group("train_step");

    let mut params = start.clone();
    let mut grads = Vec::new();
    group.bench_function("handwritten_plain", |b| {
        b.iter(|| black_box(step_plain(&mut params, &mut grads, &xs, &ys, lr)))
    });

    let mut net = Net::from_params(&start);
    let mut grad = net.clone();
    group.bench_function("handwritten_vectorized", |b| {
        b.iter(|| black_box(net.step(&mut grad, &xs, &ys, lr)))
    });

    let mut tape = Tape::new();
    let mut params = start.clone();
    group.bench_function("tape_fused", |b| {
        b.iter(|| black_box(tape_step(&mut tape, &mut params, &xs, &ys, lr, true)))
    });

    let mut params = start.clone();
    group.bench_function("tape_binary_ops", |b| {
        b.iter(|| black_box(tape_step(&mut tape, &mut params, &xs, &ys, lr, false)))
    });
    group.finish();
}

criterion_group!(benches, bench_step);
criterion_main!(benches);
