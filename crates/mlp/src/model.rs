//! Neurons, layers and the multi-layer perceptron (micrograd's `nn.py`).

use std::fmt;
use std::str::FromStr;

use tapegrad::{Run, Tape, Var, dot_value};

use crate::ModelError;
use crate::rng::Rng;

/// The nonlinearity a neuron applies to `w·x + b`.
///
/// [`Activation::apply`] computes it on an `f64` exactly as the engine records it, so a model's
/// tape-free [`Mlp::predict`] equals its tape forward bit for bit.
///
/// ```
/// use mlp::Activation;
///
/// assert_eq!(Activation::Relu.apply(-2.0), 0.0);
/// assert_eq!(Activation::Linear.apply(-2.0), -2.0);
/// assert_eq!(Activation::Sigmoid.apply(0.0), 0.5);
/// assert_eq!("tanh".parse::<Activation>(), Ok(Activation::Tanh));
/// assert_eq!(Activation::Relu.to_string(), "ReLU");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum Activation {
    /// max(x, 0), with relu'(0) = 0: micrograd's `nonlin=True` neuron.
    Relu,
    /// The hyperbolic tangent: the lecture's neuron.
    Tanh,
    /// The logistic function 1/(1 + e⁻ˣ).
    Sigmoid,
    /// No nonlinearity: micrograd's output layer (`nonlin=False`).
    Linear,
}

impl Activation {
    /// Every activation, in declaration order.
    ///
    /// ```
    /// assert_eq!(mlp::Activation::ALL.len(), 4);
    /// ```
    pub const ALL: [Activation; 4] = [
        Activation::Relu,
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Linear,
    ];

    /// The activation of `x`, computed exactly as the engine's forward rule (bit for bit).
    ///
    /// ```
    /// use mlp::Activation;
    /// let tape = tapegrad::Tape::new();
    /// for a in Activation::ALL {
    ///     let x = 0.37;
    ///     assert_eq!(a.apply(x).to_bits(), a.record(tape.var(x)).value().to_bits());
    /// }
    /// ```
    #[inline]
    pub fn apply(self, x: f64) -> f64 {
        match self {
            // A select, as the engine's relu (f64::max(NaN, 0) would be 0).
            Activation::Relu => {
                if x < 0.0 {
                    0.0
                } else {
                    x
                }
            }
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Activation::Linear => x,
        }
    }

    /// Records the activation of `z` on its tape. [`Activation::Linear`] records nothing and
    /// returns `z` itself.
    ///
    /// ```
    /// use mlp::Activation;
    /// let tape = tapegrad::Tape::new();
    /// let z = tape.var(-1.0);
    /// assert_eq!(Activation::Relu.record(z).value(), 0.0);
    /// assert_eq!(tape.len(), 2);
    /// let _ = Activation::Linear.record(z);
    /// assert_eq!(tape.len(), 2);
    /// ```
    #[inline]
    pub fn record(self, z: Var<'_>) -> Var<'_> {
        match self {
            Activation::Relu => z.relu(),
            Activation::Tanh => z.tanh(),
            Activation::Sigmoid => z.sigmoid(),
            Activation::Linear => z,
        }
    }

    /// The engine's fused form: a neuron with this activation is recorded as ONE
    /// [`tapegrad::Tape::neuron`] node (`None` for [`Activation::Linear`], whose neuron is
    /// one [`tapegrad::Tape::affine`] node).
    ///
    /// ```
    /// use mlp::Activation;
    /// assert_eq!(Activation::Relu.fused(), Some(tapegrad::Activation::Relu));
    /// assert_eq!(Activation::Linear.fused(), None);
    /// ```
    pub fn fused(self) -> Option<tapegrad::Activation> {
        match self {
            Activation::Relu => Some(tapegrad::Activation::Relu),
            Activation::Tanh => Some(tapegrad::Activation::Tanh),
            Activation::Sigmoid => Some(tapegrad::Activation::Sigmoid),
            Activation::Linear => None,
        }
    }

    /// The lowercase name used in model files and accepted by [`str::parse`].
    ///
    /// ```
    /// assert_eq!(mlp::Activation::Sigmoid.name(), "sigmoid");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::Linear => "linear",
        }
    }
}

