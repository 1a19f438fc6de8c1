//! micrograd's demo as whole trainings: MLP 2-16-16-1 (ReLU hidden layers, linear output), the
//! 100 two-moons points of `two_moons(100, 0.1, 1337)`, max-margin loss + 1e-4·Σp², 100
//! full-batch SGD steps with micrograd's schedule lr = 1 − 0.9·k/100, from the parameters of
//! `Mlp::new(2, &[16, 16, 1], 1337)`. Each iteration starts again from those parameters, so
//! every spelling follows the same trajectory (checked once at start-up: the loss curves agree
//! to rounding). The spellings, in one group so their ratios show in one run:
//!
//! - `handwritten`: explicit gradient loops that vectorize, no autodiff;
//! - `tape_binary`: micrograd's graph, one node per scalar `+`, `*` and `relu`;
//! - `tape_dot_slices`: one `Tape::dot` per neuron over slices of `Var`s, as a user first
//!   writes it;
//! - `tape_neuron`: one `Tape::neuron` node per neuron over `Run`s, as the `mlp` crate does;
//! - `lanes8_binary`, `lanes16_binary`, `lanes4_neuron`, `lanes8_neuron`, `lanes16_neuron`:
//!   the binary and the neuron spellings recorded once per 4, 8 or 16 samples on a
//!   `Tape<Lanes<N>>`, the last group padded with lanes whose loss weight is 0 (4 lanes is the
//!   `moons` app's default width, which a change can treat differently from 8).
//!
//! A second group, `demo_sweep`, times the first step's sweep alone on the binary lane tapes.
//!
//! `cargo bench --bench demo`; divide a median by 100 for one step (`cargo test --benches`
//! checks and runs 3 steps). Apart from the lane spellings (delete them and `LANE_SPELLINGS`
//! to build it on an older commit), the file uses only what the engine's public API has had
//! since before its table-per-op refactor (commit 16fc451), and no recorder of the support
//! library, so the same file measures both sides of a `--save-baseline` / `--baseline`
//! comparison.

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use mlp::{Mlp, datasets};
use tapegrad::{Activation, Lanes, Run, Tape, Var};
use tapegrad_suite::handwritten::Net;

/// Layer widths, input first.
pub const SIZES: [usize; 4] = [2, 16, 16, 1];
/// The L2 coefficient.
const ALPHA: f64 = 1e-4;

/// The data, the starting parameters (the `mlp` layout: neuron by neuron, weights then bias)
/// and the steps in one training.
pub struct Demo {
    pub xs: Vec<[f64; 2]>,
    pub ys: Vec<f64>,
    pub start: Vec<f64>,
    pub steps: usize,
}

impl Demo {
    pub fn new(steps: usize) -> Demo {
        let data = datasets::two_moons(100, 0.1, 1337);
        Demo {
            xs: data.inputs.iter().map(|x| [x[0], x[1]]).collect(),
            ys: data.labels,
            start: Mlp::new(2, &[16, 16, 1], 1337).parameters(),
            steps,
        }
    }
}

/// Whether criterion runs the benchmarks once as tests (`cargo test --benches`): it passes
/// `--bench` only to a measuring run.
pub fn test_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    !args.iter().any(|a| a == "--bench") || args.iter().any(|a| a == "--test")
}

/// micrograd's learning rate at step `k`.
pub fn lr(k: usize) -> f64 {
    1.0 - 0.9 * k as f64 / 100.0
}

/// A loss recorder: the loss node, with the parameters bound first on the cleared tape.
pub type Recorder = for<'t> fn(&'t Tape, &[f64], &[[f64; 2]], &[f64]) -> Var<'t>;

/// A whole training of the hand-written network; `curve` gets the loss before each update.
pub fn train_handwritten(d: &Demo, net: &mut Net, grad: &mut Net, curve: &mut Vec<f64>) {
    *net = Net::from_params(&d.start);
    curve.clear();
    curve.extend((0..d.steps).map(|k| net.step(grad, &d.xs, &d.ys, lr(k))));
}

/// A whole training on one reused tape, cleared every step; `curve` gets the losses.
pub fn train_tape(
    d: &Demo,
    record: Recorder,
    tape: &mut Tape,
    params: &mut Vec<f64>,
    curve: &mut Vec<f64>,
) {
    params.clone_from(&d.start);
    curve.clear();
    for k in 0..d.steps {
        tape.clear();
        let loss = record(tape, params, &d.xs, &d.ys);
        let g = loss.backward();
        // The parameters are the tape's first nodes.
        for (w, dw) in params.iter_mut().zip(g.as_slice()) {
            *w -= lr(k) * dw;
        }
        curve.push(loss.value());
    }
}

