use std::borrow::Borrow;
use std::cell::UnsafeCell;
use std::fmt;
use std::panic::Location;

use crate::anomaly::{Anomaly, AnomalyKind, NodeInfo};
use crate::op::{Activation, BinOp, Op, UnOp};
use crate::run::Run;
use crate::var::Var;

/// The most nodes a tape can hold: ids are `u32`.
///
/// ```
/// assert_eq!(tapegrad::MAX_NODES, 4_294_967_295);
/// ```
pub const MAX_NODES: usize = u32::MAX as usize;

/// An arena that records a computation, one scalar node at a time, for reverse-mode
/// differentiation.
///
/// Nodes live in flat vectors (values in one, operations with their `u32` operand ids in
/// another) in the order they were recorded. An operation can only use nodes that already exist,
/// so **every operand id is smaller than the id of the node that uses it**: insertion order is a
/// topological order, and [`Var::backward`] is a single reverse loop over the tape with no
/// sorting, recursion or hashing.
///
/// ```text
///   id  op          operands   value        recorded by
///   0   leaf        –           2.0         let a = tape.var(2.0);
///   1   leaf        –          -3.0         let b = tape.var(-3.0);
///   2   *           0, 1       -6.0         let d = a * b;
///   3   + 10        2           4.0         let e = d + 10.0;   (the constant is not a node)
///   4   ln          3           1.386…      let l = e.ln();
/// ```
///
/// Reading the table bottom-up is the backward pass: node 4 hands its gradient to 3, 3 to 2,
/// 2 to 1 and 0; by the time the sweep reaches a node, every node that uses it has already
/// been visited.
///
/// ```
/// use tapegrad::Tape;
///
/// let tape = Tape::new();
/// let a = tape.var(2.0);
/// let b = tape.var(-3.0);
/// let l = (a * b + 10.0).ln();
/// assert_eq!(tape.len(), 5);
/// let g = l.backward();
/// assert_eq!(g[a], -3.0 / 4.0);
/// assert_eq!(g[b], 2.0 / 4.0);
/// ```
///
/// A `Tape` is [`Send`] but not [`Sync`]: build a graph on one thread at a time, or give each
/// thread a tape of its own. [`Tape::clear`] takes `&mut self`, so no [`Var`] can outlive a
/// clear; reuse one tape across training steps to keep its allocation.
///
/// # Panics
///
/// Recording panics (in release builds too) when the tape would hold more than [`MAX_NODES`]
/// nodes, and operations panic when given a [`Var`] of another tape. Checks run before anything
/// is written, so the tape stays consistent after a caught panic.
pub struct Tape {
    // Interior mutability without a borrow flag: every access goes through `Tape::with`, whose
    // closures are this crate's own code and never call back into user code or the tape.
    inner: UnsafeCell<Inner>,
}

pub(crate) struct Inner {
    /// One value per node: its length is the tape's.
    pub(crate) values: Vec<f64>,
    /// One operation per node, and past the tape's length `Leaf`s or stale operations that
    /// are never read: it is kept at least as long as `values` has capacity (`fit_ops`), so a
    /// push writes an initialized slot and one length (`values`'), not two.
    pub(crate) ops: Vec<Op>,
    /// Operand ids of `SumList` and `DotList` nodes.
    pub(crate) operands: Vec<u32>,
    /// Sparse labels, in the order they were set; a later label for the same id wins.
    pub(crate) labels: Vec<(u32, Box<str>)>,
    /// Where each node was recorded, while anomaly detection is on (`None` before it was on).
    pub(crate) locations: Vec<Option<&'static Location<'static>>>,
    pub(crate) detect_anomaly: bool,
    /// Set once an operation with a pole (ln, sqrt, recip, division, powers) records a
    /// non-finite local derivative. The sweep also scans the values: while every value and
    /// factor is finite it may skip nodes whose gradient is exactly 0 (their contributions, ±0
    /// times a finite factor, cannot change a sum); otherwise it follows reachability, so `0·inf`
    /// still gives NaN on the paths PyTorch would visit and unreachable nodes still get 0.
    pub(crate) dirty: bool,
    pub(crate) limit: usize,
    /// Pushes that fit without the slow path: `min(capacity of values, length of ops, limit)`,
    /// or the current length while anomaly detection is on, so the hot path has a single
    /// comparison.
    pub(crate) room: usize,
    /// Operand ids being collected by `Tape::sum`, kept to avoid an allocation per call.
    pub(crate) scratch: Vec<u32>,
    /// A reachability buffer for the sweep over a dirty tape.
    pub(crate) reached: Vec<bool>,
    /// A gradient buffer handed back by a dropped `Grads`, so backward does not allocate.
    pub(crate) spare: Vec<f64>,
}

impl Inner {
    fn update_room(&mut self) {
        self.room = if self.detect_anomaly {
            self.values.len()
        } else {
            self.values.capacity().min(self.ops.len()).min(self.limit)
        };
    }

    /// Extends `ops` with `Leaf`s to cover every slot `values` has room for.
    fn fit_ops(&mut self) {
        let room = self.values.capacity();
        if self.ops.len() < room {
            self.ops.resize(room, Op::Leaf);
        }
    }

    /// The slow path of `Tape::push`: grows the buffers, enforces the node limit and records
    /// the location for anomaly detection.
    #[cold]
    #[inline(never)]
    fn push_slow(&mut self, op: [u64; 2], value: f64, here: &'static Location<'static>) {
        let id = self.values.len();
        if id >= self.limit {
            too_many_nodes(self.limit);
        }
        self.values.push(value);
        self.fit_ops();
        // SAFETY: `fit_ops` makes `ops` as long as the capacity of `values`, which now holds
        // node `id`; `op` is an `Op`'s representation (`Op::words`).
        unsafe { self.ops.as_mut_ptr().add(id).cast::<[u64; 2]>().write(op) };
        if self.detect_anomaly {
            self.locations.push(Some(here));
        }
        self.update_room();
    }
}

