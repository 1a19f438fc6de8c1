//! Higher-order derivatives on an MLP loss: 2-16-16-1, tanh hidden layers, binary operations
//! only, mean squared error over 16 samples, 337 parameters. One gradient (record, backward),
//! the Hessian-vector product `tapegrad::hvp` of the same closure (record, `grad`, Σ gᵢvᵢ,
//! backward), the same product on a reused tape, and the full 337 × 337 `tapegrad::hessian`.
//!
//! `cargo bench --bench higher`. The node counts printed at the start say how many nodes the
//! recorded backward (`Var::grad`) adds per forward node. A test run (`cargo test --benches`)
//! uses 2 samples.

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
    group.bench_function("hvp_reused_tape", |b| {
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

criterion_group!(benches, bench_higher);
criterion_main!(benches);
