//! The reverse sweep behind [`Var::backward`](crate::Var::backward): one loop over the tape,
//! from the root down to node 0, in the shape of Stan Math's reverse mode.

use crate::anomaly::{Anomaly, AnomalyKind, NodeInfo};
use crate::arena::{BLOCK, GradBuffer, Refused, Tape, mark_words, sparse_from};
use crate::number::{Number, Storage};
use crate::op::{Adjoints, Op};

impl<T: Number> Tape<T> {
    /// The reverse sweep from `root` into `buffer` ([`Tape::take_buffer`]`(root + 1)`).
    ///
    /// Seed the root with 1, then for each node from the root down, add its adjoint times each
    /// local derivative into its operands' slots ([`Op::backward`]). Every operand is below
    /// its user, so a node's adjoint is complete when the loop reaches it.
    ///
    /// While every value and local derivative on the tape is finite, a node whose adjoint is
    /// exactly 0 adds only ±0 and is skipped (dead ReLUs, inactive hinge samples). Otherwise
    /// the loop visits what the root reaches instead, so `0·inf` still gives NaN on the paths
    /// PyTorch would visit, and unreachable nodes still get 0.
    ///
    /// On a lane tape all of this holds lane by lane: a lane is clean when its values and
    /// local derivatives are, and a node's contributions are added only in the lanes where
    /// its adjoint is not 0 or the lane is not clean, so every lane gets the bits a scalar
    /// sweep of its own numbers gives. A large lane tape's sweep is sparse ([`GradBuffer`]):
    /// while it is clean, it skips the blocks of nodes nothing was added to without reading
    /// them, which skips only zero adjoints.
    ///
    /// With `CHECKED`, it stops at the first node whose backward gives an operand a
    /// non-finite gradient and returns `(node, operand)`.
    pub(crate) fn sweep<const CHECKED: bool>(
        &self,
        root: u32,
        buffer: &mut GradBuffer<T>,
    ) -> Result<(), (u32, u32)> {
        let root = root as usize;
        let GradBuffer { grads, touched } = buffer;
        let sparse = root + 1 > sparse_from::<T>();
        let words = if sparse { mark_words(root + 1) } else { 0 };
        if grads.len() != root + 1 || touched.len() != words || root >= self.len() {
            Refused::BadOperand.panic();
        }
        if sparse {
            // Out of line: a debug build gives each inlined loop its own stack frame, and
            // four of them overflowed a test thread's stack on `Lanes<64>`.
            self.sweep_as::<true, CHECKED>(root, grads, touched)
        } else {
            self.sweep_as::<false, CHECKED>(root, grads, touched)
        }
    }

    /// [`Tape::sweep`], sparse or not.
    #[inline]
    fn sweep_as<const SPARSE: bool, const CHECKED: bool>(
        &self,
        root: usize,
        grads: &mut [T],
        touched: &mut [u64],
    ) -> Result<(), (u32, u32)> {
        self.with(|t| {
            let dirty = t.dirty() | t.non_finite_values(root);
            let clean = dirty == 0;
            let mut reached = std::mem::take(&mut t.reached);
            if !clean {
                reached.clear();
                reached.resize(root + 1, false);
                reached[root] = true;
            }
            let (vals, ops, operands) = t.nodes(root);
            grads[root] = T::splat(1.0);
            if SPARSE {
                mark(touched, root, 1);
            }
            // One loop, compiled twice so neither copy tests `clean` per node.
            let sweep_loop = if clean {
                widest_loop::<T, true, SPARSE, CHECKED>
            } else {
                widest_loop::<T, false, SPARSE, CHECKED>
            };
            let result = sweep_loop(vals, ops, operands, grads, touched, &mut reached, dirty);
            t.reached = reached;
            result
        })
    }