/// The network's output for input `x`, bound as leaves: `neuron(w, b, inputs)` records a
/// neuron's pre-activation, `relu` follows in the hidden layers. `buffers` hold the layers'
/// activations, reused across samples.
fn forward<'t>(
    tape: &'t Tape,
    p: &[Var<'t>],
    x: &[f64; 2],
    (act, next): &mut (Vec<Var<'t>>, Vec<Var<'t>>),
    neuron: impl Fn(&[Var<'t>], Var<'t>, &[Var<'t>]) -> Var<'t>,
) -> Var<'t> {
    act.clear();
    tape.extend_vars(act, x);
    let mut at = 0;
    for (l, w) in SIZES.windows(2).enumerate() {
        next.clear();
        for _ in 0..w[1] {
            let z = neuron(&p[at..at + w[0]], p[at + w[0]], act);
            at += w[0] + 1;
            next.push(if l + 2 == SIZES.len() { z } else { z.relu() });
        }
        std::mem::swap(act, next);
    }
    act[0]
}

/// micrograd's graph: `s = b; s += w·x` and `relu` per neuron, a node per operation, the data
/// loss and the L2 term as chains of `+`.
pub fn record_binary<'t>(tape: &'t Tape, params: &[f64], xs: &[[f64; 2]], ys: &[f64]) -> Var<'t> {
    let p = tape.vars(params);
    let mut buffers = (Vec::new(), Vec::new());
    let mut data_loss: Option<Var<'t>> = None;
    for (x, &y) in xs.iter().zip(ys) {
        let out = forward(tape, &p, x, &mut buffers, |w, b, x| {
            let mut s = b;
            for (&wi, &xi) in w.iter().zip(x) {
                s += wi * xi;
            }
            s
        });
        let li = (1.0 - y * out).relu();
        data_loss = Some(data_loss.map_or(li, |d| d + li));
    }
    let mut reg = p[0] * p[0];
    for &w in &p[1..] {
        reg += w * w;
    }
    data_loss.expect("at least one sample") * (1.0 / xs.len() as f64) + ALPHA * reg
}

/// One `Tape::dot` per neuron over slices of `Var`s, `+ b`, then `relu` in the hidden layers;
/// a `sum` for the data loss, a `dot` for the L2 term.
pub fn record_dot_slices<'t>(
    tape: &'t Tape,
    params: &[f64],
    xs: &[[f64; 2]],
    ys: &[f64],
) -> Var<'t> {
    let p = tape.vars(params);
    let mut buffers = (Vec::new(), Vec::new());
    let mut losses = Vec::with_capacity(xs.len());
    for (x, &y) in xs.iter().zip(ys) {
        let out = forward(tape, &p, x, &mut buffers, |w, b, x| tape.dot(w, x) + b);
        losses.push((1.0 - y * out).relu());
    }
    tape.sum(&losses) * (1.0 / xs.len() as f64) + ALPHA * tape.dot(&p, &p)
}

/// One node per neuron over `Run`s: `Tape::neuron` (ReLU) in the hidden layers, `Tape::affine`
/// for the output; a `sum` for the data loss, a `dot_run` for the L2 term.
pub fn record_neuron<'t>(tape: &'t Tape, params: &[f64], xs: &[[f64; 2]], ys: &[f64]) -> Var<'t> {
    let p = tape.run(params);
    let mut pre = Vec::new();
    let mut losses = Vec::with_capacity(xs.len());
    for (x, &y) in xs.iter().zip(ys) {
        let mut act = tape.run(x);
        let mut at = 0;
        for (l, w) in SIZES.windows(2).enumerate() {
            pre.clear();
            for _ in 0..w[1] {
                let wb = p.slice(at..at + w[0] + 1);
                at += w[0] + 1;
                pre.push(if l + 2 == SIZES.len() {
                    tape.affine(wb, act)
                } else {
                    tape.neuron(wb, act, Activation::Relu)
                });
            }
            act = Run::new(&pre).expect("a layer's outputs are recorded one after another");
        }
        losses.push((1.0 - y * act.get(0)).relu());
    }
    tape.sum(&losses) * (1.0 / xs.len() as f64) + ALPHA * tape.dot_run(p, p)
}

