use std::fmt;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use crate::anomaly::Anomaly;
use crate::arena::Tape;
use crate::grads::Grads;
use crate::number::Number;
use crate::op::{BinOp, Op, ScalarOp, UnOp};

/// A handle to one scalar node on a [`Tape`].
///
/// `Var` is `Copy` (24 bytes: the tape, the node id and its value), so arithmetic reads like
/// math on `f64`. Every operation records a node and returns its `Var`; a constant `f64`
/// operand is stored in the node, never recorded as a leaf.
///
/// **Where is micrograd's `.grad`?** A `Var` holds no gradient: [`Var::backward`] returns
/// them all as a [`Grads`], indexed by the `Var` (`g[x]`), so there is nothing to zero
/// between steps. ([`Var::grad`] is something else: gradients recorded as nodes, for second
/// derivatives.)
///
/// ```
/// use tapegrad::Tape;
///
/// let tape = Tape::new();
/// let x = tape.var(0.5);
/// let y = (2.0 * x).exp() - x.powi(3) / 3.0; // 5 nodes after the leaf
/// assert_eq!(tape.len(), 6);
/// let g = y.backward();
/// assert!((g[x] - (2.0 * 1f64.exp() - 0.25)).abs() < 1e-12);
/// ```
///
/// # Panics
///
/// An operation on two `Var`s of different tapes panics.
#[derive(Clone, Copy)]
#[must_use = "a Var is a recorded node; an unused one is wasted work"]
pub struct Var<'t, T: Number = f64> {
    tape: &'t Tape<T>,
    id: u32,
    value: T,
}

impl<T: Number> fmt::Debug for Var<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Var");
        d.field("id", &self.id).field("value", &self.value);
        if let Some(label) = self.tape.label_of(self.id) {
            d.field("label", &label);
        }
        d.finish()
    }
}

/// `Var(data=…)`, as micrograd prints a `Value`, with the label when one is set. The value
/// prints as `f64`'s `Display` does (the shortest form that reads back to the same number), or
/// with the precision you ask for.
///
/// ```
/// let tape = tapegrad::Tape::new();
/// let a = tape.var(2.0);
/// assert_eq!(a.to_string(), "Var(data=2)");
/// assert_eq!((a / 3.0).with_label("q").to_string(), "Var(data=0.6666666666666666, label=q)");
/// assert_eq!(format!("{:.2}", a / 3.0), "Var(data=0.67)");
/// ```
impl<T: Number> fmt::Display for Var<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Var(data=")?;
        fmt::Display::fmt(&self.value, f)?;
        match self.tape.label_of(self.id) {
            Some(label) => write!(f, ", label={label})"),
            None => f.write_str(")"),
        }
    }
}

impl<'t, T: Number> Var<'t, T> {
    #[inline(always)]
    pub(crate) fn new(tape: &'t Tape<T>, id: u32, value: T) -> Self {
        Var { tape, id, value }
    }

    #[inline(always)]
    pub(crate) fn id32(&self) -> u32 {
        self.id
    }

