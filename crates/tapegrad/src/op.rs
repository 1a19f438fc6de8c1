//! The operations a tape records: for each one, its forward rule and its local derivative side
//! by side (micrograd's `engine.py` layout), and the one backward that both [`Var::backward`]
//! (on `f64`) and [`Var::grad`] (on recorded nodes) run.
//!
//! Every `match` here is exhaustive with no `_ =>` arm, so a new operation does not compile
//! until it has a forward rule, a derivative and its operands. Derivatives are written once,
//! generic over [`Real`]: on `f64` they give the gradient, on [`Var`] they record it as nodes,
//! which is what makes second derivatives follow PyTorch's double backward.
//!
//! [`Var::backward`]: crate::Var::backward
//! [`Var::grad`]: crate::Var::grad
//! [`Var`]: crate::Var

pub(crate) use crate::activation::Activation;
use crate::number::{Field, Number, Storage};

/// One recorded node's operation. Operands are node ids on the same tape, always smaller than
/// the id of the node that uses them ([`Tape`](crate::Tape)'s push checks it). 16 bytes, so a
/// node costs 24 bytes with its value.
///
/// `repr(u8)` fixes the layout that [`Op::words`] writes: the tag in byte 0, a one-byte field
/// in byte 1, `u32` fields at bytes 4, 8 and 12 in the order declared, `Scalar`'s constant at
/// byte 8.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(u8)]
pub(crate) enum Op {
    /// An input or a parameter: no operands.
    Leaf,
    /// `a + b` for two recorded nodes. The binary operations are variants of their own, not
    /// one variant with a `BinOp`, so the sweep dispatches on them with a single jump.
    Add(u32, u32),
    /// `a − b`.
    Sub(u32, u32),
    /// `a · b`.
    Mul(u32, u32),
    /// `a / b`.
    Div(u32, u32),
    /// `a` where `b > 0` (or NaN), else 0: relu's mask on the gradient `a` as the recorded
    /// sweep ([`Var::grad`](crate::Var::grad)) records it, with an edge to relu's output `b`
    /// (PyTorch's `threshold_backward(grad, result, 0)`).
    Gate(u32, u32),
    /// `f(x)` for one recorded node (see the table of [`UnOp`]).
    Unary(UnOp, u32),
    /// `x ∘ c` or `c ∘ x` with an `f64` constant that is never recorded as a node.
    Scalar(ScalarOp, u32, f64),
    /// Σ over the contiguous nodes `start .. start + len`.
    SumRange { start: u32, len: u32 },
    /// Σ over the `len` ids stored at `operands[at ..]`.
    SumList { at: u32, len: u32 },
    /// Σ wᵢ·xᵢ over the contiguous runs `w ..` and `x ..` of length `len`.
    DotRange { w: u32, x: u32, len: u32 },
    /// Σ wᵢ·xᵢ where `operands[at .. at + len]` are the w ids and the next `len` the x ids.
    DotList { at: u32, len: u32 },
    /// act(Σ wᵢ·xᵢ + b) over the runs `w ..` of length `len + 1` (the bias b last) and `x ..`
    /// of length `len`: a whole neuron in one node (`Identity` makes it an affine map).
    NeuronRange {
        act: Activation,
        w: u32,
        x: u32,
        len: u32,
    },
}

const _: () = assert!(std::mem::size_of::<Op>() == 16 && std::mem::align_of::<Op>() == 8);

impl Op {
    /// The node's 16 bytes as two words, padding zeroed: what a push stores, in two stores
    /// where a typed `Op`, split by padding, takes up to five.
    ///
    /// Each word is assembled as a little-endian number (tag in the low byte, the first `u32`
    /// in the high half) from fields converted with `to_le`, then converted back with
    /// `to_le`: no-ops on little-endian targets, and byte swaps that put every field at its
    /// offset in the machine's own order on big-endian ones.
    #[inline(always)]
    pub(crate) fn words(self) -> [u64; 2] {
        // SAFETY: a `repr(u8)` enum's first byte is its tag.
        let tag = unsafe { *(&raw const self).cast::<u8>() };
        let head = |byte1: u8, a: u32| {
            (u64::from(tag) | u64::from(byte1) << 8 | u64::from(a.to_le()) << 32).to_le()
        };
        let pair = |lo: u32, hi: u32| (u64::from(lo.to_le()) | u64::from(hi.to_le()) << 32).to_le();
        match self {
            Op::Leaf => [head(0, 0), 0],
            Op::Add(a, b) | Op::Sub(a, b) | Op::Mul(a, b) | Op::Div(a, b) | Op::Gate(a, b) => {
                [head(0, a), pair(b, 0)]
            }
            Op::Unary(op, a) => [head(op as u8, a), 0],
            // The constant's bits are its native representation already.
            Op::Scalar(op, a, c) => [head(op as u8, a), c.to_bits()],
            Op::SumRange { start: a, len }
            | Op::SumList { at: a, len }
            | Op::DotList { at: a, len } => [head(0, a), pair(len, 0)],
            Op::DotRange { w, x, len } => [head(0, w), pair(x, len)],
            Op::NeuronRange { act, w, x, len } => [head(act as u8, w), pair(x, len)],
        }
    }