    /// Marks every node that `root` depends on (itself included).
    pub(crate) fn reachable(&self, root: u32) -> Vec<bool> {
        let root = root as usize;
        if root >= self.len() {
            Refused::BadOperand.panic();
        }
        self.with(|t| {
            let (_, ops, operands) = t.nodes(root);
            let mut seen = vec![false; root + 1];
            seen[root] = true;
            for i in (0..=root).rev() {
                if seen[i] {
                    // Operands are below i (checked by `Tape::push`).
                    ops[i].for_each_operand(operands, |p| seen[p as usize] = true);
                }
            }
            seen
        })
    }

    /// The anomaly check behind [`Var::backward_checked`](crate::Var::backward_checked).
    pub(crate) fn find_anomaly(
        &self,
        root: u32,
        buffer: &mut GradBuffer<T>,
    ) -> Result<(), Anomaly> {
        let seen = self.reachable(root);
        let bad_value = self.with(|t| {
            let (vals, _, _) = t.nodes(root as usize);
            (0..=root as usize).find(|&i| seen[i] && vals[i].non_finite_bits() != 0)
        });
        if let Some(i) = bad_value {
            let (value, lane) = first_bad_lane(self.value_of(i as u32));
            return Err(Anomaly {
                kind: AnomalyKind::Value { value },
                node: self.node_info(i as u32),
                lane,
            });
        }
        self.sweep::<true>(root, buffer).map_err(|(node, operand)| {
            let (gradient, lane) = first_bad_lane(buffer.grads[operand as usize]);
            Anomaly {
                kind: AnomalyKind::Gradient {
                    operand: operand as usize,
                    gradient,
                },
                node: self.node_info(node),
                lane,
            }
        })
    }

    /// What an anomaly report says of node `id`.
    pub(crate) fn node_info(&self, id: u32) -> NodeInfo {
        let (op, label, location) = self.with(|t| {
            (
                t.op(id).map(|op| op.describe()),
                t.label(id).map(str::to_string),
                t.location(id),
            )
        });
        NodeInfo {
            id: id as usize,
            op: op.unwrap_or_else(|| Refused::BadOperand.panic()),
            label,
            location,
        }
    }
}

/// The first non-finite lane of `x` and its number: the lane is `None` on a scalar tape.
fn first_bad_lane<T: Number>(x: T) -> (f64, Option<usize>) {
    let lane = x.non_finite_bits().trailing_zeros() as usize;
    let lane = lane.min(T::LANES - 1);
    (x.lane(lane), T::LANED.then_some(lane))
}

/// [`reverse_loop`], on a lane tape compiled for AVX2 where the processor has it: a lane
/// number's arithmetic then runs four `f64`s per instruction instead of SSE2's two. The
/// operations are the same IEEE ones (no fused multiply-add), so the bits are too. A
/// `Tape<f64>` keeps the one build, whose speed its benchmarks pin.
#[inline(always)]
fn widest_loop<T: Number, const CLEAN: bool, const SPARSE: bool, const CHECKED: bool>(
    vals: &[T],
    ops: &[Op],
    operands: &[u32],
    grads: &mut [T],
    touched: &mut [u64],
    reached: &mut [bool],
    dirty: u64,
) -> Result<(), (u32, u32)> {
    #[cfg(target_arch = "x86_64")]
    if T::LANES > 1 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has AVX2, checked just above.
        return unsafe {
            reverse_loop_avx2::<T, CLEAN, SPARSE, CHECKED>(
                vals, ops, operands, grads, touched, reached, dirty,
            )
        };
    }
    reverse_loop::<T, CLEAN, SPARSE, CHECKED>(vals, ops, operands, grads, touched, reached, dirty)
}

/// [`reverse_loop`] compiled with AVX2.
///
/// # Safety
///
/// The processor must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn reverse_loop_avx2<
    T: Number,
    const CLEAN: bool,
    const SPARSE: bool,
    const CHECKED: bool,
>(
    vals: &[T],
    ops: &[Op],
    operands: &[u32],
    grads: &mut [T],
    touched: &mut [u64],
    reached: &mut [bool],
    dirty: u64,
) -> Result<(), (u32, u32)> {
    reverse_loop::<T, CLEAN, SPARSE, CHECKED>(vals, ops, operands, grads, touched, reached, dirty)
}