/// The tape spellings, by benchmark name.
pub const TAPE_SPELLINGS: [(&str, Recorder); 3] = [
    ("tape_binary", record_binary),
    ("tape_dot_slices", record_dot_slices),
    ("tape_neuron", record_neuron),
];

/// A lane recorder: the loss node of a `Tape<Lanes<N>>` whose lanes sum to the demo's loss,
/// with the parameters bound first, splat.
pub type LaneRecorder<const N: usize> =
    for<'t> fn(&'t Tape<Lanes<N>>, &[f64], &[[f64; 2]], &[f64]) -> Var<'t, Lanes<N>>;

/// Group `k`'s inputs, labels and loss weights: sample `k·N + l` in lane `l`, and padding
/// lanes (input 0, label 0, weight 0) past the last sample.
pub fn group<const N: usize>(
    xs: &[[f64; 2]],
    ys: &[f64],
    k: usize,
) -> ([Lanes<N>; 2], Lanes<N>, Lanes<N>) {
    let at = |l: usize| xs.get(k * N + l);
    let x = [0, 1].map(|f| Lanes::from_fn(|l| at(l).map_or(0.0, |x| x[f])));
    let y = Lanes::from_fn(|l| ys.get(k * N + l).copied().unwrap_or(0.0));
    let w = Lanes::from_fn(|l| if at(l).is_some() { 1.0 } else { 0.0 });
    (x, y, w)
}

/// The lanes' losses and the L2 term, which only lane 0 carries so that the lanes sum to
/// the demo's loss once.
fn lane_total<'t, const N: usize>(
    tape: &'t Tape<Lanes<N>>,
    data_loss: Var<'t, Lanes<N>>,
    reg: Var<'t, Lanes<N>>,
    n: usize,
) -> Var<'t, Lanes<N>> {
    let first = tape.var(Lanes::from_fn(|l| if l == 0 { 1.0 } else { 0.0 }));
    data_loss * (1.0 / n as f64) + ALPHA * reg * first
}

/// `record_binary` on lanes: micrograd's graph, recorded once per `N` samples.
pub fn record_binary_lanes<'t, const N: usize>(
    tape: &'t Tape<Lanes<N>>,
    params: &[f64],
    xs: &[[f64; 2]],
    ys: &[f64],
) -> Var<'t, Lanes<N>> {
    let p: Vec<Var<'t, Lanes<N>>> = params.iter().map(|&w| tape.var(Lanes::splat(w))).collect();
    let (mut act, mut next) = (Vec::new(), Vec::new());
    let mut data_loss: Option<Var<'t, Lanes<N>>> = None;
    for k in 0..xs.len().div_ceil(N) {
        let (x, y, w) = group::<N>(xs, ys, k);
        act.clear();
        act.extend(x.map(|x| tape.var(x)));
        let mut at = 0;
        for (l, sz) in SIZES.windows(2).enumerate() {
            next.clear();
            for _ in 0..sz[1] {
                let mut s = p[at + sz[0]];
                for (&wi, &xi) in p[at..at + sz[0]].iter().zip(&act) {
                    s += wi * xi;
                }
                at += sz[0] + 1;
                next.push(if l + 2 == SIZES.len() { s } else { s.relu() });
            }
            std::mem::swap(&mut act, &mut next);
        }
        let li = (1.0 - tape.var(y) * act[0]).relu() * tape.var(w);
        data_loss = Some(data_loss.map_or(li, |d| d + li));
    }
    let mut reg = p[0] * p[0];
    for &w in &p[1..] {
        reg += w * w;
    }
    lane_total(tape, data_loss.expect("at least one sample"), reg, xs.len())
}

