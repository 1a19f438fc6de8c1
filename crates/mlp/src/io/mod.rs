//! Model files: JSON, written atomically, checked when read (feature `serde`).
//!
//! ```json
//! {"format":"tapegrad-mlp","version":2,"checksum":"9b1f0c5d2e7a4c31","nin":2,
//!  "layers":[{"activation":"relu","neurons":[{"w":[0.1,-0.7],"b":0.0}, …]}, …]}
//! ```
//!
//! A neuron whose activation differs from its layer's (possible with
//! [`Mlp::from_layers`]) carries its own `"activation"`. Numbers are written shortest-exact
//! and read with `serde_json`'s `float_roundtrip`, so save → load gives bitwise the same
//! parameters.
//!
//! `"checksum"` is 16 lowercase hex digits: FNV-1a (64 bits) over the model's inputs, shape,
//! activations and the bits of every parameter. A file whose content does not match it
//! (a flipped bit, an edit) is [`ModelError::Corrupt`], never a different model. It guards
//! against damage, not against deliberate edits (anyone can recompute it).
//!
//! Reading is strict: an unknown field or a field given twice is an error, and
//! [`Mlp::load`] reads at most [`DEFAULT_MAX_BYTES`] (see [`Mlp::load_with_limit`]).
//! Version 1 files, written before the checksum existed, still load: they have no
//! `"checksum"` (and may not have one), so nothing guards their parameters.

mod checksum;
mod file;

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, Visitor};
use serde::{Deserialize, Serialize};

use crate::{Activation, Layer, Mlp, ModelError, Neuron};
use checksum::model_checksum;

pub use file::{DEFAULT_MAX_BYTES, temp_path};

/// The `format` field of a model file.
///
/// ```
/// assert!(mlp::Mlp::new(2, &[1], 0).to_json().contains(mlp::io::FORMAT));
/// ```
pub const FORMAT: &str = "tapegrad-mlp";
/// The file version this build writes. It also reads version 1 (no checksum).
///
/// ```
/// let json = mlp::Mlp::new(2, &[1], 0).to_json();
/// assert!(json.contains(&format!(r#""version":{}"#, mlp::io::VERSION)));
/// ```
pub const VERSION: u64 = 2;

#[derive(Serialize)]
struct FileOut<'a> {
    format: &'static str,
    version: u64,
    checksum: String,
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

/// The first pass reads only these two fields (skipping the rest without building it), so
/// another format or version is reported as such before its content is judged.
#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    format: Option<Scalar>,
    #[serde(default)]
    version: Option<Scalar>,
}

/// A header field's value: what a model file holds there, or anything else.
enum Scalar {
    U64(u64),
    Str(String),
    Other,
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar::U64(v))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }
    fn visit_unit<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }
    fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Str(v.to_owned()))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
}

/// The whole file, read straight into these structs (no JSON tree in between).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileIn {
    // Checked by the header pass; listed so they are not unknown, and not given twice.
    #[serde(rename = "format")]
    _format: IgnoredAny,
    #[serde(rename = "version")]
    _version: IgnoredAny,
    #[serde(default)]
    checksum: Option<String>,
    nin: usize,
    layers: Vec<LayerIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LayerIn {
    activation: Activation,
    neurons: Vec<NeuronIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NeuronIn {
    w: Vec<Number>,
    b: Number,
    #[serde(default)]
    activation: Option<Activation>,
}

/// A parameter as read: `null` (what serde_json writes for NaN and ±inf) becomes NaN, so a
/// weight takes 8 bytes while reading, and is reported by position afterwards. A missing
/// field stays an error (serde would read an `Option` as `None`).
struct Number(f64);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NumberVisitor)
    }
}

struct NumberVisitor;

impl<'de> Visitor<'de> for NumberVisitor {
    type Value = Number;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number")
    }
    fn visit_f64<E>(self, v: f64) -> Result<Number, E> {
        Ok(Number(v))
    }
    // Integers convert with one rounding, as parsing them as floats would.
    fn visit_u64<E>(self, v: u64) -> Result<Number, E> {
        Ok(Number(v as f64))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Number, E> {
        Ok(Number(v as f64))
    }
    fn visit_unit<E>(self) -> Result<Number, E> {
        Ok(Number(f64::NAN))
    }
}

/// What a `serde_json` error means for a model file.
fn json_error(e: serde_json::Error) -> ModelError {
    let what = if e.is_eof() {
        "the file ends too early (truncated?)"
    } else if e.is_syntax() {
        "not valid JSON"
    } else {
        "unexpected content"
    };
    ModelError::Corrupt(format!("{what}: {e}"))
}

