//! A reference reverse mode, written from PyTorch's float64 backward formulas (the numeric
//! conventions in the crate docs) for the robustness tests: a list of nodes, one reverse sweep
//! over every node the root depends on (what PyTorch's autograd visits), no shortcuts. Its
//! gradients are what the engine must give for any input, NaN and infinities included.

use std::cell::RefCell;
use std::ops::{Add, Div, Mul, Neg, Sub};

use crate::programs::Scalar;

#[derive(Clone, Debug)]
enum Op {
    Leaf,
    Add(usize, usize),
    Sub(usize, usize),
    Mul(usize, usize),
    Div(usize, usize),
    Neg(usize),
    /// x + c, c + x and x − c (PyTorch's add/sub with a scalar pass g through).
    AddConst(usize),
    /// c − x.
    SubFrom(usize),
    MulConst(usize, f64),
    DivConst(usize, f64),
    /// c / x, with the div rule for the denominator.
    DivInto(usize, f64),
    Exp(usize),
    Ln(usize),
    Tanh(usize),
    Sigmoid(usize),
    Relu(usize),
    Sqrt(usize),
    Abs(usize),
    Recip(usize),
    Sin(usize),
    Cos(usize),
    Powf(usize, f64),
    Powi(usize, i32),
    Sum(Vec<usize>),
    Dot(Vec<usize>, Vec<usize>),
    /// Σ wₖxₖ + b.
    Affine(Vec<usize>, Vec<usize>, usize),
}

impl Op {
    fn operands(&self) -> Vec<usize> {
        match self {
            Op::Leaf => vec![],
            Op::Add(a, b) | Op::Sub(a, b) | Op::Mul(a, b) | Op::Div(a, b) => vec![*a, *b],
            Op::Neg(a)
            | Op::AddConst(a)
            | Op::SubFrom(a)
            | Op::MulConst(a, _)
            | Op::DivConst(a, _)
            | Op::DivInto(a, _)
            | Op::Exp(a)
            | Op::Ln(a)
            | Op::Tanh(a)
            | Op::Sigmoid(a)
            | Op::Relu(a)
            | Op::Sqrt(a)
            | Op::Abs(a)
            | Op::Recip(a)
            | Op::Sin(a)
            | Op::Cos(a)
            | Op::Powf(a, _)
            | Op::Powi(a, _) => vec![*a],
            Op::Sum(xs) => xs.clone(),
            Op::Dot(w, x) => w.iter().chain(x).copied().collect(),
            Op::Affine(w, x, b) => w.iter().chain(x).chain([b]).copied().collect(),
        }
    }
}

/// The reference tape.
#[derive(Default)]
pub struct RefTape {
    nodes: RefCell<Vec<(Op, f64)>>,
}

/// A node on a [`RefTape`].
#[derive(Clone, Copy)]
pub struct R<'a> {
    tape: &'a RefTape,
    id: usize,
    value: f64,
}

