//! The activations and the bias initializations.

use std::fmt;
use std::str::FromStr;

use tapegrad::Var;

/// The nonlinearity a neuron applies to `w·x + b`.
///
/// [`Activation::apply`] computes it on an `f64` exactly as the engine records it, so a model's
/// tape-free [`Mlp::predict`](crate::Mlp::predict) equals its tape forward bit for bit.
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
