//! Golden tests: one test per row of the numeric conventions table in the crate docs (PyTorch
//! float64 conventions), values and gradients, compared with [`same`](crate::util::same) so −0
//! differs from +0 and NaN matches NaN. Each case states its math; expected values come from
//! the math or from `f64` itself (through `black_box`, so the compiler cannot fold them with a
//! different libm).

use std::f64::consts::{E, PI};
use std::hint::black_box;

use tapegrad::Activation::{Relu, Sigmoid, Tanh};
use tapegrad::{Activation, Tape, Var};

use crate::util::{activate, assert_all_same, assert_same, same};

const INF: f64 = f64::INFINITY;
const NEG_INF: f64 = f64::NEG_INFINITY;
const NAN: f64 = f64::NAN;

/// y = f(x) at a leaf `x`: checks y and dy/dx.
#[track_caller]
fn unary(x: f64, f: impl for<'t> Fn(Var<'t>) -> Var<'t>, value: f64, grad: f64) {
    let tape = Tape::new();
    let xv = tape.var(x);
    let y = f(xv);
    assert_same(y.value(), value, &format!("value at x = {x:?}"));
    assert_same(y.backward()[xv], grad, &format!("gradient at x = {x:?}"));
}

/// y = f(a, b) at leaves `a`, `b`: checks y and (dy/da, dy/db).
#[track_caller]
fn binary(
    a: f64,
    b: f64,
    f: impl for<'t> Fn(Var<'t>, Var<'t>) -> Var<'t>,
    value: f64,
    grads: (f64, f64),
) {
    let tape = Tape::new();
    let (av, bv) = (tape.var(a), tape.var(b));
    let y = f(av, bv);
    let at = format!("at (a, b) = ({a:?}, {b:?})");
    assert_same(y.value(), value, &format!("value {at}"));
    let g = y.backward();
    assert_same(g[av], grads.0, &format!("dy/da {at}"));
    assert_same(g[bv], grads.1, &format!("dy/db {at}"));
}

fn f(x: f64) -> f64 {
    black_box(x)
}

// ---------------------------------------------------------------------------------------------
// add, sub, neg: pass-through; the gradients never depend on the values.

#[test]
fn add() {
    // d(a+b)/da = d(a+b)/db = 1.
    binary(2.0, 3.0, |a, b| a + b, 5.0, (1.0, 1.0));
    // inf + (−inf) = NaN, and the gradients are still (1, 1).
    binary(INF, NEG_INF, |a, b| a + b, NAN, (1.0, 1.0));
    binary(NAN, 1.0, |a, b| a + b, NAN, (1.0, 1.0));
    // −0 + −0 = −0; −0 + 0 = +0.
    binary(-0.0, -0.0, |a, b| a + b, -0.0, (1.0, 1.0));
    binary(-0.0, 0.0, |a, b| a + b, 0.0, (1.0, 1.0));
    // a + a: both contributions land in one slot, d(2a)/da = 2.
    unary(INF, |a| a + a, INF, 2.0);
}

#[test]
fn add_constant() {
    // x + c and c + x: d/dx = 1; the constant is not a node.
    unary(2.0, |x| x + 3.0, 5.0, 1.0);
    unary(2.0, |x| 3.0 + x, 5.0, 1.0);
    unary(INF, |x| x + NEG_INF, NAN, 1.0);
    unary(INF, |x| NEG_INF + x, NAN, 1.0);
    unary(-0.0, |x| x + 0.0, 0.0, 1.0);
    unary(-0.0, |x| x + -0.0, -0.0, 1.0);
}

#[test]
fn sub() {
    // d(a−b)/da = 1, d(a−b)/db = −1.
    binary(2.0, 3.0, |a, b| a - b, -1.0, (1.0, -1.0));
    // inf − inf = NaN, gradients (1, −1).
    binary(INF, INF, |a, b| a - b, NAN, (1.0, -1.0));
    // −0 − 0 = −0.
    binary(-0.0, 0.0, |a, b| a - b, -0.0, (1.0, -1.0));
    // a − a = 0 with gradient 1 − 1 = 0.
    unary(5.0, |a| a - a, 0.0, 0.0);
}

#[test]
fn sub_constant() {
    // x − c: d/dx = 1. c − x: d/dx = −1.
    unary(2.0, |x| x - 3.0, -1.0, 1.0);
    unary(2.0, |x| 3.0 - x, 1.0, -1.0);
    unary(INF, |x| x - INF, NAN, 1.0);
    unary(INF, |x| INF - x, NAN, -1.0);
    // Signed zeros as IEEE subtraction gives them: −0 − 0 = −0, 0 − 0 = +0, 0 − (−0) = +0.
    unary(-0.0, |x| x - 0.0, -0.0, 1.0);
    unary(0.0, |x| 0.0 - x, 0.0, -1.0);
    unary(-0.0, |x| 0.0 - x, 0.0, -1.0);
    unary(0.0, |x| -0.0 - x, -0.0, -1.0);
}

#[test]
fn neg() {
    // d(−x)/dx = −1 for every x.
    unary(2.0, |x| -x, -2.0, -1.0);
    unary(0.0, |x| -x, -0.0, -1.0);
    unary(-0.0, |x| -x, 0.0, -1.0);
    unary(INF, |x| -x, NEG_INF, -1.0);
    unary(NAN, |x| -x, NAN, -1.0);
}

// ---------------------------------------------------------------------------------------------
// mul: g·other.

#[test]
fn mul() {
    // d(ab)/da = b, d(ab)/db = a.
    binary(2.0, 3.0, |a, b| a * b, 6.0, (3.0, 2.0));
    binary(-1.5, 4.0, |a, b| a * b, -6.0, (4.0, -1.5));
    // inf·0 = NaN; d/da = b = 0, d/db = a = inf.
    binary(INF, 0.0, |a, b| a * b, NAN, (0.0, INF));
    binary(0.0, INF, |a, b| a * b, NAN, (INF, 0.0));
    binary(NAN, 2.0, |a, b| a * b, NAN, (2.0, NAN));
}

#[test]
fn mul_self() {
    // x·x at 3 = 9; both contributions (3 and 3) land in x's one slot: 6.
    unary(3.0, |x| x * x, 9.0, 6.0);
    unary(-0.5, |x| x * x, 0.25, -1.0);
    // x·x·x at 2: 3x² = 12 (x appears in two nodes).
    unary(2.0, |x| x * x * x, 8.0, 12.0);
}

#[test]
fn mul_constant() {
    // x·c and c·x: d/dx = c.
    unary(3.0, |x| x * 2.0, 6.0, 2.0);
    unary(3.0, |x| 2.0 * x, 6.0, 2.0);
    unary(3.0, |x| x * -0.5, -1.5, -0.5);
    // inf·0 = NaN, d/dx = 0; 0·inf = NaN, d/dx = inf.
    unary(INF, |x| x * 0.0, NAN, 0.0);
    unary(INF, |x| 0.0 * x, NAN, 0.0);
    unary(0.0, |x| x * INF, NAN, INF);
    unary(0.0, |x| INF * x, NAN, INF);
    // −0 from a sign: −2·0 = −0.
    unary(0.0, |x| -2.0 * x, -0.0, -2.0);
}

