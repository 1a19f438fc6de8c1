//! Model files under attack: flipped bits, repeated and unknown fields, huge or endless
//! files, long names, leftover temporary files, symbolic links, permissions, kills.

use std::fs;

use mlp::{BiasInit, Mlp, ModelError};

use crate::common::bits;
use crate::files::{TempDir, corrupt, mismatch, v1};

/// A small model with no zero parameter, so every number in its file has digits to flip.
fn small_model() -> Mlp {
    Mlp::builder(2, &[3, 1])
        .bias_init(BiasInit::Uniform)
        .seed(11)
        .build()
}

// Pins a bug: 18 % of single-bit flips in a saved file loaded a different model silently.
#[test]
fn no_single_bit_flip_loads_a_different_model() {
    let dir = TempDir::new("bitflips");
    let path = dir.file("model.json");
    let model = small_model();
    model.save(&path).unwrap();
    let good = fs::read(&path).unwrap();
    let (mut errors, mut same) = (0, 0);
    for i in 0..good.len() {
        for bit in 0..8 {
            let mut bad = good.clone();
            bad[i] ^= 1 << bit;
            // Text is checked in memory; other bytes go through a file, as a load does.
            let loaded = match std::str::from_utf8(&bad) {
                Ok(text) => Mlp::from_json(text),
                Err(_) => {
                    fs::write(&path, &bad).unwrap();
                    Mlp::load(&path)
                }
            };
            match loaded {
                Ok(m) => {
                    // Only a flip that does not change the model may load (e.g. `e` ↔ `E`).
                    assert_eq!(bits(&m.parameters()), bits(&model.parameters()), "byte {i}");
                    assert_eq!(m, model, "byte {i} bit {bit}");
                    same += 1;
                }
                Err(ModelError::Corrupt(_) | ModelError::Mismatch(_)) => errors += 1,
                Err(other) => panic!("byte {i} bit {bit}: {other}"),
            }
        }
    }
    assert_eq!(errors + same, good.len() * 8);
    assert!(errors > same * 50, "{errors} errors, {same} harmless");
}

