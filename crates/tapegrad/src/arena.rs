//! The arena: the tape's storage, the one function that stores an operation, and the
//! interior mutability that lets `&Tape` record. All of the engine's `unsafe` that concerns
//! storage is here; the sweep's unchecked reads rely on the check in [`Tape::push`].

use std::cell::UnsafeCell;
use std::collections::BTreeMap;
use std::fmt;
use std::panic::Location;

use crate::number::Number;
use crate::op::{Op, OperandBounds};
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
/// Recording panics (in release builds too) when the tape would hold more than its node limit
/// ([`MAX_NODES`] unless [`Tape::set_node_limit`] lowered it), and operations panic when given
/// a [`Var`] of another tape. Checks run before anything is written, so the tape stays
/// consistent after a caught panic.
pub struct Tape<T: Number = f64> {
    // Interior mutability without a borrow flag: every access goes through `Tape::with`.
    inner: UnsafeCell<Inner<T>>,
}

/// The tape's storage. Its fields are private to this module, so [`Tape::push`] and
/// [`Tape::push_leaves`] are the only code that writes an operation.
pub(crate) struct Inner<T> {
    /// One value per node: its length is the tape's.
    values: Vec<T>,
    /// One operation per node, and past the tape's length `Leaf`s or stale operations that
    /// are never read: it is kept at least as long as `values` has capacity (`fit_ops`), so a
    /// push writes an initialized slot and one length (`values`'), not two.
    ops: Vec<Op>,
    /// Operand ids of `SumList` and `DotList` nodes.
    operands: Vec<u32>,
    labels: BTreeMap<u32, Box<str>>,
    /// Where each node was recorded, while anomaly detection is on (`None` before it was on).
    locations: Vec<Option<&'static Location<'static>>>,
    detect_anomaly: bool,
    /// Bit `l` set once an operation with a pole (ln, sqrt, recip, division, powers) records
    /// a non-finite local derivative in lane `l`; see the sweep.
    dirty: u64,
    /// On a lane tape, nodes `0..scanned` have had their values checked for non-finite lanes
    /// ([`scan_every`]), and `value_dirty` has the lanes where one is not finite.
    scanned: usize,
    value_dirty: u64,
    limit: usize,
    /// Pushes that fit without the slow path: `min(capacity of values, length of ops, limit)`,
    /// and on a lane tape the end of the values' next unscanned chunk ([`scan_every`]), or the
    /// current length while anomaly detection is on, so the hot path has a single comparison.
    room: usize,
    /// Operand ids being collected by `Tape::sum`, kept to avoid an allocation per call.
    pub(crate) scratch: Vec<u32>,
    /// A reachability buffer for the sweep over a dirty tape.
    pub(crate) reached: Vec<bool>,
    /// A gradient buffer handed back by a dropped `Grads`, so backward does not allocate
    /// (all zeros after a sparse sweep, see [`GradBuffer`]).
    spare: GradBuffer<T>,
}

/// The gradients of one sweep and, for a sparse sweep, the blocks of nodes whose gradients it
/// wrote.
///
/// A lane node's gradient is N numbers. On a lane tape whose gradients outgrow the caches
/// (more than [`SPARSE_BYTES`]), zeroing the whole buffer before each sweep and reading every
/// zero adjoint to skip it are passes over memory that cost more than the sweep itself when
/// few samples are active (a hinge loss late in training, where whole groups of samples add
/// nothing). A sweep of such a tape is sparse: it marks the block of [`BLOCK`] nodes around
/// each node it adds to and, while the tape is clean, skips unmarked blocks unread; and a
/// returned buffer has only its marked blocks reset, so it stays zero between sweeps. Smaller
/// lane tapes and `Tape<f64>` keep the plain buffer, zeroed whole before each sweep, which
/// stays in cache and needs no marks (and whose speed the `f64` benchmarks pin).
///
/// So the tape's spare buffer has marks (`touched` is not empty) exactly when a sparse sweep
/// used it last, and then its gradients are all zero and no block is marked.
#[derive(Default)]
pub(crate) struct GradBuffer<T> {
    pub(crate) grads: Vec<T>,
    /// Bit `b % 64` of word `b / 64`: a gradient in block `b` was written (sparse sweeps
    /// only; empty otherwise).
    pub(crate) touched: Vec<u64>,
}