    /// The tape this node is recorded on.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let x = tape.var(1.0);
    /// assert!(std::ptr::eq(x.tape(), &tape));
    /// ```
    #[inline(always)]
    pub fn tape(&self) -> &'t Tape<T> {
        self.tape
    }

    /// The node's position on its tape (its id): `0` for the first node recorded.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let a = tape.var(1.0);
    /// let b = a + 1.0;
    /// assert_eq!((a.index(), b.index()), (0, 1));
    /// ```
    #[inline(always)]
    pub fn index(&self) -> usize {
        self.id as usize
    }

    /// The node's value, computed when it was recorded.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// assert_eq!((tape.var(2.0) * 3.0).value(), 6.0);
    /// ```
    #[inline(always)]
    pub fn value(&self) -> T {
        self.value
    }

    /// Names the node for [`Var::to_dot`], [`Debug`] and anomaly reports, and returns it.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let a = tape.var(2.0).with_label("a");
    /// assert!(format!("{a:?}").contains("\"a\""));
    /// ```
    pub fn with_label(self, label: &str) -> Self {
        self.tape.set_label(self.id, label);
        self
    }

    /// The node's label, if one was set with [`Var::with_label`].
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// assert_eq!(tape.var(1.0).with_label("w").label().as_deref(), Some("w"));
    /// ```
    pub fn label(&self) -> Option<String> {
        self.tape.label_of(self.id)
    }

    /// Reverse-mode gradients of this node with respect to every node recorded up to it.
    ///
    /// One linear sweep over the tape from this node down to the first. Calling it again gives
    /// bitwise the same gradients; nothing on the tape changes. Nodes this one does not depend
    /// on get exactly 0, and so does any node recorded after it.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let a = tape.var(2.0);
    /// let b = tape.var(-3.0);
    /// let c = tape.var(10.0);
    /// let f = tape.var(-2.0);
    /// let l = (a * b + c) * f;
    /// let g = l.backward();
    /// assert_eq!((g[a], g[b], g[c], g[f]), (6.0, -4.0, -2.0, 4.0));
    /// ```
    #[must_use = "backward returns the gradients (index them: `g[x]`); nothing is stored on the Var"]
    pub fn backward(&self) -> Grads<'t, T> {
        let mut g = self.tape.take_buffer(self.id as usize + 1);
        // Only the checked sweep can fail.
        let _ = self.tape.sweep::<false>(self.id, &mut g);
        Grads::new(self.tape, g)
    }

    /// [`Var::backward`] that stops at the first non-finite number on the way.
    ///
    /// It returns an [`Anomaly`] naming the first node this one depends on (in recording
    /// order) whose value is NaN or infinite; if every value is finite, the first node in
    /// the sweep whose local derivative gives an operand a non-finite gradient. With
    /// [`Tape::set_detect_anomaly`] on, the report includes the source location that recorded
    /// the node.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let x = tape.var(0.0).with_label("x");
    /// let y = x.sqrt(); // value 0 is fine, but d sqrt / dx at 0 is +inf
    /// let err = y.backward_checked().unwrap_err();
    /// assert_eq!(err.node.op, "sqrt");
    /// assert!(err.to_string().contains("gradient"));
    ///
    /// let z = tape.var(4.0).sqrt();
    /// assert_eq!(z.backward_checked().unwrap().wrt(z), 1.0);
    /// ```
    #[must_use = "backward_checked returns the gradients or the anomaly; nothing is stored on the Var"]
    pub fn backward_checked(&self) -> Result<Grads<'t, T>, Anomaly> {
        let mut g = self.tape.take_buffer(self.id as usize + 1);
        match self.tape.find_anomaly(self.id, &mut g) {
            Ok(()) => Ok(Grads::new(self.tape, g)),
            Err(e) => {
                self.tape.give_back_buffer(g);
                Err(e)
            }
        }
    }

    /// Graphviz DOT text of the graph below this node, drawn like micrograd's `draw_dot`:
    /// one record per value (`label | data | grad`), one small node per operation, left to
    /// right. Pass the gradients from [`Var::backward`] to fill in the grad column.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let a = tape.var(2.0).with_label("a");
    /// let l = (a * a).with_label("L");
    /// let dot = l.to_dot(Some(&l.backward()));
    /// assert!(dot.starts_with("digraph"));
    /// assert!(dot.contains("grad 4.0000"));
    /// ```
    pub fn to_dot(&self, grads: Option<&Grads<'t, T>>) -> String {
        crate::graphviz::to_dot(self.tape, self.id, grads)
    }

    #[inline(always)]
    #[track_caller]
    fn unary(self, op: UnOp) -> Self {
        let y = op.forward(self.value);
        let node = Op::Unary(op, self.id);
        match op.has_pole() {
            false => self.tape.push(node, y),
            true => {
                let bad = op
                    .derivative(T::splat(1.0), self.value, y)
                    .non_finite_bits();
                self.tape.push_with_pole(node, y, bad)
            }
        }
    }

    #[inline(always)]
    #[track_caller]
    fn scalar(self, op: ScalarOp, c: f64) -> Self {
        let y = op.forward(self.value, c);
        let bad = op.factor_non_finite(self.value, c, y);
        self.tape.push_with_pole(Op::Scalar(op, self.id, c), y, bad)
    }

    #[inline(always)]
    #[track_caller]
    pub(crate) fn binary(self, op: BinOp, rhs: Self) -> Self {
        if !std::ptr::eq(self.tape, rhs.tape) {
            crate::arena::foreign_var(op.symbol_name());
        }
        let y = op.forward(self.value, rhs.value);
        let node = op.node(self.id, rhs.id);
        // The tapes are one (checked above). Push through rhs's pointer: in `s += w * x` it is
        // the one the product's push just used, so both pushes address the tape through one
        // register.
        let tape = rhs.tape;
        // Only division has factors that can be infinite where the values are finite; the
        // others' factors are ±1 or the operands' values.
        match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Gate => tape.push(node, y),
            BinOp::Div => {
                let (ga, gb) = op.derivative(T::splat(1.0), self.value, rhs.value, y);
                tape.push_with_pole(node, y, ga.non_finite_bits() | gb.non_finite_bits())
            }
        }
    }

    /// eˣ; the gradient is eˣ. Overflows to `inf` above 709.78, and `exp(-746)` is 0.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let x = tape.var(1.0);
    /// assert_eq!(x.exp().backward()[x], 1f64.exp());
    /// ```
    #[inline]
    #[track_caller]
    pub fn exp(self) -> Self {
        self.unary(UnOp::Exp)
    }

    /// The natural logarithm; the gradient is 1/x.
    ///
    /// `ln(+0)` is −inf with gradient +inf, `ln(-0)` has gradient −inf, and for x < 0 the value
    /// is NaN while the gradient is still 1/x (what PyTorch returns).
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let x = tape.var(-1.0);
    /// let y = x.ln();
    /// assert!(y.value().is_nan());
    /// assert_eq!(y.backward()[x], -1.0);
    /// ```
    #[inline]
    #[track_caller]
    #[doc(alias = "log")]
    pub fn ln(self) -> Self {
        self.unary(UnOp::Ln)
    }

    /// The hyperbolic tangent; the gradient is 1 − tanh²x. Saturates cleanly: `tanh(1000)` is
    /// 1 with gradient 0.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let x = tape.var(1000.0);
    /// let y = x.tanh();
    /// assert_eq!((y.value(), y.backward()[x]), (1.0, 0.0));
    /// ```
    #[inline]
    #[track_caller]
    pub fn tanh(self) -> Self {
        self.unary(UnOp::Tanh)
    }

    /// The logistic function 1/(1 + e⁻ˣ), a primitive whose gradient σ(1 − σ) is never NaN:
    /// `sigmoid(-1000)` is 0 with gradient 0.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let x = tape.var(0.0);
    /// let y = x.sigmoid();
    /// assert_eq!((y.value(), y.backward()[x]), (0.5, 0.25));
    /// ```
    #[inline]
    #[track_caller]
    pub fn sigmoid(self) -> Self {
        self.unary(UnOp::Sigmoid)
    }

    /// max(x, 0) as a select: the gradient is 0 where the output is ≤ 0 (so relu'(0) = 0), and
    /// NaN stays NaN.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let x = tape.var(0.0);
    /// assert_eq!(x.relu().backward()[x], 0.0);
    /// assert!(tape.var(f64::NAN).relu().value().is_nan());
    /// ```
    #[inline]
    #[track_caller]
    pub fn relu(self) -> Self {
        self.unary(UnOp::Relu)
    }

    /// The square root; the gradient is 1/(2√x): `sqrt(0)` has gradient +inf.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let x = tape.var(4.0);
    /// assert_eq!(x.sqrt().backward()[x], 0.25);
    /// ```
    #[inline]
    #[track_caller]
    pub fn sqrt(self) -> Self {
        self.unary(UnOp::Sqrt)
    }

    /// |x|; the gradient is sgn(x) with sgn(±0) = 0.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let x = tape.var(-3.0);
    /// assert_eq!(x.abs().backward()[x], -1.0);
    /// let z = tape.var(0.0);
    /// assert_eq!(z.abs().backward()[z], 0.0);
    /// ```
    #[inline]
    #[track_caller]
    pub fn abs(self) -> Self {
        self.unary(UnOp::Abs)
    }

    /// 1/x; the gradient is −1/x².
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let x = tape.var(2.0);
    /// assert_eq!(x.recip().backward()[x], -0.25);
    /// ```
    #[inline]
    #[track_caller]
    pub fn recip(self) -> Self {
        self.unary(UnOp::Recip)
    }

    /// The sine; the gradient is cos x.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let x = tape.var(0.0);
    /// assert_eq!(x.sin().backward()[x], 1.0);
    /// ```
    #[inline]
    #[track_caller]
    pub fn sin(self) -> Self {
        self.unary(UnOp::Sin)
    }

    /// The cosine; the gradient is −sin x.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let x = tape.var(0.0);
    /// assert_eq!(x.cos().backward()[x], -0.0);
    /// ```
    #[inline]
    #[track_caller]
    pub fn cos(self) -> Self {
        self.unary(UnOp::Cos)
    }

    /// The hyperbolic sine; the gradient is cosh x. Overflows to ±inf beyond |x| ≈ 710.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let x = tape.var(0.5);
    /// let y = x.sinh();
    /// assert_eq!(y.value(), 0.5f64.sinh());
    /// assert_eq!(y.backward()[x], 0.5f64.cosh());
    /// ```
    #[inline]
    #[track_caller]
    pub fn sinh(self) -> Self {
        self.unary(UnOp::Sinh)
    }

    /// The hyperbolic cosine; the gradient is sinh x.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let x = tape.var(0.0);
    /// let y = x.cosh();
    /// assert_eq!((y.value(), y.backward()[x]), (1.0, 0.0));
    /// ```
    #[inline]
    #[track_caller]
    pub fn cosh(self) -> Self {
        self.unary(UnOp::Cosh)
    }

    /// xᵉ for a constant exponent; the gradient is e·xᵉ⁻¹, and exactly 0 for every base when
    /// e = 0 (PyTorch's convention, so `0⁰` is 1 with gradient 0). As in PyTorch, e = ½ and
    /// e = −½ are computed as `sqrt` and `1/sqrt`, so at −0 they follow the sign of the zero:
    /// `(-0.0).powf(0.5)` is −0 with gradient −inf (IEEE `pow` gives +0 and +inf), and
    /// `(-inf).powf(0.5)` is NaN (`pow` gives +inf); other exponents use [`f64::powf`].
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let x = tape.var(-2.0);
    /// let y = x.powf(3.0);
    /// assert_eq!((y.value(), y.backward()[x]), (-8.0, 12.0));
    /// let z = tape.var(0.0);
    /// assert_eq!(z.powf(0.0).backward()[z], 0.0);
    /// let neg_zero = tape.var(-0.0);
    /// let r = neg_zero.powf(0.5);
    /// assert!(r.value() == 0.0 && r.value().is_sign_negative());
    /// assert_eq!(r.backward()[neg_zero], f64::NEG_INFINITY);
    /// ```
    #[inline]
    #[track_caller]
    pub fn powf(self, e: f64) -> Self {
        self.scalar(ScalarOp::Powf, e)
    }

    /// xⁿ for a constant integer exponent (computed with [`f64::powi`]); the gradient is
    /// n·xⁿ⁻¹, and 0 when n = 0.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let x = tape.var(3.0);
    /// assert_eq!(x.powi(2).backward()[x], 6.0);
    /// ```
    #[inline]
    #[track_caller]
    pub fn powi(self, n: i32) -> Self {
        self.scalar(ScalarOp::Powi, n as f64)
    }
}

