//! The workers that record a step's chunks: on the calling thread, or on a pool of threads
//! (rayon's), every chunk into slots of its own so that the results do not depend on which
//! thread recorded what.

use std::sync::{Mutex, PoisonError};

use rayon::prelude::*;

use super::chunk::{Chunk, ChunkOut, StepInput, Worker, chunk_span};

/// A step's batch: its sample indices and their labels, in batch order, cut into chunks of
/// `chunk_size`.
pub(super) struct Batch<'a> {
    pub indices: &'a [usize],
    pub labels: &'a [f64],
    pub chunk_size: usize,
}

impl Batch<'_> {
    /// Chunk `index` of the batch, with the slots its results go to.
    fn chunk<'s>(
        &'s self,
        index: usize,
        scores: &'s mut [f64],
        out: &'s mut ChunkOut,
    ) -> Chunk<'s> {
        let span = chunk_span(index, self.chunk_size, self.indices.len());
        Chunk {
            index,
            samples: &self.indices[span.clone()],
            labels: &self.labels[span],
            scores,
            out,
        }
    }
}

/// One worker per thread, and the threads once a step has had work for more than one.
#[derive(Debug)]
pub(super) struct Workers {
    threads: usize,
    /// Built by the first step with more than one chunk (if `threads > 1`); `None` also when
    /// the threads could not be started, in which case the calling thread records
    /// everything (the results are the same).
    pool: Option<rayon::ThreadPool>,
    tried: bool,
    /// Worker `i` is used by the pool's thread `i` alone (the calling thread uses worker 0
    /// when there is no pool); the locks are never contended.
    workers: Vec<Mutex<Worker>>,
}

impl Workers {
    /// Workers for `threads` threads (at least 1).
    pub(super) fn new(threads: usize) -> Self {
        Workers {
            threads: threads.max(1),
            pool: None,
            tried: false,
            workers: Vec::new(),
        }
    }

    /// The pool, started on first use, if the step has work for more than one thread: at
    /// most one thread per chunk of that step, since every thread's worker is sized for the
    /// longest chunk.
    fn pool(&mut self, chunks: usize) -> Option<&rayon::ThreadPool> {
        if self.threads == 1 || chunks < 2 {
            return None;
        }
        if !self.tried {
            self.tried = true;
            self.pool = rayon::ThreadPoolBuilder::new()
                .num_threads(self.threads.min(chunks))
                .thread_name(|i| format!("mlp-trainer-{i}"))
                .build()
                .ok();
        }
        self.pool.as_ref()
    }

    /// Records every chunk of `batch`: chunk `c` writes its scores into its span of `scores`
    /// and the rest into `outs[c]`.
    pub(super) fn record(
        &mut self,
        input: &StepInput<'_>,
        batch: &Batch<'_>,
        scores: &mut [f64],
        outs: &mut [ChunkOut],
    ) {
        let size = batch.chunk_size;
        let wanted = self
            .pool(outs.len())
            .map_or(1, rayon::ThreadPool::current_num_threads);
        if self.workers.len() < wanted {
            self.workers.resize_with(wanted, Default::default);
        }
        let Some(pool) = self.pool.as_ref().filter(|_| wanted > 1) else {
            let worker = self.workers[0]
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner);
            let slots = scores.chunks_mut(size).zip(outs.iter_mut());
            for (index, (scores, out)) in slots.enumerate() {
                worker.record(input, batch.chunk(index, scores, out));
            }
            return;
        };
        let workers = &self.workers;
        pool.install(|| {
            let slots = scores.par_chunks_mut(size).zip(outs.par_iter_mut());
            slots.enumerate().for_each(|(index, (scores, out))| {
                let thread = rayon::current_thread_index().unwrap_or(0);
                let mut worker = workers[thread]
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                worker.record(input, batch.chunk(index, scores, out));
            });
        });
        // Which thread records which chunk is up to the scheduler; a worker that has not
        // recorded chunk 0, the longest (a full chunk and the L2 term), records it once
        // here, so that no later step grows its buffers.
        let longest = outs[0].len;
        for worker in &mut self.workers {
            let worker = worker.get_mut().unwrap_or_else(PoisonError::into_inner);
            if worker.longest < longest {
                let mut scores = vec![0.0; size.min(batch.indices.len())];
                let mut out = ChunkOut::default();
                worker.record(input, batch.chunk(0, &mut scores, &mut out));
            }
        }
    }
}
