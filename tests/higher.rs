//! Higher-order derivatives: `Var::grad` (the reverse sweep recorded as nodes), `hessian`,
//! `hvp` and `check::hessian`.
//!
//! Here, the properties at random points: the Hessian of every op against central differences
//! of `backward`'s gradient (inputs ≥ 1e-3 away from kinks and poles), symmetry, `hvp` against
//! a difference of gradients, third derivatives against closed forms, fused nodes against their
//! binary-op spelling, and `grad`'s values against `backward`'s bits. The kinks, poles and
//! saturations, pinned exactly, are in `higher/golden.rs`; misuse and a training loop through
//! a gradient in `higher/usage.rs`.

mod golden;
mod usage;

use proptest::prelude::*;
use tapegrad::check::{self, Config, HessianReport};
use tapegrad::{Activation, Tape, Var};

use crate::programs::{self, Kind, Program};
use crate::properties::{magnitude, moderate, run, signed, weights_and_inputs, wide};
use crate::robustness::any_f64;
use crate::util::ACTIVATIONS;

/// The weight `w` of the checked functions `w·op(x)`: the (x, w) entries of their Hessian are
/// op's first derivative as `grad` records it, the (x, x) block its second derivative.
const W: f64 = 1.5;

fn passed(r: &HessianReport, what: &str) -> Result<(), TestCaseError> {
    prop_assert!(r.passed(), "{}: {}", what, r);
    Ok(())
}

/// Checks the Hessian of w·op(x) at (x, w).
fn unary(x: f64, op: impl for<'t> Fn(Var<'t>) -> Var<'t>) -> Result<(), TestCaseError> {
    let r = check::hessian(|_, v| v[1] * op(v[0]), &[x, W]);
    passed(&r, &format!("at x = {x:e}"))
}

/// Checks the Hessian of w·op(a, b) at (a, b, w), and of the two forms with a constant
/// operand, w·op(a, b_const) and w·op(a_const, b).
fn binary(
    a: f64,
    b: f64,
    op: impl for<'t> Fn(Var<'t>, Var<'t>) -> Var<'t>,
    with_const_b: impl for<'t> Fn(Var<'t>, f64) -> Var<'t>,
    with_const_a: impl for<'t> Fn(f64, Var<'t>) -> Var<'t>,
) -> Result<(), TestCaseError> {
    let at = format!("at (a, b) = ({a:e}, {b:e})");
    let r = check::hessian(|_, v| v[2] * op(v[0], v[1]), &[a, b, W]);
    passed(&r, &format!("Var∘Var {at}"))?;
    let r = check::hessian(|_, v| v[1] * with_const_b(v[0], b), &[a, W]);
    passed(&r, &format!("Var∘f64 {at}"))?;
    let r = check::hessian(|_, v| v[1] * with_const_a(a, v[0]), &[b, W]);
    passed(&r, &format!("f64∘Var {at}"))
}

