//! Lane tapes: `Tape<Lanes<N>>` runs one recording on N samples, and lane `l` of every value and
//! gradient must have the bits a `Tape<f64>` gives on lane `l`'s numbers.
//!
//! Each test records the same code on a lane tape and, once per lane, on a scalar tape, and
//! compares: random programs over every operation in `lanes/programs.rs`; kinks and poles in
//! some lanes only, and padding lanes, in `lanes/edges.rs`; anomalies, reuse after `clear` and
//! DOT output in `lanes/diagnostics.rs`; misuse in `lanes/misuse.rs`; tapes large enough for
//! the sparse sweep in `lanes/sparse.rs`.

mod diagnostics;
mod edges;
mod misuse;
mod programs;
mod sparse;

use tapegrad::{Lanes, Number, Tape, Var};

use crate::util::same;

/// Lane `l` of every number in `got` has the bits of `want[l]`, the scalar run's numbers for
/// that lane; any NaN matches any NaN, as in `util::same`: a NaN's sign and payload are no
/// part of the contract, and they differ between debug and release builds of the same code.
#[track_caller]
pub fn assert_lane_same<T: Number>(got: &[T], lane: usize, want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
        let g = g.lane(lane);
        assert!(
            same(g, w),
            "{what}[{k}], lane {lane}: lane tape gave {g:?} ({:#018x}), scalar tape {w:?} ({:#018x})",
            g.to_bits(),
            w.to_bits()
        );
    }
}

/// The numbers of lane `l` of each input: what the scalar run of lane `l` gets.
pub fn lane_of<const N: usize>(inputs: &[Lanes<N>], l: usize) -> Vec<f64> {
    inputs.iter().map(|x| x.lane(l)).collect()
}

/// Records `f` on a fresh tape of `T` over `inputs` (leaves recorded with `Tape::vars`), and
/// returns the values and gradients of the nodes `f` hands back, the root last.
pub fn values_and_grads<T: Number>(
    inputs: &[T],
    f: impl for<'t> Fn(&'t Tape<T>, &[Var<'t, T>]) -> Vec<Var<'t, T>>,
) -> (Vec<T>, Vec<T>) {
    let tape = Tape::<T>::new();
    let xs = tape.vars(inputs);
    let nodes = f(&tape, &xs);
    let root = *nodes.last().expect("a root");
    let g = root.backward();
    (
        nodes.iter().map(|v| v.value()).collect(),
        nodes.iter().map(|&v| g[v]).collect(),
    )
}

/// Runs `f` on a lane tape, and on a scalar tape once per lane, and asserts every value and
/// gradient `f` hands back is the same lane by lane. Returns the lane run's (values, grads).
#[track_caller]
pub fn assert_lanes_match_scalar<const N: usize>(
    inputs: &[Lanes<N>],
    f: impl for<'t> Fn(&'t Tape<Lanes<N>>, &[Var<'t, Lanes<N>>]) -> Vec<Var<'t, Lanes<N>>>,
    g: impl for<'t> Fn(&'t Tape<f64>, &[Var<'t, f64>]) -> Vec<Var<'t, f64>>,
    what: &str,
) -> (Vec<Lanes<N>>, Vec<Lanes<N>>) {
    let (values, grads) = values_and_grads(inputs, f);
    for l in 0..N {
        let (want_values, want_grads) = values_and_grads(&lane_of(inputs, l), &g);
        assert_lane_same(&values, l, &want_values, &format!("{what}: value"));
        assert_lane_same(&grads, l, &want_grads, &format!("{what}: gradient"));
    }
    (values, grads)
}

#[test]
fn lanes_arithmetic_is_elementwise_and_sum_runs_in_lane_order() {
    let a = Lanes::new([1e16, 1.0, -1e16, 1.0]);
    let b = Lanes::new([2.0, -0.0, 0.5, f64::INFINITY]);
    let pairs = |f: fn(f64, f64) -> f64| Lanes::<4>::from_fn(|i| f(a.lane(i), b.lane(i)));
    let bits = |x: Lanes<4>| x.to_array().map(f64::to_bits);
    assert_eq!(bits(a + b), bits(pairs(|x, y| x + y)));
    assert_eq!(bits(a - b), bits(pairs(|x, y| x - y)));
    assert_eq!(bits(a * b), bits(pairs(|x, y| x * y)));
    assert_eq!(bits(a / b), bits(pairs(|x, y| x / y)));
    assert_eq!(bits(a * 3.0), bits(Lanes::from_fn(|i| a.lane(i) * 3.0)));
    assert_eq!(bits(0.5 - b), bits(Lanes::from_fn(|i| 0.5 - b.lane(i))));
    assert_eq!(bits(-b), bits(Lanes::from_fn(|i| -b.lane(i))));
    assert_eq!(bits(Lanes::default()), [0; 4]);
    // Each of these sums differently in another order (pairwise, or the rest reversed).
    for x in [
        a,
        Lanes::new([1e16, 1.0, 1.0, -1e16]),
        Lanes::new([0.1, 0.2, 0.3, -0.6]),
    ] {
        let in_order = x.to_array()[1..].iter().fold(x.lane(0), |s, &y| s + y);
        assert_eq!(x.sum().to_bits(), in_order.to_bits(), "{x:?}");
    }
}

#[test]
fn lanes_print_each_lane_as_f64_does() {
    let x = Lanes::new([1.5, -0.0, f64::NAN, 1e300]);
    for (shown, each) in [
        (format!("{x}"), x.to_array().map(|v| format!("{v}"))),
        (format!("{x:.2}"), x.to_array().map(|v| format!("{v:.2}"))),
        (format!("{x:?}"), x.to_array().map(|v| format!("{v:?}"))),
    ] {
        // The lanes in order, each as f64 prints it.
        let mut rest = shown.as_str();
        for e in &each {
            let at = rest
                .find(e.as_str())
                .unwrap_or_else(|| panic!("{e} not in {shown}"));
            rest = &rest[at + e.len()..];
        }
    }
}

/// `Grads::wrt_run` gives what indexing gives, run by run, on a lane tape too.
#[test]
fn wrt_run_is_indexing() {
    let tape = Tape::<Lanes<4>>::new();
    let w = tape.run(&[Lanes::splat(0.5), Lanes::splat(-1.0), Lanes::splat(0.25)]);
    let x = tape.run(&[Lanes::new([1.0, -2.0, 0.0, 3.0]), Lanes::splat(2.0)]);
    let y = tape.neuron(w, x, tapegrad::Activation::Tanh) * tape.dot_run(x, x);
    let g = y.backward();
    for run in [w, x] {
        let by_index: Vec<_> = run.iter().map(|v| g[v].to_array()).collect();
        let by_run: Vec<_> = g.wrt_run(run).iter().map(|v| v.to_array()).collect();
        assert_eq!(by_run, by_index);
    }
}
