//! Whether a run's result is any good, and what to change when it is not: the warnings a run
//! prints and the hints its errors give.

use mlp::Dataset;

use crate::numbers::{count, exact, readable};

/// A final loss this many times the first step's loss (or more) makes the result useless;
/// a loss that rose this much on the way is worth a warning.
pub const BLOW_UP: f64 = 100.0;

/// Above this noise the two moons overlap so much that no model separates them.
pub const OVERLAPPING_NOISE: f64 = 0.35;

/// Coordinates beyond this are far outside the moons (which lie within [−1, 2] × [−0.5, 1]).
pub const FAR_POINTS: f64 = 1e3;

/// What a run knows about its inputs, to name the cause of a bad result.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// `--noise`.
    pub noise: f64,
    /// The largest absolute coordinate of the points (infinite or NaN if one is).
    pub scale: f64,
    /// `--lr`, when given.
    pub lr: Option<f64>,
    /// The model was loaded, not built from `--seed` and `--hidden`.
    pub loaded: bool,
    /// Training steps of this run.
    pub steps: usize,
}

impl Context {
    /// The context of a run on `data`.
    pub fn new(data: &Dataset, noise: f64, lr: Option<f64>, loaded: bool, steps: usize) -> Self {
        let scale = data
            .inputs
            .iter()
            .flatten()
            .map(|v| if v.is_nan() { f64::INFINITY } else { v.abs() })
            .fold(0.0, f64::max);
        Context {
            noise,
            scale,
            lr,
            loaded,
            steps,
        }
    }

    /// The data's hint, if the data alone explains a failure.
    fn data_hint(&self) -> Option<String> {
        if self.scale.is_nan() || self.scale >= FAR_POINTS {
            Some(format!(
                "the data: with --noise {} the points reach {}, far outside the moons' scale of \
                 about 1; use a noise below 1",
                exact(self.noise),
                readable(self.scale)
            ))
        } else {
            None
        }
    }

    /// Why training (or the first evaluation) produced a NaN or an infinity.
    ///
    /// ```
    /// use moons::verdict::Context;
    ///
    /// let wild = Context { noise: 1e308, scale: f64::INFINITY, lr: None, loaded: false, steps: 100 };
    /// assert!(wild.divergence_hint(true).contains("--noise"));
    /// assert!(!wild.divergence_hint(true).contains("--lr"));
    /// let fast = Context { noise: 0.1, scale: 1.3, lr: Some(1e300), loaded: false, steps: 100 };
    /// assert!(fast.divergence_hint(false).contains("--lr"));
    /// ```
    pub fn divergence_hint(&self, at_start: bool) -> String {
        if let Some(hint) = self.data_hint() {
            return format!("the cause is {hint}");
        }
        if at_start {
            return if self.loaded {
                "the cause is the loaded model: its output on these points is not finite"
                    .to_string()
            } else {
                "the cause is the initial weights: try another --seed or smaller --hidden sizes"
                    .to_string()
            };
        }
        match self.lr {
            Some(lr) => format!(
                "the cause is the learning rate: --lr {} is too large; try a smaller one",
                exact(lr)
            ),
            None => "the cause is the learning rate: the default is too large for this model; \
                     try a smaller --lr"
                .to_string(),
        }
    }
}

/// The verdict on a finished run: warnings to print, and whether the model is useless.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Verdict {
    /// One line each, without a prefix.
    pub warnings: Vec<String>,
    /// The result is no use: the exit status is then 3.
    pub useless: bool,
}

/// Judges a run from its losses (`first`: before any update, `peak`: the largest reported,
/// `last`: the final model's) and its final `accuracy` against `chance`, the share of the
/// larger class.
///
/// ```
/// use moons::verdict::{judge, Context};
///
/// let cx = Context { noise: 0.1, scale: 1.3, lr: Some(100.0), loaded: false, steps: 100 };
/// let v = judge(&cx, 1.17, 1.2e14, 1.17e14, 0.5, 0.5);
/// assert!(v.useless);
/// assert!(v.warnings.iter().any(|w| w.contains("grew") && w.contains("--lr")));
/// let good = judge(&cx, 1.17, 3.6, 0.011, 1.0, 0.5);
/// assert_eq!(good, Default::default());
/// ```
pub fn judge(
    cx: &Context,
    first: f64,
    peak: f64,
    last: f64,
    accuracy: f64,
    chance: f64,
) -> Verdict {
    let mut v = Verdict::default();
    let lr_hint = match cx.lr {
        Some(lr) => format!("the learning rate: --lr {} is too large", exact(lr)),
        None => "the learning rate: the default is too large for this model; try a smaller --lr"
            .to_string(),
    };
    let grew_cause = cx.data_hint().unwrap_or(lr_hint);
    if first > 0.0 && last >= BLOW_UP * first {
        v.useless = true;
        v.warnings.push(format!(
            "the loss grew from {} to {} ({}× its start): the cause is {grew_cause}",
            readable(first),
            readable(last),
            readable(last / first)
        ));
    } else if first > 0.0 && peak >= BLOW_UP * first {
        v.warnings.push(format!(
            "the loss grew from {} to {} before it came back to {}: the cause is {grew_cause}",
            readable(first),
            readable(peak),
            readable(last)
        ));
    }
    if accuracy <= chance {
        v.useless = true;
        let cause = if let Some(hint) = cx.data_hint() {
            hint
        } else if cx.noise > OVERLAPPING_NOISE {
            format!(
                "the data: with --noise {} the moons overlap; try {OVERLAPPING_NOISE} or less",
                exact(cx.noise)
            )
        } else if v.warnings.is_empty() && cx.loaded && cx.steps == 0 {
            "the loaded model: it was trained on other points (compare --samples, --noise, \
             --seed) or not at all"
                .to_string()
        } else if v.warnings.is_empty() && cx.steps < 20 {
            format!(
                "training too short: {}; try --steps 100",
                count(cx.steps, "step")
            )
        } else if v.warnings.is_empty() {
            "the initialization: try another --seed or other --hidden sizes".to_string()
        } else {
            grew_cause
        };
        v.warnings.push(format!(
            "accuracy {:.1}% is no better than chance ({:.1}%, always answering the larger \
             class): the cause is {cause}",
            100.0 * accuracy,
            100.0 * chance
        ));
    }
    v
}
