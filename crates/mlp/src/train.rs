//! The training loop: the batch recorded in fixed chunks, one reused tape per worker thread
//! (the threads kept for a whole run), the chunks' results summed in chunk order.

use std::fmt;
use std::ops::{Deref, Range};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvError, SyncSender, TryRecvError};
use std::time::{Duration, Instant};

use tapegrad::{Run, Tape, Var};

use crate::optim::{Bad, OptState};
use crate::rng::Rng;
use crate::{Dataset, Loss, Mlp, Optimizer, Schedule, TrainError, loss};

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
    /// How many steps [`Trainer::train`] runs.
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
    /// (nothing is spawned); `t > 1` runs the calling thread and up to `t − 1` scoped threads,
    /// spawned once per [`Trainer::train`] run (the calling thread records the first and the
    /// last chunk, so a batch of `c` chunks spawns at most `c − 2` threads: none for one or
    /// two chunks); 0 means one thread per available core
    /// ([`std::thread::available_parallelism`], looked up once by [`Trainer::new`]).
    ///
    /// Losses, gradients and parameters do not depend on it, bit for bit (see
    /// [`Trainer`]'s "Data parallelism" section), so it is a speed setting only. Threads
    /// that wait for the next step poll for a while before they sleep, so more threads than
    /// cores only take CPU time from the ones with work.
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
}

#[cfg(feature = "serde")]
fn default_threads() -> usize {
    1
}

#[cfg(feature = "serde")]
fn default_chunk_size() -> usize {
    TrainConfig::DEFAULT_CHUNK_SIZE
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

    /// micrograd's demo: 100 full-batch steps of max-margin loss plus 1e-4 L2, SGD with the
    /// rate `1.0 − 0.9·k/100`, on one thread, in chunks of
    /// [`TrainConfig::DEFAULT_CHUNK_SIZE`] samples.
    ///
    /// ```
    /// use mlp::{Loss, Optimizer, Schedule, TrainConfig};
    /// let c = TrainConfig::micrograd_demo();
    /// assert_eq!((c.steps, c.loss, c.l2, c.batch_size), (100, Loss::MaxMargin, 1e-4, None));
    /// assert_eq!(c.optimizer, Optimizer::Sgd { schedule: Schedule::Micrograd { steps: 100 } });
    /// assert_eq!((c.threads, c.chunk_size), (1, TrainConfig::DEFAULT_CHUNK_SIZE));
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
        }
    }

    /// Checks the settings (a batch size and a chunk size of at least 1, a finite L2
    /// coefficient ≥ 0, the optimizer's hyperparameters). Every thread count is valid: 0
    /// stands for one thread per core.
    ///
    /// ```
    /// use mlp::{TrainConfig, TrainError};
    /// let bad = TrainConfig { batch_size: Some(0), ..TrainConfig::micrograd_demo() };
    /// assert!(matches!(bad.check(), Err(TrainError::Config(_))));
    /// let bad = TrainConfig { chunk_size: 0, ..TrainConfig::micrograd_demo() };
    /// assert_eq!(bad.check(), Err(TrainError::Config("the chunk size must be at least 1".into())));
    /// assert!(TrainConfig { threads: 0, ..TrainConfig::micrograd_demo() }.check().is_ok());
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

