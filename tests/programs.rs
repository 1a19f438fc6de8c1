//! Random programs: a tape over a few leaves where step `i` applies an operation to parents
//! picked from the nodes before it, so programs reuse nodes and fan out.
//!
//! The interpreter is generic over [`Scalar`], so the same program runs on a tape ([`Var`]), on
//! plain `f64` (the straight re-evaluation the tape's values must equal bit for bit) and on
//! [`Deps`] (which leaves each node depends on, to know which gradients must be exactly 0).

use std::ops::{Add, Div, Mul, Neg, Sub};

use proptest::prelude::*;
use tapegrad::{Activation, Run, Var};

/// What the interpreter needs from a number type.
pub trait Scalar:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + Add<f64, Output = Self>
    + Sub<f64, Output = Self>
    + Mul<f64, Output = Self>
    + Div<f64, Output = Self>
{
    /// `c + self`, the `f64 ∘ Var` form.
    fn radd(self, c: f64) -> Self;
    /// `c − self`.
    fn rsub(self, c: f64) -> Self;
    /// `c · self`.
    fn rmul(self, c: f64) -> Self;
    /// `c / self`.
    fn rdiv(self, c: f64) -> Self;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn tanh(self) -> Self;
    fn sigmoid(self) -> Self;
    fn relu(self) -> Self;
    fn sqrt(self) -> Self;
    fn abs(self) -> Self;
    fn recip(self) -> Self;
    fn sin(self) -> Self;
    fn cos(self) -> Self;
    fn powf(self, e: f64) -> Self;
    fn powi(self, n: i32) -> Self;
    /// Σ xs (`ctx` only names the tape, for the empty sum).
    fn sum(ctx: Self, xs: &[Self]) -> Self;
    /// Σ wₖxₖ.
    fn dot(ctx: Self, w: &[Self], x: &[Self]) -> Self;
    /// Σ wₖxₖ over two runs of consecutive nodes (`Tape::dot_run`).
    fn dot_run(ctx: Self, w: &[Self], x: &[Self]) -> Self;
    /// Σ wₖxₖ + b over runs, with `wb` = the n weights then b (`Tape::affine`).
    fn affine(ctx: Self, wb: &[Self], x: &[Self]) -> Self;
    /// act(Σ wₖxₖ + b) over runs laid out as for `affine` (`Tape::neuron`). By default what
    /// `Tape::neuron` documents it equals: `affine`, then the activation on its own.
    fn neuron(ctx: Self, wb: &[Self], x: &[Self], act: Activation) -> Self {
        crate::util::activate(Self::affine(ctx, wb, x), act)
    }
}

impl<'t> Scalar for Var<'t> {
    fn radd(self, c: f64) -> Self {
        c + self
    }
    fn rsub(self, c: f64) -> Self {
        c - self
    }
    fn rmul(self, c: f64) -> Self {
        c * self
    }
    fn rdiv(self, c: f64) -> Self {
        c / self
    }
    fn exp(self) -> Self {
        Var::exp(self)
    }
    fn ln(self) -> Self {
        Var::ln(self)
    }
    fn tanh(self) -> Self {
        Var::tanh(self)
    }
    fn sigmoid(self) -> Self {
        Var::sigmoid(self)
    }
    fn relu(self) -> Self {
        Var::relu(self)
    }
    fn sqrt(self) -> Self {
        Var::sqrt(self)
    }
    fn abs(self) -> Self {
        Var::abs(self)
    }
    fn recip(self) -> Self {
        Var::recip(self)
    }
    fn sin(self) -> Self {
        Var::sin(self)
    }
    fn cos(self) -> Self {
        Var::cos(self)
    }
    fn powf(self, e: f64) -> Self {
        Var::powf(self, e)
    }
    fn powi(self, n: i32) -> Self {
        Var::powi(self, n)
    }
    fn sum(ctx: Self, xs: &[Self]) -> Self {
        ctx.tape().sum(xs)
    }
    fn dot(ctx: Self, w: &[Self], x: &[Self]) -> Self {
        ctx.tape().dot(w, x)
    }
    fn dot_run(ctx: Self, w: &[Self], x: &[Self]) -> Self {
        let (w, x) = (Run::new(w).expect("a run"), Run::new(x).expect("a run"));
        ctx.tape().dot_run(w, x)
    }
    fn affine(ctx: Self, wb: &[Self], x: &[Self]) -> Self {
        let (wb, x) = (Run::new(wb).expect("a run"), Run::new(x).expect("a run"));
        ctx.tape().affine(wb, x)
    }
    fn neuron(ctx: Self, wb: &[Self], x: &[Self], act: Activation) -> Self {
        let (wb, x) = (Run::new(wb).expect("a run"), Run::new(x).expect("a run"));
        ctx.tape().neuron(wb, x, act)
    }
}