// ---------------------------------------------------------------------------------------------
// div: a primitive with PyTorch's rule, d/da = g/b, d/db = −g·((a/b)/b).

#[test]
fn div() {
    // 6/3 = 2; d/da = 1/3, d/db = −(2/3).
    binary(6.0, 3.0, |a, b| a / b, 2.0, (1.0 / f(3.0), -(2.0 / f(3.0))));
    // 1/0 = inf; d/da = 1/0 = inf, d/db = −(inf/0) = −inf.
    binary(1.0, 0.0, |a, b| a / b, INF, (INF, NEG_INF));
    // −1/0 = −inf; d/da = inf, d/db = −(−inf/0) = inf.
    binary(-1.0, 0.0, |a, b| a / b, NEG_INF, (INF, INF));
    // 1/−0 = −inf; d/da = 1/−0 = −inf, d/db = −(−inf/−0) = −inf.
    binary(1.0, -0.0, |a, b| a / b, NEG_INF, (NEG_INF, NEG_INF));
    // 0/0 = NaN; d/da = 1/0 = inf, d/db = −(NaN/0) = NaN.
    binary(0.0, 0.0, |a, b| a / b, NAN, (INF, NAN));
}

#[test]
fn div_is_a_primitive_not_a_times_recip_b() {
    // 1e308/1e308 = 1; d/da = 1/1e308 = 1e-308 (subnormal), d/db = −(1/1e308) = −1e-308.
    // As a·b⁻¹ the second would be −a/b² = −1e308/inf = −0.
    binary(1e308, 1e308, |a, b| a / b, 1.0, (1e-308, -1e-308));
}

#[test]
fn div_by_self() {
    // x/x = 1 with gradient 1/x − (1/x) = 0 at x = 4: 1/4 + (−((4/4)/4)) = 0.
    unary(4.0, |x| x / x, 1.0, 0.0);
}

#[test]
fn div_constant() {
    // x/c: d/dx = 1/c.
    unary(6.0, |x| x / 4.0, 1.5, 0.25);
    unary(1.0, |x| x / 0.0, INF, INF);
    unary(1.0, |x| x / -0.0, NEG_INF, NEG_INF);
    // c/x uses the div rule for the denominator: d/dx = −g·((c/x)/x).
    unary(4.0, |x| 6.0 / x, 1.5, -0.375);
    // 1/0 = inf, d/dx = −(inf/0) = −inf.
    unary(0.0, |x| 1.0 / x, INF, NEG_INF);
    // 1e308/1e308: d/dx = −((1e308/1e308)/1e308) = −1e-308, where −c/x² would give −0.
    unary(1e308, |x| 1e308 / x, 1.0, -1e-308);
}

// ---------------------------------------------------------------------------------------------
// powf(e), powi(n): e·x^(e−1), and exactly 0 for every base when e = 0.

#[test]
fn powf() {
    // 2³ = 8, 3·2² = 12; 4^0.5 = 2, 0.5·4^−0.5 = 0.25.
    unary(2.0, |x| x.powf(3.0), 8.0, 12.0);
    unary(4.0, |x| x.powf(0.5), 2.0, 0.25);
    // (−2)³ = −8, 3·(−2)² = 12.
    unary(-2.0, |x| x.powf(3.0), -8.0, 12.0);
    // (−8)^(1/3) is NaN (a real power of a negative base), and so is its gradient.
    unary(-8.0, |x| x.powf(1.0 / 3.0), NAN, NAN);
}

#[test]
fn powf_at_zero() {
    // 0⁰ = 1 with gradient 0 (PyTorch masks e = 0), not 0·0^−1 = 0·inf = NaN.
    unary(0.0, |x| x.powf(0.0), 1.0, 0.0);
    // 0^−1 = inf; −1·0^−2 = −inf.
    unary(0.0, |x| x.powf(-1.0), INF, NEG_INF);
    // 0^0.5 = 0; 0.5·0^−0.5 = +inf.
    unary(0.0, |x| x.powf(0.5), 0.0, INF);
    // (−0)^−1 = −inf; −1·(−0)^−2 = −inf.
    unary(-0.0, |x| x.powf(-1.0), NEG_INF, NEG_INF);
    // PyTorch computes x^0.5 as sqrt and x^−0.5 as 1/sqrt, which keep the sign of −0: (−0)^0.5
    // = −0 with gradient 0.5/sqrt(−0) = −inf, and (−0)^−0.5 = −inf with gradient
    // −0.5·(−0)^−1.5 = −inf. IEEE pow would give +0, +inf and +inf.
    unary(-0.0, |x| x.powf(0.5), -0.0, NEG_INF);
    unary(-0.0, |x| x.powf(-0.5), NEG_INF, NEG_INF);
    unary(0.0, |x| x.powf(-0.5), INF, NEG_INF);
    // Elsewhere ±½ are sqrt and its reciprocal, bit for bit.
    for x in [0.3, 2.0, 1e-300, 7.5e200] {
        unary(x, |v| v.powf(0.5), x.sqrt(), 0.5 * (1.0 / x.sqrt()));
    }
}

#[test]
fn powf_zero_exponent_has_zero_gradient_for_every_base() {
    // x⁰ = 1 for every x, NaN and inf included (IEEE pow), and d/dx = 0 exactly.
    for x in [0.0, -0.0, -2.0, 3.5, INF, NEG_INF, NAN] {
        unary(x, |x| x.powf(0.0), 1.0, 0.0);
        unary(x, |x| x.powi(0), 1.0, 0.0);
    }
}

#[test]
fn powi() {
    // 3² = 9, 2·3 = 6; (−2)³ = −8, 3·(−2)² = 12.
    unary(3.0, |x| x.powi(2), 9.0, 6.0);
    unary(-2.0, |x| x.powi(3), -8.0, 12.0);
    // 2^−1 = 0.5, −1·2^−2 = −0.25.
    unary(2.0, |x| x.powi(-1), 0.5, -0.25);
    // 0^−1 = inf, −1·0^−2 = −inf; 0⁰ = 1 with gradient 0.
    unary(0.0, |x| x.powi(-1), INF, NEG_INF);
    unary(0.0, |x| x.powi(0), 1.0, 0.0);
    // 0^1 = 0; 1·0⁰ = 1.
    unary(0.0, |x| x.powi(1), 0.0, 1.0);
}

/// Regression: the Powi derivative computed `n - 1` in i32, which overflowed for
/// n = i32::MIN (a debug panic; in release the exponent wrapped to i32::MAX).
#[test]
fn powi_with_extreme_exponents() {
    // d(xⁿ)/dx = n·x^(n−1) with n − 1 taken as a real number (PyTorch computes the exponent
    // in double). Regression guard: n − 1 computed in i32 overflows for n = i32::MIN (a panic
    // in debug builds, a wrap to x^i32::MAX in release builds).
    let n = i32::MIN;
    let nf = f64::from(n); // −2³¹
    for x in [1.0, -1.0, 2.0, 0.5] {
        let tape = Tape::new();
        let xv = tape.var(x);
        let y = xv.powi(n);
        assert_same(y.value(), f(x).powi(n), "value");
        // x = ±1: n·(±1)^(n−1) = ∓2³¹ (n − 1 is odd); x = 2: −2³¹·2^(−2³¹−1) underflows to 0;
        // x = 0.5: −2³¹·0.5^(−2³¹−1) = −2³¹·inf = −inf.
        let want = nf * f(x).powf(nf - 1.0);
        let got = y.backward()[xv];
        assert!(
            got == want || (got.is_nan() && want.is_nan()),
            "d(x^{n})/dx at x = {x}: got {got:e}, want {want:e}"
        );
    }
    // The largest exponent is fine: n − 1 = i32::MAX − 1.
    unary(-1.0, |x| x.powi(i32::MAX), -1.0, f64::from(i32::MAX));
}

