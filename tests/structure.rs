//! The tape's structure and bookkeeping: reuse, idempotent backward, unreachable nodes, node
//! counts, compound assignment, `clear`, the bulk helpers, labels and `Debug`.

use tapegrad::{Activation, Grads, Run, Tape, Var};

use crate::util::{ACTIVATIONS, assert_all_same, assert_same, bitwise_eq};

#[test]
fn reused_nodes_accumulate() {
    // a = 1; b = a + a; c = b + b = 4a: dc/da = 4, dc/db = 2.
    let tape = Tape::new();
    let a = tape.var(1.0);
    let b = a + a;
    let c = b + b;
    assert_eq!(c.value(), 4.0);
    let g = c.backward();
    assert_eq!((g[a], g[b], g[c]), (4.0, 2.0, 1.0));
    // Fan-out into different operations: y = a·b + sin(a) + a, dy/da = b + 2a·... with b = 2a:
    // y = 2a² + sin a + a, dy/da = 4a + cos a + 1 (through b and directly).
    let a = tape.var(0.7);
    let b = a * 2.0;
    let y = a * b + a.sin() + a;
    let want = 4.0 * 0.7 + f64::cos(0.7) + 1.0;
    assert!((y.backward()[a] - want).abs() < 1e-15);
}

fn mixed_graph(tape: &Tape) -> (Vec<Var<'_>>, Var<'_>) {
    let x = tape.vars(&[0.3, -1.2, 2.5]);
    let h = tape.dot(&x, &[x[2], x[0], x[1]]).tanh();
    let s = tape.sum([x[0] * h, (x[1] * x[1] + 1.0).ln(), x[2].sigmoid(), h]);
    let y = (s / (x[0] * x[0] + 0.5)).exp() - 3.0 * x[1].relu() + x[2].powi(3);
    (x, y)
}

#[test]
fn backward_is_pure() {
    // Two sweeps give bitwise the same gradients; nothing on the tape changes.
    let tape = Tape::new();
    let (x, y) = mixed_graph(&tape);
    let len = tape.len();
    let g1 = y.backward();
    let g2 = y.backward();
    assert!(bitwise_eq(g1.as_slice(), g2.as_slice()));
    drop((g1, g2));
    let g3 = y.backward();
    let again = mixed_graph(&Tape::new()).1.backward().as_slice().to_vec();
    assert!(bitwise_eq(g3.as_slice(), &again));
    assert_eq!(tape.len(), len);
    assert!(g3.wrt_all(&x).iter().all(|g| g.is_finite() && *g != 0.0));
}

#[test]
fn unreachable_nodes_get_positive_zero() {
    // y = x0·2 does not depend on x1, nor on nodes built from x1, nor on a NaN leaf; their
    // gradients are +0 exactly (bits), on a finite tape and on one with non-finite values.
    for poison in [false, true] {
        let tape = Tape::new();
        let x0 = tape.var(3.0);
        let x1 = tape.var(-2.0);
        let side = (x1 * x1).exp();
        let p = if poison {
            tape.var(f64::NAN)
        } else {
            tape.var(1.0)
        };
        let also = p * x1;
        let y = x0 * 2.0;
        let g = y.backward();
        assert_same(g[x0], 2.0, "dy/dx0");
        for (v, name) in [(x1, "x1"), (side, "side"), (p, "p"), (also, "also")] {
            assert_same(g[v], 0.0, name);
        }
        // Recorded after y and from y's operands: 0 as well.
        let later = x0 * 5.0;
        assert_same(g[later], 0.0, "later");
        assert_eq!(g.as_slice().len(), y.index() + 1);
    }
}

#[test]
fn grads_of_a_node_recorded_after_the_root_are_zero() {
    let tape = Tape::new();
    let x = tape.var(3.0);
    let y = x * x;
    let z = y + x;
    let g = y.backward();
    assert_eq!(g[x], 6.0);
    assert_same(g[z], 0.0, "z after root");
    assert_same(g.wrt(z), 0.0, "wrt(z)");
    let w = tape.var(1.0);
    assert_same(g[w], 0.0, "w after root");
    assert_eq!(g.wrt_all(&[x, y, z, w]), vec![6.0, 1.0, 0.0, 0.0]);
}

