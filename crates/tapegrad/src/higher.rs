//! Derivatives of a function of several variables given as a closure: the directional
//! derivative [`jvp`], the [`jacobian`], the Hessian-vector product [`hvp`] and the full
//! [`hessian`].
//!
//! Both take the function in the form [`check::gradient`](crate::check::gradient) takes it: a
//! closure that gets a tape and one leaf per coordinate of the point, and returns the output
//! node. They record on a tape kept per thread, so repeated calls reuse its memory (it keeps
//! the capacity of the largest call).

use std::cell::Cell;

use crate::arena::Tape;
use crate::var::Var;

thread_local! {
    /// The tape [`hvp`] and [`hessian`] record on, kept per thread: a tape that grows from
    /// empty on every call pays for fresh memory each time (page faults, on an MLP loss of
    /// 23k nodes, longer than the arithmetic); a kept one reuses its allocation.
    static SCRATCH: Cell<Option<Tape>> = const { Cell::new(None) };
}

/// This thread's scratch tape, empty (a fresh one if a caller up the stack holds it: a closure
/// may call `hvp` itself). The functions below take it, record on it and hand it back with
/// [`give_back`] (a panic leaves the kept tape behind; the next call makes a new one).
fn scratch() -> Tape {
    SCRATCH.take().unwrap_or_default()
}

/// Panics unless the direction `v` has the point's length.
#[track_caller]
fn same_length(what: &str, point: &[f64], v: &[f64]) {
    if v.len() != point.len() {
        panic!(
            "{what} needs a direction v of the point's length, got a point of {} and v of {}",
            point.len(),
            v.len()
        );
    }
}