/// Gradient bytes beyond which a lane tape's sweep is sparse ([`GradBuffer`]): a quarter of
/// this machine's 1 MiB L2, the whole of some others', so that below it the dense passes stay
/// in cache. Measured on the demo step (fastest of 4500 sweeps): its `neuron` tape on 8 lanes
/// (56 KiB) ran 3–6 % slower sparse; its binary graph on 8 lanes (600 KiB) ran 22 % faster
/// sparse late in training, where no sample is active, and 5 % slower at the first steps.
pub(crate) const SPARSE_BYTES: usize = 256 * 1024;

/// Nodes per bit of a sparse sweep's marks ([`GradBuffer::touched`]): on the binary graph,
/// 16 skipped no more late in training and cost more early; 256 skipped less.
pub(crate) const BLOCK: usize = 64;

/// The node count past which a lane tape's sweep is sparse (`usize::MAX` on `f64`).
#[inline(always)]
pub(crate) const fn sparse_from<T: Number>() -> usize {
    if T::LANED {
        SPARSE_BYTES / std::mem::size_of::<T>()
    } else {
        usize::MAX
    }
}

/// The words of marks for `n` nodes.
pub(crate) fn mark_words(n: usize) -> usize {
    n.div_ceil(BLOCK).div_ceil(64)
}

/// Value bytes per chunk that a lane tape checks for non-finite lanes as it records.
///
/// The sweep must know which lanes hold a non-finite value before it may skip zero adjoints.
/// Scanning the whole tape then reads every value back from L2 (a tenth of the binary demo
/// graph's step on 8 lanes, by `perf`); a chunk scanned by the push that completes it is
/// still in L1, and the push's single comparison with `room` covers it, so the recording's
/// hot path is unchanged and the sweep scans only the last partial chunk.
const SCAN_BYTES: usize = 4096;

/// How far ahead of the node it records a tape prefetches ([`Inner::prefetch`]): of the
/// distances tried (512 B to 4 KiB), none recorded the binary demo graph on 8 lanes faster
/// than 1 KiB.
const PREFETCH_BYTES: usize = 1024;

/// Nodes per scanned chunk on a lane tape. A `Tape<f64>` scans at the sweep instead: its values
/// are an eighth of a `Lanes<8>`'s, and its benchmarks pin its speed.
#[inline(always)]
fn scan_every<T: Number>() -> usize {
    (SCAN_BYTES / std::mem::size_of::<T>()).max(1)
}

/// The id `Inner::push_slow` returns for a refused push: no node has it, since a tape holds
/// at most `u32::MAX` nodes (ids `0 .. u32::MAX`).
const REFUSED: u32 = u32::MAX;

/// Why a push was refused; the caller panics once the tape is no longer borrowed.
#[derive(Debug)]
pub(crate) enum Refused {
    Full(usize),
    BadOperand,
}

impl Refused {
    #[cold]
    #[inline(never)]
    #[track_caller]
    pub(crate) fn panic(self) -> ! {
        match self {
            Refused::Full(limit) => panic!(
                "tapegrad: the tape is full: it cannot hold more than {limit} nodes (ids are u32)"
            ),
            Refused::BadOperand => panic!(
                "tapegrad: internal error: an operation names an operand that is not a node \
                 recorded before it on this tape"
            ),
        }
    }
}

/// Defines `Inner::push_slow` with the calling convention `$abi` (see its use).
macro_rules! slow_path {
    ($abi:literal) => {
        #[cold]
        #[inline(never)]
        #[allow(improper_ctypes_definitions)]
        extern $abi fn push_slow(
            &mut self,
            admitted: bool,
            words: [u64; 2],
            value: T,
            here: &'static Location<'static>,
        ) -> u32 {
            let id = self.values.len();
            if !admitted || id >= self.limit {
                return REFUSED;
            }
            self.values.push(value);
            self.fit_ops();
            // SAFETY: `fit_ops` makes `ops` as long as the capacity of `values`, which now
            // holds node `id`; `words` is an `Op`'s representation (`Op::words`).
            unsafe { write_words(self.ops.as_mut_ptr().add(id), words) };
            if self.detect_anomaly {
                self.locations.push(Some(here));
            }
            self.update_room();
            id as u32
        }
    };
}

