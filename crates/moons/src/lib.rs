//! # moons
//!
//! The tapegrad workspace's main job: micrograd's demo in Rust. It trains an MLP(2, [16, 16, 1])
//! on 100 two-moons points with micrograd's max-margin loss, 1e-4 L2 regularization and its
//! learning-rate schedule (1.0 → 0.1) for 100 full-batch steps, four samples per tape node
//! (`--lanes`), printing one line per step and a summary that ends with the time per step,
//! and writes into an output folder:
//!
//! | file | what |
//! |---|---|
//! | `boundary.svg` | decision regions (sign of the score on a mesh) with the points, like the demo's `contourf` plot |
//! | `loss.svg` | loss and training accuracy per step |
//! | `metrics.csv` | `step,loss,accuracy,learning_rate`, one row per step (accuracy as a fraction) |
//! | `model.json` | architecture and parameters; `--load` reads it back |
//! | `graph.dot`, `graph.svg` | one first-layer neuron's expression graph with data and grads (micrograd's `draw_dot`), rendered without Graphviz |
//!
//! The files of a run are replaced together or not at all. `--load PATH` alone evaluates the
//! saved model and writes [`EVAL_FILES`] instead, which never replace a training run's files.
//!
//! The binary is a thin wrapper: [`Args`] are its flags, and [`run`] does the work and
//! returns a [`Summary`] (the final line it prints, and any warnings) or an [`AppError`] (one
//! line on stderr; [`AppError::exit_code`] is the exit status).
//!
//! ```no_run
//! let summary = moons::run(moons::Args::default())?;
//! assert_eq!(summary.accuracy, 1.0);
//! println!("{summary}");
//! # Ok::<(), moons::AppError>(())
//! ```

#![warn(missing_docs)]

pub mod cli;
pub mod graph;
pub mod limits;
pub mod numbers;
mod output;
pub mod plot;
pub mod verdict;

use std::fmt;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mlp::{Dataset, Loss, Mlp, StepReport, TrainConfig, Trainer, datasets};

pub use cli::{Args, OptimizerKind};
use numbers::{count, exact, readable};
use verdict::{Context, Verdict};

/// Weight of the L2 term, micrograd's `alpha`.
pub const L2: f64 = 1e-4;

/// Names of the files a training [`run`] writes into the output folder, in the order it
/// writes them.
pub const OUTPUT_FILES: [&str; 6] = [
    "metrics.csv",
    "model.json",
    "loss.svg",
    "boundary.svg",
    "graph.dot",
    "graph.svg",
];

/// Names of the files an evaluation [`run`] (`--load` without `--steps`) writes: its own, so
/// that evaluating a model never replaces the files of the run that trained it.
pub const EVAL_FILES: [&str; 3] = ["eval-metrics.csv", "eval-loss.svg", "eval-boundary.svg"];

/// One training step's numbers, as `metrics.csv` stores them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepRow {
    /// Step number, from 0.
    pub step: usize,
    /// Loss at the parameters before this step's update (data loss + L2).
    pub loss: f64,
    /// Training accuracy at those parameters, a fraction in [0, 1].
    pub accuracy: f64,
    /// The learning rate this step's update used.
    pub learning_rate: f64,
}

impl From<&StepReport> for StepRow {
    fn from(r: &StepReport) -> Self {
        StepRow {
            step: r.step,
            loss: r.loss,
            accuracy: r.accuracy,
            learning_rate: r.learning_rate,
        }
    }
}