/// Trains an [`Mlp`] step by step on [`Tape`]s it keeps.
///
/// Each step cuts the batch into chunks of [`TrainConfig::chunk_size`] samples. For each
/// chunk, a worker clears its tape (keeping its capacity), binds the parameters as
/// contiguous leaves, records the forward pass of each of the chunk's samples, the loss
/// terms and their sum, scaled so that the chunks' losses add up to the batch's loss (for
/// the mean losses, divided by the batch size), adds the L2 term (chunk 0 only), runs
/// `backward` and copies out its loss and its gradient. The trainer then adds the chunks'
/// losses and gradients in chunk order and lets the optimizer compute new parameters. The
/// loss, every gradient, every new parameter and the optimizer's state are checked before
/// anything is written: a NaN or infinity stops training with [`TrainError::NonFinite`]
/// naming the step and the first bad number, and the model keeps the parameters it had.
/// The tapes and all scratch buffers live in the trainer, so after the first step a step
/// on one thread allocates nothing (with more threads, only spawning them allocates: a few
/// small blocks per thread and step), and the number of recorded nodes is the same every
/// step ([`StepReport::tape_len`]).
///
/// Mini-batches are drawn from a shuffle of the dataset per epoch (ChaCha8, from
/// [`TrainConfig::seed`]); batches run across epoch boundaries, so every batch has the same
/// size. The same model, data and config give bitwise the same run.
///
/// ```
/// use mlp::{datasets, Mlp, TrainConfig, Trainer};
///
/// let data = datasets::two_moons(100, 0.1, 1337);
/// let mut model = Mlp::new(2, &[16, 16, 1], 1337);
/// let mut trainer = Trainer::new(TrainConfig::micrograd_demo());
/// let first = trainer.step(&mut model, &data)?;
/// assert_eq!(first.step, 0);
/// let rest = trainer.train(&mut model, &data, |r| {
///     if r.step % 25 == 0 { println!("{r}") }
/// })?;
/// assert_eq!(rest.len(), 99);
/// assert!(rest.iter().all(|r| r.tape_len == first.tape_len));
/// # Ok::<(), mlp::TrainError>(())
/// ```
///
/// # Data parallelism and determinism
///
/// With [`TrainConfig::threads`] `t > 1`, a step shares its chunks between the calling
/// thread and up to `t − 1` threads spawned in a [`std::thread::scope`]: one scope for a
/// whole [`Trainer::train`] run, or for the one step of [`Trainer::step`]. Each worker has a
/// tape and scratch buffers of its own, which the trainer keeps for the next step. The
/// calling thread records chunk 0 and the last chunk; the chunks in between go to whichever
/// thread is free first. Every chunk writes its loss, gradient and scores into
/// slots of its own, and once every thread has reported the trainer adds the losses and the
/// gradients in chunk order 0, 1, 2, …, starting from chunk 0's. A chunk's recording does
/// not depend on which thread or tape records it, and the chunk boundaries depend only on
/// the batch size and the chunk size. Therefore **every thread count gives bitwise the same
/// losses, gradients, reports and parameters**, on any machine:
///
/// ```
/// use mlp::{datasets, Mlp, TrainConfig, Trainer};
///
/// // 300 samples: four chunks of 64 and one of 44.
/// let data = datasets::two_moons(300, 0.1, 7);
/// let run = |threads| -> Result<(Vec<u64>, Vec<u64>), mlp::TrainError> {
///     let mut model = Mlp::new(2, &[16, 16, 1], 7);
///     let config = TrainConfig { steps: 20, threads, ..TrainConfig::micrograd_demo() };
///     let reports = Trainer::new(config).train(&mut model, &data, |_| {})?;
///     Ok((
///         reports.iter().map(|r| r.loss.to_bits()).collect(),
///         model.parameters().iter().map(|p| p.to_bits()).collect(),
///     ))
/// };
/// assert_eq!(run(2)?, run(1)?);
/// # Ok::<(), mlp::TrainError>(())
/// ```
///
/// The chunk size does change the last bits (it decides which partial sums are formed), so
/// keep it fixed when comparing runs. A batch that fits in one chunk is recorded on one tape
/// exactly as without chunking. A non-finite loss or gradient is reported as on one thread:
/// the step, the first bad parameter by name, the first sample whose output is not finite.
///
/// Spawning a thread costs the calling thread about 20 µs on the 2-core virtual machines
/// this was measured on, and the new thread starts some 50 µs later (an idle virtual CPU has
/// to be woken), while the demo network takes about 1 µs per sample. So `train` spawns its
/// threads once and keeps them for every step of the run: between steps they poll for the
/// next one (yielding their CPU) for up to a millisecond before they block, so a step does
/// not wait for a sleeping CPU to wake. [`Trainer::step`] on its own spawns them for each
/// call; prefer `train` for a run of many steps. Threads pay off from a few hundred samples
/// per batch on (`benches/parallel.rs` has the figures).
#[derive(Debug)]
pub struct Trainer {
    config: TrainConfig,
    /// The number of workers [`TrainConfig::threads`] asks for (0 resolved to the cores).
    threads: usize,
    step: usize,
    opt: OptState,
    /// Parameter values, gradients and proposed values, in parameter order.
    values: Vec<f64>,
    grads: Vec<f64>,
    next: Vec<f64>,
    /// The batch: sample indices, their scores and labels, in batch order.
    indices: Vec<usize>,
    scores: Vec<f64>,
    labels: Vec<f64>,
    /// The shuffle of the epoch `order_key.0` of a dataset of `order_key.1` samples.
    order: Vec<usize>,
    order_key: Option<(u64, usize)>,
    /// One tape and its scratch buffers per worker; worker 0 runs on the calling thread.
    workers: Vec<Worker>,
    /// Per chunk, in chunk order: its loss contribution and tape length, and its gradient
    /// (one run of `values.len()` numbers per chunk).
    chunk_out: Vec<ChunkOut>,
    chunk_grads: Vec<f64>,
    /// The tape length of the last recording's chunk 0, its longest chunk.
    longest: usize,
    /// Kept between calls that spawn threads: the spawned workers' copy of the model (for
    /// its shape), their job and their result buffers.
    shape: Option<Mlp>,
    job: Option<Job>,
    outboxes: Vec<Outbox>,
}

/// An element with `Var`'s size and alignment (on 64-bit targets), so an empty `Vec<Var>`'s
/// allocation can be kept across a tape clear by an in-place `collect`, without `unsafe`.
/// Where the layouts differ, `recycle` allocates anew: slower, still correct.
type Spare = [u64; 3];

/// Empties `v` and returns its allocation as a `Vec<B>` (in place when the layouts match).
fn recycle<A, B>(mut v: Vec<A>) -> Vec<B> {
    v.clear();
    v.into_iter().map(|_| unreachable!()).collect()
}

/// The `Vec<Var>` buffers of one chunk's recording.
struct Bufs<'t> {
    params: Vec<Var<'t>>,
    sample: SampleBufs<'t>,
}

/// Buffers for recording samples: inputs, layer outputs, scores and loss terms.
struct SampleBufs<'t> {
    input: Vec<Var<'t>>,
    out: Vec<Var<'t>>,
    tmp: Vec<Var<'t>>,
    scores: Vec<Var<'t>>,
    a: Vec<Var<'t>>,
    b: Vec<Var<'t>>,
}

impl<'t> Bufs<'t> {
    fn take(spare: &mut [Vec<Spare>; 7]) -> Self {
        let [params, input, out, tmp, scores, a, b] = std::mem::take(spare).map(recycle);
        Bufs {
            params,
            sample: SampleBufs {
                input,
                out,
                tmp,
                scores,
                a,
                b,
            },
        }
    }

    fn give_back(self, spare: &mut [Vec<Spare>; 7]) {
        let s = self.sample;
        *spare = [
            recycle(self.params),
            recycle(s.input),
            recycle(s.out),
            recycle(s.tmp),
            recycle(s.scores),
            recycle(s.a),
            recycle(s.b),
        ];
    }
}

