//! Random straight-line programs over every operation, recorded once by [`build`] (generic
//! over the tape's number), run on a lane tape and on a scalar tape per lane: every node's
//! value and gradient must be the same bits, lane by lane.

use proptest::prelude::*;
use tapegrad::{Lanes, Number, Run, Tape, Var};

use super::{assert_lane_same, lane_of};
use crate::programs::Step;
use crate::util::ACTIVATIONS;

/// Constants for `Var ∘ c` and `c ∘ Var`: ordinary numbers and every special.
const CONSTANTS: [f64; 16] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    2.0,
    3.0,
    1.0 / 3.0,
    -2.5,
    1e-310,
    1e300,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    710.0,
    -746.0,
];

/// `powf` exponents: 0, ±½ (computed as `sqrt`, `1/sqrt`), integers, and non-integers.
const POWF: [f64; 10] = [0.0, 0.5, -0.5, 2.0, 3.0, -1.0, 1.5, 1.0 / 3.0, -2.5, 7.0];

/// `powi` exponents.
const POWI: [i32; 8] = [0, 2, 3, -1, 1, -2, 7, -5];

/// The number of operations [`build`] knows.
const OPS: u8 = 40;

/// How the inputs go on the tape: the fused nodes store ranges over contiguous leaves and lists
/// otherwise, and a lane tape must give the same bits either way.
#[derive(Clone, Copy, Debug)]
pub enum Leaves {
    /// `Tape::vars`.
    Vars,
    /// `Tape::run`.
    Run,
    /// One `Tape::var` each, with an unused non-finite leaf after each: not contiguous, and a
    /// NaN on the tape that no gradient may see.
    Spaced,
}

/// Records `values` as leaves the way `how` says; `spacer` is the unused leaf of `Spaced`.
pub fn record_leaves<'t, T: Number>(
    tape: &'t Tape<T>,
    values: &[T],
    how: Leaves,
    spacer: T,
) -> Vec<Var<'t, T>> {
    match how {
        Leaves::Vars => tape.vars(values),
        Leaves::Run => tape.run(values).to_vec(),
        Leaves::Spaced => values
            .iter()
            .map(|&x| {
                let v = tape.var(x);
                let _spacer = tape.var(spacer);
                v
            })
            .collect(),
    }
}

