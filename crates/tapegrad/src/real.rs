//! [`Real`]: the numbers a formula can be written over once and run on `f64` or on the tape.

use std::ops::{Add, Div, Mul, Neg, Sub};

use crate::op::UnOp;
use crate::var::Var;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f64 {}
    impl Sealed for crate::Var<'_> {}
    impl<const K: usize> Sealed for crate::dual::Dual<K> {}
}

/// A scalar that a formula can be written over once: `f64`, which computes, and [`Var`],
/// which records.
///
/// The engine writes every local derivative over `Real`, so the one formula gives
/// [`Var::backward`]'s gradient on `f64` and records [`Var::grad`]'s on the tape. Write your
/// own losses and activations the same way to run them with and without a tape and get the
/// same bits:
///
/// ```
/// use tapegrad::{Real, Tape};
///
/// // A squared hinge, once.
/// fn loss<T: Real>(score: T, label: f64) -> T {
///     let margin = (score * label).rsub(1.0).relu(); // max(0, 1 − y·s)
///     margin * margin
/// }
///
/// let tape = Tape::new();
/// let s = tape.var(0.25);
/// let on_tape = loss(s, 1.0);
/// assert_eq!(on_tape.value().to_bits(), loss(0.25, 1.0).to_bits());
/// assert_eq!(on_tape.backward()[s], -1.5);
/// ```
///
/// The functions are the engine's: `relu` is a select that keeps NaN, `sigmoid` never gives
/// NaN, as on [`Var`]. The trait is sealed: `f64` and `Var` are its only public types (the
/// engine's forward mode runs the same formulas on dual numbers of its own).
pub trait Real:
    sealed::Sealed
    + Copy
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
    /// The number's value.
    ///
    /// ```
    /// use tapegrad::Real;
    /// assert_eq!(Real::value(2.5), 2.5);
    /// ```
    fn value(self) -> f64;

    /// A constant `c` of the same kind: `c` itself on `f64`, a leaf on `self`'s tape for a
    /// [`Var`] (so nothing depends on it).
    ///
    /// ```
    /// use tapegrad::{Real, Tape};
    /// let tape = Tape::new();
    /// assert_eq!(tape.var(1.0).constant(3.0).value(), 3.0);
    /// ```
    fn constant(self, c: f64) -> Self;

    /// `c − self`, one operation.
    ///
    /// ```
    /// use tapegrad::Real;
    /// assert_eq!(0.25.rsub(1.0), 0.75);
    /// ```
    fn rsub(self, c: f64) -> Self;

    /// eˣ, as [`Var::exp`].
    ///
    /// ```
    /// use tapegrad::{Real, Tape};
    /// let tape = Tape::new();
    /// assert_eq!(Real::exp(1.0f64), 1f64.exp());
    /// assert_eq!(Real::exp(tape.var(1.0)).value(), 1f64.exp());
    /// ```
    fn exp(self) -> Self;
    /// ln x, as [`Var::ln`].
    ///
    /// ```
    /// use tapegrad::{Real, Tape};
    /// let tape = Tape::new();
    /// assert_eq!(Real::ln(1.0f64), 0.0);
    /// assert_eq!(Real::ln(tape.var(1.0)).value(), 0.0);
    /// ```
    fn ln(self) -> Self;
    /// √x, as [`Var::sqrt`].
    ///
    /// ```
    /// use tapegrad::{Real, Tape};
    /// let tape = Tape::new();
    /// assert_eq!(Real::sqrt(4.0f64), 2.0);
    /// assert_eq!(Real::sqrt(tape.var(4.0)).value(), 2.0);
    /// ```
    fn sqrt(self) -> Self;
    /// tanh x, as [`Var::tanh`].
    ///
    /// ```
    /// use tapegrad::{Real, Tape};
    /// let tape = Tape::new();
    /// assert_eq!(Real::tanh(0.5f64), 0.5f64.tanh());
    /// assert_eq!(Real::tanh(tape.var(0.5)).value(), 0.5f64.tanh());
    /// ```
    fn tanh(self) -> Self;
    /// 1/(1 + e⁻ˣ), as [`Var::sigmoid`].
    ///
    /// ```
    /// use tapegrad::{Real, Tape};
    /// let tape = Tape::new();
    /// assert_eq!(Real::sigmoid(0.0f64), 0.5);
    /// assert_eq!(Real::sigmoid(tape.var(0.0)).value(), 0.5);
    /// ```
    fn sigmoid(self) -> Self;
    /// max(x, 0) as a select, as [`Var::relu`].
    ///
    /// ```
    /// use tapegrad::{Real, Tape};
    /// let tape = Tape::new();
    /// assert_eq!(Real::relu(-2.0f64), 0.0);
    /// assert_eq!(Real::relu(tape.var(-2.0)).value(), 0.0);
    /// ```
    fn relu(self) -> Self;
    /// |x|, as [`Var::abs`].
    ///
    /// ```
    /// use tapegrad::{Real, Tape};
    /// let tape = Tape::new();
    /// assert_eq!(Real::abs(-2.0f64), 2.0);
    /// assert_eq!(Real::abs(tape.var(-2.0)).value(), 2.0);
    /// ```
    fn abs(self) -> Self;
    /// 1/x, as [`Var::recip`].
    ///
    /// ```
    /// use tapegrad::{Real, Tape};
    /// let tape = Tape::new();
    /// assert_eq!(Real::recip(4.0f64), 0.25);
    /// assert_eq!(Real::recip(tape.var(4.0)).value(), 0.25);
    /// ```
    fn recip(self) -> Self;
    /// sin x, as [`Var::sin`].
    ///
    /// ```
    /// use tapegrad::{Real, Tape};
    /// let tape = Tape::new();
    /// assert_eq!(Real::sin(0.5f64), 0.5f64.sin());
    /// assert_eq!(Real::sin(tape.var(0.5)).value(), 0.5f64.sin());
    /// ```
    fn sin(self) -> Self;
    /// cos x, as [`Var::cos`].
    ///
    /// ```
    /// use tapegrad::{Real, Tape};
    /// let tape = Tape::new();
    /// assert_eq!(Real::cos(0.5f64), 0.5f64.cos());
    /// assert_eq!(Real::cos(tape.var(0.5)).value(), 0.5f64.cos());
    /// ```
    fn cos(self) -> Self;
    /// sinh x, as [`Var::sinh`].
    ///
    /// ```
    /// use tapegrad::{Real, Tape};
    /// let tape = Tape::new();
    /// assert_eq!(Real::sinh(0.5f64), 0.5f64.sinh());
    /// assert_eq!(Real::sinh(tape.var(0.5)).value(), 0.5f64.sinh());
    /// ```
    fn sinh(self) -> Self;
    /// cosh x, as [`Var::cosh`].
    ///
    /// ```
    /// use tapegrad::{Real, Tape};
    /// let tape = Tape::new();
    /// assert_eq!(Real::cosh(0.5f64), 0.5f64.cosh());
    /// assert_eq!(Real::cosh(tape.var(0.5)).value(), 0.5f64.cosh());
    /// ```
    fn cosh(self) -> Self;
    /// xᵉ, as [`Var::powf`].
    ///
    /// ```
    /// use tapegrad::{Real, Tape};
    /// let tape = Tape::new();
    /// assert_eq!(Real::powf(2.0f64, 3.0), 8.0);
    /// assert_eq!(Real::powf(tape.var(2.0), 3.0).value(), 8.0);
    /// ```
    fn powf(self, e: f64) -> Self;
    /// xⁿ, as [`Var::powi`].
    ///
    /// ```
    /// use tapegrad::{Real, Tape};
    /// let tape = Tape::new();
    /// assert_eq!(Real::powi(2.0f64, 3), 8.0);
    /// assert_eq!(Real::powi(tape.var(2.0), 3).value(), 8.0);
    /// ```
    fn powi(self, n: i32) -> Self;

    /// `self` where `by > 0` (or `by` is NaN), else 0: relu's mask on a gradient, as a select,
    /// so an infinite `self` where `by ≤ 0` still gives 0. On a [`Var`] it records a node
    /// with an edge to `by` and a zero derivative towards it (PyTorch's
    /// `threshold_backward`), which is how [`Var::grad`] records relu's derivative.
    ///
    /// ```
    /// use tapegrad::{Real, Tape};
    /// assert_eq!(f64::INFINITY.gate(-1.0), 0.0);
    /// assert_eq!(2.5.gate(0.5), 2.5);
    /// let tape = Tape::new();
    /// let (g, y) = (tape.var(3.0), tape.var(0.0));
    /// let masked = g.gate(y);
    /// assert_eq!(masked.value(), 0.0);
    /// let d = masked.backward();
    /// assert_eq!((d[g], d[y]), (0.0, 0.0));
    /// ```
    fn gate(self, by: Self) -> Self;
}

