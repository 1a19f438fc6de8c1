//! Gradient checking: compare [`Var::backward`] with central differences.
//!
//! Use it to test your own functions and models, as this crate's property tests do.
//!
//! ```
//! use tapegrad::check;
//!
//! // f(x, y) = x·eʸ + ln(x)
//! let report = check::gradient(|_tape, v| v[0] * v[1].exp() + v[0].ln(), &[1.5, -0.5]);
//! assert!(report.passed(), "{report}");
//! report.assert(); // the same, panicking with the report
//! ```

use std::fmt;

use crate::arena::Tape;
use crate::var::Var;

/// The step and tolerance of a check.
///
/// The step for component `i` is `relative_step · max(1, |xᵢ|)`; component `i` passes when
/// `|analytic − numeric| ≤ tolerance · (1 + max(|analytic|, |numeric|))`.
///
/// ```
/// let strict = tapegrad::check::Config { tolerance: 1e-8, ..Default::default() };
/// let r = tapegrad::check::gradient_with(strict, |_, v| v[0] * v[0], &[3.0]);
/// assert!(r.passed());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Config {
    /// The step, relative to `max(1, |x|)`. Default `1e-6`.
    pub relative_step: f64,
    /// The scaled error a component may have. Default `1e-5`.
    pub tolerance: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            relative_step: 1e-6,
            tolerance: 1e-5,
        }
    }
}

/// The outcome of a gradient check.
///
/// ```
/// // f(x) = |x| written with two relus: at x = −2 both sides give −1.
/// let r = tapegrad::check::gradient(|_, v| v[0].relu() - (-v[0]).relu() * -1.0, &[-2.0]);
/// assert_eq!(r.value, 2.0);
/// assert_eq!(r.analytic, vec![-1.0]);
/// assert!((r.numeric[0] + 1.0).abs() < 1e-6);
/// assert!(r.passed());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The value of the function at the point.
    pub value: f64,
    /// The gradient from [`Var::backward`].
    pub analytic: Vec<f64>,
    /// The central-difference estimate.
    pub numeric: Vec<f64>,
    /// The index of the component with the largest scaled error (0 when there are none).
    pub worst: usize,
    /// That error, `|a − n| / (1 + max(|a|, |n|))`; infinite when either side is not finite
    /// and they differ.
    pub worst_error: f64,
    /// The tolerance it was held to.
    pub tolerance: f64,
}

impl Report {
    /// Whether every component is within tolerance.
    ///
    /// ```
    /// let r = tapegrad::check::gradient(|_, v| v[0].abs(), &[2.0]);
    /// assert!(r.passed());
    /// ```
    pub fn passed(&self) -> bool {
        self.worst_error <= self.tolerance
    }

    /// Panics with the report unless [`Report::passed`].
    ///
    /// ```
    /// tapegrad::check::gradient(|_, v| v[0].sin() * v[1], &[0.3, 2.0]).assert();
    /// ```
    #[track_caller]
    pub fn assert(&self) {
        assert!(self.passed(), "gradient check failed: {self}");
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.analytic.is_empty() {
            return write!(f, "no inputs");
        }
        write!(
            f,
            "worst component {}: analytic {:e}, numeric {:e}, scaled error {:e} (tolerance {:e})",
            self.worst,
            self.analytic[self.worst],
            self.numeric[self.worst],
            self.worst_error,
            self.tolerance
        )
    }
}