/// Checks the Hessian of w·g(t, v[..n]) at (point, w).
fn nary(
    point: &[f64],
    what: &str,
    g: impl for<'t> Fn(&'t Tape, &[Var<'t>]) -> Var<'t>,
) -> Result<(), TestCaseError> {
    let mut at = point.to_vec();
    at.push(W);
    let n = point.len();
    let r = check::hessian(|t, v| v[n] * g(t, &v[..n]), &at);
    passed(&r, what)
}

proptest! {
    // -----------------------------------------------------------------------------------------
    // Every op's second derivative (and its recorded first derivative), at random points.

    #[test]
    fn exp(x in -20.0..=20.0) {
        unary(x, |x| x.exp())?;
    }

    #[test]
    fn ln(x in magnitude(1e-3, 1e3)) {
        unary(x, |x| x.ln())?;
    }

    #[test]
    fn tanh(x in -20.0..=20.0) {
        unary(x, |x| x.tanh())?;
    }

    #[test]
    fn sigmoid(x in -30.0..=30.0) {
        unary(x, |x| x.sigmoid())?;
    }

    #[test]
    fn relu(x in signed(1e-3, 1e3)) {
        unary(x, |x| x.relu())?;
    }

    #[test]
    fn sqrt(x in magnitude(1e-3, 1e3)) {
        unary(x, |x| x.sqrt())?;
    }

    #[test]
    fn abs(x in signed(1e-3, 1e3)) {
        unary(x, |x| x.abs())?;
    }

    #[test]
    fn recip(x in signed(1e-3, 1e3)) {
        unary(x, |x| x.recip())?;
    }

    #[test]
    fn sin_cos(x in -100.0..=100.0) {
        unary(x, |x| x.sin())?;
        unary(x, |x| x.cos())?;
    }

    #[test]
    fn sinh_cosh(x in -20.0..=20.0) {
        unary(x, |x| x.sinh())?;
        unary(x, |x| x.cosh())?;
    }

    #[test]
    fn neg(x in wide()) {
        unary(x, |x| -x)?;
    }

    // Exponents within ±3 (±4 upwards for powi): the central difference's truncation error,
    // about h²(e−2)(e−3)/6x² relative, stays below the tolerance down to |x| = 1e-3.
    #[test]
    fn powf_positive_base(x in magnitude(1e-3, 1e2), e in -3.0..=3.0) {
        unary(x, |x| x.powf(e))?;
    }

    #[test]
    fn powf_negative_base_integer_exponent(x in signed(1e-3, 1e2), n in -3..=4) {
        unary(x, |x| x.powf(f64::from(n)))?;
    }

    #[test]
    fn powi(x in signed(1e-3, 1e2), n in -3..=4) {
        unary(x, |x| x.powi(n))?;
    }

    #[test]
    fn add(a in wide(), b in wide()) {
        binary(a, b, |a, b| a + b, |a, c| a + c, |c, b| c + b)?;
        unary(a, |a| a + a)?;
    }

    #[test]
    fn sub(a in wide(), b in wide()) {
        binary(a, b, |a, b| a - b, |a, c| a - c, |c, b| c - b)?;
    }

    #[test]
    fn mul(a in wide(), b in wide()) {
        binary(a, b, |a, b| a * b, |a, c| a * c, |c, b| c * b)?;
        unary(a, |a| a * a)?;
    }

    #[test]
    fn div(a in wide(), b in signed(1e-3, 1e3)) {
        binary(a, b, |a, b| a / b, |a, c| a / c, |c, b| c / b)?;
        // A Var divided by a function of itself.
        unary(b, |b| b / (b * b + 1.0))?;
    }

    // -----------------------------------------------------------------------------------------
    // n-ary and fused nodes: their operands runs (ranges) or lists.

    #[test]
    fn sum(xs in prop::collection::vec(moderate(), 0..8)) {
        nary(&xs, "sum of a range", |t, v| t.sum(v))?;
        nary(&xs, "sum of a list", |t, v| t.sum(v.iter().rev()))?;
        // Products inside, so the sum's operands have second derivatives of their own.
        nary(&xs, "sum of products", |t, v| {
            t.sum(v.iter().zip(v.iter().rev()).map(|(&a, &b)| a * b))
        })?;
    }

    #[test]
    fn dot(
        (ws, xs) in (0..6usize).prop_flat_map(|n| {
            (prop::collection::vec(moderate(), n), prop::collection::vec(moderate(), n))
        }),
    ) {
        let n = ws.len();
        let point: Vec<f64> = ws.iter().chain(&xs).copied().collect();
        nary(&point, "dot of ranges", |t, v| t.dot(&v[..n], &v[n..]))?;
        nary(&point, "dot with itself", |t, v| t.dot(v, v))?;
        // Lists: every other operand, one side reversed, so neither side is contiguous.
        nary(&point, "dot of lists", |t, v| {
            let w: Vec<Var> = v.iter().step_by(2).copied().collect();
            let x: Vec<Var> = v.iter().rev().step_by(2).copied().collect();
            t.dot(&w, &x)
        })?;
        // Operands that are not leaves.
        nary(&point, "dot of non-leaves", |t, v| {
            let w: Vec<Var> = v[..n].iter().map(|&x| x.sin()).collect();
            let x: Vec<Var> = v[n..].iter().map(|&x| x * x).collect();
            t.dot(&w, &x)
        })?;
    }

    #[test]
    fn dot_run_affine_neuron((wb, xs) in weights_and_inputs()) {
        let n = xs.len();
        let point: Vec<f64> = wb.iter().chain(&xs).copied().collect();
        nary(&point, "dot_run", |t, v| t.dot_run(run(t, &v[..n]), run(t, &v[n + 1..])))?;
        nary(&point, "affine", |t, v| t.affine(run(t, &v[..=n]), run(t, &v[n + 1..])))?;
        // Runs of non-leaves.
        nary(&point, "affine of squares", |t, v| {
            let sq: Vec<Var> = v.iter().map(|&x| x * x).collect();
            t.affine(run(t, &sq[..=n]), run(t, &sq[n + 1..]))
        })?;
        let z = tapegrad::dot_value(&wb[..n], &xs) + wb[n];
        for act in ACTIVATIONS {
            // relu only away from its kink (a step moves z by at most 1e-4, see properties.rs).
            if act == Activation::Relu && z.abs() < 1e-3 {
                continue;
            }
            nary(&point, &format!("neuron {act:?}"), |t, v| {
                t.neuron(run(t, &v[..=n]), run(t, &v[n + 1..]), act)
            })?;
        }
    }

    // -----------------------------------------------------------------------------------------
    // Fused nodes against the same function written with binary ops: values and second
    // derivatives equal to rounding (`dot_value` adds in four partial sums).

    #[test]
    fn fused_nodes_equal_their_binary_spelling((wb, xs) in weights_and_inputs()) {
        let n = xs.len();
        let point: Vec<f64> = wb.iter().chain(&xs).copied().collect();
        // Σ w·x + b as a chain of binary nodes.
        fn spelled<'t>(v: &[Var<'t>], n: usize, bias: bool) -> Var<'t> {
            let mut s = if bias { v[n] } else { v[0] * v[n + 1] };
            let first = usize::from(!bias);
            for k in first..n {
                s += v[k] * v[n + 1 + k];
            }
            s
        }
        let z = tapegrad::dot_value(&wb[..n], &xs) + wb[n];
        type Pair = (
            &'static str,
            for<'t> fn(&'t Tape, &[Var<'t>], usize) -> Var<'t>,
            for<'t> fn(&'t Tape, &[Var<'t>], usize) -> Var<'t>,
        );
        let mut pairs: Vec<Pair> = vec![(
            "affine",
            |t, v, n| t.affine(run(t, &v[..=n]), run(t, &v[n + 1..])),
            |_, v, n| spelled(v, n, true),
        )];
        if n > 0 {
            pairs.push((
                "dot_run",
                |t, v, n| t.dot_run(run(t, &v[..n]), run(t, &v[n + 1..])),
                |_, v, n| spelled(v, n, false),
            ));
            pairs.push((
                "dot",
                |t, v, n| t.dot(&v[..n], &v[n + 1..]),
                |_, v, n| spelled(v, n, false),
            ));
        }
        for (what, fused, plain) in pairs {
            compare_hessians(&point, what, |t, v| fused(t, v, n), |t, v| plain(t, v, n))?;
        }
        for act in ACTIVATIONS {
            if act == Activation::Relu && z.abs() < 1e-9 {
                continue;
            }
            compare_hessians(
                &point,
                &format!("neuron {act:?}"),
                |t, v| t.neuron(run(t, &v[..=n]), run(t, &v[n + 1..]), act),
                |_, v| crate::util::activate(spelled(v, n, true), act),
            )?;
        }
    }
}

