//! Misuse of lane tapes panics as on scalar tapes, with the same messages; a caught panic
//! leaves the lane tape consistent.

use std::panic::{AssertUnwindSafe, catch_unwind};

use tapegrad::{Activation, Lanes, Tape};

type L4 = Lanes<4>;

fn two_tapes() -> (Tape<L4>, Tape<L4>) {
    (Tape::new(), Tape::new())
}

#[test]
#[should_panic(expected = "`+` was given a Var recorded on another tape")]
fn foreign_lane_var_in_add() {
    let (t1, t2) = two_tapes();
    let _ = t1.var(L4::splat(1.0)) + t2.var(L4::splat(2.0));
}

#[test]
#[should_panic(expected = "`/` was given a Var recorded on another tape")]
fn foreign_lane_var_in_div() {
    let (t1, t2) = two_tapes();
    let _ = t1.var(L4::splat(1.0)) / t2.var(L4::splat(2.0));
}

#[test]
#[should_panic(expected = "Tape::sum was given a Var recorded on another tape")]
fn foreign_lane_var_in_sum() {
    let (t1, t2) = two_tapes();
    let x = t1.var(L4::splat(1.0));
    let _ = t1.sum([x, t2.var(L4::splat(2.0))]);
}

#[test]
#[should_panic(expected = "Tape::dot was given a Var recorded on another tape")]
fn foreign_lane_var_in_dot() {
    let (t1, t2) = two_tapes();
    let w = t1.vars(&[L4::splat(1.0), L4::splat(2.0)]);
    let x = t2.vars(&[L4::splat(1.0), L4::splat(2.0)]);
    let _ = t1.dot(&w, &x);
}

#[test]
#[should_panic(expected = "Tape::neuron was given a Var recorded on another tape")]
fn foreign_lane_run_in_neuron() {
    let (t1, t2) = two_tapes();
    let wb = t2.run(&[L4::splat(1.0), L4::splat(2.0)]);
    let x = t1.run(&[L4::splat(1.0)]);
    let _ = t1.neuron(wb, x, Activation::Relu);
}

#[test]
#[should_panic(expected = "Tape::affine was given a Var recorded on another tape")]
fn foreign_lane_run_in_affine() {
    let (t1, t2) = two_tapes();
    let wb = t1.run(&[L4::splat(1.0), L4::splat(2.0)]);
    let x = t2.run(&[L4::splat(1.0)]);
    let _ = t1.affine(wb, x);
}

#[test]
#[should_panic(expected = "indexing Grads was given a Var recorded on another tape")]
fn foreign_lane_var_as_grads_index() {
    let (t1, t2) = two_tapes();
    let x = t1.var(L4::splat(1.0));
    let other = t2.var(L4::splat(1.0)); // same id, 0, on another tape
    let g = (x * 2.0).backward();
    let _ = g[other];
}

#[test]
#[should_panic(expected = "was given a Var recorded on another tape")]
fn foreign_lane_run_in_wrt_run() {
    let (t1, t2) = two_tapes();
    let x = t1.var(L4::splat(1.0));
    let g = (x * 2.0).backward();
    let _ = g.wrt_run(t2.run(&[L4::splat(1.0)]));
}

#[test]
#[should_panic(expected = "Tape::dot needs operands of equal length, got 2 weights and 1 inputs")]
fn lane_dot_length_mismatch() {
    let tape = Tape::<L4>::new();
    let w = tape.vars(&[L4::splat(1.0), L4::splat(2.0)]);
    let _ = tape.dot(&w, &w[..1]);
}

#[test]
fn a_lane_tape_is_consistent_after_a_caught_panic() {
    let (t1, t2) = two_tapes();
    let x = t1.var(L4::new([1.0, -2.0, 0.0, 3.0]));
    let y = x * x;
    let before = t1.len();
    let foreign = t2.var(L4::splat(1.0));
    let err = catch_unwind(AssertUnwindSafe(|| {
        let _ = y * foreign;
    }))
    .expect_err("a foreign Var panics");
    let text = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    assert!(text.contains("recorded on another tape"), "{text:?}");
    // Nothing was written, and the tape goes on as if the panic had not happened.
    assert_eq!(t1.len(), before);
    let z = y + x;
    let g = z.backward();
    let want = x.value() * 2.0 + 1.0;
    assert_eq!(g[x].to_array(), want.to_array());
}