/// Checks the format and version; returns the version.
fn read_header(bytes: &[u8]) -> Result<u64, ModelError> {
    let first = bytes.iter().find(|b| !b" \t\n\r".contains(b));
    if first != Some(&b'{') {
        // Valid JSON that is not an object gets its own message.
        serde_json::from_slice::<IgnoredAny>(bytes).map_err(json_error)?;
        return Err(ModelError::Corrupt("the model is not a JSON object".into()));
    }
    let header: Header = serde_json::from_slice(bytes).map_err(json_error)?;
    match header.format {
        Some(Scalar::Str(f)) if f == FORMAT => {}
        Some(Scalar::Str(other)) => {
            return Err(ModelError::Mismatch(format!(
                "the format is `{other}`, not `{FORMAT}`"
            )));
        }
        _ => {
            return Err(ModelError::Mismatch(format!(
                "no \"format\": \"{FORMAT}\" field: not a model file"
            )));
        }
    }
    match header.version {
        Some(Scalar::U64(v @ (1 | VERSION))) => Ok(v),
        Some(Scalar::U64(v)) => Err(ModelError::Mismatch(format!(
            "version {v} is not supported (this build reads versions 1 and {VERSION})"
        ))),
        _ => Err(ModelError::Corrupt("missing or invalid \"version\"".into())),
    }
}

/// Checks a file's `"checksum"` against its content: required from version 2 on, absent
/// before.
fn check_checksum(
    version: u64,
    stored: Option<&str>,
    nin: usize,
    layers: &[Layer],
) -> Result<(), ModelError> {
    let stored = match (version, stored) {
        (1, None) => return Ok(()),
        (1, Some(_)) => {
            return Err(ModelError::Corrupt(
                "a version 1 file has no \"checksum\" field".into(),
            ));
        }
        (_, None) => return Err(ModelError::Corrupt("missing field `checksum`".into())),
        (_, Some(s)) => s,
    };
    let computed = model_checksum(nin, layers);
    let valid = stored.len() == 16
        && stored
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !valid {
        return Err(ModelError::Corrupt(format!(
            "the checksum `{stored}` is not 16 lowercase hex digits"
        )));
    }
    if stored != format!("{computed:016x}") {
        return Err(ModelError::Corrupt(format!(
            "checksum mismatch: the file says {stored} but its content hashes to \
             {computed:016x} (the file was damaged or edited)"
        )));
    }
    Ok(())
}

impl Mlp {
    /// The model as JSON (see the [`io`](crate::io) module for the format).
    ///
    /// ```
    /// let m = mlp::Mlp::new(2, &[3, 1], 1);
    /// let json = m.to_json();
    /// assert!(json.starts_with(r#"{"format":"tapegrad-mlp","version":2,"checksum":""#));
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
            checksum: format!("{:016x}", model_checksum(self.nin(), self.layers())),
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
    /// let other = json.replace(r#""version":2"#, r#""version":9"#);
    /// assert!(matches!(Mlp::from_json(&other), Err(ModelError::Mismatch(_))));
    /// ```
    ///
    /// # Errors
    ///
    /// [`ModelError::Mismatch`] if it is another format or version;
    /// [`ModelError::Corrupt`] if the text is not JSON (e.g. truncated), a field is missing,
    /// unknown, given twice or has the wrong type, a parameter is not a finite number, or
    /// the checksum does not match; [`ModelError::Mismatch`] if the shapes are inconsistent
    /// (a neuron whose weight count is not its layer's input count, an empty layer, no
    /// layers). Every message says where.
    pub fn from_json(s: &str) -> Result<Mlp, ModelError> {
        Mlp::from_json_bytes(s.as_bytes())
    }

    fn from_json_bytes(bytes: &[u8]) -> Result<Mlp, ModelError> {
        let version = read_header(bytes)?;
        let file: FileIn = serde_json::from_slice(bytes).map_err(json_error)?;
        let mut layers = Vec::with_capacity(file.layers.len());
        for (l, layer) in file.layers.into_iter().enumerate() {
            let mut neurons = Vec::with_capacity(layer.neurons.len());
            for (j, n) in layer.neurons.into_iter().enumerate() {
                let null = |what: String| {
                    ModelError::Corrupt(format!(
                        "layer {l}, neuron {j}, {what} is null (not a finite number)"
                    ))
                };
                // Same size and alignment: this reuses the buffer.
                let w: Vec<f64> = n.w.into_iter().map(|v| v.0).collect();
                if let Some(k) = w.iter().position(|v| v.is_nan()) {
                    return Err(null(format!("weight {k}")));
                }
                if n.b.0.is_nan() {
                    return Err(null("bias".into()));
                }
                neurons.push(Neuron {
                    w,
                    b: n.b.0,
                    activation: n.activation.unwrap_or(layer.activation),
                });
            }
            layers.push(Layer { neurons });
        }
        // Before the shape checks: a damaged file is reported as damaged.
        check_checksum(version, file.checksum.as_deref(), file.nin, &layers)?;
        Mlp::from_layers(file.nin, layers)
    }
}