/// Plain `f64`, written as the math reads (PyTorch's formulas where an op has a choice).
impl Scalar for f64 {
    fn radd(self, c: f64) -> Self {
        c + self
    }
    fn rsub(self, c: f64) -> Self {
        c - self
    }
    fn rmul(self, c: f64) -> Self {
        c * self
    }
    fn rdiv(self, c: f64) -> Self {
        c / self
    }
    fn exp(self) -> Self {
        f64::exp(self)
    }
    fn ln(self) -> Self {
        f64::ln(self)
    }
    fn tanh(self) -> Self {
        f64::tanh(self)
    }
    /// PyTorch's CPU formula.
    fn sigmoid(self) -> Self {
        1.0 / (1.0 + (-self).exp())
    }
    /// PyTorch's `clamp_min(x, 0)`: `x < 0 ? 0 : x`, so NaN and −0 pass through.
    fn relu(self) -> Self {
        if self < 0.0 { 0.0 } else { self }
    }
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    fn abs(self) -> Self {
        f64::abs(self)
    }
    fn recip(self) -> Self {
        1.0 / self
    }
    fn sin(self) -> Self {
        f64::sin(self)
    }
    fn cos(self) -> Self {
        f64::cos(self)
    }
    fn powf(self, e: f64) -> Self {
        torch_pow(self, e)
    }
    fn powi(self, n: i32) -> Self {
        f64::powi(self, n)
    }
    /// Left to right from the first term; the empty sum is +0.
    fn sum(_: Self, xs: &[Self]) -> Self {
        match xs.split_first() {
            None => 0.0,
            Some((&first, rest)) => rest.iter().fold(first, |acc, &x| acc + x),
        }
    }
    /// The value `Tape::dot` documents, bit for bit: `tapegrad::dot_value`. How the products
    /// are added up is the engine's choice (it may reassociate, as BLAS does);
    /// `golden::sum_and_dot_values_match_f64` checks `dot_value` against a left-to-right sum.
    fn dot(_: Self, w: &[Self], x: &[Self]) -> Self {
        tapegrad::dot_value(w, x)
    }
    fn dot_run(_: Self, w: &[Self], x: &[Self]) -> Self {
        tapegrad::dot_value(w, x)
    }
    /// `dot_value(weights, inputs) + b`, as `Tape::affine` documents.
    fn affine(_: Self, wb: &[Self], x: &[Self]) -> Self {
        tapegrad::dot_value(&wb[..x.len()], x) + wb[x.len()]
    }
}

/// The set of leaves (bit `k` for leaf `k`) a node depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deps(pub u64);

impl Deps {
    fn union(self, other: Deps) -> Deps {
        Deps(self.0 | other.0)
    }
}

