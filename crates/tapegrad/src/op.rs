//! The operations a tape records, each with its forward rule and its local derivative side by
//! side (micrograd's `engine.py` layout).
//!
//! Every `match` here is exhaustive with no `_ =>` arm, so a new operation does not compile
//! until it has both a forward rule and a derivative. Derivatives follow PyTorch's float64
//! conventions at kinks, poles and overflow (see the crate docs, "Numeric conventions").

/// One recorded node's operation. Operands are node ids on the same tape, always smaller than
/// the id of the node that uses them. 16 bytes, so a node costs 24 bytes with its value.
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
    /// `f(x)` for one recorded node, one variant per function (see [`UnOp`]).
    Neg(u32),
    Exp(u32),
    Ln(u32),
    Tanh(u32),
    Sigmoid(u32),
    Relu(u32),
    Sqrt(u32),
    Abs(u32),
    Recip(u32),
    Sin(u32),
    Cos(u32),

    /// `x ∘ c` or `c ∘ x` with an `f64` constant that is never recorded as a node.
    Scalar(ScalarOp, u32, f64),
    /// Σ over the contiguous nodes `start .. start + len`.
    SumRange {
        start: u32,
        len: u32,
    },
    /// Σ over the `len` ids stored at `operands[at ..]`.
    SumList {
        at: u32,
        len: u32,
    },
    /// Σ wᵢ·xᵢ over the contiguous runs `w ..` and `x ..` of length `len`.
    DotRange {
        w: u32,
        x: u32,
        len: u32,
    },
    /// Σ wᵢ·xᵢ where `operands[at .. at + len]` are the w ids and the next `len` the x ids.
    DotList {
        at: u32,
        len: u32,
    },
    /// Σ wᵢ·xᵢ + b over the contiguous runs `w ..` of length `len + 1` (the bias b last) and
    /// `x ..` of length `len`: a neuron's pre-activation in one node.
    AffineRange {
        w: u32,
        x: u32,
        len: u32,
    },
    /// act(Σ wᵢ·xᵢ + b) over the runs of [`Op::AffineRange`]: a whole neuron in one node.
    NeuronRange {
        act: Activation,
        w: u32,
        x: u32,
        len: u32,
    },
}

const _: () = assert!(std::mem::size_of::<Op>() == 16 && std::mem::align_of::<Op>() == 8);

impl Op {
    /// The node's 16 bytes as two words, padding zeroed: what a push stores. A typed `Op` is
    /// stored a field at a time, since padding splits its fields (three stores for a binary
    /// operation, up to five), and the push is bound by its loads and stores. Recording
    /// micrograd's graph, standalone: 97.5–99 µs instead of 101.5–103 µs.
    #[inline(always)]
    pub(crate) fn words(self) -> [u64; 2] {
        // SAFETY: a `repr(u8)` enum's first byte is its tag.
        let tag = unsafe { *(&raw const self).cast::<u8>() };
        let head = |byte1: u8, a: u32| u64::from(tag) | u64::from(byte1) << 8 | u64::from(a) << 32;
        let pair = |lo: u32, hi: u32| u64::from(lo) | u64::from(hi) << 32;
        match self {
            Op::Leaf => [head(0, 0), 0],
            Op::Add(a, b) | Op::Sub(a, b) | Op::Mul(a, b) | Op::Div(a, b) => {
                [head(0, a), u64::from(b)]
            }
            Op::Neg(a)
            | Op::Exp(a)
            | Op::Ln(a)
            | Op::Tanh(a)
            | Op::Sigmoid(a)
            | Op::Relu(a)
            | Op::Sqrt(a)
            | Op::Abs(a)
            | Op::Recip(a)
            | Op::Sin(a)
            | Op::Cos(a) => [head(0, a), 0],
            Op::Scalar(op, a, c) => [head(op as u8, a), c.to_bits()],
            Op::SumRange { start: a, len }
            | Op::SumList { at: a, len }
            | Op::DotList { at: a, len } => [head(0, a), u64::from(len)],
            Op::DotRange { w, x, len } | Op::AffineRange { w, x, len } => {
                [head(0, w), pair(x, len)]
            }
            Op::NeuronRange { act, w, x, len } => [head(act as u8, w), pair(x, len)],
        }
    }
}

