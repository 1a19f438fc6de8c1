//! Workloads shared by tapegrad's integration tests and benchmarks.
//!
//! The benchmark workload is micrograd's demo: an MLP 2-16-16-1 (ReLU hidden layers, linear
//! output) on 100 two-moons points, max-margin loss plus `1e-4·Σp²`, one full-batch SGD step.
//! Parameters are laid out as `mlp::Mlp::parameters` lays them out: layer by layer, neuron by
//! neuron, each neuron's weights then its bias.

use tapegrad::{Activation, Run, Tape, Var};

/// The demo network's layer widths, input first.
pub const SIZES: [usize; 4] = [2, 16, 16, 1];
/// The demo's L2 coefficient.
pub const ALPHA: f64 = 1e-4;

/// Whether a bench binary runs as a test (`cargo test --benches` runs each benchmark once)
/// rather than measuring: criterion passes `--bench` only to a measuring run, and `--test`
/// asks for a test run. Benches shrink their workloads then, so the test command stays quick.
pub fn bench_test_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    !args.iter().any(|a| a == "--bench") || args.iter().any(|a| a == "--test")
}

/// The number of parameters of an MLP with these widths (input first).
pub fn num_parameters(sizes: &[usize]) -> usize {
    sizes.windows(2).map(|w| (w[0] + 1) * w[1]).sum()
}

/// Deterministic parameters in (−1, 1), biases included, from a small LCG.
pub fn parameters(sizes: &[usize], seed: u64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..num_parameters(sizes))
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

/// `n` points of two interleaved half circles (labels ±1) with a small deterministic jitter:
/// the shape of the two-moons data, without a random number generator.
pub fn moons(n: usize) -> (Vec<[f64; 2]>, Vec<f64>) {
    let half = n / 2;
    let mut xs = Vec::with_capacity(n);
    let mut ys = Vec::with_capacity(n);
    for i in 0..n {
        let outer = i < half;
        let count = if outer { half } else { n - half };
        let k = if outer { i } else { i - half };
        let t = std::f64::consts::PI * k as f64 / (count.max(2) - 1) as f64;
        let jitter = 0.1 * ((i as f64 * 12.9898).sin() * 43758.5453).fract();
        if outer {
            xs.push([t.cos() + jitter, t.sin() - jitter]);
            ys.push(-1.0);
        } else {
            xs.push([1.0 - t.cos() - jitter, 1.0 - t.sin() - 0.5 + jitter]);
            ys.push(1.0);
        }
    }
    (xs, ys)
}

/// The network's output for one input, recorded with binary operations (`s = b; s += w·x`
/// per neuron) and `hidden` after each hidden neuron, the output linear. `buffers` are
/// scratch space for the layers' activations, reused across samples.
fn forward_binary<'t>(
    tape: &'t Tape,
    params: &[Var<'t>],
    x: &[f64; 2],
    hidden: fn(Var<'t>) -> Var<'t>,
    (act, next): &mut (Vec<Var<'t>>, Vec<Var<'t>>),
) -> Var<'t> {
    act.clear();
    tape.extend_vars(act, x);
    let mut p = 0;
    for (l, w) in SIZES.windows(2).enumerate() {
        let last = l == SIZES.len() - 2;
        next.clear();
        for _ in 0..w[1] {
            let (ws, b) = (&params[p..p + w[0]], params[p + w[0]]);
            p += w[0] + 1;
            let mut s = b;
            for (&wi, &xi) in ws.iter().zip(act.iter()) {
                s += wi * xi;
            }
            next.push(if last { s } else { hidden(s) });
        }
        std::mem::swap(act, next);
    }
    act[0]
}

