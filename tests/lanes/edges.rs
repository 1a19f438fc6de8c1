//! Kinks and poles in some lanes only, and padding lanes: what a batch of real samples meets.
//! A lane at a kink or pole gets the scalar tape's gradient there (±inf and NaN included),
//! and the other lanes stay finite and unchanged.

use proptest::prelude::*;
use tapegrad::{Activation, Lanes, Number, Run, Tape, Var};

use super::{assert_lane_same, assert_lanes_match_scalar, values_and_grads};

/// Lanes 0, 2 and 5 sit on `bad`, a kink or pole; the others are ordinary positive numbers,
/// inside every function's domain.
fn with_bad_lanes(bad: [f64; 3]) -> Lanes<8> {
    Lanes::new([bad[0], 0.75, bad[1], 2.5, 1.25, bad[2], 3.0, 0.125])
}

/// `f(x)` times a parameter `w` (the same in every lane), so `w`'s gradient carries f's value
/// and `x`'s carries f's slope.
fn kink_program<T: Number>(
    f: fn(Var<'_, T>) -> Var<'_, T>,
) -> impl for<'t> Fn(&'t Tape<T>, &[Var<'t, T>]) -> Vec<Var<'t, T>> {
    move |_, v| {
        let (w, x) = (v[0], v[1]);
        let y = f(x);
        vec![w, x, y, y * w]
    }
}

/// Runs the kink program on lanes and per lane, and checks the ordinary lanes' gradients are
/// finite.
#[track_caller]
fn check_kink(
    what: &str,
    bad: [f64; 3],
    lanes: fn(Var<'_, Lanes<8>>) -> Var<'_, Lanes<8>>,
    scalar: fn(Var<'_, f64>) -> Var<'_, f64>,
) {
    let inputs = [Lanes::splat(1.5), with_bad_lanes(bad)];
    let (_, grads) =
        assert_lanes_match_scalar(&inputs, kink_program(lanes), kink_program(scalar), what);
    for l in [1, 3, 4, 6, 7] {
        for g in &grads {
            assert!(g.lane(l).is_finite(), "{what}: lane {l} got {g:?}");
        }
    }
}

/// Each case once generic, then handed to both tapes (a fn item per number type).
macro_rules! kink {
    ($name:ident, $bad:expr, |$x:ident| $body:expr) => {
        #[test]
        fn $name() {
            fn f<T: Number>($x: Var<'_, T>) -> Var<'_, T> {
                $body
            }
            check_kink(stringify!($name), $bad, f::<Lanes<8>>, f::<f64>);
        }
    };
}

kink!(relu_at_both_zeros, [0.0, -0.0, 0.0], |x| x.relu());
kink!(abs_at_zero, [0.0, -0.0, 0.0], |x| x.abs());
kink!(sqrt_at_zero, [0.0, -0.0, -1.0], |x| x.sqrt());
kink!(ln_at_zero_and_negative, [0.0, -0.0, -2.0], |x| x.ln());
kink!(recip_at_zero, [0.0, -0.0, 0.0], |x| x.recip());
kink!(one_over_x_at_zero, [0.0, -0.0, 0.0], |x| 1.0 / x);
kink!(x_over_x_at_zero, [0.0, -0.0, f64::INFINITY], |x| x / x);
kink!(half_power_at_zero, [0.0, -0.0, -1.0], |x| x.powf(0.5));
kink!(minus_half_power_at_zero, [0.0, -0.0, -1.0], |x| x
    .powf(-0.5));
kink!(inverse_power_at_zero, [0.0, -0.0, 0.0], |x| x.powf(-1.0));
kink!(powi_minus_one_at_zero, [0.0, -0.0, 0.0], |x| x.powi(-1));
kink!(zeroth_power_at_zero, [0.0, -0.0, f64::NAN], |x| x.powf(0.0));
kink!(exp_overflow, [710.0, 1e300, -1e300], |x| x.exp());
kink!(relu_of_sqrt_at_zero, [0.0, -0.0, -1.0], |x| x.sqrt().relu());
kink!(sqrt_of_relu_at_zero, [0.0, -0.0, -1.0], |x| x.relu().sqrt());
kink!(tanh_and_sigmoid_saturate, [1e300, -1e300, 800.0], |x| x
    .tanh()
    + x.sigmoid());

/// A finite value with an infinite slope (lanes 1, 3 and 6 sit on `pole`), times `z`, which is 0
/// in lanes 1 and 6: the scalar tape of such a lane visits the node despite its zero adjoint
/// and gets 0·inf = NaN, and the lane tape must give exactly that lane the same, whether the
/// other lanes are clean or (`nan_elsewhere`, a NaN in lane 7) not.
#[track_caller]
fn check_zero_adjoint_pole(
    what: &str,
    pole: f64,
    lanes: for<'t> fn(Var<'t, Lanes<8>>, Var<'t, Lanes<8>>) -> Var<'t, Lanes<8>>,
    scalar: for<'t> fn(Var<'t, f64>, Var<'t, f64>) -> Var<'t, f64>,
) {
    for nan_elsewhere in [false, true] {
        let last = if nan_elsewhere { f64::NAN } else { 4.0 };
        let inputs = [
            Lanes::new([1.0, 1.0, 2.0, 1.0, 0.5, 3.0, 1.0, last]),
            Lanes::new([0.5, pole, 1.5, pole, 2.0, 0.25, pole, 1.0]),
            Lanes::new([1.0, 0.0, 2.0, 1.0, -1.0, 0.5, 0.0, 3.0]),
        ];
        let what = format!("{what} (NaN in lane 7: {nan_elsewhere})");
        let (_, grads) = assert_lanes_match_scalar(
            &inputs,
            |_, v| vec![v[0], v[1], v[2], lanes(v[0], v[1]) * v[2] + v[0]],
            |_, v| vec![v[0], v[1], v[2], scalar(v[0], v[1]) * v[2] + v[0]],
            &what,
        );
        for l in [0, 2, 4, 5] {
            for g in &grads {
                assert!(g.lane(l).is_finite(), "{what}: lane {l} got {g:?}");
            }
        }
    }
}

macro_rules! zero_adjoint_pole {
    ($name:ident, $pole:expr, |$x:ident, $y:ident| $body:expr) => {
        #[test]
        fn $name() {
            fn f<'t, T: Number>($x: Var<'t, T>, $y: Var<'t, T>) -> Var<'t, T> {
                $body
            }
            check_zero_adjoint_pole(stringify!($name), $pole, f::<Lanes<8>>, f::<f64>);
        }
    };
}

// Each value is finite at the pole and its slope overflows (or is a true pole, sqrt at 0).
zero_adjoint_pole!(zero_adjoint_div, 1e-200, |x, y| x / y);
zero_adjoint_pole!(zero_adjoint_constant_over_x, 1e-200, |_x, y| 1.0 / y);
zero_adjoint_pole!(zero_adjoint_recip, 1e-200, |_x, y| y.recip());
zero_adjoint_pole!(zero_adjoint_powi, 1e-200, |_x, y| y.powi(-1));
zero_adjoint_pole!(zero_adjoint_powf, 1e-300, |_x, y| y.powf(-0.5));
zero_adjoint_pole!(zero_adjoint_sqrt, 0.0, |_x, y| y.sqrt());
zero_adjoint_pole!(zero_adjoint_ln, 1e-320, |_x, y| y.ln());

/// An infinite value recorded long before the sweep, behind a dead ReLU's zero adjoint: a lane
/// tape checks its values for non-finite lanes in 4 KiB chunks as it records, and the scalar
/// tape of such a lane visits the node despite its zero adjoint and gets 0·inf = NaN. Pins the
/// chunked check: with the chunks left unchecked, every other lane test still passed, since
/// their tapes fit in one chunk, which the sweep checks itself.
fn zero_adjoint_after<'t, T: Number>(tape: &'t Tape<T>, v: &[Var<'t, T>]) -> Vec<Var<'t, T>> {
    let y = v[0] * v[1];
    // A dead ReLU at -inf: its output is 0, finite, and its slope 0 makes y's adjoint 0.
    let r = (y * -1.0).relu();
    // More than a chunk of any width up to 64 lanes (4 KiB of values), several for narrow ones,
    // so every non-finite value sits in a chunk checked while recording.
    tape.vars(&[T::splat(0.5); 300]);
    vec![v[0], v[1], y, r, r * tape.var(T::splat(1.0))]
}

#[test]
fn a_non_finite_value_chunks_before_the_sweep_still_reaches_its_lane() {
    fn check<const N: usize>() {
        // No lane's root is non-finite: such a lane would make the whole sweep visit every
        // node the root reaches, which hides a missed check.
        let x = Lanes::<N>::from_fn(|l| match l % 4 {
            1 => f64::INFINITY,
            3 => 1e308, // y overflows; its operands are finite, so no NaN
            _ => 1.5,
        });
        let (_, grads) = assert_lanes_match_scalar(
            &[x, Lanes::splat(2.0)],
            zero_adjoint_after,
            zero_adjoint_after,
            &format!("{N} lanes"),
        );
        // The point of the test: lane 1's parameter gradient is 0·inf, not a skipped 0.
        if N > 1 {
            assert!(grads[1].lane(1).is_nan(), "{N} lanes: {:?}", grads[1]);
            assert_eq!(grads[1].lane(0), 0.0, "{N} lanes: {:?}", grads[1]);
        }
    }
    check::<1>();
    check::<4>();
    check::<8>();
    check::<16>();
    check::<64>();
}

/// A dead ReLU in some lanes only: on a scalar tape its zero adjoint is skipped where every
/// number is finite, and a lane tape must give the live lanes the same bits.
#[test]
fn neuron_dead_in_some_lanes() {
    fn f<'t, T: Number>(tape: &'t Tape<T>, v: &[Var<'t, T>]) -> Vec<Var<'t, T>> {
        let wb = Run::new(&v[..3]).expect("inputs are a run");
        let x = Run::new(&v[3..5]).expect("inputs are a run");
        let h = tape.neuron(wb, x, Activation::Relu);
        let out = (h * 2.0).tanh();
        let mut nodes = v.to_vec();
        nodes.extend([h, out]);
        nodes
    }
    // w·x + b is ≤ 0 in lanes 1, 3, 4, 6 (−0 and +0 included), positive elsewhere.
    let x0 = Lanes::new([1.0, -1.0, 0.5, 0.0, -0.0, 2.0, -3.0, 0.25]);
    let inputs = [
        Lanes::splat(0.5),
        Lanes::splat(-0.25),
        Lanes::splat(0.0),
        x0,
        Lanes::splat(0.0),
    ];
    assert_lanes_match_scalar(&inputs, f, f, "dead relu");
}

/// The same in a whole batch where one lane holds a NaN: the tape is no longer clean, and the
/// other lanes keep their bits.
#[test]
fn a_nan_lane_does_not_change_the_others() {
    fn f<'t, T: Number>(tape: &'t Tape<T>, v: &[Var<'t, T>]) -> Vec<Var<'t, T>> {
        let (w, b, x) = (v[0], v[1], v[2]);
        let h = (w * x + b).relu();
        let loss = tape.sum([(1.0 - h).relu(), h.sqrt(), (x * w).ln()]);
        vec![w, b, x, h, loss]
    }
    let x = Lanes::new([1.0, f64::NAN, -2.0, 0.0, f64::INFINITY, 0.5, -0.0, 3.0]);
    let inputs = [Lanes::splat(0.5), Lanes::splat(0.0), x];
    let (_, grads) = assert_lanes_match_scalar(&inputs, f, f, "a NaN lane");
    assert!(
        grads[0].lane(1).is_nan(),
        "the NaN lane's gradient: {:?}",
        grads[0]
    );
    for l in [0, 2, 5, 7] {
        assert!(grads[0].lane(l).is_finite(), "lane {l}: {:?}", grads[0]);
    }
}

/// The demo's per-sample loss (a tanh neuron and the hinge), times the sample's weight: 1/n for
/// a real sample, 0 for a padding lane. `v` holds the parameters w₀ w₁ b, then x₀ x₁ y and the
/// weight.
fn weighted_loss<'t, T: Number>(tape: &'t Tape<T>, v: &[Var<'t, T>]) -> Vec<Var<'t, T>> {
    let params = Run::new(&v[..3]).expect("a run");
    let x = Run::new(&v[3..5]).expect("a run");
    let (y, weight) = (v[5], v[6]);
    let score = tape.neuron(params, x, Activation::Tanh);
    let hinge = (1.0 - y * score).relu();
    let mut nodes = v.to_vec();
    nodes.push(hinge * weight);
    nodes
}

/// The parameter gradients of `real` samples on an 8-lane tape, padded with zero inputs and
/// zero weights.
fn padded(params: [f64; 3], real: &[[f64; 3]]) -> Vec<Lanes<8>> {
    let n = real.len();
    let lane = |j: usize| Lanes::<8>::from_fn(|l| if l < n { real[l][j] } else { 0.0 });
    let weight = Lanes::from_fn(|l| if l < n { 1.0 / n as f64 } else { 0.0 });
    let mut inputs: Vec<Lanes<8>> = params.iter().map(|&p| Lanes::splat(p)).collect();
    inputs.extend([lane(0), lane(1), lane(2), weight]);
    values_and_grads(&inputs, weighted_loss).1
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        ..ProptestConfig::default()
    })]

    /// Padding lanes never change a parameter's gradient: `g[w].sum()` over the tape is the sum
    /// over the real lanes, and the scalar runs' gradients added in the same order.
    #[test]
    fn padding_lanes_leave_parameter_gradients_alone(
        params in prop::array::uniform3(-2.0..2.0f64),
        real in prop::collection::vec(
            (-2.0..2.0f64, -2.0..2.0f64, prop_oneof![Just(-1.0), Just(1.0)])
                .prop_map(|(a, b, y)| [a, b, y]),
            1..=7,
        ),
    ) {
        let n = real.len();
        let grads = padded(params, &real);
        for (j, g) in grads.iter().enumerate().take(3) {
            // Each sample alone on a scalar tape, with the same weight.
            let scalar: Vec<f64> = real
                .iter()
                .map(|s| {
                    let mut inputs = params.to_vec();
                    inputs.extend([s[0], s[1], s[2], 1.0 / n as f64]);
                    values_and_grads(&inputs, weighted_loss).1[j]
                })
                .collect();
            let in_order = scalar[1..].iter().fold(scalar[0], |s, &x| s + x);
            let real_lanes = (1..n).fold(g.lane(0), |s, l| s + g.lane(l));
            prop_assert_eq!(g.sum().to_bits(), real_lanes.to_bits(), "parameter {}", j);
            prop_assert_eq!(g.sum().to_bits(), in_order.to_bits(), "parameter {}", j);
            for l in n..8 {
                // What a scalar tape gives a padding sample: no contribution at all.
                let mut pad = params.to_vec();
                pad.extend([0.0; 4]);
                let want = values_and_grads(&pad, weighted_loss).1[j];
                prop_assert_eq!(g.lane(l).to_bits(), want.to_bits(), "padding lane {}", l);
            }
        }
        // The padding lanes' inputs get the scalar padding sample's gradients too.
        let pad: Vec<f64> = params.iter().copied().chain([0.0; 4]).collect();
        let want = values_and_grads(&pad, weighted_loss).1;
        for l in n..8 {
            assert_lane_same(&grads, l, &want, "padding lane");
        }
    }
}

/// The widest lane number, 64 lanes: the lanes' bit masks are full, so lanes 32 to 63 must
/// behave as the first ones do. Kinks, poles and NaNs sit in the high lanes.
#[test]
fn sixty_four_lanes() {
    fn f<'t, T: Number>(tape: &'t Tape<T>, v: &[Var<'t, T>]) -> Vec<Var<'t, T>> {
        let (w, x) = (v[0], v[1]);
        let h = (w * x).relu();
        let y = tape.sum([h.sqrt(), x.ln() * 0.0, (x / w).abs()]);
        vec![w, x, h, y]
    }
    let specials = [0.0, -0.0, -1.0, f64::NAN, f64::INFINITY, 1e-320, 2.0, 0.5];
    let x = Lanes::<64>::from_fn(|l| {
        if l < 32 {
            1.0 + l as f64
        } else {
            specials[l % 8]
        }
    });
    let inputs = [Lanes::from_fn(|l| if l == 63 { 0.0 } else { 0.5 }), x];
    let (_, grads) = assert_lanes_match_scalar(&inputs, f, f, "64 lanes");
    for l in 0..32 {
        assert!(grads[0].lane(l).is_finite(), "lane {l}: {:?}", grads[0]);
    }
    let tape = Tape::<Lanes<64>>::new();
    let w = tape.var(Lanes::from_fn(|l| if l == 63 { -1.0 } else { 1.0 }));
    let err = w.ln().backward_checked().unwrap_err();
    assert_eq!(err.lane(), Some(63), "{err}");
}
