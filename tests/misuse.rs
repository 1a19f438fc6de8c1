//! Misuse panics, in release builds too, with a message that says what went wrong; and a tape
//! stays consistent after a caught panic.

use std::panic::{AssertUnwindSafe, catch_unwind};

use tapegrad::{Activation, Run, Tape, Var};

// ---------------------------------------------------------------------------------------------
// A Var of another tape.

#[test]
#[should_panic(expected = "`+` was given a Var recorded on another tape")]
fn foreign_var_in_add() {
    let (t1, t2) = (Tape::new(), Tape::new());
    let _ = t1.var(1.0) + t2.var(2.0);
}

#[test]
#[should_panic(expected = "`-` was given a Var recorded on another tape")]
fn foreign_var_in_sub() {
    let (t1, t2) = (Tape::new(), Tape::new());
    let _ = t1.var(1.0) - t2.var(2.0);
}

#[test]
#[should_panic(expected = "`*` was given a Var recorded on another tape")]
fn foreign_var_in_mul() {
    let (t1, t2) = (Tape::new(), Tape::new());
    let _ = t1.var(1.0) * t2.var(2.0);
}

#[test]
#[should_panic(expected = "`/` was given a Var recorded on another tape")]
fn foreign_var_in_div() {
    let (t1, t2) = (Tape::new(), Tape::new());
    let _ = t1.var(1.0) / t2.var(2.0);
}

#[test]
#[should_panic(expected = "`*` was given a Var recorded on another tape")]
fn foreign_var_in_compound_assignment() {
    let (t1, t2) = (Tape::new(), Tape::new());
    let mut c = t1.var(1.0);
    c *= t2.var(2.0);
}

#[test]
#[should_panic(expected = "Tape::sum was given a Var recorded on another tape")]
fn foreign_var_in_sum() {
    let (t1, t2) = (Tape::new(), Tape::new());
    let x = t1.var(1.0);
    let _ = t1.sum([x, x, t2.var(2.0)]);
}

#[test]
#[should_panic(expected = "Tape::sum was given a Var recorded on another tape")]
fn sum_of_another_tapes_vars() {
    // Every operand foreign, contiguous on their own tape.
    let (t1, t2) = (Tape::new(), Tape::new());
    let xs = t2.vars(&[1.0, 2.0]);
    let _ = t1.sum(&xs);
}

#[test]
#[should_panic(expected = "Tape::dot was given a Var recorded on another tape")]
fn foreign_var_in_dot_weights() {
    let (t1, t2) = (Tape::new(), Tape::new());
    let x = t1.vars(&[1.0, 2.0]);
    let w = [t1.var(1.0), t2.var(2.0)];
    let _ = t1.dot(&w, &x);
}

#[test]
#[should_panic(expected = "Tape::dot was given a Var recorded on another tape")]
fn foreign_var_in_dot_inputs() {
    let (t1, t2) = (Tape::new(), Tape::new());
    let w = t1.vars(&[1.0, 2.0]);
    let x = t2.vars(&[1.0, 2.0]);
    let _ = t1.dot(&w, &x);
}

#[test]
#[should_panic(expected = "indexing Grads was given a Var recorded on another tape")]
fn foreign_var_as_grads_index() {
    let (t1, t2) = (Tape::new(), Tape::new());
    let x = t1.var(1.0);
    let other = t2.var(1.0); // same id, 0, on another tape
    let g = (x * 2.0).backward();
    let _ = g[other];
}

#[test]
#[should_panic(expected = "indexing Grads was given a Var recorded on another tape")]
fn foreign_var_in_wrt() {
    let (t1, t2) = (Tape::new(), Tape::new());
    let x = t1.var(1.0);
    let g = (x * 2.0).backward();
    let _ = g.wrt(t2.var(1.0));
}

#[test]
#[should_panic(expected = "indexing Grads was given a Var recorded on another tape")]
fn foreign_var_in_wrt_all() {
    let (t1, t2) = (Tape::new(), Tape::new());
    let x = t1.var(1.0);
    let g = (x * 2.0).backward();
    let _ = g.wrt_all(&[x, t2.var(1.0)]);
}

#[test]
#[should_panic(expected = "Grads::copy_run was given a Var recorded on another tape")]
fn foreign_var_in_copy_run() {
    let (t1, t2) = (Tape::new(), Tape::new());
    let x = t1.var(1.0);
    let g = (x * 2.0).backward();
    g.copy_run(t2.var(1.0), &mut [0.0; 1]);
}

