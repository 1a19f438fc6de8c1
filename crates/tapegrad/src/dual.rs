//! [`Dual`]: a value with `K` tangents, the number that forward-over-reverse runs the op table
//! on (Stan Math's `fvar`, with several directions at once).
//!
//! Every operation takes its tangent from the op table's derivative, written once over
//! [`Real`]: for y = f(x), ẏ is f's derivative rule with the tangent ẋ in place of the upstream
//! gradient (the rules are linear in it); for y = a ∘ b it is the rule's part for `a` at ȧ plus
//! its part for `b` at ḃ. So the tangents follow the same conventions as the gradients: the
//! relu and `powf`-at-0 masks, PyTorch's division rule, `tanh` through its output.

use std::ops::{Add, Div, Mul, Neg, Sub};

use crate::op::{BinOp, ScalarOp, UnOp};
use crate::real::Real;

/// A value and its tangents along `K` directions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Dual<const K: usize> {
    pub(crate) v: f64,
    pub(crate) t: [f64; K],
}

impl<const K: usize> Dual<K> {
    /// Whether the value and every tangent are ±0.
    #[inline(always)]
    pub(crate) fn is_zero(&self) -> bool {
        self.v == 0.0 && self.t.iter().all(|&t| t == 0.0)
    }

    #[inline(always)]
    fn unary(self, op: UnOp) -> Self {
        let y = op.forward(self.v);
        Dual {
            v: y,
            t: self.t.map(|t| op.derivative(t, self.v, y)),
        }
    }

    #[inline(always)]
    fn scalar(self, op: ScalarOp, c: f64) -> Self {
        let y = op.forward(self.v, c);
        Dual {
            v: y,
            t: self.t.map(|t| op.derivative(t, self.v, c, y)),
        }
    }

    #[inline(always)]
    fn binary(self, op: BinOp, b: Self) -> Self {
        let y = op.forward(self.v, b.v);
        let mut t = [0.0; K];
        for (k, t) in t.iter_mut().enumerate() {
            *t = op.derivative(self.t[k], self.v, b.v, y).0
                + op.derivative(b.t[k], self.v, b.v, y).1;
        }
        Dual { v: y, t }
    }
}

macro_rules! operators {
    ($($Trait:ident $method:ident $bin:expr, $scalar:expr;)*) => {$(
        impl<const K: usize> $Trait for Dual<K> {
            type Output = Self;
            #[inline(always)]
            fn $method(self, rhs: Self) -> Self {
                self.binary($bin, rhs)
            }
        }

        impl<const K: usize> $Trait<f64> for Dual<K> {
            type Output = Self;
            #[inline(always)]
            fn $method(self, c: f64) -> Self {
                let (op, c): (ScalarOp, f64) = $scalar(c);
                self.scalar(op, c)
            }
        }
    )*};
}

// The constant forms are the tape's: `x − c` is recorded as `x + (−c)`.
operators! {
    Add add BinOp::Add, |c| (ScalarOp::AddConst, c);
    Sub sub BinOp::Sub, |c: f64| (ScalarOp::AddConst, -c);
    Mul mul BinOp::Mul, |c| (ScalarOp::MulConst, c);
    Div div BinOp::Div, |c| (ScalarOp::DivConst, c);
}

impl<const K: usize> Neg for Dual<K> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        self.unary(UnOp::Neg)
    }
}

impl<const K: usize> Real for Dual<K> {
    #[inline(always)]
    fn value(self) -> f64 {
        self.v
    }
    #[inline(always)]
    fn constant(self, c: f64) -> Self {
        Dual { v: c, t: [0.0; K] }
    }
    #[inline(always)]
    fn rsub(self, c: f64) -> Self {
        self.scalar(ScalarOp::SubFrom, c)
    }
    #[inline(always)]
    fn exp(self) -> Self {
        self.unary(UnOp::Exp)
    }
    #[inline(always)]
    fn ln(self) -> Self {
        self.unary(UnOp::Ln)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        self.unary(UnOp::Sqrt)
    }
    #[inline(always)]
    fn tanh(self) -> Self {
        self.unary(UnOp::Tanh)
    }
    #[inline(always)]
    fn sigmoid(self) -> Self {
        self.unary(UnOp::Sigmoid)
    }
    #[inline(always)]
    fn relu(self) -> Self {
        self.unary(UnOp::Relu)
    }
    #[inline(always)]
    fn abs(self) -> Self {
        self.unary(UnOp::Abs)
    }
    #[inline(always)]
    fn recip(self) -> Self {
        self.unary(UnOp::Recip)
    }
    #[inline(always)]
    fn sin(self) -> Self {
        self.unary(UnOp::Sin)
    }
    #[inline(always)]
    fn cos(self) -> Self {
        self.unary(UnOp::Cos)
    }
    #[inline(always)]
    fn sinh(self) -> Self {
        self.unary(UnOp::Sinh)
    }
    #[inline(always)]
    fn cosh(self) -> Self {
        self.unary(UnOp::Cosh)
    }
    #[inline(always)]
    fn powf(self, e: f64) -> Self {
        self.scalar(ScalarOp::Powf, e)
    }
    #[inline(always)]
    fn powi(self, n: i32) -> Self {
        self.scalar(ScalarOp::Powi, f64::from(n))
    }
    #[inline(always)]
    fn gate(self, by: Self) -> Self {
        self.binary(BinOp::Gate, by)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tangent of a product and a quotient, by the rules the tape uses.
    #[test]
    fn tangents_follow_the_op_table() {
        let a = Dual {
            v: 3.0,
            t: [1.0, 0.0],
        };
        let b = Dual {
            v: 2.0,
            t: [0.0, 1.0],
        };
        assert_eq!(
            a * b,
            Dual {
                v: 6.0,
                t: [2.0, 3.0]
            }
        );
        let q = a / b;
        assert_eq!(q.v, 1.5);
        assert_eq!(q.t, [0.5, -0.75]);
        // relu's mask selects the whole number: a dead unit passes nothing on.
        let dead = a.gate(Dual {
            v: -1.0,
            t: [5.0, 5.0],
        });
        assert!(dead.is_zero());
        assert_eq!((a - 1.0).v, 2.0);
        // Miri gives `powi` an error of a few ulps on purpose (IEEE leaves it unspecified).
        let t = a.powi(2).t;
        if cfg!(miri) {
            assert!((t[0] - 6.0).abs() <= 1e-14 * 6.0 && t[1] == 0.0, "{t:?}");
        } else {
            assert_eq!(t, [6.0, 0.0]);
        }
        assert_eq!(
            a.constant(4.0),
            Dual {
                v: 4.0,
                t: [0.0; 2]
            }
        );
    }
}
