//! The whole of a small MLP's gradient against central differences (`tapegrad::check`), and the
//! trainer's gradient against the same recording.

use mlp::{Activation, Dataset, Loss, Mlp, Optimizer, Schedule, TrainConfig, Trainer, datasets};
use tapegrad::{Tape, Var, check};

use crate::common::{bits, lecture_mlp};

/// The training objective recorded the way the trainer records it: every sample's forward
/// pass, then the loss over the scores, then the L2 term.
fn objective<'t>(
    model: &Mlp,
    data: &Dataset,
    loss: Loss,
    l2: f64,
    tape: &'t Tape,
    p: &[Var<'t>],
) -> Var<'t> {
    let scores: Vec<Var<'t>> = data
        .inputs
        .iter()
        .map(|x| model.forward(tape, p, &tape.vars(x))[0])
        .collect();
    let mut total = loss.record(tape, &scores, &data.labels);
    if l2 != 0.0 {
        total += mlp::loss::l2(tape, p, l2);
    }
    total
}

fn check_model(model: &Mlp, data: &Dataset, loss: Loss, l2: f64) {
    let report = check::gradient(
        |tape, p| objective(model, data, loss, l2, tape, p),
        &model.parameters(),
    );
    assert_eq!(report.analytic.len(), model.num_parameters());
    assert!(report.passed(), "{loss:?} on {model}: {report}");
    // Some gradient is not zero, or the check would prove little.
    assert!(report.analytic.iter().filter(|g| g.abs() > 1e-6).count() > model.num_parameters() / 2);

    // The trainer records the same graph: the same loss and gradient, bit for bit.
    let config = TrainConfig {
        loss,
        l2,
        ..TrainConfig::micrograd_demo()
    };
    let (value, grad) = Trainer::new(config).loss_and_gradient(model, data).unwrap();
    assert_eq!(value.to_bits(), report.value.to_bits());
    assert_eq!(bits(&grad), bits(&report.analytic));
}

#[test]
fn lecture_mlp_sum_squared() {
    check_model(
        &lecture_mlp(3),
        &datasets::lecture_toy(),
        Loss::SumSquared,
        0.0,
    );
}

#[test]
fn micrograd_relu_mlp_max_margin_with_l2() {
    let data = datasets::two_moons(12, 0.1, 4);
    check_model(&Mlp::new(2, &[8, 8, 1], 4), &data, Loss::MaxMargin, 1e-4);
}

#[test]
fn relu_mlp_after_some_training() {
    // Trained parameters give a less uniform ReLU pattern than the initial ones.
    let data = datasets::two_moons(12, 0.1, 8);
    let mut model = Mlp::new(2, &[8, 8, 1], 8);
    let config = TrainConfig {
        steps: 10,
        ..TrainConfig::micrograd_demo()
    };
    Trainer::new(config)
        .train(&mut model, &data, |_| {})
        .unwrap();
    check_model(&model, &data, Loss::MaxMargin, 1e-4);
}

#[test]
fn sigmoid_hidden_logistic_loss() {
    let data = datasets::two_moons(10, 0.2, 5);
    let model = Mlp::builder(2, &[5, 4, 1])
        .activation(Activation::Sigmoid)
        .output_activation(Activation::Tanh)
        .bias_init(mlp::BiasInit::Uniform)
        .seed(5)
        .build();
    check_model(&model, &data, Loss::Logistic, 1e-3);
}

#[test]
fn mixed_layers_mean_squared() {
    use Activation::*;
    let data = datasets::lecture_toy();
    let model = Mlp::builder(3, &[4, 3, 2, 1])
        .layer_activations(&[Tanh, Identity, Sigmoid, Identity])
        .bias_init(mlp::BiasInit::Uniform)
        .seed(6)
        .build();
    check_model(&model, &data, Loss::MeanSquared, 0.0);
}

/// With SGD at rate 1 the update is exactly p − g, so the step applies the gradient the
/// trainer reports, in parameter order.
#[test]
fn sgd_step_applies_the_gradient() {
    let data = datasets::lecture_toy();
    let mut model = lecture_mlp(9);
    let config = TrainConfig {
        loss: Loss::SumSquared,
        l2: 0.0,
        optimizer: Optimizer::Sgd {
            schedule: Schedule::Constant(0.5),
        },
        ..TrainConfig::micrograd_demo()
    };
    let mut trainer = Trainer::new(config);
    let before = model.parameters();
    let (loss, grad) = trainer.loss_and_gradient(&model, &data).unwrap();
    let report = trainer.step(&mut model, &data).unwrap();
    assert_eq!(report.loss.to_bits(), loss.to_bits());
    let expected: Vec<f64> = before.iter().zip(&grad).map(|(p, g)| p - 0.5 * g).collect();
    assert_eq!(bits(&model.parameters()), bits(&expected));
}
