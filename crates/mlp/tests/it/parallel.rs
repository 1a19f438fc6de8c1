//! Data-parallel steps (`TrainConfig::threads`): every thread count gives bitwise the same
//! run; chunk boundaries; tape lengths; the non-finite guard with several threads.

use mlp::{
    Activation, Dataset, Loss, Mlp, Optimizer, Schedule, TrainConfig, TrainError, Trainer,
    datasets, evaluate,
};

use crate::common::{bits, non_finite, overflowing_first_weight};

/// Everything a run produces, as bits: the loss curve, the accuracies, the tape lengths and
/// the final parameters.
#[derive(Debug, PartialEq)]
struct Run {
    losses: Vec<u64>,
    accuracies: Vec<u64>,
    tape_lens: Vec<usize>,
    params: Vec<u64>,
}

fn run(data: &Dataset, sizes: &[usize], config: &TrainConfig) -> Run {
    let mut model = Mlp::new(data.dim(), sizes, 5);
    let reports = Trainer::new(config.clone())
        .train(&mut model, data, |_| {})
        .unwrap();
    assert_eq!(reports.len(), config.steps);
    Run {
        losses: bits(&reports.iter().map(|r| r.loss).collect::<Vec<_>>()),
        accuracies: bits(&reports.iter().map(|r| r.accuracy).collect::<Vec<_>>()),
        tape_lens: reports.iter().map(|r| r.tape_len).collect(),
        params: bits(&model.parameters()),
    }
}

#[test]
fn every_thread_count_gives_bitwise_the_same_run() {
    let moons = datasets::two_moons(300, 0.15, 9);
    let small = datasets::two_moons(150, 0.15, 10);
    let cases = [
        // Full batch of 300: four chunks of 64 and one of 44 (not a multiple).
        (
            &moons,
            TrainConfig {
                steps: 12,
                ..TrainConfig::micrograd_demo()
            },
        ),
        // Mini-batches of 100 (64 + 36) across epochs, Adam, logistic loss, more L2.
        (
            &moons,
            TrainConfig {
                steps: 12,
                loss: Loss::Logistic,
                l2: 1e-3,
                optimizer: Optimizer::adam(0.01),
                batch_size: Some(100),
                seed: 3,
                ..TrainConfig::micrograd_demo()
            },
        ),
        // Mini-batches of 7: one chunk, so extra threads have nothing to do.
        (
            &moons,
            TrainConfig {
                steps: 12,
                batch_size: Some(7),
                seed: 4,
                ..TrainConfig::micrograd_demo()
            },
        ),
        // Small chunks: 15 chunks of 10 over 150 samples, several per thread; a sum loss
        // (no division) without L2, momentum.
        (
            &small,
            TrainConfig {
                steps: 12,
                loss: Loss::SumSquared,
                l2: 0.0,
                optimizer: Optimizer::Momentum {
                    schedule: Schedule::Constant(1e-4),
                    beta: 0.5,
                },
                chunk_size: 10,
                ..TrainConfig::micrograd_demo()
            },
        ),
        // Chunks of 1 and a mini-batch of 23 that is not a multiple of anything.
        (
            &small,
            TrainConfig {
                steps: 12,
                loss: Loss::MeanSquared,
                optimizer: Optimizer::adam(0.01),
                batch_size: Some(23),
                chunk_size: 1,
                seed: 8,
                ..TrainConfig::micrograd_demo()
            },
        ),
    ];
    for (data, config) in cases {
        let one = run(data, &[16, 16, 1], &config);
        // Training did something.
        assert_ne!(one.losses[0], one.losses[config.steps - 1], "{config:?}");
        for threads in [2, 3, 5, 8, 0] {
            let many = run(
                data,
                &[16, 16, 1],
                &TrainConfig {
                    threads,
                    ..config.clone()
                },
            );
            assert_eq!(many, one, "threads {threads}, {config:?}");
        }
    }
}

