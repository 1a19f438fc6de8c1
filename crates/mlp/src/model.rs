//! The multi-layer perceptron (micrograd's `MLP`).

use std::fmt;

use tapegrad::{Number, Run, Tape, Var};

use crate::layer::write_list;
use crate::{Layer, ModelError};

/// A multi-layer perceptron: micrograd's `MLP`, with its parameters as plain `f64`s.
///
/// [`Mlp::new`] builds micrograd's package model (hidden layers ReLU, output layer linear,
/// weights uniform on [−1, 1), biases 0); [`Mlp::builder`] selects the activations and the
/// bias initialization, e.g. the lecture's all-tanh `MLP(3, [4, 4, 1])`.
///
/// Training records the model on a [`Tape`]: [`Mlp::bind`] records the parameters as
/// contiguous leaves, [`Mlp::forward`] records the network on inputs, and after `backward`
/// an optimizer writes new values with [`Mlp::set_parameters`]. [`Mlp::predict`] evaluates
/// without a tape and gives exactly the values the tape would.
///
/// ```
/// use mlp::Mlp;
/// use tapegrad::Tape;
///
/// let model = Mlp::new(2, &[16, 16, 1], 1337);
/// assert_eq!(model.num_parameters(), 337);
///
/// let tape = Tape::new();
/// let params = model.bind(&tape);
/// let x = tape.vars(&[0.5, -1.0]);
/// let y = model.forward(&tape, &params, &x)[0];
/// assert_eq!(y.value().to_bits(), model.predict(&[0.5, -1.0])[0].to_bits());
/// let grads = y.backward().wrt_all(&params);
/// assert_eq!(grads.len(), 337);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    pub(crate) nin: usize,
    pub(crate) layers: Vec<Layer>,
}

impl Mlp {
    /// micrograd's `MLP(nin, sizes)`: layers of `sizes[i]` neurons, hidden layers ReLU and the
    /// last layer linear, weights uniform on [−1, 1) and biases 0, drawn from a ChaCha8 stream
    /// seeded with `seed`.
    ///
    /// ```
    /// let m = mlp::Mlp::new(2, &[16, 16, 1], 1337);
    /// assert_eq!(m.num_parameters(), 337);
    /// assert_eq!(m, mlp::Mlp::new(2, &[16, 16, 1], 1337));
    /// ```
    ///
    /// # Panics
    ///
    /// If `nin` is 0, `sizes` is empty or a size is 0.
    #[track_caller]
    pub fn new(nin: usize, sizes: &[usize], seed: u64) -> Mlp {
        Mlp::builder(nin, sizes).seed(seed).build()
    }

    /// A model from explicit layers, checked: `nin ≥ 1`, at least one layer, no empty layer,
    /// every neuron has as many weights as the previous layer has outputs, and every
    /// parameter is finite.
    ///
    /// ```
    /// use mlp::{Activation, Layer, Mlp, Neuron};
    /// let layer = Layer { neurons: vec![Neuron::new(vec![1.0, 1.0], 0.0, Activation::Identity)] };
    /// let m = Mlp::from_layers(2, vec![layer.clone()]).unwrap();
    /// assert_eq!(m.predict(&[1.0, 2.0]), vec![3.0]);
    /// assert!(Mlp::from_layers(3, vec![layer]).is_err()); // 2 weights, 3 inputs
    /// ```
    ///
    /// # Errors
    ///
    /// [`ModelError::Mismatch`] for a shape problem, [`ModelError::Corrupt`] for a non-finite
    /// parameter, naming the layer and neuron.
    pub fn from_layers(nin: usize, layers: Vec<Layer>) -> Result<Mlp, ModelError> {
        if nin == 0 {
            return Err(ModelError::Mismatch("the model has 0 inputs".into()));
        }
        if layers.is_empty() {
            return Err(ModelError::Mismatch("the model has no layers".into()));
        }
        let mut width = nin;
        for (l, layer) in layers.iter().enumerate() {
            if layer.neurons.is_empty() {
                return Err(ModelError::Mismatch(format!("layer {l} has no neurons")));
            }
            for (j, n) in layer.neurons.iter().enumerate() {
                if n.w.len() != width {
                    return Err(ModelError::Mismatch(format!(
                        "layer {l}, neuron {j} has {} weights but its layer has {width} inputs",
                        n.w.len()
                    )));
                }
                if let Some(k) = n.w.iter().position(|w| !w.is_finite()) {
                    return Err(ModelError::Corrupt(format!(
                        "layer {l}, neuron {j}, weight {k} is {} (parameters must be finite)",
                        n.w[k]
                    )));
                }
                if !n.b.is_finite() {
                    return Err(ModelError::Corrupt(format!(
                        "layer {l}, neuron {j}, bias is {} (parameters must be finite)",
                        n.b
                    )));
                }
            }
            width = layer.neurons.len();
        }
        Ok(Mlp { nin, layers })
    }

