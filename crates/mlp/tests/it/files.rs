//! Model files: atomic save, bit-exact load, and clear errors for bad files.

use std::fs;
use std::path::PathBuf;

use mlp::{Activation, Layer, Mlp, ModelError, Neuron, TrainConfig, Trainer, datasets};

use crate::common::bits;

/// A fresh folder for one test, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("mlp-test-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn trained_model() -> Mlp {
    let data = datasets::two_moons(30, 0.1, 2);
    let mut model = Mlp::new(2, &[16, 16, 1], 2);
    let config = TrainConfig {
        steps: 5,
        ..TrainConfig::micrograd_demo()
    };
    Trainer::new(config)
        .train(&mut model, &data, |_| {})
        .unwrap();
    model
}

#[test]
fn save_then_load_is_bit_exact() {
    let dir = TempDir::new("roundtrip");
    let path = dir.file("model.json");
    let model = trained_model();
    model.save(&path).unwrap();
    // Only the target is left: the temporary file was renamed.
    assert_eq!(dir.entries(), vec!["model.json".to_string()]);
    let loaded = Mlp::load(&path).unwrap();
    assert_eq!(bits(&loaded.parameters()), bits(&model.parameters()));
    assert_eq!(loaded, model);
    assert_eq!(loaded.to_string(), model.to_string());
    let x = [0.3, -0.2];
    assert_eq!(bits(&loaded.predict(&x)), bits(&model.predict(&x)));

    // Saving again replaces the file in place.
    let other = Mlp::new(2, &[4, 1], 9);
    other.save(&path).unwrap();
    assert_eq!(Mlp::load(&path).unwrap(), other);
    assert_eq!(dir.entries(), vec!["model.json".to_string()]);
}

#[test]
fn awkward_numbers_round_trip() {
    let tricky = [
        -0.0,
        5e-324,
        -2.2250738585072014e-308,
        1e308,
        0.1 + 0.2,
        1.0 / 3.0,
        -f64::MAX,
        f64::EPSILON,
    ];
    let mut model = Mlp::new(1, &[2, 1], 0); // 2·2 + 3 = 7 parameters
    let mut p = tricky[..7].to_vec();
    p[6] = tricky[7];
    model.set_parameters(&p);
    let back = Mlp::from_json(&model.to_json()).unwrap();
    assert_eq!(bits(&back.parameters()), bits(&p));
}