/// The nonlinearity of a neuron recorded as one node by [`Tape::neuron`](crate::Tape::neuron).
///
/// Each one's derivative depends on its output alone, so the node keeps no pre-activation:
/// `tape.neuron(w, x, Activation::Relu)` has the value and the gradients of
/// `tape.affine(w, x).relu()`, bit for bit, in one node instead of two.
///
/// ```
/// use tapegrad::{Activation, Tape};
/// let tape = Tape::new();
/// let (wb, x) = (tape.run(&[1.0, -1.0, 0.25]), tape.run(&[0.5, 2.0]));
/// assert_eq!(tape.neuron(wb, x, Activation::Relu).value(), 0.0); // relu(-1.25)
/// assert_eq!(tape.neuron(wb, x, Activation::Tanh).value(), (-1.25f64).tanh());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Activation {
    /// `z` if `z ≥ 0`, else 0, as [`Var::relu`](crate::Var::relu) computes it: a select, so
    /// NaN passes through (where `f64::max(NaN, 0.0)` would be 0).
    Relu,
    /// `tanh(z)`, as [`Var::tanh`](crate::Var::tanh).
    Tanh,
    /// `1 / (1 + e⁻ᶻ)`, as [`Var::sigmoid`](crate::Var::sigmoid).
    Sigmoid,
}

impl Activation {
    /// The same function as a unary operation; its derivative reads only the output.
    #[inline(always)]
    pub(crate) fn unop(self) -> UnOp {
        match self {
            Activation::Relu => UnOp::Relu,
            Activation::Tanh => UnOp::Tanh,
            Activation::Sigmoid => UnOp::Sigmoid,
        }
    }

    /// y = act(z).
    #[inline(always)]
    pub(crate) fn forward(self, z: f64) -> f64 {
        self.unop().forward(z)
    }

    /// dy/dz·g for upstream gradient `g`, given the output `y`: the unary rule, whose input
    /// argument these three functions do not read (see the test below).
    #[inline(always)]
    pub(crate) fn backward(self, g: f64, y: f64) -> f64 {
        self.unop().backward(g, f64::NAN, y)
    }
}

/// Binary operations on two recorded nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
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
        }
    }

    /// y = a ∘ b.
    #[inline(always)]
    pub(crate) fn forward(self, a: f64, b: f64) -> f64 {
        match self {
            BinOp::Add => a + b,
            BinOp::Sub => a - b,
            BinOp::Mul => a * b,
            BinOp::Div => a / b,
        }
    }

    /// The adjoint contributions (to a, to b) for upstream gradient `g`, given the output `y`.
    #[inline(always)]
    pub(crate) fn backward(self, g: f64, a: f64, b: f64, y: f64) -> (f64, f64) {
        match self {
            BinOp::Add => (g, g),
            BinOp::Sub => (g, -g),
            BinOp::Mul => (g * b, g * a),
            // PyTorch's div rule: -g·((a/b)/b), and y is exactly a/b. Not a·b⁻¹, which would
            // round differently and overflow where this does not.
            BinOp::Div => (g / b, -g * (y / b)),
        }
    }

    pub(crate) fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
        }
    }
}

/// Elementwise functions of one recorded node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnOp {
    Neg,
    Exp,
    Ln,
    Tanh,
    Sigmoid,
    Relu,
    Sqrt,
    Abs,
    Recip,
    Sin,
    Cos,
}

impl UnOp {
    /// The node recording `f(x)`.
    #[inline(always)]
    pub(crate) fn node(self, x: u32) -> Op {
        match self {
            UnOp::Neg => Op::Neg(x),
            UnOp::Exp => Op::Exp(x),
            UnOp::Ln => Op::Ln(x),
            UnOp::Tanh => Op::Tanh(x),
            UnOp::Sigmoid => Op::Sigmoid(x),
            UnOp::Relu => Op::Relu(x),
            UnOp::Sqrt => Op::Sqrt(x),
            UnOp::Abs => Op::Abs(x),
            UnOp::Recip => Op::Recip(x),
            UnOp::Sin => Op::Sin(x),
            UnOp::Cos => Op::Cos(x),
        }
    }

    /// y = f(x).
    #[inline(always)]
    pub(crate) fn forward(self, x: f64) -> f64 {
        match self {
            UnOp::Neg => -x,
            UnOp::Exp => x.exp(),
            UnOp::Ln => x.ln(),
            // f64::tanh saturates to ±1; the exp formula gives inf/inf = NaN for x ≥ 355.
            UnOp::Tanh => x.tanh(),
            // 1/(1+e⁻ˣ) as PyTorch computes it: e⁻ˣ = inf gives 0, never NaN.
            UnOp::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            // A select, not f64::max (max(NaN, 0) is 0): NaN and -0 pass through as PyTorch's.
            UnOp::Relu => {
                if x < 0.0 {
                    0.0
                } else {
                    x
                }
            }
            UnOp::Sqrt => x.sqrt(),
            UnOp::Abs => x.abs(),
            UnOp::Recip => 1.0 / x,
            UnOp::Sin => x.sin(),
            UnOp::Cos => x.cos(),
        }
    }

