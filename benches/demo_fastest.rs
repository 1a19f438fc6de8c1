//! The `demo` group's trainings timed as the fastest of many runs instead of criterion's
//! median: on a shared machine a burst of load only ever adds time, so the fastest run of
//! each spelling is the steadier figure when two builds are compared a few percent apart.
//!
//! ```sh
//! cargo bench --bench demo_fastest            # 12 rounds
//! cargo bench --bench demo_fastest -- 30      # 30 rounds
//! cargo bench --bench demo_fastest -- lanes   # the lane spellings instead of the scalar ones
//! cargo bench --bench demo_fastest -- lanes8_neuron 30   # the spellings whose name has it
//! cargo bench --bench demo_fastest -- steps lanes    # single steps, early and late
//! ```
//!
//! Each round runs the hand-written training and then each spelling once, in that order, the
//! scalar ones on one reused tape; the line printed gives each spelling's fastest 100-step
//! training and its ratio to the fastest hand-written one. The recorders are `demo.rs`'s
//! own, so this file builds wherever that one does (on 16fc451 too, as described there, with
//! `lane_rounds` deleted as well). Under `cargo test` it runs one round of 3 steps of each.
//!
//! With `steps`, each lane spelling's step (recording and sweep) is timed alone at three
//! points of the hand-written training's trajectory, steps 0, 10 and 90, beside the
//! hand-written step at the same parameters: each the fastest of 100 repetitions per round.
//! A step's cost depends on how many samples the hinge loss still counts (most at step 0,
//! none by step 90), and a lane tape skips a group of samples only when all of them are out.
//! Two more lines per step split the cost: the recording alone (no sweep), and the `neuron`
//! spellings' forward pass computed with no tape at all, the same products and sums in the
//! same order stored one value per neuron: the arithmetic that any recording of it does.

#![allow(dead_code)]

#[path = "demo.rs"]
#[macro_use]
mod demo;

use std::time::Instant;

use tapegrad::{Lanes, Tape};
use tapegrad_suite::handwritten::Net;

fn main() {
    let test = demo::test_mode();
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(if test { 1 } else { 12 });
    let d = demo::Demo::new(demo::steps());
    // A filter, as criterion's: the spellings whose name contains it. The lane spellings
    // run when it names some, the scalar ones otherwise.
    let filter = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--") && a != "steps" && a.parse::<usize>().is_err())
        .unwrap_or_default();
    let lanes = filter.contains("lanes");
    if test || std::env::args().any(|a| a == "steps") {
        step_rounds(&d, rounds, &filter);
        if !test {
            return;
        }
    }
    if test || !lanes {
        scalar_rounds(&d, rounds, &filter);
    }
    if test || lanes {
        lane_rounds(&d, rounds, &filter);
    }
}

/// Times the hand-written training, once per round.
fn handwritten(d: &demo::Demo, net: &mut Net, grad: &mut Net, curve: &mut Vec<f64>) -> f64 {
    let t = Instant::now();
    demo::train_handwritten(d, net, grad, curve);
    t.elapsed().as_secs_f64()
}

/// Prints the fastest of each spelling (in `unit`, `scale` per second) after `head`, beside
/// the fastest hand-written one, `fastest[0]`.
fn report(head: &str, names: &[&str], fastest: &[f64], (scale, unit): (f64, &str)) {
    print!("{head}: handwritten {:.2} µs", fastest[0] * 1e6);
    for (name, t) in names.iter().zip(&fastest[1..]) {
        print!(" | {name} {:.3} {unit}, {:.2}×", t * scale, t / fastest[0]);
    }
    println!();
}