impl RefTape {
    pub fn var(&self, value: f64) -> R<'_> {
        self.push(Op::Leaf, value)
    }

    fn push(&self, op: Op, value: f64) -> R<'_> {
        let mut nodes = self.nodes.borrow_mut();
        nodes.push((op, value));
        R {
            tape: self,
            id: nodes.len() - 1,
            value,
        }
    }

    /// d root / d node for every node, by PyTorch's rules.
    pub fn grads(&self, root: R<'_>) -> Vec<f64> {
        let nodes = self.nodes.borrow();
        let mut reached = vec![false; nodes.len()];
        reached[root.id] = true;
        let mut g = vec![0.0; nodes.len()];
        g[root.id] = 1.0;
        for i in (0..=root.id).rev() {
            if !reached[i] {
                continue;
            }
            let (op, y) = (&nodes[i].0, nodes[i].1);
            let gi = g[i];
            let v = |k: usize| nodes[k].1;
            for k in op.operands() {
                reached[k] = true;
            }
            match *op {
                Op::Leaf => {}
                Op::Add(a, b) => {
                    g[a] += gi;
                    g[b] += gi;
                }
                Op::Sub(a, b) => {
                    g[a] += gi;
                    g[b] += -gi;
                }
                Op::Mul(a, b) => {
                    let (ga, gb) = (gi * v(b), gi * v(a));
                    g[a] += ga;
                    g[b] += gb;
                }
                Op::Div(a, b) => {
                    // grad / other, −grad · ((self / other) / other)
                    let (ga, gb) = (gi / v(b), -gi * ((v(a) / v(b)) / v(b)));
                    g[a] += ga;
                    g[b] += gb;
                }
                Op::Neg(a) => g[a] += -gi,
                Op::AddConst(a) => g[a] += gi,
                Op::SubFrom(a) => g[a] += -gi,
                Op::MulConst(a, c) => g[a] += gi * c,
                Op::DivConst(a, c) => g[a] += gi / c,
                Op::DivInto(a, c) => g[a] += -gi * ((c / v(a)) / v(a)),
                Op::Exp(a) => g[a] += gi * y,
                Op::Ln(a) => g[a] += gi / v(a),
                Op::Tanh(a) => g[a] += gi * (1.0 - y * y),
                Op::Sigmoid(a) => g[a] += gi * (1.0 - y) * y,
                // threshold_backward(grad, result, 0): a select, never a product.
                Op::Relu(a) => g[a] += if y <= 0.0 { 0.0 } else { gi },
                Op::Sqrt(a) => g[a] += gi / (2.0 * y),
                Op::Abs(a) => g[a] += gi * sgn(v(a)),
                Op::Recip(a) => g[a] += -gi * (y * y),
                Op::Sin(a) => g[a] += gi * v(a).cos(),
                Op::Cos(a) => g[a] += gi * -v(a).sin(),
                Op::Powf(a, e) => {
                    g[a] += if e == 0.0 {
                        0.0
                    } else {
                        gi * (e * crate::programs::torch_pow(v(a), e - 1.0))
                    }
                }
                // n·x^(n−1) with the integer power, as the value is computed.
                Op::Powi(a, n) => {
                    g[a] += match n.checked_sub(1) {
                        _ if n == 0 => 0.0,
                        Some(m) => gi * (f64::from(n) * v(a).powi(m)),
                        None => gi * (f64::from(n) * v(a).powf(f64::from(n) - 1.0)),
                    }
                }
                Op::Sum(ref xs) => {
                    for &k in xs {
                        g[k] += gi;
                    }
                }
                Op::Dot(ref w, ref x) => {
                    for (&wk, &xk) in w.iter().zip(x) {
                        let (gw, gx) = (gi * v(xk), gi * v(wk));
                        g[wk] += gw;
                        g[xk] += gx;
                    }
                }
                Op::Affine(ref w, ref x, b) => {
                    for (&wk, &xk) in w.iter().zip(x) {
                        let (gw, gx) = (gi * v(xk), gi * v(wk));
                        g[wk] += gw;
                        g[xk] += gx;
                    }
                    g[b] += gi;
                }
            }
        }
        g
    }
}

/// PyTorch's sgn: ±1, 0 at ±0, NaN at NaN.
fn sgn(x: f64) -> f64 {
    if x.is_nan() {
        x
    } else if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

impl R<'_> {
    pub fn id(&self) -> usize {
        self.id
    }

    fn unary(self, op: Op, value: f64) -> Self {
        self.tape.push(op, value)
    }
}

macro_rules! binary {
    ($Trait:ident $method:ident $Op:ident) => {
        impl<'a> $Trait for R<'a> {
            type Output = R<'a>;
            fn $method(self, rhs: R<'a>) -> R<'a> {
                let value = $Trait::$method(self.value, rhs.value);
                self.tape.push(Op::$Op(self.id, rhs.id), value)
            }
        }
    };
}
binary!(Add add Add);
binary!(Sub sub Sub);
binary!(Mul mul Mul);
binary!(Div div Div);

impl<'a> Add<f64> for R<'a> {
    type Output = R<'a>;
    fn add(self, c: f64) -> R<'a> {
        self.unary(Op::AddConst(self.id), self.value + c)
    }
}

impl<'a> Sub<f64> for R<'a> {
    type Output = R<'a>;
    fn sub(self, c: f64) -> R<'a> {
        self.unary(Op::AddConst(self.id), self.value - c)
    }
}

impl<'a> Mul<f64> for R<'a> {
    type Output = R<'a>;
    fn mul(self, c: f64) -> R<'a> {
        self.unary(Op::MulConst(self.id, c), self.value * c)
    }
}

