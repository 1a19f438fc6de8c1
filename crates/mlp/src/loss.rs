//! Losses recorded on a tape, and accuracy.
//!
//! Every loss is a sum of one term per sample: max-margin `relu(1 − y·s)`, squared error
//! `(s − y)²`, logistic `softplus(−y·s)`; the "mean" losses divide that sum by the number of
//! samples. Each loss's term is written once, for any [`Score`]: on a recorded
//! [`Var`] it records the term's nodes, on an `f64` it computes them, so [`Loss::value`]
//! gives the tape's numbers without a tape, bit for bit; on a lane `Var`
//! (`Var<Lanes<N>>`, N samples at once) it records them with each lane's label, and each
//! lane gets the bits of its own sample's term. The sum of the terms is one node.
//!
//! ```
//! use mlp::loss;
//! use tapegrad::Tape;
//!
//! let tape = Tape::new();
//! let scores = tape.vars(&[2.0, 0.5, -3.0]);
//! let labels = [1.0, 1.0, 1.0];
//! // hinge terms: relu(1-2) = 0, relu(1-0.5) = 0.5, relu(1+3) = 4
//! let l = loss::max_margin(&tape, &scores, &labels);
//! assert_eq!(l.value(), 4.5 / 3.0);
//! assert_eq!(l.backward().wrt_all(&scores), vec![0.0, -1.0 / 3.0, -1.0 / 3.0]);
//! assert_eq!(loss::accuracy(&[2.0, 0.5, -3.0], &labels), 2.0 / 3.0);
//! ```

use std::ops::Div;

use tapegrad::{Lanes, Number, Real, Tape, Var};

use ops::Ops as _;

/// Which data loss a [`Trainer`](crate::Trainer) minimizes.
///
/// ```
/// use mlp::Loss;
/// assert_eq!(Loss::MaxMargin.value(&[0.5], &[1.0]), 0.5);
/// assert_eq!(Loss::SumSquared.value(&[0.5, 2.0], &[1.0, 1.0]), 1.25);
/// assert_eq!("logistic".parse::<Loss>(), Ok(Loss::Logistic));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Loss {
    /// micrograd's demo loss: mean of `relu(1 − yᵢ·sᵢ)`, labels ±1 ([`max_margin`]).
    MaxMargin,
    /// The lecture's loss: Σ (sᵢ − yᵢ)² ([`sum_squared_error`]).
    SumSquared,
    /// Mean of (sᵢ − yᵢ)² ([`mean_squared_error`]).
    MeanSquared,
    /// Binary cross-entropy on the score as a logit: mean of `ln(1 + e^(−yᵢ·sᵢ))`, labels ±1
    /// ([`logistic`]).
    Logistic,
}

impl Loss {
    /// Every loss, in declaration order.
    ///
    /// ```
    /// assert_eq!(mlp::Loss::ALL.len(), 4);
    /// ```
    pub const ALL: [Loss; 4] = [
        Loss::MaxMargin,
        Loss::SumSquared,
        Loss::MeanSquared,
        Loss::Logistic,
    ];