/// `a` and `b` within `rel·(1 + max(|a|, |b|))`, or the same non-finite number.
fn near(a: f64, b: f64, rel: f64) -> bool {
    a == b || (a - b).abs() <= rel * (1.0 + a.abs().max(b.abs()))
}

/// The values and Hessians of two spellings of one function, equal to rounding.
fn compare_hessians(
    point: &[f64],
    what: &str,
    f: impl for<'t> Fn(&'t Tape, &[Var<'t>]) -> Var<'t>,
    g: impl for<'t> Fn(&'t Tape, &[Var<'t>]) -> Var<'t>,
) -> Result<(), TestCaseError> {
    let tape = Tape::new();
    let x = tape.vars(point);
    let (vf, vg) = (f(&tape, &x).value(), g(&tape, &x).value());
    prop_assert!(near(vf, vg, 1e-12), "{}: values {:e} vs {:e}", what, vf, vg);
    let (hf, hg) = (tapegrad::hessian(&f, point), tapegrad::hessian(&g, point));
    for (i, (rf, rg)) in hf.iter().zip(&hg).enumerate() {
        for (j, (&a, &b)) in rf.iter().zip(rg).enumerate() {
            prop_assert!(
                near(a, b, 1e-10),
                "{}: H[{}][{}] {:e} vs {:e}",
                what,
                i,
                j,
                a,
                b
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Random programs: symmetry, hvp, and grad against backward.

/// The program's root recorded from `leaves`.
fn root<'t>(kind: Kind, program: &Program, leaves: &[Var<'t>]) -> Var<'t> {
    *programs::run(kind, leaves, &program.steps).last().unwrap()
}

/// `+0` and `−0` are the same number here (where the recorded sweep may start a sum from a
/// −0 contribution that `backward` adds to +0); otherwise bits, with NaN matching NaN.
fn same_up_to_zero_sign(a: f64, b: f64) -> bool {
    (a == 0.0 && b == 0.0) || crate::util::same(a, b)
}

/// hvp along `v` by central differences of `backward`'s gradient: (∇f(x + hv) − ∇f(x − hv))/2h.
fn hvp_numeric(kind: Kind, program: &Program, v: &[f64]) -> Vec<f64> {
    let h = 1e-6;
    let grad_at = |s: f64| {
        let at: Vec<f64> = program
            .leaves
            .iter()
            .zip(v)
            .map(|(x, d)| x + s * d)
            .collect();
        let tape = Tape::new();
        let x = tape.vars(&at);
        root(kind, program, &x).backward().wrt_all(&x)
    };
    let (plus, minus) = (grad_at(h), grad_at(-h));
    plus.iter()
        .zip(&minus)
        .map(|(p, m)| (p - m) / (2.0 * h))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        max_global_rejects: 100_000,
        ..ProptestConfig::default()
    })]

    // Hessians of smooth programs (every op but the kinked ones' kinks): symmetric to
    // rounding, and `hvp` is the Hessian times v, and a difference of gradients along v.
    #[test]
    fn hessians_are_symmetric_and_hvp_is_their_product(
        program in programs::program(Kind::Smooth, -2.0..=2.0, 1..=4, 1..=12),
        dir in prop::collection::vec(-1.0..=1.0f64, 4),
    ) {
        let h = tapegrad::hessian(|_, v| root(Kind::Smooth, &program, v), &program.leaves);
        let scale = h.iter().flatten().fold(1.0f64, |m, x| m.max(x.abs()));
        prop_assume!(scale <= 1e6);
        for (i, row) in h.iter().enumerate() {
            for (j, &hij) in row.iter().enumerate().take(i) {
                prop_assert!(
                    (hij - h[j][i]).abs() <= 1e-12 * scale,
                    "H[{}][{}] = {:e}, H[{}][{}] = {:e}", i, j, hij, j, i, h[j][i]
                );
            }
        }
        let v = &dir[..program.leaves.len()];
        let hv = tapegrad::hvp(|_, x| root(Kind::Smooth, &program, x), &program.leaves, v);
        for (i, row) in h.iter().enumerate() {
            let product: f64 = row.iter().zip(v).map(|(a, b)| a * b).sum();
            prop_assert!((hv[i] - product).abs() <= 1e-12 * scale, "(Hv)[{}]: {:e} vs {:e}",
                i, hv[i], product);
        }
        let numeric = hvp_numeric(Kind::Smooth, &program, v);
        // Skip points where the gradient is not smooth at the step's scale (relu, abs).
        let quarter: Vec<f64> = {
            let v4: Vec<f64> = v.iter().map(|d| d / 4.0).collect();
            hvp_numeric(Kind::Smooth, &program, &v4).iter().map(|x| 4.0 * x).collect()
        };
        prop_assume!(numeric.iter().zip(&quarter).all(|(&a, &b)| near(a, b, 2e-6)));
        for (i, (&a, &n)) in hv.iter().zip(&numeric).enumerate() {
            prop_assert!(near(a, n, Config::default().tolerance),
                "(Hv)[{}]: hvp {:e}, difference of gradients {:e}", i, a, n);
        }
    }

    // `grad`'s values are `backward`'s gradients bit for bit, for every op at any input (NaN,
    // ±inf, ±0, subnormals), with respect to every node of the program; only the sign of an
    // exact zero may differ. Fused nodes are left out here: `grad` adds four or more products
    // from fused nodes as one `dot`, whose partial sums may round differently (its documented
    // exception; see the next test).
    #[test]
    fn grad_values_are_backward_bits(
        program in programs::program(Kind::Raw, any_f64(), 1..=4, 1..=24),
    ) {
        let mut program = program;
        for step in &mut program.steps {
            if FUSED_RAW_OPS.contains(&(step.op % Kind::Raw.ops())) {
                step.op = SUM_RAW_OP;
            }
        }
        let (got, want) = grad_and_backward(Kind::Raw, &program);
        for (k, (&g, &w)) in got.iter().zip(&want).enumerate() {
            prop_assert!(
                same_up_to_zero_sign(g, w),
                "d root / d wrt[{}]: grad {:?}, backward {:?}", k, g, w
            );
        }
    }

    // With fused nodes (every kind, operands repeated), equal to rounding.
    #[test]
    fn grad_values_are_backward_values_to_rounding_with_fused_nodes(
        program in programs::program(Kind::Smooth, -2.0..=2.0, 1..=4, 1..=24),
    ) {
        let (got, want) = grad_and_backward(Kind::Smooth, &program);
        for (k, (&g, &w)) in got.iter().zip(&want).enumerate() {
            prop_assert!(
                (g - w).abs() <= 1e-13 * (1.0 + w.abs()),
                "d root / d wrt[{}]: grad {:?}, backward {:?}", k, g, w
            );
        }
    }
}