impl<T: Number> Inner<T> {
    /// Scans the chunks of values that are complete, then sets `room`.
    fn update_room(&mut self) {
        let len = self.values.len();
        let mut room = self.values.capacity().min(self.ops.len()).min(self.limit);
        if T::LANED {
            let every = scan_every::<T>();
            let end = len - len % every;
            if end > self.scanned {
                self.value_dirty |= T::non_finite_lanes(&self.values[self.scanned..end]);
                self.scanned = end;
            }
            room = room.min(self.scanned + every);
        }
        self.room = if self.detect_anomaly { len } else { room };
    }

    /// The lanes where a value of nodes `0..=root` is not finite.
    pub(crate) fn non_finite_values(&self, root: usize) -> u64 {
        let values = &self.values[..=root];
        match values.get(self.scanned..) {
            Some(rest) => self.value_dirty | T::non_finite_lanes(rest),
            // A sweep from below the scanned chunks: `value_dirty` may name later nodes.
            None => T::non_finite_lanes(values),
        }
    }

    /// Extends `ops` with `Leaf`s to cover every slot `values` has room for.
    fn fit_ops(&mut self) {
        let room = self.values.capacity();
        if self.ops.len() < room {
            self.ops.resize(room, Op::Leaf);
        }
    }

    // The slow path of `Tape::push`, `push_slow`: grows the buffers, enforces the node limit
    // and records the location for anomaly detection. It returns the new id, or `REFUSED`.
    //
    // On x86-64 it follows the Windows calling convention, on every OS: that convention keeps
    // `xmm6`–`xmm15` intact across a call, the System V one keeps no `xmm` register. So a
    // recording loop that might call it holds its `f64`s in registers instead of on the
    // stack: in micrograd's `s += w * x`, the running sum went through memory on every
    // iteration, and recording the graph took 13 % longer. Rust code calls it, never C; a
    // panic in it unwinds as from any Rust function.
    #[cfg(target_arch = "x86_64")]
    slow_path!("win64-unwind");
    #[cfg(not(target_arch = "x86_64"))]
    slow_path!("Rust");