/// `record_neuron` on lanes: one node per neuron over runs, recorded once per `N` samples.
pub fn record_neuron_lanes<'t, const N: usize>(
    tape: &'t Tape<Lanes<N>>,
    params: &[f64],
    xs: &[[f64; 2]],
    ys: &[f64],
) -> Var<'t, Lanes<N>> {
    let splat: Vec<Lanes<N>> = params.iter().map(|&w| Lanes::splat(w)).collect();
    let p = tape.run(&splat);
    let mut pre = Vec::new();
    let mut losses = Vec::with_capacity(xs.len().div_ceil(N));
    for k in 0..xs.len().div_ceil(N) {
        let (x, y, w) = group::<N>(xs, ys, k);
        let mut act = tape.run(&x);
        let mut at = 0;
        for (l, sz) in SIZES.windows(2).enumerate() {
            pre.clear();
            for _ in 0..sz[1] {
                let wb = p.slice(at..at + sz[0] + 1);
                at += sz[0] + 1;
                pre.push(if l + 2 == SIZES.len() {
                    tape.affine(wb, act)
                } else {
                    tape.neuron(wb, act, Activation::Relu)
                });
            }
            act = Run::new(&pre).expect("a layer's outputs are recorded one after another");
        }
        losses.push((1.0 - tape.var(y) * act.get(0)).relu() * tape.var(w));
    }
    lane_total(tape, tape.sum(&losses), tape.dot_run(p, p), xs.len())
}

/// A whole training on one reused lane tape; a parameter's gradient is its lanes' sum.
/// Returns the nodes of the last step's tape.
pub fn train_lanes<const N: usize>(
    d: &Demo,
    record: LaneRecorder<N>,
    tape: &mut Tape<Lanes<N>>,
    params: &mut Vec<f64>,
    curve: &mut Vec<f64>,
) -> usize {
    params.clone_from(&d.start);
    curve.clear();
    for k in 0..d.steps {
        tape.clear();
        let loss = record(tape, params, &d.xs, &d.ys);
        let g = loss.backward();
        for (w, dw) in params.iter_mut().zip(g.as_slice()) {
            *w -= lr(k) * dw.sum();
        }
        curve.push(loss.value().sum());
    }
    tape.len()
}

/// One step's recording and, with `sweep`, its sweep on `tape` at parameters `params`,
/// without the update.
pub fn lane_step<const N: usize>(
    d: &Demo,
    record: LaneRecorder<N>,
    tape: &mut Tape<Lanes<N>>,
    params: &[f64],
    sweep: bool,
) -> f64 {
    tape.clear();
    let loss = record(tape, params, &d.xs, &d.ys);
    if !sweep {
        return loss.value().sum();
    }
    let g = loss.backward();
    g.as_slice()[0].sum()
}

/// Runs `body` for each lane spelling with its width, recorder and tape (new tapes, or the
/// caller's `Tape<Lanes<4>>`, `Tape<Lanes<8>>` and `Tape<Lanes<16>>`, reused across calls):
/// `train` runs a whole training, `step` one step at given parameters, or its recording alone
/// ([`lane_step`]).
macro_rules! for_lane_spellings {
    (|$name:ident, $train:ident| $body:block) => {{
        let mut t4 = Tape::<Lanes<4>>::new();
        let mut t8 = Tape::<Lanes<8>>::new();
        let mut t16 = Tape::<Lanes<16>>::new();
        for_lane_spellings!(on (t4, t8, t16) |$name, $train, _step| $body);
    }};
    (on ($t4:ident, $t8:ident, $t16:ident) |$name:ident, $train:ident, $step:ident| $body:block) => {{
        let (t4, t8, t16) = (&mut $t4, &mut $t8, &mut $t16);
        for_lane_spellings!(@one $name, $train, $step, $body, "lanes8_binary", 8, record_binary_lanes, t8);
        for_lane_spellings!(@one $name, $train, $step, $body, "lanes16_binary", 16, record_binary_lanes, t16);
        for_lane_spellings!(@one $name, $train, $step, $body, "lanes4_neuron", 4, record_neuron_lanes, t4);
        for_lane_spellings!(@one $name, $train, $step, $body, "lanes8_neuron", 8, record_neuron_lanes, t8);
        for_lane_spellings!(@one $name, $train, $step, $body, "lanes16_neuron", 16, record_neuron_lanes, t16);
    }};
    (@one $name:ident, $train:ident, $step:ident, $body:block, $label:literal, $n:literal, $record:ident, $tape:ident) => {{
        let $name = $label;
        let tape = std::cell::RefCell::new(&mut *$tape);
        #[allow(unused_variables)]
        let $train = |d: &Demo, p: &mut Vec<f64>, c: &mut Vec<f64>| {
            train_lanes::<$n>(d, $record, *tape.borrow_mut(), p, c)
        };
        #[allow(unused_variables)]
        let $step = |d: &Demo, p: &[f64], sweep: bool| {
            lane_step::<$n>(d, $record, *tape.borrow_mut(), p, sweep)
        };
        $body
    }};
}