#[test]
fn loss_and_gradient_do_not_depend_on_the_thread_count() {
    let data = datasets::two_moons(200, 0.1, 3);
    let model = Mlp::new(2, &[16, 16, 1], 3);
    let at = |threads| {
        let config = TrainConfig {
            threads,
            ..TrainConfig::micrograd_demo()
        };
        let (loss, grad) = Trainer::new(config)
            .loss_and_gradient(&model, &data)
            .unwrap();
        (loss.to_bits(), bits(&grad))
    };
    let one = at(1);
    for threads in [2, 4, 0] {
        assert_eq!(at(threads), one, "threads {threads}");
    }
}

/// The chunk size only moves rounding: the chunked loss and gradient agree with the one-tape
/// recording (`chunk_size` ≥ the batch) to a few ulps, and so does `evaluate`'s loss.
#[test]
fn chunking_changes_only_the_rounding() {
    let data = datasets::two_moons(200, 0.1, 4);
    let model = Mlp::new(2, &[16, 16, 1], 4);
    let with = |chunk_size| {
        Trainer::new(TrainConfig {
            chunk_size,
            l2: 0.0,
            ..TrainConfig::micrograd_demo()
        })
        .loss_and_gradient(&model, &data)
        .unwrap()
    };
    let (whole, g_whole) = with(usize::MAX);
    let (direct, _) = evaluate(&model, &data, Loss::MaxMargin);
    assert_eq!(whole.to_bits(), direct.to_bits());
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-13 * (1.0 + a.abs().max(b.abs()));
    let mut some_bits_differ = false;
    for chunk_size in [1, 7, 64, 199] {
        let (loss, g) = with(chunk_size);
        assert!(close(loss, whole), "{chunk_size}: {loss} vs {whole}");
        for (a, b) in g.iter().zip(&g_whole) {
            assert!(close(*a, *b), "{chunk_size}: {a} vs {b}");
        }
        some_bits_differ |= bits(&g) != bits(&g_whole);
    }
    // Otherwise the test would not show that chunking is a different summation.
    assert!(some_bits_differ);
}

#[test]
fn the_tape_length_counts_every_chunk() {
    let data = datasets::two_moons(150, 0.1, 6);
    for threads in [1, 2] {
        for (chunk_size, chunks) in [(64, 3), (150, 1), (1000, 1), (50, 3), (1, 150)] {
            let mut model = Mlp::new(2, &[16, 16, 1], 6);
            let config = TrainConfig {
                steps: 3,
                threads,
                chunk_size,
                ..TrainConfig::micrograd_demo()
            };
            let reports = Trainer::new(config)
                .train(&mut model, &data, |_| {})
                .unwrap();
            // Per chunk: the 337 parameters, the sum of its terms and the division by the
            // batch size; per sample: 2 inputs, 33 neuron nodes, 3 hinge nodes; once: L2.
            let expect = chunks * (337 + 2) + 150 * (2 + 33 + 3) + 3;
            for r in &reports {
                assert_eq!(r.tape_len, expect, "chunk {chunk_size}, threads {threads}");
            }
        }
    }
}

#[test]
fn the_demo_reaches_full_accuracy_with_two_threads() {
    let data = datasets::two_moons(100, 0.1, 1337);
    let mut model = Mlp::new(2, &[16, 16, 1], 1337);
    let config = TrainConfig {
        threads: 2,
        ..TrainConfig::micrograd_demo()
    };
    let reports = Trainer::new(config)
        .train(&mut model, &data, |_| {})
        .unwrap();
    assert_eq!(reports[99].accuracy, 1.0, "{}", reports[99]);
    assert_eq!(evaluate(&model, &data, Loss::MaxMargin).1, 1.0);
}

#[test]
fn zero_threads_means_every_core() {
    let config = TrainConfig {
        threads: 0,
        ..TrainConfig::micrograd_demo()
    };
    assert_eq!(config.check(), Ok(()));
    let data = datasets::two_moons(200, 0.1, 2);
    let a = run(&data, &[8, 1], &TrainConfig { steps: 5, ..config });
    let b = run(
        &data,
        &[8, 1],
        &TrainConfig {
            steps: 5,
            ..TrainConfig::micrograd_demo()
        },
    );
    assert_eq!(a, b);
}

