//! # 05: drawing the expression graph
//!
//! micrograd's `draw_dot` turns a `Value` graph into a Graphviz picture: one box per value
//! showing its label, data and grad, and one small node per operation, flowing left to right.
//! [`tapegrad::Var::to_dot`] writes the same picture as DOT text. Pass the gradients from
//! `backward()` to fill in the grad column, or `None` to draw values only.
//!
//! This example builds the lecture's neuron (`o = tanh(x1·w1 + x2·w2 + b)`), backpropagates,
//! and writes the DOT text to stdout, or to a file when given a path:
//!
//! ```text
//! cargo run --example 05_draw_graph                 # DOT on stdout
//! cargo run --example 05_draw_graph -- neuron.dot   # DOT into neuron.dot
//! ```
//!
//! To turn DOT into a picture:
//!
//! - without installing anything: the `moons` app renders its neuron graph with the pure-Rust
//!   `layout-rs` crate (`cargo run --release -p moons` writes `out/graph.dot` and
//!   `out/graph.svg`); its library exposes the renderer as `moons::graph::dot_to_svg`;
//! - with Graphviz installed: `dot -Tsvg neuron.dot -o neuron.svg`.

use std::io::Write;
use std::process::ExitCode;

use tapegrad::Tape;

/// The neuron's graph in DOT, after backward.
fn neuron_dot() -> String {
    let tape = Tape::new();
    let x1 = tape.var(2.0).with_label("x1");
    let x2 = tape.var(0.0).with_label("x2");
    let w1 = tape.var(-3.0).with_label("w1");
    let w2 = tape.var(1.0).with_label("w2");
    let b = tape.var(6.881_373_587_019_543).with_label("b");
    let x1w1 = (x1 * w1).with_label("x1*w1");
    let x2w2 = (x2 * w2).with_label("x2*w2");
    let sum = (x1w1 + x2w2).with_label("x1*w1 + x2*w2");
    let n = (sum + b).with_label("n");
    let o = n.tanh().with_label("o");

    let grads = o.backward();
    let dot = o.to_dot(Some(&grads));
    // The records carry data and grad, e.g. `{ w1 | data -3.0000 | grad 1.0000 }`.
    assert!(dot.contains("{ w1 | data -3.0000 | grad 1.0000 }"));
    dot
}

#[cfg_attr(test, allow(dead_code))]
fn main() -> ExitCode {
    let dot = neuron_dot();

    match std::env::args_os().nth(1) {
        Some(path) => {
            if let Err(e) = std::fs::write(&path, &dot) {
                eprintln!("cannot write {}: {e}", path.to_string_lossy());
                return ExitCode::FAILURE;
            }
            eprintln!(
                "wrote {} ({} values, {} operations); render it with `dot -Tsvg {} -o graph.svg`, \
                 or see the moons app for a renderer that needs no Graphviz",
                path.to_string_lossy(),
                dot.matches("shape=record").count(),
                dot.matches("op [label=").count(),
                path.to_string_lossy()
            );
        }
        None => {
            let _ = std::io::stdout().lock().write_all(dot.as_bytes());
        }
    }
    ExitCode::SUCCESS
}

// `cargo test` builds the graph too (`test = true` in Cargo.toml), so its assertion holds.
#[test]
fn draws() {
    let dot = neuron_dot();
    assert_eq!(dot.matches("shape=record").count(), 10);
}