    /// dy/dx·g for upstream gradient `g`, given the input `x` and the output `y`.
    #[inline(always)]
    pub(crate) fn backward(self, g: f64, x: f64, y: f64) -> f64 {
        match self {
            UnOp::Neg => -g,
            UnOp::Exp => g * y,
            // ln(-1) is NaN with gradient -1 (g/x), as PyTorch returns.
            UnOp::Ln => g / x,
            UnOp::Tanh => g * (1.0 - y * y),
            UnOp::Sigmoid => g * (1.0 - y) * y,
            // Selects on the output: relu'(0) = 0, and an infinite g at x ≤ 0 still gives 0.
            UnOp::Relu => {
                if y <= 0.0 {
                    0.0
                } else {
                    g
                }
            }
            // sqrt(±0) = ±0 gives ±inf.
            UnOp::Sqrt => g / (2.0 * y),
            UnOp::Abs => g * sgn(x),
            // PyTorch's reciprocal rule: -g·y².
            UnOp::Recip => -g * (y * y),
            UnOp::Sin => g * x.cos(),
            UnOp::Cos => -g * x.sin(),
        }
    }

    /// Whether dy/dx can be infinite where x and y are finite. The other factors are bounded
    /// or equal to the value, which the sweep checks.
    #[inline(always)]
    pub(crate) fn has_pole(self) -> bool {
        match self {
            UnOp::Neg
            | UnOp::Exp
            | UnOp::Tanh
            | UnOp::Sigmoid
            | UnOp::Relu
            | UnOp::Abs
            | UnOp::Sin
            | UnOp::Cos => false,
            UnOp::Ln | UnOp::Sqrt | UnOp::Recip => true,
        }
    }

    /// Whether dy/dx is finite here.
    #[inline(always)]
    pub(crate) fn factor_finite(self, x: f64, y: f64) -> bool {
        self.backward(1.0, x, y).is_finite()
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            UnOp::Neg => "neg",
            UnOp::Exp => "exp",
            UnOp::Ln => "ln",
            UnOp::Tanh => "tanh",
            UnOp::Sigmoid => "sigmoid",
            UnOp::Relu => "relu",
            UnOp::Sqrt => "sqrt",
            UnOp::Abs => "abs",
            UnOp::Recip => "recip",
            UnOp::Sin => "sin",
            UnOp::Cos => "cos",
        }
    }
}

