//! What to train and how ([`TrainConfig`]), and what a step reports ([`StepReport`]).

use std::fmt;

use crate::{Loss, Optimizer, Schedule, TrainError};

/// What to train and how.
///
/// Build it from [`TrainConfig::micrograd_demo`] (or `Default`) with struct update syntax, so
/// code keeps compiling when settings are added:
///
/// ```
/// use mlp::{Loss, Optimizer, TrainConfig};
/// let config = TrainConfig {
///     loss: Loss::Logistic,
///     optimizer: Optimizer::adam(0.01),
///     batch_size: Some(32),
///     threads: 2,
///     ..TrainConfig::micrograd_demo()
/// };
/// assert_eq!(config.steps, 100);
/// assert_eq!(config.chunk_size, TrainConfig::DEFAULT_CHUNK_SIZE);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TrainConfig {
    /// How many steps [`Trainer::train`](crate::Trainer::train) runs.
    pub steps: usize,
    /// The data loss.
    pub loss: Loss,
    /// The L2 coefficient α of `α·Σp²` added to the loss (0 for none).
    pub l2: f64,
    /// How parameters are updated.
    pub optimizer: Optimizer,
    /// Samples per step: `None` for the full batch, `Some(b)` for mini-batches of `b`
    /// (at most the dataset's size).
    pub batch_size: Option<usize>,
    /// The seed of the mini-batch shuffles (unused for the full batch).
    pub seed: u64,
    /// Threads that record a step's chunks: 1 records them all on the calling thread
    /// (nothing is spawned); `t > 1` records them on a pool of `t` threads (at most one per
    /// chunk of the step that starts it) that the [`Trainer`](crate::Trainer) starts in the
    /// first step with more than one chunk and keeps until it is dropped; 0 means one thread
    /// per available core
    /// ([`std::thread::available_parallelism`], looked up once by
    /// [`Trainer::new`](crate::Trainer::new)).
    ///
    /// Losses, gradients and parameters do not depend on it, bit for bit (see
    /// [`Trainer`](crate::Trainer)'s "Data parallelism" section), so it is a speed setting only.
    #[cfg_attr(feature = "serde", serde(default = "default_threads"))]
    pub threads: usize,
    /// Samples per chunk (at least 1; default [`TrainConfig::DEFAULT_CHUNK_SIZE`]).
    ///
    /// Each batch is cut into chunks of this many samples (the last one may be shorter), at
    /// positions that do not depend on [`TrainConfig::threads`]; the losses and gradients of
    /// the chunks are summed in chunk order. Unlike `threads`, the chunk size changes the
    /// order of floating-point additions and so the last bits of the results; a batch of at
    /// most `chunk_size` samples is recorded on one tape, exactly as without chunking.
    #[cfg_attr(feature = "serde", serde(default = "default_chunk_size"))]
    pub chunk_size: usize,
    /// Samples recorded at once (one of [`TrainConfig::LANE_WIDTHS`]): 1 records each
    /// sample on a `Tape<f64>`; N > 1 records each chunk on a lane tape,
    /// `Tape<`[`Lanes<N>`](tapegrad::Lanes)`>`, N samples per node.
    ///
    /// On a lane tape the parameters are leaves holding the same value in every lane, each
    /// group of N samples of a chunk is one forward pass (an input leaf per feature, a label
    /// leaf, the loss term), and a chunk's last group, when shorter, is padded with lanes of
    /// zero inputs whose terms are multiplied by 0, so they add nothing to the loss or to
    /// any gradient. Each lane's loss term and its
    /// gradient have the bits of the scalar recording; what changes is the order of three
    /// sums, so results agree with `lanes: 1` to rounding (about 1e-15 relative), not bit
    /// for bit:
    ///
    /// - a chunk's loss: per lane, the sum of the terms of samples `l, l + N, l + 2N, …`,
    ///   divided by the batch size (mean losses), then the lanes' losses added in lane
    ///   order (the scalar path adds all the chunk's terms, then divides);
    /// - a parameter's gradient: per lane, over that lane's samples, then added over the
    ///   lanes in lane order ([`Lanes::sum`](tapegrad::Lanes::sum));
    /// - the L2 term is recorded once per chunk 0, on lane 0 alone, so it is counted once.
    ///
    /// The chunks and the order of their final sums do not change, so every thread count
    /// still gives bitwise the same results for a given lane width. The demo (100 samples,
    /// 2-16-16-1) runs a step fastest with [`TrainConfig::DEFAULT_LANES`] lanes.
    ///
    /// ```
    /// use mlp::{datasets, Mlp, TrainConfig, Trainer};
    ///
    /// let data = datasets::two_moons(100, 0.1, 1);
    /// let model = Mlp::new(2, &[16, 16, 1], 1);
    /// let with = |lanes| {
    ///     let config = TrainConfig { lanes, ..TrainConfig::micrograd_demo() };
    ///     Trainer::new(config).loss_and_gradient(&model, &data)
    /// };
    /// let ((scalar, g1), (lanes, g4)) = (with(1)?, with(TrainConfig::DEFAULT_LANES)?);
    /// assert!((lanes - scalar).abs() <= 1e-14 * scalar);
    /// assert!(g4.iter().zip(&g1).all(|(a, b)| (a - b).abs() <= 1e-13));
    /// # Ok::<(), mlp::TrainError>(())
    /// ```
    #[cfg_attr(feature = "serde", serde(default = "default_lanes"))]
    pub lanes: usize,
}

