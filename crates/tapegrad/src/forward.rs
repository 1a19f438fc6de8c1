//! Forward mode on a recorded tape: the tangent sweep behind [`Var::jvp`], [`Tape::jvp`] and
//! [`Tape::jacobian`], and the reverse sweep over [`Dual`] numbers behind [`Var::hvp`] and
//! [`Var::hessian`] (forward over reverse).
//!
//! Neither adds a rule per operation: the tangent sweep gathers each node's tangent through
//! the node's own backward step run with an upstream gradient of 1 (which hands each operand
//! its local partial), and the second-order sweep runs that same backward step on dual
//! numbers. Nothing is recorded, so the tape does not grow.

use std::cell::Cell;

use crate::arena::Tape;
use crate::dual::Dual;
use crate::op::Adjoints;
use crate::var::Var;

/// Directions per tangent sweep for [`Var::hessian`] and a forward-mode [`Tape::jacobian`]:
/// one sweep interprets each node once for all of them.
pub(crate) const LANES: usize = 16;

// What the tangent sweep knows of a node, as bits of its state byte.
/// Has a tangent: it is seeded or depends on a seeded node. Others' tangents are zero (and
/// their slots in the buffer stale).
const TANGENT: u8 = 1;
/// Seeded: an entry of `wrt` with a direction, its tangent that direction whatever its
/// operands'.
const SEEDED: u8 = 2;
/// Its adjoint is wanted by the second-order sweep: it is or depends on an entry of `wrt`
/// whose adjoint is read. The others hand their adjoints only to nodes like them.
const FEEDS: u8 = 4;

/// Buffers kept per thread, so the sweeps allocate only when a tape is larger than any before.
#[derive(Default)]
struct Buffers {
    tangents: Vec<f64>,
    state: Vec<u8>,
    adj_v: Vec<f64>,
    adj_t: Vec<f64>,
}

thread_local! {
    static BUFFERS: Cell<Option<Buffers>> = const { Cell::new(None) };
}

/// Runs `f` with this thread's buffers (fresh ones if a caller up the stack holds them).
fn with_buffers<R>(f: impl FnOnce(&mut Buffers) -> R) -> R {
    let mut b = BUFFERS.take().unwrap_or_default();
    let out = f(&mut b);
    BUFFERS.set(Some(b));
    out
}

#[track_caller]
fn check_lengths(what: &str, wrt: usize, v: usize) {
    if wrt != v {
        panic!(
            "tapegrad: {what} needs one direction entry per variable, got {wrt} variables and \
             {v} direction entries"
        );
    }
}

#[track_caller]
fn check_all<'t>(tape: &'t Tape, vars: &[Var<'t>], what: &str) {
    for v in vars {
        tape.check(v, what);
    }
}