/// Checks `f`'s gradient at `point` with the default [`Config`].
///
/// `f` gets a tape and one leaf per coordinate of `point`, and returns the output node. It is
/// called `1 + 2·point.len()` times, each on a cleared tape.
///
/// ```
/// let r = tapegrad::check::gradient(|tape, v| tape.dot(v, v).sqrt(), &[3.0, 4.0]);
/// assert_eq!(r.value, 5.0);
/// assert!((r.analytic[0] - 0.6).abs() < 1e-15);
/// assert!(r.passed());
/// ```
pub fn gradient<F>(f: F, point: &[f64]) -> Report
where
    F: for<'t> Fn(&'t Tape, &[Var<'t>]) -> Var<'t>,
{
    gradient_with(Config::default(), f, point)
}

/// Checks `f`'s gradient at `point` with the given step and tolerance.
///
/// ```
/// use tapegrad::check::{gradient_with, Config};
/// let loose = Config { tolerance: 1e-3, ..Config::default() };
/// assert!(gradient_with(loose, |_, v| v[0].powf(1.5), &[2.0]).passed());
/// ```
pub fn gradient_with<F>(config: Config, f: F, point: &[f64]) -> Report
where
    F: for<'t> Fn(&'t Tape, &[Var<'t>]) -> Var<'t>,
{
    let mut tape = Tape::new();
    let (value, analytic) = {
        let x = tape.vars(point);
        let y = f(&tape, &x);
        (y.value(), y.backward().wrt_all(&x))
    };
    let numeric = central_differences(config, point, |at| {
        tape.clear();
        let x = tape.vars(at);
        f(&tape, &x).value()
    });
    let (worst, worst_error) = worst_of(
        analytic
            .iter()
            .zip(&numeric)
            .enumerate()
            .map(|(i, (&a, &n))| (i, a, n)),
    );
    Report {
        value,
        analytic,
        numeric,
        worst,
        worst_error,
        tolerance: config.tolerance,
    }
}

/// The outcome of a second-order check: the Hessian from [`Var::grad`] against central
/// differences of [`Var::backward`]'s gradient (PyTorch's `gradgradcheck`, for a scalar
/// function).
///
/// ```
/// // f(x, y) = x²y at (3, 2): the Hessian is [[2y, 2x], [2x, 0]].
/// let r = tapegrad::check::hessian(|_, v| v[0] * v[0] * v[1], &[3.0, 2.0]);
/// assert_eq!(r.value, 18.0);
/// assert_eq!(r.analytic, vec![vec![4.0, 6.0], vec![6.0, 0.0]]);
/// assert!((r.numeric[0][1] - 6.0).abs() < 1e-6);
/// assert!(r.passed(), "{r}");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct HessianReport {
    /// The value of the function at the point.
    pub value: f64,
    /// The Hessian from [`Var::grad`] then [`Var::backward`], as [`hessian`](crate::hessian)
    /// computes it: `analytic[i][j]` = ∂²f / ∂xⱼ∂xᵢ (row `i` is the gradient of ∂f/∂xᵢ).
    pub analytic: Vec<Vec<f64>>,
    /// The central-difference estimate: `numeric[i][j]` is the difference quotient of ∂f/∂xᵢ
    /// (from [`Var::backward`]) along coordinate `j`.
    pub numeric: Vec<Vec<f64>>,
    /// The entry `(i, j)` with the largest scaled error (`(0, 0)` when there are none).
    pub worst: (usize, usize),
    /// That error, measured as in [`Report::worst_error`].
    pub worst_error: f64,
    /// The tolerance it was held to.
    pub tolerance: f64,
}

impl HessianReport {
    /// Whether every entry is within tolerance.
    ///
    /// ```
    /// assert!(tapegrad::check::hessian(|_, v| v[0].sin() * v[1].exp(), &[0.5, 0.2]).passed());
    /// ```
    pub fn passed(&self) -> bool {
        self.worst_error <= self.tolerance
    }

    /// Panics with the report unless [`HessianReport::passed`].
    ///
    /// ```
    /// tapegrad::check::hessian(|tape, v| tape.dot(v, v).ln(), &[0.3, 2.0]).assert();
    /// ```
    #[track_caller]
    pub fn assert(&self) {
        assert!(self.passed(), "Hessian check failed: {self}");
    }
}

impl fmt::Display for HessianReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.analytic.is_empty() {
            return write!(f, "no inputs");
        }
        let (i, j) = self.worst;
        write!(
            f,
            "worst entry ({i}, {j}): analytic {:e}, numeric {:e}, scaled error {:e} (tolerance {:e})",
            self.analytic[i][j], self.numeric[i][j], self.worst_error, self.tolerance
        )
    }
}