    /// The number of inputs.
    ///
    /// ```
    /// assert_eq!(mlp::Mlp::new(2, &[16, 16, 1], 0).nin(), 2);
    /// ```
    pub fn nin(&self) -> usize {
        self.nin
    }

    /// The number of outputs (the last layer's width).
    ///
    /// ```
    /// assert_eq!(mlp::Mlp::new(2, &[16, 3], 0).nout(), 3);
    /// ```
    pub fn nout(&self) -> usize {
        self.layers.last().map_or(0, Layer::len)
    }

    /// The layer widths, as given to [`Mlp::new`].
    ///
    /// ```
    /// assert_eq!(mlp::Mlp::new(2, &[16, 16, 1], 0).sizes(), vec![16, 16, 1]);
    /// ```
    pub fn sizes(&self) -> Vec<usize> {
        self.layers.iter().map(Layer::len).collect()
    }

    /// The layers, input side first.
    ///
    /// ```
    /// let m = mlp::Mlp::new(2, &[16, 1], 0);
    /// assert_eq!(m.layers()[1].neurons[0].w.len(), 16);
    /// ```
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Every parameter, in the fixed order used everywhere (binding, gradients, optimizers,
    /// files): layer by layer, neuron by neuron, each neuron's weights then its bias.
    ///
    /// ```
    /// use mlp::{Activation, Layer, Mlp, Neuron};
    /// let layer = Layer { neurons: vec![
    ///     Neuron::new(vec![1.0, 2.0], 3.0, Activation::Relu),
    ///     Neuron::new(vec![4.0, 5.0], 6.0, Activation::Relu),
    /// ] };
    /// let m = Mlp::from_layers(2, vec![layer]).unwrap();
    /// assert_eq!(m.parameters(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    /// ```
    pub fn parameters(&self) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.num_parameters());
        self.write_parameters(&mut out);
        out
    }

    /// Replaces `out`'s contents with [`Mlp::parameters`], reusing its allocation.
    ///
    /// ```
    /// let m = mlp::Mlp::new(2, &[3, 1], 0);
    /// let mut buf = Vec::new();
    /// m.write_parameters(&mut buf);
    /// assert_eq!(buf, m.parameters());
    /// ```
    pub fn write_parameters(&self, out: &mut Vec<f64>) {
        out.clear();
        for n in self.layers.iter().flat_map(|l| &l.neurons) {
            out.extend_from_slice(&n.w);
            out.push(n.b);
        }
    }

    /// The number of parameters: Σ over layers of `width · (inputs + 1)`.
    ///
    /// ```
    /// assert_eq!(mlp::Mlp::new(3, &[4, 4, 1], 0).num_parameters(), 41);
    /// ```
    pub fn num_parameters(&self) -> usize {
        self.layers
            .iter()
            .map(|l| l.neurons.iter().map(|n| n.w.len() + 1).sum::<usize>())
            .sum()
    }

    /// Sets every parameter from `p`, in [`Mlp::parameters`] order.
    ///
    /// ```
    /// let mut m = mlp::Mlp::new(2, &[3, 1], 0);
    /// let zeros = vec![0.0; m.num_parameters()];
    /// m.set_parameters(&zeros);
    /// assert_eq!(m.predict(&[1.0, 2.0]), vec![0.0]);
    /// ```
    ///
    /// # Panics
    ///
    /// If `p.len()` differs from [`Mlp::num_parameters`] or a value is not finite (NaN or
    /// ±inf), naming it; the model is then unchanged. [`Mlp::try_set_parameters`] returns
    /// these as errors.
    #[track_caller]
    pub fn set_parameters(&mut self, p: &[f64]) {
        if let Err(ModelError::Mismatch(m) | ModelError::Corrupt(m)) = self.try_set_parameters(p) {
            panic!("Mlp::set_parameters: {m}");
        }
    }

    /// [`Mlp::set_parameters`] that returns an error instead of panicking, leaving the model
    /// unchanged, so a model never holds a NaN or an infinity.
    ///
    /// ```
    /// use mlp::{Mlp, ModelError};
    /// let mut m = Mlp::new(2, &[3, 1], 0);
    /// let before = m.clone();
    /// let mut p = m.parameters();
    /// p[4] = f64::NAN;
    /// let err = m.try_set_parameters(&p).unwrap_err();
    /// assert!(matches!(err, ModelError::Corrupt(_)));
    /// assert!(err.to_string().contains("parameter 4 (layer 0, neuron 1, weight 1) is NaN"));
    /// assert_eq!(m, before);
    /// assert!(matches!(m.try_set_parameters(&[1.0]), Err(ModelError::Mismatch(_))));
    /// ```
    ///
    /// # Errors
    ///
    /// [`ModelError::Mismatch`] if `p.len()` differs from [`Mlp::num_parameters`];
    /// [`ModelError::Corrupt`] naming the first value that is not finite.
    pub fn try_set_parameters(&mut self, p: &[f64]) -> Result<(), ModelError> {
        let n = self.num_parameters();
        if p.len() != n {
            return Err(ModelError::Mismatch(format!(
                "the model has {n} parameters but {} values were given",
                p.len()
            )));
        }
        if let Some(i) = p.iter().position(|v| !v.is_finite()) {
            return Err(ModelError::Corrupt(format!(
                "parameter {i} ({}) is {} (parameters must be finite)",
                self.parameter_name(i),
                p[i]
            )));
        }
        let mut at = 0;
        for neuron in self.layers.iter_mut().flat_map(|l| &mut l.neurons) {
            let k = neuron.w.len();
            neuron.w.copy_from_slice(&p[at..at + k]);
            neuron.b = p[at + k];
            at += k + 1;
        }
        Ok(())
    }

    /// Where parameter `i` lives, for messages: `layer 0, neuron 3, weight 1` or
    /// `layer 2, neuron 0, bias`.
    ///
    /// ```
    /// let m = mlp::Mlp::new(2, &[16, 16, 1], 0);
    /// assert_eq!(m.parameter_name(0), "layer 0, neuron 0, weight 0");
    /// assert_eq!(m.parameter_name(2), "layer 0, neuron 0, bias");
    /// assert_eq!(m.parameter_name(336), "layer 2, neuron 0, bias");
    /// ```
    ///
    /// # Panics
    ///
    /// If `i` is not below [`Mlp::num_parameters`].
    #[track_caller]
    pub fn parameter_name(&self, i: usize) -> String {
        let mut at = 0;
        for (l, layer) in self.layers.iter().enumerate() {
            for (j, n) in layer.neurons.iter().enumerate() {
                let k = n.w.len();
                if i < at + k {
                    return format!("layer {l}, neuron {j}, weight {}", i - at);
                }
                if i == at + k {
                    return format!("layer {l}, neuron {j}, bias");
                }
                at += k + 1;
            }
        }
        panic!("Mlp::parameter_name: parameter {i} does not exist (the model has {at})")
    }

    /// Records the parameters on `tape` as leaves, in [`Mlp::parameters`] order and with
    /// contiguous ids, so each neuron's weights are one run and its `dot` is one fused node.
    ///
    /// ```
    /// let m = mlp::Mlp::new(2, &[3, 1], 0);
    /// let tape = tapegrad::Tape::new();
    /// let p = m.bind(&tape);
    /// assert_eq!(p.len(), m.num_parameters());
    /// assert!(p.windows(2).all(|w| w[1].index() == w[0].index() + 1));
    /// ```
    pub fn bind<'t>(&self, tape: &'t Tape) -> Vec<Var<'t>> {
        let mut values = Vec::with_capacity(self.num_parameters());
        self.write_parameters(&mut values);
        tape.vars(&values)
    }

    /// Records the network on inputs `x` with parameters `params` (from [`Mlp::bind`]) and
    /// returns the outputs.
    ///
    /// When `params` are consecutive nodes (as [`Mlp::bind`] records them) and so are a
    /// layer's inputs (bind `x` with [`Tape::vars`]), a whole neuron act(Σ w·x + b) is ONE
    /// [`Tape::neuron`] node ([`Tape::affine`] when linear), and each layer's outputs are
    /// contiguous on the tape, the next layer's inputs. Otherwise a neuron is a `dot` node, a
    /// bias add and its activation, with the same value and gradient bits.
    ///
    /// ```
    /// use mlp::Mlp;
    /// let m = Mlp::new(2, &[16, 16, 1], 7);
    /// let tape = tapegrad::Tape::new();
    /// let p = m.bind(&tape);
    /// let x = tape.vars(&[1.0, -0.5]);
    /// let before = tape.len();
    /// let out = m.forward(&tape, &p, &x);
    /// assert_eq!(tape.len() - before, 16 + 16 + 1);
    /// assert_eq!(out[0].value(), m.predict(&[1.0, -0.5])[0]);
    ///
    /// // Inputs that are not consecutive nodes take the dot-and-add path: same value.
    /// let (a, b) = (tape.var(-0.5), tape.var(1.0));
    /// let out2 = m.forward(&tape, &p, &[b, a]);
    /// assert_eq!(out2[0].value().to_bits(), out[0].value().to_bits());
    /// ```
    ///
    /// # Panics
    ///
    /// If `params.len()` is not [`Mlp::num_parameters`], `x.len()` is not [`Mlp::nin`], or a
    /// `Var` belongs to another tape.
    #[track_caller]
    pub fn forward<'t>(&self, tape: &'t Tape, params: &[Var<'t>], x: &[Var<'t>]) -> Vec<Var<'t>> {
        let (mut out, mut tmp) = (Vec::new(), Vec::new());
        self.forward_into(tape, params, x, &mut out, &mut tmp);
        out
    }

    /// [`Mlp::forward`] writing the outputs into `out`, with `tmp` as scratch: a training
    /// loop that keeps both `Vec`s allocates nothing per sample.
    ///
    /// ```
    /// let m = mlp::Mlp::new(2, &[4, 1], 0);
    /// let tape = tapegrad::Tape::new();
    /// let p = m.bind(&tape);
    /// let (mut out, mut tmp) = (Vec::new(), Vec::new());
    /// for x in [[0.0, 1.0], [1.0, 0.0]] {
    ///     let xv = tape.vars(&x);
    ///     m.forward_into(&tape, &p, &xv, &mut out, &mut tmp);
    ///     assert_eq!(out[0].value(), m.predict(&x)[0]);
    /// }
    /// ```
    ///
    /// # Panics
    ///
    /// As [`Mlp::forward`].
    #[track_caller]
    pub fn forward_into<'t>(
        &self,
        tape: &'t Tape,
        params: &[Var<'t>],
        x: &[Var<'t>],
        out: &mut Vec<Var<'t>>,
        tmp: &mut Vec<Var<'t>>,
    ) {
        let n = self.num_parameters();
        assert!(
            params.len() == n,
            "Mlp::forward: the model has {n} parameters but {} were given",
            params.len()
        );
        assert!(
            x.len() == self.nin,
            "Mlp::forward: the model has {} inputs but {} were given",
            self.nin,
            x.len()
        );
        self.record_forward(tape, params, Run::new(params), x, out, tmp);
    }

    /// [`Mlp::forward_into`] with the parameters' [`Run`] (if they are one) already known, so a
    /// training step checks its parameters once rather than once per sample. On a lane tape
    /// (`T = Lanes<N>`, parameters as splat leaves, inputs as lane leaves) it records N
    /// samples' forward passes as one.
    pub(crate) fn record_forward<'t, T: Number>(
        &self,
        tape: &'t Tape<T>,
        params: &[Var<'t, T>],
        params_run: Option<Run<'t, T>>,
        x: &[Var<'t, T>],
        out: &mut Vec<Var<'t, T>>,
        tmp: &mut Vec<Var<'t, T>>,
    ) {
        let mut at = 0;
        for (l, layer) in self.layers.iter().enumerate() {
            let width = if l == 0 { self.nin } else { tmp.len() };
            let count = layer.neurons.len() * (width + 1);
            let p = &params[at..at + count];
            let p_run = params_run.map(|r| r.slice(at..at + count));
            if l == 0 {
                layer.record(tape, p, p_run, x, out);
            } else {
                layer.record(tape, p, p_run, tmp, out);
            }
            at += count;
            if l + 1 < self.layers.len() {
                std::mem::swap(out, tmp);
            }
        }
    }

    /// The outputs for input `x`, without a tape: bit for bit the values [`Mlp::forward`]
    /// records (same dot order, same activation formulas). For plots and serving.
    ///
    /// ```
    /// let m = mlp::Mlp::new(2, &[16, 16, 1], 1337);
    /// let tape = tapegrad::Tape::new();
    /// let p = m.bind(&tape);
    /// let y = m.forward(&tape, &p, &tape.vars(&[0.3, 0.7]))[0];
    /// assert_eq!(m.predict(&[0.3, 0.7])[0].to_bits(), y.value().to_bits());
    /// ```
    ///
    /// # Panics
    ///
    /// If `x.len()` is not [`Mlp::nin`].
    #[track_caller]
    pub fn predict(&self, x: &[f64]) -> Vec<f64> {
        assert!(
            x.len() == self.nin,
            "Mlp::predict: the model has {} inputs but {} were given",
            self.nin,
            x.len()
        );
        let mut cur = x.to_vec();
        let mut next = Vec::new();
        for layer in &self.layers {
            next.clear();
            next.extend(layer.neurons.iter().map(|n| n.output(&cur)));
            std::mem::swap(&mut cur, &mut next);
        }
        cur
    }

    /// Checks that the model has `nin` inputs and these layer widths, e.g. after
    /// `Mlp::load` (feature `serde`).
    ///
    /// ```
    /// let m = mlp::Mlp::new(2, &[16, 1], 0);
    /// assert!(m.check_shape(2, &[16, 1]).is_ok());
    /// let err = m.check_shape(3, &[16, 1]).unwrap_err();
    /// assert!(err.to_string().contains("2-16-1"));
    /// ```
    ///
    /// # Errors
    ///
    /// [`ModelError::Mismatch`] naming both shapes.
    pub fn check_shape(&self, nin: usize, sizes: &[usize]) -> Result<(), ModelError> {
        if self.nin == nin && self.sizes() == sizes {
            return Ok(());
        }
        let shape = |nin: usize, sizes: &[usize]| {
            std::iter::once(nin)
                .chain(sizes.iter().copied())
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join("-")
        };
        Err(ModelError::Mismatch(format!(
            "the model is {} but {} was expected",
            shape(self.nin, &self.sizes()),
            shape(nin, sizes)
        )))
    }
}

/// micrograd's `repr`: `MLP of [Layer of [ReLUNeuron(2), …], Layer of [LinearNeuron(16)]]`.
///
/// ```
/// let m = mlp::Mlp::new(2, &[2, 1], 0);
/// assert_eq!(
///     m.to_string(),
///     "MLP of [Layer of [ReLUNeuron(2), ReLUNeuron(2)], Layer of [LinearNeuron(2)]]"
/// );
/// ```
impl fmt::Display for Mlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_list(f, "MLP", &self.layers)
    }
}