#[cfg(feature = "serde")]
fn default_threads() -> usize {
    1
}

#[cfg(feature = "serde")]
fn default_chunk_size() -> usize {
    TrainConfig::DEFAULT_CHUNK_SIZE
}

/// A configuration written before lanes existed keeps the scalar recording it had.
#[cfg(feature = "serde")]
fn default_lanes() -> usize {
    1
}

impl TrainConfig {
    /// The default [`TrainConfig::chunk_size`]: samples recorded on one tape.
    ///
    /// Large enough that the per-chunk costs (binding the parameters again, copying and
    /// adding one gradient vector) stay small next to the chunk's forward and backward
    /// passes, small enough that a chunk's tape stays in a core's cache and that a batch of
    /// a thousand samples has enough chunks to balance two to four threads.
    ///
    /// ```
    /// use mlp::TrainConfig;
    /// assert_eq!(TrainConfig::micrograd_demo().chunk_size, TrainConfig::DEFAULT_CHUNK_SIZE);
    /// ```
    pub const DEFAULT_CHUNK_SIZE: usize = 64;

    /// The values [`TrainConfig::lanes`] accepts: 1 (the scalar recording) and the lane
    /// widths the trainer records with.
    ///
    /// ```
    /// assert_eq!(mlp::TrainConfig::LANE_WIDTHS, [1, 4, 8, 16]);
    /// ```
    pub const LANE_WIDTHS: [usize; 4] = [1, 4, 8, 16];

    /// The lane width that runs the demo's step fastest: what the `moons` app trains with
    /// unless told otherwise. On the 2-16-16-1 model and 100 samples (two chunks, 64 + 36),
    /// one thread, the medians of 100 trainings of 100 steps in one sitting on a 2-core
    /// machine were 42 µs per step with `lanes: 1`, 25 µs with 4, 29 µs with 8 and 44 µs
    /// with 16 (a busier sitting kept the order: 57, 35, 37–43 and 56–61 µs). Wider lanes
    /// pad more of the 36-sample chunk and carry more bytes per node. On 1,000 samples, 4
    /// lanes took 62 % of the scalar step's time. Measured again once lane sweeps ran on AVX2
    /// where the processor has it, as medians of 25 runs of the `moons` app (the whole step,
    /// threads included): 49, 35, 38 and 46 µs, the order unchanged.
    /// [`TrainConfig::micrograd_demo`] keeps 1,
    /// the scalar recording, whose losses are bit for bit those of
    /// [`evaluate`](crate::evaluate).
    ///
    /// ```
    /// use mlp::TrainConfig;
    /// assert!(TrainConfig::LANE_WIDTHS.contains(&TrainConfig::DEFAULT_LANES));
    /// ```
    pub const DEFAULT_LANES: usize = 4;