impl Tape {
    /// The tangents of nodes `0..=root` along `K` directions (`dir(j)` for `wrt[j]`, `None`
    /// where every direction leaves `wrt[j]` out), into `tangents` (`K` per node) with each
    /// node's `state`; the entries of `wrt` from `feeds_from` on, and the nodes that depend on
    /// them, are marked [`FEEDS`]. Returns whether every tangent is finite.
    ///
    /// A seeded node that is not a leaf gets its direction added to what its operands give,
    /// so the product is the reverse sweep's Σ gᵢvᵢ even when `wrt` holds a node and one of
    /// the nodes it was computed from (whose gradient includes the path through it).
    ///
    /// A node none of whose operands has a tangent is passed over without computing its
    /// partials: a Hessian's sweeps seed a few parameters each, on which many of a network's
    /// nodes do not depend.
    fn tangent_sweep<const K: usize>(
        &self,
        root: usize,
        wrt: &[Var<'_>],
        dir: impl Fn(usize) -> Option<[f64; K]>,
        feeds_from: usize,
        tangents: &mut Vec<f64>,
        state: &mut Vec<u8>,
    ) -> bool {
        // Only the tangents of nodes that depend on `wrt` are written and read, so the buffer
        // is not cleared: zeroing K numbers per node on every sweep of a Hessian cost more
        // than the sweeps.
        grow(tangents, (root + 1) * K);
        state.clear();
        state.resize(root + 1, 0);
        let (tan, _) = tangents.as_chunks_mut::<K>();
        let mut first = root + 1;
        let mut finite = true;
        for v in wrt.iter().skip(feeds_from) {
            if let Some(s) = state.get_mut(v.index()) {
                *s |= FEEDS;
                first = first.min(v.index());
            }
        }
        for v in wrt {
            if let Some(t) = tan.get_mut(v.index()) {
                *t = [0.0; K];
            }
        }
        for (j, v) in wrt.iter().enumerate() {
            let i = v.index();
            if i <= root
                && let Some(d) = dir(j)
            {
                for (t, d) in tan[i].iter_mut().zip(d) {
                    *t += d;
                    finite &= t.is_finite();
                }
                state[i] |= SEEDED | TANGENT;
                first = first.min(i);
            }
        }
        // Indexing below cannot fail: operands are nodes below their user (`Tape::push`).
        self.with(|t| {
            let (vals, ops, operands) = t.nodes(root);
            for i in first..=root {
                let op = ops[i];
                let mut below = 0;
                op.for_each_operand(operands, |k| below |= state[k as usize]);
                state[i] |= below & FEEDS;
                if below & TANGENT == 0 {
                    continue;
                }
                let (below, rest) = tan.split_at_mut(i);
                let mut gather = Gather {
                    vals,
                    tangents: below,
                    state: &state[..i],
                    // A seeded node starts from its direction; the others' slots are stale.
                    acc: if state[i] & SEEDED != 0 {
                        rest[0]
                    } else {
                        [0.0; K]
                    },
                };
                // SAFETY: `Gather` indexes with bounds checks.
                unsafe { op.backward(1.0, vals[i], operands, &mut gather) };
                finite &= gather.acc.iter().all(|a| a.is_finite());
                rest[0] = gather.acc;
                state[i] |= TANGENT;
            }
        });
        finite
    }

    /// Whether the values of nodes `0..=root` are all finite.
    fn values_finite(&self, root: usize) -> bool {
        self.with(|t| crate::sweep::all_finite(t.nodes(root).0))
    }

    /// The reverse sweep from `root` over dual numbers (value, the tangents of a
    /// [`Tape::tangent_sweep`]): each node's adjoint's tangent part is the Hessian of the root
    /// times the directions, for the nodes marked [`FEEDS`].
    ///
    /// `finite`: every value and tangent is finite and no local derivative was infinite, so
    /// nodes with a zero adjoint may be skipped (see the f64 sweep).
    fn dual_sweep<const K: usize>(
        &self,
        root: usize,
        tangents: &[f64],
        state: &[u8],
        finite: bool,
        adj_v: &mut Vec<f64>,
        adj_t: &mut Vec<f64>,
    ) {
        // As the tangents, only the adjoints of nodes that depend on `wrt` are used.
        grow(adj_v, root + 1);
        grow(adj_t, (root + 1) * K);
        let (tan, _) = tangents.as_chunks::<K>();
        let (at, _) = adj_t.as_chunks_mut::<K>();
        for (i, _) in state.iter().enumerate().filter(|(_, s)| **s & FEEDS != 0) {
            adj_v[i] = 0.0;
            at[i] = [0.0; K];
        }
        adj_v[root] = 1.0;
        self.with(|t| {
            let (vals, ops, operands) = t.nodes(root);
            let clean = finite && t.dirty() == 0;
            let mut adj = DualAdjoints {
                vals,
                tangents: tan,
                state,
                adj_v: &mut adj_v[..],
                adj_t: at,
            };
            for i in (0..=root).rev() {
                if state[i] & FEEDS == 0 {
                    continue;
                }
                let g = Dual {
                    v: adj.adj_v[i],
                    t: adj.adj_t[i],
                };
                if clean && g.is_zero() {
                    continue;
                }
                let y = Dual {
                    v: vals[i],
                    t: tangent(state, tan, i),
                };
                // SAFETY: `DualAdjoints` indexes with bounds checks.
                unsafe { ops[i].backward(g, y, operands, &mut adj) };
            }
        });
    }

    /// The directional derivatives of several outputs along `v`, in one tangent sweep: entry
    /// `k` is ∇outputs\[k\] · v, with `v[j]` the direction's component for `wrt[j]`.
    ///
    /// ```
    /// use tapegrad::Tape;
    ///
    /// let tape = Tape::new();
    /// let x = tape.vars(&[3.0, 2.0]);
    /// let (f, g) = (x[0] * x[1], x[0] - x[1]);
    /// // ∇f = (2, 3), ∇g = (1, −1); along v = (1, 10):
    /// assert_eq!(tape.jvp(&[f, g], &x, &[1.0, 10.0]), vec![32.0, -9.0]);
    /// ```
    ///
    /// An entry of `wrt` that was computed from other nodes gets its direction added to the
    /// tangent they give it, so the result is the reverse sweep's Σ gᵢvᵢ. Outputs that do not
    /// depend on `wrt` get 0.
    ///
    /// # Panics
    ///
    /// If `v` and `wrt` differ in length, or a `Var` belongs to another tape.
    #[track_caller]
    pub fn jvp<'t>(&'t self, outputs: &[Var<'t>], wrt: &[Var<'t>], v: &[f64]) -> Vec<f64> {
        check_lengths("Tape::jvp", wrt.len(), v.len());
        check_all(self, outputs, "Tape::jvp");
        check_all(self, wrt, "Tape::jvp");
        let Some(root) = outputs.iter().map(|o| o.index()).max() else {
            return Vec::new();
        };
        with_buffers(|b| {
            self.jvp_sweep(root, wrt, v, b);
            outputs.iter().map(|o| jvp_of(b, o.index())).collect()
        })
    }