/// The ops of `Kind::Raw` programs that record a fused node (`dot`, `dot_run`, `affine`,
/// `neuron`), and its plain `sum` op.
const FUSED_RAW_OPS: [u8; 9] = [26, 28, 30, 31, 32, 33, 34, 35, 36];
const SUM_RAW_OP: u8 = 25;

#[test]
fn the_fused_raw_ops_are_still_those() {
    // Pins the numbering FUSED_RAW_OPS relies on: update it when programs.rs gains ops.
    assert_eq!(Kind::Raw.ops(), 37, "update FUSED_RAW_OPS");
    for op in 0..Kind::Raw.ops() {
        let tape = Tape::new();
        let p = tape.var(0.5);
        let step = programs::Step {
            op,
            a: 0,
            b: 0,
            c: 0,
            k: 0,
        };
        let root = *programs::run(Kind::Raw, &[p], &[step]).last().unwrap();
        // The DOT text names each op node: "dot", "dot + b" or "tanh(dot + b)" when fused.
        let dot = root.to_dot(None);
        let fused = dot.contains("label=\"dot") || dot.contains("(dot + b)\"");
        assert_eq!(fused, FUSED_RAW_OPS.contains(&op), "op {op}");
    }
}

/// d root / d every leaf and node of `program`, from `grad` (its values) and from `backward`.
fn grad_and_backward(kind: Kind, program: &Program) -> (Vec<f64>, Vec<f64>) {
    let tape = Tape::new();
    let leaves = programs::leaves(&tape, program);
    let nodes = programs::run(kind, &leaves, &program.steps);
    let root = *nodes.last().unwrap();
    let wrt: Vec<Var> = leaves.iter().chain(&nodes).copied().collect();
    let want = root.backward().wrt_all(&wrt);
    let got = root.grad(&wrt).iter().map(|g| g.value()).collect();
    (got, want)
}

