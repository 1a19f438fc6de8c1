//! Robustness: arbitrary `f64` leaves (NaN, ±inf, ±0, subnormals, huge and tiny numbers) and
//! random programs over every operation, poles and kinks included. Nothing panics, values are
//! the plain `f64` evaluation bit for bit, backward is deterministic, and leaves the root does
//! not depend on get exactly +0. And `Tape::neuron` against what it documents it is,
//! `affine` then the activation as a node of its own: the same bits, for any input.

use proptest::prelude::*;
use tapegrad::{Activation, AnomalyKind, Run, Tape, Var};

use crate::programs::{self, Deps, Kind};
use crate::reference::RefTape;
use crate::util::{ACTIVATIONS, activate, bitwise_eq, same};

/// Any f64 at all, or one of the specials, or an ordinary number.
pub(crate) fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => prop::num::f64::ANY,
        3 => prop::sample::select(vec![
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            1e-310,
            f64::MAX,
            f64::MIN,
            1.0,
            -1.0,
            709.79,
            -746.0,
        ]),
        4 => -10.0..=10.0,
    ]
}

proptest! {
    #[test]
    fn arbitrary_programs(program in programs::program(Kind::Raw, any_f64(), 1..=4, 1..=24)) {
        let tape = Tape::new();
        let leaves = programs::leaves(&tape, &program);
        let nodes = programs::run(Kind::Raw, &leaves, &program.steps);
        let root = *nodes.last().unwrap();

        // Values: the plain f64 evaluation, bit for bit (any NaN matches any NaN).
        let plain = programs::run(Kind::Raw, &program.leaves, &program.steps);
        for (k, (v, &p)) in nodes.iter().zip(&plain).enumerate() {
            prop_assert!(same(v.value(), p), "node {}: tape {:?}, f64 {:?}", k, v.value(), p);
        }

        // Backward twice: bitwise the same, whether the first Grads is alive or dropped.
        let g1 = root.backward();
        let g2 = root.backward();
        prop_assert!(bitwise_eq(g1.as_slice(), g2.as_slice()));
        let first = g1.as_slice().to_vec();
        drop(g1);
        drop(g2);
        let g3 = root.backward();
        prop_assert!(bitwise_eq(&first, g3.as_slice()));
        prop_assert_eq!(first.len(), root.index() + 1);
        prop_assert!(same(g3[root], 1.0));

        // Leaves the root does not depend on get exactly +0.
        let masks: Vec<Deps> = (0..leaves.len()).map(|k| Deps(1 << k)).collect();
        let deps = programs::run(Kind::Raw, &masks, &program.steps).last().unwrap().0;
        for (k, &leaf) in leaves.iter().enumerate() {
            if deps & (1 << k) == 0 {
                prop_assert!(same(g3[leaf], 0.0), "leaf {} unreachable, got {:?}", k, g3[leaf]);
            }
        }

        // Every node as a root: deterministic, and every gradient is the reference's (PyTorch's
        // rules, no shortcuts), NaN exactly where it has NaN, infinities and zeros with their
        // signs.
        let reference = RefTape::default();
        let rleaves: Vec<_> = program.leaves.iter().map(|&x| reference.var(x)).collect();
        let rnodes = programs::run(Kind::Raw, &rleaves, &program.steps);
        for (i, (v, r)) in nodes.iter().zip(&rnodes).enumerate() {
            let a = v.backward().as_slice().to_vec();
            let b = v.backward();
            prop_assert!(bitwise_eq(&a, b.as_slice()));
            let want = reference.grads(*r);
            for (k, (u, q)) in nodes.iter().zip(&rnodes).enumerate() {
                prop_assert!(
                    same(b[*u], want[q.id()]),
                    "d node {} / d node {}: engine {:?}, reference {:?}",
                    i, k, b[*u], want[q.id()]
                );
            }
        }

        // The checked backward agrees with the plain one when it succeeds, and otherwise
        // points at a node with a non-finite value or gradient.
        match root.backward_checked() {
            Ok(g) => {
                prop_assert!(bitwise_eq(&first, g.as_slice()));
                prop_assert!(first.iter().all(|g| g.is_finite()));
            }
            Err(e) => {
                prop_assert!(e.node.id <= root.index());
                match e.kind {
                    AnomalyKind::Value { value } => prop_assert!(!value.is_finite()),
                    AnomalyKind::Gradient { operand, gradient } => {
                        prop_assert!(!gradient.is_finite());
                        prop_assert!(operand < e.node.id);
                    }
                }
                prop_assert!(!e.to_string().is_empty());
            }
        }

        // DOT export copes with every value.
        let dot = root.to_dot(Some(&g3));
        let well_formed = dot.starts_with("digraph") && dot.trim_end().ends_with('}');
        prop_assert!(well_formed, "{}", dot);
    }
}