/// Panics unless every tape spelling's loss curve is the hand-written one to rounding, so a
/// broken spelling fails `cargo test --benches` rather than timing another trajectory.
pub fn check_curves(d: &Demo) {
    let mut net = Net::from_params(&d.start);
    let mut grad = net.clone();
    let mut want = Vec::new();
    train_handwritten(d, &mut net, &mut grad, &mut want);
    let (mut tape, mut params, mut curve) = (Tape::new(), Vec::new(), Vec::new());
    for (name, record) in TAPE_SPELLINGS {
        train_tape(d, record, &mut tape, &mut params, &mut curve);
        let mut worst = 0.0f64;
        for (k, (&got, &want)) in curve.iter().zip(&want).enumerate() {
            let rel = (got - want).abs() / want.abs();
            assert!(
                rel <= 1e-9,
                "{name}: loss {got} at step {k}, the hand-written step has {want}"
            );
            worst = worst.max(rel);
        }
        tape.clear();
        let _ = record(&tape, &d.start, &d.xs, &d.ys);
        eprintln!(
            "{name}: {} nodes per step, losses within {worst:.1e} of the hand-written ones",
            tape.len()
        );
    }
    for_lane_spellings!(|name, train| {
        let nodes = train(d, &mut params, &mut curve);
        let mut worst = 0.0f64;
        for (k, (&got, &want)) in curve.iter().zip(&want).enumerate() {
            let rel = (got - want).abs() / want.abs();
            assert!(
                rel <= 1e-9,
                "{name}: loss {got} at step {k}, the hand-written step has {want}"
            );
            worst = worst.max(rel);
        }
        eprintln!(
            "{name}: {nodes} nodes per step, losses within {worst:.1e} of the hand-written ones"
        );
    });
    let last = d.steps - 1;
    eprintln!(
        "loss {:.6} at step 0, {:.6} at step {last}",
        want[0], want[last]
    );
}

/// Adds the hand-written and the tape spellings' whole trainings to `group`.
pub fn bench_spellings(group: &mut BenchmarkGroup<'_, WallTime>, d: &Demo) {
    let mut curve = Vec::with_capacity(d.steps);
    let mut net = Net::from_params(&d.start);
    let mut grad = net.clone();
    group.bench_function("handwritten", |b| {
        b.iter(|| {
            train_handwritten(d, &mut net, &mut grad, &mut curve);
            black_box(curve[d.steps - 1])
        })
    });
    let (mut tape, mut params) = (Tape::new(), Vec::new());
    for (name, record) in TAPE_SPELLINGS {
        group.bench_function(name, |b| {
            b.iter(|| {
                train_tape(d, record, &mut tape, &mut params, &mut curve);
                black_box(curve[d.steps - 1])
            })
        });
    }
    for_lane_spellings!(|name, train| {
        group.bench_function(name, |b| {
            b.iter(|| {
                black_box(train(d, &mut params, &mut curve));
                black_box(curve[d.steps - 1])
            })
        });
    });
}

/// The demo's steps in one training: 100 when measuring; a test run checks and times 3.
pub fn steps() -> usize {
    if test_mode() { 3 } else { 100 }
}

/// The first step's sweep alone on the binary graph's lane tapes, recorded once: `backward`
/// and the drop of its gradients, which resets what the sweep wrote for the next one.
fn bench_lane_sweeps(c: &mut Criterion, d: &Demo) {
    fn sweep<const N: usize>(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, d: &Demo) {
        let tape = Tape::<Lanes<N>>::new();
        let loss = record_binary_lanes::<N>(&tape, &d.start, &d.xs, &d.ys);
        group.bench_function(name, |b| {
            b.iter(|| black_box(loss.backward().as_slice()[0]))
        });
    }
    let mut group = c.benchmark_group("demo_sweep");
    sweep::<8>(&mut group, "lanes8_binary", d);
    sweep::<16>(&mut group, "lanes16_binary", d);
    group.finish();
}

fn bench_demo(c: &mut Criterion) {
    let d = Demo::new(steps());
    check_curves(&d);
    let mut group = c.benchmark_group("demo_step");
    bench_spellings(&mut group, &d);
    group.finish();
    bench_lane_sweeps(c, &d);
}

criterion_group!(benches, bench_demo);
criterion_main!(benches);
