//! # 02: one neuron, backpropagated by hand and by the tape
//!
//! The lecture's second example is a single neuron with two inputs:
//!
//! ```text
//! n = x1·w1 + x2·w2 + b,    o = tanh(n)
//! x1 = 2, x2 = 0, w1 = −3, w2 = 1, b = 6.8813735870195432
//! ```
//!
//! The odd bias is picked so that n = 0.8813…, where tanh(n) = 1/√2 ≈ 0.7071, and the local
//! derivative do/dn = 1 − tanh²(n) = 0.5 is a round number. From there the chain rule gives
//! the lecture's numbers:
//!
//! - a `+` hands its gradient to both operands: dn/db = dn/d(x1w1) = dn/d(x2w2) → 0.5 each
//! - a `*` hands each operand the *other* operand times the gradient:
//!   do/dx1 = w1 · 0.5 = −1.5, do/dw1 = x1 · 0.5 = 1.0, do/dx2 = w2 · 0.5 = 0.5,
//!   do/dw2 = x2 · 0.5 = 0.0 (x2 is 0, so w2 cannot matter for this input)
//!
//! Then the lecture breaks tanh into smaller pieces, tanh(n) = (e^{2n} − 1)/(e^{2n} + 1),
//! using only `exp`, `-`, `+` and `/`. The graph is bigger but the value and every gradient
//! agree: backpropagation only needs each operation's local derivative, however you choose to
//! cut the function into operations.
//!
//! Run it with `cargo run --example 02_neuron`.

use tapegrad::{Grads, Tape, Var};

/// The neuron's inputs and parameters, recorded as labeled leaves.
struct Leaves<'t> {
    x1: Var<'t>,
    x2: Var<'t>,
    w1: Var<'t>,
    w2: Var<'t>,
    b: Var<'t>,
}

fn leaves(tape: &Tape) -> Leaves<'_> {
    Leaves {
        x1: tape.var(2.0).with_label("x1"),
        x2: tape.var(0.0).with_label("x2"),
        w1: tape.var(-3.0).with_label("w1"),
        w2: tape.var(1.0).with_label("w2"),
        b: tape.var(6.881_373_587_019_543).with_label("b"),
    }
}

fn pre_activation<'t>(l: &Leaves<'t>) -> Var<'t> {
    let x1w1 = (l.x1 * l.w1).with_label("x1*w1");
    let x2w2 = (l.x2 * l.w2).with_label("x2*w2");
    let sum = (x1w1 + x2w2).with_label("x1*w1 + x2*w2");
    (sum + l.b).with_label("n")
}

fn report(title: &str, tape: &Tape, o: Var<'_>, l: &Leaves<'_>, g: &Grads<'_>) {
    println!("{title} ({} nodes on the tape)", tape.len());
    println!("  o = {:.4}", o.value());
    println!(
        "  x1 {:+.4}   w1 {:+.4}   x2 {:+.4}   w2 {:+.4}   b {:+.4}",
        g[l.x1], g[l.w1], g[l.x2], g[l.w2], g[l.b]
    );
}

fn check(o: Var<'_>, l: &Leaves<'_>, g: &Grads<'_>) {
    let close = |got: f64, want: f64| (got - want).abs() < 1e-9;
    assert!(
        close(o.value(), std::f64::consts::FRAC_1_SQRT_2),
        "o = {}",
        o.value()
    );
    assert!(close(g[l.x1], -1.5), "do/dx1 = {}", g[l.x1]);
    assert!(close(g[l.w1], 1.0), "do/dw1 = {}", g[l.w1]);
    assert!(close(g[l.x2], 0.5), "do/dx2 = {}", g[l.x2]);
    assert!(close(g[l.w2], 0.0), "do/dw2 = {}", g[l.w2]);
    assert!(close(g[l.b], 0.5), "do/db = {}", g[l.b]);
}

#[cfg_attr(test, allow(dead_code))]
fn main() {
    // 1. tanh as one operation.
    let tape = Tape::new();
    let l = leaves(&tape);
    let n = pre_activation(&l);
    let o = n.tanh().with_label("o");
    let g = o.backward();
    report("o = tanh(n)", &tape, o, &l, &g);
    check(o, &l, &g);

    // 2. tanh written out: (e^{2n} - 1) / (e^{2n} + 1).
    let tape = Tape::new();
    let l = leaves(&tape);
    let n = pre_activation(&l);
    let e = (2.0 * n).exp().with_label("e");
    let o = ((e - 1.0) / (e + 1.0)).with_label("o");
    let g = o.backward();
    report("o = (e^2n - 1)/(e^2n + 1)", &tape, o, &l, &g);
    check(o, &l, &g);

    println!("both forms give o = 0.7071 and the lecture's gradients");
    println!("(cargo run --example 05_draw_graph draws such a graph)");
}

// `cargo test` runs the example too (`test = true` in Cargo.toml), so its assertions hold.
#[test]
fn runs() {
    main();
}