#[test]
fn a_zero_chunk_size_is_a_config_error() {
    let data = datasets::lecture_toy();
    let mut model = Mlp::new(3, &[4, 1], 0);
    let mut t = Trainer::new(TrainConfig {
        chunk_size: 0,
        ..TrainConfig::micrograd_demo()
    });
    let err = t.step(&mut model, &data).unwrap_err();
    assert_eq!(
        err,
        TrainError::Config("the chunk size must be at least 1".into())
    );
    assert_eq!(
        err.to_string(),
        "bad training configuration: the chunk size must be at least 1"
    );
    assert_eq!(t.steps_done(), 0);
}

// ---- one trainer, its threads and tapes reused across calls ----

/// Everything one trainer produces, as bits: single `step`s, `loss_and_gradient` and a
/// `train` run, all on the same threads and tapes.
fn mixed_calls(threads: usize) -> Vec<Vec<u64>> {
    let data = datasets::two_moons(400, 0.1, 6);
    let mut model = Mlp::new(2, &[16, 16, 1], 6);
    let mut t = Trainer::new(TrainConfig {
        steps: 8,
        threads,
        optimizer: Optimizer::adam(0.01),
        ..TrainConfig::micrograd_demo()
    });
    let mut out = Vec::new();
    for _ in 0..2 {
        let r = t.step(&mut model, &data).unwrap();
        out.push(bits(&[r.loss, r.accuracy]));
    }
    let (loss, grad) = t.loss_and_gradient(&model, &data).unwrap();
    out.push(bits(&[loss]));
    out.push(bits(&grad));
    for r in t.train(&mut model, &data, |_| {}).unwrap() {
        out.push(bits(&[r.loss, r.accuracy]));
    }
    out.push(bits(&model.parameters()));
    out
}

#[test]
fn steps_runs_and_gradients_on_one_trainer_agree_across_thread_counts() {
    let one = mixed_calls(1);
    // 2 steps, the loss, the gradient, 6 more steps by `train`, the parameters.
    assert_eq!(one.len(), 2 + 2 + 6 + 1);
    assert_eq!(mixed_calls(2), one);
    assert_eq!(mixed_calls(3), one);
}

#[test]
fn a_trainer_reused_on_models_of_other_shapes_records_each_one() {
    // The workers keep their tapes and buffers from one call to the next; a model of another
    // shape (or the same sizes with another activation) must be recorded as itself.
    let data = datasets::two_moons(300, 0.1, 2);
    let models = [
        Mlp::new(2, &[16, 16, 1], 2),
        Mlp::builder(2, &[16, 16, 1])
            .activation(Activation::Tanh)
            .seed(2)
            .build(),
        Mlp::new(2, &[8, 1], 2),
        Mlp::new(2, &[16, 16, 1], 3),
    ];
    let config = |threads| TrainConfig {
        threads,
        ..TrainConfig::micrograd_demo()
    };
    let mut shared = Trainer::new(config(2));
    for model in &models {
        let (loss, grad) = shared.loss_and_gradient(model, &data).unwrap();
        let (loss1, grad1) = Trainer::new(config(1))
            .loss_and_gradient(model, &data)
            .unwrap();
        assert_eq!(
            (loss.to_bits(), bits(&grad)),
            (loss1.to_bits(), bits(&grad1))
        );
    }
}

#[test]
fn a_run_that_fails_with_two_threads_fails_as_on_one_and_leaves_the_trainer_usable() {
    // A learning rate that makes the parameters overflow after a few steps.
    let data = datasets::two_moons(300, 0.1, 4);
    let fail = |threads| {
        let mut model = Mlp::new(2, &[16, 16, 1], 4);
        let mut t = Trainer::new(TrainConfig {
            steps: 100,
            threads,
            optimizer: Optimizer::Sgd {
                schedule: Schedule::Constant(1e150),
            },
            ..TrainConfig::micrograd_demo()
        });
        let mut seen = 0;
        let err = t.train(&mut model, &data, |_| seen += 1).unwrap_err();
        // The trainer still works after the failed run, on the same threads' tapes.
        let after = t.loss_and_gradient(&Mlp::new(2, &[16, 16, 1], 4), &data);
        (
            non_finite(err),
            seen,
            after.map(|(l, g)| (l.to_bits(), bits(&g))),
        )
    };
    let one = fail(1);
    assert!(one.0.0 > 0 && one.0.0 == one.1, "{one:?}");
    assert!(one.2.is_ok());
    assert_eq!(fail(2), one);
}