/// What a [`run`] did; its [`Display`](fmt::Display) is the final line the binary prints.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The model's architecture: inputs and layer sizes.
    pub architecture: (usize, Vec<usize>),
    /// Number of parameters (weights and biases).
    pub parameters: usize,
    /// Training steps taken (0 when only evaluating).
    pub steps: usize,
    /// One row per step.
    pub history: Vec<StepRow>,
    /// Loss (data + L2) of the final model on the training set.
    pub loss: f64,
    /// Training accuracy of the final model, a fraction in [0, 1].
    pub accuracy: f64,
    /// Wall time spent training.
    pub train_time: Duration,
    /// Wall time per training step, the printing of the step lines left out (zero when
    /// only evaluating): the summary line's last figure.
    pub step_time: Duration,
    /// Wall time of the whole run (data, training, evaluation, files).
    pub total_time: Duration,
    /// The folder the files went into: `--out`, or for a useless run when `--out` already
    /// holds a set of its kind, the folder beside it named `--out` + `.useless`.
    pub out_dir: PathBuf,
    /// `--out`, when it kept the previous run's files because this run is useless.
    pub kept: Option<PathBuf>,
    /// The files written, in order.
    pub files: Vec<PathBuf>,
    /// Warnings about the result (one line each) and whether it is useless.
    pub verdict: Verdict,
}

impl Summary {
    /// The exit status the binary ends with: 3 if the result is useless, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.verdict.useless { 3 } else { 0 }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (loss, accuracy, parameters) = (
            readable(self.loss),
            100.0 * self.accuracy,
            count(self.parameters, "parameter"),
        );
        if self.steps == 0 {
            write!(
                f,
                "evaluated: loss {loss}, accuracy {accuracy:.1}%, {parameters}, no training ({:.3} s in all); files in {}",
                self.total_time.as_secs_f64(),
                self.out_dir.display(),
            )?;
        } else {
            write!(
                f,
                "final: loss {loss}, accuracy {accuracy:.1}%, {parameters}; files in {}",
                self.out_dir.display(),
            )?;
            self.write_kept(f)?;
            // The time per step last: the figure to compare between runs and settings.
            return write!(
                f,
                "; {:.3} s in all, {:.3} s training: {} per step over {}",
                self.total_time.as_secs_f64(),
                self.train_time.as_secs_f64(),
                per_step(self.step_time),
                count(self.steps, "step"),
            );
        }
        self.write_kept(f)
    }
}

impl Summary {
    fn write_kept(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kept {
            Some(kept) => write!(f, " ({} keeps the previous run's)", kept.display()),
            None => Ok(()),
        }
    }
}

/// A step's wall time with three significant digits in µs, ms or s: `41.2 µs`, `1.23 ms`.
fn per_step(t: Duration) -> String {
    let s = t.as_secs_f64();
    let (value, unit) = if s < 1e-3 {
        (s * 1e6, "µs")
    } else if s < 1.0 {
        (s * 1e3, "ms")
    } else {
        (s, "s")
    };
    let decimals = if value < 10.0 {
        2
    } else if value < 100.0 {
        1
    } else {
        0
    };
    format!("{value:.decimals$} {unit}")
}

/// Why a [`run`] failed. Its [`Display`](fmt::Display) is one line meant for the user.
#[derive(Debug)]
pub enum AppError {
    /// The output folder could not be created.
    OutputDir {
        /// The folder.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A file could not be written.
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// `--load` could not read the model.
    Load {
        /// The model file.
        path: PathBuf,
        /// The cause.
        source: mlp::ModelError,
    },
    /// The flags ask for something that cannot be done (e.g. a loaded model that does not
    /// fit the data, `--hidden` that contradicts it, `--steps 0` with no model to evaluate).
    Usage(String),
    /// The sizes asked for need more memory than a run may use ([`limits::limit`]).
    TooLarge {
        /// The flag to blame, as the user typed it (`--hidden 100000,100000`).
        flag: String,
        /// The estimate.
        estimate: limits::Estimate,
        /// The limit, in bytes.
        limit: u64,
    },
    /// Training or the model's first evaluation produced a NaN or an infinity.
    Diverged {
        /// What became non-finite.
        what: String,
        /// The likely cause and what to change.
        hint: String,
    },
    /// Training failed for another reason (the data or the settings do not fit).
    Train(mlp::TrainError),
    /// Another run holds the lock on the same output folder.
    Busy {
        /// The output folder, as given.
        out: PathBuf,
        /// The lock file beside it.
        lock: PathBuf,
    },
    /// A picture could not be drawn.
    Render {
        /// Which file.
        what: &'static str,
        /// The cause.
        message: String,
    },
}

impl AppError {
    /// The exit status the binary ends with: 2 for flags that ask for the impossible (as for
    /// clap's own errors), 1 for failures.
    ///
    /// ```
    /// assert_eq!(moons::AppError::Usage("x".into()).exit_code(), 2);
    /// ```
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::Usage(_) | AppError::TooLarge { .. } => 2,
            _ => 1,
        }
    }
}

