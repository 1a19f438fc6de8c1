//! Neurons and layers.

use std::fmt;

use tapegrad::{Number, Run, Tape, Var, dot_value};

use crate::Activation;

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
    /// assert_eq!(mlp::Neuron::new(vec![1.0, 2.0], 0.0, mlp::Activation::Identity).nin(), 2);
    /// ```
    pub fn nin(&self) -> usize {
        self.w.len()
    }

    /// The output for input `x`, without a tape: bit for bit what the tape forward records
    /// ([`tapegrad::dot_value`]`(w, x) + b`, then [`Activation::apply`]).
    ///
    /// ```
    /// let n = mlp::Neuron::new(vec![2.0], -1.0, mlp::Activation::Identity);
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
    /// assert_eq!(m.layers()[1].activation(), Some(mlp::Activation::Identity));
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
    /// are), each neuron is ONE [`Tape::neuron`] node with O(1) checks (a linear one is
    /// `Activation::Identity`, [`Tape::affine`]'s node), so the outputs are contiguous;
    /// otherwise a `dot` node, a bias add and the activation. Both give the same value and
    /// gradient bits. On a lane tape (`T = Lanes<N>`) it records N samples at once.
    pub(crate) fn record<'t, T: Number>(
        &self,
        tape: &'t Tape<T>,
        params: &[Var<'t, T>],
        params_run: Option<Run<'t, T>>,
        x: &[Var<'t, T>],
        out: &mut Vec<Var<'t, T>>,
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
                    tape.neuron(p, xr, n.activation)
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
                    *z = activate(n.activation, *z);
                }
            }
        }
    }
}

/// [`Activation::apply`] on a `Var` of any number: `apply` takes a [`tapegrad::Real`], which
/// a lane `Var` is not. The same `Var` methods, so the same nodes.
#[track_caller]
fn activate<'t, T: Number>(activation: Activation, z: Var<'t, T>) -> Var<'t, T> {
    match activation {
        Activation::Relu => z.relu(),
        Activation::Tanh => z.tanh(),
        Activation::Sigmoid => z.sigmoid(),
        Activation::Identity => z,
    }
}

/// micrograd's `repr`: `Layer of [ReLUNeuron(2), ReLUNeuron(2)]`.
impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_list(f, "Layer", &self.neurons)
    }
}

/// `{what} of [a, b, …]`, micrograd's `repr` of a container.
pub(crate) fn write_list<T: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    what: &str,
    items: &[T],
) -> fmt::Result {
    write!(f, "{what} of [")?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    f.write_str("]")
}
