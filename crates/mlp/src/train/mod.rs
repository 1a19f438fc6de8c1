//! The training loop: the batch recorded in fixed chunks, one reused tape per worker
//! thread, the chunks' results summed in chunk order.
//!
//! - `config`: what to train and how, and what a step reports;
//! - `chunk`: one chunk's recording on a worker's tape;
//! - `pool`: the workers, on the calling thread or a thread pool;
//! - here: the [`Trainer`] (`step`, `train`) and [`evaluate`].

mod chunk;
mod config;
mod pool;

use crate::optim::{Bad, OptState};
use crate::rng::Rng;
use crate::{Dataset, Loss, Mlp, TrainError, loss};
use chunk::{ChunkOut, StepInput};
use pool::{Batch, Workers};

pub use config::{StepReport, TrainConfig};

/// Trains an [`Mlp`] step by step on [`Tape`](tapegrad::Tape)s it keeps.
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
/// on one thread allocates nothing, and the number of recorded nodes is the same every step
/// ([`StepReport::tape_len`]). With [`TrainConfig::lanes`] N above 1, a chunk's samples are
/// recorded N at a time on a lane tape, one forward pass per group of N (see there for
/// what that changes: the order of the sums over samples, not each sample's numbers).
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
/// With [`TrainConfig::threads`] `t > 1`, a step with more than one chunk records its
/// chunks on a pool of `t` threads (a [`rayon`] pool the trainer starts in its first such
/// step and keeps until it is dropped), each thread with a tape and scratch buffers of its
/// own. Every chunk writes its loss, gradient and scores into slots of its own, and once all
/// are recorded the trainer adds the losses and the gradients in chunk order 0, 1, 2, …,
/// starting from chunk 0's. A chunk's recording does not depend on which thread or tape
/// records it, and the chunk boundaries depend only on the batch size and the chunk size.
/// Therefore **every thread count gives bitwise the same losses, gradients, reports and
/// parameters**, on any machine, for each lane width:
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
/// Threads pay off from a few hundred samples per batch on (`benches/parallel.rs` measures
/// batches of 100, 1,000 and 10,000).
#[derive(Debug)]
pub struct Trainer {
    config: TrainConfig,
    /// The number of the next step.
    step: usize,
    opt: OptState,
    order: Order,
    workers: Workers,
    /// Parameter values, gradients and proposed values, in parameter order.
    values: Vec<f64>,
    grads: Vec<f64>,
    next: Vec<f64>,
    /// The batch: sample indices, their labels and scores, in batch order.
    indices: Vec<usize>,
    labels: Vec<f64>,
    scores: Vec<f64>,
    /// Per chunk, in chunk order, what it contributes.
    chunks: Vec<ChunkOut>,
}

/// The shuffle of epoch `key.0` of a dataset of `key.1` samples, kept while batches come
/// from that epoch.
#[derive(Debug, Default)]
struct Order {
    order: Vec<usize>,
    key: Option<(u64, usize)>,
}

impl Trainer {
    /// A trainer for `config`, with fresh optimizer state; it starts no thread before a
    /// step needs one.
    ///
    /// ```
    /// let t = mlp::Trainer::new(mlp::TrainConfig::micrograd_demo());
    /// assert_eq!(t.steps_done(), 0);
    /// ```
    pub fn new(config: TrainConfig) -> Self {
        let threads = match config.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            t => t,
        };
        Trainer {
            config,
            step: 0,
            opt: OptState::default(),
            order: Order::default(),
            workers: Workers::new(threads),
            values: Vec::new(),
            grads: Vec::new(),
            next: Vec::new(),
            indices: Vec::new(),
            labels: Vec::new(),
            scores: Vec::new(),
            chunks: Vec::new(),
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
        let Some(b) = self.config.batch_size else {
            self.indices.extend(0..n);
            return;
        };
        let (b, order) = (b.min(n), &mut self.order);
        let start = k as u128 * b as u128;
        for p in start..start + b as u128 {
            let epoch = (p / n as u128) as u64;
            if order.key != Some((epoch, n)) {
                order.order.clear();
                order.order.extend(0..n);
                Rng::with_stream(self.config.seed, epoch).shuffle(&mut order.order);
                order.key = Some((epoch, n));
            }
            self.indices.push(order.order[(p % n as u128) as usize]);
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
        if let Some(n) = self.opt.size()
            && n != model.num_parameters()
        {
            return Err(TrainError::Data(format!(
                "this trainer's optimizer state is for a model with {n} parameters, but this \
                 model has {}",
                model.num_parameters()
            )));
        }
        Ok(())
    }

    /// Records the loss of the batch in `self.indices`, chunk by chunk; writes the batch's
    /// labels and scores, and the sum of the chunks' gradients into `self.grads`. Returns the
    /// loss and the total tape length.
    fn record(&mut self, model: &Mlp, data: &Dataset) -> (f64, usize) {
        let Trainer {
            config,
            workers,
            values,
            grads,
            indices,
            labels,
            scores,
            chunks,
            ..
        } = self;
        model.write_parameters(values);
        let n = indices.len();
        labels.clear();
        labels.extend(indices.iter().map(|&i| data.labels[i]));
        // Every slot is overwritten by its chunk: resizing is enough.
        scores.resize(n, 0.0);
        chunks.resize_with(n.div_ceil(config.chunk_size), ChunkOut::default);
        let input = StepInput {
            model,
            data,
            values,
            loss: config.loss,
            l2: config.l2,
            batch: n,
            lanes: config.lanes,
        };
        let batch = Batch {
            indices,
            labels,
            chunk_size: config.chunk_size,
        };
        workers.record(&input, &batch, scores, chunks);
        // The sums, in chunk order, starting from chunk 0's numbers (not from 0.0, which
        // would turn a gradient of −0 into +0).
        let (first, rest) = chunks
            .split_first()
            .expect("a batch has at least one sample");
        grads.clone_from(&first.grad);
        let (mut loss, mut len) = (first.loss, first.len);
        for c in rest {
            loss += c.loss;
            len += c.len;
            for (sum, &g) in grads.iter_mut().zip(&c.grad) {
                *sum += g;
            }
        }
        (loss, len)
    }

    /// What is not finite in the last recording (its `loss`, then the gradients), as
    /// [`TrainError::NonFinite`]'s message.
    fn non_finite(&self, model: &Mlp, loss: f64) -> Option<String> {
        if !loss.is_finite() {
            let cause = match self.scores.iter().position(|s| !s.is_finite()) {
                Some(j) => format!(
                    " (the model's output for sample {} is {})",
                    self.indices[j], self.scores[j]
                ),
                None => String::new(),
            };
            return Some(format!("loss is {loss}{cause}"));
        }
        let i = self.grads.iter().position(|g| !g.is_finite())?;
        Some(format!(
            "gradient of parameter {i} ({}) is {}",
            model.parameter_name(i),
            self.grads[i]
        ))
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
        self.checked_step(model, data)
    }

    /// [`Trainer::step`] once [`Trainer::check`] has passed.
    fn checked_step(&mut self, model: &mut Mlp, data: &Dataset) -> Result<StepReport, TrainError> {
        let k = self.step;
        self.select_batch(k, data.len());
        let (loss, tape_len) = self.record(model, data);
        let fail = |what: String| Err(TrainError::NonFinite { step: k, what });
        if let Some(what) = self.non_finite(model, loss) {
            return fail(what);
        }
        let learning_rate = self.config.optimizer.learning_rate(k);
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
            accuracy: loss::accuracy(&self.scores, &self.labels),
            learning_rate,
            tape_len,
        })
    }

    /// Runs steps until [`TrainConfig::steps`] are done (all of them on a new trainer),
    /// calling `on_step` after each, and returns their reports.
    ///
    /// The reports are collected as the steps complete: the memory they take is in
    /// proportion to the steps run, whatever [`TrainConfig::steps`] asks for, so a run that
    /// stops early returns its error even when it was asked for `usize::MAX` steps.
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
        let mut reports = Vec::new();
        if self.step >= self.config.steps {
            return Ok(reports);
        }
        self.check(model, data)?;
        while self.step < self.config.steps {
            let r = self.checked_step(model, data)?;
            on_step(&r);
            reports.push(r);
        }
        Ok(reports)
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
        let (loss, _) = self.record(model, data);
        if let Some(what) = self.non_finite(model, loss) {
            return Err(TrainError::NonFinite {
                step: self.step,
                what,
            });
        }
        Ok((loss, self.grads.clone()))
    }
}