#[test]
fn mixed_activations_round_trip() {
    let layer = Layer {
        neurons: vec![
            Neuron::new(vec![1.0], 0.5, Activation::Tanh),
            Neuron::new(vec![-1.0], 0.0, Activation::Sigmoid),
        ],
    };
    let out = Layer {
        neurons: vec![Neuron::new(vec![1.0, 2.0], 0.0, Activation::Identity)],
    };
    let model = Mlp::from_layers(1, vec![layer, out]).unwrap();
    let json = model.to_json();
    assert!(json.contains(r#""activation":"sigmoid""#), "{json}");
    assert_eq!(Mlp::from_json(&json).unwrap(), model);
}

#[test]
fn the_format_is_documented_json() {
    let model = Mlp::from_layers(
        2,
        vec![Layer {
            neurons: vec![Neuron::new(vec![0.5, -0.25], 1.0, Activation::Relu)],
        }],
    )
    .unwrap();
    // The checksum as the io module documents it: FNV-1a 64 over little-endian u64s (nin,
    // layer count, then per layer its neuron count and per neuron the activation name's
    // length and bytes, the weight count, the weights' bits, the bias's bits).
    let mut bytes = Vec::new();
    let u64s = |v: &[u64], bytes: &mut Vec<u8>| {
        for x in v {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
    };
    u64s(&[2, 1, 1, 4], &mut bytes);
    bytes.extend_from_slice(b"relu");
    u64s(
        &[2, 0.5f64.to_bits(), (-0.25f64).to_bits(), 1.0f64.to_bits()],
        &mut bytes,
    );
    let fnv = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    assert_eq!(
        model.to_json(),
        format!(
            r#"{{"format":"tapegrad-mlp","version":2,"checksum":"{fnv:016x}","nin":2,"layers":[{{"activation":"relu","neurons":[{{"w":[0.5,-0.25],"b":1.0}}]}}]}}"#
        )
    );
}

/// `json` as a version 1 file (no checksum), so its content can be edited by hand.
pub fn v1(json: &str) -> String {
    let start = json.find(r#","checksum":""#).unwrap();
    let end = start + 13 + 16 + 1;
    format!("{}{}", &json[..start], &json[end..]).replacen(r#""version":2"#, r#""version":1"#, 1)
}

pub fn corrupt(e: ModelError) -> String {
    match e {
        ModelError::Corrupt(m) => m,
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

pub fn mismatch(e: ModelError) -> String {
    match e {
        ModelError::Mismatch(m) => m,
        other => panic!("expected Mismatch, got {other:?}"),
    }
}

#[test]
fn truncated_files_are_corrupt() {
    let dir = TempDir::new("truncated");
    let path = dir.file("model.json");
    let model = Mlp::new(2, &[16, 16, 1], 5);
    model.save(&path).unwrap();
    let full = fs::read(&path).unwrap();
    // Every cut of the JSON text (the trailing newline aside) is an error, never a model.
    let text_len = full.len() - 1;
    for cut in (0..text_len).step_by(13).chain([text_len - 1]) {
        fs::write(&path, &full[..cut]).unwrap();
        let msg = corrupt(Mlp::load(&path).unwrap_err());
        assert!(msg.contains("model.json"), "{msg}");
        if cut > 0 {
            assert!(msg.contains("truncated"), "cut {cut}: {msg}");
        }
    }
}

#[test]
fn corrupt_files_are_errors() {
    // Version 1 (no checksum) reaches the content checks after a hand edit.
    let good = v1(&Mlp::new(2, &[3, 1], 1).to_json());
    let w0 = {
        let start = good.find(r#""w":["#).unwrap() + 5;
        let end = start + good[start..].find(',').unwrap();
        good[start..end].to_string()
    };
    let cases: Vec<(String, &str)> = vec![
        ("".into(), "truncated"),
        ("not json at all".into(), "not valid JSON"),
        ("[1, 2, 3]".into(), "not a JSON object"),
        (good.replacen(&w0, "\"x\"", 1), "unexpected content"),
        (
            good.replacen(&w0, "null", 1),
            "layer 0, neuron 0, weight 0 is null",
        ),
        (good.replacen(&w0, "1e999", 1), "not valid JSON"),
        (good.replacen(r#","b":0.0"#, "", 1), "missing field `b`"),
        (
            good.replacen(r#","b":0.0"#, r#","b":null"#, 1),
            "layer 0, neuron 0, bias is null",
        ),
        (
            good.replacen(r#""relu""#, r#""swish""#, 1),
            "unknown variant `swish`",
        ),
        (
            good.replacen(r#""nin":2"#, r#""nin":-2"#, 1),
            "unexpected content",
        ),
        (
            good.replacen(r#""version":1"#, r#""version":"one""#, 1),
            "version",
        ),
    ];
    for (text, expect) in &cases {
        let msg = corrupt(Mlp::from_json(text).unwrap_err());
        assert!(msg.contains(expect), "{text}\n=> {msg}");
    }
    // Bytes that are not UTF-8 text.
    let dir = TempDir::new("corrupt");
    let path = dir.file("model.json");
    fs::write(&path, [0xff, 0xfe, 0x00, 0x7b]).unwrap();
    assert!(corrupt(Mlp::load(&path).unwrap_err()).contains("UTF-8"));
}

#[test]
fn mismatched_files_are_errors() {
    let good = v1(&Mlp::new(2, &[3, 1], 1).to_json());
    let cases: Vec<(String, &str)> = vec![
        (
            good.replacen("tapegrad-mlp", "keras", 1),
            "the format is `keras`",
        ),
        (
            good.replacen(r#""format":"tapegrad-mlp","#, "", 1),
            "not a model file",
        ),
        (
            good.replacen(r#""version":1"#, r#""version":3"#, 1),
            "version 3 is not supported",
        ),
        (
            good.replacen(r#""nin":2"#, r#""nin":3"#, 1),
            "layer 0, neuron 0 has 2 weights but its layer has 3 inputs",
        ),
        (good.replacen(r#""nin":2"#, r#""nin":0"#, 1), "0 inputs"),
        (
            format!("{}[]}}", &good[..good.find(r#""layers":"#).unwrap() + 9]),
            "no layers",
        ),
    ];
    for (text, expect) in &cases {
        let msg = mismatch(Mlp::from_json(text).unwrap_err());
        assert!(msg.contains(expect), "{text}\n=> {msg}");
    }
    // A second layer whose neurons expect the wrong width.
    let three_to_two = v1(&Mlp::new(2, &[2, 1], 1).to_json());
    let hacked = three_to_two.replacen(
        r#"{"activation":"relu","neurons":[{"#,
        r#"{"activation":"relu","neurons":[{"w":[0.5,0.5],"b":0.0},{"#,
        1,
    );
    let msg = mismatch(Mlp::from_json(&hacked).unwrap_err());
    assert!(
        msg.contains("layer 1, neuron 0 has 2 weights but its layer has 3 inputs"),
        "{msg}"
    );

    // A well-formed file of the wrong architecture for the caller.
    let dir = TempDir::new("mismatch");
    let path = dir.file("m.json");
    Mlp::new(2, &[8, 1], 0).save(&path).unwrap();
    let loaded = Mlp::load(&path).unwrap();
    assert!(mismatch(loaded.check_shape(2, &[16, 16, 1]).unwrap_err()).contains("2-8-1"));
}

#[test]
fn io_errors_name_the_path_and_leave_nothing_behind() {
    let dir = TempDir::new("io");
    let missing = dir.file("no-such-folder/model.json");
    let err = Mlp::new(2, &[3, 1], 0).save(&missing).unwrap_err();
    assert!(matches!(err, ModelError::Io(_)));
    assert!(err.to_string().contains("no-such-folder"), "{err}");
    let err = Mlp::load(dir.file("absent.json")).unwrap_err();
    assert!(matches!(err, ModelError::Io(_)));
    assert!(err.to_string().contains("absent.json"));
    assert!(dir.entries().is_empty());
}

#[test]
fn configs_serialize() {
    let config = TrainConfig {
        optimizer: mlp::Optimizer::adam(0.01),
        batch_size: Some(8),
        ..TrainConfig::micrograd_demo()
    };
    let json = serde_json::to_string(&config).unwrap();
    assert_eq!(serde_json::from_str::<TrainConfig>(&json).unwrap(), config);
    let demo = serde_json::to_string(&TrainConfig::micrograd_demo()).unwrap();
    assert!(demo.contains(r#""loss":"max_margin""#), "{demo}");
    assert!(demo.contains(r#""micrograd":{"steps":100}"#), "{demo}");
    assert!(demo.contains(r#""threads":1,"chunk_size":64"#), "{demo}");
}

#[test]
fn configs_without_threads_or_chunk_size_get_the_defaults() {
    let config = TrainConfig {
        threads: 2,
        chunk_size: 10,
        ..TrainConfig::micrograd_demo()
    };
    let mut value = serde_json::to_value(&config).unwrap();
    let fields = value.as_object_mut().unwrap();
    assert_eq!(fields.remove("threads"), Some(serde_json::json!(2)));
    assert_eq!(fields.remove("chunk_size"), Some(serde_json::json!(10)));
    let old: TrainConfig = serde_json::from_value(value).unwrap();
    assert_eq!(old, TrainConfig::micrograd_demo());
}

#[test]
fn concurrent_saves_leave_one_whole_model() {
    let dir = TempDir::new("concurrent");
    let path = dir.file("model.json");
    let models: Vec<Mlp> = (0..4).map(|s| Mlp::new(2, &[16, 16, 1], s)).collect();
    std::thread::scope(|scope| {
        for m in &models {
            let path = &path;
            scope.spawn(move || {
                for _ in 0..10 {
                    m.save(path).unwrap();
                }
            });
        }
    });
    let loaded = Mlp::load(&path).unwrap();
    assert!(models.contains(&loaded));
    assert_eq!(dir.entries(), vec!["model.json".to_string()]);
}
