//! The activations and the bias initializations.

use std::str::FromStr;

/// The nonlinearity a neuron applies to `w·x + b`: the engine's type, so a model's tape
/// forward ([`tapegrad::Tape::neuron`]) and its tape-free [`Mlp::predict`](crate::Mlp::predict)
/// run the one formula, [`Activation::apply`], and agree bit for bit.
///
/// micrograd's linear output neuron is [`Activation::Identity`] (named `linear` in model files
/// and on command lines; the old name `Activation::Linear` still compiles, deprecated).
///
/// ```
/// use mlp::Activation;
///
/// assert_eq!(Activation::Relu.apply(-2.0), 0.0);
/// assert_eq!(Activation::Identity.apply(-2.0), -2.0);
/// assert_eq!("tanh".parse::<Activation>(), Ok(Activation::Tanh));
/// assert_eq!(Activation::Relu.to_string(), "ReLU");
/// let tape = tapegrad::Tape::new();
/// let z = tape.var(0.37);
/// for a in Activation::ALL {
///     assert_eq!(a.apply(0.37).to_bits(), a.apply(z).value().to_bits());
/// }
/// ```
pub use tapegrad::Activation;

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
