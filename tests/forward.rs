//! Forward mode: `jvp` (a tangent sweep) and `hvp`/`hessian` (forward over reverse) against
//! what `backward` and the recorded gradient (`Var::grad`, then `backward`) give.
//!
//! Here, random programs (kinks included), Hessians of more than one block of 16 variables,
//! and that nothing is recorded. Every operation's tangent against central differences is a
//! column of `coverage.rs`; Jacobians in `forward/jacobians.rs`; kinks and the relu regression
//! in `forward/kinks.rs`; misuse in `forward/misuse.rs`.

mod jacobians;
mod kinks;
mod misuse;

use proptest::prelude::*;
use tapegrad::{Tape, Var};

use crate::programs::{self, Kind, Program};
use crate::util::same;

/// The Hessian-vector product the recorded way: `grad`, Σ gᵢvᵢ as nodes, `backward`.
pub fn recorded_hvp<'t>(y: Var<'t>, x: &[Var<'t>], v: &[f64]) -> Vec<f64> {
    let g = y.grad(x);
    y.tape()
        .sum(g.iter().zip(v).map(|(&gi, &vi)| gi * vi))
        .backward()
        .wrt_all(x)
}

/// The Hessian the recorded way: one `backward` per entry of `grad`'s gradient.
pub fn recorded_hessian<'t>(y: Var<'t>, x: &[Var<'t>]) -> Vec<Vec<f64>> {
    y.grad(x).iter().map(|g| g.backward().wrt_all(x)).collect()
}

/// Forward over reverse and the recorded way sum the same products in other orders, so they
/// agree to rounding relative to `scale`, the size of the terms summed (an entry that cancels
/// to near 0 carries the rounding of its terms, not of itself). Non-finite entries are equal:
/// both sides follow the same IEEE rules, and a NaN or infinity sends `hvp`/`hessian` the
/// recorded way.
#[track_caller]
pub fn assert_agrees(got: f64, want: f64, scale: f64, what: &str) {
    let ok = if got.is_finite() && want.is_finite() {
        (got - want).abs() <= ROUNDING * (1.0 + scale)
    } else {
        same(got, want)
    };
    assert!(ok, "{what}: got {got:e}, want {want:e} (scale {scale:e})");
}

/// The relative tolerance of [`assert_agrees`]. Each side's error is at most about
/// (number of products summed along the way)·ε·scale; the programs here sum a few hundred
/// products at most (ε ≈ 1.1e-16 makes that ≲ 1e-13), and 1e-12 leaves a factor of ten for
/// errors carried through several layers, while a wrong partial shows up at order 1.
pub const ROUNDING: f64 = 1e-12;

/// Σ|aᵢ·bᵢ|: the size of the terms of a dot product, the scale its rounding is relative to.
pub fn magnitude_of_terms(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x * y).abs()).sum()
}

/// Leaves for programs meant to hit kinks: often exactly 0 (relu, abs, sqrt and `powf` at 0,
/// `p − p`), otherwise moderate.
fn kinky_leaf() -> impl Strategy<Value = f64> {
    prop_oneof![1 => Just(0.0), 1 => Just(-0.0), 4 => -2.0..=2.0f64]
}

/// Records `program` on `tape` and returns its leaves and root.
fn record<'t>(tape: &'t Tape, kind: Kind, program: &Program) -> (Vec<Var<'t>>, Var<'t>) {
    let leaves = programs::leaves(tape, program);
    let root = *programs::run(kind, &leaves, &program.steps).last().unwrap();
    (leaves, root)
}