/// `f64` runs the table's forward rules, so a formula gives the tape's bits without a tape.
impl Real for f64 {
    #[inline(always)]
    fn value(self) -> f64 {
        self
    }
    #[inline(always)]
    fn constant(self, c: f64) -> f64 {
        c
    }
    #[inline(always)]
    fn rsub(self, c: f64) -> f64 {
        c - self
    }
    #[inline(always)]
    fn exp(self) -> f64 {
        UnOp::Exp.forward(self)
    }
    #[inline(always)]
    fn ln(self) -> f64 {
        UnOp::Ln.forward(self)
    }
    #[inline(always)]
    fn sqrt(self) -> f64 {
        UnOp::Sqrt.forward(self)
    }
    #[inline(always)]
    fn tanh(self) -> f64 {
        UnOp::Tanh.forward(self)
    }
    #[inline(always)]
    fn sigmoid(self) -> f64 {
        UnOp::Sigmoid.forward(self)
    }
    #[inline(always)]
    fn relu(self) -> f64 {
        UnOp::Relu.forward(self)
    }
    #[inline(always)]
    fn abs(self) -> f64 {
        UnOp::Abs.forward(self)
    }
    #[inline(always)]
    fn recip(self) -> f64 {
        UnOp::Recip.forward(self)
    }
    #[inline(always)]
    fn sin(self) -> f64 {
        UnOp::Sin.forward(self)
    }
    #[inline(always)]
    fn cos(self) -> f64 {
        UnOp::Cos.forward(self)
    }
    #[inline(always)]
    fn sinh(self) -> f64 {
        UnOp::Sinh.forward(self)
    }
    #[inline(always)]
    fn cosh(self) -> f64 {
        UnOp::Cosh.forward(self)
    }
    #[inline(always)]
    fn powf(self, e: f64) -> f64 {
        crate::op::powf(self, e)
    }
    #[inline(always)]
    fn powi(self, n: i32) -> f64 {
        f64::powi(self, n)
    }
    #[inline(always)]
    fn gate(self, by: f64) -> f64 {
        if by <= 0.0 { 0.0 } else { self }
    }
}