    /// The name used by [`str::parse`]: `max_margin`, `sum_squared`, `mean_squared`,
    /// `logistic`.
    ///
    /// ```
    /// assert_eq!(mlp::Loss::MaxMargin.name(), "max_margin");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Loss::MaxMargin => "max_margin",
            Loss::SumSquared => "sum_squared",
            Loss::MeanSquared => "mean_squared",
            Loss::Logistic => "logistic",
        }
    }

    /// Whether the loss divides its sum of terms by the number of samples.
    ///
    /// ```
    /// assert!(!mlp::Loss::SumSquared.is_mean());
    /// assert!(mlp::Loss::MaxMargin.is_mean());
    /// ```
    pub fn is_mean(self) -> bool {
        !matches!(self, Loss::SumSquared)
    }

    /// Records this loss of `scores` against `labels` (targets for the squared errors) and
    /// returns the loss node.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let s = tape.vars(&[0.0, 1.0]);
    /// let l = mlp::Loss::MeanSquared.record(&tape, &s, &[1.0, 1.0]);
    /// assert_eq!(l.value(), 0.5);
    /// ```
    ///
    /// # Panics
    ///
    /// If the slices differ in length or a score belongs to another tape.
    #[track_caller]
    pub fn record<'t>(self, tape: &'t Tape, scores: &[Var<'t>], labels: &[f64]) -> Var<'t> {
        check_lengths(scores.len(), labels.len());
        let terms = scores.iter().zip(labels).map(|(&s, &y)| self.term(s, y));
        self.finish(tape.sum(terms), scores.len())
    }

    /// The loss node from the sum of `n` samples' terms: the sum itself, or the sum / `n`
    /// for the mean losses (an empty batch gives the empty sum, 0).
    pub(crate) fn finish<S: Copy + Div<f64, Output = S>>(self, sum: S, n: usize) -> S {
        if self.is_mean() && n > 0 {
            sum / n as f64
        } else {
            sum
        }
    }

    /// The term of one sample: recorded when `score` is a [`Var`], computed when it is an
    /// `f64` (the same bits either way). On a lane `Var` the label is a lane `Var` too (a
    /// leaf with each lane's label), and lane `l` of the term has the bits of the term of
    /// lane `l`'s score and label.
    ///
    /// ```
    /// assert_eq!(mlp::Loss::MaxMargin.term(0.25, -1.0), 1.25);
    /// assert_eq!(mlp::Loss::SumSquared.term(3.0, 1.0), 4.0);
    /// assert!((mlp::Loss::Logistic.term(0.0, 1.0) - 2f64.ln()).abs() < 1e-15);
    ///
    /// use tapegrad::{Lanes, Tape};
    /// let tape = Tape::<Lanes<2>>::new();
    /// let (s, y) = (tape.var(Lanes::new([0.25, 3.0])), tape.var(Lanes::new([-1.0, 1.0])));
    /// let t = mlp::Loss::MaxMargin.term(s, y);
    /// assert_eq!(t.value().to_array(), [1.25, 0.0]);
    /// ```
    pub fn term<S: Score>(self, score: S, label: S::Label) -> S {
        match self {
            Loss::MaxMargin => score.times(label).rsub(1.0).relu(),
            Loss::SumSquared | Loss::MeanSquared => score.minus(label).powi(2),
            Loss::Logistic => {
                // softplus(z) = ln(e^(z−c) + e^(−c)) + c for any constant c; c = max(z, 0)
                // keeps every exponent ≤ 0, so nothing overflows, and the gradient is σ(z)
                // exactly, at z = 0 too. The node count does not depend on the data.
                let z = score.times(label.neg());
                let c = z.shift();
                z.minus(c).exp().plus(c.neg().exp()).ln().plus(c)
            }
        }
    }

    /// The loss of `scores` against `labels` without a tape: bit for bit the value
    /// [`Loss::record`] records (same terms, same summation order).
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let (s, y) = ([0.3, -1.2, 2.5], [1.0, -1.0, -1.0]);
    /// for loss in mlp::Loss::ALL {
    ///     let on_tape = loss.record(&tape, &tape.vars(&s), &y).value();
    ///     assert_eq!(loss.value(&s, &y).to_bits(), on_tape.to_bits());
    /// }
    /// ```
    ///
    /// # Panics
    ///
    /// If the slices differ in length.
    #[track_caller]
    pub fn value(self, scores: &[f64], labels: &[f64]) -> f64 {
        check_lengths(scores.len(), labels.len());
        let sum = scores
            .iter()
            .zip(labels)
            .enumerate()
            .fold(0.0, |acc, (k, (&s, &y))| {
                let t = self.term(s, y);
                if k == 0 { t } else { acc + t }
            });
        self.finish(sum, scores.len())
    }
}

/// Parses `max_margin`, `sum_squared`, `mean_squared` or `logistic` (any case, `-` for `_`).
impl std::str::FromStr for Loss {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.replace('-', "_");
        Loss::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(&s))
            .ok_or_else(|| {
                format!(
                    "unknown loss `{s}` (expected max_margin, sum_squared, mean_squared or logistic)"
                )
            })
    }
}

