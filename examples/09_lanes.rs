//! # 09: lanes, one recording for eight samples
//!
//! A scalar tape records a graph per sample: micrograd's demo step interprets the network's
//! graph 100 times. A lane tape, `Tape<Lanes<8>>`, carries eight numbers per node, one per
//! sample, so one recording and one backward sweep serve eight samples, with lane `l` getting
//! exactly the numbers a `Tape<f64>` gives on sample `l`.
//!
//! The demo's loss is written once, generic over `T: Number`, micrograd style (a node per
//! scalar `+`, `*` and `relu`), and run two ways on the same 100 two-moons points:
//!
//! - **scalar**: one sample per tape pass, parameters bound with `tape.var(w)`,
//! - **lanes**: eight samples per pass, parameters bound with `tape.var(Lanes::splat(w))` (the
//!   same in every lane), and a parameter's gradient is `g[w].sum()`, its gradient summed over
//!   the samples. 100 is not a multiple of 8: the last pass fills its four spare lanes with
//!   padding samples of weight 0, which add nothing.
//!
//! Both take the same SGD steps; their losses agree to rounding (the sums run in another
//! order). The lane run is faster: it records and sweeps an eighth as many nodes, though each
//! node does eight lanes' arithmetic, so the gain is what a node costs beyond its arithmetic.
//!
//! Run it with `cargo run --release --example 09_lanes`.

use std::time::Instant;

use mlp::{Dataset, Mlp, datasets};
use tapegrad::{Lanes, Number, Tape, Var};

/// Widths of the layers after the two inputs: MLP(2, [16, 16, 1]).
const SIZES: [usize; 3] = [16, 16, 1];
const ALPHA: f64 = 1e-4;
const STEPS: usize = 9;
const LANES: usize = 8;

/// Records one tape pass and returns the parameters' leaves and the loss.
///
/// The loss is the pass's share of the demo loss, mean of relu(1 − y·score) plus α·Σp²: each
/// sample's hinge times `weight` (1/n, or 0 in a padding lane), plus the L2 term times `l2`
/// when given. The L2 term belongs to the whole batch, so a step gives it to one lane of one
/// pass, where `l2` is 1, and `g[w].sum()` then counts it once.
fn record<'t, T: Number>(
    tape: &'t Tape<T>,
    params: &[f64],
    x: [T; 2],
    y: T,
    weight: T,
    l2: Option<T>,
) -> (Vec<Var<'t, T>>, Var<'t, T>) {
    // A parameter is the same for every sample: the same number in every lane.
    let p: Vec<Var<'t, T>> = params.iter().map(|&w| tape.var(T::splat(w))).collect();
    // The layers as micrograd's Neuron computes them, b + Σ wᵢxᵢ, with `Mlp::parameters`'
    // layout (each neuron's weights, then its bias), so the model's initial values fit.
    let mut act: Vec<Var<'t, T>> = x.iter().map(|&v| tape.var(v)).collect();
    let mut at = 0;
    for (l, &width) in SIZES.iter().enumerate() {
        let nin = act.len();
        act = (0..width)
            .map(|j| {
                let w = &p[at + j * (nin + 1)..][..nin + 1];
                let mut s = w[nin];
                for (&wi, &xi) in w.iter().zip(&act) {
                    s += wi * xi;
                }
                // ReLU hidden layers, a linear output.
                if l + 1 < SIZES.len() { s.relu() } else { s }
            })
            .collect();
        at += width * (nin + 1);
    }
    let hinge = (1.0 - tape.var(y) * act[0]).relu();
    let mut loss = hinge * tape.var(weight);
    if let Some(l2) = l2 {
        let mut reg = p[0] * p[0];
        for &w in &p[1..] {
            reg += w * w;
        }
        loss += ALPHA * reg * tape.var(l2);
    }
    (p, loss)
}