// ---------------------------------------------------------------------------------------------
// `Tape::neuron` is `affine` then the activation, bit for bit.

/// Where a neuron's output goes, so its upstream gradient is not just 1.
#[derive(Clone, Copy, Debug)]
enum Downstream {
    /// The neuron is the root: upstream 1.
    Root,
    /// `h·s + h`: used twice, upstream s + 1 (0 at s = −1, inf, NaN, …).
    Twice,
    /// `(h·h)·s`: one product with itself, upstream 2hs.
    Square,
    /// `sum([h, h, s]).tanh()`: an n-ary node with a repeated operand, then a squash.
    SumTanh,
    /// A second layer: two neurons over the same inputs (the second with the activation
    /// `other`) make a run, and a third neuron (activation `act`) with weights
    /// `(s, s2, b2)` reads it.
    Layer,
}

const DOWNSTREAMS: [Downstream; 5] = [
    Downstream::Root,
    Downstream::Twice,
    Downstream::Square,
    Downstream::SumTanh,
    Downstream::Layer,
];

/// Everything one side of the comparison computes.
struct Side {
    /// The neuron's value and the root's.
    values: [f64; 2],
    /// d root / d (weights then bias, inputs, s, s2, b2, the neuron).
    grads: Vec<f64>,
    /// Whether `backward_checked` from the root succeeded, and if so with the same bits as
    /// `backward`.
    checked_ok: bool,
}

/// Records the neuron `act(wb·x + b)` on a fresh tape, fused (`Tape::neuron`) or as
/// `affine` then the activation as its own node, feeds it to `down`, and differentiates.
fn neuron_side(
    wb: &[f64],
    x: &[f64],
    [s, s2, b2]: [f64; 3],
    act: Activation,
    other: Activation,
    down: Downstream,
    fused: bool,
) -> Side {
    let tape = Tape::new();
    let (wr, xr) = (tape.run(wb), tape.run(x));
    let extra = tape.run(&[s, s2, b2]);
    let s = extra.get(0);
    // A layer's neurons: with the composite, every pre-activation first, so the outputs are a
    // run (as the `mlp` crate records them).
    let layer = |acts: &[Activation]| -> Vec<Var> {
        if fused {
            acts.iter().map(|&a| tape.neuron(wr, xr, a)).collect()
        } else {
            let z: Vec<Var> = acts.iter().map(|_| tape.affine(wr, xr)).collect();
            z.iter().zip(acts).map(|(&z, &a)| activate(z, a)).collect()
        }
    };
    let (h, root) = match down {
        Downstream::Root => {
            let h = layer(&[act])[0];
            (h, h)
        }
        Downstream::Twice => {
            let h = layer(&[act])[0];
            (h, h * s + h)
        }
        Downstream::Square => {
            let h = layer(&[act])[0];
            (h, (h * h) * s)
        }
        Downstream::SumTanh => {
            let h = layer(&[act])[0];
            (h, tape.sum([h, h, s]).tanh())
        }
        Downstream::Layer => {
            let hs = layer(&[other, act]);
            let hr = Run::new(&hs).expect("a layer's outputs are a run");
            let v = extra.slice(0..3);
            let out = if fused {
                tape.neuron(v, hr, act)
            } else {
                activate(tape.affine(v, hr), act)
            };
            (hs[1], out)
        }
    };
    let g = root.backward();
    let mut grads = g.wrt_run(wr);
    grads.extend(g.wrt_run(xr));
    grads.extend(g.wrt_run(extra));
    grads.push(g[h]);
    let checked_ok = match root.backward_checked() {
        Ok(c) => {
            assert!(bitwise_eq(c.as_slice(), g.as_slice()), "checked ≠ plain");
            true
        }
        Err(_) => false,
    };
    Side {
        values: [h.value(), root.value()],
        grads,
        checked_ok,
    }
}

