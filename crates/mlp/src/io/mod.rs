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
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IgnoredAny, Visitor};
use serde::{Deserialize, Serialize};

use crate::{Activation, Layer, Mlp, ModelError, Neuron};
use checksum::model_checksum;

pub use file::{DEFAULT_MAX_BYTES, temp_prefix};

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

/// What the first pass sees of a JSON value: of an object, only its `format` and `version`
/// fields (skipping the rest without building it), so another format or version is reported
/// as such before its content is judged; of a header field, its value if a model file can
/// hold it there.
enum Peek {
    U64(u64),
    Str(String),
    Object {
        format: Option<Box<Peek>>,
        version: Option<Box<Peek>>,
    },
    Other,
}

impl<'de> Deserialize<'de> for Peek {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PeekVisitor)
    }
}

struct PeekVisitor;

impl<'de> Visitor<'de> for PeekVisitor {
    type Value = Peek;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_u64<E>(self, v: u64) -> Result<Peek, E> {
        Ok(Peek::U64(v))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Peek, E> {
        Ok(Peek::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Peek, E> {
        Ok(Peek::Other)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Peek, E> {
        Ok(Peek::Other)
    }
    fn visit_unit<E>(self) -> Result<Peek, E> {
        Ok(Peek::Other)
    }
    fn visit_str<E>(self, v: &str) -> Result<Peek, E> {
        Ok(Peek::Str(v.to_owned()))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Peek, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Peek::Other)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Peek, A::Error> {
        let (mut format, mut version) = (None, None);
        while let Some(key) = map.next_key::<Key>()? {
            let (slot, name) = match key {
                Key::Format => (&mut format, "format"),
                Key::Version => (&mut version, "version"),
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if slot.is_some() {
                return Err(de::Error::duplicate_field(name));
            }
            *slot = Some(Box::new(map.next_value::<Peek>()?));
        }
        Ok(Peek::Object { format, version })
    }
}

/// A key of the header pass: only its two fields are kept (a long key is not copied).
enum Key {
    Format,
    Version,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E>(self, v: &str) -> Result<Key, E> {
                Ok(match v {
                    "format" => Key::Format,
                    "version" => Key::Version,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_identifier(KeyVisitor)
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
    layers: List<LayerIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LayerIn {
    activation: Activation,
    neurons: List<NeuronIn>,
}

/// As read. It has the size and alignment of a [`Neuron`], so the layer's buffer becomes
/// the model's without a copy.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NeuronIn {
    w: List<Number>,
    b: Number,
    #[serde(default)]
    activation: Option<Activation>,
}

/// A JSON array read into a vector that grows as elements arrive (a failed allocation is
/// an error, not an abort) and ends exactly as long as the array.
struct List<T>(Vec<T>);

/// The message of a failed allocation while reading, recognised by [`json_error`].
const OUT_OF_MEMORY: &str = "out of memory while reading the model";

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ListVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON array")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
                let mut v: Vec<T> = Vec::new();
                while let Some(x) = seq.next_element()? {
                    if v.len() == v.capacity() {
                        v.try_reserve(v.len().max(4))
                            .map_err(|_| de::Error::custom(OUT_OF_MEMORY))?;
                    }
                    v.push(x);
                }
                v.shrink_to_fit();
                Ok(List(v))
            }
        }
        d.deserialize_seq(ListVisitor(PhantomData))
    }
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

/// At most [`EXCERPT_CHARS`] characters of `s`, control characters escaped, with "…" where
/// it was cut: what a message may quote of a file's content.
pub(crate) fn excerpt(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == EXCERPT_CHARS {
            out.push('…');
            break;
        }
        push_escaped(&mut out, c);
    }
    out
}

/// How many characters of a file's content a message quotes at most.
const EXCERPT_CHARS: usize = 64;

/// Control characters (and the ones that reorder text on a terminal) as Rust escapes.
fn push_escaped(out: &mut String, c: char) {
    if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
        out.extend(c.escape_debug());
    } else {
        out.push(c);
    }
}

/// A serde message with every quoted part (`` `…` `` or `"…"`, where serde puts the file's
/// text) cut to an excerpt, and control characters escaped anywhere.
fn tame(message: &str) -> String {
    let mut out = String::new();
    let mut rest = message;
    while let Some(open) = rest.find(['`', '"']) {
        let quote = rest.as_bytes()[open];
        rest[..=open]
            .chars()
            .for_each(|c| push_escaped(&mut out, c));
        let inner = &rest[open + 1..];
        // A `"` quote is Debug-escaped by serde: `\"` does not close it.
        let mut escaped = false;
        let close = inner.char_indices().find(|&(_, c)| {
            let closes = !escaped && c == char::from(quote);
            escaped = !escaped && c == '\\' && quote == b'"';
            closes
        });
        let Some((close, _)) = close else {
            out.push_str(&excerpt(inner));
            return out;
        };
        out.push_str(&excerpt(&inner[..close]));
        out.push(char::from(quote));
        rest = &inner[close + 1..];
    }
    rest.chars().for_each(|c| push_escaped(&mut out, c));
    out
}

/// What a `serde_json` error means for a model file.
fn json_error(e: serde_json::Error) -> ModelError {
    if e.is_io() {
        return ModelError::Io(e.into());
    }
    let message = e.to_string();
    if message.starts_with(OUT_OF_MEMORY) {
        return ModelError::Io(std::io::Error::new(
            std::io::ErrorKind::OutOfMemory,
            message,
        ));
    }
    let what = if e.is_eof() {
        "the file ends too early (truncated?)"
    } else if e.is_syntax() {
        "not valid JSON"
    } else {
        "unexpected content"
    };
    ModelError::Corrupt(format!("{what}: {}", tame(&message)))
}

/// Checks the format and version; returns the version.
fn check_header(header: Peek) -> Result<u64, ModelError> {
    let Peek::Object { format, version } = header else {
        return Err(ModelError::Corrupt("the model is not a JSON object".into()));
    };
    match format.map(|b| *b) {
        Some(Peek::Str(f)) if f == FORMAT => {}
        Some(Peek::Str(other)) => {
            return Err(ModelError::Mismatch(format!(
                "the format is `{}`, not `{FORMAT}`",
                excerpt(&other)
            )));
        }
        _ => {
            return Err(ModelError::Mismatch(format!(
                "no \"format\": \"{FORMAT}\" field: not a model file"
            )));
        }
    }
    match version.map(|b| *b) {
        Some(Peek::U64(v @ (1 | VERSION))) => Ok(v),
        Some(Peek::U64(v)) => Err(ModelError::Mismatch(format!(
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
            "the checksum `{}` is not 16 lowercase hex digits",
            excerpt(stored)
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

/// The model of a parsed file, checked: the header pass's result, then the body's.
fn build(
    header: Result<Peek, serde_json::Error>,
    body: impl FnOnce() -> Result<FileIn, serde_json::Error>,
) -> Result<Mlp, ModelError> {
    let version = check_header(header.map_err(json_error)?)?;
    let file = body().map_err(json_error)?;
    let mut layers = Vec::with_capacity(file.layers.0.len());
    for (l, layer) in file.layers.0.into_iter().enumerate() {
        for (j, n) in layer.neurons.0.iter().enumerate() {
            let null = |what: String| {
                ModelError::Corrupt(format!(
                    "layer {l}, neuron {j}, {what} is null (not a finite number)"
                ))
            };
            if let Some(k) = n.w.0.iter().position(|v| v.0.is_nan()) {
                return Err(null(format!("weight {k}")));
            }
            if n.b.0.is_nan() {
                return Err(null("bias".into()));
            }
        }
        // Same size and alignment: these reuse the buffers.
        let neurons = layer.neurons.0.into_iter();
        let neurons = neurons.map(|n| Neuron {
            w: n.w.0.into_iter().map(|v| v.0).collect(),
            b: n.b.0,
            activation: n.activation.unwrap_or(layer.activation),
        });
        layers.push(Layer {
            neurons: neurons.collect(),
        });
    }
    // Before the shape checks: a damaged file is reported as damaged.
    check_checksum(version, file.checksum.as_deref(), file.nin, &layers)?;
    Mlp::from_layers(file.nin, layers)
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
        build(serde_json::from_slice(bytes), || {
            serde_json::from_slice(bytes)
        })
    }
}