#[test]
#[should_panic(expected = "Tape::dot_run was given a Var recorded on another tape")]
fn foreign_run_in_dot_run() {
    let (t1, t2) = (Tape::new(), Tape::new());
    let w = t1.run(&[1.0, 2.0]);
    let x = t2.run(&[1.0, 2.0]);
    let _ = t1.dot_run(w, x);
}

#[test]
#[should_panic(expected = "Tape::dot_run was given a Var recorded on another tape")]
fn dot_run_on_the_wrong_tape() {
    // Both runs on t2, recorded through t1.
    let (t1, t2) = (Tape::new(), Tape::new());
    let w = t2.run(&[1.0, 2.0]);
    let _ = t1.dot_run(w, w);
}

#[test]
#[should_panic(expected = "Tape::affine was given a Var recorded on another tape")]
fn foreign_run_in_affine() {
    let (t1, t2) = (Tape::new(), Tape::new());
    let wb = t2.run(&[1.0, 2.0, 3.0]);
    let x = t1.run(&[1.0, 2.0]);
    let _ = t1.affine(wb, x);
}

#[test]
#[should_panic(expected = "Tape::neuron was given a Var recorded on another tape")]
fn foreign_run_in_neuron_weights() {
    let (t1, t2) = (Tape::new(), Tape::new());
    let wb = t2.run(&[1.0, 2.0, 3.0]);
    let x = t1.run(&[1.0, 2.0]);
    let _ = t1.neuron(wb, x, Activation::Relu);
}

#[test]
#[should_panic(expected = "Tape::neuron was given a Var recorded on another tape")]
fn foreign_run_in_neuron_inputs() {
    let (t1, t2) = (Tape::new(), Tape::new());
    let wb = t1.run(&[1.0, 2.0, 3.0]);
    let x = t2.run(&[1.0, 2.0]);
    let _ = t1.neuron(wb, x, Activation::Tanh);
}

#[test]
#[should_panic(expected = "Tape::neuron was given a Var recorded on another tape")]
fn neuron_on_the_wrong_tape() {
    // Both runs on t2, recorded through t1: a neuron of no inputs, act(b).
    let (t1, t2) = (Tape::new(), Tape::new());
    let b = t2.run(&[1.0]);
    let _ = t1.neuron(b, t2.run(&[]), Activation::Sigmoid);
}

#[test]
#[should_panic(expected = "was given a Var recorded on another tape")]
fn foreign_run_in_wrt_run() {
    let (t1, t2) = (Tape::new(), Tape::new());
    let x = t1.var(1.0);
    let g = (x * 2.0).backward();
    let _ = g.wrt_run(t2.run(&[1.0, 2.0]));
}

#[test]
#[should_panic(expected = "Grads::wrt_run was given a Var recorded on another tape")]
fn foreign_empty_run_in_wrt_run() {
    let (t1, t2) = (Tape::new(), Tape::new());
    let x = t1.var(1.0);
    let g = (x * 2.0).backward();
    let _ = g.wrt_run(t2.run(&[]));
}

#[test]
fn run_new_refuses_mixed_tapes() {
    // Not a panic: Run::new says None for Vars that are not one run of one tape.
    let (t1, t2) = (Tape::new(), Tape::new());
    let a = t1.var(1.0);
    let b = t2.var(2.0);
    let c = t2.var(3.0);
    assert!(Run::new(&[a, c]).is_none(), "ids 0, 1 but two tapes");
    assert!(Run::new(&[b, c]).is_some());
    assert!(Run::new(&[c, b]).is_none());
    assert!(Run::new(&[b, b]).is_none());
    assert!(Run::<f64>::new(&[]).is_none());
}

#[test]
#[should_panic(expected = "index 2 out of a run of 2 nodes")]
fn run_index_out_of_range() {
    let tape = Tape::new();
    let _ = tape.run(&[1.0, 2.0]).get(2);
}

#[test]
#[should_panic(expected = "range 1..3 out of a run of 2 nodes")]
fn run_slice_out_of_range() {
    let tape = Tape::new();
    let _ = tape.run(&[1.0, 2.0]).slice(1..3);
}

// ---------------------------------------------------------------------------------------------
// dot of different lengths.

#[test]
#[should_panic(expected = "Tape::dot needs operands of equal length, got 2 weights and 1 inputs")]
fn dot_length_mismatch() {
    let tape = Tape::new();
    let w = tape.vars(&[1.0, 2.0]);
    let x = tape.vars(&[1.0]);
    let _ = tape.dot(&w, &x);
}