/// Runs `steps` over `inputs` on `tape`: step `i` applies an operation to nodes picked among the
/// ones before it. Returns the inputs, the leaves some steps record, and every step's result,
/// the root last. Written once for every `T`, so both tapes record the same program. `gap`
/// unused leaves go on the tape before each step.
pub fn build<'t, T: Number>(
    tape: &'t Tape<T>,
    inputs: &[Var<'t, T>],
    steps: &[Step],
    gap: usize,
) -> Vec<Var<'t, T>> {
    let mut nodes = inputs.to_vec();
    for s in steps {
        tape.vars(&vec![T::splat(0.75); gap]);
        let i = nodes.len();
        let (p, q, r) = (nodes[s.a % i], nodes[s.b % i], nodes[s.c % i]);
        let c = CONSTANTS[s.k % CONSTANTS.len()];
        let act = ACTIVATIONS[s.k % ACTIVATIONS.len()];
        // Arrays below record one node per element, left to right, so they are runs.
        let run = |vars: &[Var<'t, T>]| Run::new(vars).expect("recorded one after another");
        let y = match s.op % OPS {
            0 => p + q,
            1 => p - q,
            2 => p * q,
            3 => p / q,
            4 => -p,
            5 => p.exp(),
            6 => p.ln(),
            7 => p.tanh(),
            8 => p.sigmoid(),
            9 => p.relu(),
            10 => p.sqrt(),
            11 => p.abs(),
            12 => p.recip(),
            13 => p.sin(),
            14 => p.cos(),
            15 => p.sinh(),
            16 => p.cosh(),
            17 => p.powf(POWF[s.k % POWF.len()]),
            18 => p.powi(POWI[s.k % POWI.len()]),
            19 => p + c,
            20 => c + p,
            21 => p - c,
            22 => c - p,
            23 => p * c,
            24 => c * p,
            25 => p / c,
            26 => c / p,
            27 => p.powf(c),
            // Lists of operands, repeats included, and the empty sum and dot (+0 in every lane).
            28 => {
                let none: [Var<'t, T>; 0] = [];
                tape.sum([p, q, r, p]) + tape.sum(none)
            }
            29 => tape.dot(&[p, q], &[r, p]) * tape.dot(&[], &[]).exp(),
            // Ranges: operands recorded one after another.
            30 => {
                let terms = [p.abs(), -q, r.exp()];
                tape.sum(&terms)
            }
            31 => {
                let w = [p.sqrt(), q.ln()];
                let x = [r * p, q.relu()];
                tape.dot(&w, &x)
            }
            32 => {
                let w = [p * q, -r];
                let x = [q - p, p.recip()];
                tape.dot_run(run(&w), run(&x))
            }
            33 => {
                let wb = [q * r, -p, r.relu()];
                let x = [p.sqrt(), q / r];
                tape.affine(run(&wb), run(&x))
            }
            34 => {
                let wb = [p * c, q.exp(), -r];
                let x = [r.recip(), p + c];
                tape.neuron(run(&wb), run(&x), act)
            }
            // A neuron over new leaves bound with `Tape::run` (their gradients are compared
            // too), and one over leaves bound with `Tape::vars`.
            35 => {
                let x = tape.run(&[p.value(), q.value()]);
                nodes.extend(x.iter());
                let wb = [r.tanh(), p - q, r * c];
                tape.neuron(run(&wb), x, act)
            }
            36 => {
                let x = tape.vars(&[r.value()]);
                nodes.extend(&x);
                let wb = [p.sin(), q.cos()];
                tape.neuron(run(&wb), run(&x), act)
            }
            // The inputs themselves as a run, when they were recorded as one.
            37 => match Run::new(inputs) {
                Some(x) => {
                    let wb: Vec<_> = (0..=inputs.len()).map(|j| p * (j as f64 - 1.0)).collect();
                    tape.neuron(run(&wb), x, act) + tape.dot_run(x, x) + tape.sum(inputs)
                }
                None => tape.dot(inputs, inputs) * q,
            },
            // A layer of two neurons over the same inputs (a run) feeding a third.
            38 => {
                let wb = [p - q, q * c, r.sin()];
                let x = [r.exp(), p.relu()];
                let h = [
                    tape.neuron(run(&wb), run(&x), act),
                    tape.neuron(run(&wb), run(&x), ACTIVATIONS[(s.k + 1) % 4]),
                ];
                let v = [q.cos(), -r, p * q];
                tape.neuron(run(&v), run(&h), ACTIVATIONS[(s.k + 2) % 4]) + h[0]
            }
            // Compound assignment.
            39 => {
                let mut y = p;
                y += q;
                y *= r;
                y -= c;
                y /= p;
                y
            }
            op => unreachable!("op {op} out of range"),
        };
        nodes.push(y);
    }
    nodes
}

/// A program and its inputs, `inputs[i][l]` lane `l` of input `i`.
#[derive(Clone, Debug)]
pub struct Case {
    pub inputs: Vec<Vec<f64>>,
    pub steps: Vec<Step>,
    pub leaves: Leaves,
}

/// Inputs with every kind of number: ±0, subnormals, huge, negative, and now and then NaN and
/// ±inf (one lane's NaN must not reach another lane).
fn input() -> impl Strategy<Value = f64> {
    prop_oneof![
        2 => Just(0.0),
        2 => Just(-0.0),
        1 => Just(5e-324),
        1 => Just(-1e-310),
        1 => Just(1e300),
        1 => Just(-1e300),
        1 => Just(1.0),
        1 => Just(-1.0),
        8 => -3.0..3.0f64,
        2 => -800.0..800.0f64,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
    ]
}

/// Finite inputs of moderate size, for programs that mostly stay finite: a lane tape's
/// sweep skips zero adjoints only while every lane is.
fn finite_input() -> impl Strategy<Value = f64> {
    prop_oneof![
        1 => Just(0.0),
        1 => Just(-0.0),
        1 => Just(1.0),
        6 => -3.0..3.0f64,
    ]
}

pub fn case(lanes: usize) -> impl Strategy<Value = Case> {
    case_of(lanes, input().boxed())
}

/// [`case`] with finite inputs only ([`finite_input`]).
pub fn finite_case(lanes: usize) -> impl Strategy<Value = Case> {
    case_of(lanes, finite_input().boxed())
}

fn case_of(lanes: usize, input: BoxedStrategy<f64>) -> impl Strategy<Value = Case> {
    let step = (
        0..OPS,
        any::<usize>(),
        any::<usize>(),
        any::<usize>(),
        any::<usize>(),
    )
        .prop_map(|(op, a, b, c, k)| Step { op, a, b, c, k });
    let leaves = prop_oneof![Just(Leaves::Vars), Just(Leaves::Run), Just(Leaves::Spaced)];
    (
        prop::collection::vec(prop::collection::vec(input, lanes), 1..=4),
        prop::collection::vec(step, 1..=24),
        leaves,
    )
        .prop_map(|(inputs, steps, leaves)| Case {
            inputs,
            steps,
            leaves,
        })
}

/// Values of every node [`build`] returns, then their gradients from the root, then from a
/// node in the middle, a second sweep on the same tape (it reuses the first one's buffers).
/// With `pad` unused leaves on the tape: a quarter before the inputs, the rest between the
/// inputs and the program, and then 65 before each step, so that each step's nodes sit in
/// blocks of their own with unused blocks between them.
pub fn run_after<T: Number>(
    pad: usize,
    inputs: &[T],
    steps: &[Step],
    leaves: Leaves,
) -> (Vec<T>, Vec<T>) {
    let tape = Tape::<T>::new();
    let unused = T::splat(0.25);
    tape.vars(&vec![unused; pad / 4]);
    let xs = record_leaves(&tape, inputs, leaves, T::splat(f64::NAN));
    tape.vars(&vec![unused; pad - pad / 4]);
    let nodes = build(&tape, &xs, steps, if pad > 0 { 65 } else { 0 });
    let mut grads = Vec::new();
    for root in [nodes.len() - 1, nodes.len() / 2] {
        let g = nodes[root].backward();
        grads.extend(nodes.iter().map(|&v| g[v]));
    }
    (nodes.iter().map(|v| v.value()).collect(), grads)
}

/// The lane tape against one scalar tape per lane, every node's value and gradient.
fn check<const N: usize>(case: &Case) {
    check_after::<N>(0, case);
}

/// [`check`], with `pad` unused leaves before the program on every tape.
pub fn check_after<const N: usize>(pad: usize, case: &Case) {
    let inputs: Vec<Lanes<N>> = case
        .inputs
        .iter()
        .map(|x| Lanes::from_fn(|l| x[l]))
        .collect();
    let (values, grads) = run_after(pad, &inputs, &case.steps, case.leaves);
    for l in 0..N {
        let (want_values, want_grads) =
            run_after(pad, &lane_of(&inputs, l), &case.steps, case.leaves);
        assert_lane_same(&values, l, &want_values, "value");
        assert_lane_same(&grads, l, &want_grads, "gradient");
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        ..ProptestConfig::default()
    })]

    #[test]
    fn one_lane_is_the_scalar_tape(case in case(1)) {
        check::<1>(&case);
    }

    #[test]
    fn four_lanes_are_four_scalar_tapes(case in case(4)) {
        check::<4>(&case);
    }

    #[test]
    fn eight_lanes_are_eight_scalar_tapes(case in case(8)) {
        check::<8>(&case);
    }

    #[test]
    fn sixteen_lanes_are_sixteen_scalar_tapes(case in case(16)) {
        check::<16>(&case);
    }
}

/// Every operation of [`build`] at least once, on lanes holding each special number, so a
/// gap in the random draws cannot hide an operation.
#[test]
fn every_operation_on_every_special() {
    let specials = [
        0.0,
        -0.0,
        1e-310,
        1e300,
        -2.5,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    // Three inputs whose lanes are the specials in three rotations, so every pair meets.
    let inputs: Vec<Vec<f64>> = (0..3)
        .map(|i| (0..8).map(|l| specials[(l + 3 * i) % 8]).collect())
        .collect();
    for op in 0..OPS {
        for k in 0..CONSTANTS.len() {
            for leaves in [Leaves::Vars, Leaves::Run, Leaves::Spaced] {
                let steps = vec![
                    Step {
                        op,
                        a: 0,
                        b: 1,
                        c: 2,
                        k,
                    },
                    Step {
                        op,
                        a: 3,
                        b: 0,
                        c: 3,
                        k,
                    },
                ];
                let case = Case {
                    inputs: inputs.clone(),
                    steps,
                    leaves,
                };
                check::<8>(&case);
            }
        }
    }
}
