//! The training loop: one reused tape, one recorded step at a time.

use std::fmt;

use tapegrad::{Tape, Var};

use crate::optim::{Bad, OptState};
use crate::rng::Rng;
use crate::{Dataset, Loss, Mlp, Optimizer, Schedule, TrainError, loss};

/// What to train and how.
///
/// ```
/// use mlp::{Loss, Optimizer, TrainConfig};
/// let config = TrainConfig {
///     loss: Loss::Logistic,
///     optimizer: Optimizer::adam(0.01),
///     batch_size: Some(32),
///     ..TrainConfig::micrograd_demo()
/// };
/// assert_eq!(config.steps, 100);
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
}

impl TrainConfig {
    /// micrograd's demo: 100 full-batch steps of max-margin loss plus 1e-4 L2, SGD with the
    /// rate `1.0 − 0.9·k/100`.
    ///
    /// ```
    /// use mlp::{Loss, Optimizer, Schedule, TrainConfig};
    /// let c = TrainConfig::micrograd_demo();
    /// assert_eq!((c.steps, c.loss, c.l2, c.batch_size), (100, Loss::MaxMargin, 1e-4, None));
    /// assert_eq!(c.optimizer, Optimizer::Sgd { schedule: Schedule::Micrograd { steps: 100 } });
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
        }
    }

    /// Checks the settings (a batch size of at least 1, a finite L2 coefficient ≥ 0, the
    /// optimizer's hyperparameters).
    ///
    /// ```
    /// let bad = mlp::TrainConfig { batch_size: Some(0), ..mlp::TrainConfig::micrograd_demo() };
    /// assert!(matches!(bad.check(), Err(mlp::TrainError::Config(_))));
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
    /// The number of nodes recorded for the step: the same every step.
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

/// Trains an [`Mlp`] step by step on a [`Tape`] it keeps.
///
/// Each step clears the tape (keeping its capacity), binds the parameters as contiguous
/// leaves, records the forward pass of each sample in the batch, the loss terms, their sum
/// and the L2 term, runs `backward`, and lets the optimizer compute new parameters. The
/// loss, every gradient, every new parameter and the optimizer's state are checked before
/// anything is written: a NaN or infinity stops training with [`TrainError::NonFinite`]
/// naming the step and the first bad number, and the model keeps the parameters it had.
/// The tape and all scratch buffers live in the trainer, so after the first step a step
/// allocates nothing per sample or per node (only the engine's `Tape::sum` may gather its
/// operand ids on the heap for batches over 32), and the tape has the same length every
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
#[derive(Debug)]
pub struct Trainer {
    config: TrainConfig,
    tape: Tape,
    step: usize,
    opt: OptState,
    /// Parameter values, gradients and proposed values, in parameter order.
    values: Vec<f64>,
    grads: Vec<f64>,
    next: Vec<f64>,
    /// The batch: sample indices, their scores and labels.
    indices: Vec<usize>,
    scores: Vec<f64>,
    labels: Vec<f64>,
    /// The shuffle of the epoch `order_key.0` of a dataset of `order_key.1` samples.
    order: Vec<usize>,
    order_key: Option<(u64, usize)>,
    /// The allocations of the `Vec<Var>` buffers of a step, kept while the tape is cleared.
    spare: [Vec<Spare>; 7],
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

/// The `Vec<Var>` buffers of one step.
struct Bufs<'t> {
    params: Vec<Var<'t>>,
    sample: SampleBufs<'t>,
}

/// Buffers for recording samples: inputs, layer outputs, scores and loss stages.
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

/// Records Σ over `indices` of the per-sample loss terms of `model` (parameters `params`)
/// and returns the sum node; appends each sample's score and label to `scores`/`labels`.
///
/// This is the unit of work a data-parallel step splits: the loss of a batch is
/// `loss.finish(Σ over chunks)` and its gradient the sum of the chunks' gradients.
#[allow(clippy::too_many_arguments)]
fn record_terms<'t>(
    tape: &'t Tape,
    model: &Mlp,
    params: &[Var<'t>],
    data: &Dataset,
    indices: &[usize],
    loss: Loss,
    bufs: &mut SampleBufs<'t>,
    scores: &mut Vec<f64>,
    labels: &mut Vec<f64>,
) -> Var<'t> {
    bufs.scores.clear();
    for &i in indices {
        bufs.input.clear();
        tape.extend_vars(&mut bufs.input, &data.inputs[i]);
        model.forward_into(tape, params, &bufs.input, &mut bufs.out, &mut bufs.tmp);
        bufs.scores.push(bufs.out[0]);
        labels.push(data.labels[i]);
    }
    scores.extend(bufs.scores.iter().map(Var::value));
    let start = labels.len() - indices.len();
    loss.record_sum(
        tape,
        &bufs.scores,
        &labels[start..],
        &mut bufs.a,
        &mut bufs.b,
    )
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
            config,
            tape: Tape::new(),
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
            spare: Default::default(),
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

    /// Records the loss of the batch in `self.indices` on the cleared tape and, if it is
    /// finite, writes its gradient into `self.grads`. Returns the loss and the tape length.
    fn record(&mut self, model: &Mlp, data: &Dataset) -> (f64, usize) {
        let Trainer {
            config,
            tape,
            values,
            grads,
            indices,
            scores,
            labels,
            spare,
            ..
        } = self;
        tape.clear();
        let tape: &Tape = tape;
        let mut bufs = Bufs::take(spare);
        model.write_parameters(values);
        tape.extend_vars(&mut bufs.params, values);
        scores.clear();
        labels.clear();
        let sum = record_terms(
            tape,
            model,
            &bufs.params,
            data,
            indices,
            config.loss,
            &mut bufs.sample,
            scores,
            labels,
        );
        let mut total = config.loss.finish(sum, indices.len());
        if config.l2 != 0.0 {
            total += loss::l2(tape, &bufs.params, config.l2);
        }
        let value = total.value();
        let len = tape.len();
        grads.clear();
        grads.resize(values.len(), 0.0);
        if value.is_finite() {
            total.backward().copy_run(bufs.params[0], grads);
        }
        bufs.give_back(spare);
        (value, len)
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
    /// // 337 parameters + 100 samples × (2 inputs + 98 nodes) + 302 for the loss + 3 for L2
    /// assert_eq!(r.tape_len, 337 + 100 * 100 + 302 + 3);
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
        let (loss, tape_len) = self.record(model, data);
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
    ///     batch_size: None,
    ///     seed: 0,
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
        while self.step < self.config.steps {
            let r = self.step(model, data)?;
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