    /// Adds this node's contributions to its operands' adjoints, for upstream adjoint `g` and
    /// output `y`: the reverse sweep's step, on `f64` for [`Var::backward`](crate::Var::backward)
    /// and on recorded nodes for [`Var::grad`](crate::Var::grad).
    ///
    /// # Safety
    ///
    /// Every operand id of this node (and every id in the `operands` range it names) must be
    /// one that `adj` accepts (see [`Adjoints`]).
    #[inline(always)]
    #[track_caller]
    pub(crate) unsafe fn backward<T: Field, A: Adjoints<T>>(
        self,
        g: T,
        y: T,
        operands: &[u32],
        adj: &mut A,
    ) {
        // SAFETY (every `adj` call below): the caller's contract.
        unsafe {
            match self {
                Op::Leaf => {}
                Op::Add(a, b) => BinOp::Add.backward(a, b, g, y, adj),
                Op::Sub(a, b) => BinOp::Sub.backward(a, b, g, y, adj),
                Op::Mul(a, b) => BinOp::Mul.backward(a, b, g, y, adj),
                Op::Div(a, b) => BinOp::Div.backward(a, b, g, y, adj),
                Op::Gate(a, b) => BinOp::Gate.backward(a, b, g, y, adj),
                Op::Unary(op, a) => {
                    let d = op.derivative(g, adj.value(a), y);
                    adj.add(a, d);
                }
                Op::Scalar(op, a, c) => {
                    let d = op.derivative(g, adj.value(a), c, y);
                    adj.add(a, d);
                }
                Op::SumRange { start, len } => adj.add_range(start, len, g),
                Op::SumList { at, len } => {
                    for &k in list(operands, at, len) {
                        adj.add(k, g);
                    }
                }
                Op::DotRange { w, x, len } => adj.add_dot(g, w, x, len),
                Op::DotList { at, len } => {
                    let (ws, xs) = list(operands, at, 2 * len).split_at(len as usize);
                    for (&wk, &xk) in ws.iter().zip(xs) {
                        let (wv, xv) = (adj.value(wk), adj.value(xk));
                        adj.add_product(wk, g, xv);
                        adj.add_product(xk, g, wv);
                    }
                }
                Op::NeuronRange { act, w, x, len } => {
                    let gz = act.derivative(g, y);
                    // A dead ReLU: what `affine(..).relu()` skips as a zero-gradient node.
                    if !adj.restrict(gz) {
                        return;
                    }
                    adj.add_dot(gz, w, x, len);
                    adj.add(w + len, gz);
                }
            }
        }
    }

    /// Calls `f` with each operand id, duplicates included.
    #[inline(always)]
    pub(crate) fn for_each_operand(self, operands: &[u32], mut f: impl FnMut(u32)) {
        match self {
            Op::Leaf => {}
            Op::Add(a, b) | Op::Sub(a, b) | Op::Mul(a, b) | Op::Div(a, b) | Op::Gate(a, b) => {
                f(a);
                f(b);
            }
            Op::Unary(_, a) | Op::Scalar(_, a, _) => f(a),
            Op::SumRange { start, len } => (start..start + len).for_each(f),
            Op::SumList { at, len } => operands[at as usize..][..len as usize]
                .iter()
                .for_each(|&k| f(k)),
            Op::DotRange { w, x, len } => {
                for k in 0..len {
                    f(w + k);
                    f(x + k);
                }
            }
            Op::DotList { at, len } => operands[at as usize..][..2 * len as usize]
                .iter()
                .for_each(|&k| f(k)),
            Op::NeuronRange { w, x, len, .. } => {
                for k in 0..len {
                    f(w + k);
                    f(x + k);
                }
                f(w + len);
            }
        }
    }

