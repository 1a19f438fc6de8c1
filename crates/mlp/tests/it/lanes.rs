//! Lane recording (`TrainConfig::lanes`): N samples per node agree with the scalar
//! recording to rounding, keep every thread count bitwise equal, pad short groups without
//! effect, and refuse unsupported widths.

use mlp::loss::Score;
use mlp::tapegrad::{Lanes, Tape};
use mlp::{Dataset, Loss, Mlp, Optimizer, Schedule, TrainConfig, TrainError, Trainer, datasets};

use crate::common::{bits, non_finite, overflowing_first_weight};

const WIDTHS: [usize; 3] = [4, 8, 16];

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
}

/// Each element within `rel` of the larger vector's largest element: a parameter or a
/// gradient near 0 is a difference of larger numbers, so its own size is no scale.
fn assert_close(a: &[f64], b: &[f64], rel: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    let scale = a.iter().chain(b).fold(0.0f64, |m, x| m.max(x.abs()));
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= rel * scale,
            "{what} [{i}]: {x} vs {y} (scale {scale})"
        );
    }
}

/// The losses of each step and the final parameters of `config` on `data`.
fn train(data: &Dataset, config: &TrainConfig) -> (Vec<f64>, Vec<f64>) {
    let mut model = Mlp::new(data.dim(), &[16, 16, 1], 1337);
    let reports = Trainer::new(config.clone())
        .train(&mut model, data, |_| {})
        .unwrap();
    assert_eq!(reports.len(), config.steps);
    (reports.iter().map(|r| r.loss).collect(), model.parameters())
}

#[test]
fn lanes_agree_with_the_scalar_trainer_over_20_demo_steps() {
    let data = datasets::two_moons(100, 0.1, 1337);
    for loss in Loss::ALL {
        // The demo's rate of 1.0 overflows the squared losses within a few steps.
        let optimizer = match loss {
            Loss::SumSquared | Loss::MeanSquared => Optimizer::Sgd {
                schedule: Schedule::Constant(1e-3),
            },
            _ => TrainConfig::micrograd_demo().optimizer,
        };
        let config = TrainConfig {
            steps: 20,
            loss,
            optimizer,
            ..TrainConfig::micrograd_demo()
        };
        let (losses, params) = train(&data, &config);
        for lanes in WIDTHS {
            let with = TrainConfig {
                lanes,
                ..config.clone()
            };
            let (l, p) = train(&data, &with);
            let what = format!("{loss:?}, {lanes} lanes");
            assert_close(&l, &losses, 1e-12, &format!("losses, {what}"));
            assert_close(&p, &params, 1e-12, &format!("parameters, {what}"));
        }
    }
}

#[test]
fn lane_gradients_agree_with_scalar_gradients() {
    let data = datasets::two_moons(100, 0.1, 3);
    let model = Mlp::new(2, &[16, 16, 1], 3);
    for loss in Loss::ALL {
        let at = |lanes| {
            let config = TrainConfig {
                loss,
                lanes,
                ..TrainConfig::micrograd_demo()
            };
            Trainer::new(config)
                .loss_and_gradient(&model, &data)
                .unwrap()
        };
        let (loss1, grad1) = at(1);
        let mut some_bits_differ = false;
        for lanes in WIDTHS {
            let (l, g) = at(lanes);
            assert!(close(l, loss1, 1e-13), "{loss:?}, {lanes}: {l} vs {loss1}");
            assert_close(&g, &grad1, 1e-12, &format!("{loss:?}, {lanes} lanes"));
            some_bits_differ |= bits(&g) != bits(&grad1);
        }
        // Otherwise the test would not show that lanes sum in another order.
        assert!(some_bits_differ, "{loss:?}");
    }
}

#[test]
fn every_thread_count_gives_bitwise_the_same_lane_run() {
    let data = datasets::two_moons(300, 0.15, 9);
    let run = |config: &TrainConfig| {
        let (losses, params) = train(&data, config);
        (bits(&losses), bits(&params))
    };
    for lanes in WIDTHS {
        for base in [
            // Five chunks: four of 64 and one of 44, whose last group is padded for 8 and 16.
            TrainConfig {
                steps: 10,
                lanes,
                ..TrainConfig::micrograd_demo()
            },
            // Mini-batches of 37 in chunks of 10: a short group in every chunk.
            TrainConfig {
                steps: 10,
                lanes,
                loss: Loss::Logistic,
                optimizer: Optimizer::adam(0.01),
                batch_size: Some(37),
                chunk_size: 10,
                seed: 2,
                ..TrainConfig::micrograd_demo()
            },
        ] {
            let one = run(&base);
            for threads in [0, 2, 3, 5] {
                let many = run(&TrainConfig {
                    threads,
                    ..base.clone()
                });
                assert_eq!(many, one, "{lanes} lanes, {threads} threads");
            }
        }
    }
}