/// `"{what} `path`: {message}"`, or without the path when the message already names it.
fn with_path(
    f: &mut fmt::Formatter<'_>,
    what: &str,
    path: &std::path::Path,
    message: &dyn fmt::Display,
) -> fmt::Result {
    let message = message.to_string();
    let shown = path.display().to_string();
    if message.contains(&shown) {
        write!(f, "{what}: {message}")
    } else {
        write!(f, "{what} `{shown}`: {message}")
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::OutputDir { path, source } => {
                with_path(f, "cannot create the output folder", path, source)
            }
            AppError::Write { path, source } => with_path(f, "cannot write", path, source),
            AppError::Load {
                path,
                source: mlp::ModelError::TooLarge { size, limit, .. },
            } => {
                let size = size.map_or(format!("more than {limit}"), |s| s.to_string());
                write!(
                    f,
                    "cannot load the model `{}`: the file is {size} bytes, over the \
                     --max-model-bytes limit of {limit}; give --max-model-bytes with its size \
                     or more",
                    path.display()
                )
            }
            AppError::Load { path, source } => with_path(f, "cannot load the model", path, source),
            AppError::Usage(message) => f.write_str(message),
            AppError::TooLarge {
                flag,
                estimate,
                limit,
            } => write!(
                f,
                "{flag} is too large: the run would need {}, over the limit of {} (the smaller \
                 of 8 GiB and 3/4 of this machine's memory)",
                estimate.describe(),
                numbers::bytes(u128::from(*limit))
            ),
            AppError::Diverged { what, hint } => {
                write!(f, "training diverged: {what}; {hint}")
            }
            AppError::Train(e) => write!(f, "training failed: {e}"),
            AppError::Render { what, message } => write!(f, "cannot draw {what}: {message}"),
            AppError::Busy { out, lock } => write!(
                f,
                "another moons run is writing into `{}` (it holds the lock `{}`); wait for it \
                 to end or give another --out",
                out.display(),
                lock.display()
            ),
        }
    }
}

impl std::error::Error for AppError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AppError::OutputDir { source, .. } | AppError::Write { source, .. } => Some(source),
            AppError::Load { source, .. } => Some(source),
            AppError::Train(e) => Some(e),
            AppError::Usage(_)
            | AppError::TooLarge { .. }
            | AppError::Diverged { .. }
            | AppError::Busy { .. }
            | AppError::Render { .. } => None,
        }
    }
}

/// Loss (max-margin + [`L2`]) and accuracy of `model` on `data`, without changing it: the
/// numbers a training step reports, at the current parameters.
///
/// ```
/// let data = mlp::datasets::two_moons(10, 0.1, 3);
/// let model = mlp::Mlp::new(2, &[4, 1], 3);
/// let (loss, accuracy) = moons::evaluate(&model, &data);
/// assert!(loss > 0.0 && (0.0..=1.0).contains(&accuracy));
/// ```
pub fn evaluate(model: &Mlp, data: &Dataset) -> (f64, f64) {
    // mlp::evaluate's loss is the tape's bit for bit (predict and Loss::value are), and the
    // L2 node's value is dot_value(p, p)·α, so this equals a recorded step's loss.
    let (data_loss, accuracy) = mlp::evaluate(model, data, Loss::MaxMargin);
    let p = model.parameters();
    (data_loss + tapegrad::dot_value(&p, &p) * L2, accuracy)
}