    /// The largest operand id, and how many ids of the side list the node reads (the list
    /// operations' ids are checked where they are built; see `Tape::push`).
    #[inline(always)]
    pub(crate) fn operand_bounds(self) -> OperandBounds {
        let end = |start: u32, len: u32| u64::from(start) + u64::from(len);
        match self {
            Op::Leaf => OperandBounds::None,
            Op::Add(a, b) | Op::Sub(a, b) | Op::Mul(a, b) | Op::Div(a, b) | Op::Gate(a, b) => {
                OperandBounds::Two(a, b)
            }
            Op::Unary(_, a) | Op::Scalar(_, a, _) => OperandBounds::Two(a, a),
            Op::SumRange { start, len } => OperandBounds::Ids(end(start, len)),
            Op::DotRange { w, x, len } => OperandBounds::Ids(end(w, len).max(end(x, len))),
            Op::NeuronRange { w, x, len, .. } => {
                OperandBounds::Ids(end(w, len + 1).max(end(x, len)))
            }
            Op::SumList { at, len } => OperandBounds::List(end(at, len)),
            Op::DotList { at, len } => OperandBounds::List(u64::from(at) + 2 * u64::from(len)),
        }
    }

    /// A short human-readable name, used by DOT export and anomaly reports.
    pub(crate) fn describe(&self) -> String {
        match *self {
            Op::Leaf => "leaf".to_string(),
            Op::Add(..) => BinOp::Add.symbol().to_string(),
            Op::Sub(..) => BinOp::Sub.symbol().to_string(),
            Op::Mul(..) => BinOp::Mul.symbol().to_string(),
            Op::Div(..) => BinOp::Div.symbol().to_string(),
            Op::Gate(..) => BinOp::Gate.symbol().to_string(),
            Op::Unary(op, _) => op.name().to_string(),
            Op::Scalar(op, _, c) => match op {
                ScalarOp::AddConst | ScalarOp::MulConst | ScalarOp::DivConst => {
                    format!("{} {c}", op.symbol())
                }
                ScalarOp::SubFrom | ScalarOp::DivInto => format!("{c} {}", op.symbol()),
                ScalarOp::Powf | ScalarOp::Powi => format!("{} {c}", op.symbol()),
            },
            Op::SumRange { .. } | Op::SumList { .. } => "sum".to_string(),
            Op::DotRange { .. } | Op::DotList { .. } => "dot".to_string(),
            Op::NeuronRange { act, .. } => match act {
                Activation::Identity => "dot + b".to_string(),
                Activation::Relu | Activation::Tanh | Activation::Sigmoid => {
                    format!("{}(dot + b)", act.name())
                }
            },
        }
    }
}

/// What [`Op::operand_bounds`] says a node reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OperandBounds {
    /// No operands.
    None,
    /// These two node ids (the same twice for one operand).
    Two(u32, u32),
    /// Node ids below this bound.
    Ids(u64),
    /// Side-list entries below this bound.
    List(u64),
}

/// `operands[at .. at + len]`, unchecked.
///
/// # Safety
///
/// The range must lie within `operands` (`Tape::push` checks it for every list node).
#[inline(always)]
unsafe fn list(operands: &[u32], at: u32, len: u32) -> &[u32] {
    // SAFETY: the caller's contract.
    unsafe { operands.get_unchecked(at as usize..at as usize + len as usize) }
}

/// Where the reverse sweep adds contributions: the gradient buffer of [`Var::backward`]
/// (`T = f64`), or the recorded adjoints of [`Var::grad`] (`T = Var`).
///
/// [`Var::backward`]: crate::Var::backward
/// [`Var::grad`]: crate::Var::grad
pub(crate) trait Adjoints<T: Field> {
    /// Before a fused node's contributions: whether any lane of its adjoint through the
    /// activation, `gz`, is to be added (not a zero one where zeros are skipped). The lane
    /// sweep keeps adding only in those lanes.
    #[inline(always)]
    fn restrict(&mut self, gz: T) -> bool {
        let _ = gz;
        true
    }

    /// Whether node `k`'s adjoint is wanted at all; [`Adjoints::add`] ignores the others.
    fn needs(&self, k: u32) -> bool;

