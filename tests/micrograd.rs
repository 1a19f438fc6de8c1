//! Ports of micrograd's README example and `test/test_engine.py`.
//!
//! micrograd checks its values and gradients against PyTorch (float64). Here the expected
//! numbers come from hand-written closed forms evaluated in plain f64, compared to 1e-12
//! relative, plus the numbers micrograd's README prints and the exact small integers PyTorch
//! gives for `test_sanity_check`.

use tapegrad::{Tape, Var};

use crate::util::assert_close;

/// The README example / `test_more_ops`, with `b**3` and `e**2` written with `pow`.
#[allow(clippy::misrefactored_assign_op)] // `c += c + 1` is micrograd's, on purpose
fn more_ops<'t>(
    tape: &'t Tape,
    pow: impl Fn(Var<'t>, i32) -> Var<'t>,
) -> (Var<'t>, Var<'t>, Var<'t>) {
    let a = tape.var(-4.0);
    let b = tape.var(2.0);
    let mut c = a + b;
    let mut d = a * b + pow(b, 3);
    c += c + 1.0;
    c += 1.0 + c + (-a);
    d += d * 2.0 + (b + a).relu();
    d += 3.0 * d + (b - a).relu();
    let e = c - d;
    let f = pow(e, 2);
    let mut g = f / 2.0;
    g += 10.0 / f;
    (a, b, g)
}

/// The same function in closed form. Near (a, b) = (−4, 2), relu(a + b) = 0 (a + b = −2) and
/// relu(b − a) = b − a (b − a = 6), so
///   c = 2(a + b) + 1, then 2c + 1 − a        = 3a + 4b + 3
///   d = ab + b³, then 3d, then 4·3d + (b − a) = 12(ab + b³) + b − a
///   e = c − d,  g = e²/2 + 10/e²
///   dg/de = e − 20/e³,  de/da = 3 − 12b + 1 = 4 − 12b,  de/db = 4 − 12a − 36b² − 1.
fn more_ops_closed_form(a: f64, b: f64) -> (f64, f64, f64) {
    let c = 3.0 * a + 4.0 * b + 3.0;
    let d = 12.0 * (a * b + b * b * b) + b - a;
    let e = c - d;
    let g = e * e / 2.0 + 10.0 / (e * e);
    let dg_de = e - 20.0 / (e * e * e);
    (
        g,
        dg_de * (4.0 - 12.0 * b),
        dg_de * (3.0 - 12.0 * a - 36.0 * b * b),
    )
}

#[test]
fn readme_example() {
    let tape = Tape::new();
    let (a, b, g) = more_ops(&tape, |x, n| x.powi(n));
    let grads = g.backward();
    // What micrograd's README prints.
    assert_eq!(format!("{:.4}", g.value()), "24.7041");
    assert_eq!(format!("{:.4}", grads[a]), "138.8338");
    assert_eq!(format!("{:.4}", grads[b]), "645.5773");
    // And to rounding, against the closed form.
    let (value, da, db) = more_ops_closed_form(-4.0, 2.0);
    assert_close(g.value(), value, 1e-12, "g");
    assert_close(grads[a], da, 1e-12, "dg/da");
    assert_close(grads[b], db, 1e-12, "dg/db");
}

#[test]
fn more_ops_with_powf() {
    // `**` with a float exponent, as micrograd's `__pow__` accepts.
    let tape = Tape::new();
    let (a, b, g) = more_ops(&tape, |x, n| x.powf(f64::from(n)));
    let grads = g.backward();
    let (value, da, db) = more_ops_closed_form(-4.0, 2.0);
    assert_close(g.value(), value, 1e-12, "g");
    assert_close(grads[a], da, 1e-12, "dg/da");
    assert_close(grads[b], db, 1e-12, "dg/db");
    // micrograd's tolerance against PyTorch.
    assert!((g.value() - 24.704_081_632_653_06).abs() < 1e-6);
    assert!((grads[a] - 138.833_819_241_982_5).abs() < 1e-6);
    assert!((grads[b] - 645.577_259_475_218_7).abs() < 1e-6);
}

