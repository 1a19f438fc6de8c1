//! # tapegrad
//!
//! Scalar reverse-mode automatic differentiation on a flat arena tape: what Karpathy's
//! micrograd does, with an arena instead of a pointer graph.
//!
//! ```
//! use tapegrad::{Grads, Tape, Var};
//!
//! let tape = Tape::new();
//! let a = tape.var(2.0).with_label("a");
//! let b = tape.var(-3.0);
//! let c = tape.var(10.0);
//! let f = tape.var(-2.0);
//! let l: Var = (a * b + c) * f;   // operators record nodes; Var is Copy
//! assert_eq!(l.value(), -8.0);
//! let g: Grads = l.backward();   // d l / d every node recorded up to l
//! assert_eq!((g[a], g[b], g[c], g[f]), (6.0, -4.0, -2.0, 4.0));
//! ```
//!
//! ## How it works: the tape
//!
//! A [`Tape`] stores one entry per scalar node in flat vectors: its value, and its operation
//! with the `u32` ids of its operands. A node can only be built from nodes that already exist,
//! so **every operand id is smaller than the id of the node that uses it**. Insertion order is
//! therefore a topological order, and [`Var::backward`] is one reverse loop over the tape, the
//! shape of Stan Math's reverse mode: seed the root's gradient with 1, then for each node from
//! the root down to id 0, add its gradient times each local derivative into its operands'
//! slots. No sorting, no recursion (a chain of a million nodes is fine on a small stack), no
//! reference counting. The [`Tape`] docs show the table for a small expression.
//!
//! [`Var`] is a `Copy` handle (tape, id, value) that borrows its tape, so it cannot outlive it
//! or survive [`Tape::clear`]. Constants (`2.0 * x`, `x + 1.0`, `x.powf(3.0)`) are stored in
//! the node that uses them, never recorded as leaves. [`Tape::sum`] and [`Tape::dot`] record
//! ONE node for any number of operands, and when the operands were recorded one after another
//! (as [`Tape::vars`] records them) the node stores a range and runs over slices.
//!
//! ## Fast paths: runs and fused nodes
//!
//! A neuron recorded as `w₀·x₀ + w₁·x₁ + … + b` costs a node per `*` and `+`, as micrograd's
//! graph does. [`Tape::dot`] records the sum of products as ONE node; better still, a [`Run`]
//! (consecutive nodes, checked once when made: [`Tape::run`] binds leaves as one) lets
//! [`Tape::dot_run`] and [`Tape::affine`] record Σ w·x (+ b) as one node whose forward and
//! backward passes run over slices with O(1) checks, and [`Tape::neuron`] a whole neuron,
//! act(Σ w·x + b), with the value and gradient bits of `affine` followed by the activation:
//!
//! ```
//! use tapegrad::{Activation, Run, Tape};
//!
//! let tape = Tape::new();
//! let params = tape.run(&[0.5, -1.0, 0.1, 2.0, 1.0, -0.3]); // two neurons: w₀ w₁ b each
//! let x = tape.run(&[1.0, 2.0]);
//! // One node per neuron, so a layer's outputs are consecutive: the next layer's input run.
//! let h: Vec<_> = (0..2)
//!     .map(|j| tape.neuron(params.slice(3 * j..3 * j + 3), x, Activation::Relu))
//!     .collect();
//! let h = Run::new(&h).unwrap();
//! let out = tape.dot_run(h, h);
//! let g = out.backward();
//! assert_eq!(g.wrt_run(params).len(), 6);
//! assert_eq!(tape.len(), 6 + 2 + 2 + 1);
//! ```
//!
//! ## Numeric conventions
//!
//! Gradients follow PyTorch (float64) at every kink, pole and overflow, so results agree with
//! it to rounding. Second derivatives ([`Var::grad`] of a gradient) follow PyTorch's double
//! backward: each derivative formula is recorded as written, so its masks are constants.
//!
//! | op | gradient | second derivative | edge cases |
//! |---|---|---|---|
//! | `+ - neg`, `sum` | pass-through | 0 | `inf + -inf` is NaN, gradients still 1 |
//! | `*`, `dot` | g·other | the cross terms: d²(ab)/da db = 1 | `inf * 0` is NaN, gradients (0, inf) |
//! | `/` | g/b, −g·((a/b)/b) | d²(a/b)/db² = 2a/b³ | a primitive: `1/0` gives (inf, −inf) |
//! | `powf(e)`, `powi(n)` | e·xᵉ⁻¹, and 0 when e = 0 | e(e−1)·xᵉ⁻², by the same rule: `x²` at 0 gives 2, `x³` and `x¹` give 0 | `0⁰` = 1 with gradient 0; `0^-1` gradient −inf; e = ±½ computed as `sqrt`, `1/sqrt` (PyTorch's way), so `(-0)^½` = −0 with gradient −inf |
//! | `exp` | y | y | overflows to inf above 709.78 |
//! | `ln` | 1/x | −1/x² | `ln(+0)` gradient +inf; `ln(-1)` NaN with gradient −1 |
//! | `tanh` | 1 − y² | −2y(1 − y²), through y | `tanh(1000)` = 1, gradient 0 |
//! | `sigmoid` | y(1 − y) | y(1 − y)(1 − 2y), through y | never NaN: `sigmoid(-1000)` = 0, gradient 0 |
//! | `relu` | select on y ≤ 0 | 0 everywhere, 0 included (the mask is a constant) | relu'(0) = 0; NaN stays NaN |
//! | `sqrt` | 1/(2y) | −1/(4x^{3/2}) | `sqrt(0)` gradient +inf, `sqrt(-0)` gradient −inf |
//! | `abs` | sgn(x) | 0 (sgn is a constant) | abs'(0) = 0 |
//! | `recip` | −y² | 2/x³ | `recip(0)` gradient −inf |
//! | `sin`, `cos` | cos x, −sin x | −sin x, −cos x | |
//! | `sinh`, `cosh` | cosh x, sinh x | sinh x, cosh x | overflow to ±inf beyond \|x\| ≈ 710 |
//! | `affine`, `neuron` | as `dot` then `+ b`, then the activation's row | as the same function written with `dot`, `+` and the activation | `neuron` equals `affine` then the activation bit for bit |
//!
//! [`hvp`] and [`hessian`] (forward over reverse) run these same rules, so they give the
//! second-derivative column too. They can differ from the recorded product in the last bits
//! (the same products, summed in another order) and where an intermediate overflows: a result
//! with a NaN or an infinity is computed again the recorded way. A tangent ([`Var::jvp`]) can
//! be NaN where `backward`'s gradient is finite, past an infinite local derivative:
//! `x.relu().sqrt()` at 0, where `backward`'s select drops sqrt's infinite partial and the
//! tangent sweep multiplies it by relu's zero tangent.
//!
//! Two places where results can differ from PyTorch's in the last bit or the sign of a zero:
//! gradients accumulate from +0, so a gradient that is exactly zero is +0 where PyTorch,
//! which stores the first contribution as is, may report −0; and `c / x` for a constant `c`
//! is computed as one correctly rounded division with the div rule's gradient, where Python's
//! `c / tensor` multiplies `c` by `x.reciprocal()`.
//!
//! NaN and ±inf are data, not errors: they propagate by IEEE rules. A node the root does not
//! depend on gets gradient exactly 0, and a node used twice accumulates both contributions.
//! To find where a NaN came from, turn on [`Tape::set_detect_anomaly`] and call
//! [`Var::backward_checked`]; nodes that [`Var::grad`] records are reported at the line that
//! called `grad`.
//!
//! ## Higher-order derivatives
//!
//! [`Var::grad`] records the reverse sweep onto the same tape, so gradients are nodes: use
//! them in a loss (a gradient penalty, a physics-informed residual), call `grad` on them again
//! for a Hessian row or a third derivative, or `backward` through them.
//!
//! ```
//! use tapegrad::Tape;
//!
//! let tape = Tape::new();
//! let x = tape.var(0.5);
//! let y = x.sin() * x; // y = x·sin x
//! let dy = y.grad(&[x])[0]; // sin x + x·cos x
//! let d2y = dy.grad(&[x])[0]; // 2 cos x − x·sin x
//! assert!((d2y.value() - (2.0 * 0.5f64.cos() - 0.5 * 0.5f64.sin())).abs() < 1e-15);
//! assert_eq!(dy.value(), y.backward()[x]); // the same bits as backward
//! ```
//!
//! ## Forward mode and second derivatives
//!
//! A tangent sweep runs the tape forward, carrying each node's derivative along a direction;
//! running the reverse sweep over (value, tangent) pairs then gives a Hessian-vector product
//! (forward over reverse). Neither records a node, and both use the op table's rules, so they
//! follow the conventions below. Costs are medians of the project's bench (`benches/higher.rs`)
//! on a 337-parameter tanh MLP's MSE loss (10,657 nodes), where one gradient (record and
//! `backward`) takes 65 µs (one run on a 2-core machine; compare the ratios):
//!
//! | you want | use | cost |
//! |---|---|---|
//! | ∇f·v along one direction | [`jvp`], [`Var::jvp`], [`Tape::jvp`] (several outputs) | one recording and one tangent sweep |
//! | a Jacobian with few inputs and many outputs (residuals of a fit) | [`jacobian`], [`Tape::jacobian`]: forward mode, one sweep per 16 inputs | 4 inputs, 200 outputs (2,044 nodes): 25.3 µs with the recording, 4.1× one recording (6.1 µs) |
//! | a Jacobian with many inputs and few outputs | the same functions: reverse mode, one sweep per output | 200 inputs, 4 outputs (11,060 nodes): 161 µs, 6.8× one recording (23.6 µs) |
//! | H·v, for Newton-CG or a trust region | [`hvp`], [`Var::hvp`] | 158 µs, 2.4× a gradient (the recorded product it replaced: 421 µs, 6.5×) |
//! | the whole Hessian | [`hessian`], [`Var::hessian`]: one pair of sweeps per 16 variables, each pair of entries once | 337 × 337: 3.95 ms, 61× a gradient |
//! | a loss that contains a gradient, third derivatives | [`Var::grad`] | records the gradient as nodes |
//!
//! ```
//! use tapegrad::Tape;
//!
//! // f(x, y) = x²·y at (3, 2): ∇f = (12, 9), the Hessian is [[4, 6], [6, 0]].
//! let (y, dy) = tapegrad::jvp(|_, v| v[0] * v[0] * v[1], &[3.0, 2.0], &[1.0, 1.0]);
//! assert_eq!((y, dy), (18.0, 21.0));
//! let hv = tapegrad::hvp(|_, v| v[0] * v[0] * v[1], &[3.0, 2.0], &[1.0, 1.0]);
//! assert_eq!(hv, vec![10.0, 6.0]);
//!
//! // On your own tape: a residual vector with 2 inputs and 3 outputs runs forward mode.
//! let tape = Tape::new();
//! let p = tape.vars(&[2.0, 0.5]);
//! let r: Vec<_> = [0.0, 1.0, 2.0].iter().map(|&t| p[0] * (p[1] * t).exp()).collect();
//! let j = tape.jacobian(&r, &p);
//! assert_eq!(j[0], vec![1.0, 0.0]); // at t = 0: ∂/∂a = e⁰, ∂/∂b = a·t·e⁰
//! assert_eq!(tape.len(), 2 + 3 * 3); // nothing recorded by the sweeps
//! ```
//!
//! ## Batch lanes
//!
//! Every node of a `Tape` carries one `f64`, so running a model on 100 samples interprets
//! its recording 100 times. A `Tape<Lanes<N>>` records the program once and carries N
//! samples in each node ([`Lanes`]), the way JAX's `vmap` batches a function: one dispatch per
//! node for N samples, and per-node work over N numbers that the compiler vectorizes. The
//! code is the same; only the number type changes.
//!
//! ```
//! use tapegrad::{Lanes, Tape, Var};
//!
//! let tape = Tape::<Lanes<8>>::new();
//! let x: Var<'_, Lanes<8>> = tape.var(Lanes::new([0.1, -0.4, 0.9, 1.3, -2.0, 0.0, 0.55, -0.05]));
//! let w = tape.var(Lanes::splat(0.3)); // a parameter: the same number in every lane
//! let y = ((w * x + 1.0).relu() * 2.0).tanh(); // f64 constants apply to every lane
//! let g = y.backward(); // every lane seeded with 1
//! let dw: f64 = g[w].sum(); // a parameter's gradient: the sum over the samples
//! let dx: [f64; 8] = g[x].to_array(); // per-sample gradients
//!
//! // Lane 2 is exactly the scalar program run on lane 2's input.
//! let scalar = Tape::new();
//! let (xs, ws) = (scalar.var(0.9), scalar.var(0.3));
//! let ys = ((ws * xs + 1.0).relu() * 2.0).tanh();
//! assert_eq!(ys.value().to_bits(), y.value().to_array()[2].to_bits());
//! assert_eq!(ys.backward()[xs].to_bits(), dx[2].to_bits());
//! # let _ = dw;
//! ```
//!
//! - **Each lane is the scalar program.** Every operation and derivative runs lane by lane
//!   with the same IEEE formula as on `f64` (no approximate vector math), so lane `l` of every
//!   value and gradient has the bits a `Tape<f64>` gives on lane `l`'s numbers: kinks, poles,
//!   overflow and ±0 included. The sweep's zero-adjoint skip and its non-finite handling hold
//!   per lane (a skipped lane adds −0, which leaves an adjoint's bits alone), so a NaN or an
//!   infinity in one lane reaches no other lane's gradient, and
//!   [`Var::backward_checked`]'s [`Anomaly`] names the lane ([`Anomaly::lane`]).
//! - **Parameters and padding.** A parameter is a leaf of [`Lanes::splat`]; its gradient is
//!   the sum of its lanes ([`Lanes::sum`], in lane order, so it differs from a scalar
//!   accumulation over the samples in rounding only). When the samples do not fill the last
//!   group, fill the spare lanes with any finite input and multiply their loss by a lane
//!   weight of 0: they then add exact zeros to every parameter's gradient. A term that must
//!   count once (an L2 penalty) goes in one lane only.
//! - **No branching on a value.** [`Var::value`] returns the [`Lanes`], so code cannot take a
//!   branch on one sample's number. Write data-dependent choices as the selects the tape
//!   has: `(1.0 - y * s).relu()` for a hinge `max(0, 1 − y·s)`, `abs`, and the fused
//!   [`Tape::neuron`] activations. Per-sample constants (labels) are leaves:
//!   `tape.var(Lanes::new(labels))`.
//! - **What lane tapes do not have.** Second order ([`Var::grad`], [`hvp`], [`hessian`]) and
//!   forward mode ([`jvp`], [`jacobian`]) run on `Tape<f64>` only, as do [`check`] and
//!   [`Real`], whose formulas read a single value.
//! - **Cost.** A node costs 16 bytes of operation plus its value, 8·N bytes. `N` is a const
//!   generic from 1 to 64. On the demo (a 2-16-16-1 network) one recording per 8 samples runs the
//!   step 1.7× to 2.1× faster than `Tape<f64>` with neuron nodes and 2.1× to 2.7× with
//!   a node per `+ * relu` (on two machines). On
//!   x86-64 a lane tape's sweep and fused dots run on AVX2 when the processor has it (chosen
//!   at run time; the same IEEE operations in the same order, so the same bits). A group of
//!   samples costs its backward pass until every lane of it is inactive (a node is skipped
//!   only when its adjoint is 0 in every lane). A lane tape with more than 256 KiB of gradients
//!   sweeps sparsely: it skips blocks of 64 nodes that nothing was added to without reading
//!   them, and resets only the blocks it wrote before its next sweep, which saves whole-tape
//!   passes over memory when few samples are active. While it records, a lane tape prefetches
//!   the slots 1 KiB ahead (each push stores a cache line or more that the last step left in
//!   L2) and checks its values for infinities and NaNs 4 KiB at a time, while they are still
//!   in L1, so that its sweep need not read the whole tape back first.
//!
//! `Tape::new()` infers its number from what is recorded on it (`tape.var(2.0)` makes a
//! `Tape<f64>`); a tape on which nothing is recorded names it: `Tape::<f64>::new()`, or
//! `let tape: Tape = Tape::new();`, since `Tape` in a type is `Tape<f64>`.
//!
//! ## Source layout
//!
//! | file | what it holds |
//! |---|---|
//! | `op.rs` | every operation: the `Op` enum, the table of elementwise functions (name, forward, derivative, pole), the binary and constant operations, the activations, and `Op::backward`, the one backward step of every op |
//! | `arena.rs` | the tape's storage, [`Tape::push`](Tape) (the only writer of an operation, which checks its operands) and the interior mutability with its `unsafe` |
//! | `record.rs` | the [`Tape`] methods that record nodes ([`Tape::var`], [`Tape::sum`], [`Tape::dot`], runs, fused nodes) |
//! | `var.rs` | [`Var`], its math methods and operators |
//! | `sweep.rs` | the reverse sweep of [`Var::backward`]: one loop |
//! | `grad.rs` | [`Var::grad`]: the same sweep, recorded |
//! | `forward.rs` | the tangent sweep ([`Var::jvp`], [`Tape::jacobian`]) and the reverse sweep over dual numbers ([`Var::hvp`], [`Var::hessian`]) |
//! | `dual.rs` | the dual number (a value and its tangents) those sweeps run the op table on |
//! | `higher.rs` | [`jvp`], [`jacobian`], [`hvp`], [`hessian`]: the same for a closure, on a tape kept per thread |
//! | `activation.rs` | [`Activation`]: the neurons' nonlinearities, their derivatives through the unary table, their names |
//! | `real.rs` | [`Real`]: the trait formulas are written over, for `f64` and [`Var`] |
//! | `number.rs` | [`Number`], the number a node carries, and [`Lanes`]: the op table run lane by lane |
//!
//! ## Adding an operation
//!
//! An elementwise function, say `sinh`, takes four steps; the compiler points at anything
//! missed, since every `match` on operations is exhaustive.
//!
//! 1. **Its row** in the `unary_ops!` table in `op.rs`: the variant and the name it prints,
//!    its forward rule on `f64`, its derivative `dy/dx·g` from the input `x` and the output
//!    `y` (written over [`Real`], so it serves [`Var::backward`] and [`Var::grad`] alike), and
//!    whether the derivative has a pole where the value is finite:
//!
//!    ```text
//!    Sinh "sinh",
//!        forward |x| x.sinh(),
//!        derivative |g, x, _| g * x.cosh(),
//!        pole false;
//!    ```
//!
//!    The derivative may only use what [`Real`] offers; if it needs a function the trait lacks
//!    (here `cosh`), add that function first, the same way, and a method to [`Real`] with its
//!    `f64` and [`Var`] versions in `real.rs`.
//! 2. **Its method** on [`Var`] in `var.rs`, named as on `f64`, with a doc example:
//!    `pub fn sinh(self) -> Self { self.unary(UnOp::Sinh) }`.
//! 3. **Its tests**: its edge cases in `tests/golden.rs` (value and gradient bits at 0, ±inf,
//!    NaN and where it overflows), a property test against central differences in
//!    `tests/properties.rs`, and a case in `tests/coverage.rs` (whose list of public
//!    operations does not compile until it has one).
//! 4. **Its row** in the conventions table above: gradient, second derivative, edge cases.
//!
//! An operation with operands of its own shape (a new fused node) is a variant of `Op`: the
//! compiler then asks for its words, its operands, its bounds for the push check, its name and
//! its arm in `Op::backward`, all in `op.rs`.
//!
//! ## Safety
//!
//! The `unsafe` code is in three places, each with a `// SAFETY:` argument: the tape's
//! interior mutability (`Tape::with`, whose closures never panic or call out), the push that
//! writes a node without bounds checks, and the sweep's unchecked reads of operands, which the
//! push's operand check makes sound. The unit tests of `tapegrad` are small enough for Miri:
//! with a nightly toolchain, `cargo +nightly miri test -p tapegrad --lib` (the pinned toolchain
//! is stable, and Miri needs nightly).
//!
//! ## Panics
//!
//! Misuse panics, in release builds too, with a message that names the problem: a [`Var`] of
//! another tape in an operator, in [`Tape::sum`] / [`Tape::dot`], in a [`Run`] given to
//! [`Tape::dot_run`] / [`Tape::affine`] / [`Tape::neuron`], or as an index into [`Grads`];
//! slices or runs of mismatched lengths; a direction of another length than its variables in
//! [`jvp`] or [`hvp`] and their methods; more than [`MAX_NODES`] nodes on one tape. Checks
//! run before anything is written, so a tape is consistent after a caught panic.
//!
//! ## Checking gradients
//!
//! [`check::gradient`] compares [`Var::backward`] with central differences for any function
//! you write, and reports the worst component.

#![warn(missing_docs)]

mod activation;
mod anomaly;
mod arena;
pub mod check;
mod dual;
mod forward;
mod grad;
mod grads;
mod graphviz;
mod higher;
mod number;
mod op;
mod real;
mod record;
mod run;
mod sweep;
mod var;

pub use activation::Activation;
pub use anomaly::{Anomaly, AnomalyKind, NodeInfo};
pub use arena::{MAX_NODES, Tape};
pub use grads::Grads;
pub use higher::{hessian, hvp, jacobian, jvp};
pub use number::{Lanes, Number};
pub use real::Real;
pub use record::dot_value;
pub use run::Run;
pub use var::Var;

// The README's Rust examples run as doc tests too, so they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeExamples;