impl BinOp {
    fn symbol_name(self) -> &'static str {
        match self {
            BinOp::Add => "`+`",
            BinOp::Sub => "`-`",
            BinOp::Mul => "`*`",
            BinOp::Div => "`/`",
            BinOp::Gate => "the relu mask",
        }
    }
}

impl<'t, T: Number> Neg for Var<'t, T> {
    type Output = Var<'t, T>;
    #[inline]
    #[track_caller]
    fn neg(self) -> Var<'t, T> {
        self.unary(UnOp::Neg)
    }
}

/// Implements `Var ∘ Var`, `Var ∘ f64`, `f64 ∘ Var` and `Var ∘= Var | f64` for one operator.
macro_rules! operator {
    ($Trait:ident $method:ident, $AssignTrait:ident $assign:ident,
     $bin:expr, |$x:ident, $c:ident| $var_f64:expr, |$c2:ident, $y:ident| $f64_var:expr) => {
        impl<'t, T: Number> $Trait for Var<'t, T> {
            type Output = Var<'t, T>;
            #[inline]
            #[track_caller]
            fn $method(self, rhs: Var<'t, T>) -> Var<'t, T> {
                self.binary($bin, rhs)
            }
        }

        impl<'t, T: Number> $Trait<f64> for Var<'t, T> {
            type Output = Var<'t, T>;
            #[inline]
            #[track_caller]
            fn $method(self, $c: f64) -> Var<'t, T> {
                let $x = self;
                $var_f64
            }
        }

        impl<'t, T: Number> $Trait<Var<'t, T>> for f64 {
            type Output = Var<'t, T>;
            #[inline]
            #[track_caller]
            fn $method(self, $y: Var<'t, T>) -> Var<'t, T> {
                let $c2 = self;
                $f64_var
            }
        }

        impl<'t, T: Number> $AssignTrait for Var<'t, T> {
            #[inline]
            #[track_caller]
            fn $assign(&mut self, rhs: Var<'t, T>) {
                *self = $Trait::$method(*self, rhs);
            }
        }

        impl<T: Number> $AssignTrait<f64> for Var<'_, T> {
            #[inline]
            #[track_caller]
            fn $assign(&mut self, rhs: f64) {
                *self = $Trait::$method(*self, rhs);
            }
        }
    };
}

