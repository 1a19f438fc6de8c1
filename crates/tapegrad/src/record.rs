//! Recording: the `Tape` methods that add nodes and return a [`Var`] or a [`Run`].

use std::borrow::Borrow;

use crate::arena::{Refused, Tape, foreign_var};
use crate::number::{Number, Storage};
use crate::op::{Activation, Op};
use crate::run::Run;
use crate::var::Var;

impl<T: Number> Tape<T> {
    #[inline(always)]
    #[track_caller]
    pub(crate) fn check(&self, v: &Var<'_, T>, what: &str) {
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
    pub fn var(&self, value: T) -> Var<'_, T> {
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
    pub fn vars(&self, values: &[T]) -> Vec<Var<'_, T>> {
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
    pub fn extend_vars<'t>(&'t self, out: &mut Vec<Var<'t, T>>, values: &[T]) {
        out.reserve(values.len());
        let start = self.push_leaves(values) as usize;
        out.extend(
            values
                .iter()
                .enumerate()
                .map(|(k, &v)| Var::new(self, (start + k) as u32, v)),
        );
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
    pub fn sum<'t, I>(&'t self, terms: I) -> Var<'t, T>
    where
        I: IntoIterator,
        I::Item: Borrow<Var<'t, T>>,
    {
        // The ids are collected into the tape's scratch buffer, taken out while the iterator
        // (user code, which may record nodes or even call `sum`) runs.
        let mut ids = self.with(|t| std::mem::take(&mut t.scratch));
        ids.clear();
        let mut value = T::default();
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
                let at = self.push_operands(ids.iter().copied());
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
    pub fn dot<'t>(&'t self, w: &[Var<'t, T>], x: &[Var<'t, T>]) -> Var<'t, T> {
        if w.len() != x.len() {
            panic!(
                "tapegrad: Tape::dot needs operands of equal length, got {} weights and {} inputs",
                w.len(),
                x.len()
            );
        }
        // The arithmetic of `dot_value`.
        let mut value = [T::default(); 4];
        let mut w_run = true;
        let mut x_run = true;
        for (k, (wk, xk)) in w.iter().zip(x).enumerate() {
            self.check(wk, "Tape::dot");
            self.check(xk, "Tape::dot");
            w_run &= wk.id32() == w[0].id32().wrapping_add(k as u32);
            x_run &= xk.id32() == x[0].id32().wrapping_add(k as u32);
            value[k % 4] = value[k % 4] + wk.value() * xk.value();
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
            // Straight from the operands into the side list: no buffer of ids per node.
            Op::DotList {
                at: self.push_operands(w.iter().chain(x).map(|v| v.id32())),
                len,
            }
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
    pub fn run(&self, values: &[T]) -> Run<'_, T> {
        let start = self.push_leaves(values);
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
    pub fn dot_run<'t>(&'t self, w: Run<'t, T>, x: Run<'t, T>) -> Var<'t, T> {
        self.fused_run(w, x, None, "Tape::dot_run")
    }

    /// Records ONE node for a neuron's pre-activation Σ wᵢ·xᵢ + b (a neuron with
    /// [`Activation::Identity`]), where `w` holds the `n`
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
    pub fn affine<'t>(&'t self, w: Run<'t, T>, x: Run<'t, T>) -> Var<'t, T> {
        self.fused_run(w, x, Some(Activation::Identity), "Tape::affine")
    }

    /// Records ONE node for a whole neuron, `act(Σ wᵢ·xᵢ + b)`, with `w` and `x` laid out as
    /// for [`Tape::affine`]. Its value and gradients are those of
    /// `tape.affine(w, x).relu()` (or `.tanh()`, `.sigmoid()`, or `affine` itself for
    /// [`Activation::Identity`]) bit for bit, PyTorch's
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
    pub fn neuron<'t>(&'t self, w: Run<'t, T>, x: Run<'t, T>, act: Activation) -> Var<'t, T> {
        self.fused_run(w, x, Some(act), "Tape::neuron")
    }

    /// Σ w·x over two runs, then `act` (`None` for a plain dot product, whose `w` has no
    /// bias).
    #[inline(always)]
    #[track_caller]
    fn fused_run<'t>(
        &'t self,
        w: Run<'t, T>,
        x: Run<'t, T>,
        act: Option<Activation>,
        what: &str,
    ) -> Var<'t, T> {
        let bias = usize::from(act.is_some());
        w.check(self, what);
        x.check(self, what);
        let n = x.len();
        if w.len() != n + bias {
            panic!(
                "tapegrad: {what} needs {} weights for {n} inputs, got {}",
                n + bias,
                w.len()
            );
        }
        let (ws, xs) = (w.start32(), x.start32());
        // Inlined into each caller, where the length and the kind are often known.
        let z = self.with(
            #[inline(always)]
            |t| {
                let (w, x) = (t.run_values(ws, n + bias)?, t.run_values(xs, n)?);
                let (w, b) = w.split_at(n);
                let dot = dot_widest(w, x);
                Some(b.first().map_or(dot, |&b| dot + b))
            },
        );
        let z = z.unwrap_or_else(|| Refused::BadOperand.panic());
        let len = x.len32();
        match act {
            None => self.push(Op::DotRange { w: ws, x: xs, len }, z),
            Some(act) => {
                let op = Op::NeuronRange {
                    w: ws,
                    x: xs,
                    len,
                    act,
                };
                self.push(op, z.map(|z| act.apply(z)))
            }
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

/// [`dot_slices`], compiled for AVX2 on a lane tape where the processor has it, as the
/// sweep is: the same operations in the same order, four `f64`s per instruction.
///
/// AVX2 code cannot be inlined into the caller's, so it costs a call, which pays from about
/// 32 lane products on: a 2-input neuron on 4 or 8 lanes ran faster inline (the demo's
/// `neuron` training on 8 lanes 13 % faster in all), one on 16 lanes faster called.
#[inline(always)]
fn dot_widest<T: Number>(w: &[T], x: &[T]) -> T {
    #[cfg(target_arch = "x86_64")]
    if T::LANES > 1 && x.len() * T::LANES >= 32 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has AVX2, checked just above.
        return unsafe { dot_avx2(w, x) };
    }
    dot_slices(w, x)
}

/// [`dot_slices`] compiled with AVX2.
///
/// # Safety
///
/// The processor must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_avx2<T: Storage>(w: &[T], x: &[T]) -> T {
    dot_slices(w, x)
}

/// [`dot_value`] for slices of equal length, over any [`Storage`] number.
#[inline(always)]
fn dot_slices<T: Storage>(w: &[T], x: &[T]) -> T {
    // Lane l adds products l, l + 4, … in order; chunks of four let it vectorize.
    let mut acc = [T::default(); 4];
    let (wc, xc) = (w.chunks_exact(4), x.chunks_exact(4));
    let (wr, xr) = (wc.remainder(), xc.remainder());
    for (a, b) in wc.zip(xc) {
        for l in 0..4 {
            acc[l] = acc[l] + a[l] * b[l];
        }
    }
    for (l, (a, b)) in wr.iter().zip(xr).enumerate() {
        acc[l] = acc[l] + *a * *b;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}
