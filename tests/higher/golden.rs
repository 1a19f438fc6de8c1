//! Second derivatives at kinks, poles and saturations, pinned exactly: PyTorch's double
//! backward in float64. Each number is computed twice, as grad of grad and as `hessian` (grad
//! then `backward`), and both must give it.

use tapegrad::{Tape, Var};

use crate::util::{assert_close, assert_same};

/// d²f/dx² at x: grad of grad, and `hessian` (the same bits, +0 and −0 apart).
#[track_caller]
fn second(x: f64, f: impl for<'t> Fn(Var<'t>) -> Var<'t>) -> f64 {
    let tape = Tape::new();
    let v = tape.var(x);
    let d2 = f(v).grad(&[v])[0].grad(&[v])[0].value();
    let h = tapegrad::hessian(|_, v| f(v[0]), &[x])[0][0];
    // The recorded second derivative and the forward-over-reverse one sum the same products
    // in different orders: equal to rounding, and alike in zeros, NaN and infinities.
    let close = d2.is_finite() && h.is_finite() && (d2 - h).abs() <= 4e-16 * d2.abs().max(h.abs());
    assert!(
        (d2 == 0.0 && h == 0.0) || crate::util::same(d2, h) || close,
        "at x = {x:?}: grad of grad {d2:?}, hessian {h:?}"
    );
    d2
}

/// Asserts that f'' is exactly `want` (any zero for a zero) at every x.
#[track_caller]
fn pin(xs: &[f64], want: impl Fn(f64) -> f64, f: impl for<'t> Fn(Var<'t>) -> Var<'t> + Copy) {
    for &x in xs {
        let got = second(x, f);
        let want = want(x);
        if want == 0.0 {
            assert!(got == 0.0, "at x = {x:?}: got {got:?}, want 0");
        } else {
            assert_same(got, want, &format!("at x = {x:?}"));
        }
    }
}

const KINKS_AND_MORE: [f64; 9] = [-3.0, -1.0, -5e-324, -0.0, 0.0, 5e-324, 1e-300, 2.0, 1e300];

#[test]
fn relu_second_derivative_is_zero_everywhere_kink_included() {
    pin(&KINKS_AND_MORE, |_| 0.0, |x| x.relu());
    // Its recorded first derivative g·mask is linear in g with the mask as a constant: the
    // Hessian of w·relu(x) has the mask (0 at the kink) off the diagonal.
    for (x, mask) in [(-1.0, 0.0), (0.0, 0.0), (-0.0, 0.0), (2.0, 1.0)] {
        let h = tapegrad::hessian(|_, v| v[1] * v[0].relu(), &[x, 3.0]);
        assert!(h[0][0] == 0.0 && h[1][1] == 0.0, "at x = {x}: {h:?}");
        assert_eq!((h[0][1], h[1][0]), (mask, mask), "at x = {x}");
    }
}

#[test]
fn abs_second_derivative_is_zero_everywhere_kink_included() {
    pin(&KINKS_AND_MORE, |_| 0.0, |x| x.abs());
    for (x, sgn) in [(-1.0, -1.0), (0.0, 0.0), (-0.0, 0.0), (2.0, 1.0)] {
        let h = tapegrad::hessian(|_, v| v[1] * v[0].abs(), &[x, 3.0]);
        assert!(h[0][1] == sgn && h[1][0] == sgn, "at x = {x}: {h:?}");
    }
}

/// powf and powi differentiate e·x^(e−1) by their own rule, which masks the exponent 0.
#[test]
fn powers_at_zero_follow_the_masked_rule() {
    let xs = [-2.0, -0.0, 0.0, 0.5, 3.0];
    // x²: 2 everywhere, 0 included.
    pin(&xs, |_| 2.0, |x| x.powf(2.0));
    pin(&xs, |_| 2.0, |x| x.powi(2));
    // x³: 6x, so 0 at 0.
    pin(&xs, |x| 6.0 * x, |x| x.powf(3.0));
    pin(&xs, |x| 6.0 * x, |x| x.powi(3));
    // x¹ and x⁰: 0 everywhere (1·x⁰'s derivative is masked; x⁰'s gradient is the constant 0).
    pin(&xs, |_| 0.0, |x| x.powf(1.0));
    pin(&xs, |_| 0.0, |x| x.powi(1));
    pin(&xs, |_| 0.0, |x| x.powf(0.0));
    pin(&xs, |_| 0.0, |x| x.powi(0));
    // The third derivative of x³ is 6 at 0 too: the rule applies at every order.
    let tape = Tape::new();
    let x = tape.var(0.0);
    let d1 = x.powi(3).grad(&[x])[0];
    let d3 = d1.grad(&[x])[0].grad(&[x])[0];
    assert_eq!(d3.value(), 6.0);
}

