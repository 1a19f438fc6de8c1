//! Second derivatives of a function of several variables, built on [`Var::grad`]: the
//! Hessian-vector product [`hvp`] and the full [`hessian`].
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

/// Runs `f` on this thread's scratch tape, cleared (a fresh one if `f` is already using it:
/// a closure may call `hvp` itself).
fn with_scratch<R>(f: impl FnOnce(&Tape) -> R) -> R {
    let mut tape = SCRATCH.take().unwrap_or_default();
    let out = f(&tape);
    tape.clear();
    SCRATCH.set(Some(tape));
    out
}

/// The Hessian of `f` at `point`: `h[i][j]` = ∂²f / ∂xᵢ∂xⱼ.
///
/// `f` is recorded once; [`Var::grad`] records its gradient on the same tape, and one
/// [`Var::backward`] from each gradient component gives one row (so row `i` is the gradient of
/// ∂f/∂xᵢ, and the matrix is symmetric to rounding). Second derivatives at kinks and poles
/// follow [`Var::grad`]'s conventions: `relu''` and `abs''` are 0, `x²` has 2 at 0.
///
/// ```
/// // f(x, y) = x²y: the Hessian is [[2y, 2x], [2x, 0]].
/// let h = tapegrad::hessian(|_, v| v[0] * v[0] * v[1], &[3.0, 2.0]);
/// assert_eq!(h, vec![vec![4.0, 6.0], vec![6.0, 0.0]]);
/// ```
///
/// The cost is one recording of `f` and of its gradient, then `point.len()` sweeps over the
/// tape; for a product with a single direction use [`hvp`], which needs one sweep.
pub fn hessian<F>(f: F, point: &[f64]) -> Vec<Vec<f64>>
where
    F: for<'t> Fn(&'t Tape, &[Var<'t>]) -> Var<'t>,
{
    with_scratch(|tape| value_and_hessian(tape, f, point).1)
}

/// The value of `f` at `point` and its Hessian, recorded on `tape` (which may hold nodes
/// already): what [`hessian`] and the second-order check both need.
pub(crate) fn value_and_hessian<F>(tape: &Tape, f: F, point: &[f64]) -> (f64, Vec<Vec<f64>>)
where
    F: for<'t> Fn(&'t Tape, &[Var<'t>]) -> Var<'t>,
{
    let x = tape.vars(point);
    let y = f(tape, &x);
    let g = y.grad(&x);
    let rows = g.iter().map(|gi| gi.backward().wrt_all(&x)).collect();
    (y.value(), rows)
}

/// The Hessian of `f` at `point` times the vector `v`: Σⱼ (∂²f / ∂xᵢ∂xⱼ)·vⱼ for each `i`,
/// without forming the Hessian.
///
/// Reverse over reverse: [`Var::grad`] records the gradient g, then one [`Var::backward`]
/// from the scalar Σ gᵢ·vᵢ (with the vᵢ as constants) gives the product, so the cost is a
/// small constant times one gradient whatever the number of variables.
///
/// ```
/// // f(x, y) = x²y at (3, 2): the Hessian is [[4, 6], [6, 0]].
/// let hv = tapegrad::hvp(|_, v| v[0] * v[0] * v[1], &[3.0, 2.0], &[1.0, -1.0]);
/// assert_eq!(hv, vec![4.0 - 6.0, 6.0]);
/// ```
///
/// # Panics
///
/// If `v` and `point` differ in length.
#[track_caller]
pub fn hvp<F>(f: F, point: &[f64], v: &[f64]) -> Vec<f64>
where
    F: for<'t> Fn(&'t Tape, &[Var<'t>]) -> Var<'t>,
{
    if v.len() != point.len() {
        panic!(
            "tapegrad::hvp needs a direction v of the point's length, got a point of {} and v of {}",
            point.len(),
            v.len()
        );
    }
    with_scratch(|tape| {
        let x = tape.vars(point);
        let g = f(tape, &x).grad(&x);
        let gv = tape.sum(g.iter().zip(v).map(|(&gi, &vi)| gi * vi));
        gv.backward().wrt_all(&x)
    })
}