/// micrograd's spelling: `ReLU`, `Tanh`, `Sigmoid`, `Linear` (as in `ReLUNeuron(2)`).
impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Activation::Relu => "ReLU",
            Activation::Tanh => "Tanh",
            Activation::Sigmoid => "Sigmoid",
            Activation::Linear => "Linear",
        })
    }
}

/// Parses `relu`, `tanh`, `sigmoid` or `linear` (any case).
impl FromStr for Activation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Activation::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown activation `{s}` (expected relu, tanh, sigmoid or linear)")
            })
    }
}

/// How biases start.
///
/// ```
/// use mlp::{BiasInit, Mlp};
/// let m = Mlp::builder(2, &[3]).bias_init(BiasInit::Uniform).seed(1).build();
/// assert!(m.layers()[0].neurons.iter().all(|n| (-1.0..1.0).contains(&n.b)));
/// assert_eq!(BiasInit::default(), BiasInit::Zero);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum BiasInit {
    /// 0, as micrograd's package (`nn.py`) does.
    #[default]
    Zero,
    /// Uniform on [−1, 1), as the lecture's `Neuron` does.
    Uniform,
}

/// Parses `zero` or `uniform` (any case).
impl FromStr for BiasInit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("zero") {
            Ok(BiasInit::Zero)
        } else if s.eq_ignore_ascii_case("uniform") {
            Ok(BiasInit::Uniform)
        } else {
            Err(format!(
                "unknown bias init `{s}` (expected zero or uniform)"
            ))
        }
    }
}

/// One neuron: `activation(w·x + b)`.
///
/// ```
/// use mlp::{Activation, Neuron};
/// let n = Neuron::new(vec![1.0, -2.0], 0.5, Activation::Relu);
/// assert_eq!(n.output(&[3.0, 1.0]), 1.5);
/// assert_eq!(n.to_string(), "ReLUNeuron(2)");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Neuron {
    /// The input weights, one per input.
    pub w: Vec<f64>,
    /// The bias.
    pub b: f64,
    /// The nonlinearity.
    pub activation: Activation,
}

impl Neuron {
    /// A neuron with these weights, bias and activation.
    ///
    /// ```
    /// let n = mlp::Neuron::new(vec![0.0; 3], 0.0, mlp::Activation::Tanh);
    /// assert_eq!(n.nin(), 3);
    /// ```
    pub fn new(w: Vec<f64>, b: f64, activation: Activation) -> Self {
        Neuron { w, b, activation }
    }

    /// The number of inputs.
    ///
    /// ```
    /// assert_eq!(mlp::Neuron::new(vec![1.0, 2.0], 0.0, mlp::Activation::Linear).nin(), 2);
    /// ```
    pub fn nin(&self) -> usize {
        self.w.len()
    }

    /// The output for input `x`, without a tape: bit for bit what the tape forward records
    /// ([`tapegrad::dot_value`]`(w, x) + b`, then [`Activation::apply`]).
    ///
    /// ```
    /// let n = mlp::Neuron::new(vec![2.0], -1.0, mlp::Activation::Linear);
    /// assert_eq!(n.output(&[3.0]), 5.0);
    /// ```
    ///
    /// # Panics
    ///
    /// If `x.len()` differs from [`Neuron::nin`].
    #[track_caller]
    pub fn output(&self, x: &[f64]) -> f64 {
        self.activation.apply(dot_value(&self.w, x) + self.b)
    }
}

/// micrograd's `repr`: `ReLUNeuron(2)`, `LinearNeuron(16)`, `TanhNeuron(3)`.
impl fmt::Display for Neuron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}Neuron({})", self.activation, self.w.len())
    }
}

/// A layer of neurons that all see the same inputs.
///
/// ```
/// use mlp::{Activation, Layer, Neuron};
/// let layer = Layer {
///     neurons: vec![
///         Neuron::new(vec![1.0, 0.0], 0.0, Activation::Relu),
///         Neuron::new(vec![0.0, 1.0], 0.0, Activation::Relu),
///     ],
/// };
/// assert_eq!(layer.output(&[-1.0, 2.0]), vec![0.0, 2.0]);
/// assert_eq!(layer.to_string(), "Layer of [ReLUNeuron(2), ReLUNeuron(2)]");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// The neurons, in output order.
    pub neurons: Vec<Neuron>,
}