/// Records Σ over `indices` of the per-sample loss terms of `model` (parameters `params`,
/// labels `labels`, one per index) and returns the sum node; writes each sample's score
/// into `scores` (one per index).
///
/// This is the unit of work of a chunk: the loss of a batch is the sum over its chunks of
/// `loss.finish(chunk's sum, batch size)`, and its gradient the sum of the chunks'
/// gradients.
#[allow(clippy::too_many_arguments)]
fn record_terms<'t>(
    tape: &'t Tape,
    model: &Mlp,
    params: &[Var<'t>],
    data: &Dataset,
    indices: &[usize],
    labels: &[f64],
    loss: Loss,
    bufs: &mut SampleBufs<'t>,
    scores: &mut [f64],
) -> Var<'t> {
    bufs.scores.clear();
    // Checked once per chunk, so each neuron is one node over two runs.
    let params_run = Run::new(params);
    for &i in indices {
        bufs.input.clear();
        tape.extend_vars(&mut bufs.input, &data.inputs[i]);
        let (input, out, tmp) = (&bufs.input, &mut bufs.out, &mut bufs.tmp);
        model.record_forward(tape, params, params_run, input, out, tmp);
        bufs.scores.push(bufs.out[0]);
    }
    for (out, s) in scores.iter_mut().zip(&bufs.scores) {
        *out = s.value();
    }
    bufs.a.clear();
    bufs.a.extend(
        bufs.scores
            .iter()
            .zip(labels)
            .map(|(&s, &y)| loss.term(s, y)),
    );
    tape.sum(&bufs.a)
}

/// One worker: a tape and the allocations of its `Vec<Var>` buffers, kept across steps.
///
/// Aligned to two cache lines so that the fields a worker writes on every recorded node
/// (its tape's lengths) never share a cache line with another worker's.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Worker {
    tape: Tape,
    spare: [Vec<Spare>; 7],
    /// The longest tape this worker has recorded: its buffers have room for that much.
    longest: usize,
    /// Result slots for a warm-up recording (see [`Worker::warm_up`]).
    scores: Vec<f64>,
    grad: Vec<f64>,
}

/// Chunk 0 of a step, the chunk with the longest tape (a full chunk, plus the L2 term), and
/// that tape's length in the previous step (0 before the first).
struct FirstChunk<'a> {
    samples: &'a [usize],
    labels: &'a [f64],
    longest: usize,
}

/// What every chunk of a step reads.
struct StepInput<'a> {
    model: &'a Mlp,
    data: &'a Dataset,
    /// The parameter values, in parameter order.
    values: &'a [f64],
    loss: Loss,
    l2: f64,
    /// The number of samples in the batch (the divisor of the mean losses).
    batch: usize,
}

/// A chunk's loss contribution and the number of nodes its tape recorded.
#[derive(Clone, Copy, Debug, Default)]
struct ChunkOut {
    loss: f64,
    len: usize,
}

/// One chunk of a step: its samples and the slots its results go to.
struct Chunk<'a> {
    /// The chunk number: its position in the batch, and in the order of the final sums.
    index: usize,
    samples: &'a [usize],
    labels: &'a [f64],
    scores: &'a mut [f64],
    grad: &'a mut [f64],
    out: &'a mut ChunkOut,
}

impl Worker {
    /// Records `chunk` on this worker's cleared tape and writes its results; the gradient
    /// is all zeros when the chunk's loss is not finite (the step fails on the loss then).
    fn record(&mut self, input: &StepInput<'_>, chunk: Chunk<'_>) {
        let Worker {
            tape,
            spare,
            longest,
            ..
        } = self;
        tape.clear();
        let tape: &Tape = tape;
        let mut bufs = Bufs::take(spare);
        tape.extend_vars(&mut bufs.params, input.values);
        let sum = record_terms(
            tape,
            input.model,
            &bufs.params,
            input.data,
            chunk.samples,
            chunk.labels,
            input.loss,
            &mut bufs.sample,
            chunk.scores,
        );
        let mut total = input.loss.finish(sum, input.batch);
        if chunk.index == 0 && input.l2 != 0.0 {
            total += loss::l2(tape, &bufs.params, input.l2);
        }
        let value = total.value();
        *chunk.out = ChunkOut {
            loss: value,
            len: tape.len(),
        };
        *longest = (*longest).max(tape.len());
        match bufs.params.first() {
            Some(&first) if value.is_finite() => total.backward().copy_run(first, chunk.grad),
            _ => chunk.grad.fill(0.0),
        }
        bufs.give_back(spare);
    }

    /// Records chunk 0 into this worker's own slots, throwing the results away, unless the
    /// worker has already recorded a tape as long as chunk 0's.
    ///
    /// Threads take chunks as they come free, so a spawned worker may record only short
    /// chunks for many steps and chunk 0 (the longest) later: its tape and gradient buffer
    /// would then grow in the middle of a run. Recording chunk 0 once, in its first step,
    /// sizes every buffer for the longest chunk, so later steps do not allocate.
    fn warm_up(&mut self, input: &StepInput<'_>, first: &FirstChunk<'_>) {
        if self.longest > 0 && self.longest >= first.longest {
            return;
        }
        let (mut scores, mut grad) = (
            std::mem::take(&mut self.scores),
            std::mem::take(&mut self.grad),
        );
        scores.resize(first.samples.len(), 0.0);
        grad.resize(input.values.len(), 0.0);
        let mut out = ChunkOut::default();
        let chunk = Chunk {
            index: 0,
            samples: first.samples,
            labels: first.labels,
            scores: &mut scores,
            grad: &mut grad,
            out: &mut out,
        };
        self.record(input, chunk);
        (self.scores, self.grad) = (scores, grad);
    }