#[test]
fn backward_from_any_node() {
    // y = (x + 1)², z = 3y: from y, dy/dx = 2(x + 1); from z, dz/dx = 6(x + 1), dz/dy = 3.
    let tape = Tape::new();
    let x = tape.var(2.0);
    let u = x + 1.0;
    let y = u * u;
    let z = y * 3.0;
    assert_eq!(y.backward()[x], 6.0);
    assert_eq!(z.backward()[x], 18.0);
    assert_eq!(z.backward()[y], 3.0);
    assert_eq!(u.backward()[x], 1.0);
    // From a leaf: d x/d x = 1.
    assert_eq!(x.backward().as_slice(), &[1.0]);
}

#[test]
fn sum_and_dot_record_one_node() {
    let tape = Tape::new();
    let xs = tape.vars(&[1.0, 2.0, 3.0, 4.0]);
    let ys: Vec<Var> = (0..100).map(|k| tape.var(f64::from(k))).collect();
    let mut n = tape.len();
    let mut one_more = |what: &str| {
        assert_eq!(tape.len(), n + 1, "{what}");
        n += 1;
    };
    let none: [Var; 0] = [];
    let _ = tape.sum(none);
    one_more("empty sum");
    let _ = tape.sum(&xs);
    one_more("contiguous sum");
    let _ = tape.sum([xs[3], xs[0], xs[0]]);
    one_more("list sum");
    let _ = tape.sum(&ys);
    one_more("sum of 100");
    let _ = tape.dot(&[], &[]);
    one_more("empty dot");
    let _ = tape.dot(&xs, &ys[..4]);
    one_more("contiguous dot");
    let _ = tape.dot(&[xs[1], xs[0]], &[ys[7], ys[3]]);
    one_more("list dot");
    let _ = tape.dot(&ys, &ys);
    one_more("dot of 100");
    let big = tape.sum(ys.iter().rev());
    one_more("reversed sum of 100");
    assert_eq!(big.value(), 4950.0);
    assert!(big.backward().wrt_all(&ys).iter().all(|&g| g == 1.0));
}

#[test]
fn constants_are_not_nodes() {
    // Each operation with a constant operand records exactly one node, never a leaf for the
    // constant.
    let tape = Tape::new();
    let x = tape.var(2.0);
    type Op = for<'t> fn(Var<'t>) -> Var<'t>;
    let ops: Vec<(&str, Op)> = vec![
        ("2.0 * x", |x| 2.0 * x),
        ("x * 2.0", |x| x * 2.0),
        ("x + 1.0", |x| x + 1.0),
        ("1.0 + x", |x| 1.0 + x),
        ("x - 1.0", |x| x - 1.0),
        ("1.0 - x", |x| 1.0 - x),
        ("x / 2.0", |x| x / 2.0),
        ("2.0 / x", |x| 2.0 / x),
        ("x.powf(3.0)", |x| x.powf(3.0)),
        ("x.powi(3)", |x| x.powi(3)),
        ("x += 1.0", |mut x| {
            x += 1.0;
            x
        }),
        ("x -= 1.0", |mut x| {
            x -= 1.0;
            x
        }),
        ("x *= 2.0", |mut x| {
            x *= 2.0;
            x
        }),
        ("x /= 2.0", |mut x| {
            x /= 2.0;
            x
        }),
    ];
    for (name, op) in ops {
        let before = tape.len();
        let y = op(x);
        assert_eq!(tape.len(), before + 1, "{name}");
        assert_eq!(y.index(), before, "{name}");
        // Its only operand is x: the gradient vector has x and the node, nothing else.
        let g = y.backward();
        let nonzero: Vec<usize> = (0..g.as_slice().len())
            .filter(|&k| g.as_slice()[k] != 0.0)
            .collect();
        assert_eq!(nonzero, vec![0, y.index()], "{name}");
    }
}