/// The loop of [`Tape::sweep`], over nodes `0..=root` (the slices' length) with the root's
/// gradient seeded. `CLEAN`: every value and local derivative is finite, so nodes with a zero
/// adjoint are skipped; otherwise the nodes the root does not reach (`reached`) are, and
/// `dirty` has the lanes that are not clean. `SPARSE`: it marks the blocks it adds to in
/// `touched`, and a clean sweep skips the unmarked ones.
#[inline(always)]
fn reverse_loop<T: Number, const CLEAN: bool, const SPARSE: bool, const CHECKED: bool>(
    vals: &[T],
    ops: &[Op],
    operands: &[u32],
    grads: &mut [T],
    touched: &mut [u64],
    reached: &mut [bool],
    dirty: u64,
) -> Result<(), (u32, u32)> {
    // One length for the three slices, so the loop's indexing needs no bound but `i`'s.
    let n = vals.len();
    let (ops, grads) = (&ops[..n], &mut grads[..n]);
    // A clean tape has no dirty lane; a constant, so that no clean loop tests one.
    let dirty = if CLEAN { 0 } else { dirty };
    let lanes_dirty = T::mask_of(dirty);
    let mut buf: Buffer<'_, T, SPARSE> = Buffer {
        vals,
        grads,
        touched,
        dirty: lanes_dirty,
        live: T::mask_of(u64::MAX),
        partial: false,
    };
    // A clean sparse sweep skips the blocks of nodes no one added to, unread: tested as the
    // loop enters a block from above, when every node that could add to it is done.
    let sparse = SPARSE && CLEAN;
    let mut i = vals.len();
    while i > 0 {
        i -= 1;
        if sparse && i % BLOCK == BLOCK - 1 && !is_marked(buf.touched, i / BLOCK) {
            // To the block's first node; the next step leaves it.
            i -= BLOCK - 1;
            continue;
        }
        if T::LANES > 1 && matches!(ops[i], Op::Leaf) {
            // Nothing to add (the parameters of a network get the L2 term's adjoint at every
            // step): spare reading the adjoint and the lane masks.
            continue;
        }
        let g = buf.grads[i];
        if CLEAN && g.is_zero() {
            // Dead ReLUs and inactive samples leave runs of zero adjoints. A zero node adds
            // nothing, so when the nodes below are zero now they are final too: skip them 8
            // at a time, then 4 and 2, fixed steps the branch predictor handles far better
            // than one unpredictable test per node. The 4 and 2 steps matter in training,
            // where the runs are shorter and change from step to step. A sparse sweep stops
            // at its block's first node, so as to test the next block's mark.
            let floor = if sparse { i - i % BLOCK } else { 0 };
            while i >= floor + 8 && all_zero(&buf.grads[i - 8..i]) {
                i -= 8;
            }
            if i >= floor + 4 && all_zero(&buf.grads[i - 4..i]) {
                i -= 4;
            }
            if i >= floor + 2 && all_zero(&buf.grads[i - 2..i]) {
                i -= 2;
            }
            continue;
        }
        if !CLEAN && !reached[i] {
            continue;
        }
        if T::LANES > 1 {
            // A scalar sweep of each lane skips this node where its adjoint is 0 and the
            // lane is clean; here those lanes are masked.
            match T::live(g, lanes_dirty) {
                Some((live, all)) => (buf.live, buf.partial) = (live, !all),
                None => continue,
            }
        }
        let op = ops[i];
        // SAFETY: `Tape::push` stored node i only after checking that its operands are nodes
        // below i, and `vals` and `grads` both cover nodes 0..=root.
        unsafe { op.backward(g, vals[i], operands, &mut buf) };
        if !CLEAN {
            op.for_each_operand(operands, |p| reached[p as usize] = true);
        }
        if CHECKED && let Some(p) = first_non_finite(op, operands, buf.grads) {
            return Err((i as u32, p));
        }
    }
    Ok(())
}

