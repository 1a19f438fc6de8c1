//! The command line: flags, their defaults, and how they become a training configuration.

use std::fmt;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use mlp::{Optimizer, Schedule};

use crate::numbers::exact;

/// Flags of the `moons` binary (`moons --help` prints them).
///
/// Every flag has a default, so `Args::default()` is the run the README's first command does:
/// micrograd's demo (MLP(2, [16, 16, 1]), 100 two-moons points, max-margin loss with 1e-4 L2,
/// SGD with learning rate 1.0 → 0.1 over 100 steps).
///
/// ```
/// use clap::Parser;
/// use moons::Args;
///
/// let args = Args::parse_from(["moons", "--steps", "20", "--hidden", "8,8", "--quiet"]);
/// assert_eq!(args.steps(), 20);
/// assert_eq!(args.lanes, mlp::TrainConfig::DEFAULT_LANES); // --lanes 1: the scalar tape
/// assert_eq!(args.hidden_sizes(), vec![8, 8]);
/// assert!(args.quiet);
/// assert_eq!(Args::default().steps(), 100);
/// // --load without --steps evaluates the saved model.
/// assert_eq!(Args::parse_from(["moons", "--load", "out/model.json"]).steps(), 0);
/// ```
#[derive(Parser, Debug, Clone, PartialEq)]
#[command(
    name = "moons",
    version,
    about = "Train a small MLP on two moons with tapegrad (micrograd's demo) and draw the results",
    long_about = "Train a small MLP on two moons with tapegrad, the way micrograd's demo does, \
and write boundary.svg, loss.svg, metrics.csv, model.json, graph.dot and graph.svg into the \
output folder. The six files are replaced together or not at all.\n\n\
With --load PATH alone, the saved model is evaluated: eval-metrics.csv, eval-loss.svg and \
eval-boundary.svg are written, under their own names so that they never replace a training \
run's files. With --load PATH --steps N, it is trained N more steps like a new model.\n\n\
Sizes are checked before anything is allocated: a run whose estimated memory (data, model, \
optimizer, tapes) exceeds 8 GiB, or three quarters of the machine's memory where \
/proc/meminfo tells it, is refused.\n\n\
Exit status:\n  \
0  success\n  \
1  the run failed: a file cannot be read or written, or training diverged to infinity or NaN \
(nothing is written then)\n  \
2  bad flags: a value out of range, a size too large for memory, --steps 0 without --load, \
an --out that is not a folder\n  \
3  the run finished and wrote its files, but the model is useless: its loss ended 100 times \
or more above where it started, or its accuracy is no better than always answering the larger \
class; a warning on stderr says why and what to change. Its files go beside the output folder, \
into DIR.useless, when DIR already holds a run's files, so that these are kept",
    allow_negative_numbers = true
)]
pub struct Args {
    /// Training steps (full-batch updates) [default: 100, or 0 with --load]. 0 evaluates the
    /// model given with --load and is refused without it.
    #[arg(long, value_name = "N", value_parser = whole_number::<usize, 0>)]
    pub steps: Option<usize>,

    /// Learning rate. sgd and momentum: start of a linear decay to a tenth of it over the
    /// steps (default: micrograd's 1.0 → 0.1 for sgd, 0.1 → 0.01 for momentum). adam: a
    /// constant step size (default 0.01).
    #[arg(long, value_name = "LR", value_parser = positive_f64)]
    pub lr: Option<f64>,

    /// Seed of the data set's noise, the initial weights and the batch order.
    #[arg(long, default_value_t = 1337, value_name = "S", value_parser = whole_number::<u64, 0>)]
    pub seed: u64,

    /// Number of two-moons points (half on each moon).
    #[arg(long, default_value_t = 100, value_name = "N", value_parser = at_least_two)]
    pub samples: usize,