#[test]
#[allow(clippy::misrefactored_assign_op)] // `c += c + 1` is the micrograd idiom under test
fn compound_assignment_like_micrograd() {
    // c += c + 1 rebinds c to c + (c + 1): with c = 2, c = 5 and dc/dc₀ = 2.
    let tape = Tape::new();
    let c0 = tape.var(2.0);
    let mut c = c0;
    c += c + 1.0;
    assert_eq!(c.value(), 5.0);
    assert_eq!(c.backward()[c0], 2.0);
    assert_eq!(tape.len(), 3);

    // Each form, Var and f64: c = ((((c₀ + x) − x·2) · x) / x) then ± constants.
    let x = tape.var(3.0);
    let mut d = c0;
    d += x; // 5
    d -= x * 2.0; // −1
    d *= x; // −3
    d /= x + 1.0; // −0.75
    d += 1.0; // 0.25
    d -= 0.5; // −0.25
    d *= 4.0; // −1
    d /= -2.0; // 0.5
    assert_eq!(d.value(), 0.5);
    // d = −2·((c₀ − x)·x/(x + 1) + 0.5)
    // ∂d/∂c₀ = −2·x/(x + 1) = −1.5
    // ∂d/∂x = −2·((−x + (c₀ − x))/(x + 1) − (c₀ − x)·x/(x + 1)²) = −2·(−4/4 + 3/16) = 1.625
    let g = d.backward();
    assert_eq!(g[c0], -1.5);
    assert_eq!(g[x], 1.625);
}

#[test]
fn clear_keeps_working() {
    // One tape through several iterations: ids restart at 0, labels are forgotten, gradients
    // are right, and a NaN in one iteration does not leak into the next.
    let mut tape = Tape::with_capacity(16);
    for step in 0..6 {
        assert!(tape.is_empty());
        let x = tape.var(f64::from(step));
        assert_eq!(x.index(), 0);
        assert_eq!(x.label(), None, "a label from the last iteration");
        let x = x.with_label("x");
        let w = tape.vars(&[1.0, 2.0, 3.0]);
        let poison = if step % 2 == 0 { f64::NAN } else { 1.0 };
        let p = tape.var(poison);
        let _unused = p.ln();
        let y = tape.dot(&w, &[x, x, x]) * x;
        // y = 6x², dy/dx = 12x, dy/dw_k = x².
        let s = f64::from(step);
        assert_eq!(y.value(), 6.0 * s * s);
        let g = y.backward();
        assert_eq!(g[x], 12.0 * s);
        assert_eq!(g.wrt_all(&w), vec![s * s; 3]);
        assert_same(g[p], 0.0, "unused poison");
        assert_eq!(tape.len(), 8);
        drop(g);
        tape.clear();
        assert_eq!(tape.len(), 0);
    }
    // A smaller graph after bigger ones: the reused gradient buffer starts from zeros.
    let a = tape.var(1.0);
    let b = tape.var(2.0);
    let y = a * 3.0;
    assert_eq!(y.backward().as_slice(), &[3.0, 0.0, 1.0]);
    assert_eq!(y.backward()[b], 0.0);
}

