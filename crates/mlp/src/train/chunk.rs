//! One chunk's recording: a worker clears its tape, binds the parameters, records the
//! chunk's samples and loss terms, runs `backward` and writes the chunk's results.

use std::ops::Range;

use tapegrad::{Run, Tape, Var};

use crate::{Dataset, Loss, Mlp, loss};

/// What every chunk of a step reads.
pub(super) struct StepInput<'a> {
    pub model: &'a Mlp,
    pub data: &'a Dataset,
    /// The parameter values, in parameter order.
    pub values: &'a [f64],
    pub loss: Loss,
    pub l2: f64,
    /// The number of samples in the batch (the divisor of the mean losses).
    pub batch: usize,
}

/// One chunk of a step: its samples and labels, and the slots its results go to.
pub(super) struct Chunk<'a> {
    /// The chunk number: chunk 0 adds the L2 term.
    pub index: usize,
    pub samples: &'a [usize],
    pub labels: &'a [f64],
    /// The chunk's scores, one per sample.
    pub scores: &'a mut [f64],
    pub out: &'a mut ChunkOut,
}

/// What a chunk contributes to its step.
#[derive(Debug, Default)]
pub(super) struct ChunkOut {
    /// Its share of the batch's loss (the L2 term included for chunk 0).
    pub loss: f64,
    /// The number of nodes its tape recorded.
    pub len: usize,
    /// The gradient of its loss, in parameter order: all zeros when the loss is not finite
    /// (the step fails on the loss then).
    pub grad: Vec<f64>,
}

/// The positions in the batch of chunk `index`, for chunks of `size` in a batch of `n`.
pub(super) fn chunk_span(index: usize, size: usize, n: usize) -> Range<usize> {
    index * size..((index + 1) * size).min(n)
}

/// A tape and the buffers of `Var`s that a recording needs, kept from one chunk to the next
/// so that recording allocates nothing once they are large enough.
#[derive(Debug, Default)]
pub(super) struct Worker {
    tape: Tape,
    /// The buffers' allocations between recordings (see [`Slot`]).
    spare: [Vec<Slot>; 5],
    /// The longest tape this worker has recorded: its buffers have room for that much.
    pub longest: usize,
}

/// An element with the size and alignment of a `Var` (on 64-bit targets) but no borrow.
///
/// A `Var` borrows its tape, so a buffer of them cannot outlive the borrow that
/// [`Tape::clear`] ends, and it is not `Send` (a tape is not `Sync`) while a worker must be.
/// Between recordings a worker keeps its emptied buffers as `Vec<Slot>`s: [`emptied`] turns
/// a `Vec` of one into the other in the same allocation. Where the layouts differ it
/// allocates anew: slower, still correct.
type Slot = [u64; 3];

/// `v` emptied, as a `Vec<B>`: the standard library collects an emptied `Vec`'s iterator in
/// its own allocation when `A` and `B` have the same size and alignment.
fn emptied<A, B>(v: Vec<A>) -> Vec<B> {
    v.into_iter().filter_map(|_| None).collect()
}

/// The `Var` buffers of one recording: the parameters, a sample's inputs, the layers'
/// outputs (two, used in turn) and the samples' loss terms.
struct Bufs<'t> {
    params: Vec<Var<'t>>,
    input: Vec<Var<'t>>,
    out: Vec<Var<'t>>,
    tmp: Vec<Var<'t>>,
    terms: Vec<Var<'t>>,
}

impl<'t> Bufs<'t> {
    fn from_spare(spare: &mut [Vec<Slot>; 5]) -> Self {
        let [params, input, out, tmp, terms] = std::mem::take(spare).map(emptied);
        Bufs {
            params,
            input,
            out,
            tmp,
            terms,
        }
    }

    fn into_spare(self) -> [Vec<Slot>; 5] {
        [self.params, self.input, self.out, self.tmp, self.terms].map(emptied)
    }
}

impl Worker {
    /// Records `chunk` on this worker's cleared tape and writes its results.
    pub(super) fn record(&mut self, input: &StepInput<'_>, chunk: Chunk<'_>) {
        let Worker {
            tape,
            spare,
            longest,
        } = self;
        tape.clear();
        let tape: &Tape = tape;
        let mut b = Bufs::from_spare(spare);
        tape.extend_vars(&mut b.params, input.values);
        // Checked once per chunk, so each neuron is one node over two runs.
        let params_run = Run::new(&b.params);
        for ((&i, &y), score) in chunk
            .samples
            .iter()
            .zip(chunk.labels)
            .zip(&mut *chunk.scores)
        {
            b.input.clear();
            tape.extend_vars(&mut b.input, &input.data.inputs[i]);
            let (x, out, tmp) = (&b.input, &mut b.out, &mut b.tmp);
            input
                .model
                .record_forward(tape, &b.params, params_run, x, out, tmp);
            *score = b.out[0].value();
            b.terms.push(input.loss.term(b.out[0], y));
        }
        let mut total = input.loss.finish(tape.sum(&b.terms), input.batch);
        if chunk.index == 0 && input.l2 != 0.0 {
            total += loss::l2(tape, &b.params, input.l2);
        }
        let value = total.value();
        let out = chunk.out;
        (out.loss, out.len) = (value, tape.len());
        out.grad.resize(input.values.len(), 0.0);
        match b.params.first() {
            Some(&first) if value.is_finite() => total.backward().copy_run(first, &mut out.grad),
            _ => out.grad.fill(0.0),
        }
        *longest = (*longest).max(tape.len());
        *spare = b.into_spare();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn buffers_keep_their_allocations_between_recordings() {
        assert_eq!(
            std::alloc::Layout::new::<Var<'static>>(),
            std::alloc::Layout::new::<Slot>()
        );
        let tape = Tape::new();
        let mut v: Vec<Var<'_>> = Vec::with_capacity(100);
        v.push(tape.var(1.0));
        let ptr = v.as_ptr() as usize;
        let spare: Vec<Slot> = emptied(v);
        assert_eq!((spare.len(), spare.capacity()), (0, 100));
        assert_eq!(spare.as_ptr() as usize, ptr);
        let back: Vec<Var<'_>> = emptied(spare);
        assert_eq!((back.capacity(), back.as_ptr() as usize), (100, ptr));
    }
}
