//! Graphviz DOT export, drawn the way micrograd's `draw_dot` draws.

use std::fmt::Write;

use crate::grads::Grads;
use crate::tape::{Tape, for_each_operand};

/// Escapes text for a field of a DOT record label.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '"' | '{' | '}' | '|' | '<' | '>') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub(crate) fn to_dot(tape: &Tape, root: u32, grads: Option<&Grads<'_>>) -> String {
    let seen = tape.reachable(root);
    let labels = tape.labels_upto(root);
    let mut out =
        String::from("digraph tapegrad {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n");
    let mut operands = Vec::new();
    for (i, _) in seen.iter().enumerate().filter(|(_, s)| **s) {
        let id = i as u32;
        let label = labels[i].as_deref().map(escape).unwrap_or_default();
        let (op_name, value) = tape.inspect(id, |op, list, value| {
            operands.clear();
            for_each_operand(op, list, |p| {
                if !operands.contains(&p) {
                    operands.push(p);
                }
            });
            (
                (!matches!(op, crate::op::Op::Leaf)).then(|| escape(&op.describe())),
                value,
            )
        });
        let grad = grads.map_or(String::new(), |g| {
            format!(" | grad {:.4}", g.as_slice().get(i).copied().unwrap_or(0.0))
        });
        let _ = writeln!(
            out,
            "  n{i} [shape=record, label=\"{{ {label} | data {value:.4}{grad} }}\"];"
        );
        if let Some(op_name) = op_name {
            let _ = writeln!(out, "  n{i}op [label=\"{op_name}\"];");
            let _ = writeln!(out, "  n{i}op -> n{i};");
            for p in &operands {
                let _ = writeln!(out, "  n{p} -> n{i}op;");
            }
        }
    }
    out.push_str("}\n");
    out
}