impl Default for Tape {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Tape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tape").field("len", &self.len()).finish()
    }
}

#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn foreign_var(what: &str) -> ! {
    panic!("tapegrad: {what} was given a Var recorded on another tape")
}

#[cold]
#[inline(never)]
#[track_caller]
fn too_many_nodes(limit: usize) -> ! {
    panic!("tapegrad: the tape is full: it cannot hold more than {limit} nodes (ids are u32)")
}

impl Tape {
    /// An empty tape.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// assert!(tape.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty tape with room for `nodes` nodes before it reallocates.
    ///
    /// ```
    /// let tape = tapegrad::Tape::with_capacity(1024);
    /// assert_eq!(tape.len(), 0);
    /// ```
    pub fn with_capacity(nodes: usize) -> Self {
        let mut tape = Tape {
            inner: UnsafeCell::new(Inner {
                values: Vec::with_capacity(nodes),
                ops: Vec::with_capacity(nodes),
                operands: Vec::new(),
                labels: Vec::new(),
                locations: Vec::new(),
                detect_anomaly: false,
                dirty: false,
                limit: MAX_NODES,
                room: 0,
                reached: Vec::new(),
                scratch: Vec::new(),
                spare: Vec::new(),
            }),
        };
        let t = tape.inner.get_mut();
        t.fit_ops();
        t.update_room();
        tape
    }