/// One demo step with a `Tape<f64>`, a pass per sample; returns the loss.
fn scalar_step(tape: &mut Tape<f64>, params: &mut [f64], data: &Dataset, lr: f64) -> f64 {
    let n = data.len() as f64;
    let mut grad = vec![0.0; params.len()];
    let mut loss = 0.0;
    for (i, (x, &y)) in data.inputs.iter().zip(&data.labels).enumerate() {
        tape.clear();
        let l2 = (i == 0).then_some(1.0);
        let (p, l) = record(tape, params, [x[0], x[1]], y, 1.0 / n, l2);
        let g = l.backward();
        for (acc, &w) in grad.iter_mut().zip(&p) {
            *acc += g[w];
        }
        loss += l.value();
    }
    sgd(params, &grad, lr);
    loss
}

/// The same step with a `Tape<Lanes<8>>`, a pass per eight samples; returns the loss.
fn lanes_step(tape: &mut Tape<Lanes<LANES>>, params: &mut [f64], data: &Dataset, lr: f64) -> f64 {
    let n = data.len();
    let mut grad = vec![0.0; params.len()];
    let mut loss = 0.0;
    for start in (0..n).step_by(LANES) {
        // Lanes past the data are padding: zero inputs and label, weight 0.
        let real = (n - start).min(LANES);
        let lanes = |f: &dyn Fn(usize) -> f64| {
            Lanes::from_fn(|l| if l < real { f(start + l) } else { 0.0 })
        };
        let x = [lanes(&|i| data.inputs[i][0]), lanes(&|i| data.inputs[i][1])];
        let y = lanes(&|i| data.labels[i]);
        let weight = lanes(&|_| 1.0 / n as f64);
        let l2 = (start == 0).then(|| Lanes::from_fn(|l| if l == 0 { 1.0 } else { 0.0 }));
        tape.clear();
        let (p, l) = record(tape, params, x, y, weight, l2);
        let g = l.backward();
        for (acc, &w) in grad.iter_mut().zip(&p) {
            *acc += g[w].sum();
        }
        loss += l.value().sum();
    }
    sgd(params, &grad, lr);
    loss
}

fn sgd(params: &mut [f64], grad: &[f64], lr: f64) {
    for (p, g) in params.iter_mut().zip(grad) {
        *p -= lr * g;
    }
}

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Whether `a` and `b` agree to `rel` relative to the larger.
fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs())
}

#[cfg_attr(test, allow(dead_code))]
fn main() {
    let data = datasets::two_moons(100, 0.1, 1337);
    let init = Mlp::new(2, &SIZES, 1337).parameters();
    let (mut scalar, mut lanes) = (init.clone(), init);
    let (mut scalar_tape, mut lanes_tape) = (Tape::<f64>::new(), Tape::<Lanes<LANES>>::new());
    let (mut scalar_times, mut lanes_times) = (Vec::new(), Vec::new());
    println!(
        "{} points, {} parameters, {} lanes\n",
        data.len(),
        scalar.len(),
        LANES
    );
    println!("step   scalar loss        lane loss");
    for k in 0..STEPS {
        let lr = 1.0 - 0.9 * k as f64 / 100.0;
        let t = Instant::now();
        let a = scalar_step(&mut scalar_tape, &mut scalar, &data, lr);
        scalar_times.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let b = lanes_step(&mut lanes_tape, &mut lanes, &data, lr);
        lanes_times.push(t.elapsed().as_secs_f64());
        println!("{k:>4}   {a:.15}  {b:.15}");
        assert!(
            close(a, b, 1e-9),
            "step {k}: the losses differ: {a} and {b}"
        );
    }
    // The runs took the same steps, so they end at the same parameters, to rounding (relative
    // to 1 at least: a parameter near 0 carries the rounding of its larger updates).
    for (i, (&a, &b)) in scalar.iter().zip(&lanes).enumerate() {
        assert!(
            close(a, b, 1e-9) || (a - b).abs() <= 1e-9,
            "parameter {i}: {a} and {b}"
        );
    }
    // Medians: the first step also grows the tapes, and other programs share the machine.
    let (scalar_time, lanes_time) = (median(scalar_times), median(lanes_times));
    println!(
        "\none step (median of {STEPS}): scalar {:.1} µs, lanes {:.1} µs, {:.2}× faster with lanes",
        1e6 * scalar_time,
        1e6 * lanes_time,
        scalar_time / lanes_time
    );
}

// `cargo test` runs the example too (`test = true` in Cargo.toml), so its assertions hold.
#[test]
fn runs() {
    main();
}