    /// The value of node `k` as a `T`.
    ///
    /// # Safety
    ///
    /// `k` is an operand of a node this sweep visits.
    unsafe fn value(&self, k: u32) -> T;

    /// Adds `d` to node `k`'s adjoint.
    ///
    /// # Safety
    ///
    /// As [`Adjoints::value`].
    unsafe fn add(&mut self, k: u32, d: T);

    /// Adds `g·other` to node `k`'s adjoint: a fused node's contribution, which the recorded
    /// sweep may gather with the node's other products into one `dot` node.
    ///
    /// # Safety
    ///
    /// As [`Adjoints::value`].
    #[inline(always)]
    unsafe fn add_product(&mut self, k: u32, g: T, other: T) {
        // SAFETY: the caller's contract.
        unsafe { self.add(k, g * other) };
    }

    /// Adds `g` to the adjoints of nodes `start .. start + len`.
    ///
    /// # Safety
    ///
    /// The range holds operands of a node this sweep visits.
    #[inline(always)]
    unsafe fn add_range(&mut self, start: u32, len: u32, g: T) {
        for k in start..start + len {
            // SAFETY: the caller's contract.
            unsafe { self.add(k, g) };
        }
    }

    /// The backward of Σ wₖ·xₖ over the runs `w ..` and `x ..`: adds g·xₖ to wₖ, then g·wₖ
    /// to xₖ, for each k in order (skipping the operands not [`Adjoints::needs`]).
    ///
    /// # Safety
    ///
    /// As [`Adjoints::add_range`], for both runs.
    #[inline(always)]
    unsafe fn add_dot(&mut self, g: T, w: u32, x: u32, len: u32) {
        for k in 0..len {
            let (wk, xk) = (w + k, x + k);
            // SAFETY: the caller's contract.
            unsafe {
                if self.needs(wk) {
                    self.add_product(wk, g, self.value(xk));
                }
                if self.needs(xk) {
                    self.add_product(xk, g, self.value(wk));
                }
            }
        }
    }
}

/// Binary operations on two recorded nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    /// Not an operator users write: relu's recorded mask ([`Op::Gate`]).
    Gate,
}

impl BinOp {
    /// The node recording `a ∘ b`.
    #[inline(always)]
    pub(crate) fn node(self, a: u32, b: u32) -> Op {
        match self {
            BinOp::Add => Op::Add(a, b),
            BinOp::Sub => Op::Sub(a, b),
            BinOp::Mul => Op::Mul(a, b),
            BinOp::Div => Op::Div(a, b),
            BinOp::Gate => Op::Gate(a, b),
        }
    }

    /// y = a ∘ b.
    #[inline(always)]
    pub(crate) fn forward<T: Storage>(self, a: T, b: T) -> T {
        match self {
            BinOp::Add => a + b,
            BinOp::Sub => a - b,
            BinOp::Mul => a * b,
            BinOp::Div => a / b,
            BinOp::Gate => a.gate(b),
        }
    }

    /// The contributions (to a, to b) for upstream adjoint `g`, given the output `y`.
    #[inline(always)]
    #[track_caller]
    pub(crate) fn derivative<T: Field>(self, g: T, a: T, b: T, y: T) -> (T, T) {
        match self {
            BinOp::Add => (g, g),
            BinOp::Sub => (g, -g),
            BinOp::Mul => (g * b, g * a),
            // PyTorch's div rule: -g·((a/b)/b), and y is exactly a/b. Not a·b⁻¹, which would
            // round differently and overflow where this does not.
            BinOp::Div => (g / b, -g * (y / b)),
            // The gate is linear in a, with the same mask; towards b it passes an exact zero
            // (PyTorch returns zeros there), which still reaches b so that b's own backward
            // meets it: 0·inf there gives NaN, as in PyTorch's double backward.
            BinOp::Gate => (g.gate(b), g.constant(0.0)),
        }
    }