/// Compares the two sides; `Err` describes the first difference.
fn compare_neuron(
    wb: &[f64],
    x: &[f64],
    extra: [f64; 3],
    act: Activation,
    other: Activation,
    down: Downstream,
) -> Result<(), String> {
    let fused = neuron_side(wb, x, extra, act, other, down, true);
    let composite = neuron_side(wb, x, extra, act, other, down, false);
    let at = format!("{act:?} ({other:?}), {down:?}, wb = {wb:?}, x = {x:?}, extra = {extra:?}");
    for (k, (&a, &b)) in fused.values.iter().zip(&composite.values).enumerate() {
        if !same(a, b) {
            return Err(format!("{at}: value {k}: neuron {a:?}, composite {b:?}"));
        }
    }
    for (k, (&a, &b)) in fused.grads.iter().zip(&composite.grads).enumerate() {
        if !same(a, b) {
            return Err(format!("{at}: gradient {k}: neuron {a:?}, composite {b:?}"));
        }
    }
    // Anomaly detection may differ only one way: the composite also checks its pre-activation
    // nodes, so it can fail where the neuron succeeds, never the reverse.
    if composite.checked_ok && !fused.checked_ok {
        return Err(format!("{at}: the neuron's checked backward fails alone"));
    }
    Ok(())
}

proptest! {
    #[test]
    fn neuron_is_affine_then_activation(
        (wb, xs) in (0..5usize).prop_flat_map(|n| {
            (prop::collection::vec(any_f64(), n + 1), prop::collection::vec(any_f64(), n))
        }),
        extra in [any_f64(), any_f64(), any_f64()],
        act in prop::sample::select(ACTIVATIONS.to_vec()),
        other in prop::sample::select(ACTIVATIONS.to_vec()),
    ) {
        for down in DOWNSTREAMS {
            let r = compare_neuron(&wb, &xs, extra, act, other, down);
            prop_assert!(r.is_ok(), "{}", r.unwrap_err());
        }
    }
}