/// At a pole the second derivative is what IEEE arithmetic gives: ±inf with the sign of the
/// math, never NaN.
#[test]
fn poles_give_infinities() {
    // ln'' = −1/x².
    pin(&[0.0, -0.0], |_| f64::NEG_INFINITY, |x| x.ln());
    // recip'' = 2/x³.
    pin(&[0.0], |_| f64::INFINITY, |x| x.recip());
    pin(&[-0.0], |_| f64::NEG_INFINITY, |x| x.recip());
    // c/x is the same function: d²(c/b)/db² = 2c/b³.
    pin(&[0.0], |_| f64::INFINITY, |x| 1.0 / x);
    // sqrt'' = −1/(4x^{3/2}).
    pin(&[0.0], |_| f64::NEG_INFINITY, |x| x.sqrt());
    // x^0.5 by powf: the same pole.
    pin(&[0.0], |_| f64::NEG_INFINITY, |x| x.powf(0.5));
    // x^−1 by powf: 2/x³.
    pin(&[0.0], |_| f64::INFINITY, |x| x.powf(-1.0));
}

#[test]
fn tanh_and_sigmoid_second_derivatives_saturate_without_nan() {
    let tanh2 = |x: f64| {
        let y = x.tanh();
        -2.0 * y * (1.0 - y * y)
    };
    let sigmoid2 = |x: f64| {
        let y = 1.0 / (1.0 + (-x).exp());
        y * (1.0 - y) * (1.0 - 2.0 * y)
    };
    for x in [-0.7, 0.3, 2.5, -6.0] {
        assert_close(
            second(x, |v| v.tanh()),
            tanh2(x),
            1e-14,
            &format!("tanh'' at {x}"),
        );
        assert_close(
            second(x, |v| v.sigmoid()),
            sigmoid2(x),
            1e-14,
            &format!("sigmoid'' at {x}"),
        );
    }
    // Saturated: y = ±1 (tanh), 0 or 1 (sigmoid), so the second derivative is a zero.
    let far = [1000.0, 1e300, f64::INFINITY];
    for x in far
        .iter()
        .flat_map(|&x| [x, -x])
        .chain([20.0, -20.0, 40.0, -40.0])
    {
        assert!(second(x, |v| v.tanh()) == 0.0, "tanh'' at {x}");
    }
    for x in far.iter().flat_map(|&x| [x, -x]).chain([40.0]) {
        assert!(second(x, |v| v.sigmoid()) == 0.0, "sigmoid'' at {x}");
    }
    // sigmoid(−40) ≈ 4e-18 is not saturated: its second derivative is tiny and positive.
    assert_close(
        second(-40.0, |v| v.sigmoid()),
        sigmoid2(-40.0),
        1e-14,
        "sigmoid'' at −40",
    );
}

#[test]
fn division_second_derivatives() {
    // a/b: ∂²/∂a² = 0, ∂²/∂a∂b = −1/b², ∂²/∂b² = 2a/b³; exact at (3, 2).
    let h = tapegrad::hessian(|_, v| v[0] / v[1], &[3.0, 2.0]);
    assert!(h[0][0] == 0.0, "{h:?}");
    assert_eq!((h[0][1], h[1][0], h[1][1]), (-0.25, -0.25, 0.75));
    for (a, b) in [(1.7, -0.3), (-4.0, 9.5), (1e-3, 1e3)] {
        let h = tapegrad::hessian(|_, v| v[0] / v[1], &[a, b]);
        assert_close(
            h[1][1],
            2.0 * a / (b * b * b),
            1e-15,
            &format!("d²(a/b)/db² at ({a}, {b})"),
        );
        assert_close(
            h[0][1],
            -1.0 / (b * b),
            1e-15,
            &format!("d²(a/b)/dadb at ({a}, {b})"),
        );
        // With a constant numerator, the same.
        let c = second(b, |v| a / v);
        assert_close(
            c,
            2.0 * a / (b * b * b),
            1e-15,
            &format!("d²(c/b)/db² at ({a}, {b})"),
        );
    }
}

/// Closed forms of the smooth ops' second derivatives, to rounding.
#[test]
fn smooth_second_derivatives_match_closed_forms() {
    type Case = (&'static str, fn(Var) -> Var, fn(f64) -> f64);
    let cases: [Case; 8] = [
        ("exp", |v| v.exp(), f64::exp),
        ("ln", |v| v.ln(), |x| -1.0 / (x * x)),
        ("sqrt", |v| v.sqrt(), |x| -0.25 / x.powf(1.5)),
        ("recip", |v| v.recip(), |x| 2.0 / (x * x * x)),
        ("sin", |v| v.sin(), |x| -x.sin()),
        ("cos", |v| v.cos(), |x| -x.cos()),
        ("sinh", |v| v.sinh(), f64::sinh),
        ("cosh", |v| v.cosh(), f64::cosh),
    ];
    for (name, f, want) in cases {
        for x in [0.3, 1.0, 2.5, 17.0] {
            assert_close(second(x, f), want(x), 1e-14, &format!("{name}'' at {x}"));
        }
    }
}
