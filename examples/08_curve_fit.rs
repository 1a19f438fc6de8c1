//! # 08: fitting a curve with Levenberg–Marquardt and a forward-mode Jacobian
//!
//! Forty noisy samples of a damped oscillation,
//!
//! ```text
//! y(t) = A·e^(−k·t)·sin(ω·t + φ),
//! ```
//!
//! and the four parameters (A, k, ω, φ) to recover from them. Least squares minimises half the
//! sum of squared residuals rᵢ(p) = y(tᵢ; p) − yᵢ. Gauss–Newton linearises the residuals,
//! r(p + δ) ≈ r + J·δ, with J the 40×4 Jacobian ∂rᵢ/∂pⱼ, and solves the normal equations
//! (JᵀJ)·δ = −Jᵀr. Levenberg–Marquardt adds λ·diag(JᵀJ) to the matrix: a large λ makes a short
//! step along the gradient (safe far from the answer), a small λ a Gauss–Newton step (fast
//! near it). λ shrinks after a step that lowers the cost and grows after one that does not.
//!
//! `tapegrad::jacobian` records the residuals once and picks the mode from the shape: with 4
//! inputs and 40 outputs it runs forward mode, one tangent sweep carrying all four directions,
//! where reverse mode would need a sweep per residual. The noise is a fixed pseudo-random
//! sequence, so every run prints the same numbers.
//!
//! Run it with `cargo run --example 08_curve_fit`.

use tapegrad::{Tape, Var};

/// (A, k, ω, φ) that made the data, and where the fit starts.
const TRUE: [f64; 4] = [2.0, 0.3, 1.7, 0.4];
const START: [f64; 4] = [1.0, 0.1, 1.5, 0.0];
const NAMES: [&str; 4] = ["A", "k", "ω", "φ"];
const SAMPLES: usize = 40;
const NOISE: f64 = 0.05;
const CAP: usize = 100;

/// The model at time `t`, written once on `Var`s: the residuals and their Jacobian come from it.
fn model<'t>(p: &[Var<'t>], t: f64) -> Var<'t> {
    p[0] * (-p[1] * t).exp() * (p[2] * t + p[3]).sin()
}

fn residuals<'t>(p: &[Var<'t>], data: &[(f64, f64)]) -> Vec<Var<'t>> {
    data.iter().map(|&(t, y)| model(p, t) - y).collect()
}

/// Half the sum of squared residuals, and the residuals, at `p`.
fn cost(p: &[f64], data: &[(f64, f64)]) -> (f64, Vec<f64>) {
    let tape = Tape::new();
    let r: Vec<f64> = residuals(&tape.vars(p), data)
        .iter()
        .map(|r| r.value())
        .collect();
    (0.5 * r.iter().map(|r| r * r).sum::<f64>(), r)
}

/// The samples: t from 0 to 9.75 in steps of 0.25, with noise uniform in ±NOISE from a linear
/// congruential generator (Knuth's MMIX constants).
fn data() -> Vec<(f64, f64)> {
    let mut state: u64 = 2024;
    let tape = Tape::new();
    let p = tape.vars(&TRUE);
    (0..SAMPLES)
        .map(|i| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let unit = (state >> 11) as f64 / (1u64 << 53) as f64; // in [0, 1)
            let t = 0.25 * i as f64;
            (t, model(&p, t).value() + NOISE * (2.0 * unit - 1.0))
        })
        .collect()
}

/// Solves the symmetric positive definite system a·x = b by Cholesky: a = L·Lᵀ, then two
/// triangular solves.
fn solve(a: [[f64; 4]; 4], b: [f64; 4]) -> [f64; 4] {
    let mut l = [[0.0; 4]; 4];
    for i in 0..4 {
        for j in 0..=i {
            let s: f64 = a[i][j] - (0..j).map(|k| l[i][k] * l[j][k]).sum::<f64>();
            l[i][j] = if i == j { s.sqrt() } else { s / l[j][j] };
        }
    }
    let mut y = [0.0; 4];
    for i in 0..4 {
        y[i] = (b[i] - (0..i).map(|k| l[i][k] * y[k]).sum::<f64>()) / l[i][i];
    }
    let mut x = [0.0; 4];
    for i in (0..4).rev() {
        x[i] = (y[i] - (i + 1..4).map(|k| l[k][i] * x[k]).sum::<f64>()) / l[i][i];
    }
    x
}

/// Levenberg–Marquardt from START; returns the parameters and the number of iterations, or
/// None if CAP came first.
fn fit(data: &[(f64, f64)]) -> ([f64; 4], Option<usize>) {
    let mut p = START;
    let mut lambda = 1e-3;
    let (mut c, mut r) = cost(&p, data);
    println!("  iter  cost          λ");
    for iter in 0..CAP {
        println!("  {iter:>4}  {c:.6e}  {lambda:.0e}");
        let j = tapegrad::jacobian(|_, v| residuals(v, data), &p);
        // The normal equations: JᵀJ and −Jᵀr.
        let mut jtj = [[0.0; 4]; 4];
        let mut g = [0.0; 4];
        for (row, ri) in j.iter().zip(&r) {
            for a in 0..4 {
                g[a] -= row[a] * ri;
                for b in 0..4 {
                    jtj[a][b] += row[a] * row[b];
                }
            }
        }
        // Raise λ until a step lowers the cost.
        loop {
            let mut damped = jtj;
            for (a, row) in damped.iter_mut().enumerate() {
                row[a] += lambda * jtj[a][a];
            }
            let delta = solve(damped, g);
            let trial: [f64; 4] = std::array::from_fn(|a| p[a] + delta[a]);
            let (tc, tr) = cost(&trial, data);
            if tc < c {
                let done = (c - tc) <= 1e-12 * c;
                (p, c, r) = (trial, tc, tr);
                lambda = (lambda / 10.0).max(1e-12);
                if done {
                    println!("  {:>4}  {c:.6e}  {lambda:.0e}  (converged)", iter + 1);
                    return (p, Some(iter + 1));
                }
                break;
            }
            lambda *= 10.0;
            if lambda > 1e12 {
                // No step lowers the cost: a minimum to rounding.
                return (p, Some(iter + 1));
            }
        }
    }
    (p, None)
}

#[cfg_attr(test, allow(dead_code))]
fn main() {
    let data = data();
    println!(
        "{SAMPLES} samples of A·e^(−k·t)·sin(ω·t + φ), noise ±{NOISE}; fitting from {START:?}\n"
    );
    let (p, iterations) = fit(&data);
    match iterations {
        Some(n) => println!("\nconverged after {n} iterations\n"),
        None => println!("\nstopped at the cap of {CAP} iterations\n"),
    }
    println!("  parameter  fitted     true");
    for a in 0..4 {
        println!("  {:<9}  {:+.5}  {:+.5}", NAMES[a], p[a], TRUE[a]);
    }
    let rms = (2.0 * cost(&p, &data).0 / SAMPLES as f64).sqrt();
    println!(
        "\nroot mean square residual {rms:.4} (the noise's is {:.4})",
        NOISE / 3f64.sqrt()
    );

    assert!(iterations.is_some(), "Levenberg–Marquardt should converge");
    for a in 0..4 {
        assert!(
            (p[a] - TRUE[a]).abs() < 0.05,
            "{} = {} should be near {}",
            NAMES[a],
            p[a],
            TRUE[a]
        );
    }
    assert!(rms < NOISE, "the fit should leave about the noise: {rms}");
}

// `cargo test` runs the example too (`test = true` in Cargo.toml), so its assertions hold.
#[test]
fn runs() {
    main();
}