impl<'a> Div<f64> for R<'a> {
    type Output = R<'a>;
    fn div(self, c: f64) -> R<'a> {
        self.unary(Op::DivConst(self.id, c), self.value / c)
    }
}

impl<'a> Neg for R<'a> {
    type Output = R<'a>;
    fn neg(self) -> R<'a> {
        self.unary(Op::Neg(self.id), -self.value)
    }
}

impl Scalar for R<'_> {
    fn radd(self, c: f64) -> Self {
        self.unary(Op::AddConst(self.id), c + self.value)
    }
    fn rsub(self, c: f64) -> Self {
        self.unary(Op::SubFrom(self.id), c - self.value)
    }
    fn rmul(self, c: f64) -> Self {
        self.unary(Op::MulConst(self.id, c), c * self.value)
    }
    fn rdiv(self, c: f64) -> Self {
        self.unary(Op::DivInto(self.id, c), c / self.value)
    }
    fn exp(self) -> Self {
        self.unary(Op::Exp(self.id), Scalar::exp(self.value))
    }
    fn ln(self) -> Self {
        self.unary(Op::Ln(self.id), Scalar::ln(self.value))
    }
    fn tanh(self) -> Self {
        self.unary(Op::Tanh(self.id), Scalar::tanh(self.value))
    }
    fn sigmoid(self) -> Self {
        self.unary(Op::Sigmoid(self.id), Scalar::sigmoid(self.value))
    }
    fn relu(self) -> Self {
        self.unary(Op::Relu(self.id), Scalar::relu(self.value))
    }
    fn sqrt(self) -> Self {
        self.unary(Op::Sqrt(self.id), Scalar::sqrt(self.value))
    }
    fn abs(self) -> Self {
        self.unary(Op::Abs(self.id), Scalar::abs(self.value))
    }
    fn recip(self) -> Self {
        self.unary(Op::Recip(self.id), Scalar::recip(self.value))
    }
    fn sin(self) -> Self {
        self.unary(Op::Sin(self.id), Scalar::sin(self.value))
    }
    fn cos(self) -> Self {
        self.unary(Op::Cos(self.id), Scalar::cos(self.value))
    }
    fn powf(self, e: f64) -> Self {
        self.unary(Op::Powf(self.id, e), Scalar::powf(self.value, e))
    }
    fn powi(self, n: i32) -> Self {
        self.unary(Op::Powi(self.id, n), Scalar::powi(self.value, n))
    }
    fn sum(ctx: Self, xs: &[Self]) -> Self {
        let values: Vec<f64> = xs.iter().map(|x| x.value).collect();
        let value = <f64 as Scalar>::sum(0.0, &values);
        ctx.tape
            .push(Op::Sum(xs.iter().map(|x| x.id).collect()), value)
    }
    fn dot(ctx: Self, w: &[Self], x: &[Self]) -> Self {
        let wv: Vec<f64> = w.iter().map(|v| v.value).collect();
        let xv: Vec<f64> = x.iter().map(|v| v.value).collect();
        let value = <f64 as Scalar>::dot(0.0, &wv, &xv);
        let op = Op::Dot(
            w.iter().map(|v| v.id).collect(),
            x.iter().map(|v| v.id).collect(),
        );
        ctx.tape.push(op, value)
    }
    fn dot_run(ctx: Self, w: &[Self], x: &[Self]) -> Self {
        Self::dot(ctx, w, x)
    }
    fn affine(ctx: Self, wb: &[Self], x: &[Self]) -> Self {
        let n = x.len();
        let wv: Vec<f64> = wb.iter().map(|v| v.value).collect();
        let xv: Vec<f64> = x.iter().map(|v| v.value).collect();
        let value = <f64 as Scalar>::affine(0.0, &wv, &xv);
        let ids = |vs: &[Self]| vs.iter().map(|v| v.id).collect();
        ctx.tape
            .push(Op::Affine(ids(&wb[..n]), ids(x), wb[n].id), value)
    }
    // `neuron`: the trait's default, the affine node and then the activation as a node of its
    // own (each with PyTorch's rule, no shortcut), what `Tape::neuron` documents it equals.
}