// ---------------------------------------------------------------------------------------------
// Third derivatives: grad of grad of grad, against closed forms.

/// d³/dx³ of `f` at x, as three nested `grad`s.
fn third(x: f64, f: impl for<'t> Fn(Var<'t>) -> Var<'t>) -> f64 {
    let tape = Tape::new();
    let v = tape.var(x);
    let d1 = f(v).grad(&[v])[0];
    let d2 = d1.grad(&[v])[0];
    d2.grad(&[v])[0].value()
}

proptest! {
    #[test]
    fn third_derivative_of_tanh(x in -10.0..=10.0f64) {
        let y = x.tanh();
        let want = -2.0 * (1.0 - y * y) * (1.0 - 3.0 * y * y);
        let got = third(x, |v| v.tanh());
        prop_assert!(near(got, want, 1e-13), "tanh''' at {:e}: {:e} vs {:e}", x, got, want);
    }

    #[test]
    fn third_derivative_of_exp(x in -20.0..=20.0f64) {
        let got = third(x, |v| v.exp());
        prop_assert!(near(got, x.exp(), 1e-15), "exp''' at {:e}: {:e}", x, got);
    }

    #[test]
    fn third_derivative_of_sin(x in -100.0..=100.0f64) {
        let got = third(x, |v| v.sin());
        prop_assert!(near(got, -x.cos(), 1e-15), "sin''' at {:e}: {:e}", x, got);
    }
}