#[track_caller]
fn check_lengths(scores: usize, labels: usize) {
    assert!(
        scores == labels,
        "mlp::loss: {scores} scores but {labels} labels"
    );
}

/// The constant `max(z, 0)` of the stable softplus (0 for NaN, which then propagates).
fn shift(z: f64) -> f64 {
    if z > 0.0 { z } else { 0.0 }
}

/// A number a loss term is written over: `f64` (computed), a [`Var`] (recorded), or a lane
/// `Var<Lanes<N>>` (recorded for N samples at once).
///
/// `S::Label` is the kind of a sample's constants (its label, the softplus shift):
/// `f64` for `f64` and `Var`, stored in the nodes that use them as a scalar tape stores
/// constants; a lane `Var` for a lane `Var`, since each lane has its own (a lane tape's
/// operators take `f64` constants only). `Var · Var` and `Var · c` give the score the same
/// value and gradient bits, so a lane's term is the scalar term, bit for bit. The trait is
/// sealed.
///
/// ```
/// use mlp::{Loss, loss::Score};
/// use tapegrad::{Lanes, Tape};
///
/// fn hinge<S: Score>(s: S, y: S::Label) -> S {
///     Loss::MaxMargin.term(s, y)
/// }
/// let tape = Tape::new();
/// assert_eq!(hinge(tape.var(0.5), 1.0).value(), hinge(0.5, 1.0));
/// let lanes = Tape::<Lanes<2>>::new();
/// let y = lanes.var(Lanes::new([1.0, -1.0]));
/// assert_eq!(hinge(lanes.var(Lanes::splat(0.5)), y).value().to_array(), [0.5, 1.5]);
/// ```
pub trait Score: ops::Ops {}

impl Score for f64 {}
impl Score for Var<'_> {}
impl<const N: usize> Score for Var<'_, Lanes<N>> {}

mod ops {
    use super::{Lanes, Number, Real, Var, shift};

    /// The operations the loss terms use; private, so that [`Score`](super::Score) is
    /// sealed.
    pub trait Ops: Copy {
        /// A sample's constant (its label, the softplus shift): a number the terms combine
        /// with `Self`, and which itself supports the terms' operations.
        type Label: Ops<Label = Self::Label>;
        fn times(self, y: Self::Label) -> Self;
        fn minus(self, y: Self::Label) -> Self;
        fn plus(self, y: Self::Label) -> Self;
        fn neg(self) -> Self;
        fn rsub(self, c: f64) -> Self;
        fn relu(self) -> Self;
        fn powi(self, n: i32) -> Self;
        fn exp(self) -> Self;
        fn ln(self) -> Self;
        /// `max(z, 0)` of each sample's value, a constant.
        fn shift(self) -> Self::Label;
    }

    impl Ops for f64 {
        type Label = f64;
        fn times(self, y: f64) -> f64 {
            self * y
        }
        fn minus(self, y: f64) -> f64 {
            self - y
        }
        fn plus(self, y: f64) -> f64 {
            self + y
        }
        fn neg(self) -> f64 {
            -self
        }
        fn rsub(self, c: f64) -> f64 {
            Real::rsub(self, c)
        }
        fn relu(self) -> f64 {
            Real::relu(self)
        }
        fn powi(self, n: i32) -> f64 {
            Real::powi(self, n)
        }
        fn exp(self) -> f64 {
            Real::exp(self)
        }
        fn ln(self) -> f64 {
            Real::ln(self)
        }
        fn shift(self) -> f64 {
            shift(self)
        }
    }

