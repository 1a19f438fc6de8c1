//! # 04: two moons, micrograd's demo, with the `Trainer`
//!
//! micrograd's `demo.ipynb` goes beyond the lecture's four points: a binary classifier for
//! `sklearn.make_moons(n_samples=100, noise=0.1)`, two interleaved half circles labeled −1
//! and +1 that no straight line separates. The demo's recipe, which
//! [`TrainConfig::micrograd_demo`] reproduces:
//!
//! - **model**: `MLP(2, [16, 16, 1])`, ReLU hidden layers and a linear output (337
//!   parameters); the sign of the output is the predicted class,
//! - **loss**: the SVM "max-margin" loss, mean of relu(1 − yᵢ·scoreᵢ), plus an L2 penalty
//!   1e-4 · Σ p² on the parameters,
//! - **optimizer**: full-batch gradient descent for 100 steps with the learning rate decaying
//!   linearly from 1.0 to 0.1 (`1.0 - 0.9*k/100`).
//!
//! The [`Trainer`] runs the loop of example 03 (bind, forward, loss, backward, update) and
//! hands a [`mlp::StepReport`] per step to a callback. The demo reaches 100 % training
//! accuracy; so does this.
//!
//! For pictures (the decision regions, the loss curve, a neuron's graph) run the workspace's
//! app, which trains the same model and writes SVGs into `out/`:
//!
//! ```text
//! cargo run --release -p moons
//! ```
//!
//! Run this example with `cargo run --release --example 04_two_moons`.

use std::time::Instant;

use mlp::{Mlp, TrainConfig, Trainer, datasets};

#[cfg_attr(test, allow(dead_code))]
fn main() {
    let data = datasets::two_moons(100, 0.1, 1337);
    let mut model = Mlp::new(2, &[16, 16, 1], 1337);
    println!("{} points, {} features", data.len(), data.dim());
    println!(
        "MLP(2, [16, 16, 1]) with {} parameters\n",
        model.num_parameters()
    );

    let config = TrainConfig::micrograd_demo();
    let start = Instant::now();
    let reports = Trainer::new(config)
        .train(&mut model, &data, |r| {
            if r.step % 10 == 0 || r.step == 99 {
                println!(
                    "step {:>3}  loss {:.4}  accuracy {:>5.1}%  lr {:.3}  ({} nodes on the tape)",
                    r.step,
                    r.loss,
                    100.0 * r.accuracy,
                    r.learning_rate,
                    r.tape_len
                );
            }
        })
        .expect("training stays finite");
    let elapsed = start.elapsed();

    let scores: Vec<f64> = data.inputs.iter().map(|x| model.predict(x)[0]).collect();
    let accuracy = mlp::loss::accuracy(&scores, &data.labels);
    println!(
        "\n{} steps in {:.3} s; final training accuracy {:.1}%",
        reports.len(),
        elapsed.as_secs_f64(),
        100.0 * accuracy
    );
    println!("pictures: cargo run --release -p moons  (writes out/boundary.svg and more)");
    assert!(accuracy >= 0.95, "micrograd's demo separates the moons");
}

// `cargo test` runs the example too (`test = true` in Cargo.toml), so its assertions hold.
#[test]
fn runs() {
    main();
}