    /// Adds `a ∘ b`'s contributions to `a` and `b` (no closure in [`Op::backward`], so
    /// `#[track_caller]` reaches the recorded nodes).
    ///
    /// # Safety
    ///
    /// As [`Op::backward`].
    #[inline(always)]
    #[track_caller]
    unsafe fn backward<T: Field, A: Adjoints<T>>(self, a: u32, b: u32, g: T, y: T, adj: &mut A) {
        // Asking first skips the half of the rule whose operand wants no adjoint: `Var::grad`
        // then records no dead nodes for it, and the second-order sweep computes no dual
        // product for it.
        // SAFETY: the caller's contract.
        unsafe {
            let (x1, x2) = (adj.value(a), adj.value(b));
            match (adj.needs(a), adj.needs(b)) {
                (true, true) => {
                    let (da, db) = self.derivative(g, x1, x2, y);
                    adj.add(a, da);
                    adj.add(b, db);
                }
                (true, false) => adj.add(a, self.derivative(g, x1, x2, y).0),
                (false, true) => adj.add(b, self.derivative(g, x1, x2, y).1),
                (false, false) => {}
            }
        }
    }

    pub(crate) fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Gate => "relu mask",
        }
    }
}

/// The table of elementwise functions: one row per function, holding everything the engine
/// knows about it.
///
/// - `name`: what DOT export and anomaly reports print;
/// - `forward |x|`: y = f(x) on `f64`;
/// - `derivative |g, x, y|`: dy/dx·g from the input and the output, generic over [`Real`] so
///   that the same formula gives the gradient on `f64` and records it on a `Var`;
/// - `pole`: whether dy/dx can be infinite where x and y are finite (the sweep then stops
///   skipping zero adjoints, so `0·inf` still gives NaN).
///
/// The macro makes `UnOp` and one exhaustive `match` per column.
macro_rules! unary_ops {
    ($(
        $Variant:ident $name:literal,
            forward |$x:pat_param| $forward:expr,
            derivative |$g:pat_param, $dx:pat_param, $y:pat_param| $derivative:expr,
            pole $pole:literal;
    )*) => {
        /// Elementwise functions of one recorded node.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u8)]
        pub(crate) enum UnOp {
            $($Variant,)*
        }

        impl UnOp {
            /// Every function, in table order.
            #[cfg(test)]
            pub(crate) const ALL: &[UnOp] = &[$(UnOp::$Variant),*];

            pub(crate) fn name(self) -> &'static str {
                match self {
                    $(UnOp::$Variant => $name,)*
                }
            }

            /// y = f(x), lane by lane.
            #[inline(always)]
            pub(crate) fn forward<T: Storage>(self, x: T) -> T {
                match self {
                    $(UnOp::$Variant => x.map(
                        #[inline(always)]
                        |$x: f64| $forward,
                    ),)*
                }
            }

            /// dy/dx·g for upstream adjoint `g`, given the input `x` and the output `y`.
            #[inline(always)]
            #[track_caller]
            pub(crate) fn derivative<T: Field>(self, g: T, x: T, y: T) -> T {
                match self {
                    $(UnOp::$Variant => {
                        let ($g, $dx, $y) = (g, x, y);
                        $derivative
                    })*
                }
            }

            /// Whether dy/dx can be infinite where x and y are finite.
            #[inline(always)]
            pub(crate) fn has_pole(self) -> bool {
                match self {
                    $(UnOp::$Variant => $pole,)*
                }
            }
        }
    };
}

unary_ops! {
    Neg "neg",
        forward |x| -x,
        derivative |g, _, _| -g,
        pole false;
    Exp "exp",
        forward |x| x.exp(),
        derivative |g, _, y| g * y,
        pole false;
    // ln(-1) is NaN with gradient -1 (g/x), as PyTorch returns.
    Ln "ln",
        forward |x| x.ln(),
        derivative |g, x, _| g / x,
        pole true;
    // f64::tanh saturates to ±1; the exp formula gives inf/inf = NaN for x ≥ 355.
    Tanh "tanh",
        forward |x| x.tanh(),
        derivative |g, _, y| g * (y * y).rsub(1.0),
        pole false;
    // 1/(1+e⁻ˣ) as PyTorch computes it: e⁻ˣ = inf gives 0, never NaN.
    Sigmoid "sigmoid",
        forward |x| 1.0 / (1.0 + (-x).exp()),
        derivative |g, _, y| g * y.rsub(1.0) * y,
        pole false;
    // A select, not f64::max (max(NaN, 0) is 0): NaN and -0 pass through as PyTorch's. The
    // derivative selects on the output (`Real::gate`): relu'(0) = 0, and an infinite g at
    // x ≤ 0 still gives 0. Recorded, the mask is a node with an edge to y whose derivative
    // towards y is 0, so relu'' = 0 but the zero still flows on through y's own backward.
    Relu "relu",
        forward |x| if x < 0.0 { 0.0 } else { x },
        derivative |g, _, y| g.gate(y),
        pole false;
    // sqrt(±0) = ±0 gives ±inf.
    Sqrt "sqrt",
        forward |x| x.sqrt(),
        derivative |g, _, y| g / (y * 2.0),
        pole true;
    // sgn is a constant mask, so abs'' = 0.
    Abs "abs",
        forward |x| x.abs(),
        derivative |g, x, _| g.mul_sgn(x),
        pole false;
    // PyTorch's reciprocal rule: -g·y².
    Recip "recip",
        forward |x| 1.0 / x,
        derivative |g, _, y| -g * (y * y),
        pole true;
    Sin "sin",
        forward |x| x.sin(),
        derivative |g, x, _| g * x.cos(),
        pole false;
    Cos "cos",
        forward |x| x.cos(),
        derivative |g, x, _| -g * x.sin(),
        pole false;
    Sinh "sinh",
        forward |x| x.sinh(),
        derivative |g, x, _| g * x.cosh(),
        pole false;
    Cosh "cosh",
        forward |x| x.cosh(),
        derivative |g, x, _| g * x.sinh(),
        pole false;
}