// ---------------------------------------------------------------------------------------------
// exp: g·y.

#[test]
fn exp() {
    // e⁰ = 1, d/dx = e⁰ = 1; e¹ = e.
    unary(0.0, |x| x.exp(), 1.0, 1.0);
    unary(1.0, |x| x.exp(), f(1.0).exp(), f(1.0).exp());
    // Finite just below ln(f64::MAX) = 709.78…, inf just above; the gradient is the value.
    let top = f(709.78).exp();
    assert!(top.is_finite() && top > 1e308);
    unary(709.78, |x| x.exp(), top, top);
    unary(709.79, |x| x.exp(), INF, INF);
    unary(710.0, |x| x.exp(), INF, INF);
    // e^−746 underflows to +0, and so does its gradient.
    unary(-746.0, |x| x.exp(), 0.0, 0.0);
    unary(NEG_INF, |x| x.exp(), 0.0, 0.0);
    unary(INF, |x| x.exp(), INF, INF);
    unary(NAN, |x| x.exp(), NAN, NAN);
}

// ---------------------------------------------------------------------------------------------
// ln: g/x.

#[test]
fn ln() {
    // ln 1 = 0, d/dx = 1/1; ln e = 1, d/dx = 1/e.
    unary(1.0, |x| x.ln(), 0.0, 1.0);
    unary(E, |x| x.ln(), f(E).ln(), 1.0 / f(E));
    // ln(+0) = −inf, 1/(+0) = +inf; ln(−0) = −inf, 1/(−0) = −inf.
    unary(0.0, |x| x.ln(), NEG_INF, INF);
    unary(-0.0, |x| x.ln(), NEG_INF, NEG_INF);
    // ln(−1) = NaN, and the gradient is still 1/x = −1 (what PyTorch returns).
    unary(-1.0, |x| x.ln(), NAN, -1.0);
    // ln(inf) = inf, 1/inf = 0.
    unary(INF, |x| x.ln(), INF, 0.0);
}

// ---------------------------------------------------------------------------------------------
// tanh: g·(1 − y²), with y from f64::tanh (the exp formula is NaN for x ≥ 355).

#[test]
fn tanh() {
    // tanh 0 = 0, 1 − 0² = 1.
    unary(0.0, |x| x.tanh(), 0.0, 1.0);
    unary(-0.0, |x| x.tanh(), -0.0, 1.0);
    // tanh 1 = t, d/dx = 1 − t².
    let t = f(1.0).tanh();
    unary(1.0, |x| x.tanh(), t, 1.0 - t * t);
    // Saturated: y = ±1 exactly, 1 − y² = +0.
    for x in [20.0, 355.0, 1000.0, INF] {
        unary(x, |x| x.tanh(), 1.0, 0.0);
        unary(-x, |x| x.tanh(), -1.0, 0.0);
    }
    unary(NAN, |x| x.tanh(), NAN, NAN);
}

// ---------------------------------------------------------------------------------------------
// sigmoid: a primitive, g·y·(1 − y).

#[test]
fn sigmoid() {
    // σ(0) = 1/2, σ'(0) = 1/4.
    unary(0.0, |x| x.sigmoid(), 0.5, 0.25);
    // σ(2) = 1/(1 + e⁻²), σ' = σ(1 − σ).
    let s = 1.0 / (1.0 + f(-2.0).exp());
    unary(2.0, |x| x.sigmoid(), s, (1.0 - s) * s);
    // Saturated: σ(−1000) = 0 with gradient 0, σ(1000) = 1 with gradient 0; never NaN.
    unary(-1000.0, |x| x.sigmoid(), 0.0, 0.0);
    unary(1000.0, |x| x.sigmoid(), 1.0, 0.0);
    unary(-710.0, |x| x.sigmoid(), 0.0, 0.0);
    unary(NEG_INF, |x| x.sigmoid(), 0.0, 0.0);
    unary(INF, |x| x.sigmoid(), 1.0, 0.0);
    unary(NAN, |x| x.sigmoid(), NAN, NAN);
}

#[test]
fn sigmoid_composite_would_be_nan() {
    // Why sigmoid is a primitive: 1/(1 + e^{−x}) built from exp and div at x = −710 has
    // e^{710} = inf, d(1/d)/dd = −((1/inf)/inf) = −0, then −0·e^{710} = −0·inf = NaN.
    let tape = Tape::new();
    let x = tape.var(-710.0);
    let composite = 1.0 / (1.0 + (-x).exp());
    assert_same(composite.value(), 0.0, "value");
    assert!(composite.backward()[x].is_nan());
    let primitive = x.sigmoid();
    assert_same(primitive.backward()[x], 0.0, "primitive gradient");
}

// ---------------------------------------------------------------------------------------------
// relu: a select on y ≤ 0.

#[test]
fn relu() {
    // relu(2) = 2, slope 1; relu(−2) = 0, slope 0; relu'(0) = 0.
    unary(2.0, |x| x.relu(), 2.0, 1.0);
    unary(-2.0, |x| x.relu(), 0.0, 0.0);
    unary(0.0, |x| x.relu(), 0.0, 0.0);
    // PyTorch's clamp_min keeps x unless x < 0, so relu(−0) = −0, still with slope 0.
    unary(-0.0, |x| x.relu(), -0.0, 0.0);
    // relu(NaN) = NaN (f64::max(NaN, 0) would say 0); NaN ≤ 0 is false, so the gradient
    // passes through as PyTorch's threshold_backward passes it.
    unary(NAN, |x| x.relu(), NAN, 1.0);
    unary(INF, |x| x.relu(), INF, 1.0);
    unary(NEG_INF, |x| x.relu(), 0.0, 0.0);
}

#[test]
fn relu_blocks_an_infinite_upstream_gradient() {
    // y = relu(x)·t with t = inf: dy/d relu = t = inf, and relu selects 0 for x ≤ 0, so
    // dy/dx = 0 (a multiplication would give inf·0 = NaN).
    for x in [-1.0, 0.0, -0.0, NEG_INF] {
        let tape = Tape::new();
        let xv = tape.var(x);
        let t = tape.var(INF);
        let r = xv.relu();
        let y = r * t;
        assert!(y.value().is_nan(), "0·inf");
        let g = y.backward();
        assert_same(g[r], INF, "dy/d relu");
        assert_same(g[xv], 0.0, "dy/dx");
        assert_eq!(g[t], 0.0, "dy/dt = relu(x)");
        // The same with the infinity as a constant.
        let y = xv.relu() * INF;
        assert_same(y.backward()[xv], 0.0, "dy/dx, constant inf");
    }
}