    /// Records the chunks of `job` that are not the calling thread's (all but the first and
    /// the last), as they come free, into `outbox`.
    fn take_chunks(&mut self, input: &StepInput<'_>, job: &Job, outbox: &mut Outbox) {
        let p = input.values.len();
        while let Some(index) = job.claim() {
            let (samples, labels) = job.chunk(index);
            let (g, s) = (outbox.grads.len(), outbox.scores.len());
            outbox.grads.resize(g + p, 0.0);
            outbox.scores.resize(s + samples.len(), 0.0);
            let mut out = ChunkOut::default();
            self.record(
                input,
                Chunk {
                    index,
                    samples,
                    labels,
                    scores: &mut outbox.scores[s..],
                    grad: &mut outbox.grads[g..],
                    out: &mut out,
                },
            );
            outbox.done.push((index, out));
        }
    }
}

/// What the spawned workers read for one step. It is owned, not borrowed, because the
/// threads live across steps; the calling thread refills it in place (no allocation) while
/// the workers wait between steps.
#[derive(Debug)]
struct Job {
    values: Vec<f64>,
    indices: Vec<usize>,
    labels: Vec<f64>,
    loss: Loss,
    l2: f64,
    chunk_size: usize,
    /// Chunk 0's tape length in the previous step (see [`Worker::warm_up`]).
    longest: usize,
    /// The next chunk to hand out; chunks are claimed in order, from 1 to the last but one.
    next: AtomicUsize,
}

impl Job {
    /// A job for `config`, keeping the buffers of `old` (a previous call's) if there is one.
    fn for_config(old: Option<Job>, config: &TrainConfig) -> Self {
        let (values, indices, labels) =
            old.map_or_else(Default::default, |j| (j.values, j.indices, j.labels));
        Job {
            values,
            indices,
            labels,
            loss: config.loss,
            l2: config.l2,
            chunk_size: config.chunk_size,
            longest: 0,
            next: AtomicUsize::new(0),
        }
    }

    fn chunks(&self) -> usize {
        self.indices.len().div_ceil(self.chunk_size)
    }

    /// Chunk `index`'s sample indices and labels.
    fn chunk(&self, index: usize) -> (&[usize], &[f64]) {
        let span = chunk_span(index, self.chunk_size, self.indices.len());
        (&self.indices[span.clone()], &self.labels[span])
    }

    /// The next chunk for whichever thread asks first, or `None` once only the last chunk
    /// (the calling thread's) is left.
    fn claim(&self) -> Option<usize> {
        // Relaxed: the job's contents reach the workers through the channel that carries
        // it, and their results come back the same way; the counter only splits the work.
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        (index + 1 < self.chunks()).then_some(index)
    }

    fn input<'a>(&'a self, model: &'a Mlp, data: &'a Dataset) -> StepInput<'a> {
        StepInput {
            model,
            data,
            values: &self.values,
            loss: self.loss,
            l2: self.l2,
            batch: self.indices.len(),
        }
    }

    fn first(&self) -> FirstChunk<'_> {
        let (samples, labels) = self.chunk(0);
        FirstChunk {
            samples,
            labels,
            longest: self.longest,
        }
    }
}

/// The positions in the batch of chunk `index`, for chunks of `size` in a batch of `n`.
fn chunk_span(index: usize, size: usize, n: usize) -> Range<usize> {
    index * size..((index + 1) * size).min(n)
}

/// A spawned worker's results for one step: per chunk it recorded, the chunk's number and
/// numbers, with its gradient and scores appended to `grads` and `scores` in the same order.
/// The calling thread copies them into the chunks' slots and sends the buffers back.
#[derive(Debug, Default)]
struct Outbox {
    done: Vec<(usize, ChunkOut)>,
    grads: Vec<f64>,
    scores: Vec<f64>,
}

impl Outbox {
    fn clear(&mut self) {
        self.done.clear();
        self.grads.clear();
        self.scores.clear();
    }
}

/// Whether `a` and `b` record the same graph: the same inputs, layers, fan-ins and
/// activations (the parameter values may differ).
fn same_shape(a: &Mlp, b: &Mlp) -> bool {
    a.nin() == b.nin()
        && a.layers().len() == b.layers().len()
        && a.layers().iter().zip(b.layers()).all(|(la, lb)| {
            la.neurons.len() == lb.neurons.len()
                && (la.neurons.iter().zip(&lb.neurons))
                    .all(|(na, nb)| na.w.len() == nb.w.len() && na.activation == nb.activation)
        })
}

/// The calling thread's side of one spawned worker.
struct Link {
    jobs: SyncSender<(Arc<Job>, Outbox)>,
    results: Receiver<Outbox>,
    /// The worker's result buffers, between steps.
    outbox: Outbox,
}

/// The spawned workers of a [`Trainer::train`] run (or of a single [`Trainer::step`]).
struct Pool {
    job: Arc<Job>,
    links: Vec<Link>,
}

/// How long a thread that waits for the next step (or for a worker's results) keeps its CPU
/// before it blocks. A blocked thread is woken by the kernel, which on a virtual machine
/// whose idle CPUs halt takes tens of µs: more than a chunk of the demo network. Waiting
/// threads yield while they poll, so they give way when there are more threads than cores.
const POLL: Duration = Duration::from_millis(1);

/// The next message on `rx`: polled for up to [`POLL`], then waited for.
fn receive<T>(rx: &Receiver<T>) -> Result<T, RecvError> {
    let start = Instant::now();
    loop {
        match rx.try_recv() {
            Ok(v) => return Ok(v),
            Err(TryRecvError::Disconnected) => return Err(RecvError),
            Err(TryRecvError::Empty) if start.elapsed() < POLL => std::thread::yield_now(),
            Err(TryRecvError::Empty) => return rx.recv(),
        }
    }
}

