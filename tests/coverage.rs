//! Every public operation in one list. `Op` is crate-private, so this lists the public ways to
//! record a node instead: a new operation needs a new `PublicOp` variant, and the `match` in
//! [`case`] (no `_ =>` arm) does not compile until it has a test case. Each case is checked in
//! reverse mode (`backward`) and in forward mode (`Var::jvp`).

use tapegrad::{Activation, Run, Tape, Var, check};

use crate::util::{assert_close, assert_same};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PublicOp {
    Var,
    Vars,
    ExtendVars,
    RunLeaves,
    AddVarVar,
    AddVarF64,
    AddF64Var,
    AddAssignVar,
    AddAssignF64,
    SubVarVar,
    SubVarF64,
    SubF64Var,
    SubAssignVar,
    SubAssignF64,
    MulVarVar,
    MulVarF64,
    MulF64Var,
    MulAssignVar,
    MulAssignF64,
    DivVarVar,
    DivVarF64,
    DivF64Var,
    DivAssignVar,
    DivAssignF64,
    Neg,
    Exp,
    Ln,
    Tanh,
    Sigmoid,
    Relu,
    Sqrt,
    Abs,
    Powf,
    Powi,
    Recip,
    Sin,
    Cos,
    Sinh,
    Cosh,
    SumRange,
    SumList,
    SumEmpty,
    DotRange,
    DotList,
    DotRun,
    Affine,
    NeuronRelu,
    NeuronTanh,
    NeuronSigmoid,
    DotEmpty,
}

use PublicOp::*;

const ALL: [PublicOp; 50] = [
    Var,
    Vars,
    ExtendVars,
    RunLeaves,
    AddVarVar,
    AddVarF64,
    AddF64Var,
    AddAssignVar,
    AddAssignF64,
    SubVarVar,
    SubVarF64,
    SubF64Var,
    SubAssignVar,
    SubAssignF64,
    MulVarVar,
    MulVarF64,
    MulF64Var,
    MulAssignVar,
    MulAssignF64,
    DivVarVar,
    DivVarF64,
    DivF64Var,
    DivAssignVar,
    DivAssignF64,
    Neg,
    Exp,
    Ln,
    Tanh,
    Sigmoid,
    Relu,
    Sqrt,
    Abs,
    Powf,
    Powi,
    Recip,
    Sin,
    Cos,
    Sinh,
    Cosh,
    SumRange,
    SumList,
    SumEmpty,
    DotRange,
    DotList,
    DotRun,
    Affine,
    NeuronRelu,
    NeuronTanh,
    NeuronSigmoid,
    DotEmpty,
];

