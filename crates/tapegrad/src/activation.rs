//! [`Activation`]: the nonlinearity of a fused neuron node, shared with the `mlp` crate.

use crate::op::UnOp;
use crate::real::Real;

/// The nonlinearity of a neuron recorded as one node by [`Tape::neuron`](crate::Tape::neuron),
/// and the `mlp` crate's activations.
///
/// Each one's derivative depends on its output alone, so the node keeps no pre-activation:
/// `tape.neuron(w, x, Activation::Relu)` has the value and the gradients of
/// `tape.affine(w, x).relu()`, bit for bit, in one node instead of two. [`Activation::apply`]
/// is the same function on `f64` (or on a [`Var`](crate::Var)), for tape-free inference.
///
/// ```
/// use tapegrad::{Activation, Tape};
/// let tape = Tape::new();
/// let (wb, x) = (tape.run(&[1.0, -1.0, 0.25]), tape.run(&[0.5, 2.0]));
/// assert_eq!(tape.neuron(wb, x, Activation::Relu).value(), 0.0); // relu(-1.25)
/// assert_eq!(tape.neuron(wb, x, Activation::Tanh).value(), (-1.25f64).tanh());
/// assert_eq!(tape.neuron(wb, x, Activation::Identity).value(), -1.25);
/// assert_eq!(Activation::Tanh.apply(-1.25), (-1.25f64).tanh());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
#[repr(u8)]
pub enum Activation {
    /// `z` if `z ≥ 0`, else 0, as [`Var::relu`](crate::Var::relu) computes it: a select, so
    /// NaN passes through (where `f64::max(NaN, 0.0)` would be 0).
    Relu,
    /// `tanh(z)`, as [`Var::tanh`](crate::Var::tanh).
    Tanh,
    /// `1 / (1 + e⁻ᶻ)`, as [`Var::sigmoid`](crate::Var::sigmoid).
    Sigmoid,
    /// `z` itself: micrograd's linear neuron (`nonlin=False`), an output layer, and
    /// [`Tape::affine`](crate::Tape::affine). Named `linear` in text.
    #[cfg_attr(feature = "serde", serde(rename = "linear", alias = "identity"))]
    Identity,
}

impl Activation {
    /// Every activation, in declaration order.
    ///
    /// ```
    /// assert_eq!(tapegrad::Activation::ALL.len(), 4);
    /// ```
    pub const ALL: [Activation; 4] = [
        Activation::Relu,
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Identity,
    ];

    /// The name the `mlp` crate's activation had for [`Activation::Identity`].
    #[deprecated(note = "use `Activation::Identity`")]
    #[allow(non_upper_case_globals)]
    pub const Linear: Activation = Activation::Identity;

    /// The activation's function, on `f64` or recorded on a [`Var`](crate::Var): the formula
    /// that [`Tape::neuron`](crate::Tape::neuron) uses, so tape-free inference gives the
    /// tape's bits.
    ///
    /// ```
    /// use tapegrad::{Activation, Tape};
    /// assert_eq!(Activation::Relu.apply(-2.0), 0.0);
    /// assert_eq!(Activation::Identity.apply(-2.0), -2.0);
    /// let tape = Tape::new();
    /// let z = tape.var(0.0);
    /// assert_eq!(Activation::Sigmoid.apply(z).value(), 0.5);
    /// ```
    #[inline(always)]
    #[track_caller]
    pub fn apply<T: Real>(self, z: T) -> T {
        match self {
            Activation::Relu => z.relu(),
            Activation::Tanh => z.tanh(),
            Activation::Sigmoid => z.sigmoid(),
            Activation::Identity => z,
        }
    }

    /// The `mlp` crate's name for recording an activation on a tape.
    #[deprecated(note = "use `Activation::apply`, which takes a `Var` too")]
    #[track_caller]
    pub fn record(self, z: crate::Var<'_>) -> crate::Var<'_> {
        self.apply(z)
    }

    /// What the `mlp` crate's `fused` returned: the activation of a `Tape::neuron` node, or
    /// `None` for [`Activation::Identity`] (recorded with `Tape::affine`).
    #[deprecated(note = "every activation, `Identity` included, records as one `Tape::neuron`")]
    pub fn fused(self) -> Option<Activation> {
        match self {
            Activation::Identity => None,
            Activation::Relu | Activation::Tanh | Activation::Sigmoid => Some(self),
        }
    }

    /// The lowercase name used in text (model files, command lines), which
    /// [`str::parse`] reads back.
    ///
    /// ```
    /// assert_eq!(tapegrad::Activation::Sigmoid.name(), "sigmoid");
    /// assert_eq!(tapegrad::Activation::Identity.name(), "linear");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => UnOp::Relu.name(),
            Activation::Tanh => UnOp::Tanh.name(),
            Activation::Sigmoid => UnOp::Sigmoid.name(),
            Activation::Identity => "linear",
        }
    }

    /// dy/dz·g given the output `y`: the unary rule, which for these functions reads only
    /// the output (`activation_derivatives_read_only_the_output` checks it).
    #[inline(always)]
    #[track_caller]
    pub(crate) fn derivative<T: crate::number::Field>(self, g: T, y: T) -> T {
        match self {
            Activation::Relu => UnOp::Relu.derivative(g, y, y),
            Activation::Tanh => UnOp::Tanh.derivative(g, y, y),
            Activation::Sigmoid => UnOp::Sigmoid.derivative(g, y, y),
            Activation::Identity => g,
        }
    }
}

/// micrograd's spelling: `ReLU`, `Tanh`, `Sigmoid`, `Linear` (as in `ReLUNeuron(2)`).
///
/// ```
/// assert_eq!(tapegrad::Activation::Relu.to_string(), "ReLU");
/// assert_eq!(tapegrad::Activation::Identity.to_string(), "Linear");
/// ```
impl std::fmt::Display for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Activation::Relu => "ReLU",
            Activation::Tanh => "Tanh",
            Activation::Sigmoid => "Sigmoid",
            Activation::Identity => "Linear",
        })
    }
}

/// Parses `relu`, `tanh`, `sigmoid`, `linear` or `identity`, in any case.
///
/// ```
/// use tapegrad::Activation;
/// assert_eq!("TANH".parse::<Activation>(), Ok(Activation::Tanh));
/// assert_eq!("identity".parse::<Activation>(), Ok(Activation::Identity));
/// assert!("softmax".parse::<Activation>().unwrap_err().contains("softmax"));
/// ```
impl std::str::FromStr for Activation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("identity") {
            return Ok(Activation::Identity);
        }
        Activation::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown activation `{s}` (expected relu, tanh, sigmoid or linear)")
            })
    }
}