/// A spawned worker's loop: record the chunks of each job it is sent, send back the results,
/// until the calling thread hangs up; then hand the worker (its tape and buffers) back.
fn serve(
    mut worker: Worker,
    model: &Mlp,
    data: &Dataset,
    jobs: Receiver<(Arc<Job>, Outbox)>,
    results: SyncSender<Outbox>,
) -> Worker {
    while let Ok((job, mut outbox)) = receive(&jobs) {
        let input = job.input(model, data);
        worker.warm_up(&input, &job.first());
        worker.take_chunks(&input, &job, &mut outbox);
        // Let go of the job before reporting, so that the calling thread can refill it.
        drop(job);
        if results.send(outbox).is_err() {
            break;
        }
    }
    worker
}

/// The thread count `threads` asks for: itself, or for 0 the available cores (1 if unknown).
fn resolve_threads(threads: usize) -> usize {
    match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        t => t,
    }
}

impl Trainer {
    /// A trainer for `config`, with an empty tape and fresh optimizer state.
    ///
    /// ```
    /// let t = mlp::Trainer::new(mlp::TrainConfig::micrograd_demo());
    /// assert_eq!(t.steps_done(), 0);
    /// ```
    pub fn new(config: TrainConfig) -> Self {
        Trainer {
            threads: resolve_threads(config.threads),
            config,
            step: 0,
            opt: OptState::default(),
            values: Vec::new(),
            grads: Vec::new(),
            next: Vec::new(),
            indices: Vec::new(),
            scores: Vec::new(),
            labels: Vec::new(),
            order: Vec::new(),
            order_key: None,
            workers: Vec::new(),
            chunk_out: Vec::new(),
            chunk_grads: Vec::new(),
            longest: 0,
            shape: None,
            job: None,
            outboxes: Vec::new(),
        }
    }

    /// The configuration.
    ///
    /// ```
    /// let t = mlp::Trainer::new(mlp::TrainConfig::micrograd_demo());
    /// assert_eq!(t.config().steps, 100);
    /// ```
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The number of steps completed (the number of the next step).
    ///
    /// ```
    /// let data = mlp::datasets::lecture_toy();
    /// let mut model = mlp::Mlp::new(3, &[4, 1], 0);
    /// let mut t = mlp::Trainer::new(mlp::TrainConfig::micrograd_demo());
    /// t.step(&mut model, &data)?;
    /// assert_eq!(t.steps_done(), 1);
    /// # Ok::<(), mlp::TrainError>(())
    /// ```
    pub fn steps_done(&self) -> usize {
        self.step
    }

    /// The sample indices of step `k`'s batch, in the order they are recorded, for a
    /// dataset of `n` samples: `0..n` for the full batch, else positions `k·b .. k·b + b` of
    /// the stream of per-epoch shuffles.
    ///
    /// ```
    /// use mlp::{TrainConfig, Trainer};
    /// let mut t = Trainer::new(TrainConfig { batch_size: Some(4), seed: 9, ..Default::default() });
    /// let mut epoch: Vec<usize> = (0..2).flat_map(|k| t.batch_indices(k, 8)).collect();
    /// epoch.sort();
    /// assert_eq!(epoch, (0..8).collect::<Vec<_>>()); // one epoch sees every sample once
    /// ```
    pub fn batch_indices(&mut self, k: usize, n: usize) -> Vec<usize> {
        self.select_batch(k, n);
        self.indices.clone()
    }

    fn select_batch(&mut self, k: usize, n: usize) {
        self.indices.clear();
        match self.config.batch_size {
            None => self.indices.extend(0..n),
            Some(b) => {
                let b = b.min(n);
                let start = k as u128 * b as u128;
                for p in start..start + b as u128 {
                    let epoch = (p / n as u128) as u64;
                    if self.order_key != Some((epoch, n)) {
                        self.order.clear();
                        self.order.extend(0..n);
                        Rng::with_stream(self.config.seed, epoch).shuffle(&mut self.order);
                        self.order_key = Some((epoch, n));
                    }
                    self.indices.push(self.order[(p % n as u128) as usize]);
                }
            }
        }
    }

    fn check(&self, model: &Mlp, data: &Dataset) -> Result<(), TrainError> {
        self.config.check()?;
        if data.is_empty() {
            return Err(TrainError::Data("the dataset is empty".into()));
        }
        data.validate().map_err(TrainError::Data)?;
        if data.dim() != model.nin() {
            return Err(TrainError::Data(format!(
                "the samples have {} inputs but the model has {}",
                data.dim(),
                model.nin()
            )));
        }
        if model.nout() != 1 {
            return Err(TrainError::Data(format!(
                "the model has {} outputs; the losses need one score per sample",
                model.nout()
            )));
        }
        Ok(())
    }