/// Folds one round's times into the fastest so far (the hand-written one stays at 0).
fn keep_fastest(
    fastest: &mut Vec<f64>,
    names: &mut Vec<&'static str>,
    round: Vec<(&'static str, f64)>,
) {
    fastest.resize(round.len() + 1, f64::MAX);
    names.clear();
    for (k, (name, t)) in round.into_iter().enumerate() {
        names.push(name);
        fastest[k + 1] = fastest[k + 1].min(t);
    }
}

/// The lane spellings, each round in one sitting with a hand-written training.
fn lane_rounds(d: &demo::Demo, rounds: usize, filter: &str) {
    use demo::{Demo, lane_step, record_binary_lanes, record_neuron_lanes, train_lanes};
    use tapegrad::Lanes;
    let (mut params, mut curve) = (Vec::new(), Vec::new());
    let mut net = Net::from_params(&d.start);
    let mut grad = net.clone();
    let mut names = Vec::new();
    let mut fastest = vec![f64::MAX];
    let mut t4 = Tape::<Lanes<4>>::new();
    let mut t8 = Tape::<Lanes<8>>::new();
    let mut t16 = Tape::<Lanes<16>>::new();
    for _ in 0..rounds {
        fastest[0] = fastest[0].min(handwritten(d, &mut net, &mut grad, &mut curve));
        let mut times = Vec::new();
        for_lane_spellings! { on (t4, t8, t16) |name, train, _step| {
            if name.contains(filter) {
                let t = Instant::now();
                train(d, &mut params, &mut curve);
                times.push((name, t.elapsed().as_secs_f64()));
            }
        }}
        keep_fastest(&mut fastest, &mut names, times);
    }
    report(
        &format!("fastest of {rounds}"),
        &names,
        &fastest,
        (1e3, "ms"),
    );
}

/// Single steps of the lane spellings at steps 0, 10 and 90 (0, 1 and 2, once, under `cargo
/// test`).
fn step_rounds(d: &demo::Demo, rounds: usize, filter: &str) {
    use demo::{Demo, lane_step, record_binary_lanes, record_neuron_lanes, train_lanes};
    let at = if d.steps < 100 {
        [0, 1, 2]
    } else {
        [0, 10, 90]
    };
    let mut net = Net::from_params(&d.start);
    let mut grad = net.clone();
    let mut points = Vec::new();
    for k in 0..d.steps {
        if at.contains(&k) {
            points.push((k, net.clone()));
        }
        net.step(&mut grad, &d.xs, &d.ys, demo::lr(k));
    }
    let reps = if d.steps < 100 { 1 } else { 100 };
    let fastest_of = |f: &mut dyn FnMut() -> f64| {
        let mut best = f64::MAX;
        for _ in 0..reps {
            let t = Instant::now();
            std::hint::black_box(f());
            best = best.min(t.elapsed().as_secs_f64());
        }
        best
    };
    let (mut t4, mut t8, mut t16) = (Tape::new(), Tape::new(), Tape::new());
    let mut values: (Vec<Lanes<4>>, Vec<Lanes<8>>, Vec<Lanes<16>>) = Default::default();
    for (k, net) in &points {
        let params = net.to_params();
        let mut names = [Vec::new(), Vec::new(), Vec::new()];
        let mut fastest = [vec![f64::MAX], vec![f64::MAX], vec![f64::MAX]];
        for _ in 0..rounds {
            let hand = fastest_of(&mut || {
                let mut n = net.clone();
                n.step(&mut grad, &d.xs, &d.ys, demo::lr(*k))
            });
            for f in &mut fastest {
                f[0] = f[0].min(hand);
            }
            let (mut steps, mut recordings) = (Vec::new(), Vec::new());
            for_lane_spellings! { on (t4, t8, t16) |name, _train, step| {
                if name.contains(filter) {
                    steps.push((name, fastest_of(&mut || step(d, &params, true))));
                    recordings.push((name, fastest_of(&mut || step(d, &params, false))));
                }
            }}
            keep_fastest(&mut fastest[0], &mut names[0], steps);
            keep_fastest(&mut fastest[1], &mut names[1], recordings);
            let (v4, v8, v16) = &mut values;
            let forward = vec![
                (
                    "lanes4",
                    fastest_of(&mut || forward_without_tape(d, &params, v4)),
                ),
                (
                    "lanes8",
                    fastest_of(&mut || forward_without_tape(d, &params, v8)),
                ),
                (
                    "lanes16",
                    fastest_of(&mut || forward_without_tape(d, &params, v16)),
                ),
            ];
            keep_fastest(&mut fastest[2], &mut names[2], forward);
        }
        report(&format!("step {k}"), &names[0], &fastest[0], (1e6, "µs"));
        report(
            &format!("step {k}, recording alone"),
            &names[1],
            &fastest[1],
            (1e6, "µs"),
        );
        report(
            &format!("step {k}, neuron forward without a tape"),
            &names[2],
            &fastest[2],
            (1e6, "µs"),
        );
    }
}

/// The `neuron` spellings' forward pass on `N` lanes with no tape, a floor for their
/// recording: for each neuron the products and the four partial sums of `Tape::neuron`, its
/// bias and ReLU, and the value appended to `values` as a push appends it. Compiled for AVX2
/// where the processor has it, as the tape's dot products are. Returns the outputs' sum.
fn forward_without_tape<const N: usize>(
    d: &demo::Demo,
    params: &[f64],
    values: &mut Vec<Lanes<N>>,
) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has AVX2, checked just above.
        return unsafe { forward_avx2(d, params, values) };
    }
    forward_lanes(d, params, values)
}