    /// One tangent sweep along `v` up to `root`, for [`Tape::jvp`] and [`Var::jvp`].
    fn jvp_sweep(&self, root: usize, wrt: &[Var<'_>], v: &[f64], b: &mut Buffers) {
        let dir = |j: usize| Some([v[j]]);
        let _ = self.tangent_sweep::<1>(root, wrt, dir, wrt.len(), &mut b.tangents, &mut b.state);
    }

    /// The Jacobian's rows in forward mode, `K` inputs per tangent sweep.
    fn forward_rows<const K: usize>(
        &self,
        root: usize,
        outputs: &[Var<'_>],
        wrt: &[Var<'_>],
        rows: &mut [Vec<f64>],
        b: &mut Buffers,
    ) {
        let n = wrt.len();
        for start in (0..n).step_by(K) {
            let dir = |j| unit::<K>(j, start);
            let _ = self.tangent_sweep::<K>(root, wrt, dir, n, &mut b.tangents, &mut b.state);
            let (tan, _) = b.tangents.as_chunks::<K>();
            for (row, o) in rows.iter_mut().zip(outputs) {
                let t = tangent(&b.state, tan, o.index());
                for (entry, t) in row[start..].iter_mut().zip(t) {
                    *entry = t;
                }
            }
        }
    }

    /// The Hessian's rows, `K` columns per pair of sweeps. The sweeps for columns `J` want
    /// only the adjoints of `wrt[start..]`: the entries above them come from symmetry with
    /// earlier columns, so nodes that feed none of `wrt[start..]` are passed over.
    fn hessian_rows<const K: usize>(
        &self,
        root: usize,
        wrt: &[Var<'_>],
        rows: &mut [Vec<f64>],
        b: &mut Buffers,
    ) {
        let n = wrt.len();
        let values_finite = self.values_finite(root);
        for start in (0..n).step_by(K) {
            let dir = |j| unit::<K>(j, start);
            let tangents_finite =
                self.tangent_sweep::<K>(root, wrt, dir, start, &mut b.tangents, &mut b.state);
            let finite = tangents_finite && values_finite;
            let (tangents, state) = (&b.tangents, &b.state);
            self.dual_sweep::<K>(root, tangents, state, finite, &mut b.adj_v, &mut b.adj_t);
            let (at, _) = b.adj_t.as_chunks::<K>();
            let end = (start + K).min(n);
            for (i, x) in wrt.iter().enumerate().skip(start) {
                let h = match at.get(x.index()) {
                    Some(h) if x.index() <= root => *h,
                    _ => [0.0; K],
                };
                // The pair (i, j), j ≤ i, once: exactly symmetric, within a block too.
                for (j, h) in (start..end.min(i + 1)).zip(h) {
                    rows[i][j] = h;
                    rows[j][i] = h;
                }
            }
        }
    }

    /// The Jacobian of `outputs` with respect to `wrt`: `j[k][i]` = ∂outputs\[k\]/∂wrt\[i\],
    /// one row per output.
    ///
    /// With fewer inputs than outputs it runs forward mode, one tangent sweep per 16 inputs
    /// (each node interpreted once for all 16); otherwise reverse mode, one sweep per output.
    /// Either way nothing is recorded, and the entries equal those of [`Var::backward`] to
    /// rounding (reverse mode: bit for bit).
    ///
    /// ```
    /// use tapegrad::Tape;
    ///
    /// let tape = Tape::new();
    /// let x = tape.vars(&[3.0, 2.0]);
    /// let outputs = [x[0] * x[1], x[0] - x[1], x[1].powi(2)];
    /// let j = tape.jacobian(&outputs, &x);
    /// assert_eq!(j, vec![vec![2.0, 3.0], vec![1.0, -1.0], vec![0.0, 4.0]]);
    /// ```
    ///
    /// # Panics
    ///
    /// If a `Var` belongs to another tape.
    #[track_caller]
    pub fn jacobian<'t>(&'t self, outputs: &[Var<'t>], wrt: &[Var<'t>]) -> Vec<Vec<f64>> {
        check_all(self, outputs, "Tape::jacobian");
        check_all(self, wrt, "Tape::jacobian");
        let mut rows = vec![vec![0.0; wrt.len()]; outputs.len()];
        let Some(root) = outputs.iter().map(|o| o.index()).max() else {
            return rows;
        };
        with_buffers(|b| {
            if wrt.len() < outputs.len() {
                match wrt.len() {
                    0..=4 => self.forward_rows::<4>(root, outputs, wrt, &mut rows, b),
                    5..=8 => self.forward_rows::<8>(root, outputs, wrt, &mut rows, b),
                    _ => self.forward_rows::<LANES>(root, outputs, wrt, &mut rows, b),
                }
            } else {
                for (row, o) in rows.iter_mut().zip(outputs) {
                    // `backward` reuses the tape's gradient buffer: no allocation per row.
                    let g = o.backward();
                    for (entry, &x) in row.iter_mut().zip(wrt) {
                        *entry = g[x];
                    }
                }
            }
        });
        rows
    }
}

impl<'t> Var<'t> {
    /// The directional derivative ∇self · v in one forward (tangent) sweep, with `v[j]` the
    /// direction's component for `wrt[j]`: the product of the gradient with `v`, without the
    /// gradient.
    ///
    /// ```
    /// use tapegrad::Tape;
    ///
    /// let tape = Tape::new();
    /// let x = tape.vars(&[3.0, 2.0]);
    /// let f = x[0] * x[0] * x[1]; // ∇f = (2xy, x²) = (12, 9)
    /// assert_eq!(f.jvp(&x, &[1.0, -1.0]), 3.0);
    /// ```
    ///
    /// Where every number on the way is finite, the result equals `Σ g[wrt[j]]·v[j]` from
    /// [`Var::backward`] to rounding (the products are summed in tape order, not in the order
    /// of `wrt`). NaN and infinities follow IEEE rules along the tangents, as PyTorch's
    /// forward mode does, which can differ from the reverse sweep past an infinite local
    /// derivative: in `x.relu().sqrt()` at 0 relu passes a zero tangent, which sqrt's infinite
    /// slope turns into NaN, while the reverse sweep's relu select turns sqrt's infinite
    /// gradient into 0. Nodes that do not depend on `wrt` contribute nothing, so an infinite
    /// partial of a constant is never multiplied by its zero tangent.
    ///
    /// # Panics
    ///
    /// If `v` and `wrt` differ in length, or a `Var` belongs to another tape.
    #[track_caller]
    pub fn jvp(self, wrt: &[Var<'t>], v: &[f64]) -> f64 {
        check_lengths("Var::jvp", wrt.len(), v.len());
        let tape = self.tape();
        check_all(tape, wrt, "Var::jvp");
        with_buffers(|b| {
            tape.jvp_sweep(self.index(), wrt, v, b);
            jvp_of(b, self.index())
        })
    }

    /// The Hessian of this node with respect to `wrt`, times `v`: Σⱼ ∂²self/∂wrtᵢ∂wrtⱼ · vⱼ for
    /// each `i`, without forming the Hessian and without recording anything.
    ///
    /// Forward over reverse: one tangent sweep along `v`, then one reverse sweep whose
    /// adjoints are dual numbers (value, tangent), run through each operation's own backward
    /// step, so the second derivatives are those of [`Var::grad`]'s recorded gradient
    /// (PyTorch's double backward): relu's and abs's masks are constants, `powf` keeps its rule
    /// at 0, tanh and sigmoid differentiate through their outputs.
    ///
    /// ```
    /// use tapegrad::Tape;
    ///
    /// let tape = Tape::new();
    /// let x = tape.vars(&[3.0, 2.0]);
    /// let f = x[0] * x[0] * x[1]; // the Hessian is [[2y, 2x], [2x, 0]] = [[4, 6], [6, 0]]
    /// assert_eq!(f.hvp(&x, &[1.0, -1.0]), vec![-2.0, 6.0]);
    /// assert_eq!(tape.len(), 4); // nothing recorded
    /// ```
    ///
    /// The product equals the recorded one (`grad`, then `backward` of Σ gᵢvᵢ) to rounding:
    /// the two sum the same products in different orders. Where an intermediate number
    /// overflows the two can differ by more than rounding (a dual number multiplies a zero
    /// tangent by an infinite value where the recorded graph has no such product), so when
    /// the product holds a NaN or an infinity it is computed again the recorded way, which
    /// records on this tape.
    ///
    /// # Panics
    ///
    /// If `v` and `wrt` differ in length, or a `Var` belongs to another tape.
    #[track_caller]
    pub fn hvp(self, wrt: &[Var<'t>], v: &[f64]) -> Vec<f64> {
        check_lengths("Var::hvp", wrt.len(), v.len());
        let tape = self.tape();
        check_all(tape, wrt, "Var::hvp");
        let root = self.index();
        let hv: Vec<f64> = with_buffers(|b| {
            let tangents_finite = tape.tangent_sweep::<1>(
                root,
                wrt,
                |j| Some([v[j]]),
                0,
                &mut b.tangents,
                &mut b.state,
            );
            let finite = tangents_finite && tape.values_finite(root);
            let (tangents, state) = (&b.tangents, &b.state);
            tape.dual_sweep::<1>(root, tangents, state, finite, &mut b.adj_v, &mut b.adj_t);
            wrt.iter()
                .map(|x| {
                    if x.index() <= root {
                        b.adj_t[x.index()]
                    } else {
                        0.0
                    }
                })
                .collect()
        });
        if hv.iter().all(|h| h.is_finite()) {
            return hv;
        }
        let g = self.grad(wrt);
        tape.sum(g.iter().zip(v).map(|(&gi, &vi)| gi * vi))
            .backward()
            .wrt_all(wrt)
    }

    /// The Hessian the recorded way: [`Var::grad`], then one [`Var::backward`] per entry
    /// (reverse over reverse, PyTorch's double backward); it records on the tape.
    pub(crate) fn recorded_hessian(self, wrt: &[Var<'t>]) -> Vec<Vec<f64>> {
        self.grad(wrt)
            .iter()
            .map(|gi| gi.backward().wrt_all(wrt))
            .collect()
    }

    /// The Hessian of this node with respect to `wrt`: `h[i][j]` = ∂²self/∂wrtᵢ∂wrtⱼ, from
    /// ⌈n/16⌉ forward-over-reverse sweeps (16 directions each), with nothing recorded.
    ///
    /// ```
    /// use tapegrad::Tape;
    ///
    /// let tape = Tape::new();
    /// let x = tape.vars(&[3.0, 2.0]);
    /// let f = x[0] * x[0] * x[1];
    /// assert_eq!(f.hessian(&x), vec![vec![4.0, 6.0], vec![6.0, 0.0]]);
    /// ```
    ///
    /// Each pair of entries `h[i][j]`, `h[j][i]` is computed once (the derivative of the
    /// gradient's entry `i` along `wrt[j]`, for `i` at or after `j`'s sweep), so the matrix is
    /// exactly symmetric; it equals the recorded Hessian (rows of [`Var::grad`]'s gradient
    /// differentiated by [`Var::backward`]) to rounding. As [`Var::hvp`], a Hessian with a NaN
    /// or infinity is computed again the recorded way (one [`Var::grad`] and a backward per
    /// row), which records on this tape.
    ///
    /// # Panics
    ///
    /// If a `Var` of `wrt` belongs to another tape.
    #[track_caller]
    pub fn hessian(self, wrt: &[Var<'t>]) -> Vec<Vec<f64>> {
        let tape = self.tape();
        check_all(tape, wrt, "Var::hessian");
        let root = self.index();
        let n = wrt.len();
        let mut rows = vec![vec![0.0; n]; n];
        with_buffers(|b| match n {
            0..=4 => tape.hessian_rows::<4>(root, wrt, &mut rows, b),
            5..=8 => tape.hessian_rows::<8>(root, wrt, &mut rows, b),
            _ => tape.hessian_rows::<LANES>(root, wrt, &mut rows, b),
        });
        if rows.iter().flatten().all(|h| h.is_finite()) {
            return rows;
        }
        self.recorded_hessian(wrt)
    }
}

/// The directions `e_start .. e_start+K` at variable `j`: a 1 in lane `j − start`, or `None`
/// (no tangent at all: a partial derivative holds the other variables fixed) outside them.
fn unit<const K: usize>(j: usize, start: usize) -> Option<[f64; K]> {
    let lane = j.checked_sub(start).filter(|&l| l < K)?;
    let mut d = [0.0; K];
    d[lane] = 1.0;
    Some(d)
}

/// Node `k`'s tangent after a [`Tape::jvp_sweep`].
fn jvp_of(b: &Buffers, k: usize) -> f64 {
    tangent(&b.state, b.tangents.as_chunks::<1>().0, k)[0]
}

/// Grows `buf` to at least `len` numbers; what it holds is stale, written before it is read.
fn grow(buf: &mut Vec<f64>, len: usize) {
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
}

/// Node `k`'s tangents: the buffer's, or zeros for a node that does not depend on `wrt` (the
/// buffer's are stale there).
#[inline(always)]
fn tangent<const K: usize>(state: &[u8], tangents: &[[f64; K]], k: usize) -> [f64; K] {
    if state[k] & TANGENT == 0 {
        [0.0; K]
    } else {
        tangents[k]
    }
}

/// The tangent sweep's accumulator for one node: [`Op::backward`](crate::op::Op::backward)
/// with an upstream gradient of 1 hands it each operand's local partial, which it multiplies
/// by that operand's tangents.
struct Gather<'a, const K: usize> {
    vals: &'a [f64],
    tangents: &'a [[f64; K]],
    state: &'a [u8],
    acc: [f64; K],
}

impl<const K: usize> Adjoints<f64> for Gather<'_, K> {
    #[inline(always)]
    fn needs(&self, k: u32) -> bool {
        self.state[k as usize] & TANGENT != 0
    }

    #[inline(always)]
    unsafe fn value(&self, k: u32) -> f64 {
        self.vals[k as usize]
    }

    #[inline(always)]
    unsafe fn add(&mut self, k: u32, d: f64) {
        let k = k as usize;
        if self.state[k] & TANGENT != 0 {
            for (a, t) in self.acc.iter_mut().zip(&self.tangents[k]) {
                *a += d * t;
            }
        }
    }
}

/// The second-order sweep's adjoints: a value and `K` tangents per node, kept only for the
/// nodes marked [`FEEDS`].
struct DualAdjoints<'a, const K: usize> {
    vals: &'a [f64],
    tangents: &'a [[f64; K]],
    state: &'a [u8],
    adj_v: &'a mut [f64],
    adj_t: &'a mut [[f64; K]],
}

impl<const K: usize> Adjoints<Dual<K>> for DualAdjoints<'_, K> {
    #[inline(always)]
    fn needs(&self, k: u32) -> bool {
        self.state[k as usize] & FEEDS != 0
    }

    #[inline(always)]
    unsafe fn value(&self, k: u32) -> Dual<K> {
        let k = k as usize;
        Dual {
            v: self.vals[k],
            t: tangent(self.state, self.tangents, k),
        }
    }

    #[inline(always)]
    unsafe fn add(&mut self, k: u32, d: Dual<K>) {
        let k = k as usize;
        if self.state[k] & FEEDS != 0 {
            self.adj_v[k] += d.v;
            for (a, t) in self.adj_t[k].iter_mut().zip(d.t) {
                *a += t;
            }
        }
    }
}
