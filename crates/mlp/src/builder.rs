//! The builder of a [`Mlp`] with chosen activations, bias initialization and seed.

use crate::rng::Rng;
use crate::{Activation, BiasInit, Layer, Mlp, Neuron};

impl Mlp {
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
            output: Activation::Identity,
            per_layer: None,
            bias_init: BiasInit::Zero,
            seed: 0,
        }
    }
}

/// Builds an [`Mlp`] with chosen activations, bias initialization and seed.
///
/// Defaults are micrograd's package: hidden layers [`Activation::Relu`], output layer
/// [`Activation::Identity`], [`BiasInit::Zero`], seed 0. Weights are always uniform on
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

    /// The activation of the output layer. Default [`Activation::Identity`].
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
