//! micrograd's demo loss (MLP 2-16-16-1, ReLU hidden layers, max-margin loss + 1e-4·Σp²) on
//! other Rust scalar-tape crates, for `benches/peers.rs`: one generic spelling of the loss,
//! micrograd's graph with a node per scalar operation, and one SGD step per crate.

use easy_ml::differentiation::{Record, WengertList};
use echidna::bytecode_tape::BytecodeTape;
use echidna::{BReverse, Reverse, Scalar};
use mlp::{Mlp, datasets};
use tapegrad_suite::handwritten::Net;

/// Layer widths, input first.
const SIZES: [usize; 4] = [2, 16, 16, 1];
/// The L2 coefficient.
const ALPHA: f64 = 1e-4;

/// The scalar operations the demo's loss records, one node each on a tape.
pub trait Number: Clone {
    /// A constant: on no tape.
    fn constant(c: f64) -> Self;
    fn plus(&self, other: &Self) -> Self;
    fn times(&self, other: &Self) -> Self;
    fn scale(&self, c: f64) -> Self;
    fn shift(&self, c: f64) -> Self;
    fn relu(&self) -> Self;
}

macro_rules! echidna_number {
    ($($t:ty),*) => {$(
        impl Number for $t {
            fn constant(c: f64) -> Self {
                <$t as Scalar>::from_f(c)
            }
            fn plus(&self, other: &Self) -> Self {
                *self + *other
            }
            fn times(&self, other: &Self) -> Self {
                *self * *other
            }
            fn scale(&self, c: f64) -> Self {
                *self * c
            }
            fn shift(&self, c: f64) -> Self {
                *self + c
            }
            fn relu(&self) -> Self {
                // A `max` node, so a replayed tape takes the branch anew.
                num_traits::Float::max(*self, Self::constant(0.0))
            }
        }
    )*};
}
echidna_number!(f64, Reverse<f64>, BReverse<f64>);

impl Number for Record<'_, f64> {
    fn constant(c: f64) -> Self {
        Record::constant(c)
    }
    fn plus(&self, other: &Self) -> Self {
        self + other
    }
    fn times(&self, other: &Self) -> Self {
        self * other
    }
    fn scale(&self, c: f64) -> Self {
        self * c
    }
    fn shift(&self, c: f64) -> Self {
        self + c
    }
    fn relu(&self) -> Self {
        // `Record::unary` returns a record bound to the borrow of `self`; a product with the
        // step's 0 or 1 is the same one node, with relu's value and derivative.
        self * if self.number > 0.0 { 1.0 } else { 0.0 }
    }
}

/// The demo's loss as micrograd records it: `s = b + w₀x₀ + w₁x₁ + …` per neuron, `relu` in
/// the hidden layers, `relu(1 − y·score)` per sample, the data loss and the L2 term as chains
/// of `+`. The inputs are constants.
pub fn demo_loss<T: Number>(p: &[T], xs: &[[f64; 2]], ys: &[f64]) -> T {
    let (mut act, mut next) = (Vec::new(), Vec::new());
    let mut data_loss: Option<T> = None;
    for (x, &y) in xs.iter().zip(ys) {
        act.clear();
        act.extend(x.iter().map(|&v| T::constant(v)));
        let mut at = 0;
        for (l, w) in SIZES.windows(2).enumerate() {
            next.clear();
            for _ in 0..w[1] {
                let mut s = p[at + w[0]].clone();
                for (wi, xi) in p[at..at + w[0]].iter().zip(&act) {
                    s = s.plus(&wi.times(xi));
                }
                at += w[0] + 1;
                next.push(if l + 2 == SIZES.len() { s } else { s.relu() });
            }
            std::mem::swap(&mut act, &mut next);
        }
        let li = act[0].scale(-y).shift(1.0).relu();
        data_loss = Some(match data_loss {
            None => li,
            Some(d) => d.plus(&li),
        });
    }
    let mut reg = p[0].times(&p[0]);
    for w in &p[1..] {
        reg = reg.plus(&w.times(w));
    }
    let data_loss = data_loss.expect("at least one sample");
    data_loss
        .scale(1.0 / xs.len() as f64)
        .plus(&reg.scale(ALPHA))
}