    /// Lowers the node limit, so tests can reach "tape full" without 4 billion nodes.
    #[doc(hidden)]
    pub fn set_node_limit(&mut self, limit: usize) {
        let t = self.inner.get_mut();
        t.limit = limit.min(MAX_NODES);
        t.update_room();
    }

    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        // SAFETY: `Tape` is not `Sync`, so only this thread can reach `inner`. The only
        // closures passed here are this crate's, and none of them calls user code or another
        // `Tape` method, so no second `&mut Inner` exists while this one lives.
        f(unsafe { &mut *self.inner.get() })
    }

    /// The number of recorded nodes.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let x = tape.var(1.0);
    /// let _y = x * 2.0 + 1.0; // constants are not nodes: two more
    /// assert_eq!(tape.len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.with(|t| t.values.len())
    }

    /// The bytes the tape's buffers hold (their capacity, not just what is in use).
    ///
    /// A binary node costs 24 bytes: its value and a 16-byte operation with two `u32` ids.
    ///
    /// ```
    /// let tape = tapegrad::Tape::with_capacity(100);
    /// assert!(tape.memory_bytes() >= 100 * 24);
    /// ```
    pub fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        self.with(|t| {
            t.values.capacity() * size_of::<f64>()
                + t.ops.capacity() * size_of::<Op>()
                + t.operands.capacity() * size_of::<u32>()
                + t.labels.capacity() * size_of::<(u32, Box<str>)>()
                + t.locations.capacity() * size_of::<Option<&Location<'_>>>()
                + t.spare.capacity() * size_of::<f64>()
                + t.reached.capacity()
                + t.scratch.capacity() * size_of::<u32>()
        })
    }

    /// Whether no node has been recorded.
    ///
    /// ```
    /// assert!(tapegrad::Tape::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every node but keeps the allocations, so the next recording does not allocate.
    ///
    /// Taking `&mut self` makes the borrow checker reject any [`Var`] used after a clear.
    ///
    /// ```
    /// let mut tape = tapegrad::Tape::new();
    /// for step in 0..3 {
    ///     let x = tape.var(step as f64);
    ///     let y = x * x;
    ///     assert_eq!(y.backward()[x], 2.0 * step as f64);
    ///     tape.clear();
    /// }
    /// assert!(tape.is_empty());
    /// ```
    pub fn clear(&mut self) {
        let t = self.inner.get_mut();
        t.values.clear();
        t.operands.clear();
        t.labels.clear();
        t.locations.clear();
        t.dirty = false;
        t.update_room();
    }

    /// Turns anomaly detection on or off (off by default).
    ///
    /// While it is on, every node remembers the source location that recorded it, so
    /// [`Var::backward_checked`] can say where a NaN or an infinity came from. It costs one
    /// store per node while on and nothing measurable while off.
    ///
    /// ```
    /// let mut tape = tapegrad::Tape::new();
    /// tape.set_detect_anomaly(true);
    /// let x = tape.var(-1.0);
    /// let err = x.ln().backward_checked().unwrap_err();
    /// assert!(err.to_string().contains("ln"));
    /// assert!(err.to_string().contains(file!()));
    /// ```
    pub fn set_detect_anomaly(&mut self, on: bool) {
        let t = self.inner.get_mut();
        t.detect_anomaly = on;
        if on {
            let n = t.values.len();
            t.locations.resize(n, None);
        }
        t.update_room();
    }

    /// Whether anomaly detection is on.
    ///
    /// ```
    /// assert!(!tapegrad::Tape::new().detects_anomaly());
    /// ```
    pub fn detects_anomaly(&self) -> bool {
        self.with(|t| t.detect_anomaly)
    }

    /// Records a node whose local derivatives are finite wherever its operands' values are.
    #[inline(always)]
    #[track_caller]
    pub(crate) fn push(&self, op: Op, value: f64) -> Var<'_> {
        let here = Location::caller();
        // Words, not the `Op`, go to the slow path too: given `op`, the compiler assembles it
        // in memory before the branch.
        let op = op.words();
        let id = self.with(|t| {
            let id = t.values.len();
            if id < t.room {
                debug_assert!(id < t.values.capacity() && id < t.ops.len());
                // SAFETY: `room` never exceeds the capacity of `values` nor the length of `ops`
                // (`update_room`), and `values` has length `id`: slot `id` is allocated and
                // unused in `values`, and an initialized `Op` (plain data, nothing to drop) in
                // `ops`, 8-aligned, which `op` (an `Op`'s representation) overwrites.
                unsafe {
                    t.values.as_mut_ptr().add(id).write(value);
                    t.values.set_len(id + 1);
                    t.ops.as_mut_ptr().add(id).cast::<[u64; 2]>().write(op);
                }
            } else {
                t.push_slow(op, value, here);
            }
            id as u32
        });
        Var::new(self, id, value)
    }

    /// Records a node from an operation with a pole; `factors_finite` says whether its local
    /// derivatives are finite at this point.
    #[inline(always)]
    #[track_caller]
    pub(crate) fn push_with_pole(&self, op: Op, value: f64, factors_finite: bool) -> Var<'_> {
        self.with(|t| t.dirty |= !factors_finite);
        self.push(op, value)
    }

    #[inline(always)]
    #[track_caller]
    pub(crate) fn check(&self, v: &Var<'_>, what: &str) {
        if !std::ptr::eq(self, v.tape()) {
            foreign_var(what);
        }
    }

    /// Records a leaf: an input or a parameter.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let x = tape.var(3.0);
    /// assert_eq!(x.value(), 3.0);
    /// assert_eq!((x * x).backward()[x], 6.0);
    /// ```
    #[inline]
    #[track_caller]
    pub fn var(&self, value: f64) -> Var<'_> {
        self.push(Op::Leaf, value)
    }

    /// Records one leaf per value, in order, so their ids are contiguous (which lets a later
    /// [`Tape::dot`] or [`Tape::sum`] over them run over slices).
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let xs = tape.vars(&[1.0, 2.0, 3.0]);
    /// let s = tape.sum(&xs);
    /// assert_eq!(s.value(), 6.0);
    /// assert_eq!(s.backward().wrt_all(&xs), vec![1.0, 1.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn vars(&self, values: &[f64]) -> Vec<Var<'_>> {
        let mut out = Vec::with_capacity(values.len());
        self.extend_vars(&mut out, values);
        out
    }

    /// Like [`Tape::vars`], appending to `out` so a training loop can reuse one `Vec`.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let mut xs = Vec::new();
    /// tape.extend_vars(&mut xs, &[1.0, 2.0]);
    /// tape.extend_vars(&mut xs, &[3.0]);
    /// assert_eq!(xs.len(), 3);
    /// ```
    #[track_caller]
    pub fn extend_vars<'t>(&'t self, out: &mut Vec<Var<'t>>, values: &[f64]) {
        out.reserve(values.len());
        let start = self.extend_leaves(values);
        out.extend(
            values
                .iter()
                .enumerate()
                .map(|(k, &v)| Var::new(self, (start + k) as u32, v)),
        );
    }

    /// Records a leaf per value and returns the first id.
    #[track_caller]
    fn extend_leaves(&self, values: &[f64]) -> usize {
        let here = Location::caller();
        self.with(|t| {
            let start = t.values.len();
            if values.len() > t.limit.saturating_sub(start) {
                too_many_nodes(t.limit);
            }
            t.values.extend_from_slice(values);
            t.fit_ops();
            t.ops[start..start + values.len()].fill(Op::Leaf);
            if t.detect_anomaly {
                t.locations.resize(start + values.len(), Some(here));
            }
            t.update_room();
            start
        })
    }

    /// Records ONE node for the sum of any number of nodes (`Var`s or `&Var`s).
    ///
    /// The empty sum is a node with value 0. Summing nodes that were recorded one after
    /// another is stored as a range and swept as a slice.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let x = tape.var(2.0);
    /// let y = tape.var(5.0);
    /// let s = tape.sum([x, y, x]);
    /// assert_eq!(s.value(), 9.0);
    /// assert_eq!(tape.len(), 3);
    /// assert_eq!(s.backward()[x], 2.0);
    /// let none: [tapegrad::Var; 0] = [];
    /// assert_eq!(tape.sum(none).value(), 0.0);
    /// ```
    ///
    /// # Panics
    ///
    /// If an operand belongs to another tape, or the tape is full.
    #[track_caller]
    pub fn sum<'t, I>(&'t self, terms: I) -> Var<'t>
    where
        I: IntoIterator,
        I::Item: Borrow<Var<'t>>,
    {
        // The ids are collected into the tape's scratch buffer, taken out while the iterator
        // (user code, which may record nodes or even call `sum`) runs.
        let mut ids = self.with(|t| std::mem::take(&mut t.scratch));
        ids.clear();
        let mut value = 0.0;
        for (k, v) in terms.into_iter().enumerate() {
            let v = *v.borrow();
            self.check(&v, "Tape::sum");
            value = if k == 0 { v.value() } else { value + v.value() };
            ids.push(v.id32());
        }
        let op = match contiguous(&ids) {
            Some(start) => Op::SumRange {
                start,
                len: ids.len() as u32,
            },
            None => {
                let at = self.reserve_operands(ids.len());
                self.with(|t| t.operands.extend_from_slice(&ids));
                Op::SumList {
                    at,
                    len: ids.len() as u32,
                }
            }
        };
        self.with(|t| t.scratch = ids);
        self.push(op, value)
    }

    /// Records ONE node for the dot product Σ wᵢ·xᵢ.
    ///
    /// The empty dot product is a node with value 0. When `w` (and `x`) were recorded one after
    /// another, as [`Tape::vars`] does, the node stores two ranges and its forward and backward
    /// passes run over slices. The value is [`dot_value`] of the operands' values.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let w = tape.vars(&[1.0, -2.0]);
    /// let x = tape.vars(&[3.0, 4.0]);
    /// let y = tape.dot(&w, &x);
    /// assert_eq!(y.value(), -5.0);
    /// let g = y.backward();
    /// assert_eq!(g.wrt_all(&w), vec![3.0, 4.0]);
    /// assert_eq!(g.wrt_all(&x), vec![1.0, -2.0]);
    /// ```
    ///
    /// # Panics
    ///
    /// If `w` and `x` differ in length, an operand belongs to another tape, or the tape is
    /// full.
    #[track_caller]
    pub fn dot<'t>(&'t self, w: &[Var<'t>], x: &[Var<'t>]) -> Var<'t> {
        if w.len() != x.len() {
            panic!(
                "tapegrad: Tape::dot needs operands of equal length, got {} weights and {} inputs",
                w.len(),
                x.len()
            );
        }
        // The arithmetic of `dot_value`.
        let mut value = [0.0f64; 4];
        let mut w_run = true;
        let mut x_run = true;
        for (k, (wk, xk)) in w.iter().zip(x).enumerate() {
            self.check(wk, "Tape::dot");
            self.check(xk, "Tape::dot");
            w_run &= wk.id32() == w[0].id32().wrapping_add(k as u32);
            x_run &= xk.id32() == x[0].id32().wrapping_add(k as u32);
            value[k % 4] += wk.value() * xk.value();
        }
        let value = (value[0] + value[1]) + (value[2] + value[3]);
        let len = w.len() as u32;
        let op = if w_run && x_run && !w.is_empty() {
            Op::DotRange {
                w: w[0].id32(),
                x: x[0].id32(),
                len,
            }
        } else {
            let at = self.reserve_operands(2 * w.len());
            self.with(|t| {
                t.operands.extend(w.iter().map(|v| v.id32()));
                t.operands.extend(x.iter().map(|v| v.id32()));
            });
            Op::DotList { at, len }
        };
        self.push(op, value)
    }

    /// Records leaves for `values`, like [`Tape::vars`], and returns them as a [`Run`], checked
    /// once for every later [`Tape::dot_run`] or [`Tape::affine`] on it.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let p = tape.run(&[1.0, 2.0, 3.0]);
    /// assert_eq!((p.len(), tape.len()), (3, 3));
    /// assert_eq!(p.get(2).value(), 3.0);
    /// ```
    ///
    /// # Panics
    ///
    /// If the tape is full.
    #[track_caller]
    pub fn run(&self, values: &[f64]) -> Run<'_> {
        let start = self.len() as u32;
        self.extend_leaves(values);
        Run::from_parts(self, start, values.len() as u32)
    }

    /// Records ONE node for Σ wᵢ·xᵢ over two runs: [`Tape::dot`] with O(1) checks, its forward
    /// and backward passes over slices. The value is [`dot_value`] of the runs' values.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let w = tape.run(&[1.0, -2.0]);
    /// let x = tape.run(&[3.0, 4.0]);
    /// let y = tape.dot_run(w, x);
    /// assert_eq!(y.value(), -5.0);
    /// assert_eq!(y.backward().wrt_run(x), vec![1.0, -2.0]);
    /// ```
    ///
    /// # Panics
    ///
    /// If the runs differ in length, either belongs to another tape, or the tape is full.
    #[inline]
    #[track_caller]
    pub fn dot_run<'t>(&'t self, w: Run<'t>, x: Run<'t>) -> Var<'t> {
        self.fused_run(w, x, Fused::Dot, "Tape::dot_run")
    }

    /// Records ONE node for a neuron's pre-activation Σ wᵢ·xᵢ + b, where `w` holds the `n`
    /// weights followed by the bias and `x` the `n` inputs (the layout of
    /// micrograd's neuron and of the `mlp` crate's parameters). The value is
    /// `dot_value(weights, inputs) + b`.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let wb = tape.run(&[2.0, -1.0, 0.5]); // w = [2, -1], b = 0.5
    /// let x = tape.run(&[3.0, 4.0]);
    /// let z = tape.affine(wb, x);
    /// assert_eq!(z.value(), 2.5);
    /// assert_eq!(z.backward().wrt_run(wb), vec![3.0, 4.0, 1.0]);
    /// ```
    ///
    /// # Panics
    ///
    /// If `w.len() != x.len() + 1`, either run belongs to another tape, or the tape is full.
    #[inline]
    #[track_caller]
    pub fn affine<'t>(&'t self, w: Run<'t>, x: Run<'t>) -> Var<'t> {
        self.fused_run(w, x, Fused::Affine, "Tape::affine")
    }

    /// Records ONE node for a whole neuron, `act(Σ wᵢ·xᵢ + b)`, with `w` and `x` laid out as
    /// for [`Tape::affine`]. Its value and gradients are those of
    /// `tape.affine(w, x).relu()` (or `.tanh()`, `.sigmoid()`) bit for bit, PyTorch's
    /// conventions included, at half the nodes: the pre-activation is not a node of its own.
    /// So [`Var::backward_checked`] sees only the neuron's output: a pre-activation that
    /// overflowed to −inf under a ReLU (output 0) is not reported, as the `affine` node would be.
    ///
    /// ```
    /// use tapegrad::{Activation, Tape};
    /// let tape = Tape::new();
    /// let wb = tape.run(&[2.0, -1.0, 0.5]); // w = [2, -1], b = 0.5
    /// let x = tape.run(&[3.0, 4.0]);
    /// let h = tape.neuron(wb, x, Activation::Relu);
    /// assert_eq!(h.value(), 2.5);
    /// assert_eq!(h.backward().wrt_run(wb), vec![3.0, 4.0, 1.0]);
    /// // A dead ReLU passes no gradient, exactly as `affine(..).relu()` does not.
    /// let dead = tape.neuron(wb, tape.run(&[-3.0, 4.0]), Activation::Relu);
    /// assert_eq!(dead.backward().wrt_run(wb), vec![0.0; 3]);
    /// ```
    ///
    /// # Panics
    ///
    /// As [`Tape::affine`].
    #[inline]
    #[track_caller]
    pub fn neuron<'t>(&'t self, w: Run<'t>, x: Run<'t>, act: Activation) -> Var<'t> {
        self.fused_run(w, x, Fused::Neuron(act), "Tape::neuron")
    }

    #[inline(always)]
    #[track_caller]
    fn fused_run<'t>(&'t self, w: Run<'t>, x: Run<'t>, kind: Fused, what: &str) -> Var<'t> {
        let bias = !matches!(kind, Fused::Dot);
        w.check(self, what);
        x.check(self, what);
        let n = x.len();
        if w.len() != n + usize::from(bias) {
            panic!(
                "tapegrad: {what} needs {} weights for {n} inputs, got {}",
                n + usize::from(bias),
                w.len()
            );
        }
        let (ws, xs) = (w.start32(), x.start32());
        // Inlined into each caller, where the length and the kind are often known.
        let value = self.with(
            #[inline(always)]
            |t| {
                let (ws, xs) = (ws as usize, xs as usize);
                let dot = dot_slices(&t.values[ws..ws + n], &t.values[xs..xs + n]);
                if bias { dot + t.values[ws + n] } else { dot }
            },
        );
        let len = x.len32();
        match kind {
            Fused::Dot => self.push(Op::DotRange { w: ws, x: xs, len }, value),
            Fused::Affine => self.push(Op::AffineRange { w: ws, x: xs, len }, value),
            Fused::Neuron(act) => {
                let op = Op::NeuronRange {
                    w: ws,
                    x: xs,
                    len,
                    act,
                };
                self.push(op, act.forward(value))
            }
        }
    }

    pub(crate) fn value_of(&self, id: u32) -> f64 {
        self.with(|t| t.values[id as usize])
    }

    #[track_caller]
    fn reserve_operands(&self, n: usize) -> u32 {
        self.with(|t| {
            let at = t.operands.len();
            if n > MAX_NODES - at || t.values.len() >= t.limit {
                too_many_nodes(t.limit);
            }
            at as u32
        })
    }

    /// The label set on node `id`, if any.
    pub(crate) fn label_of(&self, id: u32) -> Option<String> {
        self.with(|t| {
            t.labels
                .iter()
                .rev()
                .find(|(i, _)| *i == id)
                .map(|(_, l)| l.to_string())
        })
    }

    /// The label of every node up to `root` (a later label for the same id wins), in one pass
    /// over the labels rather than one search per node.
    pub(crate) fn labels_upto(&self, root: u32) -> Vec<Option<String>> {
        self.with(|t| {
            let mut out = vec![None; root as usize + 1];
            for (id, label) in &t.labels {
                if let Some(slot) = out.get_mut(*id as usize) {
                    *slot = Some(label.to_string());
                }
            }
            out
        })
    }

    pub(crate) fn set_label(&self, id: u32, label: &str) {
        self.with(|t| t.labels.push((id, label.into())));
    }

    pub(crate) fn node_info(&self, id: u32) -> NodeInfo {
        let (op, location) = self.with(|t| {
            let i = id as usize;
            (t.ops[i].describe(), t.locations.get(i).copied().flatten())
        });
        NodeInfo {
            id: id as usize,
            op,
            label: self.label_of(id),
            location,
        }
    }

    /// Takes the spare gradient buffer, zeroed, of length `n`.
    pub(crate) fn take_buffer(&self, n: usize) -> Vec<f64> {
        let mut g = self.with(|t| std::mem::take(&mut t.spare));
        g.clear();
        g.resize(n, 0.0);
        g
    }

    pub(crate) fn give_back_buffer(&self, buf: Vec<f64>) {
        self.with(|t| {
            if buf.capacity() > t.spare.capacity() {
                t.spare = buf;
            }
        });
    }

    /// The reverse sweep from `root`: `grads` must be zeroed with length `root + 1`.
    ///
    /// With `CHECKED`, it stops at the first node whose backward gives an operand a
    /// non-finite gradient and returns `(node, operand)`.
    pub(crate) fn sweep<const CHECKED: bool>(
        &self,
        root: u32,
        grads: &mut [f64],
    ) -> Result<(), (u32, u32)> {
        self.with(|t| {
            let root = root as usize;
            let (vals, ops, operands) = (&t.values[..=root], &t.ops[..=root], &t.operands[..]);
            let grads = &mut grads[..=root];
            if !t.dirty && all_finite(vals) {
                let at = |grads: &[f64], k: usize| grads.get(k).copied().unwrap_or(0.0);
                let (mut i, mut g) = (root, 1.0);
                let mut carry = Carry {
                    node: i,
                    g1: at(grads, i.wrapping_sub(1)),
                    g2: at(grads, i.wrapping_sub(2)),
                };
                loop {
                    // SAFETY: i ≤ root, the last index of `grads`.
                    unsafe { *grads.get_unchecked_mut(i) = g };
                    if g != 0.0 {
                        carry.node = i;
                        // SAFETY: node i's operands are below i ≤ root (see `apply`).
                        unsafe {
                            apply::<true, _>(ops[i], g, vals[i], vals, operands, grads, &mut carry)
                        };
                        if CHECKED {
                            carry
                                .spill(grads, |grads| check_operands(i, ops[i], operands, grads))?;
                        }
                    } else if carry.g1 == 0.0 && carry.g2 == 0.0 {
                        // Dead ReLUs leave long runs of zero gradients: pass them 8 at a time,
                        // then 4 and 2 (fixed steps the loads can run ahead of; the last
                        // node, if any, goes round the loop). A zero node adds nothing, so
                        // when the nodes right below i are all zero now, they are final too,
                        // each being below only skipped nodes. The buffer lacks what `carry`
                        // holds for the two nodes below i, so those must be zero too.
                        let from = i;
                        while i >= 8 && all_zero(&grads[i - 8..i]) {
                            i -= 8;
                        }
                        if i >= 4 && all_zero(&grads[i - 4..i]) {
                            i -= 4;
                        }
                        if i >= 2 && all_zero(&grads[i - 2..i]) {
                            i -= 2;
                        }
                        if i != from {
                            (carry.g1, carry.g2) =
                                (at(grads, i.wrapping_sub(1)), at(grads, i.wrapping_sub(2)));
                        }
                    }
                    if i == 0 {
                        break;
                    }
                    i -= 1;
                    g = carry.g1;
                    carry.g1 = carry.g2;
                    carry.g2 = at(grads, i.wrapping_sub(2));
                }
            } else {
                let reached = &mut t.reached;
                reached.clear();
                reached.resize(root + 1, false);
                reached[root] = true;
                grads[root] = 1.0;
                for i in (0..=root).rev() {
                    if !reached[i] {
                        continue;
                    }
                    // SAFETY: node i's operands are below i ≤ root (see `apply`).
                    unsafe {
                        apply::<false, _>(
                            ops[i],
                            grads[i],
                            vals[i],
                            vals,
                            operands,
                            grads,
                            &mut Memory,
                        )
                    };
                    for_each_operand(ops[i], operands, |p| reached[p as usize] = true);
                    if CHECKED {
                        check_operands(i, ops[i], operands, grads)?;
                    }
                }
            }
            Ok(())
        })
    }

    /// Marks every node that `root` depends on (itself included).
    pub(crate) fn reachable(&self, root: u32) -> Vec<bool> {
        self.with(|t| {
            let mut seen = vec![false; root as usize + 1];
            seen[root as usize] = true;
            for i in (0..=root as usize).rev() {
                if seen[i] {
                    for_each_operand(t.ops[i], &t.operands, |p| seen[p as usize] = true);
                }
            }
            seen
        })
    }

    /// The anomaly check behind [`Var::backward_checked`].
    pub(crate) fn find_anomaly(&self, root: u32, grads: &mut [f64]) -> Result<(), Anomaly> {
        let seen = self.reachable(root);
        let bad_value =
            self.with(|t| (0..=root as usize).find(|&i| seen[i] && !t.values[i].is_finite()));
        if let Some(i) = bad_value {
            let value = self.with(|t| t.values[i]);
            return Err(Anomaly {
                kind: AnomalyKind::Value { value },
                node: self.node_info(i as u32),
            });
        }
        self.sweep::<true>(root, grads)
            .map_err(|(node, operand)| Anomaly {
                kind: AnomalyKind::Gradient {
                    operand: operand as usize,
                    gradient: grads[operand as usize],
                },
                node: self.node_info(node),
            })
    }

    /// Visits node `id`'s operation and operand ids, for DOT export.
    pub(crate) fn inspect<R>(&self, id: u32, f: impl FnOnce(Op, &[u32], f64) -> R) -> R {
        self.with(|t| f(t.ops[id as usize], &t.operands, t.values[id as usize]))
    }
}

