//! Property tests against central differences, through the public checker `tapegrad::check`:
//! step h = 1e-6·max(1, |x|), pass when
//! |analytic − numeric| ≤ 1e-5·(1 + max(|analytic|, |numeric|)). Inputs stay ≥ 1e-3 away from
//! kinks and poles; those belong to the golden tests.

use proptest::prelude::*;
use tapegrad::check::{self, Config, Report};
use tapegrad::{Activation, Run, Tape, Var};

use crate::programs::{self, Kind, Program};
use crate::util::{ACTIVATIONS, same};

/// |x| log-uniform in [lo, hi].
pub(crate) fn magnitude(lo: f64, hi: f64) -> impl Strategy<Value = f64> {
    (lo.ln()..=hi.ln()).prop_map(f64::exp)
}

/// ±|x| with |x| log-uniform in [lo, hi]: everything at least `lo` away from 0.
pub(crate) fn signed(lo: f64, hi: f64) -> impl Strategy<Value = f64> {
    (magnitude(lo, hi), any::<bool>()).prop_map(|(m, neg)| if neg { -m } else { m })
}

/// Anything in [−1e3, 1e3], spread over magnitudes too.
pub(crate) fn wide() -> impl Strategy<Value = f64> {
    prop_oneof![-1e3..=1e3, signed(1e-3, 1e3)]
}

/// Anything in [−10, 10], spread over magnitudes too. Sums and dots use these: central
/// differences lose about ε·|f|/h to rounding, so with h = 1e-6 for a small operand, |f| must stay
/// well below ~50 for a component whose gradient is small to be checked at 1e-5.
pub(crate) fn moderate() -> impl Strategy<Value = f64> {
    prop_oneof![-10.0..=10.0, signed(1e-3, 10.0)]
}

/// A neuron's operands for up to 7 inputs: the weights then the bias, and the inputs.
pub(crate) fn weights_and_inputs() -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
    (0..8usize).prop_flat_map(|n| {
        (
            prop::collection::vec(moderate(), n + 1),
            prop::collection::vec(moderate(), n),
        )
    })
}

/// The checker's leaves as a run (an empty slice is no run: record an empty one).
pub(crate) fn run<'t>(t: &'t Tape, v: &[Var<'t>]) -> Run<'t> {
    Run::new(v).unwrap_or_else(|| t.run(&[]))
}

fn passed(r: &Report, what: &str) -> Result<(), TestCaseError> {
    prop_assert!(r.passed(), "{}: {}", what, r);
    Ok(())
}

/// Checks d f(x)/dx at `x`.
fn check1(x: f64, f: impl for<'t> Fn(Var<'t>) -> Var<'t>) -> Result<(), TestCaseError> {
    passed(
        &check::gradient(|_, v| f(v[0]), &[x]),
        &format!("at x = {x:e}"),
    )
}

/// Checks the gradient of f(a, b) at (a, b).
fn check2(
    a: f64,
    b: f64,
    f: impl for<'t> Fn(Var<'t>, Var<'t>) -> Var<'t>,
) -> Result<(), TestCaseError> {
    let r = check::gradient(|_, v| f(v[0], v[1]), &[a, b]);
    passed(&r, &format!("at (a, b) = ({a:e}, {b:e})"))
}

/// `(|a − n| / (1 + max(|a|, |n|)))`: the checker's scaled error, for comparing two numeric
/// estimates.
fn scaled_error(a: f64, n: f64) -> f64 {
    if a == n {
        0.0
    } else {
        (a - n).abs() / (1.0 + a.abs().max(n.abs()))
    }
}