/// Every method records a node, at the location of the code that called it (for anomaly
/// reports).
impl<'t> Real for Var<'t> {
    #[inline(always)]
    fn value(self) -> f64 {
        Var::value(&self)
    }
    #[inline(always)]
    #[track_caller]
    fn constant(self, c: f64) -> Self {
        self.tape().var(c)
    }
    #[inline(always)]
    #[track_caller]
    fn rsub(self, c: f64) -> Self {
        c - self
    }
    #[inline(always)]
    #[track_caller]
    fn exp(self) -> Self {
        Var::exp(self)
    }
    #[inline(always)]
    #[track_caller]
    fn ln(self) -> Self {
        Var::ln(self)
    }
    #[inline(always)]
    #[track_caller]
    fn sqrt(self) -> Self {
        Var::sqrt(self)
    }
    #[inline(always)]
    #[track_caller]
    fn tanh(self) -> Self {
        Var::tanh(self)
    }
    #[inline(always)]
    #[track_caller]
    fn sigmoid(self) -> Self {
        Var::sigmoid(self)
    }
    #[inline(always)]
    #[track_caller]
    fn relu(self) -> Self {
        Var::relu(self)
    }
    #[inline(always)]
    #[track_caller]
    fn abs(self) -> Self {
        Var::abs(self)
    }
    #[inline(always)]
    #[track_caller]
    fn recip(self) -> Self {
        Var::recip(self)
    }
    #[inline(always)]
    #[track_caller]
    fn sin(self) -> Self {
        Var::sin(self)
    }
    #[inline(always)]
    #[track_caller]
    fn cos(self) -> Self {
        Var::cos(self)
    }
    #[inline(always)]
    #[track_caller]
    fn sinh(self) -> Self {
        Var::sinh(self)
    }
    #[inline(always)]
    #[track_caller]
    fn cosh(self) -> Self {
        Var::cosh(self)
    }
    #[inline(always)]
    #[track_caller]
    fn powf(self, e: f64) -> Self {
        Var::powf(self, e)
    }
    #[inline(always)]
    #[track_caller]
    fn powi(self, n: i32) -> Self {
        Var::powi(self, n)
    }
    #[inline(always)]
    #[track_caller]
    fn gate(self, by: Self) -> Self {
        self.binary(crate::op::BinOp::Gate, by)
    }
}