    /// Generic over the number, with the constant kind chosen per number.
    macro_rules! var_ops {
        ($label:ty, |$v:ident| $shift:expr) => {
            type Label = $label;
            #[track_caller]
            fn times(self, y: $label) -> Self {
                self * y
            }
            #[track_caller]
            fn minus(self, y: $label) -> Self {
                self - y
            }
            #[track_caller]
            fn plus(self, y: $label) -> Self {
                self + y
            }
            #[track_caller]
            fn neg(self) -> Self {
                -self
            }
            #[track_caller]
            fn rsub(self, c: f64) -> Self {
                c - self
            }
            #[track_caller]
            fn relu(self) -> Self {
                Var::relu(self)
            }
            #[track_caller]
            fn powi(self, n: i32) -> Self {
                Var::powi(self, n)
            }
            #[track_caller]
            fn exp(self) -> Self {
                Var::exp(self)
            }
            #[track_caller]
            fn ln(self) -> Self {
                Var::ln(self)
            }
            #[track_caller]
            fn shift(self) -> $label {
                let $v = self;
                $shift
            }
        };
    }

    impl Ops for Var<'_> {
        var_ops!(f64, |z| shift(z.value()));
    }

    impl<'t, const N: usize> Ops for Var<'t, Lanes<N>> {
        var_ops!(Var<'t, Lanes<N>>, |z| {
            let value = z.value();
            z.tape().var(Lanes::from_fn(|l| shift(value.lane(l))))
        });
    }
}

