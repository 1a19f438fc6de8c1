//! Large lane tapes: once a lane tape's gradients pass 256 KiB, its sweep is sparse. While the
//! tape is clean it skips the blocks of 64 nodes nothing was added to without reading them,
//! and it keeps its gradient buffer zero between sweeps by resetting only the blocks it wrote.
//! Every test here records more than that, and a lane must still get the bits of a scalar
//! tape, sweep after sweep.

use proptest::prelude::*;
use tapegrad::{Grads, Lanes, Number, Tape, Var};

use super::assert_lanes_match_scalar;
use super::programs::{check_after, finite_case};

/// Unused leaves that take a tape of `Lanes<N>` past 256 KiB of gradients: 512 KiB of them.
fn pad<const N: usize>() -> usize {
    512 * 1024 / std::mem::size_of::<Lanes<N>>()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 24,
        ..ProptestConfig::default()
    })]

    /// The random programs of `programs.rs` on a large tape, each step in blocks of its own
    /// (`check_after`). Finite inputs, so that most programs stay finite in every lane, where
    /// the sweep skips blocks; the 64-lane one draws every special number.
    #[test]
    fn eight_lanes_on_a_large_tape_are_eight_scalar_tapes(case in finite_case(8)) {
        check_after::<8>(pad::<8>(), &case);
    }

    #[test]
    fn sixteen_lanes_on_a_large_tape_are_sixteen_scalar_tapes(case in finite_case(16)) {
        check_after::<16>(pad::<16>(), &case);
    }

    #[test]
    fn sixty_four_lanes_on_a_large_tape_are_sixty_four_scalar_tapes(case in super::programs::case(64)) {
        check_after::<64>(pad::<64>(), &case);
    }
}

/// Non-finite inputs on a large tape, in some lanes only, with a pole and a dead ReLU: the
/// sweep is not clean, so it visits what the root reaches, and every lane must still get
/// its scalar bits.
#[test]
fn non_finite_numbers_on_both_sides_of_the_threshold_stay_in_their_lanes() {
    fn f<'t, T: Number>(tape: &'t Tape<T>, v: &[Var<'t, T>]) -> Vec<Var<'t, T>> {
        let early = v[0];
        tape.vars(&vec![T::splat(0.5); pad::<8>()]);
        let late = tape.var(T::splat(1.0)) * early.exp();
        let dead = (late * -1.0).relu();
        let pole = (early * late).sqrt();
        let y = tape.sum([late * v[1], dead, pole, v[1].ln()]);
        vec![early, late, dead, pole, y]
    }
    let early = Lanes::<8>::new([0.0, -0.0, 1.0, f64::NAN, 710.0, -1.0, 2.0, f64::INFINITY]);
    let other = Lanes::<8>::new([1.0, 2.0, f64::NEG_INFINITY, 0.5, 3.0, 0.0, -0.0, 4.0]);
    assert_lanes_match_scalar(&[early, other], f, f, "large tape");
}

/// Every node's gradient from node `root` of [`program`], lane by lane from scalar tapes.
fn scalar_grads(root: usize) -> Vec<Lanes<8>> {
    let lanes: Vec<Vec<f64>> = (0..8)
        .map(|l| {
            let tape = Tape::<f64>::new();
            let nodes = program(&tape, |x| x.lane(l));
            let g = nodes[root].backward();
            nodes.iter().map(|&v| g[v]).collect()
        })
        .collect();
    (0..lanes[0].len())
        .map(|k| Lanes::from_fn(|l| lanes[l][k]))
        .collect()
}

/// A few nodes below 256 KiB of gradients (on `Lanes<8>`) and a few past it, with unused
/// leaves between them that fill whole blocks of 64 nodes; the root last. `number` makes a
/// tape's number from the lanes.
fn program<T: Number>(tape: &Tape<T>, number: impl Fn(Lanes<8>) -> T) -> Vec<Var<'_, T>> {
    let unused = |n: usize| tape.vars(&vec![T::splat(0.5); n]);
    let a = tape.var(number(Lanes::from_fn(|l| l as f64 - 3.5)));
    unused(150);
    let b = (a * a).relu();
    unused(pad::<8>());
    let c = tape.var(T::splat(2.0)) * b;
    unused(200);
    let d = tape.var(number(Lanes::from_fn(
        |l| if l % 2 == 0 { 1.0 } else { -1.0 },
    )));
    unused(130);
    let root = (c * d + d).relu();
    vec![a, b, c, d, root]
}

/// [`program`] on a lane tape.
fn lane_program(tape: &Tape<Lanes<8>>) -> Vec<Var<'_, Lanes<8>>> {
    program(tape, |x| x)
}

/// The bits of the gradients `g` gives `nodes`.
fn grads_of(g: &Grads<'_, Lanes<8>>, nodes: &[Var<'_, Lanes<8>>]) -> Vec<[u64; 8]> {
    bits(nodes.iter().map(|&v| g[v]).collect())
}

/// The bits of every lane: ±0 must match too.
fn bits(v: Vec<Lanes<8>>) -> Vec<[u64; 8]> {
    v.iter().map(|x| x.to_array().map(f64::to_bits)).collect()
}

/// Regression for the buffer reuse: a sparse sweep resets only the blocks it wrote when its
/// gradients are dropped, so a second sweep that reaches fewer nodes must still see zeros
/// where the first one wrote (`d` here), and a dense sweep from a node below the threshold,
/// which zeroes its buffer whole, must leave the next sparse one a clean buffer too.
#[test]
fn sweeps_of_both_kinds_take_turns_on_one_large_tape() {
    let tape = Tape::<Lanes<8>>::new();
    let nodes = lane_program(&tape);
    let (b, c, root) = (1, 2, nodes.len() - 1);
    for from in [root, c, b, root, c, root] {
        let g = nodes[from].backward();
        assert_eq!(
            grads_of(&g, &nodes),
            bits(scalar_grads(from)),
            "from node {from}"
        );
    }
    assert_ne!(
        scalar_grads(root)[3],
        Lanes::splat(0.0),
        "d has a gradient from the root"
    );
    assert_eq!(scalar_grads(c)[3], Lanes::splat(0.0), "d has none from c");
}

/// `Grads::into_vec` takes the buffer away: the tape's next sweep gets a fresh one.
#[test]
fn a_buffer_taken_with_into_vec_is_not_reused() {
    let tape = Tape::<Lanes<8>>::new();
    let nodes = lane_program(&tape);
    let root = nodes.len() - 1;
    let first = nodes[root].backward().into_vec();
    assert_eq!(first.len(), nodes[root].index() + 1);
    let g = nodes[2].backward();
    assert_eq!(grads_of(&g, &nodes), bits(scalar_grads(2)));
}

/// The checked sweep on a large tape: the same gradients, and the same anomaly report naming
/// the lane, as on a small one.
#[test]
fn backward_checked_on_a_large_tape() {
    let tape = Tape::<Lanes<8>>::new();
    let nodes = lane_program(&tape);
    let root = nodes.len() - 1;
    let g = nodes[root].backward_checked().expect("finite");
    assert_eq!(grads_of(&g, &nodes), bits(scalar_grads(root)));
    drop(g);
    let x = tape.var(Lanes::from_fn(|l| if l == 5 { -1.0 } else { 1.0 }));
    let err = (x.ln() * nodes[root]).backward_checked().unwrap_err();
    assert_eq!(err.lane(), Some(5), "{err}");
    let g = nodes[root].backward();
    assert_eq!(grads_of(&g, &nodes), bits(scalar_grads(root)));
}
