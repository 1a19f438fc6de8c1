//! Helpers shared by the test modules.

use mlp::{Activation, BiasInit, Dataset, Mlp, TrainError};

/// A small deterministic generator for test inputs (xorshift64*).
pub struct Gen(u64);

impl Gen {
    pub fn new(seed: u64) -> Self {
        Gen(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform on [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        lo + (hi - lo) * u
    }

    pub fn vec(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }
}

/// The lecture's MLP(3, [4, 4, 1]): tanh throughout, uniform biases.
pub fn lecture_mlp(seed: u64) -> Mlp {
    Mlp::builder(3, &[4, 4, 1])
        .activation(Activation::Tanh)
        .output_activation(Activation::Tanh)
        .bias_init(BiasInit::Uniform)
        .seed(seed)
        .build()
}

pub fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// The step and the message of a `TrainError::NonFinite`; panics on any other error.
pub fn non_finite(e: TrainError) -> (usize, String) {
    match e {
        TrainError::NonFinite { step, what } => (step, what),
        other => panic!("expected NonFinite, got {other}"),
    }
}

/// A 1-1-1 network, h = relu(w1·x), s = w2·h, with w1 tiny and w2 huge, and `samples` copies
/// of x = 1e10, y = 1: s and the squared loss are finite, but ds/dh·dL/ds = w2·2(s − y)
/// overflows, and with it dL/dw1.
pub fn overflowing_first_weight(samples: usize) -> (Mlp, Dataset) {
    let mut model = Mlp::new(1, &[1, 1], 0);
    model.set_parameters(&[1e-300, 0.0, 1e300, 0.0]);
    let data = Dataset::new(vec![vec![1e10]; samples], vec![1.0; samples]);
    (model, data)
}