/// xᵉ as PyTorch computes it: the exponents ½ and −½ as `sqrt` and `1/sqrt` (so
/// `(-0.0).powf(0.5)` is −0 and its gradient −inf, where IEEE `pow` gives +0 and +inf), every
/// other exponent as IEEE `pow`.
#[inline(always)]
pub(crate) fn powf(x: f64, e: f64) -> f64 {
    if e == 0.5 {
        x.sqrt()
    } else if e == -0.5 {
        1.0 / x.sqrt()
    } else {
        x.powf(e)
    }
}

/// Operations between a recorded node `x` and an `f64` constant `c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum ScalarOp {
    /// x + c (also x − c, stored as x + (−c), which IEEE defines to be the same number).
    AddConst,
    /// c − x.
    SubFrom,
    /// x·c.
    MulConst,
    /// x / c.
    DivConst,
    /// c / x.
    DivInto,
    /// xᶜ.
    Powf,
    /// xⁿ with n = c, an `i32` stored exactly as an `f64`.
    Powi,
}

impl ScalarOp {
    /// y = x ∘ c.
    #[inline(always)]
    pub(crate) fn forward<T: Storage>(self, x: T, c: f64) -> T {
        match self {
            ScalarOp::AddConst => x + c,
            ScalarOp::SubFrom => x.rsub(c),
            ScalarOp::MulConst => x * c,
            ScalarOp::DivConst => x / c,
            ScalarOp::DivInto => x.map(|x| c / x),
            ScalarOp::Powf => x.map(|x| powf(x, c)),
            ScalarOp::Powi => x.map(|x| x.powi(c as i32)),
        }
    }

    /// dy/dx·g for upstream adjoint `g`, given `x`, the constant `c` and the output `y`.
    #[inline(always)]
    #[track_caller]
    pub(crate) fn derivative<T: Field>(self, g: T, x: T, c: f64, y: T) -> T {
        match self {
            ScalarOp::AddConst => g,
            ScalarOp::SubFrom => -g,
            ScalarOp::MulConst => g * c,
            ScalarOp::DivConst => g / c,
            // The div rule for the denominator: -g·((c/x)/x).
            ScalarOp::DivInto => -g * (y / x),
            // PyTorch masks the exponent-0 case: the gradient is 0 for every base (0⁰ too).
            // The inner power is differentiated by the same rule, so x² at 0 has second
            // derivative 2 and x³ has 0.
            ScalarOp::Powf => {
                if c == 0.0 {
                    g.constant(0.0)
                } else {
                    g * (x.powf(c - 1.0) * c)
                }
            }
            ScalarOp::Powi => {
                if c == 0.0 {
                    g.constant(0.0)
                } else {
                    // n − 1 overflows i32 for n = i32::MIN; PyTorch computes it as a double.
                    let power = match (c as i32).checked_sub(1) {
                        Some(m) => x.powi(m),
                        None => x.powf(c - 1.0),
                    };
                    g * (power * c)
                }
            }
        }
    }