/// The first operand of `op` whose gradient is not finite (in some lane).
#[cold]
fn first_non_finite<T: Number>(op: Op, operands: &[u32], grads: &[T]) -> Option<u32> {
    let mut bad = None;
    op.for_each_operand(operands, |p| {
        if bad.is_none() && grads[p as usize].non_finite_bits() != 0 {
            bad = Some(p);
        }
    });
    bad
}

/// Whether every number in `block` is ±0, without an early exit, so it vectorizes.
#[inline(always)]
fn all_zero<T: Storage>(block: &[T]) -> bool {
    block.iter().fold(0, |acc, g| acc | g.zero_bits()) == 0
}

/// Whether every value is finite.
///
/// `v · 0` is ±0 for every finite `v` and NaN for ±inf and NaN, so a sum of such products
/// is NaN exactly when some value is not finite. Sixteen independent sums, without an early
/// exit, keep the floating-point pipes busy.
pub(crate) fn all_finite(values: &[f64]) -> bool {
    const LANES: usize = 16;
    let chunks = values.chunks_exact(LANES);
    let tail = chunks.remainder().iter().fold(0.0, |acc, v| acc + v * 0.0);
    let lanes = chunks.fold([0.0; LANES], |mut acc, c| {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v * 0.0;
        }
        acc
    });
    lanes.iter().fold(tail, |acc, l| acc + l) == 0.0
}

/// Marks the blocks of nodes `start .. start + len` in `bits`.
#[inline(always)]
fn mark(bits: &mut [u64], start: usize, len: usize) {
    if len == 0 {
        return;
    }
    let (first, last) = (start / BLOCK, (start + len - 1) / BLOCK);
    // A run rarely spans more than two blocks: the first and the last are marked without
    // a loop.
    bits[first / 64] |= 1 << (first % 64);
    bits[last / 64] |= 1 << (last % 64);
    for b in first + 1..last {
        bits[b / 64] |= 1 << (b % 64);
    }
}

/// Whether block `b` is marked in `bits`.
#[inline(always)]
fn is_marked(bits: &[u64], b: usize) -> bool {
    bits[b / 64] & (1 << (b % 64)) != 0
}

/// The gradient buffer of one sweep, with the values it reads.
struct Buffer<'a, T: Storage, const SPARSE: bool> {
    vals: &'a [T],
    grads: &'a mut [T],
    /// The blocks of nodes added to, in a sparse sweep (empty otherwise).
    touched: &'a mut [u64],
    /// The lanes that are not clean, where no zero adjoint is skipped.
    dirty: T::Mask,
    /// The lanes the current node adds to (always all on `f64`: a node is skipped instead).
    live: T::Mask,
    /// Whether `live` leaves some lane out, so that adds must be masked.
    partial: bool,
}

impl<T: Number, const SPARSE: bool> Buffer<'_, T, SPARSE> {
    /// Marks the blocks of nodes `start .. start + len` as added to, in a sparse sweep.
    #[inline(always)]
    fn mark(&mut self, start: usize, len: usize) {
        if SPARSE {
            mark(self.touched, start, len);
        }
    }

    /// `d`, with −0 in the lanes the current node does not add to.
    #[inline(always)]
    fn masked(&self, d: T) -> T {
        if T::LANES > 1 && self.partial {
            T::masked(d, self.live)
        } else {
            d
        }
    }
}