/// `metrics.csv`: the header `step,loss,accuracy,learning_rate` and one row per step, each
/// number in the shortest form that parses back to the same `f64` ([`numbers::exact`]).
///
/// ```
/// use moons::{StepRow, metrics_csv};
///
/// let csv = metrics_csv(&[StepRow { step: 0, loss: 0.5, accuracy: 0.75, learning_rate: 1e308 }]);
/// assert_eq!(csv, "step,loss,accuracy,learning_rate\n0,0.5,0.75,1e308\n");
/// ```
pub fn metrics_csv(rows: &[StepRow]) -> String {
    let mut out = String::from("step,loss,accuracy,learning_rate\n");
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{}\n",
            r.step,
            exact(r.loss),
            exact(r.accuracy),
            exact(r.learning_rate)
        ));
    }
    out
}

/// `eval-metrics.csv`: what an evaluation measured, on which data, in one row.
///
/// ```
/// let csv = moons::eval_metrics_csv(100, 0.1, 1337, 0.0114, 1.0);
/// assert_eq!(csv, "samples,noise,seed,loss,accuracy\n100,0.1,1337,0.0114,1\n");
/// ```
pub fn eval_metrics_csv(samples: usize, noise: f64, seed: u64, loss: f64, accuracy: f64) -> String {
    format!(
        "samples,noise,seed,loss,accuracy\n{samples},{},{seed},{},{}\n",
        exact(noise),
        exact(loss),
        exact(accuracy)
    )
}