/// Checks `f`'s Hessian at `point` with the default [`Config`].
///
/// `f` is called as for [`gradient`]: once for the Hessian (whose rows come from
/// [`Var::grad`], so this checks the recorded backward of every op `f` uses), then
/// `2·point.len()` times for the gradients it is differenced from, each on a cleared tape.
///
/// ```
/// // The Hessian of tanh is -2·tanh·(1 - tanh²).
/// let r = tapegrad::check::hessian(|_, v| v[0].tanh(), &[0.7]);
/// let y = 0.7f64.tanh();
/// assert!((r.analytic[0][0] + 2.0 * y * (1.0 - y * y)).abs() < 1e-15);
/// r.assert();
/// ```
pub fn hessian<F>(f: F, point: &[f64]) -> HessianReport
where
    F: for<'t> Fn(&'t Tape, &[Var<'t>]) -> Var<'t>,
{
    hessian_with(Config::default(), f, point)
}

/// Checks `f`'s Hessian at `point` with the given step and tolerance.
///
/// ```
/// use tapegrad::check::{hessian_with, Config};
/// let loose = Config { tolerance: 1e-3, ..Config::default() };
/// assert!(hessian_with(loose, |_, v| v[0].powf(2.5) * v[1], &[2.0, 1.5]).passed());
/// ```
pub fn hessian_with<F>(config: Config, f: F, point: &[f64]) -> HessianReport
where
    F: for<'t> Fn(&'t Tape, &[Var<'t>]) -> Var<'t>,
{
    let mut tape = Tape::new();
    let (value, analytic) = crate::higher::value_and_hessian(&tape, &f, point);
    // Column j of the numeric matrix is the difference of the gradient along coordinate j.
    let columns = central_differences(config, point, |at| {
        tape.clear();
        let x = tape.vars(at);
        f(&tape, &x).backward().wrt_all(&x)
    });
    let n = point.len();
    let numeric: Vec<Vec<f64>> = (0..n)
        .map(|i| columns.iter().map(|c| c[i]).collect())
        .collect();
    let (worst, worst_error) = worst_of((0..n).flat_map(|i| {
        let (a, m) = (&analytic[i], &numeric[i]);
        (0..n).map(move |j| ((i, j), a[j], m[j]))
    }));
    HessianReport {
        value,
        analytic,
        numeric,
        worst,
        worst_error,
        tolerance: config.tolerance,
    }
}

/// For each coordinate i, `(eval(x + h·eᵢ) − eval(x − h·eᵢ)) / 2h` with the step of `config`;
/// `eval` returns a scalar or a vector (the gradient, for the second-order check).
fn central_differences<T: Difference>(
    config: Config,
    point: &[f64],
    mut eval: impl FnMut(&[f64]) -> T,
) -> Vec<T> {
    let mut at = point.to_vec();
    let mut out = Vec::with_capacity(point.len());
    for i in 0..point.len() {
        let h = config.relative_step * point[i].abs().max(1.0);
        at[i] = point[i] + h;
        let plus = eval(&at);
        at[i] = point[i] - h;
        let minus = eval(&at);
        at[i] = point[i];
        out.push(T::central(plus, minus, h));
    }
    out
}

/// What [`central_differences`] can difference: a value or a gradient.
trait Difference {
    fn central(plus: Self, minus: Self, h: f64) -> Self;
}

impl Difference for f64 {
    fn central(plus: f64, minus: f64, h: f64) -> f64 {
        (plus - minus) / (2.0 * h)
    }
}

impl Difference for Vec<f64> {
    fn central(plus: Vec<f64>, minus: Vec<f64>, h: f64) -> Vec<f64> {
        plus.into_iter()
            .zip(minus)
            .map(|(p, m)| f64::central(p, m, h))
            .collect()
    }
}

/// The first place with the largest [`scaled_error`] among `(place, analytic, numeric)`, and
/// that error; `(I::default(), 0)` when there are none.
fn worst_of<I: Default>(pairs: impl Iterator<Item = (I, f64, f64)>) -> (I, f64) {
    let (mut worst, mut worst_error) = (I::default(), 0.0);
    for (at, a, n) in pairs {
        let e = scaled_error(a, n);
        if e > worst_error {
            (worst, worst_error) = (at, e);
        }
    }
    (worst, worst_error)
}

/// `|a − n| / (1 + max(|a|, |n|))`, with equal infinities counting as agreement and any other
/// non-finite pair as infinite error.
fn scaled_error(a: f64, n: f64) -> f64 {
    if a == n {
        return 0.0;
    }
    if !a.is_finite() || !n.is_finite() {
        return f64::INFINITY;
    }
    (a - n).abs() / (1.0 + a.abs().max(n.abs()))
}
