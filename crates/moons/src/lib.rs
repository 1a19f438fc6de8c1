//! # moons
//!
//! The tapegrad workspace's main job: micrograd's demo in Rust. It trains an MLP(2, [16, 16, 1])
//! on 100 two-moons points with micrograd's max-margin loss, 1e-4 L2 regularization and its
//! learning-rate schedule (1.0 → 0.1) for 100 full-batch steps, printing one line per step,
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
//! The binary is a thin wrapper: [`Args`] are its flags, and [`run`] does the work and
//! returns a [`Summary`] (the final line it prints) or an [`AppError`] (one line on stderr,
//! exit code 1).
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
pub mod plot;

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mlp::{Dataset, Loss, Mlp, StepReport, TrainConfig, Trainer, datasets};

pub use cli::{Args, OptimizerKind};

/// Weight of the L2 term, micrograd's `alpha`.
pub const L2: f64 = 1e-4;

/// Names of the files [`run`] writes into the output folder, in the order it writes them.
pub const OUTPUT_FILES: [&str; 6] = [
    "metrics.csv",
    "model.json",
    "loss.svg",
    "boundary.svg",
    "graph.dot",
    "graph.svg",
];

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
    /// Wall time of the whole run (data, training, evaluation, files).
    pub total_time: Duration,
    /// The output folder.
    pub out_dir: PathBuf,
    /// The files written, in order.
    pub files: Vec<PathBuf>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "final: loss {:.4}, accuracy {:.1}%, {} parameters, {} steps in {:.3} s (wall time; {:.3} s in all); files in {}",
            self.loss,
            100.0 * self.accuracy,
            self.parameters,
            self.steps,
            self.train_time.as_secs_f64(),
            self.total_time.as_secs_f64(),
            self.out_dir.display(),
        )
    }
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
    /// The model could not be saved.
    Save {
        /// The model file.
        path: PathBuf,
        /// The cause.
        source: mlp::ModelError,
    },
    /// The flags ask for something that cannot be done (e.g. a loaded model that does not
    /// fit the data, or `--hidden` that contradicts it).
    Usage(String),
    /// Training failed: usually a non-finite loss or gradient, from a learning rate that is
    /// too large.
    Train(mlp::TrainError),
    /// A picture could not be drawn.
    Render {
        /// Which file.
        what: &'static str,
        /// The cause.
        message: String,
    },
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::OutputDir { path, source } => write!(
                f,
                "cannot create the output folder `{}`: {source}",
                path.display()
            ),
            AppError::Write { path, source } => {
                write!(f, "cannot write `{}`: {source}", path.display())
            }
            AppError::Load { path, source } => {
                write!(f, "cannot load the model `{}`: {source}", path.display())
            }
            AppError::Save { path, source } => {
                write!(f, "cannot save the model to `{}`: {source}", path.display())
            }
            AppError::Usage(message) => f.write_str(message),
            AppError::Train(e @ mlp::TrainError::NonFinite { .. }) => write!(
                f,
                "training diverged: {e} (the learning rate is probably too large; try a smaller --lr)"
            ),
            AppError::Train(e) => write!(f, "training failed: {e}"),
            AppError::Render { what, message } => write!(f, "cannot draw {what}: {message}"),
        }
    }
}

impl std::error::Error for AppError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AppError::OutputDir { source, .. } | AppError::Write { source, .. } => Some(source),
            AppError::Load { source, .. } | AppError::Save { source, .. } => Some(source),
            AppError::Train(e) => Some(e),
            AppError::Usage(_) | AppError::Render { .. } => None,
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

/// `metrics.csv`: the header `step,loss,accuracy,learning_rate` and one row per step, numbers
/// written so they parse back to the same `f64`.
///
/// ```
/// use moons::{StepRow, metrics_csv};
///
/// let csv = metrics_csv(&[StepRow { step: 0, loss: 0.5, accuracy: 0.75, learning_rate: 1.0 }]);
/// assert_eq!(csv, "step,loss,accuracy,learning_rate\n0,0.5,0.75,1\n");
/// ```
pub fn metrics_csv(rows: &[StepRow]) -> String {
    let mut out = String::from("step,loss,accuracy,learning_rate\n");
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{}\n",
            r.step, r.loss, r.accuracy, r.learning_rate
        ));
    }
    out
}

