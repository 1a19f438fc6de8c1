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
/// let demo = Estimate::new(100, 2, &[16, 16, 1], 1, 4);
/// assert!(demo.total() < 10 << 20, "{demo:?}");
/// let huge = Estimate::new(1_000_000_000, 2, &[16, 16, 1], 1, 1);
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
    /// layer included), `threads` worker threads (0: one per core) and tapes of `lanes`
    /// lanes (`--lanes`; 1 for the scalar tape).
    pub fn new(
        samples: usize,
        nin: usize,
        sizes: &[usize],
        threads: usize,
        lanes: usize,
    ) -> Estimate {
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
        // A node of a lane tape holds its value and adjoint in every lane, and a lane worker
        // keeps the parameters and their gradient per lane too: 32 more bytes per extra lane
        // (and per parameter); its nodes each serve `lanes` samples of a chunk.
        let lanes = (lanes as u128).max(1);
        let node = 48 + 32 * (lanes - 1);
        let groups = samples.min(CHUNK).div_ceil(lanes);
        let per_tape = params.saturating_mul(node).saturating_add(
            groups
                .saturating_mul(neurons + nin as u128 + 8)
                .saturating_mul(node),
        );
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
    /// The lane tapes' wider nodes tip it over (`--lanes`).
    Lanes,
    /// Only the combination of data and model is too large.
    Both,
}

/// `Ok` if a run of these sizes fits in `limit` bytes; otherwise which part to blame and the
/// estimate.
///
/// ```
/// use moons::limits::{check, Culprit};
///
/// assert!(check(100, 2, &[16, 16, 1], 1, 4, 1 << 30).is_ok());
/// assert_eq!(check(100, 2, &[100_000, 100_000, 1], 1, 1, 1 << 30).unwrap_err().0, Culprit::Model);
/// assert_eq!(check(usize::MAX, 2, &[16, 16, 1], 1, 1, 1 << 30).unwrap_err().0, Culprit::Samples);
/// // 20 million parameters fit on the scalar tape, not on 16-lane tapes.
/// assert!(check(100, 2, &[4_000, 5_000, 1], 1, 1, 4 << 30).is_ok());
/// assert_eq!(check(100, 2, &[4_000, 5_000, 1], 1, 16, 4 << 30).unwrap_err().0, Culprit::Lanes);
/// ```
pub fn check(
    samples: usize,
    nin: usize,
    sizes: &[usize],
    threads: usize,
    lanes: usize,
    limit: u64,
) -> Result<(), (Culprit, Estimate)> {
    let limit = u128::from(limit);
    let full = Estimate::new(samples, nin, sizes, threads, lanes);
    if full.total() <= limit {
        return Ok(());
    }
    let fits = |samples, sizes, threads, lanes| {
        Estimate::new(samples, nin, sizes, threads, lanes).total() <= limit
    };
    let culprit = if !fits(2, sizes, 1, 1) {
        Culprit::Model
    } else if !fits(samples, &[16, 16, 1], 1, 1) {
        Culprit::Samples
    } else if fits(samples, sizes, threads, 1) {
        Culprit::Lanes
    } else if fits(samples, sizes, 1, 1) {
        Culprit::Threads
    } else {
        Culprit::Both
    };
    Err((culprit, full))
}