    /// Runs `f` with the spawned workers that a batch of `batch` samples can use (none if
    /// `threads` is 1 or the batch has at most two chunks), in one [`std::thread::scope`]:
    /// every step `f` takes uses the same threads.
    fn with_pool<M: Deref<Target = Mlp>, R>(
        &mut self,
        model: M,
        data: &Dataset,
        batch: usize,
        f: impl FnOnce(&mut Self, M, Option<&mut Pool>) -> R,
    ) -> R {
        let chunks = batch.div_ceil(self.config.chunk_size);
        // The calling thread records the first and the last chunk.
        let spawn = self.threads.min(chunks.saturating_sub(1)).saturating_sub(1);
        if spawn == 0 {
            return f(self, model, None);
        }
        if self.workers.len() < spawn + 1 {
            self.workers.resize_with(spawn + 1, Worker::default);
        }
        let moved: Vec<Worker> = self.workers.drain(1..=spawn).collect();
        // The workers' copy of the model, for its shape: the parameter values they bind
        // come with each step's job. Kept, like the job and the result buffers, for the next
        // call.
        let shape = match self.shape.take() {
            Some(shape) if same_shape(&shape, &model) => shape,
            _ => model.clone(),
        };
        let job = Arc::new(Job::for_config(self.job.take(), &self.config));
        let mut outboxes = std::mem::take(&mut self.outboxes);
        outboxes.resize_with(spawn, Outbox::default);
        let out = std::thread::scope(|s| {
            let (shape, mut links, mut handles) = (&shape, Vec::new(), Vec::new());
            for (worker, outbox) in moved.into_iter().zip(outboxes) {
                // One job and one result in flight at a time: bounded channels of one slot
                // never allocate per message.
                let (job_tx, job_rx) = mpsc::sync_channel(1);
                let (result_tx, result_rx) = mpsc::sync_channel(1);
                handles.push(s.spawn(move || serve(worker, shape, data, job_rx, result_tx)));
                links.push(Link {
                    jobs: job_tx,
                    results: result_rx,
                    outbox,
                });
            }
            let mut pool = Pool { job, links };
            let out = f(self, model, Some(&mut pool));
            // Hanging up ends the workers' loops; they hand their tapes back, in order.
            let Pool { job, links } = pool;
            self.outboxes = links.into_iter().map(|link| link.outbox).collect();
            let back: Vec<Worker> = handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect();
            self.workers.splice(1..1, back);
            self.job = Arc::try_unwrap(job).ok();
            out
        });
        self.shape = Some(shape);
        out
    }

    /// The number of samples in each step's batch for a dataset of `n`.
    fn batch_len(&self, n: usize) -> usize {
        self.config.batch_size.map_or(n, |b| b.min(n))
    }

    /// Records the loss of the batch in `self.indices`, chunk by chunk, on the calling
    /// thread and the workers of `pool`; writes the batch's scores and labels, and the sum of
    /// the chunks' gradients into `self.grads`. Returns the loss and the total tape length.
    fn record(&mut self, model: &Mlp, data: &Dataset, pool: Option<&mut Pool>) -> (f64, usize) {
        let Trainer {
            config,
            values,
            grads,
            indices,
            scores,
            labels,
            workers,
            longest,
            chunk_out,
            chunk_grads,
            ..
        } = self;
        model.write_parameters(values);
        let (n, p, size) = (indices.len(), values.len(), config.chunk_size);
        let chunks = n.div_ceil(size);
        labels.clear();
        labels.extend(indices.iter().map(|&i| data.labels[i]));
        // Every slot below is overwritten by its chunk: resizing is enough.
        scores.resize(n, 0.0);
        chunk_out.resize(chunks, ChunkOut::default());
        chunk_grads.resize(chunks * p, 0.0);
        if workers.is_empty() {
            workers.push(Worker::default());
        }
        let input = StepInput {
            model,
            data,
            values,
            loss: config.loss,
            l2: config.l2,
            batch: n,
        };
        // Chunk `index` with its own result slots: whichever thread records a chunk, its
        // results land in the same place.
        let mut record_here = |index: usize| {
            let span = chunk_span(index, size, n);
            let chunk = Chunk {
                index,
                samples: &indices[span.clone()],
                labels: &labels[span.clone()],
                scores: &mut scores[span],
                grad: &mut chunk_grads[index * p..(index + 1) * p],
                out: &mut chunk_out[index],
            };
            workers[0].record(&input, chunk);
        };
        // The workers that this batch can keep busy: every chunk but the first and the last
        // may go to one.
        let engaged = pool.and_then(|pool| {
            let engaged = pool.links.len().min(chunks.saturating_sub(2));
            if engaged > 0 {
                let job = Arc::get_mut(&mut pool.job)
                    .expect("the workers let go of the job before they report");
                job.values.clone_from(values);
                job.indices.clone_from(indices);
                job.labels.clone_from(labels);
                job.longest = *longest;
                job.next = AtomicUsize::new(1);
                for link in &mut pool.links[..engaged] {
                    let mut outbox = std::mem::take(&mut link.outbox);
                    // Room for every chunk the worker may take, so that how the chunks
                    // happen to fall between the threads never makes a step allocate.
                    let most = chunks - 2;
                    outbox.clear();
                    outbox.done.reserve(most);
                    outbox.grads.reserve(most * p);
                    outbox.scores.reserve(most * size);
                    if link.jobs.send((Arc::clone(&pool.job), outbox)).is_err() {
                        panic!("a training worker thread has stopped (it panicked)");
                    }
                }
            }
            (engaged > 0).then_some((engaged, pool))
        });
        match engaged {
            None => (0..chunks).for_each(&mut record_here),
            Some((engaged, pool)) => {
                // The calling thread records chunk 0 (the longest) every step, so its
                // buffers never grow after the first step; spawned workers warm up once. It
                // also keeps the last chunk, so that it is (almost always) the last to
                // finish and finds the workers' results waiting instead of waiting for them.
                record_here(0);
                while let Some(index) = pool.job.claim() {
                    record_here(index);
                }
                record_here(chunks - 1);
                for link in &mut pool.links[..engaged] {
                    let outbox = receive(&link.results)
                        .expect("a training worker thread has stopped (it panicked)");
                    let (mut g, mut s) = (0, 0);
                    for &(index, out) in &outbox.done {
                        let span = chunk_span(index, size, n);
                        let len = span.len();
                        chunk_out[index] = out;
                        chunk_grads[index * p..(index + 1) * p]
                            .copy_from_slice(&outbox.grads[g..g + p]);
                        scores[span].copy_from_slice(&outbox.scores[s..s + len]);
                        (g, s) = (g + p, s + len);
                    }
                    link.outbox = outbox;
                }
            }
        }
        // The sums, in chunk order, starting from chunk 0's numbers (not from 0.0, which
        // would turn a gradient of −0 into +0).
        let (mut loss, mut len) = (0.0, 0);
        for (c, out) in chunk_out.iter().enumerate() {
            loss = if c == 0 { out.loss } else { loss + out.loss };
            len += out.len;
        }
        grads.clear();
        grads.extend_from_slice(&chunk_grads[..p]);
        for g in chunk_grads[p..].chunks_exact(p.max(1)) {
            for (sum, &gc) in grads.iter_mut().zip(g) {
                *sum += gc;
            }
        }
        *longest = chunk_out[0].len;
        (loss, len)
    }

