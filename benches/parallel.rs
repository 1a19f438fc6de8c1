//! Data-parallel training (`mlp`'s `TrainConfig::threads`): one `Trainer::step` of
//! micrograd's demo network, MLP(2, [16, 16, 1]), on two-moons batches of 1,000 and 10,000
//! samples (full batch, max-margin loss + 1e-4 L2), with 1 thread and with 2, plus the demo's
//! own 100-sample step on one thread. A zero learning rate keeps the workload the same at
//! every iteration (which ReLUs are dead, which samples are inside the margin) while still
//! doing the update's arithmetic. Compare medians within one run:
//! `cargo bench --bench parallel`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mlp::{Mlp, Optimizer, Schedule, TrainConfig, Trainer, datasets};

fn config(threads: usize) -> TrainConfig {
    TrainConfig {
        optimizer: Optimizer::Sgd {
            schedule: Schedule::Constant(black_box(0.0)),
        },
        threads,
        ..TrainConfig::micrograd_demo()
    }
}

fn bench_steps(c: &mut Criterion) {
    for (batch, thread_counts) in [(100, &[1][..]), (1_000, &[1, 2]), (10_000, &[1, 2])] {
        let data = datasets::two_moons(batch, 0.1, 1337);
        let mut group = c.benchmark_group(format!("train_step_batch_{batch}"));
        if batch >= 10_000 {
            group.sample_size(10);
        }
        for &threads in thread_counts {
            let mut model = Mlp::new(2, &[16, 16, 1], 1337);
            let mut trainer = Trainer::new(config(threads));
            group.bench_function(BenchmarkId::new("threads", threads), |b| {
                b.iter(|| black_box(trainer.step(&mut model, &data).unwrap()))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_steps);
criterion_main!(benches);