// ---- the non-finite guard with several threads ----

#[test]
fn a_nan_sample_in_a_later_chunk_stops_a_two_thread_step() {
    let good = datasets::two_moons(200, 0.1, 12);
    let mut poisoned = good.clone();
    poisoned.inputs[150][0] = f64::NAN; // chunk 2 of 4
    let mut model = Mlp::new(2, &[16, 16, 1], 12);
    let mut t = Trainer::new(TrainConfig {
        threads: 2,
        ..TrainConfig::micrograd_demo()
    });
    t.step(&mut model, &good).unwrap();
    t.step(&mut model, &good).unwrap();
    let kept = model.parameters();
    let err = t.step(&mut model, &poisoned).unwrap_err();
    let msg = err.to_string();
    let (step, what) = non_finite(err);
    assert_eq!(step, 2);
    assert_eq!(
        what,
        "loss is NaN (the model's output for sample 150 is NaN)"
    );
    assert!(msg.contains("step 2") && msg.contains("keeps its parameters"));
    assert_eq!(bits(&model.parameters()), bits(&kept));
    assert_eq!(t.steps_done(), 2);
    // The same trainer goes on with good data, from the same step, as a fresh
    // single-threaded run would.
    let r = t.step(&mut model, &good).unwrap();
    assert_eq!(r.step, 2);
    let mut reference = Mlp::new(2, &[16, 16, 1], 12);
    let mut t1 = Trainer::new(TrainConfig::micrograd_demo());
    for _ in 0..3 {
        t1.step(&mut reference, &good).unwrap();
    }
    assert_eq!(bits(&model.parameters()), bits(&reference.parameters()));
}

#[test]
fn an_infinite_gradient_is_caught_with_two_threads() {
    // As in training.rs, in 10 chunks of 10 identical samples on two threads.
    let (mut model, data) = overflowing_first_weight(100);
    let kept = model.parameters();
    let config = TrainConfig {
        loss: Loss::SumSquared,
        l2: 0.0,
        threads: 2,
        chunk_size: 10,
        ..TrainConfig::micrograd_demo()
    };
    let mut t = Trainer::new(config);
    let (step, what) = non_finite(t.step(&mut model, &data).unwrap_err());
    assert_eq!(step, 0);
    assert_eq!(
        what,
        "gradient of parameter 0 (layer 0, neuron 0, weight 0) is inf"
    );
    assert_eq!(bits(&model.parameters()), bits(&kept));
    let (step, what) = non_finite(t.loss_and_gradient(&model, &data).unwrap_err());
    assert_eq!(step, 0);
    assert!(what.starts_with("gradient of parameter 0 "), "{what}");
}

#[test]
fn finite_chunk_losses_that_overflow_when_added_are_caught() {
    // s = x = 1e154, (s − 1)² = 1e308 per sample: each one-sample chunk is finite, the
    // sum of the two is not.
    let mut model = Mlp::new(1, &[1], 0);
    model.set_parameters(&[1.0, 0.0]);
    let data = Dataset::new(vec![vec![1e154], vec![1e154]], vec![1.0, 1.0]);
    let config = TrainConfig {
        loss: Loss::SumSquared,
        l2: 0.0,
        threads: 2,
        chunk_size: 1,
        ..TrainConfig::micrograd_demo()
    };
    let (step, what) = non_finite(Trainer::new(config).step(&mut model, &data).unwrap_err());
    assert_eq!((step, what.as_str()), (0, "loss is inf"));
    assert_eq!(model.parameters(), vec![1.0, 0.0]);
}