#[test]
fn neuron_is_affine_then_activation_at_every_special() {
    // Every combination of one weight, one input and the bias from the specials (so dead and
    // live relus, saturated tanh and sigmoid, 0·inf, inf − inf, overflow of the product and of
    // the sum from finite operands), with upstream gradients 1, 0, ±inf, NaN and huge ones,
    // through every downstream shape.
    const SPECIALS: [f64; 14] = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        2.5,
        -20.0,
        1000.0,
        1e-310,
        f64::MAX,
        f64::MIN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        -746.0,
    ];
    let ups = [
        [1.0, 0.5, -0.25],
        [-1.0, 1.0, 0.0],
        [f64::INFINITY, -1.0, 1e300],
        [f64::NAN, 0.0, -0.0],
        [1e300, f64::NEG_INFINITY, 2.0],
    ];
    let mut failures = Vec::new();
    let mut turn = 0;
    for w in SPECIALS {
        for x in SPECIALS {
            for b in SPECIALS {
                for act in ACTIVATIONS {
                    // The root alone (upstream 1; `extra` is unused); `h·s + h` with every
                    // upstream; the other shapes with one upstream each, in turn.
                    let mut cases = vec![(Downstream::Root, ups[0])];
                    cases.extend(ups.iter().map(|&u| (Downstream::Twice, u)));
                    for down in [Downstream::Square, Downstream::SumTanh, Downstream::Layer] {
                        turn += 1;
                        cases.push((down, ups[turn % ups.len()]));
                    }
                    for (down, extra) in cases {
                        let other = ACTIVATIONS[turn % 3];
                        if let Err(e) = compare_neuron(&[w, b], &[x], extra, act, other, down) {
                            failures.push(e);
                        }
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences, the first: {:#?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
}

// ---------------------------------------------------------------------------------------------
// Runs of zero gradients: the clean sweep passes them 8 nodes at a time.

/// Blocks of `len` nodes `s = s·w + x` ending in a relu that is dead or alive by `alive`, each
/// block's output added into the total and (when `link`) also feeding the next block, so that
/// live nodes sit right below runs of zero gradients of every length and alignment. Returns
/// every recorded node, the total last.
fn blocks<T: programs::Scalar>(leaves: &[T], spec: &[(usize, bool, bool)]) -> Vec<T> {
    let (w, x) = (leaves[0], leaves[1]);
    let (mut total, mut carry) = (leaves[2], leaves[3]);
    let mut nodes = vec![];
    for &(len, alive, link) in spec {
        let mut s = carry;
        for _ in 0..len {
            s = s * w + x;
            nodes.push(s);
        }
        // s² + 1 > 0 (alive) or −s² − 1 < 0 (dead): the relu decides the whole block.
        let z = if alive { s * s + 1.0 } else { -(s * s) - 1.0 };
        let h = z.relu();
        nodes.extend([z, h]);
        total = total + h;
        nodes.push(total);
        if link {
            carry = h * 1e-3 + w;
            nodes.push(carry);
        }
    }
    nodes
}

proptest! {
    /// The clean sweep's skipping of zero runs gives the reference's gradients (which visits
    /// every node), for runs of zeros of every length and alignment, with live nodes below.
    #[test]
    fn runs_of_zero_gradients(
        leaves in prop::collection::vec(-1.2f64..1.2, 4),
        spec in prop::collection::vec((0..20usize, any::<bool>(), any::<bool>()), 1..12),
    ) {
        let tape = Tape::new();
        let vars = tape.vars(&leaves);
        let nodes = blocks(&vars, &spec);
        let reference = RefTape::default();
        let rleaves: Vec<_> = leaves.iter().map(|&v| reference.var(v)).collect();
        let rnodes = blocks(&rleaves, &spec);
        let (root, rroot) = (*nodes.last().unwrap(), *rnodes.last().unwrap());
        let g = root.backward();
        let want = reference.grads(rroot);
        for (k, (v, r)) in vars.iter().chain(&nodes).zip(rleaves.iter().chain(&rnodes)).enumerate() {
            prop_assert!(
                same(g[*v], want[r.id()]),
                "node {}: engine {:?}, reference {:?}", k, g[*v], want[r.id()]
            );
        }
        // Dead blocks leave zeros: the case this test is for.
        prop_assert!(spec.iter().all(|b| b.1) || g.as_slice().contains(&0.0));
    }
}

/// Pins the sweep's order of additions for a node whose gradient comes from consumers one, two
/// and four nodes above it. The clean sweep keeps the two nodes below the current one in
/// registers (`Carry` in tape.rs); a sum formed in any other order than the buffer's
/// `((0 + 1e16) + 1) + 1` gives 1e16 + 2 here instead of 1e16.
#[test]
fn near_and_far_contributions_add_in_sweep_order() {
    let tape = Tape::new();
    let x = tape.var(3.0);
    let near = x * 1.0; // one above x
    let next = x * 1.0; // two above x
    let _gap = tape.var(0.0);
    let far = x * 1e16; // four above x: its 1e16 is added first
    let root = near + next + far;
    let g = root.backward();
    assert_eq!(g[x].to_bits(), 1e16f64.to_bits(), "got {:?}", g[x]);
    assert_eq!([g[near], g[next], g[far]], [1.0; 3]);

    let reference = RefTape::default();
    let rx = reference.var(3.0);
    let rroot = rx * 1.0 + rx * 1.0 + rx * 1e16;
    assert_eq!(reference.grads(rroot)[rx.id()].to_bits(), g[x].to_bits());
}
