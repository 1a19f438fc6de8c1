//! # 07: a physics-informed network: a loss built from derivatives of the model
//!
//! Find u(x) on [0, π] with
//!
//! ```text
//! u″ = −u,   u(0) = 0,   u′(0) = 1,
//! ```
//!
//! whose solution is sin(x), without ever showing the network a value of sin. The model is a
//! small MLP with one input, one hidden layer of 10 tanh neurons and a linear output,
//!
//! ```text
//! u(x) = c + Σⱼ vⱼ·tanh(wⱼ·x + bⱼ)        (31 parameters),
//! ```
//!
//! and the loss says only how far u is from obeying the equation: at 12 collocation points
//! xₖ evenly spaced over [0, π], and at 0 for the initial conditions,
//!
//! ```text
//! L = mean over k of (u″(xₖ) + u(xₖ))²  +  u(0)²  +  (u′(0) − 1)².
//! ```
//!
//! u′ and u″ are derivatives with respect to the *input*, and the loss needs them as nodes, so
//! that `backward` can differentiate the loss (u″ included) with respect to the parameters. So
//! each input x is a leaf, and `Var::grad` records the model's derivative on the tape:
//! `u.grad(&[x])` gives u′(x) as a node, and `u′.grad(&[x])` gives u″(x). One `backward` from L
//! then gives d L / d every parameter, through the recorded derivatives: third derivatives of
//! tanh are part of that gradient.
//!
//! Training is Adam (written out below, a dozen lines), with the step size lowered tenfold
//! after 60 % of the steps. At the end the example prints the largest error of u against
//! sin(x) on a fine grid: about 3e-3 after the 2000 steps of `main`.
//!
//! Run it with `cargo run --release --example 07_physics_informed`.

use std::f64::consts::PI;

use tapegrad::{Tape, Var};

const HIDDEN: usize = 10;
const POINTS: usize = 12;
/// Training steps of `main`.
const STEPS: usize = 2000;

/// u(x), from the parameters laid out as [w₀..w₉, b₀..b₉, v₀..v₉, c].
fn model<'t>(p: &[Var<'t>], x: Var<'t>) -> Var<'t> {
    let (w, rest) = p.split_at(HIDDEN);
    let (b, rest) = rest.split_at(HIDDEN);
    let (v, c) = rest.split_at(HIDDEN);
    let mut u = c[0];
    for j in 0..HIDDEN {
        u += v[j] * (w[j] * x + b[j]).tanh();
    }
    u
}

/// The residual loss above, recorded on `tape` from the parameter leaves `p`.
fn loss<'t>(tape: &'t Tape, p: &[Var<'t>]) -> Var<'t> {
    let mut residual = Vec::with_capacity(POINTS);
    let mut initial = None;
    for k in 0..POINTS {
        let x = tape.var(PI * k as f64 / (POINTS - 1) as f64);
        let u = model(p, x);
        // u′ and u″ as nodes: the model's reverse sweep recorded, then that one's.
        let du = u.grad(&[x])[0];
        let d2u = du.grad(&[x])[0];
        residual.push((d2u + u).powi(2));
        if k == 0 {
            initial = Some(u.powi(2) + (du - 1.0).powi(2));
        }
    }
    let initial = initial.expect("the first collocation point is 0");
    tape.sum(&residual) * (1.0 / POINTS as f64) + initial
}

/// Deterministic initial parameters in (−1, 1), from a xorshift generator.
fn initial_parameters(seed: u64) -> Vec<f64> {
    let mut s = seed;
    (0..3 * HIDDEN + 1)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect()
}

/// Adam (Kingma & Ba), with bias correction.
struct Adam {
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
}

impl Adam {
    fn new(n: usize) -> Self {
        Adam {
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        }
    }

    fn step(&mut self, params: &mut [f64], grads: &[f64], lr: f64) {
        let (b1, b2, eps): (f64, f64, f64) = (0.9, 0.999, 1e-8);
        self.t += 1;
        let (c1, c2) = (1.0 - b1.powi(self.t), 1.0 - b2.powi(self.t));
        for (i, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            self.m[i] = b1 * self.m[i] + (1.0 - b1) * g;
            self.v[i] = b2 * self.v[i] + (1.0 - b2) * g * g;
            *p -= lr * (self.m[i] / c1) / ((self.v[i] / c2).sqrt() + eps);
        }
    }
}

/// The largest |u(x) − sin x| over 201 points of [0, π].
fn max_error(params: &[f64]) -> f64 {
    let tape = Tape::new();
    let p = tape.vars(params);
    (0..=200)
        .map(|i| {
            let x = PI * i as f64 / 200.0;
            (model(&p, tape.var(x)).value() - x.sin()).abs()
        })
        .fold(0.0, f64::max)
}

/// Trains for `steps` steps and returns the parameters and the first and last loss.
fn train(steps: usize, verbose: bool) -> (Vec<f64>, f64, f64) {
    let mut params = initial_parameters(0x9E37_79B9_7F4A_7C15);
    let mut adam = Adam::new(params.len());
    let mut tape = Tape::new();
    let (mut first, mut last) = (f64::NAN, f64::NAN);
    for k in 0..steps {
        tape.clear();
        let p = tape.vars(&params);
        let l = loss(&tape, &p);
        let g = l.backward().wrt_all(&p);
        let lr = if k < steps * 6 / 10 { 3e-2 } else { 3e-3 };
        adam.step(&mut params, &g, lr);
        if k == 0 {
            first = l.value();
            if verbose {
                println!("one step records {} nodes", tape.len());
            }
        }
        last = l.value();
        if verbose && (k % (steps / 10).max(1) == 0 || k + 1 == steps) {
            println!(
                "step {k:>5}  loss {:.3e}  max |u − sin| {:.3e}",
                l.value(),
                max_error(&params)
            );
        }
    }
    (params, first, last)
}

/// Trains for `steps` steps and checks the largest error against sin(x).
fn run(steps: usize, bound: f64) {
    let (params, first, last) = train(steps, true);
    let err = max_error(&params);
    println!(
        "\nafter {steps} steps: loss {first:.3e} → {last:.3e}, largest error against sin(x): \
         {err:.2e}"
    );
    assert!(
        err < bound,
        "u should be within {bound:e} of sin(x), is {err:e} away"
    );
}

#[cfg_attr(test, allow(dead_code))]
fn main() {
    run(STEPS, 1e-2);
}

// `cargo test` runs the example too (`test = true` in Cargo.toml), with fewer steps: a debug
// build records and differentiates ~20 times slower than a release build, and 600 steps (the
// same schedule, compressed) already take the error from ~2 to below 1e-2 (8.6e-3 when written).
#[test]
fn runs() {
    run(600, 1.5e-2);
}