macro_rules! deps_binary {
    ($($Trait:ident $method:ident),*) => {$(
        impl $Trait for Deps {
            type Output = Deps;
            fn $method(self, rhs: Deps) -> Deps {
                self.union(rhs)
            }
        }
        impl $Trait<f64> for Deps {
            type Output = Deps;
            fn $method(self, _: f64) -> Deps {
                self
            }
        }
    )*};
}
deps_binary!(Add add, Sub sub, Mul mul, Div div);

impl Neg for Deps {
    type Output = Deps;
    fn neg(self) -> Deps {
        self
    }
}

macro_rules! deps_same {
    ($($method:ident($($arg:ident: $T:ty),*)),*) => {$(
        fn $method(self, $(_: $T),*) -> Self {
            self
        }
    )*};
}

impl Scalar for Deps {
    deps_same!(radd(c: f64), rsub(c: f64), rmul(c: f64), rdiv(c: f64), exp(), ln(), tanh(),
        sigmoid(), relu(), sqrt(), abs(), recip(), sin(), cos(), powf(e: f64), powi(n: i32));
    fn sum(_: Self, xs: &[Self]) -> Self {
        Deps(xs.iter().fold(0, |m, d| m | d.0))
    }
    fn dot(_: Self, w: &[Self], x: &[Self]) -> Self {
        Deps(w.iter().chain(x).fold(0, |m, d| m | d.0))
    }
    fn dot_run(ctx: Self, w: &[Self], x: &[Self]) -> Self {
        Self::dot(ctx, w, x)
    }
    fn affine(ctx: Self, wb: &[Self], x: &[Self]) -> Self {
        Self::dot(ctx, wb, x)
    }
    fn neuron(ctx: Self, wb: &[Self], x: &[Self], _: Activation) -> Self {
        Self::dot(ctx, wb, x)
    }
}

/// One step of a program: an operation and raw parent picks (reduced modulo the number of
/// nodes so far) and a raw pick of a constant (for `Smooth` and `Deep` programs, of the
/// variant of op 25: affine or a neuron with one of the three activations).
#[derive(Clone, Debug)]
pub struct Step {
    pub op: u8,
    pub a: usize,
    pub b: usize,
    pub c: usize,
    pub k: usize,
}

/// Leaves and steps.
#[derive(Clone, Debug)]
pub struct Program {
    pub leaves: Vec<f64>,
    pub steps: Vec<Step>,
    /// Record the leaves with `Tape::vars` (contiguous) rather than one `Tape::var` each.
    pub bulk_leaves: bool,
}

/// Which operation set a program draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Smooth, total operations (no kink or pole anywhere): for central differences.
    Smooth,
    /// Like `Smooth`, with products squashed (`p·tanh q`) so long programs stay bounded, and
    /// the first parent picked among the last three nodes so programs are deep.
    Deep,
    /// Every operation on raw operands, poles and kinks included: for arbitrary inputs.
    Raw,
}

impl Kind {
    /// The number of operations, for strategies.
    pub fn ops(self) -> u8 {
        match self {
            Kind::Smooth | Kind::Deep => 26,
            Kind::Raw => 37,
        }
    }
}

/// Constants used by `Raw` programs: ordinary numbers and every special.
pub const CONSTANTS: [f64; 16] = [
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
    1e308,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    710.0,
    -746.0,
];

/// Integer exponents used by `Raw` programs.
pub const EXPONENTS: [i32; 10] = [0, 1, -1, 2, 3, -2, 7, -5, i32::MAX, i32::MIN + 1];

/// Runs `steps` over `leaves`; returns every leaf and every step's result, in order.
pub fn run<T: Scalar>(kind: Kind, leaves: &[T], steps: &[Step]) -> Vec<T> {
    let mut nodes = leaves.to_vec();
    for s in steps {
        let i = nodes.len();
        let a = if kind == Kind::Deep {
            i - 1 - s.a % i.min(3)
        } else {
            s.a % i
        };
        let (p, q, r) = (nodes[a], nodes[s.b % i], nodes[s.c % i]);
        let y = match kind {
            Kind::Smooth | Kind::Deep => {
                smooth(kind == Kind::Deep, s.op % kind.ops(), s.k, p, q, r)
            }
            Kind::Raw => raw(s.op % kind.ops(), s.k, p, q, r),
        };
        nodes.push(y);
    }
    nodes
}

