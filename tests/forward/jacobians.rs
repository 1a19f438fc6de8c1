//! `Tape::jacobian` and `tapegrad::jacobian`: tall (forward mode, 4, 8 or 16 inputs per sweep)
//! and wide (reverse mode) against one `backward` per output; inputs an output does not use,
//! outputs that use none of the inputs, empty sides; and `Tape::jvp` as the Jacobian times v.

use tapegrad::{Tape, Var};

use super::{assert_agrees, magnitude_of_terms};
use crate::util::{assert_all_same, bitwise_eq};

/// `m` outputs of `x` that share a trunk (the sum and a product chain), each also using a few
/// inputs of its own; the last input is used by no output.
fn outputs<'t>(t: &'t Tape, x: &[Var<'t>], m: usize) -> Vec<Var<'t>> {
    let used = &x[..x.len() - 1];
    let n = used.len();
    let trunk = t.sum(used).tanh();
    let chain = used
        .iter()
        .fold(t.var(1.0), |acc, &xi| acc * (xi * 0.3).cos());
    (0..m)
        .map(|k| {
            let (a, b) = (used[k % n], used[(7 * k + 3) % n]);
            ((a * (0.1 * (k + 1) as f64) + trunk).sin() * b + chain * a.powi(2)) / (1.0 + b * b)
        })
        .collect()
}

fn point(n: usize) -> Vec<f64> {
    (0..n).map(|i| ((i * 11 % 17) as f64 - 8.0) / 9.0).collect()
}

/// One `backward` per output, read at `wrt`.
fn by_backward(outputs: &[Var<'_>], wrt: &[Var<'_>]) -> Vec<Vec<f64>> {
    outputs.iter().map(|o| o.backward().wrt_all(wrt)).collect()
}

/// The Jacobian of `outputs(.., m)` with respect to n inputs against `backward`: bit for bit in
/// reverse mode (it is the same sweep), to rounding in forward mode; the unused input's column
/// is exactly 0.
fn check(n: usize, m: usize) {
    let tape = Tape::new();
    let x = tape.vars(&point(n));
    let ys = outputs(&tape, &x, m);
    let j = tape.jacobian(&ys, &x);
    let want = by_backward(&ys, &x);
    assert_eq!(j.len(), m);
    for (k, (row, want)) in j.iter().zip(&want).enumerate() {
        let what = format!("{n} inputs, {m} outputs, row {k}");
        assert_eq!(row.len(), n, "{what}");
        assert_eq!(row[n - 1].to_bits(), 0, "{what}: an input no output uses");
        if n >= m {
            assert_all_same(row, want, &format!("{what} (reverse)"));
        } else {
            let scale = want.iter().map(|w| w.abs()).sum::<f64>();
            for (i, (&g, &w)) in row.iter().zip(want).enumerate() {
                assert_agrees(g, w, scale, &format!("{what} (forward), column {i}"));
            }
        }
    }
    // The free function records the same function on its own tape: the same numbers.
    let free = tapegrad::jacobian(|t, v| outputs(t, v, m), &point(n));
    assert!(bitwise_eq(&free.concat(), &j.concat()), "{n} × {m}");
}

#[test]
fn tall_jacobians_run_forward_mode_with_4_8_and_16_lanes() {
    // 1..=4 inputs take 4 lanes, 5..=8 take 8, more take 16 in one sweep or several.
    for n in [2, 4, 5, 8, 9, 16, 17, 33] {
        check(n, n + 12);
    }
}

#[test]
fn wide_and_square_jacobians_run_reverse_mode() {
    for (n, m) in [(40, 3), (21, 1), (6, 6)] {
        check(n, m);
    }
}

#[test]
fn outputs_that_use_none_of_wrt_have_rows_of_zeros() {
    let tape = Tape::new();
    let x = tape.vars(&[0.5, -1.5]);
    let other = tape.var(2.0);
    let later = tape.var(4.0); // recorded after every output below: nothing depends on it
    for forward in [true, false] {
        let mut ys = vec![x[0] * x[1], tape.var(3.0), other.exp(), x[1].sin()];
        let wrt = if forward {
            vec![x[0], x[1], later] // 3 inputs, 4 outputs
        } else {
            ys.truncate(3);
            vec![x[0], x[1], later, other] // 4 inputs, 3 outputs
        };
        let j = tape.jacobian(&ys, &wrt);
        let want = by_backward(&ys, &wrt);
        for (k, (row, want)) in j.iter().zip(&want).enumerate() {
            assert_all_same(row, want, &format!("forward {forward}, row {k}"));
        }
        assert!(
            j[1].iter().all(|d| d.to_bits() == 0),
            "a constant: {:?}",
            j[1]
        );
        assert_eq!(&j[2][..3], &[0.0; 3], "other.exp() against x and later");
        assert!(j.iter().all(|row| row[2].to_bits() == 0), "later: {j:?}");
    }
}

#[test]
fn empty_sides() {
    let tape = Tape::new();
    let x = tape.vars(&[1.0, 2.0]);
    let y = x[0] * x[1];
    assert_eq!(tape.jacobian(&[y, y], &[]), vec![Vec::<f64>::new(); 2]);
    assert!(tape.jacobian(&[], &x).is_empty());
    assert!(tape.jacobian(&[], &[]).is_empty());
    assert!(tape.jvp(&[], &x, &[1.0, 1.0]).is_empty());
    assert_eq!(tape.jvp(&[y], &[], &[]), vec![0.0]);
    assert_eq!(y.jvp(&[], &[]).to_bits(), 0);
    assert!(tapegrad::jacobian(|_, _| Vec::new(), &[1.0]).is_empty());
    assert_eq!(
        tapegrad::jacobian(|t, _| vec![t.var(1.0)], &[]),
        vec![Vec::<f64>::new()]
    );
}

#[test]
fn tape_jvp_is_the_jacobian_times_v() {
    for (n, m) in [(3, 20), (20, 3), (17, 40)] {
        let tape = Tape::new();
        let x = tape.vars(&point(n));
        let ys = outputs(&tape, &x, m);
        let v: Vec<f64> = (0..n).map(|i| 0.25 * i as f64 - 1.0).collect();
        let jv = tape.jvp(&ys, &x, &v);
        let want = by_backward(&ys, &x);
        assert_eq!(jv.len(), m);
        for (k, (got, row)) in jv.iter().zip(&want).enumerate() {
            let product: f64 = row.iter().zip(&v).map(|(a, b)| a * b).sum();
            let scale = magnitude_of_terms(row, &v);
            assert_agrees(*got, product, scale, &format!("{n} × {m}: (Jv)[{k}]"));
            // Each entry is what Var::jvp gives for that output alone.
            assert_eq!(got.to_bits(), ys[k].jvp(&x, &v).to_bits(), "(Jv)[{k}]");
        }
    }
}
