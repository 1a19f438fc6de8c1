//! Kinks: relu and abs at 0, `powf` at 0, where forward over reverse must give what the
//! recorded gradient gives (masks are constants, `powf` keeps its rule at 0), and the relu
//! regression where PyTorch's double backward has NaN.

use tapegrad::{Activation, Tape, Var};

use super::{assert_agrees, recorded_hessian, recorded_hvp};
use crate::util::{assert_all_same, same};

/// `hvp` (along two directions) and `hessian` of `f` at `p`, against the recorded ones, on a
/// user's tape and through the free functions.
fn against_recorded(p: &[f64], what: &str, f: impl for<'t> Fn(&'t Tape, &[Var<'t>]) -> Var<'t>) {
    let tape = Tape::new();
    let x = tape.vars(p);
    let y = f(&tape, &x);
    let h = y.hessian(&x);
    let want = recorded_hessian(y, &x);
    for (i, (row, want_row)) in h.iter().zip(&want).enumerate() {
        let scale = want_row.iter().map(|w| w.abs()).sum::<f64>();
        for (j, (&got, &w)) in row.iter().zip(want_row).enumerate() {
            assert_agrees(got, w, scale, &format!("{what}: H[{i}][{j}]"));
        }
    }
    assert_all_same(
        &tapegrad::hessian(&f, p).concat(),
        &h.concat(),
        &format!("{what}: tapegrad::hessian"),
    );
    let ones = vec![1.0; p.len()];
    let alternating: Vec<f64> = (0..p.len()).map(|i| [0.5, -2.0][i % 2]).collect();
    for v in [ones, alternating] {
        let got = y.hvp(&x, &v);
        let want = recorded_hvp(y, &x, &v);
        for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
            let terms: f64 = h[i].iter().zip(&v).map(|(a, b)| (a * b).abs()).sum();
            assert_agrees(g, w, terms, &format!("{what}: (Hv)[{i}] along {v:?}"));
        }
        assert_all_same(
            &tapegrad::hvp(&f, p, &v),
            &got,
            &format!("{what}: tapegrad::hvp"),
        );
    }
}

#[test]
fn relu_at_zero_in_some_inputs() {
    // relu(0) in the first and third terms, through products so the Hessian has cross terms.
    fn f<'t>(t: &'t Tape, v: &[Var<'t>]) -> Var<'t> {
        t.sum([
            (v[0] * v[1]).relu() * v[2],
            (v[1] + v[2]).relu() * v[0],
            (v[3] - v[3]).relu() * v[1] * v[1],
        ])
    }
    against_recorded(&[0.0, 1.5, -0.5, 2.0], "relu", f);
    against_recorded(&[0.0, 0.0, 0.0, 0.0], "relu, all 0", f);
    // The neuron's relu at z = 0 exactly: w·x + b = 1·2 + (−1)·2 + 0.
    against_recorded(&[1.0, -1.0, 0.0, 2.0, 2.0], "neuron relu", |t, v| {
        let wb = tapegrad::Run::new(&v[..3]).unwrap();
        let x = tapegrad::Run::new(&v[3..]).unwrap();
        t.neuron(wb, x, Activation::Relu) * v[0]
    });
}

#[test]
fn abs_at_zero() {
    against_recorded(&[0.0, 2.0], "abs", |_, v| {
        v[0].abs() * v[1] + (v[0] * v[1]).abs()
    });
    against_recorded(&[-0.0, 0.0], "abs at ±0", |_, v| {
        (v[0].abs() + v[1]).powi(2)
    });
}

#[test]
fn powf_at_zero() {
    for e in [0.0, 1.0, 2.0, 3.0, 0.5] {
        // x^e times another variable, so the first derivative (the powf rule at 0) shows up in
        // the cross term and the second in the diagonal.
        against_recorded(&[0.0, 1.5], &format!("powf({e})"), move |_, v| {
            v[0].powf(e) * v[1]
        });
        against_recorded(&[0.0, 1.5], &format!("powf({e}) of a sum"), move |_, v| {
            (v[0] + v[0]).powf(e) + v[1].powf(e)
        });
    }
}

#[test]
fn powf_at_zero_follows_the_conventions_table() {
    // e(e−1)·x^(e−2) by the same rule as the gradient: x² at 0 gives 2, x³ and x¹ give 0,
    // x⁰ gives 0 (its gradient is 0 there); √x has an infinite gradient at 0, so its second
    // derivative is −inf and the Hessian goes the recorded way.
    let h = |e: f64| tapegrad::hessian(move |_, v| v[0].powf(e), &[0.0])[0][0];
    assert_eq!(h(0.0).to_bits(), 0);
    assert_eq!(h(1.0).to_bits(), 0);
    assert_eq!(h(2.0), 2.0);
    assert_eq!(h(3.0).to_bits(), 0);
    assert!(same(h(0.5), f64::NEG_INFINITY), "{}", h(0.5));
}

// relu's recorded derivative recorded a fresh constant 0, cutting the graph: a second
// derivative never met the incoming gradient, so 0·inf below relu gave 0 where PyTorch's
// double backward (a constant mask times the incoming gradient) gives NaN. The expected
// matrices are PyTorch's (float64).

/// Asserts `h` (row by row) is `want` with NaN where `want` has one and zeros of either sign
/// where it has 0.
#[track_caller]
fn assert_pattern(h: &[Vec<f64>], want: &[f64], what: &str) {
    let got = h.concat();
    assert_eq!(got.len(), want.len(), "{what}");
    for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            g.is_nan() == w.is_nan() && (w.is_nan() || g == w),
            "{what}: {h:?}, entry {k}"
        );
    }
}

#[test]
fn relu_of_a_quotient_at_a_tiny_denominator_has_pytorchs_nans() {
    let h = tapegrad::hessian(|_, v| (v[0] / v[1]).relu(), &[-1.0, 1e-160]);
    assert_pattern(
        &h,
        &[0.0, f64::NAN, 0.0, f64::NAN],
        "relu(x/y) at (−1, 1e-160)",
    );
    // The same through a neuron, relu(w·(1/y) + b), and spelled with binary ops.
    fn neuron<'t>(t: &'t Tape, v: &[Var<'t>]) -> Var<'t> {
        let wb = tapegrad::Run::new(&v[..2]).unwrap();
        let x = [v[2].recip()];
        t.neuron(wb, tapegrad::Run::new(&x).unwrap(), Activation::Relu)
    }
    fn spelled<'t>(_: &'t Tape, v: &[Var<'t>]) -> Var<'t> {
        (v[0] * v[2].recip() + v[1]).relu()
    }
    let p = [-1.0, 0.0, 1e-160];
    let h = tapegrad::hessian(neuron, &p);
    assert_all_same(
        &h.concat(),
        &tapegrad::hessian(spelled, &p).concat(),
        "neuron",
    );
    assert!(h[0][2].is_nan() && h[2][2].is_nan(), "neuron: {h:?}");
}

#[test]
fn a_quotient_by_a_dead_relu_has_pytorchs_nan() {
    let h = tapegrad::hessian(
        |_, v| v[0] / v[1].relu(),
        &[-1.2814200915009526, -0.7968361287351268],
    );
    assert_pattern(&h, &[0.0, 0.0, f64::NAN, 0.0], "x / relu(y) at y < 0");
}