/// micrograd's demo loss: the mean over samples of `relu(1 − yᵢ·sᵢ)`, for labels ±1.
///
/// Three nodes per sample, one sum, one division. An empty batch gives 0.
///
/// ```
/// let tape = tapegrad::Tape::new();
/// let s = tape.vars(&[0.5, -2.0]);
/// let l = mlp::loss::max_margin(&tape, &s, &[1.0, -1.0]);
/// assert_eq!(l.value(), 0.25); // (0.5 + 0) / 2
/// ```
///
/// # Panics
///
/// If the slices differ in length or a score belongs to another tape.
#[track_caller]
pub fn max_margin<'t>(tape: &'t Tape, scores: &[Var<'t>], labels: &[f64]) -> Var<'t> {
    Loss::MaxMargin.record(tape, scores, labels)
}

/// L2 regularization `alpha · Σ pᵢ²`, as one fused `dot(p, p)` node and one scaling node.
///
/// ```
/// let tape = tapegrad::Tape::new();
/// let p = tape.vars(&[1.0, -2.0]);
/// let r = mlp::loss::l2(&tape, &p, 1e-4);
/// assert_eq!(r.value(), 5e-4);
/// assert_eq!(tape.len(), 4);
/// assert_eq!(r.backward().wrt_all(&p), vec![2e-4, -4e-4]);
/// ```
///
/// # Panics
///
/// If a parameter belongs to another tape.
#[track_caller]
pub fn l2<'t, T: Number>(tape: &'t Tape<T>, params: &[Var<'t, T>], alpha: f64) -> Var<'t, T> {
    tape.dot(params, params) * alpha
}

/// The lecture's loss: Σ (sᵢ − yᵢ)².
///
/// ```
/// let tape = tapegrad::Tape::new();
/// let s = tape.vars(&[0.5, -1.0]);
/// assert_eq!(mlp::loss::sum_squared_error(&tape, &s, &[1.0, 1.0]).value(), 4.25);
/// ```
///
/// # Panics
///
/// If the slices differ in length or a score belongs to another tape.
#[track_caller]
pub fn sum_squared_error<'t>(tape: &'t Tape, scores: &[Var<'t>], targets: &[f64]) -> Var<'t> {
    Loss::SumSquared.record(tape, scores, targets)
}

/// The mean of (sᵢ − yᵢ)². An empty batch gives 0.
///
/// ```
/// let tape = tapegrad::Tape::new();
/// let s = tape.vars(&[0.5, -1.0]);
/// assert_eq!(mlp::loss::mean_squared_error(&tape, &s, &[1.0, 1.0]).value(), 2.125);
/// ```
///
/// # Panics
///
/// If the slices differ in length or a score belongs to another tape.
#[track_caller]
pub fn mean_squared_error<'t>(tape: &'t Tape, scores: &[Var<'t>], targets: &[f64]) -> Var<'t> {
    Loss::MeanSquared.record(tape, scores, targets)
}

/// Logistic loss (binary cross-entropy with the score as a logit), labels ±1: the mean of
/// `softplus(−yᵢ·sᵢ) = ln(1 + e^(−yᵢ·sᵢ))`.
///
/// Recorded in a form that never overflows (`ln(e^(z−c) + e^(−c)) + c` with the constant
/// `c = max(z, 0)`), so a confident wrong score of 1000 gives a loss of 1000 and a gradient
/// of −1, not inf or NaN. Six nodes per sample. An empty batch gives 0.
///
/// ```
/// let tape = tapegrad::Tape::new();
/// let s = tape.vars(&[-1000.0, 1000.0]);
/// let l = mlp::loss::logistic(&tape, &s, &[1.0, 1.0]);
/// assert_eq!(l.value(), 500.0);
/// assert_eq!(l.backward().wrt_all(&s), vec![-0.5, 0.0]);
/// ```
///
/// # Panics
///
/// If the slices differ in length or a score belongs to another tape.
#[track_caller]
pub fn logistic<'t>(tape: &'t Tape, scores: &[Var<'t>], labels: &[f64]) -> Var<'t> {
    Loss::Logistic.record(tape, scores, labels)
}

/// The fraction of samples whose score has the label's sign: `(sᵢ > 0) == (yᵢ > 0)`, as
/// micrograd's demo counts it. An empty batch gives 0.
///
/// ```
/// assert_eq!(mlp::loss::accuracy(&[0.3, -0.1, 0.0], &[1.0, 1.0, -1.0]), 2.0 / 3.0);
/// ```
///
/// # Panics
///
/// If the slices differ in length.
#[track_caller]
pub fn accuracy(scores: &[f64], labels: &[f64]) -> f64 {
    assert!(
        scores.len() == labels.len(),
        "mlp::loss::accuracy: {} scores but {} labels",
        scores.len(),
        labels.len()
    );
    if scores.is_empty() {
        return 0.0;
    }
    let right = scores
        .iter()
        .zip(labels)
        .filter(|&(&s, &y)| (s > 0.0) == (y > 0.0))
        .count();
    right as f64 / scores.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_is_softplus_with_sigmoid_gradient() {
        for &(s, y) in &[
            (0.0, 1.0),
            (0.3, -1.0),
            (-2.0, 1.0),
            (40.0, -1.0),
            (-800.0, -1.0),
        ] {
            let tape = Tape::new();
            let sv = tape.vars(&[s]);
            let l = logistic(&tape, &sv, &[y]);
            let z: f64 = -y * s;
            let expect = if z > 30.0 { z } else { z.exp().ln_1p() };
            assert!(
                (l.value() - expect).abs() <= 1e-12 * (1.0 + expect),
                "{s} {y}"
            );
            let sigma = 1.0 / (1.0 + (-z).exp());
            let g = l.backward()[sv[0]];
            assert!((g - (-y * sigma)).abs() < 1e-12, "{s} {y}: {g}");
        }
    }

    #[test]
    fn node_counts_do_not_depend_on_data() {
        for loss in Loss::ALL {
            let lens: Vec<usize> = [[-5.0, 0.0, 3.0], [2.0, 1e300, -1e-300]]
                .iter()
                .map(|s| {
                    let tape = Tape::new();
                    let _ = loss.record(&tape, &tape.vars(s), &[1.0, -1.0, 1.0]);
                    tape.len()
                })
                .collect();
            assert_eq!(lens[0], lens[1], "{loss:?}");
        }
    }

    #[test]
    fn empty_batches_give_zero() {
        let tape = Tape::new();
        for loss in Loss::ALL {
            assert_eq!(loss.record(&tape, &[], &[]).value(), 0.0);
            assert_eq!(loss.value(&[], &[]), 0.0);
        }
        assert_eq!(accuracy(&[], &[]), 0.0);
    }

    #[test]
    fn parse_names() {
        for loss in Loss::ALL {
            assert_eq!(loss.name().parse::<Loss>(), Ok(loss));
        }
        assert_eq!("Max-Margin".parse::<Loss>(), Ok(Loss::MaxMargin));
        assert!("hinge".parse::<Loss>().is_err());
    }
}