#[test]
fn more_ops_records_what_micrograd_records() {
    // Every `+ 1`, `* 2`, `3 *`, `/ 2.0` and `10.0 /` keeps its constant in the node: the
    // graph has 2 leaves and 25 operation nodes (c: 1 + 2 + 4, d: 3 + 5 + 5, then e, f, g,
    // 10/f and the last +=).
    let tape = Tape::new();
    let _ = more_ops(&tape, |x, n| x.powi(n));
    assert_eq!(tape.len(), 27);
}

#[test]
fn sanity_check() {
    // test_sanity_check: x = −4, z = 2x + 2 + x = −10, q = relu(z) + zx = 40,
    // h = relu(z²) = 100, y = h + q + qx = −20. With z = 3x + 2 (dz/dx = 3) and relu(z) = 0:
    // dy/dx = 2z·3 + (3x + z)(1 + x) + q = −60 + 66 + 40 = 46. PyTorch gives −20 and 46.
    let tape = Tape::new();
    let x = tape.var(-4.0);
    let z = 2.0 * x + 2.0 + x;
    let q = z.relu() + z * x;
    let h = (z * z).relu();
    let y = h + q + q * x;
    assert_eq!(y.value(), -20.0);
    assert_eq!(y.backward()[x], 46.0);

    // The closed form at other points where z < 0 (x < −2/3), in plain f64.
    for x0 in [-4.0, -1.5, -7.25, -100.0] {
        let tape = Tape::new();
        let x = tape.var(x0);
        let z = 2.0 * x + 2.0 + x;
        let q = z.relu() + z * x;
        let h = (z * z).relu();
        let y = h + q + q * x;
        let zf = 3.0 * x0 + 2.0;
        let qf = zf * x0;
        let want_y = zf * zf + qf + qf * x0;
        let want_dy = 6.0 * zf + (3.0 * x0 + zf) * (1.0 + x0) + qf;
        assert_close(y.value(), want_y, 1e-12, "y");
        assert_close(y.backward()[x], want_dy, 1e-12, "dy/dx");
    }
}

#[test]
fn unary_tensor_fns() {
    // test_unary_tensor_fns: tanh and exp at −1, 0.123, 2, against d tanh = 1 − tanh²,
    // d exp = exp.
    for x0 in [-1.0, 0.123, 2.0] {
        let tape = Tape::new();
        let x = tape.var(x0);
        let t = x.tanh();
        let tf = f64::tanh(x0);
        assert_close(t.value(), tf, 1e-12, "tanh");
        assert_close(t.backward()[x], 1.0 - tf * tf, 1e-12, "tanh'");
        let e = x.exp();
        assert_close(e.value(), f64::exp(x0), 1e-12, "exp");
        assert_close(e.backward()[x], f64::exp(x0), 1e-12, "exp'");
    }
}

#[test]
fn neuron_like_micrograds_trace_graph() {
    // micrograd's trace_graph example: a 2-input ReLU neuron, y = relu(w·x + b), here with
    // fixed weights. For w·x + b > 0: dy/dw = x, dy/dx = w, dy/db = 1.
    let tape = Tape::new();
    let x = tape.vars(&[1.0, -2.0]);
    let w = tape.vars(&[0.5, -0.25]);
    let b = tape.var(0.1);
    let y = (tape.dot(&w, &x) + b).relu();
    assert_close(y.value(), 0.5 + 0.5 + 0.1, 1e-15, "y");
    let g = y.backward();
    assert_eq!(g.wrt_all(&w), vec![1.0, -2.0]);
    assert_eq!(g.wrt_all(&x), vec![0.5, -0.25]);
    assert_eq!(g[b], 1.0);
    // The same neuron node by node, as micrograd builds it.
    let y2 = (w[0] * x[0] + w[1] * x[1] + b).relu();
    assert_eq!(y2.value(), y.value());
    assert_eq!(y2.backward().wrt_all(&w), vec![1.0, -2.0]);
}
