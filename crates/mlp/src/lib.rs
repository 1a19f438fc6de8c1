//! # mlp
//!
//! Neurons, layers and multi-layer perceptrons trained with the [`tapegrad`] engine: what
//! micrograd's `nn.py` and its two-moons demo do, with the parameters as plain `f64`s and a
//! fresh recording on one reused tape per step.
//!
//! ## Quick start: the lecture's network on the lecture's four samples
//!
//! ```
//! use mlp::{datasets, Activation, BiasInit, Loss, Mlp, Optimizer, Schedule, TrainConfig, Trainer};
//!
//! let data = datasets::lecture_toy(); // [2,3,-1] -> 1, [3,-1,0.5] -> -1, ...
//! let mut model = Mlp::builder(3, &[4, 4, 1]) // MLP(3, [4, 4, 1]), tanh throughout
//!     .activation(Activation::Tanh)
//!     .output_activation(Activation::Tanh)
//!     .bias_init(BiasInit::Uniform)
//!     .seed(1)
//!     .build();
//! let config = TrainConfig {
//!     steps: 100,
//!     loss: Loss::SumSquared, // the lecture's Σ (ŷ − y)²
//!     l2: 0.0,
//!     optimizer: Optimizer::Sgd { schedule: Schedule::Constant(0.05) },
//!     ..TrainConfig::micrograd_demo() // full batch, one thread
//! };
//! let reports = Trainer::new(config).train(&mut model, &data, |r| println!("{r}"))?;
//! assert!(reports.last().unwrap().loss < 0.05);
//! for (x, y) in data.inputs.iter().zip(&data.labels) {
//!     assert_eq!(model.predict(x)[0] > 0.0, *y > 0.0);
//! }
//! # Ok::<(), mlp::TrainError>(())
//! ```
//!
//! micrograd's demo is [`Mlp::new`]`(2, &[16, 16, 1], seed)` (ReLU hidden layers, a linear
//! output, zero biases) with [`TrainConfig::micrograd_demo`] on [`datasets::two_moons`].
//!
//! ## What a step records
//!
//! A [`Trainer`] cuts each batch into chunks of [`TrainConfig::chunk_size`] samples (64 by
//! default) and keeps one [`tapegrad::Tape`] per worker thread. For each chunk, a worker
//! clears its tape (keeping its capacity) and records:
//!
//! 1. the parameters as leaves, in [`Mlp::parameters`] order (layer by layer, neuron by
//!    neuron, weights then bias), so each neuron's weights are contiguous;
//! 2. for each sample of the chunk, its inputs as contiguous leaves, then each layer: every
//!    neuron, act(Σ w·x + b), as ONE [`tapegrad::Tape::neuron`] node over two runs (the
//!    neuron's parameters and the layer's inputs, checked once; a linear neuron is one
//!    [`tapegrad::Tape::affine`] node), so the layer's outputs are contiguous and form the
//!    next layer's input run;
//! 3. each sample's loss term right after its forward pass, then their sum (one node), the
//!    division by the batch size (for the mean losses), and, in chunk 0 only, the L2 term
//!    `α·dot(p, p)`.
//!
//! For micrograd's 2-16-16-1 demo on 100 points that is 4,481 nodes per step over two
//! chunks, where micrograd's graph has about 65,000. Then `backward` on each chunk's tape,
//! the sum of the chunks' losses and gradients in chunk order, a check that the loss, every
//! gradient and every new parameter are finite, and the update of the `f64`s. The number
//! of recorded nodes is the same every step (see [`StepReport::tape_len`]).
//!
//! With [`TrainConfig::lanes`] N above 1, a chunk is recorded on a
//! `Tape<`[`Lanes<N>`](tapegrad::Lanes)`>` instead: the parameters as leaves with the same
//! value in every lane, and each group of N samples as ONE forward pass and loss term, each
//! lane carrying one sample, with the bits that sample gets on the scalar tape. A
//! parameter's gradient is then the sum over the lanes of its lane gradient, so results
//! agree with the scalar recording to rounding. The demo's step takes about 40 % less time
//! with [`TrainConfig::DEFAULT_LANES`] lanes.
//!
//! With [`TrainConfig::threads`] above 1 the chunks are shared among a pool of threads; since
//! the chunk boundaries and the order of the final sums do not depend on the threads, the
//! results are bitwise the same for every thread count (see [`Trainer`]).
//!
//! [`Mlp::predict`] evaluates without a tape and gives the same bits as the tape's forward
//! pass, for plots and serving.
//!
//! ## Determinism and failure
//!
//! Initial parameters, datasets and mini-batch shuffles come from seeded ChaCha8 streams, and
//! the chunks' results are summed in a fixed order, so a run is bitwise reproducible, with
//! any number of threads. A NaN or an infinity stops training with
//! [`TrainError::NonFinite`], which names the step and the first bad number (the loss, the
//! gradient of parameter *i*, or parameter *i*), and leaves the model as it was before that
//! step.
//!
//! ## Features
//!
//! - `serde`: `Mlp::save` / `Mlp::load` (JSON with a checksum, written to a temporary file
//!   and renamed, read with a size cap and checked strictly, bit-exact round trip) and serde
//!   derives on the configuration types.

#![warn(missing_docs)]

mod activation;
mod builder;
mod data;
mod error;
mod layer;
pub mod loss;
mod model;
mod optim;
mod rng;
mod train;

#[cfg(feature = "serde")]
pub mod io;

pub use activation::{Activation, BiasInit};
pub use builder::MlpBuilder;
pub use data::{Dataset, datasets};
pub use error::{ModelError, TrainError};
pub use layer::{Layer, Neuron};
pub use loss::Loss;
pub use model::Mlp;
pub use optim::{Optimizer, Schedule};
pub use train::{Objective, StepReport, TrainConfig, Trainer, evaluate};

pub use tapegrad;
