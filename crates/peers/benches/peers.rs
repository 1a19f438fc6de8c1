//! micrograd's demo as whole 100-step trainings from the same start (the `demo_step` group of
//! the repository's `benches/demo.rs`, whose spellings this file includes) beside other Rust
//! scalar tapes: echidna, recording anew each step and replaying one recording, and easy-ml,
//! recording anew each step. `cargo bench` in this folder; divide a median by 100 for a step.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use easy_ml::differentiation::WengertList;
use peers::{EchidnaReplay, demo_loss, easy_ml_step, echidna_step};
use tapegrad_suite::handwritten::Net;

// The tapegrad and hand-written spellings, the same code as the repository's `demo_step` group.
#[allow(dead_code)]
#[path = "../../../benches/demo.rs"]
mod demo;
use demo::Demo;

/// A peer's whole training: `step(params, lr)` from the start, the losses into `curve`.
type PeerTraining = fn(&Demo, &mut Vec<f64>, &mut Vec<f64>);

fn train(
    d: &Demo,
    params: &mut Vec<f64>,
    curve: &mut Vec<f64>,
    mut step: impl FnMut(&mut [f64], f64) -> f64,
) {
    params.clone_from(&d.start);
    curve.clear();
    for k in 0..d.steps {
        curve.push(step(params, demo::lr(k)));
    }
}

fn echidna_fresh(d: &Demo, params: &mut Vec<f64>, curve: &mut Vec<f64>) {
    train(d, params, curve, |p, lr| echidna_step(p, &d.xs, &d.ys, lr));
}

/// One recording per training, replayed at every step.
fn echidna_replayed(d: &Demo, params: &mut Vec<f64>, curve: &mut Vec<f64>) {
    let mut tape = EchidnaReplay::record(&d.start, &d.xs, &d.ys);
    train(d, params, curve, |p, lr| tape.step(p, lr));
}

fn easy_ml_fresh(d: &Demo, params: &mut Vec<f64>, curve: &mut Vec<f64>) {
    let list = WengertList::new();
    train(d, params, curve, |p, lr| {
        easy_ml_step(&list, p, &d.xs, &d.ys, lr)
    });
}

const PEERS: [(&str, PeerTraining); 3] = [
    ("echidna_fresh", echidna_fresh),
    ("echidna_replayed", echidna_replayed),
    ("easy_ml_fresh", easy_ml_fresh),
];

/// Panics unless every peer's loss curve is the hand-written one to rounding.
fn check_peers(d: &Demo) {
    let mut net = Net::from_params(&d.start);
    let mut grad = net.clone();
    let mut want = Vec::new();
    demo::train_handwritten(d, &mut net, &mut grad, &mut want);
    assert_eq!(demo_loss(&d.start, &d.xs, &d.ys), want[0]);
    let (mut params, mut curve) = (Vec::new(), Vec::new());
    for (name, training) in PEERS {
        training(d, &mut params, &mut curve);
        let worst = curve
            .iter()
            .zip(&want)
            .map(|(got, want)| (got - want).abs() / want.abs())
            .fold(0.0, f64::max);
        assert!(
            worst <= 1e-9,
            "{name}: losses {worst:.1e} off the hand-written ones"
        );
        eprintln!("{name}: losses within {worst:.1e} of the hand-written ones");
    }
    let replay = EchidnaReplay::record(&d.start, &d.xs, &d.ys);
    eprintln!(
        "echidna's recording: {} entries, inputs and constants included",
        replay.len()
    );
}

fn bench_peers(c: &mut Criterion) {
    let d = Demo::new(demo::steps());
    demo::check_curves(&d);
    check_peers(&d);
    let mut group = c.benchmark_group("peers_demo");
    demo::bench_spellings(&mut group, &d);
    let (mut params, mut curve) = (Vec::new(), Vec::with_capacity(d.steps));
    for (name, training) in PEERS {
        group.bench_function(name, |b| {
            b.iter(|| {
                training(&d, &mut params, &mut curve);
                black_box(curve[d.steps - 1])
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_peers);
criterion_main!(benches);