impl Layer {
    /// The number of inputs (of the first neuron; 0 for an empty layer).
    ///
    /// ```
    /// let m = mlp::Mlp::new(3, &[4, 1], 0);
    /// assert_eq!(m.layers()[1].nin(), 4);
    /// ```
    pub fn nin(&self) -> usize {
        self.neurons.first().map_or(0, Neuron::nin)
    }

    /// The number of neurons (outputs).
    ///
    /// ```
    /// let m = mlp::Mlp::new(3, &[4, 1], 0);
    /// assert_eq!(m.layers()[0].len(), 4);
    /// ```
    pub fn len(&self) -> usize {
        self.neurons.len()
    }

    /// Whether the layer has no neurons.
    ///
    /// ```
    /// assert!(mlp::Layer { neurons: vec![] }.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.neurons.is_empty()
    }

    /// The activation shared by every neuron, or `None` if they differ (or there are none).
    ///
    /// ```
    /// let m = mlp::Mlp::new(2, &[16, 1], 0);
    /// assert_eq!(m.layers()[0].activation(), Some(mlp::Activation::Relu));
    /// assert_eq!(m.layers()[1].activation(), Some(mlp::Activation::Linear));
    /// ```
    pub fn activation(&self) -> Option<Activation> {
        let first = self.neurons.first()?.activation;
        self.neurons
            .iter()
            .all(|n| n.activation == first)
            .then_some(first)
    }

    /// The outputs for input `x`, without a tape (see [`Neuron::output`]).
    ///
    /// ```
    /// let m = mlp::Mlp::new(2, &[3], 0);
    /// assert_eq!(m.layers()[0].output(&[0.5, 0.5]), m.predict(&[0.5, 0.5]));
    /// ```
    ///
    /// # Panics
    ///
    /// If `x.len()` differs from a neuron's number of inputs.
    #[track_caller]
    pub fn output(&self, x: &[f64]) -> Vec<f64> {
        self.neurons.iter().map(|n| n.output(x)).collect()
    }

    /// Records this layer on `tape` and writes its outputs into `out`. `params` are this
    /// layer's parameters (neuron by neuron, weights then bias), `params_run` the same nodes
    /// as a [`Run`] when they are one.
    ///
    /// When the parameters and the inputs are runs (as [`Mlp::bind`] and a layer's outputs
    /// are), each neuron is ONE node with O(1) checks, [`Tape::neuron`] (or [`Tape::affine`]
    /// when linear), so the outputs are contiguous; otherwise a `dot` node, a bias add and
    /// the activation. Both give the same value and gradient bits.
    fn record<'t>(
        &self,
        tape: &'t Tape,
        params: &[Var<'t>],
        params_run: Option<Run<'t>>,
        x: &[Var<'t>],
        out: &mut Vec<Var<'t>>,
    ) {
        out.clear();
        let nin = x.len();
        let count = self.neurons.len();
        match (params_run, Run::new(x)) {
            (Some(p), Some(xr)) => {
                // A whole neuron per node; its outputs are consecutive, the next layer's run.
                let w = nin + 1;
                out.extend(self.neurons.iter().enumerate().map(|(j, n)| {
                    let p = p.slice(j * w..(j + 1) * w);
                    match n.activation.fused() {
                        Some(act) => tape.neuron(p, xr, act),
                        None => tape.affine(p, xr),
                    }
                }));
            }
            _ => {
                // One neuron's parameters per exact chunk: `extend` from an exact-size
                // iterator reserves once instead of checking the capacity per neuron.
                let neurons = params[..count * (nin + 1)].chunks_exact(nin + 1);
                out.extend(neurons.clone().map(|p| tape.dot(&p[..nin], x)));
                for (z, p) in out.iter_mut().zip(neurons) {
                    *z += p[nin];
                }
                for (z, n) in out.iter_mut().zip(&self.neurons) {
                    *z = n.activation.record(*z);
                }
            }
        }
    }
}