    /// One training step on the next batch of `data`: record, backward, check, update.
    ///
    /// ```
    /// use mlp::{datasets, Mlp, TrainConfig, Trainer};
    /// let data = datasets::two_moons(100, 0.1, 1);
    /// let mut model = Mlp::new(2, &[16, 16, 1], 1);
    /// let before = model.parameters();
    /// let r = Trainer::new(TrainConfig::micrograd_demo()).step(&mut model, &data)?;
    /// assert_eq!((r.step, r.learning_rate), (0, 1.0));
    /// assert_ne!(model.parameters(), before);
    /// // Two chunks (64 + 36 samples), each binding the 337 parameters and recording its
    /// // samples × (2 inputs + 33 nodes: one per neuron, relu(Σ w·x + b) in the hidden
    /// // layers and Σ w·x + b for the output), 3 loss nodes per sample, the sum and the
    /// // ÷ 100; chunk 0 also records the L2 term (3 nodes).
    /// assert_eq!(r.tape_len, 2 * 337 + 100 * (2 + 33) + 100 * 3 + 2 * 2 + 3);
    /// # Ok::<(), mlp::TrainError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`TrainError::NonFinite`] if the loss, a gradient, a new parameter or the optimizer's
    /// state is not finite; the model and the trainer are then unchanged.
    /// [`TrainError::Data`] / [`TrainError::Config`] if the data does not fit the model or a
    /// setting is bad.
    pub fn step(&mut self, model: &mut Mlp, data: &Dataset) -> Result<StepReport, TrainError> {
        self.check(model, data)?;
        let batch = self.batch_len(data.len());
        self.with_pool(model, data, batch, |t, model, pool| {
            t.step_in(model, data, pool)
        })
    }

    /// [`Trainer::step`] with the workers of `pool`, once [`Trainer::check`] has passed (for a
    /// whole run: neither the data nor the model's shape can change while it is borrowed).
    fn step_in(
        &mut self,
        model: &mut Mlp,
        data: &Dataset,
        pool: Option<&mut Pool>,
    ) -> Result<StepReport, TrainError> {
        if let Some(n) = self.opt.size()
            && n != model.num_parameters()
        {
            return Err(TrainError::Data(format!(
                "this trainer's optimizer state is for a model with {n} parameters, but this \
                 model has {}",
                model.num_parameters()
            )));
        }
        let k = self.step;
        self.select_batch(k, data.len());
        let (loss, tape_len) = self.record(model, data, pool);
        let accuracy = loss::accuracy(&self.scores, &self.labels);
        let learning_rate = self.config.optimizer.learning_rate(k);
        let fail = |what: String| Err(TrainError::NonFinite { step: k, what });
        if !loss.is_finite() {
            let cause = match self.scores.iter().position(|s| !s.is_finite()) {
                Some(j) => format!(
                    " (the model's output for sample {} is {})",
                    self.indices[j], self.scores[j]
                ),
                None => String::new(),
            };
            return fail(format!("loss is {loss}{cause}"));
        }
        if let Some(i) = self.grads.iter().position(|g| !g.is_finite()) {
            return fail(format!(
                "gradient of parameter {i} ({}) is {}",
                model.parameter_name(i),
                self.grads[i]
            ));
        }
        let bad = self.opt.propose(
            &self.config.optimizer,
            k,
            &self.values,
            &self.grads,
            &mut self.next,
        );
        match bad {
            Some(Bad::Param(i, v)) => {
                return fail(format!(
                    "parameter {i} ({}) would become {v} (learning rate {learning_rate}, \
                     gradient {})",
                    model.parameter_name(i),
                    self.grads[i]
                ));
            }
            Some(Bad::State(i, what, v)) => {
                return fail(format!(
                    "the {what} of parameter {i} ({}) would become {v}",
                    model.parameter_name(i)
                ));
            }
            None => {}
        }
        model.set_parameters(&self.next);
        self.opt.commit(&self.config.optimizer, self.next.len());
        self.step += 1;
        Ok(StepReport {
            step: k,
            loss,
            accuracy,
            learning_rate,
            tape_len,
        })
    }