fn smooth<T: Scalar>(deep: bool, op: u8, k: usize, p: T, q: T, r: T) -> T {
    match op {
        0 => p + q,
        1 => p - q,
        2 if deep => p * q.tanh(),
        2 => p * q,
        3 => p / (q * q + 1.0),
        4 => (p * p + 0.1).ln(),
        5 => (p * p + 0.1).sqrt(),
        6 => p.tanh(),
        7 => p.sigmoid(),
        8 => p.tanh().exp(),
        9 => p.sin(),
        10 => p.cos(),
        11 => T::sum(p, &[p, q, r]),
        12 if deep => T::dot(p, &[p, q], &[r.tanh(), p.tanh()]),
        12 => T::dot(p, &[p, q], &[r, p]),
        13 => p.rmul(2.0) - 1.5,
        14 => (p * p + 1.0).rdiv(3.0),
        15 => (p / 3.0).rsub(1.0),
        16 => -p + q.radd(0.5),
        17 => (p * p + 0.5).powf(1.5),
        18 if deep => p.tanh().powi(3),
        18 => p.powi(3),
        19 => (p * p + 0.5).recip(),
        20 => (-(p * p) - 0.1).abs() + (q * q + 0.1).relu(),
        // Three nodes recorded one after another: the sum stores a range.
        21 => {
            let run = [p.sin(), q.cos(), r.tanh()];
            T::sum(p, &run)
        }
        // Two runs recorded one after another: the dot product stores two ranges.
        22 => {
            let w = [p.tanh(), q.tanh()];
            let x = [r.sin(), p.cos()];
            T::dot(p, &w, &x)
        }
        23 if deep => p * p.tanh() + p,
        23 => p * p + p,
        // Runs: nodes recorded one after another, through dot_run and affine.
        24 => {
            let w = [p.tanh(), q.sin()];
            let x = [r.cos(), p * 0.5];
            T::dot_run(p, &w, &x)
        }
        // A neuron's worth of runs: Σ w·x + b alone, or a whole neuron in one node. The variant
        // rides on `k` (otherwise unused here) rather than on new op numbers, so the op count
        // stays 26 and the seeds saved in properties.proptest-regressions still generate the
        // programs they were saved for.
        25 => match k % 4 {
            k @ 0..=2 => {
                let wb = [p.tanh(), q.sin(), r.cos()];
                let x = [p * 0.5, q + 1.0];
                match k {
                    0 => T::affine(p, &wb, &x),
                    1 => T::neuron(p, &wb, &x, Activation::Tanh),
                    _ => T::neuron(p, &wb, &x, Activation::Sigmoid),
                }
            }
            _ => {
                // relu away from its kink: |w·x| ≤ |tanh p| + |sin q| ≤ 2 and b = r² + 2.5, so
                // the pre-activation is at least 0.5. r² is recorded first so wb is a run.
                let r2 = r * r;
                let wb = [p.tanh(), q.sin(), r2 + 2.5];
                let x = [p.cos(), q.sigmoid()];
                T::neuron(p, &wb, &x, Activation::Relu)
            }
        },
        _ => unreachable!("op {op} out of range"),
    }
}