fn sgd(params: &mut [f64], grads: &[f64], lr: f64) {
    for (w, g) in params.iter_mut().zip(grads) {
        *w -= lr * g;
    }
}

/// One SGD step with echidna, the loss recorded anew on its (pooled) tape. Returns the loss.
pub fn echidna_step(params: &mut [f64], xs: &[[f64; 2]], ys: &[f64], lr: f64) -> f64 {
    let mut loss = 0.0;
    let grads = echidna::grad(
        |p: &[Reverse<f64>]| {
            let l = demo_loss(p, xs, ys);
            loss = l.value();
            l
        },
        params,
    );
    sgd(params, &grads, lr);
    loss
}

/// echidna's bytecode tape: the loss recorded once, then replayed (forward and reverse) at
/// each step's parameters.
pub struct EchidnaReplay {
    tape: BytecodeTape<f64>,
    adjoints: Vec<f64>,
}

impl EchidnaReplay {
    /// Records the loss at `params`.
    pub fn record(params: &[f64], xs: &[[f64; 2]], ys: &[f64]) -> EchidnaReplay {
        let (tape, _) = echidna::record(|p: &[BReverse<f64>]| demo_loss(p, xs, ys), params);
        EchidnaReplay {
            tape,
            adjoints: Vec::new(),
        }
    }

    /// The recording's entries, inputs and constants included.
    pub fn len(&self) -> usize {
        self.tape.num_ops()
    }

    /// Whether the recording is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One SGD step by replaying the tape. Returns the loss.
    pub fn step(&mut self, params: &mut [f64], lr: f64) -> f64 {
        let grads = self.tape.gradient_with_buf(params, &mut self.adjoints);
        sgd(params, &grads, lr);
        self.tape.output_value()
    }
}

/// One SGD step with easy-ml's `WengertList`, cleared and recorded anew. Returns the loss.
pub fn easy_ml_step(
    list: &WengertList<f64>,
    params: &mut [f64],
    xs: &[[f64; 2]],
    ys: &[f64],
    lr: f64,
) -> f64 {
    list.clear();
    let p: Vec<Record<'_, f64>> = params.iter().map(|&v| list.variable(v)).collect();
    let loss = demo_loss(&p, xs, ys);
    let d = loss.derivatives();
    for (w, r) in params.iter_mut().zip(&p) {
        *w -= lr * d[r];
    }
    loss.number
}

/// The demo's data and start as JSON for `micrograd/demo_step.py`: the 100 two-moons points
/// (`xs`, `ys`), the starting parameters in micrograd's order (`start`), and the hand-written
/// step's losses over `steps` steps of micrograd's schedule (`losses`), to check against.
pub fn demo_json(steps: usize) -> String {
    let data = datasets::two_moons(100, 0.1, 1337);
    let xs: Vec<[f64; 2]> = data.inputs.iter().map(|x| [x[0], x[1]]).collect();
    let start = Mlp::new(2, &[16, 16, 1], 1337).parameters();
    let mut net = Net::from_params(&start);
    let mut grad = net.clone();
    let losses: Vec<f64> = (0..steps)
        .map(|k| net.step(&mut grad, &xs, &data.labels, 1.0 - 0.9 * k as f64 / 100.0))
        .collect();
    let list = |v: &[f64]| {
        let items: Vec<String> = v.iter().map(|x| format!("{x:?}")).collect();
        format!("[{}]", items.join(", "))
    };
    let points: Vec<String> = xs.iter().map(|x| list(x)).collect();
    format!(
        "{{\n\"xs\": [{}],\n\"ys\": {},\n\"start\": {},\n\"losses\": {}\n}}\n",
        points.join(", "),
        list(&data.labels),
        list(&start),
        list(&losses)
    )
}

#[cfg(test)]
mod tests {
    /// The file the Python script reads is what the Rust side computes today.
    #[test]
    fn micrograd_data_is_current() {
        let file = include_str!("../micrograd/demo.json");
        assert!(
            file == super::demo_json(100),
            "micrograd/demo.json is stale: cargo run --bin demo-data > micrograd/demo.json"
        );
    }
}