/// Whether every number in `block` is ±0, without an early exit, so it vectorizes.
#[inline(always)]
fn all_zero(block: &[f64]) -> bool {
    block.iter().fold(0, |acc, g| acc | (g.to_bits() << 1)) == 0
}

/// Whether every value is finite.
///
/// `v · 0` is ±0 for every finite `v` and NaN for ±inf and NaN, so a sum of such products
/// is NaN exactly when some value is not finite. Sixteen independent sums, without an early
/// exit, keep the floating-point pipes busy: 6.0 µs on a 65,612-value tape, against 7.1 µs
/// for an exponent test on integer lanes.
fn all_finite(values: &[f64]) -> bool {
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

/// Where a node's backward adds its operands' gradients.
trait Sink {
    /// Adds `d` to the gradient of node `k`.
    ///
    /// # Safety
    ///
    /// `k` is a valid index into `grads`.
    unsafe fn add(&mut self, grads: &mut [f64], k: u32, d: f64);

    /// Runs `f` with every gradient in `grads`, for the operations over runs of nodes.
    fn spill<R>(&mut self, grads: &mut [f64], f: impl FnOnce(&mut [f64]) -> R) -> R;
}

/// Every gradient in the buffer, added to in place.
struct Memory;

impl Sink for Memory {
    #[inline(always)]
    unsafe fn add(&mut self, grads: &mut [f64], k: u32, d: f64) {
        // SAFETY: the caller's contract.
        unsafe { *grads.get_unchecked_mut(k as usize) += d };
    }

    #[inline(always)]
    fn spill<R>(&mut self, grads: &mut [f64], f: impl FnOnce(&mut [f64]) -> R) -> R {
        f(grads)
    }
}

/// The gradients of the two nodes below `node` in registers, the others in the buffer.
///
/// In `s += w·x` the sum node feeds the sum two nodes below it, so through memory every step
/// of the chain would wait for a store to reach the next load (about 12 cycles here, against
/// 3 for an addition in a register). `g1` and `g2` start as the buffer's values for
/// `node − 1` and `node − 2` and take the additions from `node` and the node above it, in the
/// order the sweep makes them, so the sums are bitwise those of the buffer. The buffer's own
/// copies of those two are stale until the sweep reaches them (it stores each node's final
/// gradient when it does) or [`Sink::spill`] writes them back.
struct Carry {
    node: usize,
    g1: f64,
    g2: f64,
}

impl Sink for Carry {
    #[inline(always)]
    unsafe fn add(&mut self, grads: &mut [f64], k: u32, d: f64) {
        let below = self.node.wrapping_sub(k as usize);
        if below > 2 {
            // SAFETY: the caller's contract.
            unsafe { *grads.get_unchecked_mut(k as usize) += d };
        } else if below == 2 {
            self.g2 += d;
        } else {
            self.g1 += d;
        }
    }

    #[inline(always)]
    fn spill<R>(&mut self, grads: &mut [f64], f: impl FnOnce(&mut [f64]) -> R) -> R {
        let n = self.node;
        if n >= 1 {
            grads[n - 1] = self.g1;
        }
        if n >= 2 {
            grads[n - 2] = self.g2;
        }
        let out = f(grads);
        if n >= 1 {
            self.g1 = grads[n - 1];
        }
        if n >= 2 {
            self.g2 = grads[n - 2];
        }
        out
    }
}

/// The fused nodes over two runs.
#[derive(Clone, Copy)]
enum Fused {
    Dot,
    Affine,
    Neuron(Activation),
}

/// Adds node `op`'s contributions, for upstream gradient `g` and output `y`, to its operands.
///
/// With `SKIP_ZERO` (the sweep while every value and local derivative is finite), a fused
/// neuron whose activation passes on a zero gradient adds nothing, as the sweep skips nodes
/// whose gradient is zero; otherwise its zero products are added too, so 0·inf gives NaN.
///
/// Single operands go through `sink`; the operations over runs of nodes work on the buffer
/// after [`Sink::spill`].
///
/// # Safety
///
/// Every operand id of `op` (and every id in the `operands` range it names) must be a valid
/// index into `vals` and `grads`. The tape guarantees it for every recorded node: operands are
/// `Var`s of the same tape (checked in every operation) and so have ids below the node's own,
/// which is at most the root, and `grads` has length `root + 1`.
#[inline(always)]
unsafe fn apply<const SKIP_ZERO: bool, S: Sink>(
    op: Op,
    g: f64,
    y: f64,
    vals: &[f64],
    operands: &[u32],
    grads: &mut [f64],
    sink: &mut S,
) {
    // SAFETY (for every access below): the caller's contract.
    unsafe {
        let val = |k: u32| *vals.get_unchecked(k as usize);
        let binary = |grads: &mut [f64], sink: &mut S, op: BinOp, a: u32, b: u32| {
            let (ga, gb) = op.backward(g, val(a), val(b), y);
            sink.add(grads, a, ga);
            sink.add(grads, b, gb);
        };
        let unary = |grads: &mut [f64], sink: &mut S, op: UnOp, a: u32| {
            sink.add(grads, a, op.backward(g, val(a), y));
        };
        match op {
            Op::Leaf => {}
            Op::Add(a, b) => binary(grads, sink, BinOp::Add, a, b),
            Op::Sub(a, b) => binary(grads, sink, BinOp::Sub, a, b),
            Op::Mul(a, b) => binary(grads, sink, BinOp::Mul, a, b),
            Op::Div(a, b) => binary(grads, sink, BinOp::Div, a, b),
            Op::Neg(a) => unary(grads, sink, UnOp::Neg, a),
            Op::Exp(a) => unary(grads, sink, UnOp::Exp, a),
            Op::Ln(a) => unary(grads, sink, UnOp::Ln, a),
            Op::Tanh(a) => unary(grads, sink, UnOp::Tanh, a),
            Op::Sigmoid(a) => unary(grads, sink, UnOp::Sigmoid, a),
            Op::Relu(a) => unary(grads, sink, UnOp::Relu, a),
            Op::Sqrt(a) => unary(grads, sink, UnOp::Sqrt, a),
            Op::Abs(a) => unary(grads, sink, UnOp::Abs, a),
            Op::Recip(a) => unary(grads, sink, UnOp::Recip, a),
            Op::Sin(a) => unary(grads, sink, UnOp::Sin, a),
            Op::Cos(a) => unary(grads, sink, UnOp::Cos, a),
            Op::Scalar(op, a, c) => sink.add(grads, a, op.backward(g, val(a), c, y)),
            Op::SumRange { start, len } => sink.spill(grads, |grads| {
                let s = start as usize;
                for gk in grads.get_unchecked_mut(s..s + len as usize) {
                    *gk += g;
                }
            }),
            Op::SumList { at, len } => sink.spill(grads, |grads| {
                for &k in operands.get_unchecked(at as usize..at as usize + len as usize) {
                    *grads.get_unchecked_mut(k as usize) += g;
                }
            }),
            Op::DotRange { w, x, len } => {
                sink.spill(grads, |grads| dot_backward(g, w, x, len, vals, grads))
            }
            Op::AffineRange { w, x, len } => sink.spill(grads, |grads| {
                dot_backward(g, w, x, len, vals, grads);
                *grads.get_unchecked_mut((w + len) as usize) += g;
            }),
            Op::NeuronRange { w, x, len, act } => {
                let gz = act.backward(g, y);
                // A dead ReLU: what `affine(..).relu()` skips as a zero-gradient node.
                if SKIP_ZERO && gz == 0.0 {
                    return;
                }
                sink.spill(grads, |grads| {
                    dot_backward(gz, w, x, len, vals, grads);
                    *grads.get_unchecked_mut((w + len) as usize) += gz;
                })
            }
            Op::DotList { at, len } => sink.spill(grads, |grads| {
                let (at, n) = (at as usize, len as usize);
                let (ws, xs) = operands.get_unchecked(at..at + 2 * n).split_at(n);
                for (&wk, &xk) in ws.iter().zip(xs) {
                    let (wv, xv) = (val(wk), val(xk));
                    *grads.get_unchecked_mut(wk as usize) += g * xv;
                    *grads.get_unchecked_mut(xk as usize) += g * wv;
                }
            }),
        }
    }
}

/// The backward of Σ wₖ·xₖ over the runs `w ..` and `x ..` of length `len`.
///
/// # Safety
///
/// Both runs must lie within `vals` and `grads` (see `apply`).
#[inline(always)]
unsafe fn dot_backward(g: f64, w: u32, x: u32, len: u32, vals: &[f64], grads: &mut [f64]) {
    let (w, x, n) = (w as usize, x as usize, len as usize);
    // SAFETY: the caller's contract; the split below keeps the two runs' slices disjoint.
    unsafe {
        let (vw, vx) = (vals.get_unchecked(w..w + n), vals.get_unchecked(x..x + n));
        if w + n <= x || x + n <= w {
            // Disjoint runs (every dot of weights with inputs): two slices, so it vectorizes.
            let (lo, hi) = (w.min(x), w.max(x));
            let (head, tail) = grads.split_at_mut_unchecked(hi);
            let (g_lo, g_hi) = (
                head.get_unchecked_mut(lo..lo + n),
                tail.get_unchecked_mut(..n),
            );
            let (gw, gx) = if w < x { (g_lo, g_hi) } else { (g_hi, g_lo) };
            for ((gw, gx), (&wk, &xk)) in gw.iter_mut().zip(gx).zip(vw.iter().zip(vx)) {
                *gw += g * xk;
                *gx += g * wk;
            }
        } else {
            // Overlapping runs (a dot of a vector with itself): one element at a time.
            for k in 0..n {
                let (wk, xk) = (*vw.get_unchecked(k), *vx.get_unchecked(k));
                *grads.get_unchecked_mut(w + k) += g * xk;
                *grads.get_unchecked_mut(x + k) += g * wk;
            }
        }
    }
}

/// `Err((node, operand))` for the first operand of node `i` with a non-finite gradient.
#[cold]
fn check_operands(i: usize, op: Op, operands: &[u32], grads: &[f64]) -> Result<(), (u32, u32)> {
    let mut bad = None;
    for_each_operand(op, operands, |p| {
        if bad.is_none() && !grads[p as usize].is_finite() {
            bad = Some(p);
        }
    });
    match bad {
        Some(p) => Err((i as u32, p)),
        None => Ok(()),
    }
}

/// Calls `f` with each operand id of `op`, duplicates included.
#[inline(always)]
pub(crate) fn for_each_operand(op: Op, operands: &[u32], mut f: impl FnMut(u32)) {
    match op {
        Op::Leaf => {}
        Op::Add(a, b) | Op::Sub(a, b) | Op::Mul(a, b) | Op::Div(a, b) => {
            f(a);
            f(b);
        }
        Op::Neg(a)
        | Op::Exp(a)
        | Op::Ln(a)
        | Op::Tanh(a)
        | Op::Sigmoid(a)
        | Op::Relu(a)
        | Op::Sqrt(a)
        | Op::Abs(a)
        | Op::Recip(a)
        | Op::Sin(a)
        | Op::Cos(a)
        | Op::Scalar(_, a, _) => f(a),
        Op::SumRange { start, len } => (start..start + len).for_each(f),
        Op::SumList { at, len } => operands[at as usize..(at + len) as usize]
            .iter()
            .for_each(|&k| f(k)),
        Op::DotRange { w, x, len } => {
            for k in 0..len {
                f(w + k);
                f(x + k);
            }
        }
        Op::DotList { at, len } => operands[at as usize..(at + 2 * len) as usize]
            .iter()
            .for_each(|&k| f(k)),
        Op::AffineRange { w, x, len } | Op::NeuronRange { w, x, len, .. } => {
            for k in 0..len {
                f(w + k);
                f(x + k);
            }
            f(w + len);
        }
    }
}

/// `Some(first id)` when `ids` is a non-empty run of consecutive ids.
fn contiguous(ids: &[u32]) -> Option<u32> {
    let first = *ids.first()?;
    let run = ids
        .iter()
        .enumerate()
        .all(|(k, &id)| id == first.wrapping_add(k as u32));
    run.then_some(first)
}

/// The value [`Tape::dot`] records for operands with these values, computed without a tape and
/// bit for bit the same (same order of operations), for tape-free inference.
///
/// The products are added in four partial sums, `(s₀ + s₁) + (s₂ + s₃)` where `sₗ` adds the
/// products `l, l + 4, l + 8, …` from +0: a reassociation of the left-to-right sum that changes
/// it only within rounding (as BLAS's `ddot` does) and lets long dot products vectorize. An
/// exactly zero result is +0.
///
/// ```
/// let tape = tapegrad::Tape::new();
/// let (w, x) = ([0.1, 0.2, 0.3], [3.0, -1.0, 7.0]);
/// let y = tape.dot(&tape.vars(&w), &tape.vars(&x));
/// assert_eq!(y.value().to_bits(), tapegrad::dot_value(&w, &x).to_bits());
/// ```
///
/// # Panics
///
/// If the slices differ in length.
#[track_caller]
pub fn dot_value(w: &[f64], x: &[f64]) -> f64 {
    assert_eq!(
        w.len(),
        x.len(),
        "tapegrad::dot_value needs slices of equal length"
    );
    dot_slices(w, x)
}

/// [`dot_value`] for slices of equal length.
#[inline(always)]
fn dot_slices(w: &[f64], x: &[f64]) -> f64 {
    // Lane l adds products l, l + 4, … in order; chunks of four let it vectorize.
    let mut acc = [0.0f64; 4];
    let (wc, xc) = (w.chunks_exact(4), x.chunks_exact(4));
    let (wr, xr) = (wc.remainder(), xc.remainder());
    for (a, b) in wc.zip(xc) {
        for l in 0..4 {
            acc[l] += a[l] * b[l];
        }
    }
    for (l, (a, b)) in wr.iter().zip(xr).enumerate() {
        acc[l] += a * b;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

#[cfg(test)]
mod tests {
    use super::all_finite;

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
}
