//! Robustness: arbitrary `f64` leaves (NaN, ±inf, ±0, subnormals, huge and tiny numbers) and
//! random programs over every operation, poles and kinks included. Nothing panics, values are
//! the plain `f64` evaluation bit for bit, backward is deterministic, and leaves the root does
//! not depend on get exactly +0.

use proptest::prelude::*;
use tapegrad::{AnomalyKind, Tape};

use crate::programs::{self, Deps, Kind};
use crate::reference::RefTape;
use crate::util::{bitwise_eq, same};

/// Any f64 at all, or one of the specials, or an ordinary number.
fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => prop::num::f64::ANY,
        3 => prop::sample::select(vec![
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            1e-310,
            f64::MAX,
            f64::MIN,
            1.0,
            -1.0,
            709.79,
            -746.0,
        ]),
        4 => -10.0..=10.0,
    ]
}

proptest! {
    #[test]
    fn arbitrary_programs(program in programs::program(Kind::Raw, any_f64(), 1..=4, 1..=24)) {
        let tape = Tape::new();
        let leaves = programs::leaves(&tape, &program);
        let nodes = programs::run(Kind::Raw, &leaves, &program.steps);
        let root = *nodes.last().unwrap();

        // Values: the plain f64 evaluation, bit for bit (any NaN matches any NaN).
        let plain = programs::run(Kind::Raw, &program.leaves, &program.steps);
        for (k, (v, &p)) in nodes.iter().zip(&plain).enumerate() {
            prop_assert!(same(v.value(), p), "node {}: tape {:?}, f64 {:?}", k, v.value(), p);
        }

        // Backward twice: bitwise the same, whether the first Grads is alive or dropped.
        let g1 = root.backward();
        let g2 = root.backward();
        prop_assert!(bitwise_eq(g1.as_slice(), g2.as_slice()));
        let first = g1.as_slice().to_vec();
        drop(g1);
        drop(g2);
        let g3 = root.backward();
        prop_assert!(bitwise_eq(&first, g3.as_slice()));
        prop_assert_eq!(first.len(), root.index() + 1);
        prop_assert!(same(g3[root], 1.0));

        // Leaves the root does not depend on get exactly +0.
        let masks: Vec<Deps> = (0..leaves.len()).map(|k| Deps(1 << k)).collect();
        let deps = programs::run(Kind::Raw, &masks, &program.steps).last().unwrap().0;
        for (k, &leaf) in leaves.iter().enumerate() {
            if deps & (1 << k) == 0 {
                prop_assert!(same(g3[leaf], 0.0), "leaf {} unreachable, got {:?}", k, g3[leaf]);
            }
        }

        // Every node as a root: deterministic, and every gradient is the reference's (PyTorch's
        // rules, no shortcuts), NaN exactly where it has NaN, infinities and zeros with their
        // signs.
        let reference = RefTape::default();
        let rleaves: Vec<_> = program.leaves.iter().map(|&x| reference.var(x)).collect();
        let rnodes = programs::run(Kind::Raw, &rleaves, &program.steps);
        for (i, (v, r)) in nodes.iter().zip(&rnodes).enumerate() {
            let a = v.backward().as_slice().to_vec();
            let b = v.backward();
            prop_assert!(bitwise_eq(&a, b.as_slice()));
            let want = reference.grads(*r);
            for (k, (u, q)) in nodes.iter().zip(&rnodes).enumerate() {
                prop_assert!(
                    same(b[*u], want[q.id()]),
                    "d node {} / d node {}: engine {:?}, reference {:?}",
                    i, k, b[*u], want[q.id()]
                );
            }
        }

        // The checked backward agrees with the plain one when it succeeds, and otherwise
        // points at a node with a non-finite value or gradient.
        match root.backward_checked() {
            Ok(g) => {
                prop_assert!(bitwise_eq(&first, g.as_slice()));
                prop_assert!(first.iter().all(|g| g.is_finite()));
            }
            Err(e) => {
                prop_assert!(e.node.id <= root.index());
                match e.kind {
                    AnomalyKind::Value { value } => prop_assert!(!value.is_finite()),
                    AnomalyKind::Gradient { operand, gradient } => {
                        prop_assert!(!gradient.is_finite());
                        prop_assert!(operand < e.node.id);
                    }
                }
                prop_assert!(!e.to_string().is_empty());
            }
        }

        // DOT export copes with every value.
        let dot = root.to_dot(Some(&g3));
        let well_formed = dot.starts_with("digraph") && dot.trim_end().ends_with('}');
        prop_assert!(well_formed, "{}", dot);
    }
}