#[test]
fn a_changed_parameter_fails_the_checksum() {
    let model = small_model();
    let json = model.to_json();
    let b = model.layers()[0].neurons[0].b;
    let edited = json.replacen(&format!("\"b\":{b:?}"), "\"b\":0.5", 1);
    assert_ne!(edited, json);
    let msg = corrupt(Mlp::from_json(&edited).unwrap_err());
    assert!(msg.contains("checksum mismatch"), "{msg}");
    // A layer's activation is covered too.
    let edited = json.replacen(r#""activation":"relu""#, r#""activation":"tanh""#, 1);
    assert!(corrupt(Mlp::from_json(&edited).unwrap_err()).contains("checksum mismatch"));

    let at = json.find(r#""checksum":""#).unwrap() + 12;
    let stored = &json[at..at + 16];
    let cases = [
        (
            json.replacen(stored, &stored.to_uppercase(), 1),
            "16 lowercase hex digits",
        ),
        (json.replacen(stored, "0", 1), "16 lowercase hex digits"),
        (
            json.replacen(&format!(r#","checksum":"{stored}""#), "", 1),
            "missing field `checksum`",
        ),
        (
            json.replacen(&format!(r#""{stored}""#), "17", 1),
            "unexpected content",
        ),
    ];
    for (text, expect) in &cases {
        let msg = corrupt(Mlp::from_json(text).unwrap_err());
        assert!(msg.contains(expect), "{text}\n=> {msg}");
    }
}

#[test]
fn version_1_files_still_load_without_a_checksum() {
    let model = small_model();
    let old = v1(&model.to_json());
    assert!(!old.contains("checksum"));
    let loaded = Mlp::from_json(&old).unwrap();
    assert_eq!(bits(&loaded.parameters()), bits(&model.parameters()));
    // A version 1 file never had a checksum: one is an error, not ignored.
    let with = old.replacen(r#""nin""#, r#""checksum":"0000000000000000","nin""#, 1);
    assert!(corrupt(Mlp::from_json(&with).unwrap_err()).contains("version 1 file has no"));
}

// Pins a bug: repeated keys loaded silently, the last one winning, "format" included.
#[test]
fn repeated_fields_are_errors() {
    let json = small_model().to_json();
    let w = {
        let at = json.find(r#""w":["#).unwrap();
        json[at..at + json[at..].find(']').unwrap() + 1].to_string()
    };
    let cases = [
        (
            r#""format":"tapegrad-mlp""#,
            r#""format":"keras","format":"tapegrad-mlp""#,
            "format",
        ),
        (
            r#""format":"tapegrad-mlp""#,
            r#""format":"tapegrad-mlp","format":"tapegrad-mlp""#,
            "format",
        ),
        (r#""version":2"#, r#""version":2,"version":2"#, "version"),
        (r#""nin":2"#, r#""nin":2,"nin":2"#, "nin"),
        (r#""layers":"#, r#""layers":[],"layers":"#, "layers"),
        (
            r#""activation":"relu""#,
            r#""activation":"relu","activation":"relu""#,
            "activation",
        ),
        (r#""neurons":"#, r#""neurons":[],"neurons":"#, "neurons"),
        (&w, &format!("{w},{w}"), "w"),
        (r#""b":"#, r#""b":0.0,"b":"#, "b"),
    ];
    for (from, to, field) in cases {
        let text = json.replacen(from, to, 1);
        assert_ne!(text, json);
        let msg = corrupt(Mlp::from_json(&text).unwrap_err());
        assert!(
            msg.contains(&format!("duplicate field `{field}`")),
            "{text}\n=> {msg}"
        );
    }
}

#[test]
fn unknown_fields_are_errors() {
    let json = small_model().to_json();
    let cases = [
        (r#""nin":2"#, r#""nin":2,"extra":1"#),
        (
            r#""activation":"relu","#,
            r#""activation":"relu","extra":[1,2],"#,
        ),
        (r#""b":"#, r#""extra":{},"b":"#),
    ];
    for (from, to) in cases {
        let text = json.replacen(from, to, 1);
        let msg = corrupt(Mlp::from_json(&text).unwrap_err());
        assert!(msg.contains("unknown field `extra`"), "{text}\n=> {msg}");
    }
    // Another format is named as such, whatever else it holds.
    let keras = r#"{"format":"keras","layers":"dense","extra":{"a":[1,2]}}"#;
    assert!(mismatch(Mlp::from_json(keras).unwrap_err()).contains("`keras`"));
}

fn too_large(e: ModelError) -> (Option<u64>, u64, String) {
    let text = e.to_string();
    match e {
        ModelError::TooLarge { size, limit, .. } => (size, limit, text),
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

// Pins a bug: nothing capped a model file's size (a 2 GB file aborted on memory).
#[test]
fn files_over_the_limit_are_refused() {
    let dir = TempDir::new("limit");
    let path = dir.file("model.json");
    small_model().save(&path).unwrap();
    let len = fs::metadata(&path).unwrap().len();
    assert_eq!(Mlp::load_with_limit(&path, len).unwrap(), small_model());
    let (size, limit, text) = too_large(Mlp::load_with_limit(&path, len - 1).unwrap_err());
    assert_eq!((size, limit), (Some(len), len - 1));
    assert!(
        text.contains("model.json") && text.contains(&format!("{len} bytes")),
        "{text}"
    );

    // The default: a file one byte over it is refused before it is read.
    let big = dir.file("big.json");
    let f = fs::File::create(&big).unwrap();
    f.set_len(mlp::io::DEFAULT_MAX_BYTES + 1).unwrap();
    let (size, limit, _) = too_large(Mlp::load(&big).unwrap_err());
    assert_eq!(
        (size, limit),
        (
            Some(mlp::io::DEFAULT_MAX_BYTES + 1),
            mlp::io::DEFAULT_MAX_BYTES
        )
    );
}

// Pins a bug: `Mlp::load("/dev/zero")` read until memory ran out.
#[cfg(target_os = "linux")]
#[test]
fn an_endless_file_is_read_up_to_the_limit() {
    let (size, limit, text) = too_large(Mlp::load_with_limit("/dev/zero", 4096).unwrap_err());
    assert_eq!((size, limit), (None, 4096));
    assert!(
        text.contains("/dev/zero") && text.contains("more than 4096 bytes"),
        "{text}"
    );
    let (size, limit, _) = too_large(Mlp::load("/dev/zero").unwrap_err());
    assert_eq!((size, limit), (None, mlp::io::DEFAULT_MAX_BYTES));
}