fn sizes_text(sizes: &[usize]) -> String {
    let parts: Vec<String> = sizes.iter().map(|s| s.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

/// Prints a line on stdout, ignoring a closed pipe (`moons | head`).
fn say(line: fmt::Arguments<'_>) {
    let _ = writeln!(io::stdout().lock(), "{line}");
}

/// Gets the model: a fresh one from the flags, or the `--load`ed one after checking it fits.
fn prepare_model(args: &Args) -> Result<Mlp, AppError> {
    let Some(path) = &args.load else {
        let mut sizes = args.hidden_sizes();
        sizes.push(1);
        return Ok(Mlp::new(2, &sizes, args.seed));
    };
    let model = Mlp::load(path).map_err(|source| AppError::Load {
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
    Ok(model)
}

fn write_file(
    dir: &Path,
    name: &str,
    contents: &[u8],
    files: &mut Vec<PathBuf>,
) -> Result<(), AppError> {
    let path = dir.join(name);
    fs::write(&path, contents).map_err(|source| AppError::Write {
        path: path.clone(),
        source,
    })?;
    files.push(path);
    Ok(())
}

/// Runs the main job with these flags: make the data, build or load the model, train it for
/// `args.steps` steps (printing a line per step unless `args.quiet`), evaluate it and write
/// the [`OUTPUT_FILES`] into `args.out`.
///
/// ```
/// use clap::Parser;
///
/// let out = std::env::temp_dir().join(format!("moons-doc-{}", std::process::id()));
/// let args = moons::Args::parse_from(["moons", "--steps", "3", "--quiet", "--out", out.to_str().unwrap()]);
/// let summary = moons::run(args)?;
/// assert_eq!((summary.steps, summary.parameters), (3, 337));
/// assert!(out.join("boundary.svg").exists());
/// std::fs::remove_dir_all(&out).unwrap();
/// # Ok::<(), moons::AppError>(())
/// ```
///
/// # Errors
///
/// Any failure a user can cause (an output folder that cannot be created or written, a model
/// file that is missing, corrupt or of the wrong shape, training that diverges) is an
/// [`AppError`]; nothing here panics on user input.
pub fn run(args: Args) -> Result<Summary, AppError> {
    let started = Instant::now();
    let data = datasets::two_moons(args.samples, args.noise, args.seed);
    let mut model = prepare_model(&args)?;

    // Fail before training if the output folder cannot be made.
    fs::create_dir_all(&args.out).map_err(|source| AppError::OutputDir {
        path: args.out.clone(),
        source,
    })?;

    let sizes = model.sizes();
    let architecture = format!("MLP({}, {})", model.nin(), sizes_text(&sizes));
    if !args.quiet {
        let origin = match &args.load {
            Some(path) => format!("loaded from {}", path.display()),
            None => "new: ReLU hidden layers, linear output".to_string(),
        };
        say(format_args!(
            "two moons: {} points, noise {}, seed {}; {architecture} ({origin}), {} parameters",
            data.len(),
            args.noise,
            args.seed,
            model.num_parameters()
        ));
        if args.steps > 0 {
            say(format_args!(
                "training {} steps: max-margin loss + {L2}·L2, {}",
                args.steps,
                args.optimizer_description()
            ));
        }
    }

    // micrograd's demo recipe; every other setting keeps the demo's value.
    let config = TrainConfig {
        steps: args.steps,
        loss: Loss::MaxMargin,
        l2: L2,
        optimizer: args.optimizer_config(),
        batch_size: None,
        seed: args.seed,
        threads: args.threads,
        ..TrainConfig::micrograd_demo()
    };
    let train_start = Instant::now();
    let quiet = args.quiet;
    let reports = Trainer::new(config)
        .train(&mut model, &data, |r| {
            if !quiet {
                say(format_args!(
                    "step {:>3}  loss {:.4}  accuracy {:>5.1}%  lr {:.4}",
                    r.step,
                    r.loss,
                    100.0 * r.accuracy,
                    r.learning_rate
                ));
            }
        })
        .map_err(AppError::Train)?;
    let train_time = train_start.elapsed();
    let history: Vec<StepRow> = reports.iter().map(StepRow::from).collect();
    let (loss, accuracy) = evaluate(&model, &data);

    let out = args.out.as_path();
    let mut files = Vec::new();
    write_file(
        out,
        "metrics.csv",
        metrics_csv(&history).as_bytes(),
        &mut files,
    )?;
    let model_path = out.join("model.json");
    model.save(&model_path).map_err(|source| AppError::Save {
        path: model_path.clone(),
        source,
    })?;
    files.push(model_path);

    let loss_title = format!("{architecture} on two moons: training curves");
    let loss_plot = plot::loss_svg(&history, &loss_title).map_err(|message| AppError::Render {
        what: "loss.svg",
        message,
    })?;
    write_file(out, "loss.svg", loss_plot.as_bytes(), &mut files)?;

    let boundary_title = format!(
        "{architecture} after {} steps: accuracy {:.0}%",
        history.len(),
        100.0 * accuracy
    );
    let boundary =
        plot::boundary_svg(&model, &data, &boundary_title).map_err(|message| AppError::Render {
            what: "boundary.svg",
            message,
        })?;
    write_file(out, "boundary.svg", boundary.svg.as_bytes(), &mut files)?;

    let first = data
        .inputs
        .first()
        .cloned()
        .unwrap_or_else(|| vec![0.0, 0.0]);
    let neuron = graph::model_neuron_dot(&model, &first);
    write_file(out, "graph.dot", neuron.dot.as_bytes(), &mut files)?;
    let svg = graph::dot_to_svg(&neuron.dot).map_err(|message| AppError::Render {
        what: "graph.svg",
        message,
    })?;
    write_file(out, "graph.svg", svg.as_bytes(), &mut files)?;
    if !args.quiet {
        say(format_args!(
            "wrote {} into {} (graph: neuron {} of the first layer on point 0, output {:.4})",
            OUTPUT_FILES.join(", "),
            out.display(),
            neuron.neuron,
            neuron.output
        ));
    }

    Ok(Summary {
        architecture: (model.nin(), sizes),
        parameters: model.num_parameters(),
        steps: history.len(),
        history,
        loss,
        accuracy,
        train_time,
        total_time: started.elapsed(),
        out_dir: args.out,
        files,
    })
}
