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
    let mut at = point.to_vec();
    let mut numeric = Vec::with_capacity(point.len());
    for i in 0..point.len() {
        let h = config.relative_step * point[i].abs().max(1.0);
        let mut eval = |xi: f64| {
            at[i] = xi;
            tape.clear();
            let x = tape.vars(&at);
            f(&tape, &x).value()
        };
        let plus = eval(point[i] + h);
        let minus = eval(point[i] - h);
        at[i] = point[i];
        numeric.push((plus - minus) / (2.0 * h));
    }
    let (mut worst, mut worst_error) = (0, 0.0);
    for (i, (&a, &n)) in analytic.iter().zip(&numeric).enumerate() {
        let e = scaled_error(a, n);
        if e > worst_error {
            (worst, worst_error) = (i, e);
        }
    }
    Report {
        value,
        analytic,
        numeric,
        worst,
        worst_error,
        tolerance: config.tolerance,
    }
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