    /// Standard deviation of the Gaussian noise added to the points.
    #[arg(
        long,
        default_value_t = 0.1,
        value_name = "SIGMA",
        value_parser = non_negative_f64
    )]
    pub noise: f64,

    /// Hidden layer sizes, comma-separated [default: 16,16]. The output layer (1 neuron) is
    /// added. With --load, the loaded model's sizes are used and this must match or be absent.
    #[arg(long, value_name = "SIZES", value_delimiter = ',', num_args = 1.., value_parser = positive_usize)]
    pub hidden: Option<Vec<usize>>,

    /// Update rule.
    #[arg(long, value_enum, default_value_t = OptimizerKind::Sgd)]
    pub optimizer: OptimizerKind,

    /// Worker threads for each step's batch (0 = one per core). Results are bitwise the same
    /// for every value: the batch is cut into fixed chunks whose gradients are summed in
    /// order. Worth it for large --samples (1000 and up); the demo's 100 points are two chunks.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = whole_number::<usize, 0>)]
    pub threads: usize,

    /// Samples recorded at once: 1 records one sample per tape node (the scalar tape); 4, 8
    /// or 16 record that many per node on a lane tape, which gives each sample the scalar
    /// tape's numbers, so losses and parameters agree with --lanes 1 to rounding (sums over
    /// samples run in another order). The default is the fastest width for the demo.
    #[arg(long, default_value_t = mlp::TrainConfig::DEFAULT_LANES, value_name = "N", value_parser = lane_width)]
    pub lanes: usize,

    /// Output folder, created if missing.
    #[arg(long, default_value = "out", value_name = "DIR")]
    pub out: PathBuf,

    /// Start from a model saved by an earlier run (its model.json): evaluate it, or with
    /// --steps N train it further.
    #[arg(long, value_name = "PATH")]
    pub load: Option<PathBuf>,

    /// The largest model file --load reads, in bytes. The default, 64 MiB, holds about three
    /// million parameters; a larger model.json (e.g. from --hidden 2000,2000) needs its size
    /// or more here.
    #[arg(long, default_value_t = mlp::io::DEFAULT_MAX_BYTES, value_name = "BYTES", value_parser = whole_number::<u64, 0>)]
    pub max_model_bytes: u64,

    /// Print only the final summary line, not one line per step.
    #[arg(long, short)]
    pub quiet: bool,
}

impl Default for Args {
    /// The defaults of every flag, as `moons` with no arguments gets them.
    fn default() -> Self {
        Args::parse_from(["moons"])
    }
}

/// The `--optimizer` choices.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptimizerKind {
    /// Plain gradient descent, micrograd's update.
    Sgd,
    /// Gradient descent with heavy-ball momentum (β = 0.9).
    Momentum,
    /// Adam (β₁ = 0.9, β₂ = 0.999, ε = 1e-8).
    Adam,
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Momentum => "momentum",
            OptimizerKind::Adam => "adam",
        })
    }
}

/// The training steps when `--steps` is not given and no model is loaded.
pub const DEFAULT_STEPS: usize = 100;

/// The hidden sizes used when `--hidden` is not given.
pub const DEFAULT_HIDDEN: [usize; 2] = [16, 16];

impl Args {
    /// The training steps: `--steps`, or 100 without it (0, evaluation, with `--load`).
    ///
    /// ```
    /// use clap::Parser;
    /// use moons::Args;
    ///
    /// assert_eq!(Args::parse_from(["moons"]).steps(), 100);
    /// assert_eq!(Args::parse_from(["moons", "--load", "m.json"]).steps(), 0);
    /// assert_eq!(Args::parse_from(["moons", "--load", "m.json", "--steps", "5"]).steps(), 5);
    /// ```
    pub fn steps(&self) -> usize {
        match (self.steps, &self.load) {
            (Some(n), _) => n,
            (None, Some(_)) => 0,
            (None, None) => DEFAULT_STEPS,
        }
    }

    /// Whether this run only evaluates a loaded model (`--load` with no or zero `--steps`).
    pub fn evaluates(&self) -> bool {
        self.load.is_some() && self.steps() == 0
    }