#[test]
fn grads_buffers_are_reused_without_stale_values() {
    let tape = Tape::new();
    let x = tape.vars(&[1.0, 2.0, 3.0, 4.0]);
    let big = tape.dot(&x, &x);
    let small = x[0] * 5.0;
    // Two Grads alive at once are independent.
    let g1 = big.backward();
    let g2 = small.backward();
    assert_eq!(g1.wrt_all(&x), vec![2.0, 4.0, 6.0, 8.0]);
    assert_eq!(g2.wrt_all(&x), vec![5.0, 0.0, 0.0, 0.0]);
    drop(g1);
    drop(g2);
    // After the big one is dropped, its buffer comes back zeroed.
    let g = big.backward();
    drop(g);
    let g = small.backward();
    assert_eq!(g.wrt_all(&x), vec![5.0, 0.0, 0.0, 0.0]);
    assert_eq!(g.as_slice().len(), small.index() + 1);
    drop(g);
    // A failed checked backward gives its buffer back too.
    let bad = tape.var(-1.0).ln();
    assert!(bad.backward_checked().is_err());
    assert_eq!(small.backward().wrt_all(&x), vec![5.0, 0.0, 0.0, 0.0]);
    assert_eq!(big.backward().wrt_all(&x), vec![2.0, 4.0, 6.0, 8.0]);
}

