use std::fmt;
use std::ops::Index;

use crate::arena::{GradBuffer, Tape, foreign_var};
use crate::number::Number;
use crate::run::Run;
use crate::var::Var;

/// The gradients from one [`Var::backward`]: d root / d node for every node recorded up to
/// the root.
///
/// Index it with a [`Var`] (or call [`Grads::wrt`]); a node recorded after the root has
/// gradient 0. When a `Grads` is dropped its buffer goes back to the tape, so a training loop
/// that calls `backward` every step does not allocate for it.
///
/// ```
/// let tape = tapegrad::Tape::new();
/// let x = tape.var(3.0);
/// let y = x * x;
/// let later = tape.var(1.0);
/// let g = y.backward();
/// assert_eq!(g[x], 6.0);
/// assert_eq!(g.wrt(y), 1.0);
/// assert_eq!(g[later], 0.0);
/// ```
///
/// # Panics
///
/// Indexing with a `Var` of another tape panics.
pub struct Grads<'t, T: Number = f64> {
    tape: &'t Tape<T>,
    /// The gradients, and what the tape needs to reuse their buffer.
    buffer: GradBuffer<T>,
    /// What indexing returns for a node recorded after the root.
    zero: T,
}

impl<'t, T: Number> Grads<'t, T> {
    pub(crate) fn new(tape: &'t Tape<T>, buffer: GradBuffer<T>) -> Self {
        Grads {
            tape,
            buffer,
            zero: T::default(),
        }
    }

    /// d root / d `v`; the same as `grads[v]`.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let x = tape.var(2.0);
    /// assert_eq!((x * 5.0).backward().wrt(x), 5.0);
    /// ```
    #[inline]
    #[track_caller]
    pub fn wrt(&self, v: Var<'t, T>) -> T {
        self[v]
    }

    /// The gradients of several nodes, in order: what an optimizer or another thread needs.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let w = tape.vars(&[1.0, 2.0]);
    /// let y = w[0] * w[1];
    /// assert_eq!(y.backward().wrt_all(&w), vec![2.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn wrt_all(&self, vars: &[Var<'t, T>]) -> Vec<T> {
        vars.iter().map(|&v| self[v]).collect()
    }

    /// Gradients of the `out.len()` nodes recorded from `first` on (as [`Tape::vars`] records
    /// a parameter vector), copied into `out` as one slice.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let p = tape.vars(&[1.0, 2.0, 3.0]);
    /// let y = tape.dot(&p, &p);
    /// let mut g = [0.0; 3];
    /// y.backward().copy_run(p[0], &mut g);
    /// assert_eq!(g, [2.0, 4.0, 6.0]);
    /// ```
    ///
    /// # Panics
    ///
    /// If `first` belongs to another tape.
    #[track_caller]
    pub fn copy_run(&self, first: Var<'t, T>, out: &mut [T]) {
        if !std::ptr::eq(self.tape, first.tape()) {
            foreign_var("Grads::copy_run");
        }
        let start = first.index().min(self.buffer.grads.len());
        let end = (start + out.len()).min(self.buffer.grads.len());
        let n = end - start;
        out[..n].copy_from_slice(&self.buffer.grads[start..end]);
        out[n..].fill(T::default());
    }

    /// The gradients of a [`Run`]'s nodes, in order.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let p = tape.run(&[1.0, 2.0]);
    /// let y = tape.dot_run(p, p);
    /// assert_eq!(y.backward().wrt_run(p), vec![2.0, 4.0]);
    /// ```
    ///
    /// # Panics
    ///
    /// If the run belongs to another tape.
    #[track_caller]
    pub fn wrt_run(&self, run: Run<'t, T>) -> Vec<T> {
        let mut out = vec![T::default(); run.len()];
        if !run.is_empty() {
            self.copy_run(run.get(0), &mut out);
        } else if !std::ptr::eq(self.tape, run.tape()) {
            foreign_var("Grads::wrt_run");
        }
        out
    }

    /// The tape these gradients are of.
    pub(crate) fn tape(&self) -> &'t Tape<T> {
        self.tape
    }

    /// The gradient of every node from id 0 up to the root, indexed by [`Var::index`], as an
    /// owned `Vec` that no longer borrows the tape, so the tape can be cleared while you keep
    /// it (the buffer is not handed back to the tape for reuse).
    ///
    /// ```
    /// let mut tape = tapegrad::Tape::new();
    /// let x = tape.var(3.0);
    /// let at = x.index();
    /// let grads: Vec<f64> = (x * x).backward().into_vec();
    /// tape.clear();
    /// assert_eq!(grads[at], 6.0);
    /// ```
    pub fn into_vec(mut self) -> Vec<T> {
        // The marks go too: they describe the buffer given away, not the tape's next one.
        std::mem::take(&mut self.buffer).grads
    }

    /// The gradient of every node from id 0 up to the root, indexed by [`Var::index`].
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let x = tape.var(2.0);
    /// let y = x * 3.0;
    /// assert_eq!(y.backward().as_slice(), &[3.0, 1.0]);
    /// ```
    pub fn as_slice(&self) -> &[T] {
        &self.buffer.grads
    }
}

impl<'t, T: Number> Index<Var<'t, T>> for Grads<'t, T> {
    type Output = T;

    #[inline]
    #[track_caller]
    fn index(&self, v: Var<'t, T>) -> &T {
        if !std::ptr::eq(self.tape, v.tape()) {
            foreign_var("indexing Grads");
        }
        self.buffer.grads.get(v.index()).unwrap_or(&self.zero)
    }
}

impl<T: Number> Drop for Grads<'_, T> {
    fn drop(&mut self) {
        self.tape.give_back_buffer(std::mem::take(&mut self.buffer));
    }
}

impl<T: Number> fmt::Debug for Grads<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grads")
            .field("len", &self.buffer.grads.len())
            .finish()
    }
}