fn sizes_text(sizes: &[usize]) -> String {
    let parts: Vec<String> = sizes.iter().map(|s| s.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

/// Prints a line on stdout, ignoring a closed pipe (`moons | head`).
fn say(line: fmt::Arguments<'_>) {
    let _ = writeln!(io::stdout().lock(), "{line}");
}

/// Refuses sizes that need more memory than a run may use, before anything is allocated.
fn check_memory(args: &Args, sizes: &[usize], model_flag: &str) -> Result<(), AppError> {
    let limit = limits::limit();
    let fits = limits::check(args.samples, 2, sizes, args.threads, args.lanes, limit);
    let Err((culprit, estimate)) = fits else {
        return Ok(());
    };
    let samples = format!("--samples {}", args.samples);
    let flag = match culprit {
        limits::Culprit::Model => model_flag.to_string(),
        limits::Culprit::Samples => samples,
        limits::Culprit::Threads => format!("--threads {}", args.threads),
        limits::Culprit::Lanes => format!("--lanes {}", args.lanes),
        limits::Culprit::Both => format!("{samples} with {model_flag}"),
    };
    Err(AppError::TooLarge {
        flag,
        estimate,
        limit,
    })
}

/// Gets the model: a fresh one from the flags, or the `--load`ed one after checking it fits.
fn prepare_model(args: &Args) -> Result<Mlp, AppError> {
    let Some(path) = &args.load else {
        let mut sizes = args.hidden_sizes();
        sizes.push(1);
        return Ok(Mlp::new(2, &sizes, args.seed));
    };
    let model =
        Mlp::load_with_limit(path, args.max_model_bytes).map_err(|source| AppError::Load {
            path: path.clone(),
            source,
        })?;
    let sizes = model.sizes();
    if model.nin() != 2 || sizes.last() != Some(&1) {
        return Err(AppError::Usage(format!(
            "the model in `{}` is MLP({}, {}); two moons needs 2 inputs and 1 output",
            path.display(),
            model.nin(),
            sizes_text(&sizes)
        )));
    }
    if let Some(hidden) = &args.hidden {
        let loaded = &sizes[..sizes.len() - 1];
        if hidden[..] != *loaded {
            return Err(AppError::Usage(format!(
                "--hidden {} does not match the loaded model's hidden sizes {}; leave --hidden out with --load",
                sizes_text(hidden),
                sizes_text(loaded)
            )));
        }
    }
    check_memory(
        args,
        &sizes,
        &format!(
            "the model in `{}` (MLP(2, {}))",
            path.display(),
            sizes_text(&sizes)
        ),
    )?;
    Ok(model)
}

/// The share of the larger class: what always answering it scores.
fn chance(data: &Dataset) -> f64 {
    let positive = data.labels.iter().filter(|&&y| y > 0.0).count();
    let larger = positive.max(data.len() - positive);
    larger as f64 / data.len().max(1) as f64
}

fn render_error(what: &'static str) -> impl FnOnce(String) -> AppError {
    move |message| AppError::Render { what, message }
}

/// Runs the main job with these flags, in four steps, each a function of this file:
/// `check_arguments` (flags and memory, before anything is allocated; a `--load`ed model is
/// checked by `prepare_model`), `train_or_evaluate` (train for [`Args::steps`] steps, printing
/// a line per step unless `args.quiet`, and judge the result), `draw` (the set's files, in
/// memory) and the commit of the set into `args.out` (the `output` module), all its files or
/// none. With `--load`
/// and no steps the set is the [`EVAL_FILES`], else the [`OUTPUT_FILES`].
///
/// A run judged useless ([`Summary::exit_code`] 3) does not replace a set of its kind that
/// `args.out` already holds: its files go into the folder beside it named `--out` +
/// `.useless`, and [`Summary::kept`] says so.
///
/// ```
/// use clap::Parser;
///
/// let out = std::env::temp_dir().join(format!("moons-doc-{}", std::process::id()));
/// let args = moons::Args::parse_from(["moons", "--steps", "30", "--quiet", "--out", out.to_str().unwrap()]);
/// let summary = moons::run(args)?;
/// assert_eq!((summary.steps, summary.parameters), (30, 337));
/// assert!(out.join("boundary.svg").exists());
/// std::fs::remove_dir_all(&out).unwrap();
/// # Ok::<(), moons::AppError>(())
/// ```
///
/// # Errors
///
/// Any failure a user can cause (sizes too large for memory, an output folder that cannot be
/// created or written, a model file that is missing, corrupt or of the wrong shape, training
/// that diverges, another run writing into the same folder) is an [`AppError`]; nothing here
/// panics on user input, and a failed run leaves the output folder as it was. A run that
/// finishes with a useless model is not an error: its [`Summary::verdict`] says why.
pub fn run(args: Args) -> Result<Summary, AppError> {
    let started = Instant::now();
    check_arguments(&args)?;
    let mut model = prepare_model(&args)?;
    let mut output = output::Output::open(&args.out)?;
    let data = datasets::two_moons(args.samples, args.noise, args.seed);
    print_header(&args, &model, &data);
    let trained = train_or_evaluate(&args, &mut model, &data)?;
    let drawn = draw(&args, &model, &data, &trained)?;
    let committed = output.commit(&drawn.files, trained.verdict.useless)?;
    let mut verdict = trained.verdict;
    verdict.warnings.append(&mut output.warnings);
    if !args.quiet {
        report_files(&committed, drawn.neuron_output);
    }
    Ok(Summary {
        architecture: (model.nin(), model.sizes()),
        parameters: model.num_parameters(),
        steps: trained.history.len(),
        history: trained.history,
        loss: trained.loss,
        accuracy: trained.accuracy,
        train_time: trained.train_time,
        step_time: trained.step_time,
        total_time: started.elapsed(),
        out_dir: committed.dir,
        kept: committed.kept,
        files: committed.files,
        verdict,
    })
}

/// Step 1: refuses flags that ask for the impossible and sizes over the memory limit, before
/// anything is allocated or created. (A loaded model is checked in [`prepare_model`].)
fn check_arguments(args: &Args) -> Result<(), AppError> {
    if args.steps() == 0 && args.load.is_none() {
        return Err(AppError::Usage(
            "--steps 0 trains nothing and there is no model to evaluate; give --steps 1 or \
             more, or --load PATH to evaluate a saved model"
                .to_string(),
        ));
    }
    output::check_out(&args.out)?;
    if args.load.is_none() {
        let mut sizes = args.hidden_sizes();
        let flag = format!(
            "--hidden {}",
            sizes
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(",")
        );
        sizes.push(1);
        check_memory(args, &sizes, &flag)?;
    }
    Ok(())
}

fn architecture(model: &Mlp) -> String {
    format!("MLP({}, {})", model.nin(), sizes_text(&model.sizes()))
}

/// The lines a run prints before it trains (none with `--quiet`).
fn print_header(args: &Args, model: &Mlp, data: &Dataset) {
    if args.quiet {
        return;
    }
    let origin = match &args.load {
        Some(path) => format!("loaded from {}", path.display()),
        None => "new: ReLU hidden layers, linear output".to_string(),
    };
    say(format_args!(
        "two moons: {} points, noise {}, seed {}; {} ({origin}), {}",
        data.len(),
        exact(args.noise),
        args.seed,
        architecture(model),
        count(model.num_parameters(), "parameter")
    ));
    if args.steps() > 0 {
        say(format_args!(
            "training {}: max-margin loss + {L2}·L2, {}",
            count(args.steps(), "step"),
            args.optimizer_description()
        ));
    }
}

/// What [`train_or_evaluate`] measured.
struct Trained {
    history: Vec<StepRow>,
    loss: f64,
    accuracy: f64,
    chance: f64,
    train_time: Duration,
    step_time: Duration,
    verdict: Verdict,
}

/// Step 2: trains the model for [`Args::steps`] steps (none when evaluating), printing a line
/// per step, then measures and judges the result. A loss that becomes NaN or infinite is an
/// error.
fn train_or_evaluate(args: &Args, model: &mut Mlp, data: &Dataset) -> Result<Trained, AppError> {
    let steps = args.steps();
    let cx = Context::new(data, args.noise, args.lr, args.load.is_some(), steps);
    let (first_loss, _) = evaluate(model, data);
    if !first_loss.is_finite() {
        return Err(AppError::Diverged {
            what: format!(
                "the loss of the {} model is {first_loss}",
                if cx.loaded { "loaded" } else { "initial" }
            ),
            hint: cx.divergence_hint(true),
        });
    }
    // micrograd's demo recipe; every other setting keeps the demo's value.
    let config = TrainConfig {
        steps,
        loss: Loss::MaxMargin,
        l2: L2,
        optimizer: args.optimizer_config(),
        batch_size: None,
        seed: args.seed,
        threads: args.threads,
        lanes: args.lanes,
        ..TrainConfig::micrograd_demo()
    };
    let train_start = Instant::now();
    let quiet = args.quiet;
    // Printing the step lines is not training: its time is left out of the time per step.
    let mut printing = Duration::ZERO;
    let reports = if steps == 0 {
        Vec::new()
    } else {
        Trainer::new(config)
            .train(model, data, |r| {
                if !quiet {
                    let start = Instant::now();
                    say(format_args!(
                        "step {:>3}  loss {}  accuracy {:>5.1}%  lr {}",
                        r.step,
                        readable(r.loss),
                        100.0 * r.accuracy,
                        readable(r.learning_rate)
                    ));
                    printing += start.elapsed();
                }
            })
            .map_err(|e| match e {
                mlp::TrainError::NonFinite { .. } => AppError::Diverged {
                    what: e.to_string(),
                    hint: cx.divergence_hint(false),
                },
                e => AppError::Train(e),
            })?
    };
    let train_time = train_start.elapsed();
    let step_time = match u32::try_from(reports.len()) {
        Ok(0) => Duration::ZERO,
        Ok(n) => train_time.saturating_sub(printing) / n,
        Err(_) => train_time
            .saturating_sub(printing)
            .div_f64(reports.len() as f64),
    };
    let history: Vec<StepRow> = reports.iter().map(StepRow::from).collect();
    let (loss, accuracy) = evaluate(model, data);
    if !loss.is_finite() {
        return Err(AppError::Diverged {
            what: format!("the trained model's loss is {loss}"),
            hint: cx.divergence_hint(false),
        });
    }
    let peak = history.iter().map(|r| r.loss).fold(loss, f64::max);
    let chance = chance(data);
    let verdict = verdict::judge(&cx, first_loss, peak, loss, accuracy, chance);
    Ok(Trained {
        history,
        loss,
        accuracy,
        chance,
        train_time,
        step_time,
        verdict,
    })
}

/// What [`draw`] made: the set's files in order, and the neuron `graph.dot` shows.
struct Drawn {
    files: Vec<(&'static str, Vec<u8>)>,
    neuron_output: Option<(usize, f64)>,
}

/// Step 3: the set's files, in memory: the [`OUTPUT_FILES`] after training, the
/// [`EVAL_FILES`] after an evaluation.
fn draw(args: &Args, model: &Mlp, data: &Dataset, t: &Trained) -> Result<Drawn, AppError> {
    let architecture = architecture(model);
    if !args.quiet && plot::boundary_is_slow(model.num_parameters()) {
        say(format_args!("drawing the decision boundary…"));
    }
    let boundary_title = if t.history.is_empty() {
        format!(
            "{architecture} evaluated: loss {}, accuracy {:.0}%",
            readable(t.loss),
            100.0 * t.accuracy
        )
    } else {
        format!(
            "{architecture} after {}: accuracy {:.0}%",
            count(t.history.len(), "step"),
            100.0 * t.accuracy
        )
    };
    let boundary = plot::boundary_svg(model, data, &boundary_title)
        .map_err(render_error("boundary.svg"))?
        .svg
        .into_bytes();
    if t.history.is_empty() {
        let metrics = eval_metrics_csv(data.len(), args.noise, args.seed, t.loss, t.accuracy);
        let title = format!("{architecture} evaluated on {}", count(data.len(), "point"));
        let svg = plot::evaluation_svg(t.loss, t.accuracy, t.chance, &title)
            .map_err(render_error("eval-loss.svg"))?;
        return Ok(Drawn {
            files: vec![
                ("eval-metrics.csv", metrics.into_bytes()),
                ("eval-loss.svg", svg.into_bytes()),
                ("eval-boundary.svg", boundary),
            ],
            neuron_output: None,
        });
    }
    let loss_title = format!("{architecture} on two moons: training curves");
    let loss_plot = plot::loss_svg(&t.history, &loss_title).map_err(render_error("loss.svg"))?;
    let first = data
        .inputs
        .first()
        .cloned()
        .unwrap_or_else(|| vec![0.0, 0.0]);
    let neuron = graph::model_neuron_dot(model, &first);
    let graph_svg = graph::dot_to_svg(&neuron.dot).map_err(render_error("graph.svg"))?;
    Ok(Drawn {
        files: vec![
            ("metrics.csv", metrics_csv(&t.history).into_bytes()),
            ("model.json", model.to_json().into_bytes()),
            ("loss.svg", loss_plot.into_bytes()),
            ("boundary.svg", boundary),
            ("graph.dot", neuron.dot.into_bytes()),
            ("graph.svg", graph_svg.into_bytes()),
        ],
        neuron_output: Some((neuron.neuron, neuron.output)),
    })
}

/// The line that says which files went where.
fn report_files(committed: &output::Committed, neuron_output: Option<(usize, f64)>) {
    let names: Vec<String> = committed
        .files
        .iter()
        .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    let graph = neuron_output.map_or(String::new(), |(n, o)| {
        format!(
            " (graph: neuron {n} of the first layer on point 0, output {})",
            readable(o)
        )
    });
    say(format_args!(
        "wrote {} into {}{graph}",
        names.join(", "),
        committed.dir.display()
    ));
    if let Some(kept) = &committed.kept {
        say(format_args!(
            "the model is useless, so {} keeps the previous run's files",
            kept.display()
        ));
    }
}