// ---------------------------------------------------------------------------------------------
// sqrt: g/(2y).

#[test]
fn sqrt() {
    // √4 = 2, 1/(2·2) = 0.25.
    unary(4.0, |x| x.sqrt(), 2.0, 0.25);
    unary(
        2.0,
        |x| x.sqrt(),
        f(2.0).sqrt(),
        1.0 / (2.0 * f(2.0).sqrt()),
    );
    // √0 = 0, 1/(2·0) = +inf; √−0 = −0, 1/(2·−0) = −inf.
    unary(0.0, |x| x.sqrt(), 0.0, INF);
    unary(-0.0, |x| x.sqrt(), -0.0, NEG_INF);
    // √−1 = NaN, 1/(2·NaN) = NaN.
    unary(-1.0, |x| x.sqrt(), NAN, NAN);
    // √inf = inf, 1/inf = 0.
    unary(INF, |x| x.sqrt(), INF, 0.0);
}

// ---------------------------------------------------------------------------------------------
// abs: g·sgn(x) with sgn(±0) = 0.

#[test]
fn abs() {
    // |−3| = 3 with slope −1; |3| = 3 with slope 1.
    unary(-3.0, |x| x.abs(), 3.0, -1.0);
    unary(3.0, |x| x.abs(), 3.0, 1.0);
    // abs'(0) = abs'(−0) = 0 (f64::signum(0.0) would say 1).
    unary(0.0, |x| x.abs(), 0.0, 0.0);
    unary(-0.0, |x| x.abs(), 0.0, 0.0);
    unary(NEG_INF, |x| x.abs(), INF, -1.0);
    unary(INF, |x| x.abs(), INF, 1.0);
}

// ---------------------------------------------------------------------------------------------
// recip, sin, cos.

#[test]
fn recip() {
    // 1/2 = 0.5, −y² = −0.25 (PyTorch's rule −g·y²).
    unary(2.0, |x| x.recip(), 0.5, -0.25);
    unary(-4.0, |x| x.recip(), -0.25, -0.0625);
    // 1/0 = inf, −inf² = −inf; 1/−0 = −inf, −(−inf)² = −inf.
    unary(0.0, |x| x.recip(), INF, NEG_INF);
    unary(-0.0, |x| x.recip(), NEG_INF, NEG_INF);
    // 1/1e-200 = 1e200 (finite), but y² overflows: −inf, as −1/x² does.
    unary(1e-200, |x| x.recip(), 1.0 / f(1e-200), NEG_INF);
    unary(NAN, |x| x.recip(), NAN, NAN);
}

#[test]
fn sin() {
    // sin 0 = 0, cos 0 = 1; sin 1, cos 1.
    unary(0.0, |x| x.sin(), 0.0, 1.0);
    unary(-0.0, |x| x.sin(), -0.0, 1.0);
    unary(1.0, |x| x.sin(), f(1.0).sin(), f(1.0).cos());
    unary(PI, |x| x.sin(), f(PI).sin(), -1.0);
    // sin inf = NaN, cos inf = NaN.
    unary(INF, |x| x.sin(), NAN, NAN);
}

#[test]
fn cos() {
    // cos 1, −sin 1.
    unary(1.0, |x| x.cos(), f(1.0).cos(), -f(1.0).sin());
    unary(-2.0, |x| x.cos(), f(-2.0).cos(), -f(-2.0).sin());
    unary(INF, |x| x.cos(), NAN, NAN);
    // cos 0 = 1, −sin 0 = −0: zero, whichever sign the accumulation leaves.
    let tape = Tape::new();
    let x = tape.var(0.0);
    let y = x.cos();
    assert_same(y.value(), 1.0, "cos 0");
    assert_eq!(y.backward()[x], 0.0);
}

#[test]
fn sinh() {
    // sinh 0 = 0 with gradient cosh 0 = 1; sinh 1, cosh 1.
    unary(0.0, |x| x.sinh(), 0.0, 1.0);
    unary(-0.0, |x| x.sinh(), -0.0, 1.0);
    unary(1.0, |x| x.sinh(), f(1.0).sinh(), f(1.0).cosh());
    // Overflow: sinh(±800) = ±inf, gradient cosh(800) = +inf.
    unary(800.0, |x| x.sinh(), INF, INF);
    unary(-800.0, |x| x.sinh(), -INF, INF);
    unary(NAN, |x| x.sinh(), NAN, NAN);
}

#[test]
fn cosh() {
    // cosh 0 = 1 with gradient sinh 0 = 0; cosh(-2), sinh(-2).
    unary(0.0, |x| x.cosh(), 1.0, 0.0);
    unary(-2.0, |x| x.cosh(), f(-2.0).cosh(), f(-2.0).sinh());
    // cosh(-800) = inf with gradient sinh(-800) = -inf.
    unary(-800.0, |x| x.cosh(), INF, -INF);
}

// ---------------------------------------------------------------------------------------------
// sum: g to each operand.

#[test]
fn sum_empty_is_zero() {
    // Σ of nothing = +0, one node.
    let tape = Tape::new();
    let none: [Var; 0] = [];
    let s = tape.sum(none);
    assert_same(s.value(), 0.0, "empty sum");
    assert_eq!(tape.len(), 1);
    assert_eq!(s.backward().as_slice(), &[1.0]);
}

#[test]
fn sum_of_infinities() {
    // inf + (−inf) = NaN, and each operand still gets 1: contiguous (a range) and as a list.
    let tape = Tape::new();
    let xs = tape.vars(&[INF, NEG_INF]);
    let s = tape.sum(&xs);
    assert_same(s.value(), NAN, "range sum");
    assert_all_same(&s.backward().wrt_all(&xs), &[1.0, 1.0], "range grads");
    let s = tape.sum([xs[1], xs[0]]);
    assert_same(s.value(), NAN, "list sum");
    assert_all_same(&s.backward().wrt_all(&xs), &[1.0, 1.0], "list grads");
}

#[test]
fn sum_counts_repeated_operands() {
    // x + y + x: d/dx = 2, d/dy = 1.
    let tape = Tape::new();
    let x = tape.var(2.0);
    let y = tape.var(5.0);
    let s = tape.sum([x, y, x]);
    assert_same(s.value(), 9.0, "value");
    let g = s.backward();
    assert_all_same(&[g[x], g[y]], &[2.0, 1.0], "grads");
}

// ---------------------------------------------------------------------------------------------
// dot: g·other.

#[test]
fn dot_with_infinity_times_zero() {
    // [inf, 1]·[0, 1] = inf·0 + 1 = NaN; d/dw = x = [0, 1], d/dx = w = [inf, 1].
    // Contiguous operands (two ranges):
    let tape = Tape::new();
    let w = tape.vars(&[INF, 1.0]);
    let x = tape.vars(&[0.0, 1.0]);
    let y = tape.dot(&w, &x);
    assert_same(y.value(), NAN, "value");
    let g = y.backward();
    assert_all_same(&g.wrt_all(&w), &[0.0, 1.0], "d/dw");
    assert_all_same(&g.wrt_all(&x), &[INF, 1.0], "d/dx");
    // Interleaved operands (stored as lists):
    let tape = Tape::new();
    let (w0, x0, w1, x1) = (tape.var(INF), tape.var(0.0), tape.var(1.0), tape.var(1.0));
    let y = tape.dot(&[w0, w1], &[x0, x1]);
    assert_same(y.value(), NAN, "value (lists)");
    let g = y.backward();
    assert_all_same(&[g[w0], g[w1]], &[0.0, 1.0], "d/dw (lists)");
    assert_all_same(&[g[x0], g[x1]], &[INF, 1.0], "d/dx (lists)");
}