/// The `unsafe` methods' contract: every id is an operand of a node at most the root, so it is
/// below the root and within `vals` and `grads` (length root + 1).
impl<T: Number, const SPARSE: bool> Adjoints<T> for Buffer<'_, T, SPARSE> {
    #[inline(always)]
    fn restrict(&mut self, gz: T) -> bool {
        match T::live(gz, self.dirty) {
            Some((live, all)) => {
                if !all {
                    self.live = T::both(self.live, live);
                    self.partial = true;
                }
                true
            }
            None => false,
        }
    }

    #[inline(always)]
    fn needs(&self, _: u32) -> bool {
        true
    }

    #[inline(always)]
    unsafe fn value(&self, k: u32) -> T {
        // SAFETY: the contract above.
        unsafe { *self.vals.get_unchecked(k as usize) }
    }

    #[inline(always)]
    unsafe fn add(&mut self, k: u32, d: T) {
        // SAFETY: the contract above.
        let d = self.masked(d);
        let gk = unsafe { self.grads.get_unchecked_mut(k as usize) };
        *gk = *gk + d;
        self.mark(k as usize, 1);
    }

    #[inline(always)]
    unsafe fn add_range(&mut self, start: u32, len: u32, g: T) {
        let s = start as usize;
        let g = self.masked(g);
        // SAFETY: the contract above, for every id of the range.
        for gk in unsafe { self.grads.get_unchecked_mut(s..s + len as usize) } {
            *gk = *gk + g;
        }
        self.mark(s, len as usize);
    }

    #[inline(always)]
    unsafe fn add_dot(&mut self, g: T, w: u32, x: u32, len: u32) {
        let (w, x, n) = (w as usize, x as usize, len as usize);
        self.mark(w, n);
        self.mark(x, n);

        // SAFETY: the contract above, for both runs; the split keeps their slices disjoint.
        unsafe {
            let (vw, vx) = (
                self.vals.get_unchecked(w..w + n),
                self.vals.get_unchecked(x..x + n),
            );
            if w + n <= x || x + n <= w {
                // Disjoint runs (every dot of weights with inputs): two slices, so it
                // vectorizes.
                let (lo, hi) = (w.min(x), w.max(x));
                let (head, tail) = self.grads.split_at_mut_unchecked(hi);
                let (g_lo, g_hi) = (
                    head.get_unchecked_mut(lo..lo + n),
                    tail.get_unchecked_mut(..n),
                );
                let (gw, gx) = if w < x { (g_lo, g_hi) } else { (g_hi, g_lo) };
                if T::LANES > 1 && self.partial {
                    let live = self.live;
                    for ((gw, gx), (&wk, &xk)) in gw.iter_mut().zip(gx).zip(vw.iter().zip(vx)) {
                        *gw = *gw + T::masked(g * xk, live);
                        *gx = *gx + T::masked(g * wk, live);
                    }
                } else {
                    for ((gw, gx), (&wk, &xk)) in gw.iter_mut().zip(gx).zip(vw.iter().zip(vx)) {
                        *gw = *gw + g * xk;
                        *gx = *gx + g * wk;
                    }
                }
            } else {
                // Overlapping runs (a dot of a vector with itself): one element at a time.
                for k in 0..n {
                    let (wk, xk) = (*vw.get_unchecked(k), *vx.get_unchecked(k));
                    let (dw, dx) = (self.masked(g * xk), self.masked(g * wk));
                    let gw = self.grads.get_unchecked_mut(w + k);
                    *gw = *gw + dw;
                    let gx = self.grads.get_unchecked_mut(x + k);
                    *gx = *gx + dx;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::all_finite;
    use crate::number::Storage;
    use crate::{Activation, Lanes, Number, Run, Tape};

    /// The lane sweep's per-lane masks on a small tape, for Miri: a relu dead in some lanes, a
    /// pole (sqrt at 0) in lane 1 only, a list dot, runs and a neuron; the lanes' bits must be
    /// the scalar tapes'.
    #[test]
    fn the_lane_sweep_on_small_tapes_matches_the_scalar_sweep_lane_by_lane() {
        fn program<T: Number>(tape: &Tape<T>, xv: T) -> (T, Vec<T>) {
            let x = tape.var(xv);
            let w = tape.run(&[T::splat(0.5), T::splat(-1.0), T::splat(0.25)]);
            let xs = tape.run(&[xv, xv * 2.0]);
            let h = tape.neuron(w, xs, Activation::Relu);
            let d = tape.dot(&[x, h], &[h, xs.get(1)]);
            let out = (x.relu() * 3.0 + x.sqrt() + d + h).tanh();
            let g = out.backward();
            (
                out.value(),
                vec![g[x], g[xs.get(0)], g[w.get(0)], g[w.get(2)]],
            )
        }
        // Miri gives `tanh` an error of a few ulps on purpose, differently on each call, and
        // 1 − tanh² near 1 cancels most digits: there, compare to 1e-12 of 1 + the size.
        let same = |a: f64, b: f64| {
            a.to_bits() == b.to_bits()
                || a.is_nan() && b.is_nan()
                || cfg!(miri) && (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
        };
        let inputs = [0.5, 0.0, -0.75, 2.0];
        let (value, grads) = program(&Tape::<Lanes<4>>::new(), Lanes::new(inputs));
        for (l, &x) in inputs.iter().enumerate() {
            let (v, gs) = program(&Tape::new(), x);
            assert!(same(value.lane(l), v), "value, lane {l}");
            for (k, (g, s)) in grads.iter().zip(&gs).enumerate() {
                assert!(same(g.lane(l), *s), "grad {k}, lane {l}");
            }
        }
    }

    /// Small tapes through every unchecked path of the sweep, for Miri (`cargo +nightly miri
    /// test -p tapegrad --lib`): binary nodes, runs, fused nodes, list dots, blocks of zero
    /// adjoints, the non-finite path and the checked sweep, and the recorded sweep.
    #[test]
    fn every_path_of_the_sweep_on_small_tapes() {
        let tape = Tape::new();
        let x = tape.var(3.0);
        assert_eq!((x * x).backward()[x], 6.0);

        // Runs and fused nodes, a list dot, and a layer of dead ReLUs (more than 8 zero
        // adjoints in a row).
        let w = tape.run(&[0.5, -1.0, 0.25, -2.0, -1.0, -0.5]);
        let xs = tape.run(&[1.0, 2.0]);
        let dead: Vec<_> = (0..12)
            .map(|_| tape.neuron(w.slice(3..6), xs, Activation::Relu))
            .collect();
        assert!(dead.iter().all(|h| h.value() == 0.0));
        let live = tape.neuron(w.slice(0..3), xs, Activation::Tanh);
        let z = tape.affine(w.slice(0..3), xs);
        let d = tape.dot_run(xs, xs);
        let list = tape.dot(&[w.get(5), w.get(0)], &[xs.get(1), z]);
        let out = tape.sum(dead.iter().chain([&live, &z, &d, &list]));
        let g = out.backward();
        assert_eq!(g.wrt_run(Run::new(&dead).unwrap()), vec![1.0; 12]);
        // d/dx₀: tanh's slope·w₀, affine's w₀, the dot's 2x₀, the list's w₀·(dz/dx₀ = w₀).
        let slope = 1.0 - live.value() * live.value();
        let want = 0.5 * slope + 0.5 + 2.0 + 0.5 * 0.5;
        assert!(
            (g[xs.get(0)] - want).abs() < 1e-12,
            "{} vs {want}",
            g[xs.get(0)]
        );

        // The recorded sweep over the same nodes gives the same numbers. Under Miri it
        // computes `tanh` again, and Miri gives each call its own error of a few ulps.
        let recorded = out.grad(&[xs.get(0), xs.get(1)]);
        for (r, x) in recorded.iter().zip([xs.get(0), xs.get(1)]) {
            if cfg!(miri) {
                assert!(
                    (r.value() - g[x]).abs() <= 1e-12 * g[x].abs(),
                    "{r:?} vs {}",
                    g[x]
                );
            } else {
                assert_eq!(r.value(), g[x]);
            }
        }

        // A pole makes the tape dirty: the sweep follows reachability, and the checked sweep
        // stops at the node that made an infinite gradient.
        let zero = tape.var(0.0);
        let s = zero.sqrt() + out;
        assert_eq!(s.backward()[zero], f64::INFINITY);
        let err = s.backward_checked().unwrap_err();
        assert_eq!(err.node.op, "sqrt");
        let n = (tape.var(f64::NAN) * x).backward();
        assert!(n[x].is_nan());
    }

    /// The `v · 0` sums against `f64::is_finite`, for every kind of value at every lane and in
    /// the tail.
    #[test]
    fn all_finite_agrees_with_is_finite() {
        let finite = [
            0.0,
            -0.0,
            1.0,
            -1.5,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
        ];
        let bad = [
            f64::NAN,
            -f64::NAN,
            f64::from_bits(0x7ff0_0000_0000_0001), // signalling NaN
            f64::from_bits(0xfff8_dead_beef_0000), // negative NaN with a payload
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for len in 0..40 {
            let base: Vec<f64> = (0..len).map(|k| finite[k % finite.len()]).collect();
            assert!(all_finite(&base), "len {len}");
            for at in 0..len {
                for &b in &bad {
                    let mut v = base.clone();
                    v[at] = b;
                    assert!(!all_finite(&v), "len {len}, {b} at {at}");
                }
            }
        }
    }

    /// The lane scan's four interleaved sums and its tail: one bad lane of one node, at
    /// every node and lane, sets that lane's bit alone.
    #[test]
    fn non_finite_lanes_names_each_bad_lane_at_every_node() {
        fn check<const N: usize>() {
            for len in 0..10 {
                let base: Vec<Lanes<N>> = (0..len)
                    .map(|k| Lanes::from_fn(|l| (k * N + l) as f64 - 7.5))
                    .collect();
                assert_eq!(Lanes::<N>::non_finite_lanes(&base), 0, "N {N}, len {len}");
                for at in 0..len {
                    for lane in 0..N {
                        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                            let mut v = base.clone();
                            let mut node = v[at].to_array();
                            node[lane] = bad;
                            v[at] = Lanes::new(node);
                            let got = Lanes::<N>::non_finite_lanes(&v);
                            assert_eq!(got, 1 << lane, "N {N}, len {len}, {bad} at {at}.{lane}");
                        }
                    }
                }
            }
        }
        check::<1>();
        check::<3>();
        check::<8>();
    }

    /// The sparse sweep (a lane tape past 256 KiB of gradients) against the dense one on the
    /// same program without the unused leaves: the same bits, sweep after sweep on one
    /// buffer. Small enough for Miri: 64 lanes take a tape past the threshold at 512 nodes.
    #[test]
    fn the_sparse_lane_sweep_matches_the_dense_one() {
        type L = Lanes<64>;
        fn program(tape: &Tape<L>, gap: usize) -> Vec<crate::Var<'_, L>> {
            let unused = |n| tape.vars(&vec![L::splat(0.5); n]);
            let w = tape.run(&[L::splat(0.5), L::splat(-2.0), L::splat(0.25)]);
            unused(gap);
            let x = tape.run(&[
                L::from_fn(|l| l as f64 - 20.0),
                L::from_fn(|l| (l % 7) as f64),
            ]);
            unused(gap);
            let h = tape.neuron(w, x, Activation::Relu);
            unused(gap);
            // No transcendental functions: Miri perturbs their results run to run.
            let y = (h * h * 0.5 + w.get(0)).relu();
            let (w0, x0) = (w.get(0), x.get(0));
            vec![w0, x0, h, y]
        }
        let big = Tape::<L>::new();
        let nodes = program(&big, 200);
        assert!(big.len() * std::mem::size_of::<L>() > 256 * 1024);
        let small = Tape::<L>::new();
        let want = program(&small, 0);
        for from in [3, 2, 3, 1, 3] {
            let (g, h) = (nodes[from].backward(), want[from].backward());
            for (a, b) in nodes.iter().zip(&want) {
                let bits = |x: L| x.to_array().map(f64::to_bits);
                assert_eq!(bits(g[*a]), bits(h[*b]), "from {from}");
            }
        }
    }
}