    /// Asks the processor to fetch the slots of the node [`PREFETCH_BYTES`] ahead of node `id`
    /// into L1: on a lane tape for every push, on `Tape<f64>` for unary and binary operations.
    ///
    /// A lane node's value is a cache line or more, so a recording stores to a line it has not
    /// touched since the last step at nearly every push, and the processor's own prefetchers
    /// left those stores waiting on L2: recording micrograd's `s += w·x` on `Lanes<8>` took
    /// about 20 cycles a node in a chain longer than L1 holds, against 8 to 10 in one that
    /// fits, and takes 12 to 13 with this prefetch. A `Tape<f64>` node is 24 bytes, and
    /// micrograd's graph, a node per `+`, `*` and `relu`, trained 12–14 % faster with it; on
    /// every push it made the `neuron` spelling, whose nodes each do a whole dot product,
    /// 2–4 % slower, so fused nodes go without (then 1 %, within the noise).
    #[inline(always)]
    fn prefetch(&self, id: usize, op: Op) {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        if T::LANED || matches!(op.operand_bounds(), OperandBounds::Two(..)) {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            let value = self
                .values
                .as_ptr()
                .wrapping_add(id + PREFETCH_BYTES / std::mem::size_of::<T>());
            let slot = self
                .ops
                .as_ptr()
                .wrapping_add(id + PREFETCH_BYTES / std::mem::size_of::<Op>());
            // SAFETY: `_mm_prefetch` needs SSE, which every x86-64 processor has. A prefetch is
            // a hint that reads nothing the program sees and never faults, whatever the
            // address; `wrapping_add` makes addresses past the buffers without `add`'s
            // in-bounds rule.
            unsafe {
                // Every line of a value wider than one (`Lanes<16>` and up).
                for line in (0..std::mem::size_of::<T>()).step_by(64) {
                    _mm_prefetch::<_MM_HINT_T0>(value.cast::<i8>().wrapping_add(line));
                }
                _mm_prefetch::<_MM_HINT_T0>(slot.cast());
            }
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        let _ = (id, op);
    }

    /// Whether `op` may be stored as node `id`: every operand is a node below `id`, and a list
    /// lies within the side list (whose ids `Tape::push_operands` checked).
    #[inline(always)]
    fn admits(&self, op: Op, id: usize) -> bool {
        match op.operand_bounds() {
            OperandBounds::None => true,
            // The operands of a unary or binary operation are `Var`s of this tape (checked
            // where they are combined), and a `Var`'s id is below its tape's length for as
            // long as it exists: only the tape makes `Var`s, of nodes it recorded, and it
            // cannot shrink while one borrows it. Checking it again on every push is a
            // measured fifth of the recording time, so only debug builds do.
            OperandBounds::Two(a, b) => {
                if cfg!(debug_assertions) {
                    return (a as usize) < id && (b as usize) < id;
                }
                true
            }
            OperandBounds::Ids(end) => end <= id as u64,
            OperandBounds::List(end) => {
                let ok = end <= self.operands.len() as u64;
                if cfg!(debug_assertions) && ok {
                    let mut below = true;
                    op.for_each_operand(&self.operands, |k| below &= (k as usize) < id);
                    return below;
                }
                ok
            }
        }
    }

    /// The values, operations and side list of nodes `0..=root`, for the sweep.
    #[inline(always)]
    pub(crate) fn nodes(&self, root: usize) -> (&[T], &[Op], &[u32]) {
        (&self.values[..=root], &self.ops[..=root], &self.operands)
    }

    /// The values of nodes `start .. start + len`, if they exist.
    #[inline(always)]
    pub(crate) fn run_values(&self, start: u32, len: usize) -> Option<&[T]> {
        self.values
            .get(start as usize..(start as usize).checked_add(len)?)
    }

    pub(crate) fn value(&self, id: u32) -> Option<T> {
        self.values.get(id as usize).copied()
    }

    pub(crate) fn op(&self, id: u32) -> Option<Op> {
        self.values.get(id as usize).map(|_| self.ops[id as usize])
    }

    pub(crate) fn operands(&self) -> &[u32] {
        &self.operands
    }

    /// The lanes where some node recorded a non-finite local derivative.
    pub(crate) fn dirty(&self) -> u64 {
        self.dirty
    }

    pub(crate) fn location(&self, id: u32) -> Option<&'static Location<'static>> {
        self.locations.get(id as usize).copied().flatten()
    }

    pub(crate) fn label(&self, id: u32) -> Option<&str> {
        self.labels.get(&id).map(|l| &**l)
    }

    pub(crate) fn labels_upto(&self, root: u32) -> impl Iterator<Item = (u32, &str)> {
        self.labels.range(..=root).map(|(&id, l)| (id, &**l))
    }
}

/// Stores `words` as the operation at `slot`, one word at a time: a 16-byte load of words
/// just assembled on the stack would wait for both halves' stores.
///
/// # Safety
///
/// `slot` is valid for writes of an `Op`, and `words` is an `Op`'s representation
/// ([`Op::words`]).
#[inline(always)]
unsafe fn write_words(slot: *mut Op, words: [u64; 2]) {
    let slot = slot.cast::<u64>();
    // SAFETY: the caller's contract; an `Op` is 16 bytes, 8-aligned.
    unsafe {
        slot.write(words[0]);
        slot.add(1).write(words[1]);
    }
}

impl<T: Number> Default for Tape<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Number> fmt::Debug for Tape<T> {
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

impl<T: Number> Tape<T> {
    /// An empty tape.
    ///
    /// The number its nodes carry is inferred from what is recorded: `tape.var(2.0)` makes a
    /// `Tape<f64>`, `Tape::<Lanes<8>>::new()` a lane tape. Rust does not fall back on the
    /// default `f64` in expressions, so a tape on which nothing is recorded names its type.
    ///
    /// ```
    /// use tapegrad::{Lanes, Tape};
    ///
    /// let tape = Tape::new();
    /// let x = tape.var(2.0); // a Tape<f64> from here on
    /// assert_eq!(tape.len(), 1);
    ///
    /// let lanes = Tape::<Lanes<8>>::new();
    /// let empty: Tape = Tape::new(); // `Tape` in a type is `Tape<f64>`
    /// assert!(lanes.is_empty() && empty.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty tape with room for `nodes` nodes before it reallocates.
    ///
    /// ```
    /// let tape: tapegrad::Tape = tapegrad::Tape::with_capacity(1024);
    /// assert_eq!(tape.len(), 0);
    /// ```
    pub fn with_capacity(nodes: usize) -> Self {
        // Evaluated here, so a lane count the masks cannot hold fails to compile.
        let _ = T::LANES;
        let mut tape = Tape {
            inner: UnsafeCell::new(Inner {
                values: Vec::with_capacity(nodes),
                ops: Vec::with_capacity(nodes),
                operands: Vec::new(),
                labels: BTreeMap::new(),
                locations: Vec::new(),
                detect_anomaly: false,
                dirty: 0,
                scanned: 0,
                value_dirty: 0,
                limit: MAX_NODES,
                room: 0,
                reached: Vec::new(),
                scratch: Vec::new(),
                spare: GradBuffer::default(),
            }),
        };
        let t = tape.inner.get_mut();
        t.fit_ops();
        t.update_room();
        tape
    }