#[test]
fn dot_run_and_affine_with_infinity_times_zero() {
    // The same over runs: [inf, 1]·[0, 1] = NaN, d/dw = [0, 1], d/dx = [inf, 1].
    let tape = Tape::new();
    let w = tape.run(&[INF, 1.0]);
    let x = tape.run(&[0.0, 1.0]);
    let y = tape.dot_run(w, x);
    assert_same(y.value(), NAN, "dot_run");
    let g = y.backward();
    assert_all_same(&g.wrt_run(w), &[0.0, 1.0], "d/dw");
    assert_all_same(&g.wrt_run(x), &[INF, 1.0], "d/dx");
    // affine: [inf, 1]·[0, 1] + b = NaN whatever b; d/db = 1.
    let wb = tape.run(&[INF, 1.0, -3.0]);
    let y = tape.affine(wb, x);
    assert_same(y.value(), NAN, "affine");
    let g = y.backward();
    assert_all_same(&g.wrt_run(wb), &[0.0, 1.0, 1.0], "d/dwb");
    assert_all_same(&g.wrt_run(x), &[INF, 1.0], "d/dx");
    // A finite dot plus an infinite bias: inf, gradients as usual.
    let wb = tape.run(&[2.0, NEG_INF]);
    let x1 = tape.run(&[3.0]);
    let y = tape.affine(wb, x1);
    assert_same(y.value(), NEG_INF, "affine, bias −inf");
    assert_all_same(&y.backward().wrt_run(wb), &[3.0, 1.0], "d/dwb");
}

#[test]
fn dot_plain() {
    // [1, −2]·[3, 4] = 3 − 8 = −5; d/dw = [3, 4], d/dx = [1, −2].
    let tape = Tape::new();
    let w = tape.vars(&[1.0, -2.0]);
    let x = tape.vars(&[3.0, 4.0]);
    let y = tape.dot(&w, &x);
    assert_same(y.value(), -5.0, "value");
    let g = y.backward();
    assert_all_same(&g.wrt_all(&w), &[3.0, 4.0], "d/dw");
    assert_all_same(&g.wrt_all(&x), &[1.0, -2.0], "d/dx");
    // p·p = Σ p², d/dp = 2p (both roles land in one slot).
    let p = tape.vars(&[1.5, -3.0]);
    let y = tape.dot(&p, &p);
    assert_same(y.value(), 11.25, "p·p");
    assert_all_same(&y.backward().wrt_all(&p), &[3.0, -6.0], "d(p·p)/dp");
}

