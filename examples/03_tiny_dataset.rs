//! # 03: training an MLP on the lecture's four examples, loop written out
//!
//! The end of micrograd's lecture: an MLP with 3 inputs, two hidden layers of 4 tanh neurons
//! and one tanh output, `MLP(3, [4, 4, 1])`, 41 parameters with weights and biases drawn from
//! U(−1, 1), fit to four inputs and their desired outputs:
//!
//! ```text
//! xs = [2, 3, −1] → 1,   [3, −1, 0.5] → −1,   [0.5, 1, 1] → −1,   [1, 1, −1] → 1
//! ```
//!
//! The loss is the summed squared error Σ (ypred − y)², zero only when every prediction hits
//! its target. Training is plain gradient descent, the lecture's loop step by step:
//!
//! 1. **bind**: record the current parameters as leaves on a fresh tape (`Mlp::bind`) — in
//!    micrograd they *are* the graph's leaves; here the tape is rebuilt every step,
//! 2. **forward**: run the four inputs through the network and build the loss,
//! 3. **backward**: `loss.backward()` gives d loss / d every parameter in one sweep; there is
//!    no `zero_grad` to forget, because each step's gradients come from that step's tape,
//! 4. **update**: nudge every parameter against its gradient, `p -= 0.05 · grad`
//!    (`p.data += -0.05 * p.grad` in the lecture).
//!
//! The loss drops from 7.77 at the first step to about 0.02 after 50 and the predictions
//! approach ±1. The `Trainer` in the `mlp` crate packages this loop (example 04).
//!
//! Run it with `cargo run --example 03_tiny_dataset`.

use mlp::{Activation, BiasInit, Mlp, datasets};
use tapegrad::Tape;

const STEPS: usize = 50;
const LEARNING_RATE: f64 = 0.05;

#[cfg_attr(test, allow(dead_code))]
fn main() {
    let data = datasets::lecture_toy();
    let mut model = Mlp::builder(3, &[4, 4, 1])
        .activation(Activation::Tanh)
        .output_activation(Activation::Tanh)
        .bias_init(BiasInit::Uniform)
        .seed(42)
        .build();
    println!("{model}");
    println!("{} parameters\n", model.num_parameters());

    let mut tape = Tape::new();
    let mut first_loss = None;
    let mut last_loss = f64::NAN;
    for k in 0..STEPS {
        // A fresh recording each step; `clear` keeps the tape's allocation.
        tape.clear();

        // 1. bind: the parameters become leaves of this step's graph.
        let params = model.bind(&tape);

        // 2. forward: predictions for the four inputs, then the summed squared error.
        let ypred: Vec<_> = data
            .inputs
            .iter()
            .map(|x| {
                let x = tape.vars(x);
                model.forward(&tape, &params, &x)[0]
            })
            .collect();
        let loss = tape.sum(
            ypred
                .iter()
                .zip(&data.labels)
                .map(|(yout, ygt)| (*yout - *ygt).powi(2)),
        );

        // 3. backward: d loss / d parameter for all 41 parameters.
        let grads = loss.backward().wrt_all(&params);

        // 4. update: a small step against the gradient.
        let updated: Vec<f64> = model
            .parameters()
            .iter()
            .zip(&grads)
            .map(|(p, g)| p - LEARNING_RATE * g)
            .collect();
        model.set_parameters(&updated);

        println!("step {k:>2}  loss {:.6}", loss.value());
        first_loss.get_or_insert(loss.value());
        last_loss = loss.value();
    }

    println!("\nfinal predictions (desired → predicted):");
    for (x, y) in data.inputs.iter().zip(&data.labels) {
        let p = model.predict(x)[0];
        println!("  {x:?}  {y:+.1} → {p:+.4}");
    }
    let first_loss = first_loss.unwrap_or(f64::NAN);
    assert!(
        last_loss < first_loss / 10.0,
        "the loss should fall by 10x: {first_loss} → {last_loss}"
    );
}

// `cargo test` runs the example too (`test = true` in Cargo.toml), so its assertions hold.
#[test]
fn runs() {
    main();
}
