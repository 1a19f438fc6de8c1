//! Using recorded gradients: in a loss trained by `backward`, with respect to nodes the root
//! does not use, and misuse; and what `check::hessian` reports when a Hessian is wrong.

use tapegrad::{Tape, Var, check};

use crate::util::{assert_close, bitwise_eq};

/// A small model f(x) = a·tanh(b·x + c) + d·x with a loss that contains its input gradient:
/// (f(x₀) − 1)² + (f′(x₀) − 2)², the shape of a gradient penalty.
fn penalized_loss<'t>(tape: &'t Tape, p: &[Var<'t>]) -> Var<'t> {
    let x0 = tape.var(0.5);
    let f = p[0] * (p[1] * x0 + p[2]).tanh() + p[3] * x0;
    let df = f.grad(&[x0])[0];
    (f - 1.0).powi(2) + (df - 2.0).powi(2)
}

#[test]
fn a_loss_containing_a_gradient_trains_by_backward() {
    let mut params = vec![0.3, -0.8, 0.1, 0.2];
    // Its gradient through the recorded derivative is right (central differences).
    check::gradient(penalized_loss, &params).assert();
    check::hessian(penalized_loss, &params).assert();

    let mut tape = Tape::new();
    let mut losses = Vec::new();
    for _ in 0..30 {
        tape.clear();
        let p = tape.vars(&params);
        let loss = penalized_loss(&tape, &p);
        let g = loss.backward().wrt_all(&p);
        losses.push(loss.value());
        for (w, d) in params.iter_mut().zip(&g) {
            *w -= 0.05 * d;
        }
    }
    assert!(
        losses.windows(2).all(|w| w[1] < w[0]),
        "the loss should fall at every step: {losses:?}"
    );
    assert!(
        losses[29] < losses[0] / 10.0,
        "the loss should fall by 10x: {} → {}",
        losses[0],
        losses[29]
    );
}

#[test]
fn an_unused_wrt_gets_a_zero_node_with_zero_derivatives() {
    let tape = Tape::new();
    let x = tape.var(2.0);
    let unused = tape.var(5.0);
    let y = x * x;
    let later = tape.var(7.0); // recorded after the root
    let g = y.grad(&[x, unused, later]);
    assert_eq!(g[0].value(), 4.0);
    assert_eq!((g[1].value(), g[2].value()), (0.0, 0.0));
    for z in [g[1], g[2]] {
        // An ordinary node: grad and backward of it are zeros.
        let gg = z.grad(&[x, unused, later]);
        assert!(gg.iter().all(|v| v.value() == 0.0), "{gg:?}");
        let b = z.backward();
        assert_eq!((b[x], b[unused], b[later]), (0.0, 0.0, 0.0));
    }
    // And in an expression with the used one.
    let e = g[0] * g[1] + g[0];
    assert_eq!(e.backward()[x], 2.0);
}

#[test]
#[should_panic(expected = "another tape")]
fn grad_with_respect_to_a_var_of_another_tape_panics() {
    let (one, two) = (Tape::new(), Tape::new());
    let x = one.var(1.0);
    let stranger = two.var(1.0);
    let _ = (x * x).grad(&[x, stranger]);
}

#[test]
#[should_panic(expected = "a point of 2 and v of 3")]
fn hvp_with_a_direction_of_another_length_panics() {
    let _ = tapegrad::hvp(|_, v| v[0] * v[1], &[1.0, 2.0], &[1.0, 0.0, 0.0]);
}

#[test]
fn no_inputs() {
    let h = tapegrad::hessian(|t, _| t.var(3.0), &[]);
    assert!(h.is_empty());
    assert!(tapegrad::hvp(|t, _| t.var(3.0), &[], &[]).is_empty());
    let r = check::hessian(|t, _| t.var(3.0), &[]);
    assert!(r.passed());
    assert_eq!(r.value, 3.0);
    assert_eq!(r.to_string(), "no inputs");
}

/// At relu's kink the recorded Hessian is 0 (the mask is a constant) while the gradient jumps
/// across the step: the check must fail there, and name the entry.
#[test]
fn check_hessian_reports_the_worst_entry() {
    let r = check::hessian(|_, v| v[0] * v[0] + v[1].relu(), &[1.0, 0.0]);
    assert!(!r.passed());
    assert_eq!(r.worst, (1, 1));
    assert_eq!(r.analytic, vec![vec![2.0, 0.0], vec![0.0, 0.0]]);
    // (1 − 0) / 2h with h = 1e-6.
    assert_close(r.numeric[1][1], 5e5, 1e-9, "the jump over the step");
    assert!(r.worst_error > 0.99, "{r}");
    let text = r.to_string();
    assert!(
        text.starts_with("worst entry (1, 1): analytic 0e0"),
        "{text}"
    );
    let panic = std::panic::catch_unwind(|| r.assert()).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.starts_with("Hessian check failed: worst entry (1, 1)"),
        "{message}"
    );
}