    /// The lanes where dy/dx is not finite (the constant counts as a factor for `x·c`).
    #[inline(always)]
    pub(crate) fn factor_non_finite<T: Number>(self, x: T, c: f64, y: T) -> u64 {
        match self {
            ScalarOp::AddConst | ScalarOp::SubFrom => 0,
            ScalarOp::MulConst => T::splat(c).non_finite_bits(),
            ScalarOp::DivConst | ScalarOp::DivInto | ScalarOp::Powf | ScalarOp::Powi => {
                self.derivative(T::splat(1.0), x, c, y).non_finite_bits()
            }
        }
    }

    pub(crate) fn symbol(self) -> &'static str {
        match self {
            ScalarOp::AddConst => "+",
            ScalarOp::SubFrom => "-",
            ScalarOp::MulConst => "*",
            ScalarOp::DivConst => "/",
            ScalarOp::DivInto => "/",
            ScalarOp::Powf => "powf",
            ScalarOp::Powi => "powi",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACTIVATIONS: [Activation; 4] = [
        Activation::Relu,
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Identity,
    ];

    /// Every variant once, with distinct fields (high bits set, to catch sign extension).
    fn every_op() -> Vec<Op> {
        let (a, b, c) = (0x8123_4567, 0xfedc_ba98, u32::MAX);
        let mut ops = vec![
            Op::Leaf,
            Op::Add(a, b),
            Op::Sub(b, a),
            Op::Mul(a, c),
            Op::Div(c, b),
            Op::Gate(b, c),
            Op::SumRange { start: a, len: b },
            Op::SumList { at: b, len: a },
            Op::DotRange { w: a, x: b, len: c },
            Op::DotList { at: c, len: a },
        ];
        ops.extend(UnOp::ALL.iter().map(|&op| Op::Unary(op, a)));
        for act in ACTIVATIONS {
            ops.push(Op::NeuronRange {
                act,
                w: c,
                x: a,
                len: b,
            });
        }
        let scalar = [
            ScalarOp::AddConst,
            ScalarOp::SubFrom,
            ScalarOp::MulConst,
            ScalarOp::DivConst,
            ScalarOp::DivInto,
            ScalarOp::Powf,
            ScalarOp::Powi,
        ];
        for (op, k) in
            scalar
                .into_iter()
                .zip([-0.0, 1.5, f64::NAN, f64::INFINITY, -1e300, 3.0, 2.0])
        {
            ops.push(Op::Scalar(op, b, k));
        }
        ops
    }

    /// `Tape`'s push stores `op.words()` in place of `op`: they must be its representation on
    /// this target. An encoding that assumed a byte order (shifts into a little-endian word,
    /// say) fails here on a big-endian target, as Miri's s390x target shows.
    #[test]
    fn words_are_the_operations_representation() {
        let ops = every_op();
        // A new variant does not compile here until it has a number, and fails the count
        // below until `every_op` lists it.
        let variant = |op: &Op| match op {
            Op::Leaf => 0,
            Op::Add(..) => 1,
            Op::Sub(..) => 2,
            Op::Mul(..) => 3,
            Op::Div(..) => 4,
            Op::Gate(..) => 12,
            Op::Unary(..) => 5,
            Op::Scalar(..) => 6,
            Op::SumRange { .. } => 7,
            Op::SumList { .. } => 8,
            Op::DotRange { .. } => 9,
            Op::DotList { .. } => 10,
            Op::NeuronRange { .. } => 11,
        };
        let covered: std::collections::BTreeSet<i32> = ops.iter().map(variant).collect();
        assert_eq!(covered.len(), 13, "every_op must list every variant");
        for op in ops {
            // SAFETY: what this test checks. Bytes 0 and 1 (the tag, a `ScalarOp`, a `UnOp` or
            // an `Activation`) are `op`'s own, so while the other fields stay clear of them, a
            // field at a wrong offset gives another `Op` of the same variant, which the
            // comparison below shows.
            let back = unsafe {
                let mut slot = std::mem::MaybeUninit::<Op>::uninit();
                slot.as_mut_ptr().cast::<[u64; 2]>().write(op.words());
                slot.assume_init()
            };
            match (back, op) {
                (Op::Scalar(o1, a1, c1), Op::Scalar(o2, a2, c2)) => {
                    assert_eq!((o1, a1, c1.to_bits()), (o2, a2, c2.to_bits()));
                }
                _ => assert_eq!(back, op),
            }
        }
    }

    /// The words hold each field in the machine's byte order at its offset: on either byte
    /// order, the `u32` at bytes 4..8 of the first word reads back as the first operand.
    #[test]
    fn words_put_fields_at_their_offsets_in_native_order() {
        let [first, second] = Op::DotRange {
            w: 0x0102_0304,
            x: 0x0a0b_0c0d,
            len: 7,
        }
        .words();
        let (b1, b2) = (first.to_ne_bytes(), second.to_ne_bytes());
        let u32_at = |b: &[u8; 8], at: usize| u32::from_ne_bytes(b[at..at + 4].try_into().unwrap());
        assert_eq!(u32_at(&b1, 4), 0x0102_0304);
        assert_eq!(u32_at(&b2, 0), 0x0a0b_0c0d);
        assert_eq!(u32_at(&b2, 4), 7);
        assert_eq!(b1[1], 0);
    }

    /// `Activation::derivative` passes the output as the unary rule's input: that is only
    /// sound while the rules of relu, tanh and sigmoid read the output alone.
    #[test]
    fn activation_derivatives_read_only_the_output() {
        let special = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            20.0,
            -20.0,
            1e-300,
            f64::INFINITY,
        ];
        let points = special
            .iter()
            .flat_map(|&z| [z, -z])
            .chain([f64::NAN, f64::NEG_INFINITY]);
        for (act, op) in [
            (Activation::Relu, UnOp::Relu),
            (Activation::Tanh, UnOp::Tanh),
            (Activation::Sigmoid, UnOp::Sigmoid),
        ] {
            for z in points.clone() {
                let y = act.apply(z);
                let want = op.forward(z);
                // Miri perturbs the last bits of each `tanh` call and NaN payloads on purpose,
                // so two calls agree there only to some units in the last place (and in being
                // NaN); natively they are one formula and agree bit for bit.
                let same = y.to_bits() == want.to_bits()
                    || (cfg!(miri)
                        && ((y - want).abs() <= 1e-14 * want.abs()
                            || (y.is_nan() && want.is_nan())));
                assert!(same, "{act:?} at {z}: {y} vs {want}");
                for g in [1.0, -2.5, 0.0, f64::INFINITY] {
                    let exact = op.derivative(g, z, y);
                    let fused = act.derivative(g, y);
                    assert!(
                        exact.to_bits() == fused.to_bits() || (exact.is_nan() && fused.is_nan()),
                        "{act:?} at z = {z}, g = {g}: {exact} vs {fused}"
                    );
                }
            }
        }
    }

