//! Comparison helpers shared by the test modules, and the activations of `Tape::neuron`.

use tapegrad::Activation;

use crate::programs::Scalar;

/// Every [`Activation`], for tests that cover `Tape::neuron` with each one.
pub const ACTIVATIONS: [Activation; 4] = [
    Activation::Relu,
    Activation::Tanh,
    Activation::Sigmoid,
    Activation::Identity,
];

/// `act` applied on its own (on a tape, as a node of its own): the second half of
/// `tape.affine(w, x).relu()` (or `.tanh()`, `.sigmoid()`), the composite `Tape::neuron` must
/// equal bit for bit. No `_ =>` arm, so a new activation does not compile until it is covered
/// here.
pub fn activate<T: Scalar>(z: T, act: Activation) -> T {
    match act {
        Activation::Relu => z.relu(),
        Activation::Tanh => z.tanh(),
        Activation::Sigmoid => z.sigmoid(),
        // A node of its own that changes no bit of the value or the gradient.
        Activation::Identity => z * 1.0,
    }
}

/// Whether `a` and `b` are the same `f64`: bitwise equal, so −0 and +0 differ, except that any
/// NaN matches any NaN (payloads are not part of any contract).
pub fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

/// Asserts [`same`], printing both numbers and their bits.
#[track_caller]
pub fn assert_same(got: f64, want: f64, what: &str) {
    assert!(
        same(got, want),
        "{what}: got {got:?} ({:#018x}), want {want:?} ({:#018x})",
        got.to_bits(),
        want.to_bits()
    );
}

/// Asserts [`same`] element by element.
#[track_caller]
pub fn assert_all_same(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert_same(g, w, &format!("{what}[{k}]"));
    }
}

/// Asserts `|got − want| ≤ rel·max(|got|, |want|)` (both finite).
#[track_caller]
pub fn assert_close(got: f64, want: f64, rel: f64, what: &str) {
    assert!(
        got.is_finite()
            && want.is_finite()
            && (got - want).abs() <= rel * got.abs().max(want.abs()),
        "{what}: got {got:e}, want {want:e} (relative tolerance {rel:e})"
    );
}

/// Whether two slices hold the same bits, element by element (NaN payloads included): what
/// "deterministic" means for two runs of the same code.
pub fn bitwise_eq(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

#[test]
fn same_tells_zeros_apart_and_matches_nans() {
    assert!(same(0.0, 0.0));
    assert!(same(-0.0, -0.0));
    assert!(!same(0.0, -0.0));
    assert!(!same(-0.0, 0.0));
    assert!(same(f64::NAN, -f64::NAN));
    assert!(same(f64::NAN, f64::from_bits(0x7ff8_0000_0000_0001)));
    assert!(!same(f64::NAN, 0.0));
    assert!(!same(1.0, f64::NAN));
    assert!(same(f64::INFINITY, f64::INFINITY));
    assert!(!same(f64::INFINITY, f64::NEG_INFINITY));
    assert!(!same(1.0, 1.0 + f64::EPSILON));
    assert!(bitwise_eq(&[f64::NAN, -0.0], &[f64::NAN, -0.0]));
    assert!(!bitwise_eq(&[0.0], &[-0.0]));
}
