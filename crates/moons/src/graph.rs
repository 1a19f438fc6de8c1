//! One neuron's expression graph, micrograd's `draw_dot` picture: DOT text from
//! [`tapegrad::Var::to_dot`] and an SVG rendering of it made with `layout-rs` (pure Rust, so no
//! Graphviz installation is needed).

use std::panic::{AssertUnwindSafe, catch_unwind};

use layout::gv::{DotParser, GraphBuilder};
use mlp::{Activation, Mlp, Neuron};
use tapegrad::{Tape, Var};

mod render;

/// Which neuron [`model_neuron_dot`] drew, and on what input.
#[derive(Debug, Clone, PartialEq)]
pub struct NeuronGraph {
    /// The DOT text (`digraph`, one `record` per value: label | data | grad).
    pub dot: String,
    /// Index of the neuron in the first layer.
    pub neuron: usize,
    /// The neuron's output on the input.
    pub output: f64,
}

/// The expression of one neuron on input `x`, written with binary operations the way the
/// lecture writes it (`x1*w1`, `x2*w2`, their sum, `+ b`, then the activation), with every
/// value labeled, differentiated from the output, as DOT text with data and grads.
///
/// ```
/// use mlp::{Activation, Neuron};
///
/// // The lecture's neuron: x1 = 2, x2 = 0, w1 = -3, w2 = 1, b = 6.8813735870195432, tanh.
/// let n = Neuron { w: vec![-3.0, 1.0], b: 6.8813735870195432, activation: Activation::Tanh };
/// let (dot, o) = moons::graph::neuron_dot(&n, &[2.0, 0.0]);
/// assert!((o - 0.7071).abs() < 1e-4);
/// assert!(dot.starts_with("digraph"));
/// assert!(dot.contains("{ w1 | data -3.0000 | grad 1.0000 }"));
/// assert!(dot.contains("{ x1 | data 2.0000 | grad -1.5000 }"));
/// ```
pub fn neuron_dot(neuron: &Neuron, x: &[f64]) -> (String, f64) {
    let tape = Tape::new();
    let o = neuron_expression(&tape, neuron, x);
    let grads = o.backward();
    (o.to_dot(Some(&grads)), o.value())
}

fn neuron_expression<'t>(tape: &'t Tape, neuron: &Neuron, x: &[f64]) -> Var<'t> {
    let mut acc: Option<Var<'t>> = None;
    let mut acc_label = String::new();
    for (i, (&xi, &wi)) in x.iter().zip(&neuron.w).enumerate() {
        let k = i + 1;
        let xv = tape.var(xi).with_label(&format!("x{k}"));
        let wv = tape.var(wi).with_label(&format!("w{k}"));
        let term_label = format!("x{k}*w{k}");
        let term = (xv * wv).with_label(&term_label);
        acc = Some(match acc {
            None => {
                acc_label = term_label;
                term
            }
            Some(a) => {
                acc_label = format!("{acc_label} + {term_label}");
                (a + term).with_label(&acc_label)
            }
        });
    }
    let b = tape.var(neuron.b).with_label("b");
    let n = match acc {
        Some(a) => (a + b).with_label("n"),
        None => b,
    };
    match neuron.activation {
        Activation::Relu => n.relu().with_label("o"),
        Activation::Tanh => n.tanh().with_label("o"),
        Activation::Sigmoid => n.sigmoid().with_label("o"),
        Activation::Identity => n,
    }
}

/// [`neuron_dot`] for a neuron of `model`'s first layer on input `x`: the first neuron that
/// is active there (positive pre-activation, so the gradients are not all zero), or neuron 0
/// when none is.
///
/// ```
/// let model = mlp::Mlp::new(2, &[16, 16, 1], 1337);
/// let g = moons::graph::model_neuron_dot(&model, &[0.5, -0.25]);
/// assert!(g.dot.contains("x1*w1 + x2*w2"));
/// assert!(g.neuron < 16);
/// ```
pub fn model_neuron_dot(model: &Mlp, x: &[f64]) -> NeuronGraph {
    let neurons: &[Neuron] = model
        .layers()
        .first()
        .map_or(&[], |layer| &layer.neurons[..]);
    let pre_activation = |n: &Neuron| n.w.iter().zip(x).map(|(w, x)| w * x).sum::<f64>() + n.b;
    let index = neurons
        .iter()
        .position(|n| pre_activation(n) > 0.0)
        .unwrap_or(0);
    match neurons.get(index) {
        Some(neuron) => {
            let (dot, output) = neuron_dot(neuron, x);
            NeuronGraph {
                dot,
                neuron: index,
                output,
            }
        }
        None => NeuronGraph {
            dot: "digraph tapegrad {\n}\n".to_string(),
            neuron: 0,
            output: 0.0,
        },
    }
}