/// micrograd's demo loss recorded the way micrograd records it: one node per scalar `+`, `*`
/// and `relu` (`act = b + w₀x₀ + w₁x₁ + …`), so the tape has micrograd's graph shape, ~65k
/// nodes. Returns the loss node; the parameters are the first `params.len()` leaves.
pub fn record_binary<'t>(
    tape: &'t Tape,
    params: &[Var<'t>],
    xs: &[[f64; 2]],
    ys: &[f64],
) -> Var<'t> {
    let mut data_loss: Option<Var<'t>> = None;
    let mut buffers = (Vec::new(), Vec::new());
    for (x, &y) in xs.iter().zip(ys) {
        let out = forward_binary(tape, params, x, Var::relu, &mut buffers);
        let li = (1.0 - y * out).relu();
        data_loss = Some(match data_loss {
            None => li,
            Some(d) => d + li,
        });
    }
    let data_loss = data_loss.expect("at least one sample") * (1.0 / xs.len() as f64);
    let mut reg = params[0] * params[0];
    for &p in &params[1..] {
        reg += p * p;
    }
    data_loss + ALPHA * reg
}

/// The loss of the higher-order benchmarks: the same MLP shape with tanh hidden layers and a
/// linear output, recorded with binary operations (one node per scalar `*`, `+` and `tanh`),
/// and the mean squared error against `ys`. Parameters are laid out as for [`record_binary`].
pub fn record_tanh_mse<'t>(
    tape: &'t Tape,
    params: &[Var<'t>],
    xs: &[[f64; 2]],
    ys: &[f64],
) -> Var<'t> {
    let mut sse: Option<Var<'t>> = None;
    let mut buffers = (Vec::new(), Vec::new());
    for (x, &y) in xs.iter().zip(ys) {
        let e = forward_binary(tape, params, x, Var::tanh, &mut buffers) - y;
        sse = Some(match sse {
            None => e * e,
            Some(s) => s + e * e,
        });
    }
    sse.expect("at least one sample") * (1.0 / xs.len() as f64)
}

/// The same loss with fused nodes, the way the `mlp` crate records it: the parameters bound as
/// one [`Run`], per layer one node per neuron over two runs ([`Tape::neuron`], relu(Σ w·x + b),
/// for the hidden layers, [`Tape::affine`] for the linear output), so a layer's outputs are a
/// run; one n-ary `sum` for the data loss and one `dot` for the L2 term.
pub fn record_fused<'t>(tape: &'t Tape, params: Run<'t>, xs: &[[f64; 2]], ys: &[f64]) -> Var<'t> {
    let mut losses = Vec::with_capacity(xs.len());
    let mut pre = Vec::new();
    for (x, &y) in xs.iter().zip(ys) {
        let mut act = tape.run(x);
        let mut p = 0;
        for (l, w) in SIZES.windows(2).enumerate() {
            let last = l == SIZES.len() - 2;
            pre.clear();
            for _ in 0..w[1] {
                let wb = params.slice(p..p + w[0] + 1);
                pre.push(if last {
                    tape.affine(wb, act)
                } else {
                    tape.neuron(wb, act, Activation::Relu)
                });
                p += w[0] + 1;
            }
            act = Run::new(&pre).expect("a layer's outputs are recorded one after another");
        }
        losses.push((1.0 - y * act.get(0)).relu());
    }
    let data_loss = tape.sum(&losses) * (1.0 / xs.len() as f64);
    data_loss + ALPHA * tape.dot_run(params, params)
}

/// One SGD step on a fresh (cleared) tape: bind, record, backward, update. Returns the loss.
pub fn tape_step(
    tape: &mut Tape,
    params: &mut [f64],
    xs: &[[f64; 2]],
    ys: &[f64],
    lr: f64,
    fused: bool,
) -> f64 {
    tape.clear();
    let p = tape.run(params);
    let loss = if fused {
        record_fused(tape, p, xs, ys)
    } else {
        record_binary(tape, &p.to_vec(), xs, ys)
    };
    let g = loss.backward();
    let grads = &g.as_slice()[p.start()..][..params.len()];
    for (w, d) in params.iter_mut().zip(grads) {
        *w -= lr * d;
    }
    loss.value()
}

pub mod handwritten;
