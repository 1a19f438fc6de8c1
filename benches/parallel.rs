//! Data-parallel training (`mlp`'s `TrainConfig::threads`): micrograd's demo network,
//! MLP(2, [16, 16, 1]), trained on two-moons batches of 100 (the demo's), 1,000 and 10,000
//! samples (full batch, max-margin loss + 1e-4 L2), with 1 thread and with 2.
//!
//! Each iteration is a whole `Trainer::train` run of `STEPS` steps on a new trainer (so the
//! pool's start-up is paid once per run, as in real use); divide by `STEPS` for a step. A
//! zero learning rate keeps the workload the same at every step (which ReLUs are dead, which
//! samples are inside the margin) while still doing the update's arithmetic. Compare medians
//! within one run: `cargo bench --bench parallel`.
//!
//! `independent_halves` is the machine's own ceiling for the 2-thread figures: two 1-thread
//! trainers, each on half the batch, run side by side in a scope, sharing nothing. How close
//! `threads/2` comes to it is what the trainer's splitting costs; how far it is from half of
//! `threads/1` is the machine's (on the virtual machines this was written on, that varies
//! between runs). A test run (`cargo test --benches`) does 2-step runs at batch 100 only.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mlp::{Dataset, Mlp, Optimizer, Schedule, StepReport, TrainConfig, Trainer, datasets};
use tapegrad_suite::bench_test_mode;

/// Steps per measured training run.
const STEPS: usize = 20;

fn config(threads: usize) -> TrainConfig {
    TrainConfig {
        steps: if bench_test_mode() { 2 } else { STEPS },
        optimizer: Optimizer::Sgd {
            schedule: Schedule::Constant(black_box(0.0)),
        },
        threads,
        ..TrainConfig::micrograd_demo()
    }
}

/// A `STEPS`-step training run on a new trainer.
fn train(model: &mut Mlp, data: &Dataset, threads: usize) -> Vec<StepReport> {
    let mut trainer = Trainer::new(config(threads));
    trainer.train(model, data, |_| {}).unwrap()
}

fn bench_training_runs(c: &mut Criterion) {
    let batches: &[usize] = if bench_test_mode() {
        &[100]
    } else {
        &[100, 1_000, 10_000]
    };
    for &batch in batches {
        let data = datasets::two_moons(batch, 0.1, 1337);
        let mut group = c.benchmark_group(format!("train_{STEPS}_steps_batch_{batch}"));
        if batch >= 10_000 {
            group.sample_size(10);
        }
        for threads in [1, 2] {
            let mut model = Mlp::new(2, &[16, 16, 1], 1337);
            group.bench_function(BenchmarkId::new("threads", threads), |b| {
                b.iter(|| black_box(train(&mut model, &data, threads)))
            });
        }
        let half = datasets::two_moons(batch / 2, 0.1, 1337);
        let mut models = [0, 1].map(|_| Mlp::new(2, &[16, 16, 1], 1337));
        group.bench_function("independent_halves", |b| {
            b.iter(|| {
                let [m0, m1] = &mut models;
                std::thread::scope(|s| {
                    s.spawn(|| black_box(train(m1, &half, 1)));
                    black_box(train(m0, &half, 1));
                })
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench_training_runs);
criterion_main!(benches);