#[test]
#[should_panic(expected = "Tape::dot needs operands of equal length, got 0 weights and 3 inputs")]
fn dot_length_mismatch_empty() {
    let tape = Tape::new();
    let x = tape.vars(&[1.0, 2.0, 3.0]);
    let _ = tape.dot(&[], &x);
}

#[test]
#[should_panic(expected = "Tape::dot_run needs 2 weights for 2 inputs, got 3")]
fn dot_run_length_mismatch() {
    let tape = Tape::new();
    let w = tape.run(&[1.0, 2.0, 3.0]);
    let x = tape.run(&[1.0, 2.0]);
    let _ = tape.dot_run(w, x);
}

#[test]
#[should_panic(expected = "Tape::affine needs 3 weights for 2 inputs, got 2")]
fn affine_without_a_bias() {
    let tape = Tape::new();
    let w = tape.run(&[1.0, 2.0]);
    let x = tape.run(&[1.0, 2.0]);
    let _ = tape.affine(w, x);
}

#[test]
#[should_panic(expected = "Tape::neuron needs 3 weights for 2 inputs, got 2")]
fn neuron_without_a_bias() {
    // affine's message, naming neuron.
    let tape = Tape::new();
    let w = tape.run(&[1.0, 2.0]);
    let x = tape.run(&[1.0, 2.0]);
    let _ = tape.neuron(w, x, Activation::Relu);
}

#[test]
#[should_panic(expected = "Tape::neuron needs 2 weights for 1 inputs, got 3")]
fn neuron_with_too_many_weights() {
    let tape = Tape::new();
    let w = tape.run(&[1.0, 2.0, 3.0]);
    let x = tape.run(&[1.0]);
    let _ = tape.neuron(w, x, Activation::Tanh);
}

#[test]
#[should_panic(expected = "Tape::neuron needs 1 weights for 0 inputs, got 0")]
fn neuron_of_nothing() {
    // No inputs still needs the bias.
    let tape = Tape::new();
    let empty = tape.run(&[] as &[f64]);
    let _ = tape.neuron(empty, empty, Activation::Sigmoid);
}

// ---------------------------------------------------------------------------------------------
// A full tape (a small limit stands in for u32::MAX nodes).

/// A tape that holds at most 3 nodes, with 3 recorded.
fn full_tape() -> Tape {
    let mut tape = Tape::new();
    tape.set_node_limit(3);
    tape
}

const FULL: &str = "the tape is full: it cannot hold more than 3 nodes";

#[test]
#[should_panic(expected = "the tape is full: it cannot hold more than 3 nodes")]
fn full_tape_var() {
    let tape = full_tape();
    let _ = tape.vars(&[1.0, 2.0, 3.0]);
    let _ = tape.var(4.0);
}

#[test]
#[should_panic(expected = "the tape is full: it cannot hold more than 3 nodes")]
fn full_tape_vars() {
    let tape = full_tape();
    let _ = tape.var(1.0);
    let _ = tape.vars(&[2.0, 3.0, 4.0]);
}

#[test]
#[should_panic(expected = "the tape is full: it cannot hold more than 3 nodes")]
fn full_tape_extend_vars() {
    let tape = full_tape();
    let mut v = tape.vars(&[1.0, 2.0]);
    tape.extend_vars(&mut v, &[3.0, 4.0]);
}

#[test]
#[should_panic(expected = "the tape is full: it cannot hold more than 3 nodes")]
fn full_tape_binary_op() {
    let tape = full_tape();
    let x = tape.vars(&[1.0, 2.0, 3.0]);
    let _ = x[0] + x[1];
}

#[test]
#[should_panic(expected = "the tape is full: it cannot hold more than 3 nodes")]
fn full_tape_unary_op() {
    let tape = full_tape();
    let x = tape.vars(&[1.0, 2.0, 3.0]);
    let _ = x[0].exp();
}

#[test]
#[should_panic(expected = "the tape is full: it cannot hold more than 3 nodes")]
fn full_tape_constant_op() {
    let tape = full_tape();
    let x = tape.vars(&[1.0, 2.0, 3.0]);
    let _ = 2.0 * x[0];
}

#[test]
#[should_panic(expected = "the tape is full: it cannot hold more than 3 nodes")]
fn full_tape_sum() {
    let tape = full_tape();
    let x = tape.vars(&[1.0, 2.0, 3.0]);
    let _ = tape.sum(&x);
}

#[test]
#[should_panic(expected = "the tape is full: it cannot hold more than 3 nodes")]
fn full_tape_sum_list() {
    let tape = full_tape();
    let x = tape.vars(&[1.0, 2.0, 3.0]);
    let _ = tape.sum([x[2], x[0]]);
}

