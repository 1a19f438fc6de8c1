//! The crate's errors.

use std::fmt;

/// Why training stopped.
///
/// ```
/// let e = mlp::TrainError::NonFinite { step: 7, what: "loss is NaN".into() };
/// assert_eq!(
///     e.to_string(),
///     "training stopped at step 7: loss is NaN; the model keeps its parameters from before this step"
/// );
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum TrainError {
    /// A NaN or infinity in the loss, a gradient, a new parameter value or the optimizer's
    /// state. The model keeps the parameters it had before this step.
    NonFinite {
        /// The step (0 for the first) that failed.
        step: usize,
        /// What went wrong, e.g. `gradient of parameter 12 (layer 0, neuron 4, weight 0) is
        /// inf`.
        what: String,
    },
    /// The dataset does not fit the model (dimension, label count, number of outputs) or is
    /// empty.
    Data(String),
    /// A bad setting in the [`TrainConfig`](crate::TrainConfig).
    Config(String),
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainError::NonFinite { step, what } => write!(
                f,
                "training stopped at step {step}: {what}; the model keeps its parameters from \
                 before this step"
            ),
            TrainError::Data(m) => write!(f, "the data does not fit the model: {m}"),
            TrainError::Config(m) => write!(f, "bad training configuration: {m}"),
        }
    }
}

impl std::error::Error for TrainError {}

/// Why a model could not be built, saved or loaded.
///
/// ```
/// let err = mlp::Mlp::from_layers(0, vec![]).unwrap_err();
/// assert!(matches!(err, mlp::ModelError::Mismatch(_)));
/// assert_eq!(err.to_string(), "model mismatch: the model has 0 inputs");
/// ```
#[derive(Debug)]
pub enum ModelError {
    /// Reading or writing the file failed (the message names the path).
    Io(std::io::Error),
    /// The file is not a readable model: truncated, not JSON, a missing field or a
    /// non-finite parameter.
    Corrupt(String),
    /// The model's shape is inconsistent or not the expected one, or the file is another
    /// format or version.
    Mismatch(String),
    /// The file is longer than the limit of `Mlp::load_with_limit` (`io::DEFAULT_MAX_BYTES`,
    /// 64 MiB, for `Mlp::load`; feature `serde`); nothing past the limit was read. The
    /// message names the limit and how to raise it.
    ///
    /// ```
    /// let e = mlp::ModelError::TooLarge { path: "m.json".into(), size: Some(9), limit: 8 };
    /// assert_eq!(
    ///     e.to_string(),
    ///     "model file too large: m.json: 9 bytes, over the limit of 8 bytes \
    ///      (use Mlp::load_with_limit for a larger limit)"
    /// );
    /// ```
    TooLarge {
        /// The file.
        path: std::path::PathBuf,
        /// Its size, when known before reading (`None` for a file that kept going past
        /// the limit, e.g. a pipe or `/dev/zero`).
        size: Option<u64>,
        /// The limit, in bytes.
        limit: u64,
    },
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::Io(e) => write!(f, "model file I/O failed: {e}"),
            ModelError::Corrupt(m) => write!(f, "corrupt model: {m}"),
            ModelError::Mismatch(m) => write!(f, "model mismatch: {m}"),
            ModelError::TooLarge { path, size, limit } => {
                write!(f, "model file too large: {}: ", path.display())?;
                match size {
                    Some(size) => write!(f, "{size} bytes")?,
                    None => write!(f, "more than {limit} bytes")?,
                }
                write!(
                    f,
                    ", over the limit of {limit} bytes (use Mlp::load_with_limit for a larger limit)"
                )
            }
        }
    }
}

impl std::error::Error for ModelError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ModelError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for ModelError {
    fn from(e: std::io::Error) -> Self {
        ModelError::Io(e)
    }
}