#[test]
fn dot_empty_is_zero() {
    let tape = Tape::new();
    let y = tape.dot(&[], &[]);
    assert_same(y.value(), 0.0, "empty dot");
    assert_eq!(tape.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// neuron: act(Σ wᵢxᵢ + b) as ONE node, with the value and gradients of `affine` followed by the
// activation as a node of its own, PyTorch's edge cases included. With z the pre-activation
// and g_z = d act/dz·g (relu: a select on y ≤ 0; tanh: g·(1 − y²); sigmoid: g·y·(1 − y)),
// d/dw = g_z·x, d/db = g_z, d/dx = g_z·w: products, so g_z = 0 with an infinite operand is NaN.

/// `tape.neuron(wb, x, act)` at leaves `wb` (the weights, then the bias) and `x`: checks its
/// value and the gradient of every weight, the bias and every input; then the same for
/// `tape.affine(wb, x)` followed by `act` as its own node (the composite the neuron documents
/// it equals bit for bit).
#[track_caller]
fn neuron(wb: &[f64], x: &[f64], act: Activation, value: f64, d_wb: &[f64], d_x: &[f64]) {
    for fused in [true, false] {
        let tape = Tape::new();
        let (wr, xr) = (tape.run(wb), tape.run(x));
        let y = if fused {
            tape.neuron(wr, xr, act)
        } else {
            activate(tape.affine(wr, xr), act)
        };
        let at = format!(
            "{} {act:?} at wb = {wb:?}, x = {x:?}",
            if fused { "neuron" } else { "affine + act" }
        );
        if fused {
            assert_eq!(tape.len(), wb.len() + x.len() + 1, "{at}: one node");
        }
        assert_same(y.value(), value, &format!("{at}: value"));
        let g = y.backward();
        assert_all_same(&g.wrt_run(wr), d_wb, &format!("{at}: d/dwb"));
        assert_all_same(&g.wrt_run(xr), d_x, &format!("{at}: d/dx"));
    }
}

#[test]
fn neuron_plain() {
    // w = [2, −1], b = 0.5, x = [3, 4]: z = 6 − 4 + 0.5 = 2.5.
    // relu: 2.5, slope 1: d/dwb = [3, 4, 1], d/dx = [2, −1].
    neuron(
        &[2.0, -1.0, 0.5],
        &[3.0, 4.0],
        Relu,
        2.5,
        &[3.0, 4.0, 1.0],
        &[2.0, -1.0],
    );
    // tanh at z = 0 (0.5·2 − 1·1 + 0): y = 0, slope 1 − 0² = 1.
    neuron(
        &[0.5, -1.0, 0.0],
        &[2.0, 1.0],
        Tanh,
        0.0,
        &[2.0, 1.0, 1.0],
        &[0.5, -1.0],
    );
    // sigmoid at z = 0: y = 1/2, slope (1 − 1/2)·1/2 = 1/4; all the products are exact.
    neuron(
        &[0.5, -1.0, 0.0],
        &[2.0, 1.0],
        Sigmoid,
        0.5,
        &[0.5, 0.25, 0.25],
        &[0.125, -0.25],
    );
    // tanh at z = 1 (w = 1, b = 0, x = 1): t = tanh 1, slope s = 1 − t², d/dwb = [s·1, s].
    let t = f(1.0).tanh();
    let s = 1.0 - t * t;
    neuron(&[1.0, 0.0], &[1.0], Tanh, t, &[s, s], &[s]);
    // No inputs: act(b). relu(3) = 3, d/db = 1.
    neuron(&[3.0], &[], Relu, 3.0, &[1.0], &[]);
}

#[test]
fn neuron_relu_at_the_kink() {
    // z = 2·1 + (−1)·2 + 0 = +0 exactly: relu(0) = +0 and relu'(0) = 0, so every gradient is
    // +0 (the select, not a product: no −0 from the negative weight).
    neuron(
        &[2.0, -1.0, 0.0],
        &[1.0, 2.0],
        Relu,
        0.0,
        &[0.0, 0.0, 0.0],
        &[0.0, 0.0],
    );
    // The bias cancels the dot: 1.5·2 − 3 = +0.
    neuron(&[1.5, -3.0], &[2.0], Relu, 0.0, &[0.0, 0.0], &[0.0]);
    // A −0 pre-activation cannot happen: the dot product adds its products to +0, so it is +0
    // when they are all zero (`dot_value`: "an exactly zero result is +0"), and +0 + (−0) = +0.
    // So a −0 bias, alone or after a −0 product, gives relu(+0) = +0 (where a relu of a −0
    // leaf keeps −0, see `relu`), still with slope 0; affine + relu agrees.
    neuron(&[-0.0], &[], Relu, 0.0, &[0.0], &[]);
    neuron(&[1.0, -0.0], &[-0.0], Relu, 0.0, &[0.0, 0.0], &[0.0]);
    // Just either side of the kink, at the smallest subnormal: z = ±5e-324·1 + 0.
    // Above, relu passes the value and the gradient: d/dwb = [x, 1] = [1, 1], d/dx = w.
    neuron(&[5e-324, 0.0], &[1.0], Relu, 5e-324, &[1.0, 1.0], &[5e-324]);
    // Below, relu(−5e-324) = +0 and nothing passes.
    neuron(&[-5e-324, 0.0], &[1.0], Relu, 0.0, &[0.0, 0.0], &[0.0]);
}

#[test]
fn neuron_dead_relu_with_an_infinite_weight_is_nan() {
    // w = [inf, 1], b = 0.5, x = [−1, 2]: z = −inf + 2 + 0.5 = −inf, relu = +0, g_z = 0.
    // d/dw = 0·x = [0·(−1), 0·2] = [(−)0, 0], accumulated from +0: [0, 0]; d/db = 0;
    // d/dx = 0·w = [0·inf, 0·1] = [NaN, 0]. PyTorch's affine backward multiplies, so the
    // input behind the infinite weight gets NaN even though the relu is off.
    neuron(
        &[INF, 1.0, 0.5],
        &[-1.0, 2.0],
        Relu,
        0.0,
        &[0.0, 0.0, 0.0],
        &[NAN, 0.0],
    );
    // −inf weight on a positive input: z = −inf, d/dx = 0·(−inf) = NaN.
    neuron(&[NEG_INF, 0.0], &[3.0], Relu, 0.0, &[0.0, 0.0], &[NAN]);
    // The infinity on the input side: w = −2, x = inf, z = −inf: d/dw = 0·inf = NaN,
    // d/dx = 0·(−2) = 0.
    neuron(&[-2.0, 1.0], &[INF], Relu, 0.0, &[NAN, 0.0], &[0.0]);
}

#[test]
fn neuron_propagates_nan_and_infinity() {
    // w = [NaN, 1], b = 0, x = [1, 2]: z = NaN. relu(NaN) = NaN and NaN ≤ 0 is false, so the
    // gradient passes (g_z = 1): d/dwb = [1, 2, 1], d/dx = [NaN, 1].
    let (wb, x) = ([NAN, 1.0, 0.0], [1.0, 2.0]);
    neuron(&wb, &x, Relu, NAN, &[1.0, 2.0, 1.0], &[NAN, 1.0]);
    // tanh(NaN) and sigmoid(NaN) are NaN with g_z = NaN: every gradient is NaN.
    for act in [Tanh, Sigmoid] {
        neuron(&wb, &x, act, NAN, &[NAN; 3], &[NAN; 2]);
    }
    // z = inf: relu(inf) = inf with slope 1: d/dwb = x and 1, d/dx = w = [inf, 1].
    let wb = [INF, 1.0, 0.0];
    neuron(&wb, &[1.0, 2.0], Relu, INF, &[1.0, 2.0, 1.0], &[INF, 1.0]);
    // inf·0 inside the dot: z = NaN, and the gradients of the dot row of §3, through relu's
    // pass-through: d/dwb = [0, 1, 1], d/dx = [inf, 1].
    neuron(&wb, &[0.0, 1.0], Relu, NAN, &[0.0, 1.0, 1.0], &[INF, 1.0]);
    // A −inf bias: relu(−inf) = 0, nothing passes, and no operand is infinite but the bias,
    // whose gradient is g_z = 0.
    neuron(&[2.0, NEG_INF], &[3.0], Relu, 0.0, &[0.0, 0.0], &[0.0]);
}

#[test]
fn neuron_tanh_saturates() {
    // z = ±25: tanh rounds to ±1 exactly (1 − tanh 25 ≈ 4e-22 < ε/2), and 1 − y² = +0, so
    // every gradient is 0 (finite operands: 0·finite, accumulated from +0).
    neuron(&[10.0, 5.0], &[2.0], Tanh, 1.0, &[0.0, 0.0], &[0.0]);
    neuron(&[-10.0, -5.0], &[2.0], Tanh, -1.0, &[0.0, 0.0], &[0.0]);
    // A pre-activation that overflows to ±inf from finite operands (f64::MAX·2): tanh = ±1,
    // gradients 0. Only the neuron's own value is on its tape, and it is finite.
    neuron(&[f64::MAX, 0.0], &[2.0], Tanh, 1.0, &[0.0, 0.0], &[0.0]);
    neuron(&[f64::MAX, 0.0], &[-2.0], Tanh, -1.0, &[0.0, 0.0], &[0.0]);
    // An infinite input: z = −inf, y = −1, g_z = 0: d/dw = 0·(−inf) = NaN, d/db = 0,
    // d/dx = 0·1 = 0.
    neuron(&[1.0, 0.0], &[NEG_INF], Tanh, -1.0, &[NAN, 0.0], &[0.0]);
}

#[test]
fn neuron_sigmoid_for_very_negative_z() {
    // z = −1000, −710 and −inf (f64::MAX·(−2) overflows): e^{−z} = inf, y = 1/(1 + inf) = +0,
    // g_z = (1 − 0)·0 = 0: value 0 and gradients 0, never NaN (the composite 1/(1 + e^{−z})
    // would give NaN at −710; see `sigmoid_composite_would_be_nan`).
    neuron(&[-100.0, 0.0], &[10.0], Sigmoid, 0.0, &[0.0, 0.0], &[0.0]);
    neuron(&[-71.0, 0.0], &[10.0], Sigmoid, 0.0, &[0.0, 0.0], &[0.0]);
    neuron(&[f64::MAX, 0.0], &[-2.0], Sigmoid, 0.0, &[0.0, 0.0], &[0.0]);
    // z = −40: y = 1/(1 + e⁴⁰) ≈ 4.2e-18 is not saturated, but 1 − y rounds to 1, so
    // g_z = 1·1·y = y exactly: d/dwb = [10y, y], d/dx = [−4y].
    let y = 1.0 / (1.0 + f(40.0).exp());
    assert!(y > 0.0 && 1.0 - y == 1.0);
    neuron(
        &[-4.0, 0.0],
        &[10.0],
        Sigmoid,
        y,
        &[10.0 * y, y],
        &[-4.0 * y],
    );
    // The other side: z = 1000, y = 1, g_z = (1 − 1)·1 = 0.
    neuron(&[100.0, 0.0], &[10.0], Sigmoid, 1.0, &[0.0, 0.0], &[0.0]);
}

#[test]
fn neuron_upstream_gradient_zero_or_infinite() {
    // y = h·t with h a neuron and t = inf (a leaf): dy/dh = t = inf, dy/dt = h.
    // Dead relu (z = 1 + 2 − 5 = −2, h = 0): relu selects 0, so every operand gets +0
    // even under an infinite upstream gradient; y = 0·inf = NaN, dy/dt = 0.
    // Saturated tanh (z = 1 + 2 + 25 = 28, h = 1): g_z = inf·(1 − 1) = inf·0 = NaN, so every
    // operand gets NaN; y = inf, dy/dt = 1.
    // Saturated sigmoid (z = 1 + 2 − 1000 = −997, h = 0): g_z = inf·(1 − 0)·0 = NaN, so
    // every operand gets NaN; y = 0·inf = NaN, dy/dt = 0.
    let cases = [
        (Relu, -5.0, 0.0, NAN, 0.0),
        (Tanh, 25.0, 1.0, INF, NAN),
        (Sigmoid, -1000.0, 0.0, NAN, NAN),
    ];
    for (act, b, h_value, y_value, operand) in cases {
        for fused in [true, false] {
            let tape = Tape::new();
            let wb = tape.run(&[1.0, 1.0, b]);
            let x = tape.run(&[1.0, 2.0]);
            let t = tape.var(INF);
            let h = if fused {
                tape.neuron(wb, x, act)
            } else {
                activate(tape.affine(wb, x), act)
            };
            let y = h * t;
            let what = format!("{act:?}, fused: {fused}");
            assert_same(h.value(), h_value, &what);
            assert_same(y.value(), y_value, &what);
            let g = y.backward();
            assert_same(g[h], INF, &format!("{what}: dy/dh"));
            assert_same(g[t], h_value, &format!("{what}: dy/dt"));
            assert_all_same(&g.wrt_run(wb), &[operand; 3], &format!("{what}: d/dwb"));
            assert_all_same(&g.wrt_run(x), &[operand; 2], &format!("{what}: d/dx"));
        }
    }
    // A zero upstream gradient (y = h·0) on a live relu whose input is infinite: g_z = 0 and
    // d/dw = 0·inf = NaN, as for the product row of §3; d/dx = 0·w = 0, d/db = 0.
    for fused in [true, false] {
        let tape = Tape::new();
        let wb = tape.run(&[1.0, 0.0]);
        let x = tape.run(&[INF]);
        let h = if fused {
            tape.neuron(wb, x, Relu)
        } else {
            activate(tape.affine(wb, x), Relu)
        };
        let g = (h * 0.0).backward();
        assert_all_same(&g.wrt_run(wb), &[NAN, 0.0], &format!("fused: {fused}"));
        assert_all_same(&g.wrt_run(x), &[0.0], &format!("fused: {fused}"));
    }
}

// ---------------------------------------------------------------------------------------------
// Reachability: 0·inf on a path the root depends on is NaN (as PyTorch computes it); a node the
// root does not depend on contributes nothing, however infinite its derivative.

#[test]
fn zero_times_infinite_derivative_on_a_reachable_path_is_nan() {
    // z = 0, s = √z (ds/dz = +inf), r = relu(x) at x = −1 (r = 0), y = r·s = 0.
    // dy/ds = r = 0, so dy/dz = 0·inf = NaN; dy/dr = s = 0, dy/dx = 0 (relu selects).
    let tape = Tape::new();
    let x = tape.var(-1.0);
    let z = tape.var(0.0);
    let s = z.sqrt();
    let r = x.relu();
    let y = r * s;
    assert_same(y.value(), 0.0, "value");
    let g = y.backward();
    assert_same(g[s], 0.0, "dy/ds");
    assert_same(g[z], NAN, "dy/dz");
    assert_same(g[r], 0.0, "dy/dr");
    assert_same(g[x], 0.0, "dy/dx");

    // relu(√z) at z = 0: relu'(0) = 0, then √'s backward 0/(2·0) = NaN.
    let y = z.sqrt().relu();
    assert_same(y.backward()[z], NAN, "d relu(√z)/dz");
}

#[test]
fn zero_upstream_times_a_non_finite_value_is_nan() {
    // y = (v·w)·0 with v = ±inf or NaN and w = 2: dy/d(vw) = 0, so dy/dw = 0·v = NaN and
    // dy/dv = 0·w = 0. PyTorch multiplies, it never skips a zero gradient; here for every way a
    // non-finite value can get onto a tape.
    #[track_caller]
    fn check(v: Var, what: &str) {
        assert!(!v.value().is_finite(), "{what}: {}", v.value());
        let w = v.tape().var(2.0);
        let y = (v * w) * 0.0;
        let g = y.backward();
        assert_same(g[w], NAN, what);
        assert_same(g[v], 0.0, what);
        // The same with the zero from a relu that is off: relu(−|vw|) = relu(−inf) = 0 selects
        // 0 (for NaN it passes 1, and NaN·… is NaN anyway).
        let y = (-(v * w).abs()).relu();
        assert!(y.backward()[w].is_nan(), "{what}, relu");
    }
    let tape = Tape::new();
    check(tape.var(INF), "leaf inf");
    check(tape.var(NAN), "leaf NaN");
    check(tape.vars(&[1.0, NEG_INF])[1], "vars");
    let mut more = Vec::new();
    tape.extend_vars(&mut more, &[NAN]);
    check(more[0], "extend_vars");
    let big = tape.var(1e200);
    check(big * big, "product overflow");
    check(big * 1e200, "product with a constant overflow");
    check(1e200 / tape.var(1e-200), "quotient overflow");
    check(tape.var(1.0) / tape.var(0.0), "division by zero");
    check(tape.var(710.0).exp(), "exp overflow");
    check(big.powf(2.0), "powf overflow");
    check(big.powi(2), "powi overflow");
    check(tape.var(0.0).ln(), "ln 0");
    check(tape.var(-1.0).sqrt(), "sqrt of a negative");
    check(tape.sum(tape.vars(&[1e308, 1e308])), "sum overflow");
    check(
        tape.sum([big, big].iter().map(|&b| b * 1e108)),
        "sum overflow, list",
    );
    let bigs = tape.vars(&[1e200, 1e200]);
    check(tape.dot(&bigs, &bigs), "dot overflow");
    check(tape.dot(&[big], &[big]), "dot overflow, list");
}

#[test]
fn zero_upstream_times_an_infinite_local_derivative_is_nan() {
    // n = f(x) with a finite value but an infinite dn/dx; y = n·0 (or a relu that is off):
    // dy/dn = 0 and dy/dx = 0·inf = NaN, as PyTorch computes it.
    #[track_caller]
    fn check<'t>(x: Var<'t>, f: impl Fn(Var<'t>) -> Var<'t>, what: &str) {
        let n = f(x);
        assert!(n.value().is_finite(), "{what}: {}", n.value());
        let y = n * 0.0;
        assert_same(y.backward()[x], NAN, what);
        let y = (-n.abs()).relu();
        assert_same(y.backward()[x], NAN, &format!("{what}, relu"));
    }
    let tape = Tape::new();
    // 1/1e-200 = 1e200, but d(a/b)/db = −(1e200/1e-200) = −inf.
    check(tape.var(1e-200), |b| tape.var(1.0) / b, "a / b");
    check(tape.var(1e-200), |x| 1.0 / x, "c / x");
    check(tape.var(1e-200), |x| x.recip(), "recip");
    check(tape.var(1e-200), |x| x.powi(-1), "powi(-1)");
    check(tape.var(1e-200), |x| x.powf(-1.0), "powf(-1)");
    // But x/c with a subnormal c (1/c = inf) is computed as g/c, so 0 upstream stays 0.
    let x = tape.var(1e-300);
    let y = (x / 1e-310) * 0.0;
    assert_same(y.backward()[x], 0.0, "x / c");
    // √0 = 0 and 0^0.5 = 0, both with an infinite slope.
    check(tape.var(0.0), |x| x.sqrt(), "sqrt");
    check(tape.var(0.0), |x| x.powf(0.5), "powf(0.5)");
}

#[test]
fn an_unreachable_infinite_derivative_does_not_pollute() {
    // z = 0 is used by y = 2z + x and by s = √z, ln z, z/z that y never uses. dy/dz = 2
    // exactly: the unused nodes (derivative inf, value −inf, value NaN) contribute nothing.
    let tape = Tape::new();
    let x = tape.var(3.0);
    let z = tape.var(0.0);
    let s = z.sqrt();
    let l = z.ln();
    let q = z / z;
    let y = z * 2.0 + x;
    let g = y.backward();
    assert_same(g[z], 2.0, "dy/dz");
    assert_same(g[x], 1.0, "dy/dx");
    for (v, name) in [(s, "sqrt"), (l, "ln"), (q, "z/z")] {
        assert_same(g[v], 0.0, name);
    }
    // A NaN leaf recorded in between changes nothing either.
    let n = tape.var(NAN);
    let y2 = z * 2.0 + x;
    let g = y2.backward();
    assert_same(g[z], 2.0, "dy2/dz");
    assert_same(g[n], 0.0, "NaN leaf");
}

#[test]
fn values_match_f64_bit_for_bit() {
    // Every op's value is the f64 operation's, bit for bit (NaN payloads aside).
    const XS: [f64; 22] = [
        0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.5, 3.0, PI, 1e-310, -5e-324, 1e308, -1e308,
        709.78, 710.0, -746.0, 1000.0, -1000.0, INF, NEG_INF, NAN,
    ];
    let tape = Tape::new();
    for &x in &XS {
        let v = tape.var(x);
        let x = f(x);
        let unaries: [(&str, Var, f64); 13] = [
            ("neg", -v, -x),
            ("exp", v.exp(), x.exp()),
            ("ln", v.ln(), x.ln()),
            ("tanh", v.tanh(), x.tanh()),
            ("sigmoid", v.sigmoid(), 1.0 / (1.0 + (-x).exp())),
            ("relu", v.relu(), if x < 0.0 { 0.0 } else { x }),
            ("sqrt", v.sqrt(), x.sqrt()),
            ("abs", v.abs(), x.abs()),
            ("recip", v.recip(), 1.0 / x),
            ("sin", v.sin(), x.sin()),
            ("cos", v.cos(), x.cos()),
            ("powf 3", v.powf(3.0), x.powf(3.0)),
            ("powi 3", v.powi(3), x.powi(3)),
        ];
        for (name, y, want) in unaries {
            assert_same(y.value(), want, &format!("{name}({x:?})"));
        }
        for &c in &XS {
            let c = f(c);
            // ±½ are sqrt and 1/sqrt, as in PyTorch (they differ from pow at −0 and −inf).
            let pow = match c {
                0.5 => x.sqrt(),
                -0.5 => 1.0 / x.sqrt(),
                _ => x.powf(c),
            };
            assert_same(v.powf(c).value(), pow, &format!("{x:?}.powf({c:?})"));
            let w = tape.var(c);
            let binaries: [(&str, Var, f64); 12] = [
                ("v+v", v + w, x + c),
                ("v-v", v - w, x - c),
                ("v*v", v * w, x * c),
                ("v/v", v / w, x / c),
                ("v+c", v + c, x + c),
                ("v-c", v - c, x - c),
                ("v*c", v * c, x * c),
                ("v/c", v / c, x / c),
                ("c+v", c + v, c + x),
                ("c-v", c - v, c - x),
                ("c*v", c * v, c * x),
                ("c/v", c / v, c / x),
            ];
            for (name, y, want) in binaries {
                assert_same(y.value(), want, &format!("{name} at ({x:?}, {c:?})"));
            }
        }
        for n in [-3, -2, -1, 0, 1, 2, 7, 1000, -1000, i32::MAX] {
            let n = black_box(n);
            assert_same(v.powi(n).value(), x.powi(n), &format!("{x:?}.powi({n})"));
        }
    }
}

#[test]
fn sum_and_dot_values_match_f64() {
    // Σ: left to right from the first term, as plain f64 adds a list.
    // Σwx: `tapegrad::dot_value` bit for bit (its documented contract); that is the exact
    // left-to-right sum for up to 3 terms (any association of ≤ 3 terms that starts with the
    // first two is), and agrees with it within rounding beyond.
    let ws = [0.1, 0.2, 0.3, 1e-17, -0.6, 1e16, -1e16, 7.0, 0.7];
    let xs = [3.0, -1.0, 7.0, 1.0, 0.25, 1.0, 1.0, 1e-3, -3.0];
    let tape = Tape::new();
    let w = tape.vars(&ws);
    let x = tape.vars(&xs);
    let lists: Vec<Var> = ws.iter().map(|&v| tape.var(v)).collect();
    for n in 0..=ws.len() {
        let mut s = 0.0;
        let mut d = 0.0;
        let mut magnitude = 0.0;
        for k in 0..n {
            s = if k == 0 { ws[k] } else { s + ws[k] };
            d = if k == 0 {
                ws[k] * xs[k]
            } else {
                d + ws[k] * xs[k]
            };
            magnitude += (ws[k] * xs[k]).abs();
        }
        assert_same(tape.sum(&w[..n]).value(), s, &format!("range sum of {n}"));
        assert_same(
            tape.sum(&lists[..n]).value(),
            s,
            &format!("list sum of {n}"),
        );
        let dot = tape.dot(&w[..n], &x[..n]).value();
        let wr = tapegrad::Run::new(&w[..n]);
        let xr = tapegrad::Run::new(&x[..n]);
        if let (Some(wr), Some(xr)) = (wr, xr) {
            let dot_run = tape.dot_run(wr, xr).value();
            assert_same(dot_run, dot, &format!("dot_run of {n}"));
        }
        let dot_list = tape.dot(&lists[..n], &x[..n]).value();
        let value = tapegrad::dot_value(&ws[..n], &xs[..n]);
        assert_same(dot, value, &format!("dot of {n} vs dot_value"));
        assert_same(dot_list, value, &format!("list dot of {n} vs dot_value"));
        if n <= 3 {
            assert_same(dot, d, &format!("dot of {n}, left to right"));
        } else {
            let bound = 2.0 * n as f64 * f64::EPSILON * magnitude;
            assert!((dot - d).abs() <= bound, "dot of {n}: {dot:e} vs {d:e}");
        }
    }
    // −0 + +0 = +0.
    let z = tape.vars(&[-0.0, 0.0]);
    assert!(same(tape.sum(&z).value(), 0.0));
}