proptest! {
    // -----------------------------------------------------------------------------------------
    // Unary operations, each over its domain.

    #[test]
    fn exp(x in -50.0..=50.0) {
        check1(x, |x| x.exp())?;
    }

    #[test]
    fn ln(x in magnitude(1e-3, 1e6)) {
        check1(x, |x| x.ln())?;
    }

    #[test]
    fn tanh(x in -30.0..=30.0) {
        check1(x, |x| x.tanh())?;
    }

    #[test]
    fn sigmoid(x in -50.0..=50.0) {
        check1(x, |x| x.sigmoid())?;
    }

    #[test]
    fn relu(x in signed(1e-3, 1e3)) {
        check1(x, |x| x.relu())?;
    }

    #[test]
    fn sqrt(x in magnitude(1e-3, 1e6)) {
        check1(x, |x| x.sqrt())?;
    }

    #[test]
    fn abs(x in signed(1e-3, 1e3)) {
        check1(x, |x| x.abs())?;
    }

    #[test]
    fn recip(x in signed(1e-3, 1e3)) {
        check1(x, |x| x.recip())?;
    }

    #[test]
    fn sin(x in -100.0..=100.0) {
        check1(x, |x| x.sin())?;
    }

    #[test]
    fn cos(x in -100.0..=100.0) {
        check1(x, |x| x.cos())?;
    }

    #[test]
    fn sinh(x in -20.0..=20.0) {
        check1(x, |x| x.sinh())?;
    }

    #[test]
    fn cosh(x in -20.0..=20.0) {
        check1(x, |x| x.cosh())?;
    }

    #[test]
    fn neg(x in wide()) {
        check1(x, |x| -x)?;
    }

    #[test]
    fn powf_positive_base(x in magnitude(1e-3, 1e2), e in -3.0..=3.0) {
        check1(x, |x| x.powf(e))?;
    }

    #[test]
    fn powf_negative_base_integer_exponent(x in signed(1e-3, 1e2), n in -4..=4) {
        check1(x, |x| x.powf(f64::from(n)))?;
    }

    #[test]
    fn powi(x in signed(1e-3, 1e2), n in -4..=4) {
        check1(x, |x| x.powi(n))?;
    }

    // -----------------------------------------------------------------------------------------
    // Binary operations: Var∘Var, Var∘f64, f64∘Var, and a Var with itself.

    #[test]
    fn add(a in wide(), b in wide()) {
        check2(a, b, |a, b| a + b)?;
        check1(a, |a| a + b)?;
        check1(b, |b| a + b)?;
        check1(a, |a| a + a)?;
    }

    #[test]
    fn sub(a in wide(), b in wide()) {
        check2(a, b, |a, b| a - b)?;
        check1(a, |a| a - b)?;
        check1(b, |b| a - b)?;
        check1(a, |a| a - a * 0.5)?;
    }

    #[test]
    fn mul(a in wide(), b in wide()) {
        check2(a, b, |a, b| a * b)?;
        check1(a, |a| a * b)?;
        check1(b, |b| a * b)?;
        check1(a, |a| a * a)?;
    }

    #[test]
    fn div(a in wide(), b in signed(1e-3, 1e3)) {
        check2(a, b, |a, b| a / b)?;
        check1(a, |a| a / b)?;
        check1(b, |b| a / b)?;
        check1(b, |b| b / (b * b + 1.0))?;
    }

    #[test]
    fn compound_assignment(a in wide(), b in signed(1e-3, 1e3)) {
        check2(a, b, |a, b| {
            let mut c = a;
            c += b;
            c *= a;
            c -= b;
            c /= b;
            c += 1.0;
            c -= 2.0;
            c *= 0.5;
            c /= 3.0;
            c
        })?;
    }

    // -----------------------------------------------------------------------------------------
    // sum and dot: contiguous operands (a range) and shuffled or repeated ones (a list).

    #[test]
    fn sum_contiguous(xs in prop::collection::vec(moderate(), 0..12)) {
        let r = check::gradient(|t, v| t.sum(v), &xs);
        passed(&r, "sum")?;
        // Each operand's gradient is exactly 1.
        prop_assert!(r.analytic.iter().all(|&g| g == 1.0), "{:?}", r.analytic);
        // The same through `&Var` items.
        passed(&check::gradient(|t, v| t.sum(v.iter()), &xs), "sum of &Var")?;
        // A contiguous run of non-leaves: squares recorded one after another.
        let r = check::gradient(|t, v| {
            let squares: Vec<Var> = v.iter().map(|&x| x * x).collect();
            t.sum(&squares)
        }, &xs);
        passed(&r, "sum of squares")?;
    }

    #[test]
    fn sum_list(
        xs in prop::collection::vec(moderate(), 1..8),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..16),
    ) {
        let idx: Vec<usize> = picks.iter().map(|p| p.index(xs.len())).collect();
        let r = check::gradient(|t, v| t.sum(idx.iter().map(|&k| v[k])), &xs);
        passed(&r, "sum")?;
        // Each gradient is exactly the number of times the operand appears.
        for (k, &g) in r.analytic.iter().enumerate() {
            let count = idx.iter().filter(|&&i| i == k).count();
            prop_assert_eq!(g, count as f64);
        }
        // Reversed: never contiguous when there are two or more.
        let r = check::gradient(|t, v| t.sum(v.iter().rev()), &xs);
        passed(&r, "reversed sum")?;
    }

    #[test]
    fn dot_contiguous(
        (ws, xs) in (0..8usize).prop_flat_map(|n| {
            (prop::collection::vec(moderate(), n), prop::collection::vec(moderate(), n))
        }),
    ) {
        let n = ws.len();
        let point: Vec<f64> = ws.iter().chain(&xs).copied().collect();
        let r = check::gradient(|t, v| t.dot(&v[..n], &v[n..]), &point);
        passed(&r, "dot")?;
        // d/dw_k = x_k and d/dx_k = w_k, exactly.
        prop_assert!(r.analytic[..n] == xs[..] && r.analytic[n..] == ws[..], "{:?}", r.analytic);
        // The same run on both sides: p·p, d/dp = 2p.
        let r = check::gradient(|t, v| t.dot(v, v), &ws);
        passed(&r, "p·p")?;
        // Runs of non-leaves.
        let r = check::gradient(|t, v| {
            let w: Vec<Var> = v[..n].iter().map(|&x| x.tanh()).collect();
            let x: Vec<Var> = v[n..].iter().map(|&x| x * 0.5).collect();
            t.dot(&w, &x)
        }, &point);
        passed(&r, "dot of non-leaves")?;
    }

    #[test]
    fn dot_run_and_affine((wb, xs) in weights_and_inputs()) {
        let n = xs.len();
        let point: Vec<f64> = wb.iter().chain(&xs).copied().collect();
        let r = check::gradient(|t, v| t.affine(run(t, &v[..=n]), run(t, &v[n + 1..])), &point);
        passed(&r, "affine")?;
        // d/dw_k = x_k, d/db = 1, d/dx_k = w_k, exactly.
        let want: Vec<f64> = xs.iter().chain([&1.0]).chain(&wb[..n]).copied().collect();
        prop_assert_eq!(&r.analytic, &want);
        let r = check::gradient(|t, v| t.dot_run(run(t, &v[..n]), run(t, &v[n + 1..])), &point);
        passed(&r, "dot_run")?;
        // Overlapping runs: Σ v_k·v_{k+1}.
        let r = check::gradient(|t, v| t.dot_run(run(t, &v[..n]), run(t, &v[1..=n])), &point);
        passed(&r, "dot_run, overlapping")?;
    }

    #[test]
    fn neuron((wb, xs) in weights_and_inputs()) {
        let n = xs.len();
        let point: Vec<f64> = wb.iter().chain(&xs).copied().collect();
        // The pre-activation, as `Tape::affine` documents it.
        let z = tapegrad::dot_value(&wb[..n], &xs) + wb[n];
        for act in ACTIVATIONS {
            // relu only away from its kink: a step changes z by at most
            // h·max(|w|, |x|, 1) ≤ 1e-6·10·10 = 1e-4 (moderate values are ≤ 10).
            if act == Activation::Relu && z.abs() < 1e-3 {
                continue;
            }
            let r = check::gradient(
                |t, v| t.neuron(run(t, &v[..=n]), run(t, &v[n + 1..]), act),
                &point,
            );
            passed(&r, &format!("neuron {act:?}"))?;
            // Exactly: g_z·(x, 1, w), with g_z the activation's slope at its value y (relu:
            // 1 or 0 by the select; tanh: 1 − y²; sigmoid: (1 − y)·y).
            let y = r.value;
            let gz = match act {
                Activation::Relu => if y <= 0.0 { 0.0 } else { 1.0 },
                Activation::Tanh => 1.0 - y * y,
                Activation::Sigmoid => (1.0 - y) * y,
                Activation::Identity => 1.0,
            };
            let want: Vec<f64> = xs
                .iter()
                .chain([&1.0])
                .chain(&wb[..n])
                .map(|&v| gz * v)
                .collect();
            prop_assert!(
                r.analytic.iter().zip(&want).all(|(&a, &w)| a == w),
                "{:?}: {:?} vs {:?}", act, r.analytic, want
            );
        }
        // Inputs that are not leaves (a run of tanh nodes) and a neuron feeding a neuron.
        let r = check::gradient(|t, v| {
            let h: Vec<Var> = v[n + 1..].iter().map(|&x| x.tanh()).collect();
            let h1 = t.neuron(run(t, &v[..=n]), run(t, &h), Activation::Tanh);
            let h2 = t.neuron(run(t, &v[..=n]), run(t, &h), Activation::Sigmoid);
            let v2 = t.run(&[0.5, -1.5, 0.25]);
            t.neuron(v2, Run::new(&[h1, h2]).unwrap(), Activation::Tanh) * h1
        }, &point);
        passed(&r, "two layers")?;
    }

    #[test]
    fn dot_list(
        xs in prop::collection::vec(moderate(), 1..6),
        pairs in prop::collection::vec(
            (any::<prop::sample::Index>(), any::<prop::sample::Index>()), 0..10),
    ) {
        let n = xs.len();
        let (wi, xi): (Vec<usize>, Vec<usize>) =
            pairs.iter().map(|(a, b)| (a.index(n), b.index(n))).unzip();
        let r = check::gradient(|t, v| {
            let w: Vec<Var> = wi.iter().map(|&k| v[k]).collect();
            let x: Vec<Var> = xi.iter().map(|&k| v[k]).collect();
            t.dot(&w, &x)
        }, &xs);
        passed(&r, "dot")?;
        // One side contiguous, the other reversed.
        let r = check::gradient(|t, v| {
            let rev: Vec<Var> = v.iter().rev().copied().collect();
            t.dot(v, &rev)
        }, &xs);
        passed(&r, "dot with reversed")?;
    }
}