operator!(Add add, AddAssign add_assign, BinOp::Add,
    |x, c| x.scalar(ScalarOp::AddConst, c),
    |c, y| y.scalar(ScalarOp::AddConst, c));
// x − c is stored as x + (−c): IEEE defines subtraction as exactly that.
operator!(Sub sub, SubAssign sub_assign, BinOp::Sub,
    |x, c| x.scalar(ScalarOp::AddConst, -c),
    |c, y| y.scalar(ScalarOp::SubFrom, c));
operator!(Mul mul, MulAssign mul_assign, BinOp::Mul,
    |x, c| x.scalar(ScalarOp::MulConst, c),
    |c, y| y.scalar(ScalarOp::MulConst, c));
operator!(Div div, DivAssign div_assign, BinOp::Div,
    |x, c| x.scalar(ScalarOp::DivConst, c),
    |c, y| y.scalar(ScalarOp::DivInto, c));

/// `iter.sum()` over `Var`s (or `&Var`s) records ONE node, as [`Tape::sum`] does.
///
/// ```
/// let tape = tapegrad::Tape::new();
/// let xs = tape.vars(&[1.0, 2.0, 3.0]);
/// let s: tapegrad::Var = xs.iter().sum();
/// assert_eq!((s.value(), tape.len()), (6.0, 4));
/// let squares: tapegrad::Var = xs.iter().map(|&x| x * x).sum();
/// assert_eq!(squares.backward()[xs[2]], 6.0);
/// ```
///
/// # Panics
///
/// If the iterator is empty (there is no tape to record a 0 on: use [`Tape::sum`], which
/// takes any number of terms), or the terms belong to different tapes.
impl<'t, T: Number> std::iter::Sum<Var<'t, T>> for Var<'t, T> {
    #[track_caller]
    fn sum<I: Iterator<Item = Var<'t, T>>>(iter: I) -> Self {
        let mut iter = iter.peekable();
        let Some(first) = iter.peek() else {
            empty_sum()
        };
        first.tape.sum(iter)
    }
}

impl<'a, 't, T: Number> std::iter::Sum<&'a Var<'t, T>> for Var<'t, T> {
    #[track_caller]
    fn sum<I: Iterator<Item = &'a Var<'t, T>>>(iter: I) -> Self {
        iter.copied().sum()
    }
}

#[cold]
#[track_caller]
fn empty_sum() -> ! {
    panic!(
        "tapegrad: summing an empty iterator of Vars: there is no tape to record the 0 on; use \
         Tape::sum, which takes any number of terms"
    )
}