/// Lays out DOT text with `layout-rs` (no Graphviz) and renders it as an SVG document sized
/// to what it draws, with the text in the DOT's `fontname` and `fontsize` (Graphviz's
/// Times-Roman 14 when it names none) and the boxes sized for that font. Edges leave a box
/// from the middle of the side facing the flow (the right side with `rankdir=LR`) and enter
/// the next one on the opposite side.
///
/// Returns the parser's message for text that is not DOT. A layout failure inside
/// `layout-rs` (it asserts on inputs it does not support) is caught and returned as an error
/// too.
///
/// ```
/// let svg = moons::graph::dot_to_svg(
///     "digraph { rankdir=LR; node [fontname=\"Helvetica\"]; a [shape=record, label=\"{ a | data 1.0 }\"]; a -> b; }",
/// ).unwrap();
/// assert!(svg.starts_with("<svg") && svg.contains("Helvetica"));
/// assert!(moons::graph::dot_to_svg("digraph { a -> ; }").is_err());
/// ```
pub fn dot_to_svg(dot: &str) -> Result<String, String> {
    let mut parser = DotParser::new(dot);
    let mut graph = parser.process().map_err(|e| format!("invalid DOT: {e}"))?;
    let settings = render::Settings::adapt(&mut graph);
    catch_unwind(AssertUnwindSafe(|| {
        let mut builder = GraphBuilder::new();
        builder.visit_graph(&graph);
        let mut visual = builder.get();
        let mut canvas = render::Canvas::new(settings);
        visual.do_it(false, false, false, &mut canvas);
        canvas.finish()
    }))
    .map_err(|panic| {
        let why = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown reason".to_string());
        format!("layout-rs could not lay out the graph: {why}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lecture_neuron_has_the_lectures_gradients() {
        let n = Neuron {
            w: vec![-3.0, 1.0],
            b: 6.881_373_587_019_543,
            activation: Activation::Tanh,
        };
        let (dot, o) = neuron_dot(&n, &[2.0, 0.0]);
        assert!((o - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-12);
        for record in [
            "{ x1 | data 2.0000 | grad -1.5000 }",
            "{ w1 | data -3.0000 | grad 1.0000 }",
            "{ x2 | data 0.0000 | grad 0.5000 }",
            "{ w2 | data 1.0000 | grad 0.0000 }",
            "{ b | data 6.8814 | grad 0.5000 }",
            "{ n | data 0.8814 | grad 0.5000 }",
            "{ o | data 0.7071 | grad 1.0000 }",
        ] {
            assert!(dot.contains(record), "missing {record} in\n{dot}");
        }
        // 5 leaves + 2 products + 2 sums + tanh = 10 records; 5 operation nodes.
        assert_eq!(dot.matches("shape=record").count(), 10);
        assert_eq!(dot.matches("op [label=").count(), 5);
    }

    #[test]
    fn rendered_graph_has_a_box_per_record() {
        let n = Neuron {
            w: vec![0.5, -0.5],
            b: 0.1,
            activation: Activation::Relu,
        };
        let (dot, _) = neuron_dot(&n, &[1.0, 2.0]);
        let svg = dot_to_svg(&dot).unwrap();
        assert!(svg.contains("<svg"));
        assert!(svg.contains("x1*w1 + x2*w2"));
        assert!(svg.contains("relu"));
    }

    #[test]
    fn invalid_dot_is_an_error_not_a_panic() {
        assert!(dot_to_svg("this is not dot").is_err());
        assert!(dot_to_svg("digraph { a -> ; }").is_err());
    }
}
