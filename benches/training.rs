//! One training step of the main job's workload: MLP 2-16-16-1 on 100 two-moons
//! points, max-margin loss + 1e-4 L2, one full-batch SGD step, everything included (clear,
//! bind the 337 parameters, forward, backward, update), next to hand-written steps with
//! explicit gradient loops as the yardstick. Compare medians within one run:
//! `cargo bench --bench training`.
//!
//! The data and the starting parameters are the main job's (`two_moons(100, 0.1, 1337)`,
//! `Mlp::new(2, &[16, 16, 1], 1337)`). A zero learning rate keeps the workload identical at
//! every iteration (which ReLUs are dead, which samples are inside the margin) while every
//! step still does the update's arithmetic.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mlp::{Mlp, Optimizer, Schedule, TrainConfig, Trainer, datasets};
use tapegrad::Tape;
use tapegrad_suite::handwritten::{Net, step_plain};
use tapegrad_suite::tape_step;

fn bench_step(c: &mut Criterion) {
    let data = datasets::two_moons(100, 0.1, 1337);
    let xs: Vec<[f64; 2]> = data.inputs.iter().map(|x| [x[0], x[1]]).collect();
    let ys = data.labels.clone();
    let model = Mlp::new(2, &[16, 16, 1], 1337);
    let start = model.parameters();
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

    // The main job's step: mlp's Trainer (chunks of 64, one thread, a node per neuron).
    let mut trained = model.clone();
    let mut trainer = Trainer::new(TrainConfig {
        optimizer: Optimizer::Sgd {
            schedule: Schedule::Constant(lr),
        },
        ..TrainConfig::micrograd_demo()
    });
    group.bench_function("mlp_trainer", |b| {
        b.iter(|| black_box(trainer.step(&mut trained, &data).unwrap()))
    });

    // The same loss on one tape with a node per neuron, without the Trainer's bookkeeping.
    let mut tape = Tape::new();
    let mut params = start.clone();
    group.bench_function("tape_fused", |b| {
        b.iter(|| black_box(tape_step(&mut tape, &mut params, &xs, &ys, lr, true)))
    });

    // micrograd's graph shape: a node per scalar +, * and relu.
    let mut params = start.clone();
    group.bench_function("tape_binary_ops", |b| {
        b.iter(|| black_box(tape_step(&mut tape, &mut params, &xs, &ys, lr, false)))
    });
    group.finish();
}

criterion_group!(benches, bench_step);
criterion_main!(benches);
