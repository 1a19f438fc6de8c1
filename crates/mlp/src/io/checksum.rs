//! The checksum of a model file: FNV-1a (64 bits) over the model's canonical bytes.
//!
//! FNV-1a is a dozen lines, has no dependency and detects every change confined to one
//! byte of its input (each step is a bijection of the state), which covers what a flipped
//! bit in a number usually does to the parsed parameters. It guards against damage, not
//! against someone who edits the file on purpose and recomputes it.

use crate::Layer;

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a, 64 bits.
pub(crate) struct Fnv(u64);

impl Fnv {
    pub(crate) fn new() -> Self {
        Fnv(OFFSET)
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(PRIME);
        }
        self
    }

    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.bytes(&v.to_le_bytes())
    }

    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}

/// The checksum of a model: its inputs, its shape, every neuron's activation and the bits
/// of every parameter, in [`Mlp::parameters`](crate::Mlp::parameters) order. Lengths are
/// hashed before contents so that different shapes never give the same byte stream.
pub(crate) fn model_checksum(nin: usize, layers: &[Layer]) -> u64 {
    let mut h = Fnv::new();
    h.u64(nin as u64).u64(layers.len() as u64);
    for layer in layers {
        h.u64(layer.neurons.len() as u64);
        for n in &layer.neurons {
            let name = n.activation.name().as_bytes();
            h.u64(name.len() as u64).bytes(name);
            h.u64(n.w.len() as u64);
            for w in &n.w {
                h.u64(w.to_bits());
            }
            h.u64(n.b.to_bits());
        }
    }
    h.finish()
}