    /// The hidden sizes: `--hidden` or [`DEFAULT_HIDDEN`].
    pub fn hidden_sizes(&self) -> Vec<usize> {
        self.hidden
            .clone()
            .unwrap_or_else(|| DEFAULT_HIDDEN.to_vec())
    }

    /// The optimizer and learning-rate schedule these flags select.
    ///
    /// ```
    /// use clap::Parser;
    /// use mlp::{Optimizer, Schedule};
    /// use moons::Args;
    ///
    /// let default = Args::default().optimizer_config();
    /// assert!(matches!(default, Optimizer::Sgd { schedule: Schedule::Micrograd { steps: 100 } }));
    /// let given = Args::parse_from(["moons", "--lr", "0.5", "--steps", "10"]).optimizer_config();
    /// assert!(matches!(given, Optimizer::Sgd { schedule: Schedule::Linear { start: 0.5, .. } }));
    /// ```
    pub fn optimizer_config(&self) -> Optimizer {
        let steps = self.steps().max(1);
        let decay = |start: f64| Schedule::Linear {
            start,
            end: start / 10.0,
            steps,
        };
        match self.optimizer {
            OptimizerKind::Sgd => Optimizer::Sgd {
                schedule: match self.lr {
                    None => Schedule::Micrograd { steps },
                    Some(lr) => decay(lr),
                },
            },
            OptimizerKind::Momentum => Optimizer::Momentum {
                schedule: decay(self.lr.unwrap_or(0.1)),
                beta: 0.9,
            },
            OptimizerKind::Adam => Optimizer::Adam {
                lr: self.lr.unwrap_or(0.01),
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
            },
        }
    }

    /// A short description of the update rule, for the header line.
    pub fn optimizer_description(&self) -> String {
        match self.optimizer_config() {
            Optimizer::Sgd { schedule } => format!("sgd, {}", describe_schedule(&schedule)),
            Optimizer::Momentum { schedule, beta } => {
                format!("momentum {beta}, {}", describe_schedule(&schedule))
            }
            Optimizer::Adam { lr, .. } => format!("adam, lr {}", exact(lr)),
        }
    }
}

fn describe_schedule(s: &Schedule) -> String {
    match *s {
        Schedule::Constant(lr) => format!("lr {}", exact(lr)),
        Schedule::Micrograd { .. } => "lr 1.0 → 0.1 (micrograd's schedule)".to_string(),
        Schedule::Linear { start, end, .. } => format!("lr {} → {}", exact(start), exact(end)),
    }
}

/// A whole number of the flag's type, `LEAST` or more; a negative one gets the same kind of
/// message as any other value out of range (not clap's "unexpected argument"), and every
/// message states the real minimum.
fn whole_number<T: std::str::FromStr, const LEAST: u64>(s: &str) -> Result<T, String> {
    s.trim().parse::<T>().map_err(|_| {
        let negative = s
            .trim()
            .strip_prefix('-')
            .is_some_and(|rest| rest.parse::<f64>().is_ok());
        if negative {
            format!("`{s}` is negative; must be a whole number, {LEAST} or more")
        } else {
            format!(
                "`{s}` is not a whole number that fits ({LEAST} or more, at most {})",
                u64::MAX
            )
        }
    })
}

fn lane_width(s: &str) -> Result<usize, String> {
    let n = whole_number::<usize, 1>(s)?;
    if mlp::TrainConfig::LANE_WIDTHS.contains(&n) {
        Ok(n)
    } else {
        Err(format!("`{s}` lanes: must be 1 (scalar), 4, 8 or 16"))
    }
}

fn positive_usize(s: &str) -> Result<usize, String> {
    match whole_number::<usize, 1>(s)? {
        0 => Err("layer sizes must be at least 1".to_string()),
        v => Ok(v),
    }
}