#[cfg(test)]
mod tests {
    use tapegrad::{Lanes, Tape};

    use crate::{Activation, BiasInit, Loss, Mlp};

    /// Each lane of a lane recording (splat parameters, lane inputs and labels) has the value
    /// and parameter-gradient bits of that sample's own scalar recording: the trainer's
    /// lane path relies on it, and only its sums over samples may differ.
    #[test]
    fn a_lane_forward_and_term_have_each_samples_scalar_bits() {
        const N: usize = 8;
        let xs: [[f64; 2]; N] = std::array::from_fn(|l| {
            let t = l as f64;
            [(t * 0.7).sin() * 1.5, (t * 1.3).cos() - 0.25]
        });
        let ys: [f64; N] = std::array::from_fn(|l| if l % 3 == 0 { -1.0 } else { 1.0 });
        for (hidden, output) in [
            (Activation::Relu, Activation::Identity),
            (Activation::Tanh, Activation::Tanh),
            (Activation::Sigmoid, Activation::Identity),
        ] {
            let model = Mlp::builder(2, &[16, 16, 1])
                .activation(hidden)
                .output_activation(output)
                .bias_init(BiasInit::Uniform)
                .seed(3)
                .build();
            let p = model.parameters();
            for loss in Loss::ALL {
                let tape = Tape::<Lanes<N>>::new();
                let splat: Vec<_> = p.iter().map(|&w| Lanes::splat(w)).collect();
                let params = tape.vars(&splat);
                let x = tape.vars(&[0, 1].map(|f| Lanes::from_fn(|l| xs[l][f])));
                let (mut out, mut tmp) = (Vec::new(), Vec::new());
                let run = tapegrad::Run::new(&params);
                model.record_forward(&tape, &params, run, &x, &mut out, &mut tmp);
                let term = loss.term(out[0], tape.var(Lanes::new(ys)));
                let grads = term.backward().wrt_all(&params);
                for l in 0..N {
                    let scalar = Tape::new();
                    let sp = model.bind(&scalar);
                    let sx = scalar.vars(&xs[l]);
                    let s = model.forward(&scalar, &sp, &sx)[0];
                    let t = loss.term(s, ys[l]);
                    let g = t.backward().wrt_all(&sp);
                    let what = format!("{hidden:?}/{output:?}, {loss:?}, lane {l}");
                    assert_eq!(
                        term.value().to_array()[l].to_bits(),
                        t.value().to_bits(),
                        "{what}"
                    );
                    for (i, (lane, one)) in grads.iter().zip(&g).enumerate() {
                        assert_eq!(lane.to_array()[l].to_bits(), one.to_bits(), "{what}, p{i}");
                    }
                }
            }
        }
    }
}
