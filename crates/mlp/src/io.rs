//! Model files: JSON, written atomically, checked when read (feature `serde`).
//!
//! ```json
//! {"format":"tapegrad-mlp","version":1,"nin":2,
//!  "layers":[{"activation":"relu","neurons":[{"w":[0.1,-0.7],"b":0.0}, …]}, …]}
//! ```
//!
//! A neuron whose activation differs from its layer's (possible with
//! [`Mlp::from_layers`]) carries its own `"activation"`. Numbers are written shortest-exact
//! and read with `serde_json`'s `float_roundtrip`, so save → load gives bitwise the same
//! parameters.

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::{Activation, Layer, Mlp, ModelError, Neuron};

/// The `format` field of a model file.
///
/// ```
/// assert!(mlp::Mlp::new(2, &[1], 0).to_json().contains(mlp::io::FORMAT));
/// ```
pub const FORMAT: &str = "tapegrad-mlp";
/// The file version this build writes and reads.
///
/// ```
/// let json = mlp::Mlp::new(2, &[1], 0).to_json();
/// assert!(json.contains(&format!(r#""version":{}"#, mlp::io::VERSION)));
/// ```
pub const VERSION: u64 = 1;

#[derive(Serialize)]
struct FileOut<'a> {
    format: &'static str,
    version: u64,
    nin: usize,
    layers: Vec<LayerOut<'a>>,
}

#[derive(Serialize)]
struct LayerOut<'a> {
    activation: Activation,
    neurons: Vec<NeuronOut<'a>>,
}

#[derive(Serialize)]
struct NeuronOut<'a> {
    w: &'a [f64],
    b: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    activation: Option<Activation>,
}

#[derive(Deserialize)]
struct FileIn {
    nin: usize,
    layers: Vec<LayerIn>,
}

#[derive(Deserialize)]
struct LayerIn {
    activation: Activation,
    neurons: Vec<NeuronIn>,
}

/// `null` stands for a non-finite number (serde_json writes NaN and ±inf as `null`).
#[derive(Deserialize)]
struct NeuronIn {
    w: Vec<Option<f64>>,
    b: Option<f64>,
    #[serde(default)]
    activation: Option<Activation>,
}

impl Mlp {
    /// The model as JSON (see the [`io`](crate::io) module for the format).
    ///
    /// ```
    /// let m = mlp::Mlp::new(2, &[3, 1], 1);
    /// let json = m.to_json();
    /// assert!(json.starts_with(r#"{"format":"tapegrad-mlp","version":1,"nin":2,"layers":[{"activation":"relu""#));
    /// assert_eq!(mlp::Mlp::from_json(&json).unwrap(), m);
    /// ```
    pub fn to_json(&self) -> String {
        let layers = self
            .layers()
            .iter()
            .map(|l| {
                let act = l.neurons[0].activation;
                LayerOut {
                    activation: act,
                    neurons: l
                        .neurons
                        .iter()
                        .map(|n| NeuronOut {
                            w: &n.w,
                            b: n.b,
                            activation: (n.activation != act).then_some(n.activation),
                        })
                        .collect(),
                }
            })
            .collect();
        let file = FileOut {
            format: FORMAT,
            version: VERSION,
            nin: self.nin(),
            layers,
        };
        serde_json::to_string(&file).expect("serializing a model to a String cannot fail")
    }