/// `jvp` along `dir` is Σ gᵢvᵢ from `backward`; `hvp` along `dir` is the recorded product,
/// entry by entry against the Hessian's terms Σⱼ|Hᵢⱼvⱼ| (the recorded Hessian).
///
/// `jvp` is compared only where both sides are finite: past an infinite local derivative the
/// two sweeps form different products (`relu(x).sqrt()` at 0: the reverse sweep's select
/// drops sqrt's infinite partial, the tangent sweep multiplies it by relu's zero tangent), and
/// a zero component of v times an infinite gradient is NaN in Σ gᵢvᵢ alone. And finite
/// numbers are compared to rounding only in programs whose steps stay within ±1e4: rounding is
/// relative to the terms summed inside, and a node of 1e9 whose terms cancel leaves errors the
/// size of 1e9·ε in both sweeps.
fn check_program(kind: Kind, program: &Program, dir: &[f64]) -> Result<(), TestCaseError> {
    let v = &dir[..program.leaves.len()];
    let values = programs::run::<f64>(kind, &program.leaves, &program.steps);
    let scaled = values.iter().all(|x| x.abs() <= 1e4) && tame(kind, program);
    let tape = Tape::new();
    let (x, y) = record(&tape, kind, program);
    let len = tape.len();
    let jvp = y.jvp(&x, v);
    let hvp = y.hvp(&x, v);
    let hvp_recorded_nothing = tape.len() == len;

    let g = y.backward().wrt_all(&x);
    let want = g.iter().zip(v).map(|(g, v)| g * v).sum::<f64>();
    if scaled && want.is_finite() && jvp.is_finite() {
        let scale = magnitude_of_terms(&g, v);
        prop_assert!(
            (jvp - want).abs() <= ROUNDING * (1.0 + scale),
            "jvp {:e}, Σ gᵢvᵢ {:e} (gradient {:?})",
            jvp,
            want,
            g
        );
    }

    let want = recorded_hvp(y, &x, v);
    let h = recorded_hessian(y, &x);
    // A NaN or infinity comes from the recorded way, which records.
    if hvp.iter().any(|h| !h.is_finite()) {
        prop_assert!(
            !hvp_recorded_nothing,
            "hvp {:?} without the recorded way",
            hvp
        );
    }
    for (i, (&got, &want)) in hvp.iter().zip(&want).enumerate() {
        let scale = magnitude_of_terms(&h[i], v);
        let ok = if !got.is_finite() {
            // A NaN or infinity is the recorded way's: the fallback.
            same(got, want)
        } else if !want.is_finite() {
            // The recorded way can overflow where the dual numbers do not (2y·(1e308·v) in
            // tanh's rule, where the dual sweep multiplies by a zero tangent first); its NaN
            // then has no counterpart.
            true
        } else {
            // A Hessian entry that is not finite (scale NaN or inf) overflowed the same way.
            !scaled || !scale.is_finite() || (got - want).abs() <= ROUNDING * (1.0 + scale)
        };
        prop_assert!(
            ok,
            "(Hv)[{}]: hvp {:e}, recorded {:e}, scale {:e}",
            i,
            got,
            want,
            scale
        );
    }
    Ok(())
}

