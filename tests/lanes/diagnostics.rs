//! Anomalies name the lane they are in; a cleared lane tape starts afresh; DOT shows lanes.

use tapegrad::{Anomaly, AnomalyKind, Lanes, Number, Tape, Var};

use crate::util::same;

/// Records `f` over `x` with anomaly detection on and runs `backward_checked`: the gradient of
/// `x`, or the anomaly.
fn checked<T: Number>(x: T, f: fn(Var<'_, T>) -> Var<'_, T>) -> Result<T, Anomaly> {
    let mut tape = Tape::<T>::new();
    tape.set_detect_anomaly(true);
    let x = tape.var(x).with_label("x");
    let y = f(x).with_label("y");
    y.backward_checked().map(|g| g[x])
}

/// The scalar tapes' anomalies, lane by lane (`None` for a lane that runs clean).
fn scalar_anomalies<const N: usize>(
    x: Lanes<N>,
    f: fn(Var<'_, f64>) -> Var<'_, f64>,
) -> Vec<Option<Anomaly>> {
    (0..N).map(|l| checked(x.lane(l), f).err()).collect()
}

/// A kind with the number compared as [`same`] does (NaN matches NaN).
fn same_kind(a: &AnomalyKind, b: &AnomalyKind) -> bool {
    match (a, b) {
        (AnomalyKind::Value { value: x }, AnomalyKind::Value { value: y }) => same(*x, *y),
        (
            AnomalyKind::Gradient {
                operand: p,
                gradient: x,
            },
            AnomalyKind::Gradient {
                operand: q,
                gradient: y,
            },
        ) => p == q && same(*x, *y),
        _ => false,
    }
}

/// The lane tape reports what the scalar tape of lane `lane` reports, and names the lane.
#[track_caller]
fn assert_reported_at(got: &Anomaly, lane: usize, want: &Anomaly) {
    assert_eq!(got.lane(), Some(lane), "{got}");
    assert!(got.to_string().contains(&format!("lane {lane}")), "{got}");
    assert_eq!(got.node.id, want.node.id, "{got}");
    assert_eq!(got.node.op, want.node.op, "{got}");
    assert_eq!(got.node.label, want.node.label, "{got}");
    assert!(same_kind(&got.kind, &want.kind), "{got:?} against {want:?}");
    // Detection was on, so the report points here, as on a scalar tape.
    assert_eq!(got.node.location.map(|l| l.file()), Some(file!()));
}

#[test]
fn a_nan_in_lane_5_only_is_reported_at_lane_5() {
    fn f<T: Number>(x: Var<'_, T>) -> Var<'_, T> {
        (x.ln() * 2.0).tanh()
    }
    let x = Lanes::new([1.0, 2.0, 0.5, 3.0, 4.0, -1.0, 5.0, 6.0]);
    let err = checked(x, f).unwrap_err();
    let want = scalar_anomalies(x, f);
    let want5 = want[5].as_ref().expect("ln(-1) is NaN on a scalar tape");
    assert!(matches!(want5.kind, AnomalyKind::Value { .. }));
    assert_reported_at(&err, 5, want5);
    // Every other lane alone runs clean.
    assert!(
        want.iter()
            .enumerate()
            .all(|(l, a)| a.is_none() == (l != 5))
    );
}

#[test]
fn an_infinite_slope_in_lane_3_only_is_reported_at_lane_3() {
    fn f<T: Number>(x: Var<'_, T>) -> Var<'_, T> {
        x.sqrt() * 3.0
    }
    // sqrt(0) is 0, a finite value with an infinite slope.
    let x = Lanes::new([1.0, 2.0, 0.5, 0.0, 4.0, 9.0, 5.0, 6.0]);
    let err = checked(x, f).unwrap_err();
    let want = scalar_anomalies(x, f);
    let want3 = want[3].as_ref().expect("sqrt's slope at 0 is inf");
    assert!(matches!(want3.kind, AnomalyKind::Gradient { .. }));
    assert_reported_at(&err, 3, want3);
}

#[test]
fn the_first_bad_lane_of_the_first_bad_node_is_reported() {
    fn f<T: Number>(x: Var<'_, T>) -> Var<'_, T> {
        // ln(x) is NaN where x < 0; 1/(x − 2) is inf where x = 2, a later node.
        x.ln() + (x - 2.0).recip()
    }
    // Lanes 6 and 2 are bad at ln; lane 1 only at the later node.
    let x = Lanes::new([1.0, 2.0, -1.0, 3.0, 4.0, 5.0, -0.5, 6.0]);
    let err = checked(x, f).unwrap_err();
    let want = scalar_anomalies(x, f);
    // The scalar tapes' earliest node, its lowest lane.
    let (lane, first) = want
        .iter()
        .enumerate()
        .filter_map(|(l, a)| a.as_ref().map(|a| (l, a)))
        .min_by_key(|(l, a)| (a.node.id, *l))
        .expect("some lane is bad");
    assert_eq!(lane, 2, "the case is built so that lane 2 is first");
    assert_reported_at(&err, lane, first);
}

#[test]
fn a_clean_lane_tape_checks_ok_with_backwards_bits() {
    fn f<T: Number>(x: Var<'_, T>) -> Var<'_, T> {
        (x.ln() * 2.0).tanh() + x.sqrt()
    }
    let x = Lanes::new([1.0, 2.0, 0.5, 3.0]);
    let got = checked(x, f).expect("every lane is finite");
    let tape = Tape::<Lanes<4>>::new();
    let v = tape.var(x);
    let plain = f(v).backward()[v];
    assert_eq!(
        got.to_array().map(f64::to_bits),
        plain.to_array().map(f64::to_bits)
    );
}

#[test]
fn a_scalar_tapes_anomaly_names_no_lane() {
    fn f<T: Number>(x: Var<'_, T>) -> Var<'_, T> {
        x.ln()
    }
    let err = checked(-1.0, f).unwrap_err();
    assert_eq!(err.lane(), None);
    // "in lane", not "lane": the location's path is tests/lanes/….
    assert!(!err.to_string().contains("in lane"), "{err}");
}

/// A loss over a neuron and a hinge, with a kink (relu at 0 in lane 2) and a pole (ln at 0
/// in lane 1, which makes the tape's sweep visit rather than skip): every value and gradient.
fn step_bits(tape: &Tape<Lanes<4>>, x: Lanes<4>) -> Vec<u64> {
    let w = tape.run(&[Lanes::splat(0.5), Lanes::splat(-1.0), Lanes::splat(0.25)]);
    let xs = tape.run(&[x, x * x]);
    let h = tape.neuron(w, xs, tapegrad::Activation::Relu);
    let loss = (1.0 - h).relu() + (h + 1.0).ln();
    let g = loss.backward();
    let mut nodes = w.to_vec();
    nodes.extend(xs.iter());
    nodes.extend([h, loss]);
    nodes
        .iter()
        .flat_map(|&v| [v.value().to_array(), g[v].to_array()])
        .flatten()
        .map(f64::to_bits)
        .collect()
}

#[test]
fn a_cleared_lane_tape_gives_the_same_bits_every_step() {
    let x = Lanes::new([1.0, -2.0, 0.0, 3.0]);
    let fresh = step_bits(&Tape::new(), x);
    let mut tape = Tape::<Lanes<4>>::new();
    for step in 0..3 {
        tape.clear();
        assert_eq!(step_bits(&tape, x), fresh, "step {step}");
        // Leave non-finite numbers behind for the next step's clear to forget.
        tape.clear();
        let junk = tape.var(Lanes::new([f64::NAN, 0.0, f64::INFINITY, -1.0]));
        let _ = (junk.sqrt().ln() / junk).backward();
    }
}

#[test]
fn dot_output_shows_every_lane() {
    let tape = Tape::<Lanes<2>>::new();
    let a = tape.var(Lanes::new([1.25, -3.5])).with_label("a");
    let b = tape.var(Lanes::new([0.75, 6.5])).with_label("b");
    let l = (a * b + 1.0).with_label("L");
    let g = l.backward();
    let dot = l.to_dot(Some(&g));
    assert!(dot.starts_with("digraph"), "{dot}");
    for label in ["a", "b", "L"] {
        assert!(dot.contains(label), "{label} missing: {dot}");
    }
    // Each lane's numbers appear as the scalar tape of that lane draws them.
    for lane in 0..2 {
        let tape = Tape::<f64>::new();
        let (sa, sb) = (
            tape.var(a.value().lane(lane)),
            tape.var(b.value().lane(lane)),
        );
        let sl = sa * sb + 1.0;
        let sg = sl.backward();
        let scalar = sl.to_dot(Some(&sg));
        for v in [sa.value(), sb.value(), sl.value(), sg[sa], sg[sb]] {
            let shown = format!("{v:.4}");
            assert!(
                scalar.contains(&shown),
                "scalar DOT lacks {shown}: {scalar}"
            );
            assert!(dot.contains(&shown), "lane {lane}'s {shown} missing: {dot}");
        }
    }
}

/// `Lanes<1>` is a lane tape too, so its anomalies name lane 0; only `f64` names none.
#[test]
fn a_one_lane_tapes_anomaly_names_lane_0() {
    fn f<T: Number>(x: Var<'_, T>) -> Var<'_, T> {
        x.ln()
    }
    let err = checked(Lanes::new([-1.0]), f).unwrap_err();
    let want = checked(-1.0, f).unwrap_err();
    assert_reported_at(&err, 0, &want);
}