#[test]
fn padding_lanes_change_nothing_beyond_rounding() {
    // 13 samples: 4 lanes pad 3, 8 lanes pad 3, 16 lanes pad 3 of one group; in chunks of 5
    // every chunk has a short group.
    let data = datasets::two_moons(13, 0.1, 5);
    let model = Mlp::new(2, &[16, 16, 1], 5);
    for loss in Loss::ALL {
        for chunk_size in [64, 5] {
            let at = |lanes| {
                let config = TrainConfig {
                    loss,
                    lanes,
                    chunk_size,
                    ..TrainConfig::micrograd_demo()
                };
                Trainer::new(config)
                    .loss_and_gradient(&model, &data)
                    .unwrap()
            };
            let (loss1, grad1) = at(1);
            for lanes in WIDTHS {
                let (l, g) = at(lanes);
                let what = format!("{loss:?}, chunks of {chunk_size}, {lanes} lanes");
                assert!(close(l, loss1, 1e-13), "{what}: {l} vs {loss1}");
                assert_close(&g, &grad1, 1e-12, &what);
            }
        }
    }
    // One sample: every lane but one is padding.
    let one = Dataset::new(vec![vec![0.5, -0.25]], vec![-1.0]);
    let config = |lanes| TrainConfig {
        lanes,
        ..TrainConfig::micrograd_demo()
    };
    let (l1, g1) = Trainer::new(config(1))
        .loss_and_gradient(&model, &one)
        .unwrap();
    for lanes in WIDTHS {
        let (l, g) = Trainer::new(config(lanes))
            .loss_and_gradient(&model, &one)
            .unwrap();
        assert!(close(l, l1, 1e-15), "{lanes}: {l} vs {l1}");
        assert_close(&g, &g1, 1e-15, &format!("{lanes} lanes"));
    }
}

#[test]
fn a_lane_term_has_the_bits_of_the_scalar_term() {
    let scores = [0.25, -3.0, 0.0, 1e300, -800.0, 40.0, f64::MIN_POSITIVE, 2.5];
    let labels = [1.0, -1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0];
    for loss in Loss::ALL {
        let tape = Tape::<Lanes<8>>::new();
        let s = tape.var(Lanes::new(scores));
        let t = loss.term(s, tape.var(Lanes::new(labels)));
        let g = t.backward()[s];
        for l in 0..8 {
            let scalar = Tape::new();
            let sl = scalar.var(scores[l]);
            let tl = loss.term(sl, labels[l]);
            let gl = tl.backward()[sl];
            assert_eq!(
                t.value().to_array()[l].to_bits(),
                tl.value().to_bits(),
                "{loss:?} {l}"
            );
            assert_eq!(g.to_array()[l].to_bits(), gl.to_bits(), "{loss:?} {l}");
            assert_eq!(
                tl.value().to_bits(),
                loss.term(scores[l], labels[l]).to_bits()
            );
        }
    }
    fn is_score<S: Score>() {}
    is_score::<mlp::tapegrad::Var<'_, Lanes<4>>>();
}

#[test]
fn unsupported_lane_widths_are_refused() {
    let data = datasets::lecture_toy();
    for lanes in [0, 2, 3, 5, 32, usize::MAX] {
        let config = TrainConfig {
            lanes,
            ..TrainConfig::micrograd_demo()
        };
        let expect =
            TrainError::Config(format!("lanes must be 1 (scalar), 4, 8 or 16, got {lanes}"));
        assert_eq!(config.check(), Err(expect.clone()));
        let mut model = Mlp::new(3, &[4, 1], 0);
        let before = model.clone();
        assert_eq!(Trainer::new(config).step(&mut model, &data), Err(expect));
        assert_eq!(model, before);
    }
    for lanes in TrainConfig::LANE_WIDTHS {
        assert!(
            TrainConfig {
                lanes,
                ..TrainConfig::micrograd_demo()
            }
            .check()
            .is_ok()
        );
    }
}

#[test]
fn a_lane_step_reports_an_overflowing_gradient_as_the_scalar_step_does() {
    for lanes in [1, 4, 8, 16] {
        let (mut model, data) = overflowing_first_weight(13);
        let kept = model.parameters();
        let config = TrainConfig {
            loss: Loss::SumSquared,
            l2: 0.0,
            lanes,
            chunk_size: 5,
            ..TrainConfig::micrograd_demo()
        };
        let (step, what) = non_finite(Trainer::new(config).step(&mut model, &data).unwrap_err());
        assert_eq!(step, 0);
        assert_eq!(
            what, "gradient of parameter 0 (layer 0, neuron 0, weight 0) is inf",
            "{lanes} lanes"
        );
        assert_eq!(bits(&model.parameters()), bits(&kept));
    }
}