    /// A model from JSON written by [`Mlp::to_json`], checked.
    ///
    /// ```
    /// use mlp::{Mlp, ModelError};
    /// let json = Mlp::new(2, &[3, 1], 1).to_json();
    /// assert!(matches!(Mlp::from_json(&json[..json.len() - 10]), Err(ModelError::Corrupt(_))));
    /// let other = json.replace(r#""version":1"#, r#""version":9"#);
    /// assert!(matches!(Mlp::from_json(&other), Err(ModelError::Mismatch(_))));
    /// ```
    ///
    /// # Errors
    ///
    /// [`ModelError::Corrupt`] if the text is not JSON (e.g. truncated), a field is missing
    /// or has the wrong type, or a parameter is not a finite number;
    /// [`ModelError::Mismatch`] if it is another format or version, or the shapes are
    /// inconsistent (a neuron whose weight count is not its layer's input count, an empty
    /// layer, no layers). Every message says where.
    pub fn from_json(s: &str) -> Result<Mlp, ModelError> {
        let value: serde_json::Value = serde_json::from_str(s).map_err(|e| {
            let what = if e.is_eof() {
                "the file ends too early (truncated?)"
            } else {
                "not valid JSON"
            };
            ModelError::Corrupt(format!("{what}: {e}"))
        })?;
        let obj = value
            .as_object()
            .ok_or_else(|| ModelError::Corrupt("the model is not a JSON object".into()))?;
        match obj.get("format").and_then(|f| f.as_str()) {
            Some(FORMAT) => {}
            Some(other) => {
                return Err(ModelError::Mismatch(format!(
                    "the format is `{other}`, not `{FORMAT}`"
                )));
            }
            None => {
                return Err(ModelError::Mismatch(format!(
                    "no \"format\": \"{FORMAT}\" field: not a model file"
                )));
            }
        }
        match obj.get("version").and_then(|v| v.as_u64()) {
            Some(VERSION) => {}
            Some(v) => {
                return Err(ModelError::Mismatch(format!(
                    "version {v} is not supported (this build reads version {VERSION})"
                )));
            }
            None => return Err(ModelError::Corrupt("missing or invalid \"version\"".into())),
        }
        let file: FileIn = serde_json::from_value(value)
            .map_err(|e| ModelError::Corrupt(format!("unexpected content: {e}")))?;
        let mut layers = Vec::with_capacity(file.layers.len());
        for (l, layer) in file.layers.into_iter().enumerate() {
            let mut neurons = Vec::with_capacity(layer.neurons.len());
            for (j, n) in layer.neurons.into_iter().enumerate() {
                let number = |v: Option<f64>, what: &str| {
                    v.ok_or_else(|| {
                        ModelError::Corrupt(format!(
                            "layer {l}, neuron {j}, {what} is null (not a finite number)"
                        ))
                    })
                };
                let w =
                    n.w.into_iter()
                        .enumerate()
                        .map(|(k, v)| number(v, &format!("weight {k}")))
                        .collect::<Result<Vec<f64>, _>>()?;
                let b = number(n.b, "bias")?;
                neurons.push(Neuron {
                    w,
                    b,
                    activation: n.activation.unwrap_or(layer.activation),
                });
            }
            layers.push(Layer { neurons });
        }
        Mlp::from_layers(file.nin, layers)
    }

    /// Writes the model as JSON to `path` atomically: to `<path>.tmp-<pid>-<n>` in the same
    /// folder (`n` counts this process's saves), flushed and synced, then renamed over
    /// `path`. A crash leaves either the old
    /// file or the new one, never half of one.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("mlp-doc-save-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let path = dir.join("model.json");
    /// let m = mlp::Mlp::new(2, &[16, 16, 1], 1337);
    /// m.save(&path)?;
    /// assert_eq!(mlp::Mlp::load(&path)?, m);
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), mlp::ModelError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ModelError::Corrupt`] if a parameter is not finite (JSON cannot hold it; nothing is
    /// written); [`ModelError::Io`] naming the path if writing or renaming fails (the
    /// temporary file is removed).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ModelError> {
        let path = path.as_ref();
        if let Some(i) = self.parameters().iter().position(|p| !p.is_finite()) {
            return Err(ModelError::Corrupt(format!(
                "{} is {}: a model with non-finite parameters cannot be saved",
                self.parameter_name(i),
                self.parameters()[i]
            )));
        }
        let json = self.to_json();
        let name = path.file_name().ok_or_else(|| {
            ModelError::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: not a file path", path.display()),
            ))
        })?;
        let mut tmp_name = name.to_os_string();
        // The pid keeps processes apart, the counter threads of one process.
        static SAVES: AtomicU64 = AtomicU64::new(0);
        let n = SAVES.fetch_add(1, Ordering::Relaxed);
        tmp_name.push(format!(".tmp-{}-{n}", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let write = || -> io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(json.as_bytes())?;
            f.write_all(b"\n")?;
            f.flush()?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, path)
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(with_path(e, path));
        }
        // Make the rename durable where directories can be synced (best effort).
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Reads a model written by [`Mlp::save`], checked as [`Mlp::from_json`] does.
    ///
    /// ```
    /// let err = mlp::Mlp::load("/nonexistent/model.json").unwrap_err();
    /// assert!(matches!(err, mlp::ModelError::Io(_)));
    /// assert!(err.to_string().contains("/nonexistent/model.json"));
    /// ```
    ///
    /// # Errors
    ///
    /// [`ModelError::Io`] naming the path if it cannot be read; otherwise as
    /// [`Mlp::from_json`], with the path in the message.
    pub fn load(path: impl AsRef<Path>) -> Result<Mlp, ModelError> {
        let path = path.as_ref();
        let bytes = fs::read(path).map_err(|e| with_path(e, path))?;
        let text = String::from_utf8(bytes)
            .map_err(|e| ModelError::Corrupt(format!("{}: not UTF-8 text: {e}", path.display())))?;
        Mlp::from_json(&text).map_err(|e| match e {
            ModelError::Corrupt(m) => ModelError::Corrupt(format!("{}: {m}", path.display())),
            ModelError::Mismatch(m) => ModelError::Mismatch(format!("{}: {m}", path.display())),
            io => io,
        })
    }
}

fn with_path(e: io::Error, path: &Path) -> ModelError {
    ModelError::Io(io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}