    /// micrograd's demo: 100 full-batch steps of max-margin loss plus 1e-4 L2, SGD with the
    /// rate `1.0 − 0.9·k/100`, on one thread, in chunks of
    /// [`TrainConfig::DEFAULT_CHUNK_SIZE`] samples, one sample at a time (`lanes: 1`).
    ///
    /// ```
    /// use mlp::{Loss, Optimizer, Schedule, TrainConfig};
    /// let c = TrainConfig::micrograd_demo();
    /// assert_eq!((c.steps, c.loss, c.l2, c.batch_size), (100, Loss::MaxMargin, 1e-4, None));
    /// assert_eq!(c.optimizer, Optimizer::Sgd { schedule: Schedule::Micrograd { steps: 100 } });
    /// assert_eq!((c.threads, c.chunk_size, c.lanes), (1, TrainConfig::DEFAULT_CHUNK_SIZE, 1));
    /// ```
    pub fn micrograd_demo() -> Self {
        TrainConfig {
            steps: 100,
            loss: Loss::MaxMargin,
            l2: 1e-4,
            optimizer: Optimizer::Sgd {
                schedule: Schedule::Micrograd { steps: 100 },
            },
            batch_size: None,
            seed: 0,
            threads: 1,
            chunk_size: Self::DEFAULT_CHUNK_SIZE,
            lanes: 1,
        }
    }

    /// Checks the settings (a batch size and a chunk size of at least 1, a lane width from
    /// [`TrainConfig::LANE_WIDTHS`], a finite L2 coefficient ≥ 0, the optimizer's
    /// hyperparameters). Every thread count is valid: 0 stands for one thread per core.
    ///
    /// ```
    /// use mlp::{TrainConfig, TrainError};
    /// let bad = TrainConfig { batch_size: Some(0), ..TrainConfig::micrograd_demo() };
    /// assert!(matches!(bad.check(), Err(TrainError::Config(_))));
    /// let bad = TrainConfig { chunk_size: 0, ..TrainConfig::micrograd_demo() };
    /// assert_eq!(bad.check(), Err(TrainError::Config("the chunk size must be at least 1".into())));
    /// assert!(TrainConfig { threads: 0, ..TrainConfig::micrograd_demo() }.check().is_ok());
    /// let bad = TrainConfig { lanes: 3, ..TrainConfig::micrograd_demo() };
    /// assert_eq!(
    ///     bad.check(),
    ///     Err(TrainError::Config("lanes must be 1 (scalar), 4, 8 or 16, got 3".into()))
    /// );
    /// ```
    ///
    /// # Errors
    ///
    /// [`TrainError::Config`] naming the first bad setting.
    pub fn check(&self) -> Result<(), TrainError> {
        if self.batch_size == Some(0) {
            return Err(TrainError::Config(
                "the batch size must be at least 1".into(),
            ));
        }
        if self.chunk_size == 0 {
            return Err(TrainError::Config(
                "the chunk size must be at least 1".into(),
            ));
        }
        if !Self::LANE_WIDTHS.contains(&self.lanes) {
            return Err(TrainError::Config(format!(
                "lanes must be 1 (scalar), 4, 8 or 16, got {}",
                self.lanes
            )));
        }
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(TrainError::Config(format!(
                "the L2 coefficient must be finite and ≥ 0, got {}",
                self.l2
            )));
        }
        self.optimizer.check().map_err(TrainError::Config)
    }
}

/// The default is [`TrainConfig::micrograd_demo`].
impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig::micrograd_demo()
    }
}

/// What one step measured, before its update (as micrograd's demo prints it).
///
/// ```
/// let r = mlp::StepReport { step: 3, loss: 0.25, accuracy: 0.5, learning_rate: 0.973, tape_len: 10 };
/// assert_eq!(r.to_string(), "step 3 loss 0.25, accuracy 50%");
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepReport {
    /// The step number, 0 for the first.
    pub step: usize,
    /// The loss of the batch (data loss plus the L2 term) at the parameters before the update.
    pub loss: f64,
    /// The batch's accuracy at the parameters before the update.
    pub accuracy: f64,
    /// The learning rate used for the update.
    pub learning_rate: f64,
    /// The number of nodes recorded for the step, over all its chunks' tapes (each chunk
    /// binds the parameters as leaves again): the same every step, and for every thread
    /// count. For a batch of at most [`TrainConfig::chunk_size`] samples, the length of
    /// the one tape.
    pub tape_len: usize,
}

/// micrograd's line: `step 3 loss 0.25, accuracy 50%`.
impl fmt::Display for StepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "step {} loss {}, accuracy {}%",
            self.step,
            self.loss,
            self.accuracy * 100.0
        )
    }
}