/// micrograd's `repr`: `Layer of [ReLUNeuron(2), ReLUNeuron(2)]`.
impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_list(f, "Layer", &self.neurons)
    }
}

/// `{what} of [a, b, …]`, micrograd's `repr` of a container.
fn write_list<T: fmt::Display>(f: &mut fmt::Formatter<'_>, what: &str, items: &[T]) -> fmt::Result {
    write!(f, "{what} of [")?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    f.write_str("]")
}

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
    nin: usize,
    layers: Vec<Layer>,
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

    /// A builder for any activation and bias initialization; its defaults are [`Mlp::new`]'s
    /// with seed 0.
    ///
    /// ```
    /// use mlp::{Activation, BiasInit, Mlp};
    /// // The lecture's network: tanh everywhere, uniform biases.
    /// let m = Mlp::builder(3, &[4, 4, 1])
    ///     .activation(Activation::Tanh)
    ///     .output_activation(Activation::Tanh)
    ///     .bias_init(BiasInit::Uniform)
    ///     .seed(42)
    ///     .build();
    /// assert_eq!(m.num_parameters(), 41);
    /// ```
    pub fn builder(nin: usize, sizes: &[usize]) -> MlpBuilder {
        MlpBuilder {
            nin,
            sizes: sizes.to_vec(),
            hidden: Activation::Relu,
            output: Activation::Linear,
            per_layer: None,
            bias_init: BiasInit::Zero,
            seed: 0,
        }
    }

    /// A model from explicit layers, checked: `nin ≥ 1`, at least one layer, no empty layer,
    /// every neuron has as many weights as the previous layer has outputs, and every
    /// parameter is finite.
    ///
    /// ```
    /// use mlp::{Activation, Layer, Mlp, Neuron};
    /// let layer = Layer { neurons: vec![Neuron::new(vec![1.0, 1.0], 0.0, Activation::Linear)] };
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
    /// If `p.len()` differs from [`Mlp::num_parameters`].
    #[track_caller]
    pub fn set_parameters(&mut self, p: &[f64]) {
        let n = self.num_parameters();
        assert!(
            p.len() == n,
            "Mlp::set_parameters: the model has {n} parameters but {} values were given",
            p.len()
        );
        let mut at = 0;
        for neuron in self.layers.iter_mut().flat_map(|l| &mut l.neurons) {
            let k = neuron.w.len();
            neuron.w.copy_from_slice(&p[at..at + k]);
            neuron.b = p[at + k];
            at += k + 1;
        }
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
    /// training step checks its parameters once rather than once per sample.
    pub(crate) fn record_forward<'t>(
        &self,
        tape: &'t Tape,
        params: &[Var<'t>],
        params_run: Option<Run<'t>>,
        x: &[Var<'t>],
        out: &mut Vec<Var<'t>>,
        tmp: &mut Vec<Var<'t>>,
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

/// Builds an [`Mlp`] with chosen activations, bias initialization and seed.
///
/// Defaults are micrograd's package: hidden layers [`Activation::Relu`], output layer
/// [`Activation::Linear`], [`BiasInit::Zero`], seed 0. Weights are always uniform on
/// [−1, 1). Random numbers are drawn layer by layer, neuron by neuron: the weights, then the
/// bias when it is [`BiasInit::Uniform`].
///
/// ```
/// use mlp::{Activation, Mlp};
/// let m = Mlp::builder(2, &[8, 1])
///     .activation(Activation::Tanh)
///     .output_activation(Activation::Sigmoid)
///     .seed(3)
///     .build();
/// assert_eq!(m.to_string(), format!(
///     "MLP of [Layer of [{}], Layer of [SigmoidNeuron(8)]]",
///     vec!["TanhNeuron(2)"; 8].join(", ")
/// ));
/// ```
#[derive(Clone, Debug, PartialEq)]
#[must_use = "call .build() to get the model"]
pub struct MlpBuilder {
    nin: usize,
    sizes: Vec<usize>,
    hidden: Activation,
    output: Activation,
    per_layer: Option<Vec<Activation>>,
    bias_init: BiasInit,
    seed: u64,
}

impl MlpBuilder {
    /// The activation of every hidden layer (all but the last). Default [`Activation::Relu`].
    ///
    /// ```
    /// let m = mlp::Mlp::builder(2, &[3, 1]).activation(mlp::Activation::Tanh).build();
    /// assert_eq!(m.layers()[0].activation(), Some(mlp::Activation::Tanh));
    /// ```
    pub fn activation(mut self, a: Activation) -> Self {
        self.hidden = a;
        self
    }

    /// The activation of the output layer. Default [`Activation::Linear`].
    ///
    /// ```
    /// let m = mlp::Mlp::builder(2, &[3, 1]).output_activation(mlp::Activation::Tanh).build();
    /// assert_eq!(m.layers()[1].activation(), Some(mlp::Activation::Tanh));
    /// ```
    pub fn output_activation(mut self, a: Activation) -> Self {
        self.output = a;
        self
    }

    /// One activation per layer, overriding [`MlpBuilder::activation`] and
    /// [`MlpBuilder::output_activation`].
    ///
    /// ```
    /// use mlp::Activation::*;
    /// let m = mlp::Mlp::builder(2, &[3, 3, 1]).layer_activations(&[Tanh, Relu, Sigmoid]).build();
    /// assert_eq!(m.layers()[1].activation(), Some(Relu));
    /// ```
    ///
    /// `build` panics if the length differs from the number of layers.
    pub fn layer_activations(mut self, a: &[Activation]) -> Self {
        self.per_layer = Some(a.to_vec());
        self
    }

    /// How biases start. Default [`BiasInit::Zero`].
    ///
    /// ```
    /// let m = mlp::Mlp::builder(2, &[3]).bias_init(mlp::BiasInit::Uniform).build();
    /// assert!(m.layers()[0].neurons.iter().any(|n| n.b != 0.0));
    /// ```
    pub fn bias_init(mut self, b: BiasInit) -> Self {
        self.bias_init = b;
        self
    }

    /// The seed of the ChaCha8 stream the initial parameters are drawn from. Default 0.
    ///
    /// ```
    /// let a = mlp::Mlp::builder(2, &[3]).seed(1).build();
    /// let b = mlp::Mlp::builder(2, &[3]).seed(2).build();
    /// assert_ne!(a, b);
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The model.
    ///
    /// ```
    /// let m = mlp::Mlp::builder(2, &[16, 16, 1]).seed(1337).build();
    /// assert_eq!(m, mlp::Mlp::new(2, &[16, 16, 1], 1337));
    /// ```
    ///
    /// # Panics
    ///
    /// If `nin` is 0, there are no sizes, a size is 0, or [`MlpBuilder::layer_activations`]
    /// has the wrong length.
    #[track_caller]
    pub fn build(self) -> Mlp {
        assert!(self.nin > 0, "Mlp: the number of inputs must be at least 1");
        assert!(
            !self.sizes.is_empty(),
            "Mlp: give at least one layer size (e.g. &[16, 16, 1])"
        );
        assert!(
            self.sizes.iter().all(|&s| s > 0),
            "Mlp: every layer needs at least one neuron, got sizes {:?}",
            self.sizes
        );
        if let Some(per) = &self.per_layer {
            assert!(
                per.len() == self.sizes.len(),
                "Mlp: {} layer activations given for {} layers",
                per.len(),
                self.sizes.len()
            );
        }
        let mut rng = Rng::new(self.seed);
        let last = self.sizes.len() - 1;
        let mut nin = self.nin;
        let mut layers = Vec::with_capacity(self.sizes.len());
        for (l, &size) in self.sizes.iter().enumerate() {
            let activation = match &self.per_layer {
                Some(per) => per[l],
                None if l == last => self.output,
                None => self.hidden,
            };
            let neurons = (0..size)
                .map(|_| {
                    let w = (0..nin).map(|_| rng.symmetric()).collect();
                    let b = match self.bias_init {
                        BiasInit::Zero => 0.0,
                        BiasInit::Uniform => rng.symmetric(),
                    };
                    Neuron { w, b, activation }
                })
                .collect();
            layers.push(Layer { neurons });
            nin = size;
        }
        Mlp {
            nin: self.nin,
            layers,
        }
    }
}