    /// Caps the number of nodes this tape may hold (at most [`MAX_NODES`], the default), so a
    /// runaway recording stops with a panic instead of exhausting memory, and tests can reach
    /// "tape full" without 4 billion nodes. A limit below the current length leaves the nodes
    /// recorded and refuses the next one.
    ///
    /// ```
    /// let mut tape = tapegrad::Tape::new();
    /// tape.set_node_limit(2);
    /// assert_eq!(tape.node_limit(), 2);
    /// let x = tape.var(1.0);
    /// let _y = x * 2.0;
    /// let full = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| x + 1.0));
    /// assert!(full.is_err());
    /// assert_eq!(tape.len(), 2);
    /// ```
    pub fn set_node_limit(&mut self, limit: usize) {
        let t = self.inner.get_mut();
        t.limit = limit.min(MAX_NODES);
        t.update_room();
    }

    /// The most nodes this tape may hold (see [`Tape::set_node_limit`]).
    ///
    /// ```
    /// assert_eq!(tapegrad::Tape::<f64>::new().node_limit(), tapegrad::MAX_NODES);
    /// ```
    pub fn node_limit(&self) -> usize {
        self.with(|t| t.limit)
    }

    /// Runs `f` with the tape's storage.
    ///
    /// **The rule for every closure passed here**: it must not panic, and must not call user
    /// code or any `Tape` method, since either could reach this tape again (a panic hook is
    /// user code, and runs before unwinding) while the `&mut Inner` lives. A check that can
    /// fail runs before `with`, or the closure returns a `Result` and the caller panics once
    /// `with` has returned. Indexing that could fail uses `get`.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Inner<T>) -> R) -> R {
        // SAFETY: `Tape` is not `Sync`, so only this thread can reach `inner`, and by the rule
        // above no other access to it starts while `f` runs: this is the only `&mut Inner`.
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

    /// The bytes the tape's buffers hold (their capacity, not just what is in use; labels are
    /// not counted).
    ///
    /// A binary node costs 24 bytes: its value and a 16-byte operation with two `u32` ids.
    ///
    /// ```
    /// use tapegrad::{Lanes, Tape};
    ///
    /// let tape = Tape::<f64>::with_capacity(100);
    /// assert!(tape.memory_bytes() >= 100 * 24);
    /// // A lane node's value is N numbers; its operation is shared by the lanes.
    /// let lanes = Tape::<Lanes<8>>::with_capacity(100);
    /// assert!(lanes.memory_bytes() >= 100 * (16 + 8 * 8));
    /// ```
    pub fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        self.with(|t| {
            t.values.capacity() * size_of::<T>()
                + t.ops.capacity() * size_of::<Op>()
                + t.operands.capacity() * size_of::<u32>()
                + t.locations.capacity() * size_of::<Option<&Location<'_>>>()
                + t.spare.grads.capacity() * size_of::<T>()
                + t.spare.touched.capacity() * size_of::<u64>()
                + t.reached.capacity()
                + t.scratch.capacity() * size_of::<u32>()
        })
    }