type Build = for<'t> fn(&'t Tape, &[Var<'t>]) -> Var<'t>;

/// One operation's test: inputs, how many nodes the operation records, what it builds, its
/// value and gradient in closed form (plain f64).
struct Case {
    point: &'static [f64],
    nodes: usize,
    build: Build,
    value: fn(&[f64]) -> f64,
    grad: fn(&[f64]) -> Vec<f64>,
}

fn case(op: PublicOp) -> Case {
    const P1: &[f64] = &[0.7];
    const P2: &[f64] = &[1.5, -2.25];
    match op {
        // Leaves: no dependence on the inputs.
        Var => Case {
            point: P1,
            nodes: 1,
            build: |t, _| t.var(1.25),
            value: |_| 1.25,
            grad: |_| vec![0.0],
        },
        Vars => Case {
            point: P1,
            nodes: 3,
            build: |t, _| t.vars(&[1.0, 2.0, 3.0])[2],
            value: |_| 3.0,
            grad: |_| vec![0.0],
        },
        ExtendVars => Case {
            point: P1,
            nodes: 2,
            build: |t, _| {
                let mut v = Vec::new();
                t.extend_vars(&mut v, &[4.0, 5.0]);
                v[1]
            },
            value: |_| 5.0,
            grad: |_| vec![0.0],
        },
        RunLeaves => Case {
            point: P1,
            nodes: 2,
            build: |t, _| t.run(&[6.0, 7.0]).get(1),
            value: |_| 7.0,
            grad: |_| vec![0.0],
        },
        AddVarVar => Case {
            point: P2,
            nodes: 1,
            build: |_, v| v[0] + v[1],
            value: |p| p[0] + p[1],
            grad: |_| vec![1.0, 1.0],
        },
        AddVarF64 => Case {
            point: P1,
            nodes: 1,
            build: |_, v| v[0] + 0.375,
            value: |p| p[0] + 0.375,
            grad: |_| vec![1.0],
        },
        AddF64Var => Case {
            point: P1,
            nodes: 1,
            build: |_, v| 0.375 + v[0],
            value: |p| 0.375 + p[0],
            grad: |_| vec![1.0],
        },
        AddAssignVar => Case {
            point: P2,
            nodes: 1,
            build: |_, v| {
                let mut c = v[0];
                c += v[1];
                c
            },
            value: |p| p[0] + p[1],
            grad: |_| vec![1.0, 1.0],
        },
        AddAssignF64 => Case {
            point: P1,
            nodes: 1,
            build: |_, v| {
                let mut c = v[0];
                c += 0.375;
                c
            },
            value: |p| p[0] + 0.375,
            grad: |_| vec![1.0],
        },
        SubVarVar => Case {
            point: P2,
            nodes: 1,
            build: |_, v| v[0] - v[1],
            value: |p| p[0] - p[1],
            grad: |_| vec![1.0, -1.0],
        },
        SubVarF64 => Case {
            point: P1,
            nodes: 1,
            build: |_, v| v[0] - 0.375,
            value: |p| p[0] - 0.375,
            grad: |_| vec![1.0],
        },
        SubF64Var => Case {
            point: P1,
            nodes: 1,
            build: |_, v| 0.375 - v[0],
            value: |p| 0.375 - p[0],
            grad: |_| vec![-1.0],
        },
        SubAssignVar => Case {
            point: P2,
            nodes: 1,
            build: |_, v| {
                let mut c = v[0];
                c -= v[1];
                c
            },
            value: |p| p[0] - p[1],
            grad: |_| vec![1.0, -1.0],
        },
        SubAssignF64 => Case {
            point: P1,
            nodes: 1,
            build: |_, v| {
                let mut c = v[0];
                c -= 0.375;
                c
            },
            value: |p| p[0] - 0.375,
            grad: |_| vec![1.0],
        },
        MulVarVar => Case {
            point: P2,
            nodes: 1,
            build: |_, v| v[0] * v[1],
            value: |p| p[0] * p[1],
            grad: |p| vec![p[1], p[0]],
        },
        MulVarF64 => Case {
            point: P1,
            nodes: 1,
            build: |_, v| v[0] * -3.5,
            value: |p| p[0] * -3.5,
            grad: |_| vec![-3.5],
        },
        MulF64Var => Case {
            point: P1,
            nodes: 1,
            build: |_, v| -3.5 * v[0],
            value: |p| -3.5 * p[0],
            grad: |_| vec![-3.5],
        },
        MulAssignVar => Case {
            point: P2,
            nodes: 1,
            build: |_, v| {
                let mut c = v[0];
                c *= v[1];
                c
            },
            value: |p| p[0] * p[1],
            grad: |p| vec![p[1], p[0]],
        },
        MulAssignF64 => Case {
            point: P1,
            nodes: 1,
            build: |_, v| {
                let mut c = v[0];
                c *= -3.5;
                c
            },
            value: |p| p[0] * -3.5,
            grad: |_| vec![-3.5],
        },
        DivVarVar => Case {
            point: P2,
            nodes: 1,
            build: |_, v| v[0] / v[1],
            value: |p| p[0] / p[1],
            grad: |p| vec![1.0 / p[1], -p[0] / (p[1] * p[1])],
        },
        DivVarF64 => Case {
            point: P1,
            nodes: 1,
            build: |_, v| v[0] / 8.0,
            value: |p| p[0] / 8.0,
            grad: |_| vec![0.125],
        },
        DivF64Var => Case {
            point: P1,
            nodes: 1,
            build: |_, v| 3.0 / v[0],
            value: |p| 3.0 / p[0],
            grad: |p| vec![-3.0 / (p[0] * p[0])],
        },
        DivAssignVar => Case {
            point: P2,
            nodes: 1,
            build: |_, v| {
                let mut c = v[0];
                c /= v[1];
                c
            },
            value: |p| p[0] / p[1],
            grad: |p| vec![1.0 / p[1], -p[0] / (p[1] * p[1])],
        },
        DivAssignF64 => Case {
            point: P1,
            nodes: 1,
            build: |_, v| {
                let mut c = v[0];
                c /= 8.0;
                c
            },
            value: |p| p[0] / 8.0,
            grad: |_| vec![0.125],
        },
        Neg => Case {
            point: P1,
            nodes: 1,
            build: |_, v| -v[0],
            value: |p| -p[0],
            grad: |_| vec![-1.0],
        },
        Exp => Case {
            point: P1,
            nodes: 1,
            build: |_, v| v[0].exp(),
            value: |p| p[0].exp(),
            grad: |p| vec![p[0].exp()],
        },
        Ln => Case {
            point: P1,
            nodes: 1,
            build: |_, v| v[0].ln(),
            value: |p| p[0].ln(),
            grad: |p| vec![1.0 / p[0]],
        },
        Tanh => Case {
            point: P1,
            nodes: 1,
            build: |_, v| v[0].tanh(),
            value: |p| p[0].tanh(),
            grad: |p| vec![1.0 / (p[0].cosh() * p[0].cosh())],
        },
        Sigmoid => Case {
            point: P1,
            nodes: 1,
            build: |_, v| v[0].sigmoid(),
            value: |p| 1.0 / (1.0 + (-p[0]).exp()),
            grad: |p| vec![(-p[0]).exp() / ((1.0 + (-p[0]).exp()) * (1.0 + (-p[0]).exp()))],
        },
        Relu => Case {
            point: P2,
            nodes: 3,
            build: |_, v| v[0].relu() + v[1].relu(),
            value: |p| p[0],
            grad: |_| vec![1.0, 0.0],
        },
        Sqrt => Case {
            point: P1,
            nodes: 1,
            build: |_, v| v[0].sqrt(),
            value: |p| p[0].sqrt(),
            grad: |p| vec![0.5 / p[0].sqrt()],
        },
        Abs => Case {
            point: P2,
            nodes: 3,
            build: |_, v| v[0].abs() + v[1].abs(),
            value: |p| p[0] - p[1],
            grad: |_| vec![1.0, -1.0],
        },
        Powf => Case {
            point: P1,
            nodes: 1,
            build: |_, v| v[0].powf(2.5),
            value: |p| p[0].powf(2.5),
            grad: |p| vec![2.5 * p[0] * p[0].sqrt()],
        },
        Powi => Case {
            point: P2,
            nodes: 1,
            build: |_, v| v[1].powi(3),
            value: |p| p[1].powi(3),
            grad: |p| vec![0.0, 3.0 * p[1] * p[1]],
        },
        Recip => Case {
            point: P2,
            nodes: 1,
            build: |_, v| v[1].recip(),
            value: |p| 1.0 / p[1],
            grad: |p| vec![0.0, -1.0 / (p[1] * p[1])],
        },
        Sin => Case {
            point: P1,
            nodes: 1,
            build: |_, v| v[0].sin(),
            value: |p| p[0].sin(),
            grad: |p| vec![p[0].cos()],
        },
        Cos => Case {
            point: P1,
            nodes: 1,
            build: |_, v| v[0].cos(),
            value: |p| p[0].cos(),
            grad: |p| vec![-p[0].sin()],
        },
        Sinh => Case {
            point: P1,
            nodes: 1,
            build: |_, v| v[0].sinh(),
            value: |p| p[0].sinh(),
            grad: |p| vec![p[0].cosh()],
        },
        Cosh => Case {
            point: P1,
            nodes: 1,
            build: |_, v| v[0].cosh(),
            value: |p| p[0].cosh(),
            grad: |p| vec![p[0].sinh()],
        },
        SumRange => Case {
            point: &[1.0, -2.5, 0.25],
            nodes: 1,
            build: |t, v| t.sum(v),
            value: |p| p[0] + p[1] + p[2],
            grad: |_| vec![1.0, 1.0, 1.0],
        },
        SumList => Case {
            point: &[1.0, -2.5, 0.25],
            nodes: 1,
            build: |t, v| t.sum([v[2], v[0], v[2], v[2]]),
            value: |p| p[2] + p[0] + p[2] + p[2],
            grad: |_| vec![1.0, 0.0, 3.0],
        },
        SumEmpty => Case {
            point: P1,
            nodes: 1,
            build: |t, _| t.sum(std::iter::empty::<Var>()),
            value: |_| 0.0,
            grad: |_| vec![0.0],
        },
        DotRange => Case {
            point: &[1.0, -2.5, 0.25, 4.0],
            nodes: 1,
            build: |t, v| t.dot(&v[..2], &v[2..]),
            value: |p| p[0] * p[2] + p[1] * p[3],
            grad: |p| vec![p[2], p[3], p[0], p[1]],
        },
        DotList => Case {
            point: &[1.0, -2.5, 0.25, 4.0],
            nodes: 1,
            build: |t, v| t.dot(&[v[3], v[0]], &[v[1], v[1]]),
            value: |p| p[3] * p[1] + p[0] * p[1],
            grad: |p| vec![p[1], p[3] + p[0], 0.0, p[1]],
        },
        DotRun => Case {
            point: &[1.0, -2.5, 0.25, 4.0],
            nodes: 1,
            build: |t, v| t.dot_run(Run::new(&v[..2]).unwrap(), Run::new(&v[2..]).unwrap()),
            value: |p| p[0] * p[2] + p[1] * p[3],
            grad: |p| vec![p[2], p[3], p[0], p[1]],
        },
        Affine => Case {
            point: &[1.0, -2.5, 0.5, 0.25, 4.0],
            nodes: 1,
            build: |t, v| t.affine(Run::new(&v[..3]).unwrap(), Run::new(&v[3..]).unwrap()),
            value: |p| (p[0] * p[3] + p[1] * p[4]) + p[2],
            grad: |p| vec![p[3], p[4], 1.0, p[0], p[1]],
        },
        // One node for act(w·x + b): w = p[0..2], b = p[2], x = p[3..5]. relu on the side
        // where it passes the gradient, z = 1·0.25 + (−2.5)·(−4) + 0.5 = 10.75 (the kink and
        // the dead side are golden tests); tanh and sigmoid at z = 0.4 − 0.15 + 0.1 = 0.35, with
        // d act/dz = 1/cosh²z and e⁻ᶻ/(1 + e⁻ᶻ)², and dz/d(w, b, x) = (x, 1, w).
        NeuronRelu => Case {
            point: &[1.0, -2.5, 0.5, 0.25, -4.0],
            nodes: 1,
            build: |t, v| {
                let (wb, x) = (Run::new(&v[..3]).unwrap(), Run::new(&v[3..]).unwrap());
                t.neuron(wb, x, Activation::Relu)
            },
            value: |p| {
                let z = (p[0] * p[3] + p[1] * p[4]) + p[2];
                assert!(z > 0.0);
                z
            },
            grad: |p| vec![p[3], p[4], 1.0, p[0], p[1]],
        },
        NeuronTanh => Case {
            point: &[0.5, -0.25, 0.1, 0.8, 0.6],
            nodes: 1,
            build: |t, v| {
                let (wb, x) = (Run::new(&v[..3]).unwrap(), Run::new(&v[3..]).unwrap());
                t.neuron(wb, x, Activation::Tanh)
            },
            value: |p| ((p[0] * p[3] + p[1] * p[4]) + p[2]).tanh(),
            grad: |p| {
                let z = (p[0] * p[3] + p[1] * p[4]) + p[2];
                let d = 1.0 / (z.cosh() * z.cosh());
                vec![d * p[3], d * p[4], d, d * p[0], d * p[1]]
            },
        },
        NeuronSigmoid => Case {
            point: &[0.5, -0.25, 0.1, 0.8, 0.6],
            nodes: 1,
            build: |t, v| {
                let (wb, x) = (Run::new(&v[..3]).unwrap(), Run::new(&v[3..]).unwrap());
                t.neuron(wb, x, Activation::Sigmoid)
            },
            value: |p| 1.0 / (1.0 + (-((p[0] * p[3] + p[1] * p[4]) + p[2])).exp()),
            grad: |p| {
                let e = (-((p[0] * p[3] + p[1] * p[4]) + p[2])).exp();
                let d = e / ((1.0 + e) * (1.0 + e));
                vec![d * p[3], d * p[4], d, d * p[0], d * p[1]]
            },
        },
        DotEmpty => Case {
            point: P1,
            nodes: 1,
            build: |t, _| t.dot(&[], &[]),
            value: |_| 0.0,
            grad: |_| vec![0.0],
        },
    }
}

#[test]
fn every_public_operation() {
    for (k, &op) in ALL.iter().enumerate() {
        // ALL lists the variants in declaration order, so each appears exactly once.
        assert_eq!(op as usize, k, "{op:?} out of place in ALL");
        let c = case(op);
        let tape = Tape::new();
        let x = tape.vars(c.point);
        let y = (c.build)(&tape, &x);
        // The node count: the operation's own nodes, no leaf for a constant.
        assert_eq!(tape.len(), c.point.len() + c.nodes, "{op:?}: nodes");
        assert_eq!(
            y.index(),
            tape.len() - 1,
            "{op:?}: the result is the last node"
        );
        // The value, bit for bit.
        assert_same(y.value(), (c.value)(c.point), &format!("{op:?}: value"));
        // The gradient against the closed form and against central differences.
        let g = y.backward().wrt_all(&x);
        let want = (c.grad)(c.point);
        assert_eq!(g.len(), want.len(), "{op:?}");
        for (i, (&g, &w)) in g.iter().zip(&want).enumerate() {
            if w == 0.0 {
                assert_same(g, 0.0, &format!("{op:?}: d/dx{i}"));
            } else {
                assert_close(g, w, 1e-14, &format!("{op:?}: d/dx{i}"));
            }
        }
        let report = check::gradient(c.build, c.point);
        assert!(report.passed(), "{op:?}: {report}");
    }
}

/// The direction of the forward-mode column: entries of both signs and sizes, none 0.
const DIRECTION: [f64; 5] = [0.6, -1.1, 0.35, 0.9, -0.45];

/// The forward-mode column: for every case, `Var::jvp` along [`DIRECTION`] is Σ grad·v from
/// the closed form to rounding, and the central difference along v with the step and
/// tolerance of `check::gradient` (step 1e-6·max(1, |x|∞), pass within 1e-5·(1 + magnitude)).
#[test]
fn every_public_operation_forward() {
    let config = check::Config::default();
    for op in ALL {
        let c = case(op);
        let v = &DIRECTION[..c.point.len()];
        let tape = Tape::new();
        let x = tape.vars(c.point);
        let y = (c.build)(&tape, &x);
        let len = tape.len();
        let jvp = y.jvp(&x, v);
        assert_eq!(tape.len(), len, "{op:?}: jvp records nothing");

        let grad = (c.grad)(c.point);
        let want: f64 = grad.iter().zip(v).map(|(g, v)| g * v).sum();
        let terms: f64 = grad.iter().zip(v).map(|(g, v)| (g * v).abs()).sum();
        if terms == 0.0 {
            assert_same(jvp, 0.0, &format!("{op:?}: jvp of a constant"));
        } else {
            assert!(
                (jvp - want).abs() <= 1e-14 * terms,
                "{op:?}: jvp {jvp:e}, closed form {want:e}"
            );
        }

        let widest = c.point.iter().fold(1.0f64, |m, p| m.max(p.abs()));
        let h = config.relative_step * widest;
        let at = |s: f64| -> f64 {
            let t = Tape::new();
            let p: Vec<f64> = c.point.iter().zip(v).map(|(p, v)| p + s * v).collect();
            let xs = t.vars(&p);
            (c.build)(&t, &xs).value()
        };
        let numeric = (at(h) - at(-h)) / (2.0 * h);
        assert!(
            (jvp - numeric).abs() <= config.tolerance * (1.0 + jvp.abs().max(numeric.abs())),
            "{op:?}: jvp {jvp:e}, central difference {numeric:e}"
        );
    }
}

#[test]
fn the_list_ends_with_the_last_variant() {
    // Keep `DotEmpty` the last variant declared, or move this check to the new last one.
    assert_eq!(ALL.len(), DotEmpty as usize + 1);
    assert_eq!(ALL[ALL.len() - 1], DotEmpty);
}