    /// The `mlp` crate's names for its activation, which is now this type, still work.
    #[test]
    #[allow(deprecated)]
    fn the_old_activation_names_still_work() {
        assert!(matches!(Activation::Identity, Activation::Linear));
        let tape = crate::Tape::new();
        let z = tape.var(-1.5);
        assert_eq!(Activation::Relu.record(z).value(), 0.0);
        assert_eq!(Activation::Linear.record(z).index(), z.index());
        assert_eq!(Activation::Linear.fused(), None);
        assert_eq!(Activation::Tanh.fused(), Some(Activation::Tanh));
    }

    /// The operand bounds cover every id `for_each_operand` visits.
    #[test]
    fn operand_bounds_cover_the_operands() {
        let ops = [
            Op::Add(3, 9),
            Op::Unary(UnOp::Exp, 4),
            Op::Scalar(ScalarOp::Powi, 5, 2.0),
            Op::SumRange { start: 2, len: 5 },
            Op::DotRange {
                w: 0,
                x: 10,
                len: 3,
            },
            Op::NeuronRange {
                act: Activation::Identity,
                w: 4,
                x: 0,
                len: 3,
            },
        ];
        for op in ops {
            let mut max = 0;
            op.for_each_operand(&[], |k| max = max.max(k));
            let end = match op.operand_bounds() {
                OperandBounds::Two(a, b) => u64::from(a.max(b)) + 1,
                OperandBounds::Ids(end) => end,
                bounds => panic!("{op:?}: {bounds:?}"),
            };
            assert_eq!(end, u64::from(max) + 1, "{op:?}");
        }
        assert_eq!(
            Op::DotList { at: 4, len: 3 }.operand_bounds(),
            OperandBounds::List(10)
        );
        assert_eq!(Op::Leaf.operand_bounds(), OperandBounds::None);
    }
}