    /// Whether no node has been recorded.
    ///
    /// ```
    /// assert!(tapegrad::Tape::<f64>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every node but keeps the allocations, so the next recording does not allocate.
    ///
    /// Taking `&mut self` makes the borrow checker reject any [`Var`] or
    /// [`Grads`](crate::Grads) used after a clear. In a training loop, copy the gradients you
    /// need out of the `Grads` (with [`Grads::wrt_all`](crate::Grads::wrt_all),
    /// [`Grads::copy_run`](crate::Grads::copy_run) or [`Grads::into_vec`](crate::Grads::into_vec))
    /// and let it go before the clear:
    ///
    /// ```
    /// let mut tape = tapegrad::Tape::new();
    /// let mut w = 1.0;
    /// for _step in 0..3 {
    ///     let x = tape.var(w);
    ///     let loss = x * x;
    ///     let g = loss.backward();
    ///     let dw = g[x];
    ///     drop(g); // or let it end with the loop body's scope, before the clear
    ///     w -= 0.1 * dw;
    ///     tape.clear();
    /// }
    /// assert!(tape.is_empty());
    /// assert_eq!(w, 0.512);
    /// ```
    ///
    /// Keeping the `Grads` alive across the clear does not compile:
    ///
    /// ```compile_fail,E0502
    /// let mut tape = tapegrad::Tape::new();
    /// let x = tape.var(2.0);
    /// let g = (x * x).backward();
    /// tape.clear();
    /// println!("{}", g.as_slice()[0]);
    /// ```
    pub fn clear(&mut self) {
        let t = self.inner.get_mut();
        t.values.clear();
        t.operands.clear();
        t.labels.clear();
        t.locations.clear();
        t.dirty = 0;
        t.scanned = 0;
        t.value_dirty = 0;
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
    /// assert!(!tapegrad::Tape::<f64>::new().detects_anomaly());
    /// ```
    pub fn detects_anomaly(&self) -> bool {
        self.with(|t| t.detect_anomaly)
    }

    /// Stores `op` as the next node, with its value: the only way an operation gets onto the
    /// tape. It checks that every operand is a node below the new one (O(1): a comparison
    /// with the largest id, or a range end), which is what makes the sweep's unchecked
    /// indexing sound, and panics if not, or if the tape is full.
    #[inline(always)]
    #[track_caller]
    pub(crate) fn push(&self, op: Op, value: T) -> Var<'_, T> {
        let here = Location::caller();
        // Inlined, so the check and the words fold for the `op` each caller builds. A refusal
        // comes back as an id no node has rather than as an `Option`: measured, that keeps a
        // recording loop's values in registers.
        let id = self.with(
            #[inline(always)]
            |t| {
                let id = t.values.len();
                let admitted = t.admits(op, id);
                // Words, not the `Op`, go to the slow path too: given `op`, the compiler
                // assembles it in memory before the branch.
                let words = op.words();
                if admitted && id < t.room {
                    t.prefetch(id, op);
                    // SAFETY: `room` never exceeds the capacity of `values` nor the length of
                    // `ops` (`update_room`), and `values` has length `id`: slot `id` is
                    // allocated and unused in `values`, and an initialized `Op` (plain data,
                    // nothing to drop) in `ops`, which `words` (an `Op`'s representation)
                    // overwrites. And `id < MAX_NODES`: `room` is at most `limit`, itself at
                    // most `MAX_NODES` (in anomaly mode `room` is the length, `id`, and this
                    // path is not taken). Told so, the compiler drops the refusal test below
                    // from this path.
                    unsafe {
                        std::hint::assert_unchecked(id < MAX_NODES);
                        t.values.as_mut_ptr().add(id).write(value);
                        t.values.set_len(id + 1);
                        write_words(t.ops.as_mut_ptr().add(id), words);
                    }
                    id as u32
                } else {
                    t.push_slow(admitted, words, value, here)
                }
            },
        );
        if id == REFUSED {
            self.refused();
        }
        Var::new(self, id, value)
    }

    /// Panics for a push that [`Tape::push`] refused, once the storage is no longer borrowed.
    #[cold]
    #[inline(never)]
    #[track_caller]
    fn refused(&self) -> ! {
        let (len, limit) = self.with(|t| (t.values.len(), t.limit));
        if len >= limit {
            Refused::Full(limit).panic()
        } else {
            Refused::BadOperand.panic()
        }
    }

