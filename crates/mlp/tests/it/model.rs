//! Construction, parameters, display, and the tape-free forward pass.

use mlp::{Activation, BiasInit, Layer, Mlp, ModelError, Neuron};
use tapegrad::Tape;

use crate::common::{Gen, bits, lecture_mlp};

#[test]
fn micrograd_demo_model_shape() {
    let m = Mlp::new(2, &[16, 16, 1], 1337);
    assert_eq!(m.num_parameters(), 337);
    assert_eq!(m.parameters().len(), 337);
    assert_eq!((m.nin(), m.nout(), m.sizes()), (2, 1, vec![16, 16, 1]));
    assert_eq!(m.layers().len(), 3);
    // micrograd's package: ReLU hidden layers, a linear output, zero biases, weights in [-1, 1).
    assert_eq!(m.layers()[0].activation(), Some(Activation::Relu));
    assert_eq!(m.layers()[1].activation(), Some(Activation::Relu));
    assert_eq!(m.layers()[2].activation(), Some(Activation::Identity));
    for n in m.layers().iter().flat_map(|l| &l.neurons) {
        assert_eq!(n.b, 0.0);
        assert!(n.w.iter().all(|w| (-1.0..1.0).contains(w)));
    }
    let w: Vec<f64> = m.layers()[0]
        .neurons
        .iter()
        .flat_map(|n| n.w.clone())
        .collect();
    let mean = w.iter().sum::<f64>() / w.len() as f64;
    assert!(mean.abs() < 0.3 && w.iter().any(|&x| x < -0.5) && w.iter().any(|&x| x > 0.5));
}

#[test]
fn display_is_micrograds_repr() {
    let m = Mlp::new(2, &[16, 16, 1], 0);
    let relu2 = vec!["ReLUNeuron(2)"; 16].join(", ");
    let relu16 = vec!["ReLUNeuron(16)"; 16].join(", ");
    assert_eq!(
        m.to_string(),
        format!("MLP of [Layer of [{relu2}], Layer of [{relu16}], Layer of [LinearNeuron(16)]]")
    );
    let lecture = lecture_mlp(0).to_string();
    assert_eq!(
        lecture,
        format!(
            "MLP of [Layer of [{}], Layer of [{}], Layer of [TanhNeuron(4)]]",
            ["TanhNeuron(3)"; 4].join(", "),
            ["TanhNeuron(4)"; 4].join(", ")
        )
    );
}

#[test]
fn lecture_mlp_is_one_line() {
    let m = lecture_mlp(7);
    assert_eq!(m.num_parameters(), 41);
    assert_eq!(m.sizes(), vec![4, 4, 1]);
    for l in m.layers() {
        assert_eq!(l.activation(), Some(Activation::Tanh));
    }
    let biases: Vec<f64> = m
        .layers()
        .iter()
        .flat_map(|l| &l.neurons)
        .map(|n| n.b)
        .collect();
    assert!(biases.iter().all(|b| (-1.0..1.0).contains(b)));
    assert!(biases.iter().filter(|&&b| b != 0.0).count() == biases.len());
    // The output is a tanh, so it is inside (-1, 1).
    let y = m.predict(&[2.0, 3.0, -1.0])[0];
    assert!(y.abs() < 1.0);
}

#[test]
fn builder_options() {
    use Activation::*;
    let seeded = |s| Mlp::builder(2, &[3, 2]).seed(s).build();
    assert_eq!(bits(&seeded(5).parameters()), bits(&seeded(5).parameters()));
    assert_ne!(seeded(5), seeded(6));
    assert_eq!(Mlp::builder(2, &[3, 2]).build(), Mlp::new(2, &[3, 2], 0));

    let m = Mlp::builder(2, &[3, 3, 2])
        .activation(Sigmoid)
        .output_activation(Tanh)
        .build();
    let acts: Vec<_> = m.layers().iter().map(|l| l.activation()).collect();
    assert_eq!(acts, vec![Some(Sigmoid), Some(Sigmoid), Some(Tanh)]);

    let m = Mlp::builder(2, &[3, 3, 2])
        .layer_activations(&[Identity, Relu, Sigmoid])
        .build();
    let acts: Vec<_> = m.layers().iter().map(|l| l.activation()).collect();
    assert_eq!(acts, vec![Some(Identity), Some(Relu), Some(Sigmoid)]);

    // Uniform biases change the draw order but keep weights in range.
    let u = Mlp::builder(2, &[3])
        .bias_init(BiasInit::Uniform)
        .seed(1)
        .build();
    let z = Mlp::builder(2, &[3])
        .bias_init(BiasInit::Zero)
        .seed(1)
        .build();
    assert_eq!(u.layers()[0].neurons[0].w, z.layers()[0].neurons[0].w);
    assert!(u.layers()[0].neurons.iter().all(|n| n.b != 0.0));
    assert!(z.layers()[0].neurons.iter().all(|n| n.b == 0.0));
}