/// PyTorch's `sgn`: 0 at ±0 (`f64::signum(0.0)` is 1), NaN at NaN.
#[inline(always)]
fn sgn(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else if x == 0.0 {
        0.0
    } else {
        x
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
    pub(crate) fn forward(self, x: f64, c: f64) -> f64 {
        match self {
            ScalarOp::AddConst => x + c,
            ScalarOp::SubFrom => c - x,
            ScalarOp::MulConst => x * c,
            ScalarOp::DivConst => x / c,
            ScalarOp::DivInto => c / x,
            ScalarOp::Powf => x.powf(c),
            ScalarOp::Powi => x.powi(c as i32),
        }
    }

    /// dy/dx·g for upstream gradient `g`, given `x`, the constant `c` and the output `y`.
    #[inline(always)]
    pub(crate) fn backward(self, g: f64, x: f64, c: f64, y: f64) -> f64 {
        match self {
            ScalarOp::AddConst => g,
            ScalarOp::SubFrom => -g,
            ScalarOp::MulConst => g * c,
            ScalarOp::DivConst => g / c,
            // The div rule for the denominator: -g·((c/x)/x).
            ScalarOp::DivInto => -g * (y / x),
            // PyTorch masks the exponent-0 case: the gradient is 0 for every base (0⁰ too).
            ScalarOp::Powf => {
                if c == 0.0 {
                    0.0
                } else {
                    g * (c * x.powf(c - 1.0))
                }
            }
            ScalarOp::Powi => {
                if c == 0.0 {
                    0.0
                } else {
                    // n − 1 overflows i32 for n = i32::MIN; PyTorch computes it as a double.
                    let power = match (c as i32).checked_sub(1) {
                        Some(m) => x.powi(m),
                        None => x.powf(c - 1.0),
                    };
                    g * (c * power)
                }
            }
        }
    }

    /// Whether dy/dx is finite here (the constant counts as a factor for `x·c`).
    #[inline(always)]
    pub(crate) fn factor_finite(self, x: f64, c: f64, y: f64) -> bool {
        match self {
            ScalarOp::AddConst | ScalarOp::SubFrom => true,
            ScalarOp::MulConst => c.is_finite(),
            ScalarOp::DivConst | ScalarOp::DivInto | ScalarOp::Powf | ScalarOp::Powi => {
                self.backward(1.0, x, c, y).is_finite()
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

impl Op {
    /// A short human-readable name, used by DOT export and anomaly reports.
    pub(crate) fn describe(&self) -> String {
        match *self {
            Op::Leaf => "leaf".to_string(),
            Op::Add(..) => BinOp::Add.symbol().to_string(),
            Op::Sub(..) => BinOp::Sub.symbol().to_string(),
            Op::Mul(..) => BinOp::Mul.symbol().to_string(),
            Op::Div(..) => BinOp::Div.symbol().to_string(),
            Op::Neg(_) => UnOp::Neg.name().to_string(),
            Op::Exp(_) => UnOp::Exp.name().to_string(),
            Op::Ln(_) => UnOp::Ln.name().to_string(),
            Op::Tanh(_) => UnOp::Tanh.name().to_string(),
            Op::Sigmoid(_) => UnOp::Sigmoid.name().to_string(),
            Op::Relu(_) => UnOp::Relu.name().to_string(),
            Op::Sqrt(_) => UnOp::Sqrt.name().to_string(),
            Op::Abs(_) => UnOp::Abs.name().to_string(),
            Op::Recip(_) => UnOp::Recip.name().to_string(),
            Op::Sin(_) => UnOp::Sin.name().to_string(),
            Op::Cos(_) => UnOp::Cos.name().to_string(),
            Op::Scalar(op, _, c) => match op {
                ScalarOp::AddConst | ScalarOp::MulConst | ScalarOp::DivConst => {
                    format!("{} {c}", op.symbol())
                }
                ScalarOp::SubFrom | ScalarOp::DivInto => format!("{c} {}", op.symbol()),
                ScalarOp::Powf | ScalarOp::Powi => format!("{} {c}", op.symbol()),
            },
            Op::SumRange { .. } | Op::SumList { .. } => "sum".to_string(),
            Op::DotRange { .. } | Op::DotList { .. } => "dot".to_string(),
            Op::AffineRange { .. } => "dot + b".to_string(),
            Op::NeuronRange { act, .. } => format!("{}(dot + b)", act.unop().name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant once, with distinct fields (high bits set, to catch sign extension).
    fn every_op() -> Vec<Op> {
        let (a, b, c) = (0x8123_4567, 0xfedc_ba98, u32::MAX);
        let mut ops = vec![
            Op::Leaf,
            Op::Add(a, b),
            Op::Sub(b, a),
            Op::Mul(a, c),
            Op::Div(c, b),
            Op::Neg(a),
            Op::Exp(b),
            Op::Ln(c),
            Op::Tanh(a),
            Op::Sigmoid(b),
            Op::Relu(c),
            Op::Sqrt(a),
            Op::Abs(b),
            Op::Recip(c),
            Op::Sin(a),
            Op::Cos(b),
            Op::SumRange { start: a, len: b },
            Op::SumList { at: b, len: a },
            Op::DotRange { w: a, x: b, len: c },
            Op::DotList { at: c, len: a },
            Op::AffineRange { w: b, x: c, len: a },
        ];
        for act in [Activation::Relu, Activation::Tanh, Activation::Sigmoid] {
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

    /// `Tape`'s push stores `op.words()` in place of `op`: they must be its representation.
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
            Op::Neg(_) => 5,
            Op::Exp(_) => 6,
            Op::Ln(_) => 7,
            Op::Tanh(_) => 8,
            Op::Sigmoid(_) => 9,
            Op::Relu(_) => 10,
            Op::Sqrt(_) => 11,
            Op::Abs(_) => 12,
            Op::Recip(_) => 13,
            Op::Sin(_) => 14,
            Op::Cos(_) => 15,
            Op::Scalar(..) => 16,
            Op::SumRange { .. } => 17,
            Op::SumList { .. } => 18,
            Op::DotRange { .. } => 19,
            Op::DotList { .. } => 20,
            Op::AffineRange { .. } => 21,
            Op::NeuronRange { .. } => 22,
        };
        let covered: std::collections::BTreeSet<i32> = ops.iter().map(variant).collect();
        assert_eq!(covered.len(), 23, "every_op must list every variant");
        for op in ops {
            let mut slot = std::mem::MaybeUninit::<Op>::uninit();
            // SAFETY: what this test checks. Bytes 0 and 1 (the tag, a `ScalarOp` or an
            // `Activation`) are `op`'s own, so while the other fields stay clear of them, a
            // field at a wrong offset gives another `Op` of the same variant, which the
            // comparison below shows.
            let back = unsafe {
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

    /// `Activation::backward` passes NaN as the unary rule's input: that is only sound while
    /// the rules of relu, tanh and sigmoid read the output alone.
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
        for act in [Activation::Relu, Activation::Tanh, Activation::Sigmoid] {
            for z in points.clone() {
                let y = act.forward(z);
                for g in [1.0, -2.5, 0.0, f64::INFINITY] {
                    let exact = act.unop().backward(g, z, y);
                    let fused = act.backward(g, y);
                    assert!(
                        exact.to_bits() == fused.to_bits() || (exact.is_nan() && fused.is_nan()),
                        "{act:?} at z = {z}, g = {g}: {exact} vs {fused}"
                    );
                }
            }
        }
    }
}