    /// Runs steps until [`TrainConfig::steps`] are done (all of them on a new trainer),
    /// calling `on_step` after each, and returns their reports.
    ///
    /// ```
    /// use mlp::{datasets, Activation, BiasInit, Loss, Mlp, Optimizer, Schedule, TrainConfig, Trainer};
    /// let data = datasets::lecture_toy();
    /// let mut model = Mlp::builder(3, &[4, 4, 1])
    ///     .activation(Activation::Tanh).output_activation(Activation::Tanh)
    ///     .bias_init(BiasInit::Uniform).seed(1).build();
    /// let config = TrainConfig {
    ///     steps: 100,
    ///     loss: Loss::SumSquared,
    ///     l2: 0.0,
    ///     optimizer: Optimizer::Sgd { schedule: Schedule::Constant(0.05) },
    ///     ..TrainConfig::micrograd_demo()
    /// };
    /// let mut printed = 0;
    /// let reports = Trainer::new(config).train(&mut model, &data, |_| printed += 1)?;
    /// assert_eq!((reports.len(), printed), (100, 100));
    /// assert!(reports[99].loss < reports[0].loss);
    /// # Ok::<(), mlp::TrainError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The first step's error, as [`Trainer::step`]; the reports of the steps before it were
    /// passed to `on_step`.
    pub fn train(
        &mut self,
        model: &mut Mlp,
        data: &Dataset,
        mut on_step: impl FnMut(&StepReport),
    ) -> Result<Vec<StepReport>, TrainError> {
        let mut reports = Vec::with_capacity(self.config.steps.saturating_sub(self.step));
        if self.step >= self.config.steps {
            return Ok(reports);
        }
        self.check(model, data)?;
        let batch = self.batch_len(data.len());
        self.with_pool(model, data, batch, |t, model, mut pool| {
            while t.step < t.config.steps {
                let r = t.step_in(model, data, pool.as_deref_mut())?;
                on_step(&r);
                reports.push(r);
            }
            Ok(reports)
        })
    }

    /// The training loss (data loss plus L2) of the whole of `data`, in order, and its
    /// gradient with respect to every parameter (in [`Mlp::parameters`] order), without
    /// updating anything.
    ///
    /// ```
    /// use mlp::{datasets, Mlp, TrainConfig, Trainer};
    /// let data = datasets::lecture_toy();
    /// let model = Mlp::new(3, &[4, 1], 5);
    /// let (loss, grad) = Trainer::new(TrainConfig::micrograd_demo()).loss_and_gradient(&model, &data)?;
    /// assert!(loss > 0.0);
    /// assert_eq!(grad.len(), model.num_parameters());
    /// # Ok::<(), mlp::TrainError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`TrainError::Data`] / [`TrainError::Config`] as [`Trainer::step`];
    /// [`TrainError::NonFinite`] (with the trainer's current step number) if the loss or a
    /// gradient is not finite.
    pub fn loss_and_gradient(
        &mut self,
        model: &Mlp,
        data: &Dataset,
    ) -> Result<(f64, Vec<f64>), TrainError> {
        self.check(model, data)?;
        self.indices.clear();
        self.indices.extend(0..data.len());
        let (loss, _) = self.with_pool(model, data, data.len(), |t, model, pool| {
            t.record(model, data, pool)
        });
        let step = self.step;
        if !loss.is_finite() {
            return Err(TrainError::NonFinite {
                step,
                what: format!("loss is {loss}"),
            });
        }
        if let Some(i) = self.grads.iter().position(|g| !g.is_finite()) {
            return Err(TrainError::NonFinite {
                step,
                what: format!(
                    "gradient of parameter {i} ({}) is {}",
                    model.parameter_name(i),
                    self.grads[i]
                ),
            });
        }
        Ok((loss, self.grads.clone()))
    }
}

/// The data loss (without L2) and accuracy of `model` on all of `data`, without a tape.
///
/// ```
/// let data = mlp::datasets::lecture_toy();
/// let model = mlp::Mlp::new(3, &[4, 1], 0);
/// let (loss, acc) = mlp::evaluate(&model, &data, mlp::Loss::MaxMargin);
/// assert!(loss >= 0.0 && (0.0..=1.0).contains(&acc));
/// ```
///
/// # Panics
///
/// If a row's length is not the model's number of inputs.
#[track_caller]
pub fn evaluate(model: &Mlp, data: &Dataset, loss: Loss) -> (f64, f64) {
    let scores: Vec<f64> = data.inputs.iter().map(|x| model.predict(x)[0]).collect();
    (
        loss.value(&scores, &data.labels),
        loss::accuracy(&scores, &data.labels),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn recycle_keeps_the_allocation() {
        assert_eq!(std::mem::size_of::<Var<'static>>(), 24);
        let tape = Tape::new();
        let mut v: Vec<Var<'_>> = Vec::with_capacity(100);
        v.push(tape.var(1.0));
        let ptr = v.as_ptr() as usize;
        let spare: Vec<Spare> = recycle(v);
        assert_eq!((spare.len(), spare.capacity()), (0, 100));
        assert_eq!(spare.as_ptr() as usize, ptr);
        let back: Vec<Var<'_>> = recycle(spare);
        assert_eq!(back.capacity(), 100);
        assert_eq!(back.as_ptr() as usize, ptr);
    }

    #[test]
    fn trainer_is_send() {
        fn send<T: Send>() {}
        send::<Trainer>();
    }

    #[test]
    fn minibatches_cross_epochs_with_a_constant_size() {
        let mut t = Trainer::new(TrainConfig {
            batch_size: Some(3),
            seed: 4,
            ..TrainConfig::default()
        });
        let stream: Vec<usize> = (0..10).flat_map(|k| t.batch_indices(k, 5)).collect();
        assert_eq!(stream.len(), 30);
        for epoch in stream.chunks(5) {
            let mut e = epoch.to_vec();
            e.sort_unstable();
            assert_eq!(e, vec![0, 1, 2, 3, 4]);
        }
        assert_ne!(stream[0..5], stream[5..10]);
        // Oversized batches are clamped to the dataset.
        let mut t = Trainer::new(TrainConfig {
            batch_size: Some(50),
            ..TrainConfig::default()
        });
        assert_eq!(t.batch_indices(0, 4).len(), 4);
    }
}
