//! The memory a run needs, estimated from the sizes on the command line before anything is
//! allocated, and the limit it must fit in.

use crate::numbers::bytes;

/// The documented ceiling on a run's estimated memory: 8 GiB. [`limit`] lowers it on a
/// machine with less memory.
pub const MEMORY_LIMIT: u64 = 8 << 30;

/// Samples recorded on one tape (the trainer's default chunk size).
const CHUNK: u128 = mlp::TrainConfig::DEFAULT_CHUNK_SIZE as u128;

/// Bytes a run is estimated to need, by what holds them. Generous on purpose: each term
/// counts the vectors' worst-case growth, so a run under the limit does not run out.
///
/// ```
/// use moons::limits::Estimate;
///
/// let demo = Estimate::new(100, 2, &[16, 16, 1], 1);
/// assert!(demo.total() < 10 << 20, "{demo:?}");
/// let huge = Estimate::new(1_000_000_000, 2, &[16, 16, 1], 1);
/// assert!(huge.data > 64_000_000_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    /// The points and labels (`--samples`).
    pub data: u128,
    /// The parameters, the trainer's copies of them, the optimizer's state and the saved
    /// JSON (`--hidden`).
    pub model: u128,
    /// One step's tapes (one per worker thread) and the per-chunk gradients.
    pub training: u128,
}

impl Estimate {
    /// The estimate for `samples` points of `nin` inputs, a model with layer `sizes` (output
    /// layer included) and `threads` worker threads (0: one per core).
    pub fn new(samples: usize, nin: usize, sizes: &[usize], threads: usize) -> Estimate {
        let samples = samples as u128;
        let mut params: u128 = 0;
        let mut neurons: u128 = 0;
        let mut prev = nin as u128;
        for &s in sizes {
            let s = s as u128;
            params = params.saturating_add((prev + 1).saturating_mul(s));
            neurons = neurons.saturating_add(s);
            prev = s;
        }
        let chunks = samples.div_ceil(CHUNK).max(1);
        let threads = match threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            t => t,
        } as u128;
        let workers = threads.clamp(1, chunks);
        let per_tape = params
            .saturating_mul(48)
            .saturating_add(samples.min(CHUNK).saturating_mul(neurons + nin as u128 + 8) * 48);
        Estimate {
            // A Vec of two f64 per point, its heap block, the label and the generator's copy.
            data: samples.saturating_mul(96),
            model: params
                .saturating_mul(8 * 10 + 32)
                .saturating_add(neurons * 64),
            training: chunks
                .saturating_mul(params)
                .saturating_mul(8)
                .saturating_add(workers.saturating_mul(per_tape))
                .saturating_add(samples.saturating_mul(16)),
        }
    }

    /// The sum of the parts.
    pub fn total(&self) -> u128 {
        self.data
            .saturating_add(self.model)
            .saturating_add(self.training)
    }

    /// `"about 1.50 GiB (data …, model …, training …)"`.
    pub fn describe(&self) -> String {
        format!(
            "about {} (data {}, model {}, training {})",
            bytes(self.total()),
            bytes(self.data),
            bytes(self.model),
            bytes(self.training)
        )
    }
}

/// The machine's memory in bytes (`MemTotal` in `/proc/meminfo`), where it can be read.
pub fn machine_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The memory a run may use: [`MEMORY_LIMIT`], or three quarters of [`machine_memory`] if
/// that is less.
///
/// ```
/// assert!(moons::limits::limit() <= moons::limits::MEMORY_LIMIT);
/// ```
pub fn limit() -> u64 {
    machine_memory().map_or(MEMORY_LIMIT, |m| MEMORY_LIMIT.min(m / 4 * 3))
}

/// Which flag a too-large run should be blamed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Culprit {
    /// The model alone does not fit (`--hidden`, or the loaded model).
    Model,
    /// The data alone does not fit (`--samples`).
    Samples,
    /// The worker threads' tapes tip it over (`--threads`).
    Threads,
    /// Only the combination of data and model is too large.
    Both,
}

/// `Ok` if a run of these sizes fits in `limit` bytes; otherwise which part to blame and the
/// estimate.
///
/// ```
/// use moons::limits::{check, Culprit};
///
/// assert!(check(100, 2, &[16, 16, 1], 1, 1 << 30).is_ok());
/// assert_eq!(check(100, 2, &[100_000, 100_000, 1], 1, 1 << 30).unwrap_err().0, Culprit::Model);
/// assert_eq!(check(usize::MAX, 2, &[16, 16, 1], 1, 1 << 30).unwrap_err().0, Culprit::Samples);
/// ```
pub fn check(
    samples: usize,
    nin: usize,
    sizes: &[usize],
    threads: usize,
    limit: u64,
) -> Result<(), (Culprit, Estimate)> {
    let limit = u128::from(limit);
    let full = Estimate::new(samples, nin, sizes, threads);
    if full.total() <= limit {
        return Ok(());
    }
    let culprit = if Estimate::new(2, nin, sizes, 1).total() > limit {
        Culprit::Model
    } else if Estimate::new(samples, nin, &[16, 16, 1], 1).total() > limit {
        Culprit::Samples
    } else if Estimate::new(samples, nin, sizes, 1).total() <= limit {
        Culprit::Threads
    } else {
        Culprit::Both
    };
    Err((culprit, full))
}