#[test]
fn check_hessian_uses_the_config() {
    // f = x⁴ at 1: the central difference of 4x³ errs by 4h², so only a large step fails.
    fn f<'t>(_: &'t Tape, v: &[Var<'t>]) -> Var<'t> {
        v[0].powi(4)
    }
    let coarse = check::Config {
        relative_step: 1e-2,
        tolerance: 1e-5,
    };
    let r = check::hessian_with(coarse, f, &[1.0]);
    assert!(!r.passed(), "{r}");
    assert_close(r.numeric[0][0], 12.0 + 4e-4, 1e-9, "12 + 4h²");
    assert_eq!(r.tolerance, 1e-5);
    assert!(check::hessian(f, &[1.0]).passed());
}

/// The benchmark's MLP loss (337 parameters): `hvp` along a direction equals the Hessian's
/// product and the difference of `backward`'s gradients along it.
#[test]
fn hvp_of_an_mlp_loss() {
    use tapegrad_suite::{SIZES, moons, parameters, record_tanh_mse};
    let (xs, ys) = moons(16);
    let params = parameters(&SIZES, 1);
    let dir = parameters(&SIZES, 2);
    assert_eq!(params.len(), 337);
    let hv = tapegrad::hvp(|t, p| record_tanh_mse(t, p, &xs, &ys), &params, &dir);
    let gradient_at = |s: f64| {
        let at: Vec<f64> = params.iter().zip(&dir).map(|(p, d)| p + s * d).collect();
        let tape = Tape::new();
        let p = tape.vars(&at);
        record_tanh_mse(&tape, &p, &xs, &ys).backward().wrt_all(&p)
    };
    let h = 1e-6;
    let (plus, minus) = (gradient_at(h), gradient_at(-h));
    for (i, &a) in hv.iter().enumerate() {
        let n = (plus[i] - minus[i]) / (2.0 * h);
        assert!(
            (a - n).abs() <= 1e-5 * (1.0 + a.abs().max(n.abs())),
            "(Hv)[{i}]: hvp {a:e}, difference of gradients {n:e}"
        );
    }
    // A few rows of the full Hessian give the same products.
    let hessian = tapegrad::hessian(|t, p| record_tanh_mse(t, p, &xs, &ys), &params);
    for i in [0, 100, 336] {
        let row: f64 = hessian[i].iter().zip(&dir).map(|(a, b)| a * b).sum();
        assert_close(row, hv[i], 1e-10, &format!("row {i}"));
    }
}

/// `hvp` and `hessian` keep one tape per thread between calls: a call must not see another's
/// nodes or labels, and a closure that calls `hvp` itself gets a tape of its own.
#[test]
fn calls_are_independent_and_may_nest() {
    fn f<'t>(tape: &'t Tape, v: &[Var<'t>]) -> Var<'t> {
        // The first leaf is node 0 on a cleared tape, and nothing is labelled yet.
        assert_eq!(v[0].index(), 0);
        assert_eq!(v[0].label(), None);
        let y = (v[0] * v[1]).sin().with_label("y");
        tape.sum([y, v[0].exp()])
    }
    let (point, dir) = ([0.3, 0.7], [1.0, -2.0]);
    let first = tapegrad::hvp(f, &point, &dir);
    // A larger call in between grows the kept tape.
    let h = tapegrad::hessian(|t, v| t.dot(v, v).sin(), &[0.1; 40]);
    assert_eq!(h.len(), 40);
    let again = tapegrad::hvp(f, &point, &dir);
    assert!(bitwise_eq(&first, &again), "{first:?} vs {again:?}");
    assert_eq!(tapegrad::hessian(f, &point), tapegrad::hessian(f, &point));

    // The inner hvp, d²(x³)/dx² = 6x = 12 at x = 2, is a constant to the outer function
    // f = 12x²y, whose Hessian at (2, 3) is [[24y, 24x], [24x, 0]].
    let outer = tapegrad::hessian(
        |_, v| {
            let inner = tapegrad::hvp(|_, w| w[0].powi(3), &[v[0].value()], &[1.0]);
            v[0] * v[0] * v[1] * inner[0]
        },
        &[2.0, 3.0],
    );
    assert_eq!(outer, vec![vec![72.0, 48.0], vec![48.0, 0.0]]);
}