    /// [`Tape::push`] for an operation with a pole; `non_finite` has bit `l` set where its
    /// local derivatives are not finite in lane `l` (the sweep then stops skipping zeros
    /// there).
    #[inline(always)]
    #[track_caller]
    pub(crate) fn push_with_pole(&self, op: Op, value: T, non_finite: u64) -> Var<'_, T> {
        let v = self.push(op, value);
        self.with(|t| t.dirty |= non_finite);
        v
    }

    /// Records a leaf per value and returns the first id.
    #[track_caller]
    pub(crate) fn push_leaves(&self, values: &[T]) -> u32 {
        let here = Location::caller();
        let pushed = self.with(|t| {
            let start = t.values.len();
            if values.len() > t.limit.saturating_sub(start) {
                return Err(Refused::Full(t.limit));
            }
            t.values.extend_from_slice(values);
            t.fit_ops();
            if let Some(new) = t.ops.get_mut(start..start + values.len()) {
                new.fill(Op::Leaf);
            }
            if t.detect_anomaly {
                t.locations.resize(start + values.len(), Some(here));
            }
            t.update_room();
            Ok(start as u32)
        });
        pushed.unwrap_or_else(|refused| refused.panic())
    }

    /// Appends the operand ids of a list node (`SumList`, `DotList`) and returns where they
    /// start. Every id must be a node of this tape already: the builders check each operand's
    /// tape, and debug builds check the ids here too.
    #[track_caller]
    pub(crate) fn push_operands(&self, ids: impl Iterator<Item = u32>) -> u32 {
        let pushed = self.with(|t| {
            let (at, len) = (t.operands.len(), t.values.len());
            if len >= t.limit {
                return Err(Refused::Full(t.limit));
            }
            t.operands.extend(ids);
            // The ids are those of `Var`s whose tape the builders checked, so they are below
            // `len` (as for the binary operations in `Inner::admits`). Checking them again in
            // release builds was most of the gap between a `dot` over slices and the code
            // before the arena was split (callgrind: 47.3M against 43.9M instructions for 20
            // demo steps), so only debug builds do.
            let below =
                !cfg!(debug_assertions) || t.operands[at..].iter().all(|&k| (k as usize) < len);
            let refused = if !below {
                Some(Refused::BadOperand)
            } else if t.operands.len() > MAX_NODES {
                Some(Refused::Full(t.limit))
            } else {
                None
            };
            match refused {
                Some(why) => {
                    t.operands.truncate(at);
                    Err(why)
                }
                None => Ok(at as u32),
            }
        });
        pushed.unwrap_or_else(|refused| refused.panic())
    }

    /// Node `id`'s value.
    #[track_caller]
    pub(crate) fn value_of(&self, id: u32) -> T {
        self.with(|t| t.value(id))
            .unwrap_or_else(|| Refused::BadOperand.panic())
    }

    /// The label set on node `id`, if any.
    pub(crate) fn label_of(&self, id: u32) -> Option<String> {
        self.with(|t| t.label(id).map(str::to_string))
    }

    /// Sets node `id`'s label, replacing an earlier one.
    pub(crate) fn set_label(&self, id: u32, label: &str) {
        self.with(|t| t.labels.insert(id, label.into()));
    }

    /// Takes the spare gradient buffer, zeroed, of length `n`, with no block marked, and the
    /// marks a sparse sweep of `n` nodes needs.
    pub(crate) fn take_buffer(&self, n: usize) -> GradBuffer<T> {
        let mut b = self.with(|t| std::mem::take(&mut t.spare));
        let sparse = n > sparse_from::<T>();
        b.grads.truncate(n);
        if !sparse || b.touched.is_empty() {
            // Not known to be zero: zero it whole. `fill` becomes a `memset`, where `resize`
            // after `clear` stored a lane array at a time.
            b.grads.fill(T::default());
            b.touched.clear();
        }
        // Of a zero buffer, only the slots past its length are written.
        b.grads.resize(n, T::default());
        let words = if sparse { mark_words(n) } else { 0 };
        b.touched.truncate(words);
        b.touched.resize(words, 0);
        b
    }