#[test]
fn bulk_helpers() {
    let tape = Tape::default();
    assert!(tape.is_empty());
    let xs = tape.vars(&[1.0, 2.0, 3.0]);
    assert_eq!(
        xs.iter().map(|v| v.index()).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert_eq!(
        xs.iter().map(|v| v.value()).collect::<Vec<_>>(),
        [1.0, 2.0, 3.0]
    );
    let mut more = Vec::new();
    tape.extend_vars(&mut more, &[4.0, 5.0]);
    let gap = tape.var(0.0);
    tape.extend_vars(&mut more, &[6.0]);
    tape.extend_vars(&mut more, &[]);
    assert_eq!(
        more.iter().map(|v| v.index()).collect::<Vec<_>>(),
        vec![3, 4, 6]
    );
    assert_eq!(gap.index(), 5);
    assert!(tape.vars(&[]).is_empty());
    assert_eq!(tape.len(), 7);
    assert!(std::ptr::eq(xs[0].tape(), &tape));

    // y = Σ k·x_k over all six: dy/dx_k = k.
    let all: Vec<Var> = xs.iter().chain(&more).copied().collect();
    let ks = tape.vars(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let y = tape.dot(&all, &ks);
    let g: Grads = y.backward();
    assert_eq!(g.wrt_all(&all), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(g.wrt_all(&ks), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);

    // copy_run: gradients of consecutive nodes from `first`, zero past the root.
    let mut out = [f64::NAN; 3];
    g.copy_run(xs[0], &mut out);
    assert_eq!(out, [1.0, 2.0, 3.0]);
    let mut out = [f64::NAN; 4];
    g.copy_run(more[0], &mut out);
    assert_eq!(out, [4.0, 5.0, 0.0, 6.0]); // node 5 is the unused `gap`
    let mut out = [f64::NAN; 3];
    g.copy_run(y, &mut out);
    assert_eq!(out, [1.0, 0.0, 0.0]); // the root, then past it
    let after = tape.var(1.0);
    let mut out = [f64::NAN; 2];
    g.copy_run(after, &mut out);
    assert_eq!(out, [0.0, 0.0]);
    let mut empty: [f64; 0] = [];
    g.copy_run(xs[0], &mut empty);

    // as_slice: every node up to the root, by index.
    let s = g.as_slice();
    assert_eq!(s.len(), y.index() + 1);
    for v in all.iter().chain(&ks) {
        assert_eq!(s[v.index()], g[*v]);
    }
    assert_eq!(s[y.index()], 1.0);
}

#[test]
fn sum_over_an_iterator_that_records() {
    // The iterator is user code that records nodes while the sum collects its operands.
    let tape = Tape::new();
    let x = tape.var(2.0);
    let s = tape.sum((1..=3).map(|k| x * f64::from(k)));
    assert_eq!(tape.len(), 5);
    assert_eq!(s.value(), 12.0);
    assert_eq!(s.backward()[x], 6.0);
    let leaves = tape.sum((0..4).map(|k| tape.var(f64::from(k))));
    assert_eq!(leaves.value(), 6.0);
    assert_eq!(tape.len(), 10);
    // An iterator that itself calls sum (and dot): s = Σ_k k·(x + 2x) = 3·3x, ds/dx = 9.
    let y = x * 2.0;
    let nested = tape.sum((0..3).map(|k| {
        let inner = tape.sum([x, y, x]) - x;
        let d = tape.dot(&[inner], &[tape.var(f64::from(k))]);
        d + 0.0
    }));
    assert_eq!(nested.value(), 18.0);
    assert_eq!(nested.backward()[x], 9.0);
}

#[test]
fn labels() {
    let tape = Tape::new();
    let a = tape.var(2.0).with_label("a");
    let b = tape.var(-3.0);
    assert_eq!(a.label().as_deref(), Some("a"));
    assert_eq!(b.label(), None);
    // Copies share the node, so they share the label; a later label wins.
    let a2 = a;
    let _ = a2.with_label("alpha");
    assert_eq!(a.label().as_deref(), Some("alpha"));
    let c = (a * b).with_label("c");
    assert_eq!(c.label().as_deref(), Some("c"));
    assert_eq!(tape.len(), 3, "labels record nothing");
}

#[test]
fn debug_output() {
    let tape = Tape::new();
    let a = tape.var(2.5).with_label("a");
    let b = tape.var(-1.0);
    let c = a * b;
    let da = format!("{a:?}");
    assert!(
        da.contains("id: 0") && da.contains("2.5") && da.contains("\"a\""),
        "{da}"
    );
    let dc = format!("{c:?}");
    assert!(dc.contains("id: 2") && dc.contains("-2.5"), "{dc}");
    assert!(!dc.contains("label"), "{dc}");
    let dt = format!("{tape:?}");
    assert!(dt.contains("Tape") && dt.contains("len: 3"), "{dt}");
    let g = c.backward();
    assert!(format!("{g:?}").contains("Grads"));
}

#[test]
fn tape_moves_to_another_thread() {
    fn send<T: Send>(t: T) -> T {
        t
    }
    let tape = send(Tape::new());
    let grads = std::thread::spawn(move || {
        let w = tape.vars(&[1.0, 2.0]);
        let y = w[0] * w[1];
        y.backward().wrt_all(&w)
    })
    .join()
    .unwrap();
    assert_eq!(grads, vec![2.0, 1.0]);
}

#[test]
fn dot_value_matches_the_tape() {
    let ws = [0.1, 0.2, 0.3, 1e-17, -0.6];
    let xs = [3.0, -1.0, 7.0, 1.0, 0.25];
    let tape = Tape::new();
    let y = tape.dot(&tape.vars(&ws), &tape.vars(&xs));
    assert_same(y.value(), tapegrad::dot_value(&ws, &xs), "dot_value");
    assert_same(tapegrad::dot_value(&[], &[]), 0.0, "empty dot_value");
    // Within rounding of the left-to-right sum (the engine may reassociate).
    let by_hand = ws[0] * xs[0] + ws[1] * xs[1] + ws[2] * xs[2] + ws[3] * xs[3] + ws[4] * xs[4];
    assert!(
        (y.value() - by_hand).abs() <= 1e-15,
        "{} vs {by_hand}",
        y.value()
    );
    let (w3, x3) = (&ws[..3], &xs[..3]);
    let y3 = tape.dot(&tape.vars(w3), &tape.vars(x3));
    assert_all_same(
        &[y3.value()],
        &[ws[0] * xs[0] + ws[1] * xs[1] + ws[2] * xs[2]],
        "3 terms",
    );
}

#[test]
fn runs() {
    let tape = Tape::new();
    let _first = tape.var(0.0);
    let r = tape.run(&[1.0, 2.0, 3.0, 4.0]);
    assert_eq!((r.start(), r.len(), r.is_empty()), (1, 4, false));
    assert!(std::ptr::eq(r.tape(), &tape));
    assert_eq!(format!("{r:?}"), "Run(1..5)");
    assert_eq!(r.get(2).value(), 3.0);
    assert_eq!(r.get(2).index(), 3);
    assert_eq!(
        r.iter().map(|v| v.value()).collect::<Vec<_>>(),
        [1.0, 2.0, 3.0, 4.0]
    );
    let vars = r.to_vec();
    assert_eq!(vars.len(), 4);
    let again = Run::new(&vars).expect("consecutive");
    assert_eq!((again.start(), again.len()), (1, 4));
    let mid = r.slice(1..3);
    assert_eq!((mid.start(), mid.len()), (2, 2));
    assert!(r.slice(2..2).is_empty());
    assert!(Run::new(&[vars[0], vars[2]]).is_none());
    let xs = tape.vars(&[5.0, 6.0]);
    assert_eq!(Run::new(&xs).map(|x| x.start()), Some(5));

    // Overlapping runs: y = r0·r1 + r1·r2 + r2·r3 = 2 + 6 + 12 = 20;
    // dy/dr = (r1, r0 + r2, r1 + r3, r2) = (2, 4, 6, 3).
    let y = tape.dot_run(r.slice(0..3), r.slice(1..4));
    assert_eq!(y.value(), 20.0);
    assert_eq!(y.backward().wrt_run(r), vec![2.0, 4.0, 6.0, 3.0]);
    // A run with itself: Σ r², d/dr = 2r.
    let y = tape.dot_run(r, r);
    assert_eq!(y.value(), 30.0);
    assert_eq!(y.backward().wrt_run(r), vec![2.0, 4.0, 6.0, 8.0]);
    // Empty runs: 0; an affine of no inputs is its bias.
    let empty = tape.run(&[]);
    assert!(empty.is_empty());
    let before = tape.len();
    let z = tape.dot_run(empty, empty);
    assert_eq!((z.value(), tape.len()), (0.0, before + 1));
    let b = r.slice(3..4);
    let z = tape.affine(b, empty);
    assert_eq!(z.value(), 4.0);
    assert_eq!(z.backward().wrt_run(r), vec![0.0, 0.0, 0.0, 1.0]);
    assert_eq!(z.backward().wrt_run(empty), Vec::<f64>::new());
    // affine(wb, x) = dot_run(w, x) + b, and a run of non-leaves works like one of leaves.
    let x = tape.run(&[0.5, -1.0, 2.0]);
    let h: Vec<Var> = x.iter().map(|v| v * 2.0).collect();
    let h = Run::new(&h).expect("recorded one after another");
    let z = tape.affine(r, h);
    // z = 1·1 + 2·(−2) + 3·4 + 4 = 13; dz/dx_k = 2·r_k.
    assert_eq!(z.value(), 13.0);
    let g = z.backward();
    assert_eq!(g.wrt_run(x), vec![2.0, 4.0, 6.0]);
    assert_eq!(g.wrt_run(r), vec![1.0, -2.0, 4.0, 1.0]);
    assert_eq!(g.wrt_run(h), vec![1.0, 2.0, 3.0]);
}

#[test]
fn neuron_over_runs() {
    let tape = Tape::new();
    let r = tape.run(&[1.0, 2.0, 3.0, 4.0]);
    // One node per neuron, whatever the activation; a neuron of no inputs is act(bias).
    let empty = tape.run(&[]);
    let b = r.slice(3..4);
    for act in ACTIVATIONS {
        let before = tape.len();
        let h = tape.neuron(b, empty, act);
        assert_eq!((tape.len(), h.index()), (before + 1, before), "{act:?}");
        let want = match act {
            Activation::Relu => 4.0,
            Activation::Tanh => f64::tanh(4.0),
            Activation::Sigmoid => 1.0 / (1.0 + f64::exp(-4.0)),
            Activation::Identity => 4.0,
        };
        assert_same(h.value(), want, &format!("{act:?}(b)"));
        let g = h.backward();
        // d act(b)/db is the activation's slope at b, and nothing else is reached.
        let slope = match act {
            Activation::Relu => 1.0,
            Activation::Tanh => 1.0 - want * want,
            Activation::Sigmoid => (1.0 - want) * want,
            Activation::Identity => 1.0,
        };
        assert_all_same(&g.wrt_run(r), &[0.0, 0.0, 0.0, slope], &format!("{act:?}"));
    }
    // Overlapping runs: w = (r0, r1, r2), b = r3, x = (r0, r1, r2): z = Σ r² + r3 = 18, relu
    // passes it; dz/dr = (2r0, 2r1, 2r2, 1).
    let h = tape.neuron(r, r.slice(0..3), Activation::Relu);
    assert_eq!(h.value(), 18.0);
    assert_eq!(h.backward().wrt_run(r), vec![2.0, 4.0, 6.0, 1.0]);
    // Shifted: w = (r1, r2), b = r3, x = (r0, r1): z = r1·r0 + r2·r1 + r3 = 2 + 6 + 4 = 12;
    // dz/dr = (r1, r0 + r2, r1, 1) = (2, 4, 2, 1).
    let h = tape.neuron(r.slice(1..4), r.slice(0..2), Activation::Relu);
    assert_eq!(h.value(), 12.0);
    assert_eq!(h.backward().wrt_run(r), vec![2.0, 4.0, 2.0, 1.0]);
    // A run of non-leaves as inputs, as in `runs`: z = 13, relu passes it, d/dx_k = 2·r_k.
    let x = tape.run(&[0.5, -1.0, 2.0]);
    let hx: Vec<Var> = x.iter().map(|v| v * 2.0).collect();
    let hx = Run::new(&hx).expect("recorded one after another");
    let h = tape.neuron(r, hx, Activation::Relu);
    assert_eq!(h.value(), 13.0);
    let g = h.backward();
    assert_eq!(g.wrt_run(x), vec![2.0, 4.0, 6.0]);
    assert_eq!(g.wrt_run(r), vec![1.0, -2.0, 4.0, 1.0]);
    // A layer: neurons recorded one after another are a run, the next layer's input.
    // h = (relu(13), relu(−13)) with the second neuron's weights negated; out = 1·h0 + 1·h1 + 0.
    let neg = tape.run(&[-1.0, -2.0, -3.0, -4.0]);
    let layer = [
        tape.neuron(r, hx, Activation::Relu),
        tape.neuron(neg, hx, Activation::Relu),
    ];
    let layer = Run::new(&layer).expect("a layer's outputs are a run");
    let v = tape.run(&[1.0, 1.0, 0.0]);
    let out = tape.neuron(v, layer, Activation::Relu);
    assert_eq!(out.value(), 13.0);
    let g = out.backward();
    // The dead second neuron passes nothing: d out/d neg = 0, d out/d r as before.
    assert_eq!(g.wrt_run(neg), vec![0.0; 4]);
    assert_eq!(g.wrt_run(r), vec![1.0, -2.0, 4.0, 1.0]);
    assert_eq!(g.wrt_run(v), vec![13.0, 0.0, 1.0]);
}

#[test]
fn clear_keeps_the_allocation() {
    // The same step three times on one tape: after the first, nothing grows.
    let mut tape = Tape::with_capacity(64);
    assert!(tape.memory_bytes() >= 64 * 24);
    let mut sizes = Vec::new();
    for step in 0..3 {
        {
            let w = tape.run(&[0.5, -0.25, 0.1]);
            let x = tape.vars(&[1.0, 2.0]);
            let z = tape.affine(w, Run::new(&x).unwrap()).tanh();
            let list = tape.sum([x[1], x[0], z]);
            let loss = (list * list).with_label("loss");
            let g = loss.backward();
            assert!(g.wrt_run(w).iter().all(|d| d.is_finite()));
            assert_eq!(tape.len(), 9, "step {step}");
        }
        tape.clear();
        assert!(tape.is_empty());
        sizes.push(tape.memory_bytes());
    }
    assert_eq!(sizes[1], sizes[0]);
    assert_eq!(sizes[2], sizes[0]);
}