#[test]
#[should_panic(expected = "the tape is full: it cannot hold more than 3 nodes")]
fn full_tape_dot() {
    let tape = full_tape();
    let x = tape.vars(&[1.0, 2.0, 3.0]);
    let _ = tape.dot(&x[..1], &x[1..2]);
}

#[test]
#[should_panic(expected = "the tape is full: it cannot hold more than 3 nodes")]
fn full_tape_dot_list() {
    let tape = full_tape();
    let x = tape.vars(&[1.0, 2.0, 3.0]);
    let _ = tape.dot(&[x[2], x[0]], &[x[1], x[1]]);
}

#[test]
#[should_panic(expected = "the tape is full: it cannot hold more than 3 nodes")]
fn full_tape_run() {
    let tape = full_tape();
    let _ = tape.var(1.0);
    let _ = tape.run(&[2.0, 3.0, 4.0]);
}

#[test]
#[should_panic(expected = "the tape is full: it cannot hold more than 3 nodes")]
fn full_tape_dot_run() {
    let tape = full_tape();
    let x = tape.run(&[1.0, 2.0, 3.0]);
    let _ = tape.dot_run(x.slice(0..1), x.slice(2..3));
}

#[test]
#[should_panic(expected = "the tape is full: it cannot hold more than 3 nodes")]
fn full_tape_affine() {
    let tape = full_tape();
    let x = tape.run(&[1.0, 2.0, 3.0]);
    let _ = tape.affine(x.slice(0..2), x.slice(2..3));
}

#[test]
#[should_panic(expected = "the tape is full: it cannot hold more than 3 nodes")]
fn full_tape_neuron() {
    let tape = full_tape();
    let x = tape.run(&[1.0, 2.0, 3.0]);
    let _ = tape.neuron(x.slice(0..2), x.slice(2..3), Activation::Relu);
}

/// Regression: `limit - len` underflowed in `extend_leaves` once the limit was lowered below
/// the length (a debug panic; in release leaves were recorded past the limit).
#[test]
#[should_panic(expected = "the tape is full: it cannot hold more than 2 nodes")]
fn limit_lowered_below_the_length() {
    // A limit below what is already recorded: the tape is full for every kind of recording.
    let mut tape = Tape::new();
    let _ = tape.vars(&[1.0, 2.0, 3.0]);
    tape.set_node_limit(2);
    let _ = tape.vars(&[4.0]);
}

#[test]
#[should_panic(expected = "the tape is full: it cannot hold more than 2 nodes")]
fn limit_lowered_below_the_length_op() {
    let mut tape = Tape::new();
    let _ = tape.vars(&[1.0, 2.0, 3.0]);
    tape.set_node_limit(2);
    let _ = tape.var(4.0).exp();
}

/// Something that should panic.
type Attempt<'a> = Box<dyn FnOnce() + 'a>;

/// Runs `f`, which must panic with `message`.
#[track_caller]
fn panics_with(message: &str, f: impl FnOnce()) {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("should have panicked");
    let text = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    assert!(
        text.contains(message),
        "{text:?} does not contain {message:?}"
    );
}

