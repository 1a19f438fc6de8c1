//! # 01: an expression and its gradients
//!
//! The first thing micrograd's lecture builds: a tiny mathematical expression,
//!
//! ```text
//! e = a·b,   d = e + c,   L = d·f      with a = 2, b = −3, c = 10, f = −2,
//! ```
//!
//! so L = (2·(−3) + 10)·(−2) = −8. Every operation on a [`tapegrad::Var`] records one node on
//! the [`tapegrad::Tape`]: the tape is micrograd's graph of `Value`s, stored as a flat list in
//! the order the nodes were made.
//!
//! Backpropagation asks how L changes when each input is nudged. Going backwards from L with
//! the chain rule (the lecture does it by hand first):
//!
//! - dL/dL = 1
//! - L = d·f, so dL/df = d = 4 and dL/dd = f = −2
//! - d = e + c: a plus passes the gradient through unchanged, so dL/dc = dL/de = −2
//! - e = a·b, so dL/da = dL/de · b = (−2)(−3) = 6 and dL/db = dL/de · a = (−2)(2) = −4
//!
//! `L.backward()` does exactly this, in one reverse sweep over the tape, and returns a
//! [`tapegrad::Grads`] indexed by the `Var`s. The example also checks the numbers against a
//! finite difference, the lecture's "nudge it by h and see" sanity check, and asserts the
//! gradients so it fails loudly if they are ever wrong.
//!
//! Run it with `cargo run --example 01_expression`.

use tapegrad::Tape;

#[cfg_attr(test, allow(dead_code))]
fn main() {
    let tape = Tape::new();
    let a = tape.var(2.0).with_label("a");
    let b = tape.var(-3.0).with_label("b");
    let c = tape.var(10.0).with_label("c");
    let f = tape.var(-2.0).with_label("f");
    let e = (a * b).with_label("e");
    let d = (e + c).with_label("d");
    let l = (d * f).with_label("L");

    println!("L = (a*b + c)*f = {}", l.value());
    println!(
        "the tape holds {} nodes (4 leaves, 3 operations)",
        tape.len()
    );

    let grads = l.backward();
    println!("gradients of L:");
    for (name, v) in [("a", a), ("b", b), ("c", c), ("f", f), ("e", e), ("d", d)] {
        println!("  dL/d{name} = {}", grads[v]);
    }

    // The lecture's numerical check: nudge one input by h and watch L move.
    let h = 1e-6;
    let value_of_l = |a: f64, b: f64, c: f64, f: f64| (a * b + c) * f;
    let numeric_da =
        (value_of_l(2.0 + h, -3.0, 10.0, -2.0) - value_of_l(2.0, -3.0, 10.0, -2.0)) / h;
    println!("numerical dL/da with h = {h}: {numeric_da:.4}");

    assert_eq!(l.value(), -8.0);
    assert_eq!(grads[a], 6.0);
    assert_eq!(grads[b], -4.0);
    assert_eq!(grads[c], -2.0);
    assert_eq!(grads[f], 4.0);
    assert_eq!(grads[e], -2.0);
    assert_eq!(grads[d], -2.0);
    assert!((numeric_da - 6.0).abs() < 1e-4);
    println!("all gradients match the lecture's hand computation");
}

// `cargo test` runs the example too (`test = true` in Cargo.toml), so its assertions hold.
#[test]
fn runs() {
    main();
}