    /// Keeps `buf` as the spare buffer if it is the larger, after a sparse sweep with its
    /// marked blocks reset to zero (a buffer not kept is dropped as it is).
    pub(crate) fn give_back_buffer(&self, mut buf: GradBuffer<T>) {
        if self.with(|t| buf.grads.capacity() <= t.spare.grads.capacity()) {
            return;
        }
        let GradBuffer { grads, touched } = &mut buf;
        for (w, word) in touched.iter_mut().enumerate() {
            let mut bits = std::mem::take(word);
            while bits != 0 {
                let start = (w * 64 + bits.trailing_zeros() as usize) * BLOCK;
                let end = grads.len().min(start + BLOCK);
                grads[start..end].fill(T::default());
                bits &= bits - 1;
            }
        }
        let old = self.with(|t| std::mem::replace(&mut t.spare, buf));
        drop(old);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use super::*;
    use crate::op::Activation;

    thread_local! {
        /// The tape a panic hook reads while a test on this thread panics.
        static WATCHED: Cell<Option<*const Tape>> = const { Cell::new(None) };
    }

    /// Pins the "panic while borrowed" bug: a panic hook is user code that runs before
    /// unwinding, and one that reads the tape while "tape full" is raised must find the
    /// storage unborrowed (Miri reported the old code's second `&mut Inner` here).
    #[test]
    fn a_panic_hook_may_read_the_tape_while_it_reports_a_full_tape() {
        let previous = std::sync::Arc::new(std::panic::take_hook());
        let chained = previous.clone();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(tape) = WATCHED.with(Cell::get) {
                // SAFETY: the tape outlives the panic below (it is dropped after
                // `catch_unwind` returns).
                let len = unsafe { &*tape }.len();
                assert_eq!(len, 3);
            }
            chained(info);
        }));
        let mut tape = Tape::new();
        tape.set_node_limit(3);
        let tape = tape;
        WATCHED.with(|w| w.set(Some(&tape)));
        let x = tape.var(1.0);
        let y = x * 2.0;
        let _z = y + x;
        let full = catch_unwind(AssertUnwindSafe(|| {
            let _ = x + 1.0;
        }));
        let leaves = catch_unwind(AssertUnwindSafe(|| tape.vars(&[1.0])));
        WATCHED.with(|w| w.set(None));
        let _ = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| previous(info)));
        assert!(full.is_err() && leaves.is_err());
        assert_eq!(tape.len(), 3);
    }

    /// The push refuses an operation whose operands are not nodes below it, in every build,
    /// and leaves the tape as it was.
    #[test]
    fn push_refuses_operands_that_are_not_below_the_node() {
        let tape = Tape::new();
        let _ = tape.vars(&[1.0, 2.0, 3.0]);
        let bad = [
            Op::DotRange { w: 0, x: 2, len: 2 },
            Op::SumRange { start: 3, len: 1 },
            Op::NeuronRange {
                act: Activation::Identity,
                w: 1,
                x: 0,
                len: 2,
            },
            Op::SumList { at: 0, len: 1 },
        ];
        for op in bad {
            let refused = catch_unwind(AssertUnwindSafe(|| tape.push(op, 0.0)));
            let message = refused.expect_err("a bad operand must panic");
            let message = match message.downcast_ref::<&str>() {
                Some(s) => s.to_string(),
                None => message
                    .downcast_ref::<String>()
                    .cloned()
                    .unwrap_or_default(),
            };
            assert!(
                message.contains("not a node recorded before it"),
                "{op:?}: {message}"
            );
            assert_eq!(tape.len(), 3, "{op:?}");
        }
        // The same shapes within bounds are stored.
        assert_eq!(
            tape.push(Op::DotRange { w: 0, x: 1, len: 2 }, 0.0).index(),
            3
        );
        assert_eq!(tape.push(Op::SumRange { start: 0, len: 4 }, 0.0).index(), 4);
    }

    /// A list must name operand ids of nodes that exist (checked in debug builds; release
    /// builds rely on the builders' tape check, as for binary operations).
    #[cfg(debug_assertions)]
    #[test]
    fn push_operands_refuses_ids_of_nodes_not_yet_recorded() {
        let tape = Tape::new();
        let _ = tape.vars(&[1.0, 2.0]);
        assert!(catch_unwind(AssertUnwindSafe(|| tape.push_operands([0, 2].into_iter()))).is_err());
        assert_eq!(tape.push_operands([1, 0].into_iter()), 0);
        assert_eq!(tape.push(Op::SumList { at: 0, len: 2 }, 3.0).index(), 2);
    }
}