fn at_least_two(s: &str) -> Result<usize, String> {
    match whole_number::<usize, 2>(s)? {
        v if v >= 2 => Ok(v),
        _ => Err("need at least 2 points (one per moon)".to_string()),
    }
}

fn positive_f64(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(_) => Err("must be a finite number greater than 0".to_string()),
        Err(_) => Err(format!("`{s}` is not a number")),
    }
}

fn non_negative_f64(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        Ok(_) => Err("must be a finite number, 0 or more".to_string()),
        Err(_) => Err(format!("`{s}` is not a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn defaults_are_micrograds_demo() {
        let a = Args::default();
        assert_eq!(
            (a.steps(), a.lr, a.seed, a.samples, a.noise),
            (100, None, 1337, 100, 0.1)
        );
        assert_eq!(a.hidden_sizes(), vec![16, 16]);
        assert_eq!(a.optimizer, OptimizerKind::Sgd);
        assert_eq!(a.out, PathBuf::from("out"));
        assert!(a.load.is_none() && !a.quiet);
        assert_eq!(a.threads, 1);
        assert_eq!(a.lanes, mlp::TrainConfig::DEFAULT_LANES);
    }

    #[test]
    fn bad_values_are_rejected_with_the_reason() {
        for (argv, needle) in [
            (vec!["--lr", "-1"], "greater than 0"),
            (vec!["--lr", "nan"], "greater than 0"),
            (vec!["--lr", "fast"], "not a number"),
            (vec!["--hidden", "16,0"], "at least 1"),
            (vec!["--hidden", "16,x"], "not a whole number"),
            (vec!["--samples", "1"], "at least 2"),
            (vec!["--noise", "-0.5"], "0 or more"),
            (vec!["--optimizer", "rmsprop"], "possible values"),
            (vec!["--stepz", "3"], "unexpected argument"),
            // Negative counts got clap's "unexpected argument '-5' found".
            (vec!["--steps", "-5"], "negative"),
            (vec!["--seed", "-1"], "negative"),
            (vec!["--threads", "-1"], "negative"),
            (vec!["--samples", "-3"], "negative"),
            // `--samples -3` said "0 or more" though 0 and 1 are refused too.
            (vec!["--samples", "-3"], "2 or more"),
            (vec!["--samples", "x"], "2 or more"),
            (vec!["--hidden", "-3"], "1 or more"),
            (vec!["--hidden", "-3"], "negative"),
            (vec!["--steps", "1e3"], "not a whole number"),
            (vec!["--lanes", "3"], "must be 1 (scalar), 4, 8 or 16"),
            (vec!["--lanes", "0"], "must be 1 (scalar), 4, 8 or 16"),
            (vec!["--lanes", "-4"], "negative"),
        ] {
            let err = Args::try_parse_from(std::iter::once("moons").chain(argv.iter().copied()))
                .expect_err(&format!("{argv:?} should be rejected"));
            let msg = err.to_string();
            assert!(msg.contains(needle), "{argv:?}: {msg}");
        }
    }

    #[test]
    fn lr_sets_the_schedule_start_or_adams_step() {
        let a = Args::parse_from(["moons", "--lr", "0.3", "--steps", "50"]);
        match a.optimizer_config() {
            Optimizer::Sgd {
                schedule: Schedule::Linear { start, end, steps },
            } => assert_eq!((start, end, steps), (0.3, 0.03, 50)),
            other => panic!("{other:?}"),
        }
        let a = Args::parse_from(["moons", "--optimizer", "adam", "--lr", "0.02"]);
        assert!(matches!(
            a.optimizer_config(),
            Optimizer::Adam { lr: 0.02, .. }
        ));
        let a = Args::parse_from(["moons", "--optimizer", "momentum"]);
        assert!(matches!(
            a.optimizer_config(),
            Optimizer::Momentum {
                beta: 0.9,
                schedule: Schedule::Linear { start: 0.1, .. }
            }
        ));
    }
}