/// What training minimises: a data loss plus the L2 term `l2·Σp²`.
///
/// A [`Loss`] alone is the objective without L2; a [`TrainConfig`] gives its own loss and
/// L2 coefficient.
///
/// ```
/// use mlp::{Loss, Objective, TrainConfig};
/// assert_eq!(Objective::from(Loss::Logistic), Objective { loss: Loss::Logistic, l2: 0.0 });
/// let demo = Objective::from(&TrainConfig::micrograd_demo());
/// assert_eq!(demo, Objective { loss: Loss::MaxMargin, l2: 1e-4 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Objective {
    /// The data loss.
    pub loss: Loss,
    /// The L2 coefficient (0 for none).
    pub l2: f64,
}

impl From<Loss> for Objective {
    fn from(loss: Loss) -> Self {
        Objective { loss, l2: 0.0 }
    }
}

impl From<&TrainConfig> for Objective {
    fn from(config: &TrainConfig) -> Self {
        Objective {
            loss: config.loss,
            l2: config.l2,
        }
    }
}

/// The `objective` (loss plus L2 term) and the accuracy of `model` on all of `data`, without
/// a tape: with a [`TrainConfig`], what its training minimises and reports.
///
/// For a dataset of at most [`TrainConfig::chunk_size`] samples the loss is bit for bit
/// what a full-batch step records; over more chunks it differs in the last bits only (the
/// chunks' sums are added in another order).
///
/// ```
/// use mlp::{datasets, Loss, Mlp, TrainConfig, Trainer};
/// let data = datasets::lecture_toy();
/// let model = Mlp::new(3, &[4, 1], 0);
/// let config = TrainConfig::micrograd_demo();
/// let (loss, acc) = mlp::evaluate(&model, &data, &config);
/// let (recorded, _) = Trainer::new(config).loss_and_gradient(&model, &data)?;
/// assert_eq!(loss.to_bits(), recorded.to_bits());
/// assert!((0.0..=1.0).contains(&acc));
/// // A loss alone leaves the L2 term out.
/// let (data_loss, _) = mlp::evaluate(&model, &data, Loss::MaxMargin);
/// assert!(data_loss < loss);
/// # Ok::<(), mlp::TrainError>(())
/// ```
///
/// # Panics
///
/// If a row's length is not the model's number of inputs.
#[track_caller]
pub fn evaluate(model: &Mlp, data: &Dataset, objective: impl Into<Objective>) -> (f64, f64) {
    let Objective { loss, l2 } = objective.into();
    let scores: Vec<f64> = data.inputs.iter().map(|x| model.predict(x)[0]).collect();
    let mut value = loss.value(&scores, &data.labels);
    if l2 != 0.0 {
        // The L2 node's value: dot(p, p) · α.
        let p = model.parameters();
        value += tapegrad::dot_value(&p, &p) * l2;
    }
    (value, loss::accuracy(&scores, &data.labels))
}

#[cfg(test)]
mod tests {
    use super::*;

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
