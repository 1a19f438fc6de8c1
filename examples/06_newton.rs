//! # 06: Newton's method with second derivatives from the tape
//!
//! Rosenbrock's banana function,
//!
//! ```text
//! f(x, y) = (1 − x)² + 100·(y − x²)²,
//! ```
//!
//! has its minimum f = 0 at (1, 1) at the end of a long, narrow, curved valley. Gradient
//! descent crawls along the valley floor: the curvature across the valley is ~1000 times the
//! curvature along it, so a step small enough not to bounce off the walls moves almost nothing
//! along the floor.
//!
//! Newton's method uses the curvature itself. With the gradient g and the Hessian H (the matrix
//! of second derivatives) it jumps to the minimum of the local quadratic model:
//!
//! ```text
//! p ← p − H⁻¹·g
//! ```
//!
//! `tapegrad::hessian(f, &point)` gives H: it records f on a tape once, then runs forward over
//! reverse, a tangent sweep along each coordinate and a reverse sweep over (value, tangent)
//! pairs, recording nothing more. `Var::grad`, printed below, is the other way: it records f's
//! gradient on the tape as ordinary nodes, which can be differentiated again. The gradient
//! comes from an ordinary `backward`. Both methods start at the classic (−1.2, 1) and stop when the gradient
//! norm drops below 1e-10; Newton needs a handful of steps, gradient descent tens of thousands
//! (it is capped, and the example says whether it got there).
//!
//! Run it with `cargo run --example 06_newton`.

use tapegrad::{Tape, Var};

const START: [f64; 2] = [-1.2, 1.0];
const TOLERANCE: f64 = 1e-10;
const NEWTON_CAP: usize = 50;
const DESCENT_CAP: usize = 200_000;
/// Close to the largest fixed step that stays stable along the whole path (the curvature
/// across the valley reaches ~1300 at the start).
const DESCENT_RATE: f64 = 1e-3;

/// Rosenbrock's function, written once for the tape: value, gradient and Hessian all come from it.
fn rosenbrock<'t>(_: &'t Tape, p: &[Var<'t>]) -> Var<'t> {
    let (x, y) = (p[0], p[1]);
    (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
}

/// f and its gradient at `p`, by one backward pass.
fn value_and_gradient(tape: &mut Tape, p: [f64; 2]) -> (f64, [f64; 2]) {
    tape.clear();
    let v = tape.vars(&p);
    let f = rosenbrock(tape, &v);
    let g = f.backward();
    (f.value(), [g[v[0]], g[v[1]]])
}

fn norm(g: [f64; 2]) -> f64 {
    g[0].hypot(g[1])
}

/// Iterates `p ← step(p, g)` from START until the gradient norm is at most TOLERANCE,
/// printing every `print_every`-th point. Returns the number of steps taken (None if the
/// cap came first) and the final point.
fn minimize(
    cap: usize,
    print_every: usize,
    mut step: impl FnMut([f64; 2], [f64; 2]) -> [f64; 2],
) -> (Option<usize>, [f64; 2]) {
    let mut tape = Tape::new();
    let mut p = START;
    for k in 0..=cap {
        let (f, g) = value_and_gradient(&mut tape, p);
        if k % print_every == 0 {
            println!(
                "  step {k:>6}  (x, y) = ({:+.12}, {:+.12})  f = {f:.3e}  |g| = {:.3e}",
                p[0],
                p[1],
                norm(g)
            );
        }
        if norm(g) <= TOLERANCE {
            return (Some(k), p);
        }
        p = step(p, g);
    }
    (None, p)
}

/// One Newton step: solve H·d = g (for a 2×2 matrix, by Cramer's rule) and move by −d.
fn newton_step(p: [f64; 2], g: [f64; 2]) -> [f64; 2] {
    let h = tapegrad::hessian(rosenbrock, &p);
    let det = h[0][0] * h[1][1] - h[0][1] * h[1][0];
    let d = [
        (h[1][1] * g[0] - h[0][1] * g[1]) / det,
        (h[0][0] * g[1] - h[1][0] * g[0]) / det,
    ];
    [p[0] - d[0], p[1] - d[1]]
}

fn report(name: &str, (steps, p): (Option<usize>, [f64; 2]), cap: usize) {
    match steps {
        Some(k) => println!("{name}: |g| ≤ {TOLERANCE:e} after {k} steps, at {p:?}\n"),
        None => println!("{name}: did not reach |g| ≤ {TOLERANCE:e} in {cap} steps; at {p:?}\n"),
    }
}

#[cfg_attr(test, allow(dead_code))]
fn main() {
    let tape = Tape::new();
    let p = tape.vars(&START);
    let f = rosenbrock(&tape, &p);
    let forward = tape.len();
    let g = f.grad(&p);
    println!(
        "f(−1.2, 1) = {:.4}, gradient ({:.4}, {:.4}): {forward} nodes for f, {} once its \
         gradient is recorded too",
        f.value(),
        g[0].value(),
        g[1].value(),
        tape.len()
    );
    println!("H(−1.2, 1) = {:?}\n", tapegrad::hessian(rosenbrock, &START));

    println!("Newton's method:");
    let newton = minimize(NEWTON_CAP, 1, newton_step);
    report("Newton", newton, NEWTON_CAP);

    println!("gradient descent, step {DESCENT_RATE}:");
    let descent = minimize(DESCENT_CAP, 20_000, |p, g| {
        [p[0] - DESCENT_RATE * g[0], p[1] - DESCENT_RATE * g[1]]
    });
    report("gradient descent", descent, DESCENT_CAP);

    let newton_steps = newton.0.expect("Newton's method converges from (−1.2, 1)");
    assert!(newton_steps <= 10, "Newton took {newton_steps} steps");
    assert!(
        (newton.1[0] - 1.0).abs() < 1e-9 && (newton.1[1] - 1.0).abs() < 1e-9,
        "Newton should end at (1, 1), ended at {:?}",
        newton.1
    );
    if let Some(k) = descent.0 {
        assert!(k > 100 * newton_steps, "descent took only {k} steps");
    }
}

// `cargo test` runs the example too (`test = true` in Cargo.toml), so its assertions hold.
#[test]
fn runs() {
    main();
}