/// Records `f` at `point` on the scratch tape, checks that it returned a node of that tape
/// (`what` names the check; here, outside `then`, so that `#[track_caller]` reports the
/// caller's line), and hands the result and the leaves to `then`.
#[track_caller]
fn on_scratch<F, R>(
    what: &str,
    f: F,
    point: &[f64],
    then: impl for<'t> FnOnce(Var<'t>, &[Var<'t>]) -> R,
) -> R
where
    F: for<'t> Fn(&'t Tape, &[Var<'t>]) -> Var<'t>,
{
    let tape = scratch();
    let x = tape.vars(point);
    let y = f(&tape, &x);
    tape.check(&y, what);
    let out = then(y, &x);
    drop(x);
    give_back(tape);
    out
}

fn give_back(mut tape: Tape) {
    tape.clear();
    SCRATCH.set(Some(tape));
}

/// The Hessian of `f` at `point`: `h[i][j]` = ∂²f / ∂xᵢ∂xⱼ.
///
/// `f` is recorded once; then [`Var::hessian`] runs ⌈n/16⌉ forward-over-reverse sweeps over
/// the tape (16 directions each), recording nothing more; the matrix is exactly symmetric
/// (each pair of entries is computed once). Second derivatives at kinks
/// and poles follow [`Var::grad`]'s conventions: `relu''` and `abs''` are 0, `x²` has 2 at 0.
///
/// ```
/// // f(x, y) = x²y: the Hessian is [[2y, 2x], [2x, 0]].
/// let h = tapegrad::hessian(|_, v| v[0] * v[0] * v[1], &[3.0, 2.0]);
/// assert_eq!(h, vec![vec![4.0, 6.0], vec![6.0, 0.0]]);
/// ```
///
/// For a product with a single direction use [`hvp`], which needs one sweep.
///
/// # Panics
///
/// If `f` returns a `Var` of another tape than the one it was given.
#[track_caller]
pub fn hessian<F>(f: F, point: &[f64]) -> Vec<Vec<f64>>
where
    F: for<'t> Fn(&'t Tape, &[Var<'t>]) -> Var<'t>,
{
    on_scratch(
        "tapegrad::hessian (as the closure's result)",
        f,
        point,
        |y, x| y.hessian(x),
    )
}

/// The value of `f` at `point` and its Hessian the recorded way (reverse over reverse), on
/// `tape` (which may hold nodes already): the second-order check's reference.
pub(crate) fn value_and_hessian<F>(tape: &Tape, f: F, point: &[f64]) -> (f64, Vec<Vec<f64>>)
where
    F: for<'t> Fn(&'t Tape, &[Var<'t>]) -> Var<'t>,
{
    let x = tape.vars(point);
    let y = f(tape, &x);
    (y.value(), y.recorded_hessian(&x))
}

/// The Hessian of `f` at `point` times the vector `v`: Σⱼ (∂²f / ∂xᵢ∂xⱼ)·vⱼ for each `i`,
/// without forming the Hessian.
///
/// Forward over reverse ([`Var::hvp`]): `f` is recorded once, then one tangent sweep along
/// `v` and one reverse sweep over dual numbers give the product, at a small constant times
/// one gradient whatever the number of variables, with nothing recorded beyond `f`.
///
/// ```
/// // f(x, y) = x²y at (3, 2): the Hessian is [[4, 6], [6, 0]].
/// let hv = tapegrad::hvp(|_, v| v[0] * v[0] * v[1], &[3.0, 2.0], &[1.0, -1.0]);
/// assert_eq!(hv, vec![4.0 - 6.0, 6.0]);
/// ```
///
/// # Panics
///
/// If `v` and `point` differ in length, or `f` returns a `Var` of another tape than the one
/// it was given.
#[track_caller]
pub fn hvp<F>(f: F, point: &[f64], v: &[f64]) -> Vec<f64>
where
    F: for<'t> Fn(&'t Tape, &[Var<'t>]) -> Var<'t>,
{
    same_length("tapegrad::hvp", point, v);
    on_scratch(
        "tapegrad::hvp (as the closure's result)",
        f,
        point,
        |y, x| y.hvp(x, v),
    )
}

/// The value of `f` at `x` and its directional derivative ∇f(x)·v, from one recording and one
/// forward (tangent) sweep.
///
/// ```
/// // f(x, y) = x²y at (3, 2): ∇f = (12, 9).
/// let (y, dy) = tapegrad::jvp(|_, v| v[0] * v[0] * v[1], &[3.0, 2.0], &[1.0, -1.0]);
/// assert_eq!((y, dy), (18.0, 3.0));
/// ```
///
/// The value has the bits of the recorded value; the derivative equals the gradient's
/// product with `v` to rounding ([`Var::jvp`]).
///
/// # Panics
///
/// If `v` and `x` differ in length, or `f` returns a `Var` of another tape than the one it
/// was given.
#[track_caller]
pub fn jvp<F>(f: F, x: &[f64], v: &[f64]) -> (f64, f64)
where
    F: for<'t> Fn(&'t Tape, &[Var<'t>]) -> Var<'t>,
{
    same_length("tapegrad::jvp", x, v);
    on_scratch("tapegrad::jvp (as the closure's result)", f, x, |y, xs| {
        (y.value(), y.jvp(xs, v))
    })
}

/// The Jacobian of a function with several outputs at `x`: `j[k][i]` = ∂fₖ/∂xᵢ, one row per
/// output.
///
/// `f` is recorded once; then [`Tape::jacobian`] runs forward mode when there are fewer
/// inputs than outputs (one tangent sweep per 16 inputs: the shape of a least-squares
/// residual) and reverse mode otherwise (one sweep per output).
///
/// ```
/// // r(a, b) = (a·t − b) for t = 0, 1, 2: a residual that is linear in (a, b).
/// let j = tapegrad::jacobian(
///     |_, p| (0..3).map(|t| p[0] * t as f64 - p[1]).collect(),
///     &[2.0, 1.0],
/// );
/// assert_eq!(j, vec![vec![0.0, -1.0], vec![1.0, -1.0], vec![2.0, -1.0]]);
/// ```
///
/// # Panics
///
/// If `f` returns a `Var` of another tape than the one it was given.
#[track_caller]
pub fn jacobian<F>(f: F, x: &[f64]) -> Vec<Vec<f64>>
where
    F: for<'t> Fn(&'t Tape, &[Var<'t>]) -> Vec<Var<'t>>,
{
    let tape = scratch();
    let xs = tape.vars(x);
    let ys = f(&tape, &xs);
    for y in &ys {
        tape.check(y, "tapegrad::jacobian (as the closure's result)");
    }
    let j = tape.jacobian(&ys, &xs);
    drop(ys);
    give_back(tape);
    j
}