/// Whether a raw program's constants are at most 3 and its integer exponents at most 7 in
/// magnitude: larger ones (1e308, 710, i32::MAX) make terms inside a step, which its value
/// does not show, large enough that their rounding is no longer small against the result.
fn tame(kind: Kind, program: &Program) -> bool {
    const WITH_CONSTANT: [u8; 12] = [15, 17, 18, 19, 20, 21, 22, 23, 24, 34, 35, 36];
    kind != Kind::Raw
        || program.steps.iter().all(|s| {
            let op = s.op % Kind::Raw.ops();
            let c = programs::CONSTANTS[s.k % programs::CONSTANTS.len()];
            let n = programs::EXPONENTS[s.k % programs::EXPONENTS.len()];
            (!WITH_CONSTANT.contains(&op) || c.abs() <= 3.0) && (op != 16 || n.abs() <= 7)
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        ..ProptestConfig::default()
    })]

    // Smooth programs (fused nodes, every activation), at moderate points.
    #[test]
    fn jvp_and_hvp_of_smooth_programs(
        program in programs::program(Kind::Smooth, -2.0..=2.0, 1..=4, 1..=16),
        dir in prop::collection::vec(-1.0..=1.0f64, 4),
    ) {
        check_program(Kind::Smooth, &program, &dir)?;
    }

    // Every op on raw operands, leaves often ±0: relu, abs, sqrt, `powf` at their kinks, and
    // the specials among the constants (inf, NaN, 1e308), where `hvp` goes the recorded way.
    #[test]
    fn jvp_and_hvp_of_raw_programs_with_kinks(
        program in programs::program(Kind::Raw, kinky_leaf(), 1..=4, 1..=12),
        dir in prop::collection::vec(prop_oneof![Just(0.0), -1.0..=1.0f64], 4),
    ) {
        check_program(Kind::Raw, &program, &dir)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Hessians of more than 16 variables: several blocks of 16 directions.

/// A function of all of `x` that couples neighbours and far entries, with every kind of node
/// (products, a fused dot, a neuron, unary ops), so each block's entries depend on the others.
fn coupled<'t>(t: &'t Tape, x: &[Var<'t>]) -> Var<'t> {
    let n = x.len();
    let mut terms: Vec<Var<'t>> = (0..n)
        .map(|i| (x[i] * x[(i + 1) % n]).sin() + x[i].powi(3) * 0.1)
        .collect();
    let s = t.sum(x);
    terms.push(s.tanh() * t.dot(&x[..n / 2], &x[n / 2..n / 2 * 2]));
    terms.push((x[0] - x[n - 1]).exp() * x[n / 2].sigmoid());
    t.sum(terms)
}

fn point(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((i * 37 % 23) as f64 - 11.0) / 13.0)
        .collect()
}

#[test]
fn hessians_of_several_blocks_are_the_recorded_ones_and_symmetric() {
    for n in [17, 33, 40] {
        let p = point(n);
        let h = tapegrad::hessian(coupled, &p);
        let tape = Tape::new();
        let x = tape.vars(&p);
        let y = coupled(&tape, &x);
        let len = tape.len();
        let mine = y.hessian(&x);
        assert_eq!(tape.len(), len, "Var::hessian records nothing");
        let want = recorded_hessian(y, &x);
        assert_eq!(h.len(), n);
        for i in 0..n {
            assert_eq!(h[i].len(), n);
            for j in 0..n {
                // The same sweeps on the same recording: the same bits.
                assert!(same(h[i][j], mine[i][j]), "n = {n}: H[{i}][{j}]");
                // Each pair is computed once, within a block of 16 too: exactly symmetric.
                // Regression: entries of one block came out of two lanes, 1 ulp apart.
                assert_eq!(h[i][j].to_bits(), h[j][i].to_bits(), "n = {n}: H[{i}][{j}]");
                let scale = want[i].iter().map(|w| w.abs()).sum::<f64>();
                assert_agrees(h[i][j], want[i][j], scale, &format!("n = {n}: H[{i}][{j}]"));
            }
        }
    }
}

/// Regression: a node in `wrt` beside one it was computed from. Forward mode forced the
/// seeded node's tangent to its direction, dropping the path from its operand, so `jvp` and a
/// forward-mode Jacobian gave ∂out/∂x₀ = 0 where the reverse sweep gives 4.
#[test]
fn forward_and_reverse_agree_when_wrt_holds_a_node_and_its_operand() {
    let tape = Tape::new();
    let x = tape.vars(&[1.0, 2.0]);
    let z = x[0] * x[0];
    let out = z * x[1];
    let g = out.backward();
    let wrt = [x[0], z];
    for v in [[1.0, 0.0], [0.0, 1.0], [0.5, -2.0]] {
        let want = g[x[0]] * v[0] + g[z] * v[1];
        assert_eq!(out.jvp(&wrt, &v), want, "v = {v:?}");
    }
    // Forward mode (more outputs than inputs) against reverse (one output).
    let forward = tape.jacobian(&[out, out + 1.0, out * 2.0], &wrt);
    let reverse = tape.jacobian(&[out], &wrt);
    assert_eq!(forward[0], reverse[0]);
    assert_eq!(reverse[0], vec![4.0, 2.0]);
}

#[test]
fn a_hessian_with_respect_to_a_permuted_subset_is_the_matching_block() {
    // wrt in another order than the tape's, crossing block boundaries, and skipping leaves.
    let p = point(40);
    let tape = Tape::new();
    let x = tape.vars(&p);
    let y = coupled(&tape, &x);
    let full = y.hessian(&x);
    let pick: Vec<usize> = (0..40).rev().step_by(2).chain([3, 17]).collect();
    let wrt: Vec<Var> = pick.iter().map(|&i| x[i]).collect();
    let sub = y.hessian(&wrt);
    for (a, &i) in pick.iter().enumerate() {
        for (b, &j) in pick.iter().enumerate() {
            let scale = full[i].iter().map(|w| w.abs()).sum::<f64>();
            assert_agrees(sub[a][b], full[i][j], scale, &format!("H[{i}][{j}]"));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Nothing is recorded: the methods on a user's tape leave its length alone.

#[test]
fn the_methods_on_a_tape_record_nothing_on_finite_inputs() {
    let tape = Tape::new();
    let x = tape.vars(&point(20));
    let y = coupled(&tape, &x);
    let outputs = [y, x[0] * x[1], x[2].tanh()];
    let len = tape.len();
    let v: Vec<f64> = (0..20).map(|i| 0.1 * i as f64 - 1.0).collect();
    let _ = y.jvp(&x, &v);
    assert_eq!(tape.len(), len, "Var::jvp");
    let _ = tape.jvp(&outputs, &x, &v);
    assert_eq!(tape.len(), len, "Tape::jvp");
    let _ = y.hvp(&x, &v);
    assert_eq!(tape.len(), len, "Var::hvp");
    let _ = y.hessian(&x);
    assert_eq!(tape.len(), len, "Var::hessian");
    // Forward (3 inputs, 3 outputs counts as reverse: fewer inputs than outputs is forward).
    let _ = tape.jacobian(&outputs, &x[..2]);
    assert_eq!(tape.len(), len, "Tape::jacobian, forward");
    let _ = tape.jacobian(&outputs, &x);
    assert_eq!(tape.len(), len, "Tape::jacobian, reverse");
}

#[test]
fn the_value_of_jvp_has_the_recorded_bits_and_the_free_functions_match_the_methods() {
    let p = point(20);
    let v: Vec<f64> = (0..20).map(|i| 1.0 - 0.07 * i as f64).collect();
    let tape = Tape::new();
    let x = tape.vars(&p);
    let y = coupled(&tape, &x);
    let (value, dy) = tapegrad::jvp(coupled, &p, &v);
    assert_eq!(value.to_bits(), y.value().to_bits());
    assert_eq!(dy.to_bits(), y.jvp(&x, &v).to_bits());
    let hv = tapegrad::hvp(coupled, &p, &v);
    assert!(crate::util::bitwise_eq(&hv, &y.hvp(&x, &v)));
}
