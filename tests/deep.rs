//! Deep graphs, in a binary of their own so a stack overflow cannot hide other results: a chain
//! of a million nodes and a sum of a million leaves, built, differentiated and dropped on a
//! thread with a 2 MiB stack. Backward is a loop over the tape, never a recursion, so the stack
//! size does not depend on the depth.

use tapegrad::{Run, Tape, Var};

const NODES: usize = 1_000_000;

/// Runs `f` on a thread with a 2 MiB stack.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("the deep test panicked (or overflowed its stack)");
}

#[track_caller]
fn assert_close(got: f64, want: f64, rel: f64, what: &str) {
    assert!(
        got.is_finite() && (got - want).abs() <= rel * want.abs().max(1e-300),
        "{what}: got {got:e}, want {want:e}"
    );
}

/// The chain, step k (3 nodes each), alternating two kinds of step:
///   even k: x ← x + w·sin x       (unary, binary ·, binary +; w fans out to every even step)
///   odd k:  x ← x·exp(1e-6·x)     (constant ·, unary, binary ·)
const STEPS: usize = NODES / 3 + 1;
const X0: f64 = 0.5;
const W: f64 = 1e-6;
const C: f64 = 1e-6;

#[test]
fn chain_of_a_million_nodes() {
    on_small_stack(|| {
        let tape = Tape::with_capacity(NODES + 2);
        let x0 = tape.var(X0);
        let w = tape.var(W);
        let mut x: Var = x0;
        for k in 0..STEPS {
            x = if k % 2 == 0 {
                x + w * x.sin()
            } else {
                x * (x * C).exp()
            };
        }
        assert!(tape.len() >= NODES, "{} nodes", tape.len());
        let g = x.backward();
        let (got_x0, got_w, value) = (g[x0], g[w], x.value());
        drop(g);
        drop(tape);

        // The same chain in plain f64: forward, keeping every x, then the adjoints backward.
        let mut xs = Vec::with_capacity(STEPS + 1);
        let mut xf = X0;
        for k in 0..STEPS {
            xs.push(xf);
            xf = if k % 2 == 0 {
                xf + W * xf.sin()
            } else {
                xf * (xf * C).exp()
            };
        }
        assert_eq!(value.to_bits(), xf.to_bits(), "value: {value} vs {xf}");
        // d x_{k+1}/d x_k: 1 + w·cos x (even), e^{cx}(1 + c·x) (odd); d x_{k+1}/dw = sin x_k.
        let (mut adj, mut dw) = (1.0, 0.0);
        for k in (0..STEPS).rev() {
            let xk = xs[k];
            if k % 2 == 0 {
                dw += adj * xk.sin();
                adj *= 1.0 + W * xk.cos();
            } else {
                adj *= (C * xk).exp() * (1.0 + C * xk);
            }
        }
        assert!(adj > 0.1 && adj < 10.0, "a gradient that tells: {adj}");
        assert_close(got_x0, adj, 1e-9, "dx/dx0");
        assert_close(got_w, dw, 1e-9, "dx/dw");
    });
}

#[test]
fn sum_of_a_million_leaves() {
    on_small_stack(|| {
        let values: Vec<f64> = (0..NODES)
            .map(|k| (k % 1000) as f64 * 0.001 - 0.5)
            .collect();
        let want: f64 = values.iter().skip(1).fold(values[0], |a, &b| a + b);
        let tape = Tape::new();
        let xs = tape.vars(&values);

        // Contiguous: one node over a range.
        let s = tape.sum(&xs);
        assert_eq!(tape.len(), NODES + 1);
        assert_eq!(s.value().to_bits(), want.to_bits());
        let g = s.backward();
        assert!(g.wrt_all(&xs).iter().all(|&d| d == 1.0));
        drop(g);

        // Non-contiguous: a stride permutation (7919 is prime, so coprime with 10⁶), then
        // every tenth leaf again: those get 2.
        let order = (0..NODES)
            .map(|k| xs[k * 7919 % NODES])
            .chain(xs.iter().step_by(10).copied());
        let s2 = tape.sum(order);
        assert_eq!(tape.len(), NODES + 2);
        let g = s2.backward();
        let mut out = vec![0.0; NODES];
        g.copy_run(xs[0], &mut out);
        for (k, &d) in out.iter().enumerate() {
            let want = if k % 10 == 0 { 2.0 } else { 1.0 };
            assert_eq!(d, want, "leaf {k}");
        }
        // The first sum's node is not reachable from the second.
        assert_eq!(g[s], 0.0);
        drop(g);

        // A dot product of a million pairs: d(w·x)/dw = x; and the same over runs.
        let ws = tape.vars(&values);
        let d = tape.dot(&ws, &xs);
        let g = d.backward();
        assert_eq!(g.wrt_all(&ws), values);
        assert_eq!(g.wrt_all(&xs), values);
        drop(g);
        let (wr, xr) = (Run::new(&ws).unwrap(), Run::new(&xs).unwrap());
        let d2 = tape.dot_run(wr, xr);
        assert_eq!(d2.value().to_bits(), d.value().to_bits());
        let g = d2.backward();
        assert_eq!(g.wrt_run(wr), values);
        assert_eq!(g.wrt_run(xr), values);
        drop(g);
        drop(tape);
    });
}