#[test]
#[should_panic(expected = "at least one neuron")]
fn zero_width_layer_panics() {
    let _ = Mlp::new(2, &[3, 0, 1], 0);
}

#[test]
#[should_panic(expected = "2 layer activations given for 3 layers")]
fn wrong_number_of_layer_activations_panics() {
    let _ = Mlp::builder(2, &[3, 3, 1])
        .layer_activations(&[Activation::Relu, Activation::Relu])
        .build();
}

#[test]
fn parameters_round_trip_in_order() {
    let mut m = Mlp::new(3, &[4, 2], 1);
    let n = m.num_parameters();
    assert_eq!(n, 4 * 4 + 2 * 5);
    let p: Vec<f64> = (0..n).map(|i| i as f64).collect();
    m.set_parameters(&p);
    assert_eq!(m.parameters(), p);
    // Neuron by neuron, weights then bias.
    assert_eq!(m.layers()[0].neurons[1].w, vec![4.0, 5.0, 6.0]);
    assert_eq!(m.layers()[0].neurons[1].b, 7.0);
    assert_eq!(m.layers()[1].neurons[0].w, vec![16.0, 17.0, 18.0, 19.0]);
    assert_eq!(m.parameter_name(7), "layer 0, neuron 1, bias");
    assert_eq!(m.parameter_name(17), "layer 1, neuron 0, weight 1");
}

#[test]
#[should_panic(expected = "the model has 26 parameters but 3 values were given")]
fn set_parameters_rejects_wrong_length() {
    Mlp::new(3, &[4, 2], 1).set_parameters(&[1.0, 2.0, 3.0]);
}

// Pins a bug: set_parameters took NaN, and only a later save refused the poisoned model.
#[test]
#[should_panic(expected = "Mlp::set_parameters: parameter 4 (layer 0, neuron 1, weight 1) is NaN")]
fn set_parameters_rejects_nan() {
    let mut m = Mlp::new(2, &[3, 1], 0);
    let mut p = m.parameters();
    p[4] = f64::NAN;
    m.set_parameters(&p);
}

#[test]
fn try_set_parameters_rejects_non_finite_values_and_keeps_the_model() {
    let mut m = Mlp::new(2, &[3, 1], 0);
    let before = m.clone();
    let n = m.num_parameters();
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        for i in [0, 2, n - 1] {
            let mut p: Vec<f64> = (0..n).map(|k| k as f64).collect();
            p[i] = bad;
            let err = m.try_set_parameters(&p).unwrap_err();
            let name = m.parameter_name(i);
            assert!(
                matches!(&err, ModelError::Corrupt(msg) if msg.contains(&format!("parameter {i} ({name}) is {bad}"))),
                "{err}"
            );
            assert_eq!(m, before);
        }
    }
    let err = m.try_set_parameters(&vec![0.0; n + 1]).unwrap_err();
    assert!(
        matches!(&err, ModelError::Mismatch(msg) if msg.contains("14 values")),
        "{err}"
    );
    assert_eq!(m, before);
    // Finite values, the extremes included, are taken as they are.
    let p: Vec<f64> = (0..n)
        .map(|k| if k % 2 == 0 { f64::MAX } else { -5e-324 })
        .collect();
    m.try_set_parameters(&p).unwrap();
    assert_eq!(bits(&m.parameters()), bits(&p));
}

#[test]
fn bind_is_contiguous_and_each_neuron_is_one_node() {
    let m = Mlp::new(2, &[16, 16, 1], 3);
    let tape = Tape::new();
    let p = m.bind(&tape);
    assert_eq!(p.len(), 337);
    assert!(p.iter().enumerate().all(|(i, v)| v.index() == i));
    assert_eq!(
        bits(&p.iter().map(|v| v.value()).collect::<Vec<_>>()),
        bits(&m.parameters())
    );
    let x = tape.vars(&[0.1, 0.2]);
    let before = tape.len();
    let out = m.forward(&tape, &p, &x);
    assert_eq!(out.len(), 1);
    // One neuron node, relu(Σ w·x + b), per hidden neuron; one affine node for the linear
    // output.
    assert_eq!(tape.len() - before, 16 + 16 + 1);
    // The same with tanh and sigmoid layers.
    let m = Mlp::builder(2, &[4, 3, 1])
        .activation(Activation::Tanh)
        .output_activation(Activation::Sigmoid)
        .build();
    let p = m.bind(&tape);
    let before = tape.len();
    let _ = m.forward(&tape, &p, &x);
    assert_eq!(tape.len() - before, 4 + 3 + 1);
}