// ---------------------------------------------------------------------------------------------
// Random programs.

/// Builds `program`'s root on `tape` from the checker's leaves.
fn root<'t>(kind: Kind, program: &Program, leaves: &[Var<'t>]) -> Var<'t> {
    *programs::run(kind, leaves, &program.steps).last().unwrap()
}

/// The largest |value| of the program's step results at its leaves, in plain f64.
fn largest(kind: Kind, program: &Program) -> f64 {
    programs::run(kind, &program.leaves, &program.steps)
        .iter()
        .fold(0.0, |m: f64, x| m.max(x.abs()))
}

fn check_program(kind: Kind, program: &Program, quarter_step: bool) -> Result<(), TestCaseError> {
    // Keep values moderate, so rounding in the differences stays below the tolerance.
    prop_assume!(largest(kind, program) <= 1e3);
    let r = check::gradient(|_, v| root(kind, program, v), &program.leaves);
    if quarter_step {
        // Where the estimates at h and h/4 disagree, the function is not smooth at the scale
        // of h (or rounding dominates): skip the point. "Agree" is a fifth of the tolerance,
        // since the truncation error at h can be 16/15 of their difference.
        let quarter = Config {
            relative_step: 0.25e-6,
            ..Config::default()
        };
        let r4 = check::gradient_with(quarter, |_, v| root(kind, program, v), &program.leaves);
        prop_assume!(
            r.numeric
                .iter()
                .zip(&r4.numeric)
                .all(|(&a, &b)| scaled_error(a, b) <= 2e-6)
        );
    }
    passed(&r, "program")?;
    // The values on the tape are the plain f64 evaluation, bit for bit.
    let tape = Tape::new();
    let leaves = tape.vars(&program.leaves);
    let on_tape = programs::run(kind, &leaves, &program.steps);
    let plain = programs::run(kind, &program.leaves, &program.steps);
    for (k, (v, &p)) in on_tape.iter().zip(&plain).enumerate() {
        prop_assert!(same(v.value(), p), "node {}: {} vs {}", k, v.value(), p);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        max_global_rejects: 100_000,
        ..ProptestConfig::default()
    })]

    // With the h / h/4 agreement check too: powers of powers (p³, then squared by op 20) have
    // third derivatives large enough that the central difference at h is off by more than
    // the tolerance (seed cba94e4b… in the regressions file: scaled error 1.017e-5, found by a
    // 20,000-case run; the two estimates disagree there, so the point is skipped).
    #[test]
    fn random_programs(program in programs::program(Kind::Smooth, -2.0..=2.0, 2..=4, 1..=10)) {
        check_program(Kind::Smooth, &program, true)?;
    }

    #[test]
    fn deep_random_programs(program in programs::program(Kind::Deep, -2.0..=2.0, 2..=4, 20..=60)) {
        check_program(Kind::Deep, &program, true)?;
    }
}