#[test]
fn the_tape_is_consistent_after_a_caught_panic() {
    let mut tape = full_tape();
    {
        let x = tape.var(2.0);
        let y = tape.var(3.0);
        let p = x * y;
        assert_eq!(tape.len(), 3);
        let attempts: Vec<Attempt> = vec![
            Box::new(|| {
                let _ = tape.var(1.0);
            }),
            Box::new(|| {
                let _ = tape.vars(&[1.0]);
            }),
            Box::new(|| tape.extend_vars(&mut vec![x], &[1.0])),
            Box::new(|| {
                let _ = x + y;
            }),
            Box::new(|| {
                let _ = x.exp();
            }),
            Box::new(|| {
                let _ = x * 2.0;
            }),
            Box::new(|| {
                let _ = 2.0 / x;
            }),
            Box::new(|| {
                let _ = x.powi(2);
            }),
            Box::new(|| {
                let _ = tape.sum([x, y]);
            }),
            Box::new(|| {
                let _ = tape.sum([y, x, x]);
            }),
            Box::new(|| {
                let _ = tape.dot(&[x], &[y]);
            }),
            Box::new(|| {
                let _ = tape.dot(&[y, x], &[x, y]);
            }),
            Box::new(|| {
                let _ = tape.run(&[1.0]);
            }),
            Box::new(|| {
                let _ = tape.run(&[]).len();
                let r = Run::new(&[x, y]).unwrap();
                let _ = tape.dot_run(r, r);
            }),
            Box::new(|| {
                let r = Run::new(&[x, y, p]).unwrap();
                let _ = tape.affine(r, r.slice(0..2));
            }),
            Box::new(|| {
                let r = Run::new(&[x, y, p]).unwrap();
                let _ = tape.neuron(r, r.slice(0..2), Activation::Tanh);
            }),
            Box::new(|| {
                let _ = tape.neuron(Run::new(&[p]).unwrap(), tape.run(&[]), Activation::Relu);
            }),
        ];
        for attempt in attempts {
            panics_with(FULL, attempt);
            assert_eq!(tape.len(), 3);
            // Backward still works and gives the same answer.
            let g = p.backward();
            assert_eq!((g[x], g[y], g[p]), (3.0, 2.0, 1.0));
        }
    }

    // With room again, recording continues where it stopped.
    tape.set_node_limit(100);
    let x = tape.var(5.0);
    assert_eq!(x.index(), 3);
    let y = tape.var(-1.0);
    let s = tape.sum([y, x, x]);
    let d = tape.dot(&[y, x], &[x, y]);
    let l = s * d;
    // s = 2x + y = 9, d = 2xy = −10, l = s·d: dl/dx = 2d + s·2y = −20 − 18 = −38,
    // dl/dy = d + s·2x = −10 + 90 = 80.
    assert_eq!(l.value(), -90.0);
    let g = l.backward();
    assert_eq!((g[x], g[y]), (-38.0, 80.0));
}

#[test]
fn the_tape_is_consistent_after_a_foreign_var_panic() {
    let tape = Tape::new();
    let other = Tape::new();
    let a = tape.var(1.5);
    let b = tape.var(-2.0);
    let stranger = other.var(7.0);
    let len = tape.len();
    let attempts: Vec<(&str, Attempt)> = vec![
        (
            "`+`",
            Box::new(|| {
                let _ = a + stranger;
            }),
        ),
        (
            "`-`",
            Box::new(|| {
                let _ = stranger - a;
            }),
        ),
        (
            "`*`",
            Box::new(|| {
                let _ = a * stranger;
            }),
        ),
        (
            "`/`",
            Box::new(|| {
                let _ = a / stranger;
            }),
        ),
        (
            "Tape::sum",
            Box::new(|| {
                let _ = tape.sum([b, a, stranger, a]);
            }),
        ),
        (
            "Tape::sum",
            Box::new(|| {
                let _ = tape.sum([a, b, stranger]);
            }),
        ),
        (
            "Tape::dot",
            Box::new(|| {
                let _ = tape.dot(&[b, a], &[a, stranger]);
            }),
        ),
        (
            "Tape::dot",
            Box::new(|| {
                let _ = tape.dot(&[stranger], &[a]);
            }),
        ),
        (
            "Tape::dot_run",
            Box::new(|| {
                let ab = Run::new(&[a, b]).unwrap();
                let _ = tape.dot_run(ab, other.run(&[1.0, 2.0]));
            }),
        ),
        (
            "Tape::affine",
            Box::new(|| {
                let _ = tape.affine(other.run(&[1.0, 2.0]), Run::new(&[a]).unwrap());
            }),
        ),
        (
            "Tape::neuron",
            Box::new(|| {
                let wb = other.run(&[1.0, 2.0]);
                let _ = tape.neuron(wb, Run::new(&[a]).unwrap(), Activation::Relu);
            }),
        ),
        (
            "Tape::neuron",
            Box::new(|| {
                let wb = Run::new(&[a, b]).unwrap();
                let _ = tape.neuron(wb, other.run(&[1.0]), Activation::Sigmoid);
            }),
        ),
    ];
    for (what, attempt) in attempts {
        panics_with(what, attempt);
        assert_eq!(tape.len(), len, "{what}");
    }
    // The foreign Var's own tape only has what was recorded on it: the stranger and the runs
    // of dot_run (2), affine (2) and the neurons (2 + 1).
    assert_eq!(other.len(), 8);
    // Later list-form nodes read the right operands.
    let s = tape.sum([b, a, a]);
    let d = tape.dot(&[b, a], &[a, a]);
    let y: Var = s * d;
    // s = 2a + b = 1, d = ab + a² = −0.75; dy/da = 2d + s(b + 2a) = −1.5 + 1 = −0.5,
    // dy/db = d + s·a = −0.75 + 1.5 = 0.75.
    assert_eq!(y.value(), -0.75);
    let g = y.backward();
    assert_eq!((g[a], g[b]), (-0.5, 0.75));
}