/// [`forward_lanes`] compiled with AVX2.
///
/// # Safety
///
/// The processor must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn forward_avx2<const N: usize>(
    d: &demo::Demo,
    params: &[f64],
    values: &mut Vec<Lanes<N>>,
) -> f64 {
    forward_lanes(d, params, values)
}

/// The body of [`forward_without_tape`].
#[inline(always)]
fn forward_lanes<const N: usize>(
    d: &demo::Demo,
    params: &[f64],
    values: &mut Vec<Lanes<N>>,
) -> f64 {
    values.clear();
    values.extend(params.iter().map(|&p| Lanes::splat(p)));
    let mut out = 0.0;
    for k in 0..d.xs.len().div_ceil(N) {
        let (x, _, _) = demo::group::<N>(&d.xs, &d.ys, k);
        let mut act = values.len();
        values.extend(x);
        let mut at = 0;
        for (l, sz) in demo::SIZES.windows(2).enumerate() {
            let next = values.len();
            for _ in 0..sz[1] {
                let (w, x) = (&values[at..at + sz[0]], &values[act..act + sz[0]]);
                let mut acc = [Lanes::<N>::default(); 4];
                let (wc, xc) = (w.chunks_exact(4), x.chunks_exact(4));
                for (l, (&w, &x)) in wc.remainder().iter().zip(xc.remainder()).enumerate() {
                    acc[l] = w * x;
                }
                for (w, x) in wc.zip(xc) {
                    for l in 0..4 {
                        acc[l] += w[l] * x[l];
                    }
                }
                let z = (acc[0] + acc[1]) + (acc[2] + acc[3]) + values[at + sz[0]];
                at += sz[0] + 1;
                let relu = l + 2 < demo::SIZES.len();
                values.push(if relu {
                    z.to_array().map(|v| v.max(0.0)).into()
                } else {
                    z
                });
            }
            act = next;
        }
        out += values[act].sum();
    }
    out
}

/// The hand-written training and the three `Tape<f64>` spellings.
fn scalar_rounds(d: &demo::Demo, rounds: usize, filter: &str) {
    let (mut params, mut curve) = (Vec::new(), Vec::new());
    let mut tape = Tape::new();
    let mut net = Net::from_params(&d.start);
    let mut grad = net.clone();
    let spellings: Vec<_> = (demo::TAPE_SPELLINGS.into_iter())
        .filter(|(name, _)| name.contains(filter))
        .collect();
    let mut fastest = vec![f64::MAX; spellings.len() + 1];
    for _ in 0..rounds {
        fastest[0] = fastest[0].min(handwritten(d, &mut net, &mut grad, &mut curve));
        for (k, (_, record)) in spellings.iter().enumerate() {
            let t = Instant::now();
            demo::train_tape(d, *record, &mut tape, &mut params, &mut curve);
            fastest[k + 1] = fastest[k + 1].min(t.elapsed().as_secs_f64());
        }
    }
    let names: Vec<&str> = spellings.iter().map(|(name, _)| *name).collect();
    report(
        &format!("fastest of {rounds}"),
        &names,
        &fastest,
        (1e3, "ms"),
    );
}
