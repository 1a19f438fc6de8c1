//! One chunk's recording: a worker clears its tape, binds the parameters, records the
//! chunk's samples and loss terms, runs `backward` and writes the chunk's results; one
//! sample at a time on a `Tape<f64>`, or N at a time on a `Tape<Lanes<N>>`.

use std::ops::Range;

use tapegrad::{Lanes, Number, Run, Tape, Var};

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
    /// Samples per recorded node: 1, or a lane width of [`Worker::record`].
    pub lanes: usize,
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
    /// The lane tapes, empty until a step records with their width.
    lanes4: LaneWorker<4>,
    lanes8: LaneWorker<8>,
    lanes16: LaneWorker<16>,
    /// The longest tape this worker has recorded: its buffers have room for that much.
    pub longest: usize,
}

/// A lane tape and its buffers, kept between chunks as [`Worker`]'s are.
#[derive(Debug, Default)]
struct LaneWorker<const N: usize> {
    tape: Tape<Lanes<N>>,
    spare: [Vec<LaneSlot<N>>; 5],
    /// The parameters in every lane, a group's inputs by feature, the gradient by lane.
    splat: Vec<Lanes<N>>,
    x: Vec<Lanes<N>>,
    grad: Vec<Lanes<N>>,
}

/// [`Slot`] for a `Var<Lanes<N>>`: a reference and an id (two words with the padding), then
/// the lanes.
#[allow(dead_code)] // never read: only its layout matters
#[derive(Debug)]
#[repr(C)]
struct LaneSlot<const N: usize>([u64; 2], [f64; N]);

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
struct Bufs<'t, T: Number = f64> {
    params: Vec<Var<'t, T>>,
    input: Vec<Var<'t, T>>,
    out: Vec<Var<'t, T>>,
    tmp: Vec<Var<'t, T>>,
    terms: Vec<Var<'t, T>>,
}

impl<'t, T: Number> Bufs<'t, T> {
    fn from_spare<S>(spare: &mut [Vec<S>; 5]) -> Self {
        let [params, input, out, tmp, terms] = std::mem::take(spare).map(emptied);
        Bufs {
            params,
            input,
            out,
            tmp,
            terms,
        }
    }

    fn into_spare<S>(self) -> [Vec<S>; 5] {
        [self.params, self.input, self.out, self.tmp, self.terms].map(emptied)
    }
}

impl Worker {
    /// Records `chunk` on this worker's cleared tape (of `input.lanes` lanes) and writes its
    /// results.
    ///
    /// # Panics
    ///
    /// If `input.lanes` is not one of [`TrainConfig::LANE_WIDTHS`](super::TrainConfig),
    /// which the trainer checks first.
    pub(super) fn record(&mut self, input: &StepInput<'_>, chunk: Chunk<'_>) {
        let len = match input.lanes {
            1 => self.record_scalar(input, chunk),
            4 => self.lanes4.record(input, chunk),
            8 => self.lanes8.record(input, chunk),
            16 => self.lanes16.record(input, chunk),
            n => unreachable!("TrainConfig::check accepts no lane width {n}"),
        };
        self.longest = self.longest.max(len);
    }

    /// One sample at a time on the `f64` tape; returns the tape's length.
    fn record_scalar(&mut self, input: &StepInput<'_>, chunk: Chunk<'_>) -> usize {
        let Worker { tape, spare, .. } = self;
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
        *spare = b.into_spare();
        tape.len()
    }
}

impl<const N: usize> LaneWorker<N> {
    /// The chunk in groups of N samples, one lane per sample; returns the tape's length.
    fn record(&mut self, input: &StepInput<'_>, chunk: Chunk<'_>) -> usize {
        let LaneWorker {
            tape,
            spare,
            splat,
            x,
            grad,
        } = self;
        tape.clear();
        let tape: &Tape<Lanes<N>> = tape;
        let mut b = Bufs::from_spare(spare);
        splat.clear();
        splat.extend(input.values.iter().map(|&p| Lanes::splat(p)));
        tape.extend_vars(&mut b.params, splat);
        let params_run = Run::new(&b.params);
        let groups = chunk.samples.chunks(N).zip(chunk.labels.chunks(N));
        for ((samples, labels), scores) in groups.zip(chunk.scores.chunks_mut(N)) {
            // A short group's spare lanes get zero inputs: with finite parameters their
            // values and derivatives stay finite, so once the weight 0 below zeroes their
            // adjoints, the sweep skips them as a scalar sweep skips a zero, and they add
            // nothing to any gradient.
            let rows = &input.data.inputs;
            let feature =
                |f: usize| Lanes::from_fn(|l| samples.get(l).map_or(0.0, |&i| rows[i][f]));
            x.clear();
            x.extend((0..input.model.nin()).map(feature));
            b.input.clear();
            tape.extend_vars(&mut b.input, x);
            let (xs, out, tmp) = (&b.input, &mut b.out, &mut b.tmp);
            input
                .model
                .record_forward(tape, &b.params, params_run, xs, out, tmp);
            let score = b.out[0];
            scores.copy_from_slice(&score.value().as_array()[..scores.len()]);
            let y = Lanes::from_fn(|l| labels.get(l).map_or(labels[0], |&y| y));
            let mut term = input.loss.term(score, tape.var(y));
            if samples.len() < N {
                let weight = Lanes::from_fn(|l| if l < samples.len() { 1.0 } else { 0.0 });
                term *= tape.var(weight);
            }
            b.terms.push(term);
        }
        let mut total = input.loss.finish(tape.sum(&b.terms), input.batch);
        if chunk.index == 0 && input.l2 != 0.0 {
            // Every lane holds the same L2 term: lane 0 alone keeps it, so it counts once.
            let once = tape.var(Lanes::from_fn(|l| if l == 0 { 1.0 } else { 0.0 }));
            total += loss::l2(tape, &b.params, input.l2) * once;
        }
        let value = total.value().sum();
        let out = chunk.out;
        (out.loss, out.len) = (value, tape.len());
        out.grad.resize(input.values.len(), 0.0);
        match b.params.first() {
            Some(&first) if value.is_finite() => {
                grad.resize(input.values.len(), Lanes::default());
                total.backward().copy_run(first, grad);
                for (sum, g) in out.grad.iter_mut().zip(grad.iter()) {
                    *sum = g.sum();
                }
            }
            _ => out.grad.fill(0.0),
        }
        *spare = b.into_spare();
        tape.len()
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

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn lane_slots_have_the_layout_of_lane_vars() {
        fn same<const N: usize>() {
            assert_eq!(
                std::alloc::Layout::new::<Var<'static, Lanes<N>>>(),
                std::alloc::Layout::new::<LaneSlot<N>>()
            );
        }
        same::<4>();
        same::<8>();
        same::<16>();
    }
}
