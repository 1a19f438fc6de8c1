//! Forward mode and second derivatives.
//!
//! `mlp_tanh_mse_337`: an MLP loss (2-16-16-1, tanh hidden layers, binary operations only,
//! mean squared error over 16 samples, 337 parameters). One gradient (record, backward) is
//! the yardstick for the Hessian-vector product `tapegrad::hvp` (record, tangent sweep, dual
//! reverse sweep), the same product recorded reverse over reverse (record, `grad`, Σ gᵢvᵢ,
//! backward), and the full 337 × 337 `tapegrad::hessian`.
//!
//! `jacobian_tall` and `jacobian_wide`: a function whose outputs share a trunk of a few
//! thousand nodes, with 4 inputs and 200 outputs (forward mode) and with 200 inputs and 4
//! outputs (reverse mode); one recording of the function is the yardstick.
//!
//! `cargo bench --bench higher`; compare the medians within one run. The node counts printed
//! at the start say how many nodes the recorded backward (`Var::grad`) adds per forward node.
//! A test run (`cargo test --benches`) uses 2 samples.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tapegrad::{Tape, Var};
use tapegrad_suite::{SIZES, bench_test_mode, moons, num_parameters, parameters, record_tanh_mse};

/// The loss as the closure `hvp` and `hessian` take.
fn mse<'d>(
    xs: &'d [[f64; 2]],
    ys: &'d [f64],
) -> impl for<'t> Fn(&'t Tape, &[Var<'t>]) -> Var<'t> + 'd {
    move |t, p| record_tanh_mse(t, p, xs, ys)
}

fn bench_higher(c: &mut Criterion) {
    let (xs, ys) = moons(if bench_test_mode() { 2 } else { 16 });
    let params = parameters(&SIZES, 1);
    assert_eq!(params.len(), num_parameters(&SIZES));
    let dir = parameters(&SIZES, 2);
    let f = mse(&xs, &ys);

    let mut tape = Tape::new();
    {
        let p = tape.vars(&params);
        let l = f(&tape, &p);
        let forward = tape.len();
        let g = l.grad(&p);
        let after_grad = tape.len();
        let gv = tape.sum(g.iter().zip(&dir).map(|(&gi, &vi)| gi * vi));
        eprintln!(
            "{} parameters; tape: {forward} nodes after the forward pass, {after_grad} after grad \
             ({:.2} recorded-backward nodes per forward node), {} after Σ g·v",
            params.len(),
            (after_grad - forward) as f64 / forward as f64,
            gv.index() + 1
        );
    }

    let mut group = c.benchmark_group("mlp_tanh_mse_337");
    group.bench_function("gradient", |b| {
        b.iter(|| {
            tape.clear();
            let p = tape.vars(&params);
            let g = f(&tape, &p).backward();
            black_box(g.wrt_all(&p))
        })
    });
    group.bench_function("hvp", |b| {
        b.iter(|| black_box(tapegrad::hvp(&f, &params, &dir)))
    });
    group.bench_function("hvp_on_tape", |b| {
        b.iter(|| {
            tape.clear();
            let p = tape.vars(&params);
            black_box(f(&tape, &p).hvp(&p, &dir))
        })
    });
    group.bench_function("hvp_recorded", |b| {
        b.iter(|| {
            tape.clear();
            let p = tape.vars(&params);
            let g = f(&tape, &p).grad(&p);
            let gv = tape.sum(g.iter().zip(&dir).map(|(&gi, &vi)| gi * vi));
            black_box(gv.backward().wrt_all(&p))
        })
    });
    group.sample_size(10);
    group.bench_function("hessian", |b| {
        b.iter(|| black_box(tapegrad::hessian(&f, &params)))
    });
    group.finish();
}

/// A trunk of tanh layers of binary operations (`inputs` → 24 → 24), then `outputs` outputs,
/// each a small function of two trunk units.
fn trunk<'t>(tape: &'t Tape, x: &[Var<'t>], outputs: usize) -> Vec<Var<'t>> {
    let mut h: Vec<Var<'t>> = x.to_vec();
    for layer in 0..2 {
        h = (0..24)
            .map(|j| {
                let mut z = tape.var(0.1 * j as f64);
                for (k, &hk) in h.iter().enumerate() {
                    let w = ((layer * 31 + j * 7 + k * 3) % 17) as f64 / 17.0 - 0.5;
                    z += w * hk;
                }
                z.tanh()
            })
            .collect();
    }
    (0..outputs)
        .map(|k| (h[k % 24] * (1.0 + k as f64 / 100.0) + h[(k + 5) % 24]).sin())
        .collect()
}

fn bench_jacobian(c: &mut Criterion) {
    for (name, inputs, outputs) in [("jacobian_tall", 4, 200), ("jacobian_wide", 200, 4)] {
        let x: Vec<f64> = (0..inputs).map(|k| (k as f64 * 0.37).sin()).collect();
        let mut tape = Tape::new();
        {
            let v = tape.vars(&x);
            let _ = trunk(&tape, &v, outputs);
            eprintln!(
                "{name}: {inputs} inputs, {outputs} outputs, {} nodes",
                tape.len()
            );
        }
        let mut group = c.benchmark_group(name);
        group.bench_function("record", |b| {
            b.iter(|| {
                tape.clear();
                let v = tape.vars(&x);
                black_box(trunk(&tape, &v, outputs).len())
            })
        });
        group.bench_function("jacobian", |b| {
            b.iter(|| black_box(tapegrad::jacobian(|t, v| trunk(t, v, outputs), &x)))
        });
        group.finish();
    }
}

criterion_group!(benches, bench_higher, bench_jacobian);
criterion_main!(benches);