fn raw<T: Scalar>(op: u8, k: usize, p: T, q: T, r: T) -> T {
    let c = CONSTANTS[k % CONSTANTS.len()];
    let n = EXPONENTS[k % EXPONENTS.len()];
    match op {
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
        15 => p.powf(c),
        16 => p.powi(n),
        17 => p + c,
        18 => p.radd(c),
        19 => p - c,
        20 => p.rsub(c),
        21 => p * c,
        22 => p.rmul(c),
        23 => p / c,
        24 => p.rdiv(c),
        25 => T::sum(p, &[p, q, r]),
        26 => T::dot(p, &[p, q], &[r, p]),
        27 => {
            let run = [p.abs(), -q, r.exp()];
            T::sum(p, &run)
        }
        28 => {
            let w = [p.sqrt(), q.ln()];
            let x = [r * p, q.relu()];
            T::dot(p, &w, &x)
        }
        29 => T::sum(p, &[]) + p,
        30 => T::dot(p, &[], &[]) * q,
        31 => {
            let w = [p * q, -r];
            let x = [q - p, p.recip()];
            T::dot_run(p, &w, &x)
        }
        32 => {
            let wb = [q * r, -p, r.relu()];
            let x = [p.sqrt(), q / r];
            T::affine(p, &wb, &x)
        }
        // Whole neurons in one node, on the operands of every kind of value.
        33 => {
            let wb = [q * r, -p, r.relu()];
            let x = [p.sqrt(), q / r];
            T::neuron(p, &wb, &x, Activation::Relu)
        }
        34 => {
            let wb = [p * c, q.exp(), -r];
            let x = [r.recip(), p + c];
            T::neuron(p, &wb, &x, Activation::Tanh)
        }
        35 => {
            let wb = [p.abs(), q - r, r * c];
            let x = [q.ln(), p.exp()];
            T::neuron(p, &wb, &x, Activation::Sigmoid)
        }
        // A layer of two neurons over the same inputs (their outputs are a run) feeding a third:
        // a neuron node fans out, and its upstream gradient comes from another neuron.
        36 => {
            let wb = [p - q, q * c, r.sin()];
            let x = [r.exp(), p.relu()];
            let h = [
                T::neuron(p, &wb, &x, Activation::Relu),
                T::neuron(p, &wb, &x, Activation::Tanh),
            ];
            let v = [q.cos(), -r, p * q];
            T::neuron(p, &v, &h, Activation::Sigmoid) + h[0]
        }
        _ => unreachable!("op {op} out of range"),
    }
}

/// Programs of `kind` over leaves drawn from `leaf`.
pub fn program(
    kind: Kind,
    leaf: impl Strategy<Value = f64>,
    leaves: std::ops::RangeInclusive<usize>,
    steps: std::ops::RangeInclusive<usize>,
) -> impl Strategy<Value = Program> {
    let step = (
        0..kind.ops(),
        any::<usize>(),
        any::<usize>(),
        any::<usize>(),
        any::<usize>(),
    )
        .prop_map(|(op, a, b, c, k)| Step { op, a, b, c, k });
    (
        prop::collection::vec(leaf, leaves),
        prop::collection::vec(step, steps),
        any::<bool>(),
    )
        .prop_map(|(leaves, steps, bulk_leaves)| Program {
            leaves,
            steps,
            bulk_leaves,
        })
}

/// Records the program's leaves on `tape`: contiguously with `Tape::vars`, or one by one with
/// an unused NaN leaf after each (so sums and dots over them are stored as lists, and the tape
/// holds a non-finite value that no gradient may see).
pub fn leaves<'t>(tape: &'t tapegrad::Tape, program: &Program) -> Vec<Var<'t>> {
    if program.bulk_leaves {
        tape.vars(&program.leaves)
    } else {
        let mut out = Vec::new();
        for &x in &program.leaves {
            out.push(tape.var(x));
            let _spacer = tape.var(f64::NAN);
        }
        out
    }
}

/// xᵉ as PyTorch computes it: the exponents ½ and −½ as `sqrt` and `1/sqrt`, which differ from
/// IEEE `pow` at −0 and −inf.
pub fn torch_pow(x: f64, e: f64) -> f64 {
    if e == 0.5 {
        x.sqrt()
    } else if e == -0.5 {
        1.0 / x.sqrt()
    } else {
        x.powf(e)
    }
}
