use std::fmt;
use std::ops::Range;

use crate::arena::{Tape, foreign_var};
use crate::number::Number;
use crate::var::Var;

/// A run of consecutive nodes on one tape: a parameter vector bound with [`Tape::run`], or a
/// layer's outputs recorded one after another.
///
/// A `Run` is checked once, when it is made, so operations on runs ([`Tape::dot_run`],
/// [`Tape::affine`]) cost O(1) checks however long they are, where [`Tape::dot`] checks every
/// operand. Its nodes are ordinary nodes: [`Run::get`] gives the `Var` of any of them.
///
/// ```
/// use tapegrad::{Run, Tape};
///
/// let tape = Tape::new();
/// let w = tape.run(&[0.5, -1.0, 2.0]);
/// let x = tape.run(&[4.0, 3.0, 1.0]);
/// let y = tape.dot_run(w, x);
/// assert_eq!(y.value(), 1.0);
///
/// let g = y.backward();
/// assert_eq!(g.wrt_run(w), vec![4.0, 3.0, 1.0]);
/// assert_eq!(g[x.get(0)], 0.5);
///
/// // Any contiguous slice of Vars is a run, too.
/// let v = tape.vars(&[1.0, 2.0]);
/// assert_eq!(Run::new(&v).unwrap().len(), 2);
/// ```
#[derive(Clone, Copy)]
pub struct Run<'t, T: Number = f64> {
    tape: &'t Tape<T>,
    start: u32,
    len: u32,
}

impl<T: Number> fmt::Debug for Run<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = self.start as usize + self.len as usize;
        write!(f, "Run({}..{end})", self.start)
    }
}

impl<'t, T: Number> Run<'t, T> {
    /// Only for ids `start .. start + len` that exist on `tape`.
    pub(crate) fn from_parts(tape: &'t Tape<T>, start: u32, len: u32) -> Self {
        Run { tape, start, len }
    }

    pub(crate) fn start32(&self) -> u32 {
        self.start
    }

    pub(crate) fn len32(&self) -> u32 {
        self.len
    }

    /// The run of `vars` if they are consecutive nodes of one tape (an empty slice has no
    /// tape, so it gives `None` too).
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let v = tape.vars(&[1.0, 2.0, 3.0]);
    /// assert!(tapegrad::Run::new(&v).is_some());
    /// assert!(tapegrad::Run::new(&[v[0], v[2]]).is_none());
    /// ```
    pub fn new(vars: &[Var<'t, T>]) -> Option<Self> {
        let first = vars.first()?;
        let tape = first.tape();
        let start = first.index() as u32;
        let ok = vars.iter().enumerate().all(|(k, v)| {
            std::ptr::eq(v.tape(), tape) && v.index() as u32 == start.wrapping_add(k as u32)
        });
        ok.then(|| Run::from_parts(tape, start, vars.len() as u32))
    }

    /// The tape the run is on.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// assert!(std::ptr::eq(tape.run(&[1.0]).tape(), &tape));
    /// ```
    pub fn tape(&self) -> &'t Tape<T> {
        self.tape
    }

    /// The number of nodes.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// assert_eq!(tape.run(&[1.0, 2.0]).len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the run has no nodes.
    ///
    /// ```
    /// let tape = tapegrad::Tape::<f64>::new();
    /// assert!(tape.run(&[]).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The id of the first node ([`Var::index`]), where the run starts.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let _a = tape.var(1.0);
    /// assert_eq!(tape.run(&[2.0, 3.0]).start(), 1);
    /// ```
    pub fn start(&self) -> usize {
        self.start as usize
    }

    /// The `i`-th node of the run.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let r = tape.run(&[1.0, 2.0]);
    /// assert_eq!(r.get(1).value(), 2.0);
    /// ```
    ///
    /// # Panics
    ///
    /// If `i >= self.len()`.
    #[inline]
    #[track_caller]
    pub fn get(&self, i: usize) -> Var<'t, T> {
        assert!(
            i < self.len(),
            "tapegrad: index {i} out of a run of {} nodes",
            self.len
        );
        let id = self.start + i as u32;
        Var::new(self.tape, id, self.tape.value_of(id))
    }

    /// The nodes `range` of this run, as a run.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let r = tape.run(&[1.0, 2.0, 3.0, 4.0]);
    /// let mid = r.slice(1..3);
    /// assert_eq!((mid.start(), mid.len()), (1, 2));
    /// ```
    ///
    /// # Panics
    ///
    /// If the range is not within the run.
    #[inline]
    #[track_caller]
    pub fn slice(&self, range: Range<usize>) -> Run<'t, T> {
        assert!(
            range.start <= range.end && range.end <= self.len(),
            "tapegrad: range {range:?} out of a run of {} nodes",
            self.len
        );
        Run::from_parts(
            self.tape,
            self.start + range.start as u32,
            (range.end - range.start) as u32,
        )
    }

    /// The nodes as `Var`s.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// let r = tape.run(&[1.0, 2.0]);
    /// let s = tape.sum(r.iter());
    /// assert_eq!(s.value(), 3.0);
    /// ```
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Var<'t, T>> + use<'t, T> {
        let run = *self;
        (0..self.len()).map(move |i| run.get(i))
    }

    /// The nodes as a `Vec` of `Var`s.
    ///
    /// ```
    /// let tape = tapegrad::Tape::new();
    /// assert_eq!(tape.run(&[5.0, 6.0]).to_vec()[1].value(), 6.0);
    /// ```
    pub fn to_vec(&self) -> Vec<Var<'t, T>> {
        self.iter().collect()
    }

    #[inline(always)]
    #[track_caller]
    pub(crate) fn check(&self, tape: &Tape<T>, what: &str) {
        if !std::ptr::eq(self.tape, tape) {
            foreign_var(what);
        }
    }
}