#[test]
fn predict_equals_the_tape_forward_bit_for_bit() {
    use Activation::*;
    let mut g = Gen::new(11);
    let models = [
        Mlp::new(2, &[16, 16, 1], 1337),
        lecture_mlp(1),
        Mlp::builder(3, &[5, 4, 3])
            .layer_activations(&[Sigmoid, Identity, Tanh])
            .bias_init(BiasInit::Uniform)
            .seed(2)
            .build(),
    ];
    let mut tape = Tape::new();
    for m in &models {
        for round in 0..300 {
            let scale = [1.0, 10.0, 1e3, 1e-3][round % 4];
            let x = g.vec(m.nin(), -scale, scale);
            tape.clear();
            let p = m.bind(&tape);
            let xv = tape.vars(&x);
            let taped: Vec<f64> = m
                .forward(&tape, &p, &xv)
                .iter()
                .map(|v| v.value())
                .collect();
            assert_eq!(bits(&m.predict(&x)), bits(&taped), "{m} at {x:?}");
        }
    }
}

#[test]
fn forward_into_reuses_buffers() {
    let m = Mlp::new(2, &[8, 8, 2], 4);
    let tape = Tape::new();
    let p = m.bind(&tape);
    let (mut out, mut tmp) = (Vec::new(), Vec::new());
    for x in [[0.5, -0.5], [1.0, 2.0], [-3.0, 0.0]] {
        let xv = tape.vars(&x);
        m.forward_into(&tape, &p, &xv, &mut out, &mut tmp);
        let got: Vec<f64> = out.iter().map(|v| v.value()).collect();
        assert_eq!(bits(&got), bits(&m.predict(&x)));
    }
}

#[test]
fn from_layers_checks_shapes() {
    let n = |k: usize| Neuron::new(vec![0.5; k], 0.0, Activation::Relu);
    let ok = Mlp::from_layers(
        2,
        vec![
            Layer {
                neurons: vec![n(2), n(2)],
            },
            Layer {
                neurons: vec![n(2)],
            },
        ],
    );
    assert_eq!(ok.unwrap().sizes(), vec![2, 1]);

    let err = Mlp::from_layers(
        2,
        vec![
            Layer {
                neurons: vec![n(2), n(2)],
            },
            Layer {
                neurons: vec![n(3)],
            },
        ],
    )
    .unwrap_err();
    assert!(
        matches!(&err, ModelError::Mismatch(m) if m.contains("layer 1, neuron 0 has 3 weights")),
        "{err}"
    );
    let err = Mlp::from_layers(2, vec![Layer { neurons: vec![] }]).unwrap_err();
    assert!(err.to_string().contains("layer 0 has no neurons"), "{err}");
    let err = Mlp::from_layers(2, vec![]).unwrap_err();
    assert!(err.to_string().contains("no layers"), "{err}");
    let mut bad = n(2);
    bad.w[1] = f64::NAN;
    let err = Mlp::from_layers(
        2,
        vec![Layer {
            neurons: vec![n(2), bad],
        }],
    )
    .unwrap_err();
    assert!(
        matches!(&err, ModelError::Corrupt(m) if m.contains("layer 0, neuron 1, weight 1 is NaN")),
        "{err}"
    );
}

#[test]
fn check_shape_names_both_shapes() {
    let m = Mlp::new(2, &[16, 16, 1], 0);
    m.check_shape(2, &[16, 16, 1]).unwrap();
    let err = m.check_shape(2, &[8, 1]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "model mismatch: the model is 2-16-16-1 but 2-8-1 was expected"
    );
}

#[test]
fn activations_parse_and_display() {
    for a in Activation::ALL {
        assert_eq!(a.name().parse::<Activation>(), Ok(a));
        assert_eq!(a.to_string().parse::<Activation>(), Ok(a));
    }
    assert!("swish".parse::<Activation>().is_err());
    assert_eq!("UNIFORM".parse::<BiasInit>(), Ok(BiasInit::Uniform));
    // NaN passes through relu as in the engine (f64::max would give 0).
    assert!(Activation::Relu.apply(f64::NAN).is_nan());
    assert_eq!(Activation::Sigmoid.apply(-1000.0), 0.0);
    assert_eq!(Activation::Tanh.apply(1000.0), 1.0);
}
