//! Graphviz DOT export, drawn the way micrograd's `draw_dot` draws.

use std::fmt::Write;

use crate::arena::{Refused, Tape, foreign_var};
use crate::grads::Grads;
use crate::number::Number;
use crate::op::Op;

/// Escapes text for a field of a DOT record label, so any string gives DOT that Graphviz
/// reads: record syntax characters get a backslash, and control characters (NUL included,
/// which would end the text for Graphviz) are written out as `\uXXXX`.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            let _ = write!(out, "\\\\u{:04x}", u32::from(c));
            continue;
        }
        if matches!(c, '\\' | '"' | '{' | '}' | '|' | '<' | '>') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Four decimals, as micrograd draws them, or four significant decimals with an exponent where
/// fixed notation would print hundreds of digits or only zeros.
/// A node's number: one, or a lane tape's lanes in brackets.
fn numbers<T: Number>(v: T) -> String {
    if T::LANES == 1 {
        return number(v.lane(0));
    }
    let lanes: Vec<String> = (0..T::LANES).map(|l| number(v.lane(l))).collect();
    format!("[{}]", lanes.join(", "))
}

fn number(v: f64) -> String {
    if v == 0.0 || !v.is_finite() || (1e-4..1e6).contains(&v.abs()) {
        format!("{v:.4}")
    } else {
        format!("{v:.4e}")
    }
}

pub(crate) fn to_dot<T: Number>(tape: &Tape<T>, root: u32, grads: Option<&Grads<'_, T>>) -> String {
    if let Some(g) = grads
        && !std::ptr::eq(g.tape(), tape)
    {
        foreign_var("Var::to_dot");
    }
    let seen = tape.reachable(root);
    let mut labels = vec![None; root as usize + 1];
    tape.with(|t| {
        for (id, label) in t.labels_upto(root) {
            labels[id as usize] = Some(escape(label));
        }
    });
    let mut out =
        String::from("digraph tapegrad {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n");
    let mut operands = Vec::new();
    for (i, _) in seen.iter().enumerate().filter(|(_, s)| **s) {
        let id = i as u32;
        let label = labels[i].as_deref().unwrap_or_default();
        let node = tape.with(|t| {
            let op = t.op(id)?;
            operands.clear();
            op.for_each_operand(t.operands(), |p| {
                if !operands.contains(&p) {
                    operands.push(p);
                }
            });
            Some(((!matches!(op, Op::Leaf)).then_some(op), t.value(id)?))
        });
        let (op, value) = node.unwrap_or_else(|| Refused::BadOperand.panic());
        let grad = grads.map_or(String::new(), |g| {
            let gi = g.as_slice().get(i).copied().unwrap_or_default();
            format!(" | grad {}", numbers(gi))
        });
        let _ = writeln!(
            out,
            "  n{i} [shape=record, label=\"{{ {label} | data {}{grad} }}\"];",
            numbers(value)
        );
        if let Some(op) = op {
            let _ = writeln!(out, "  n{i}op [label=\"{}\"];", escape(&op.describe()));
            let _ = writeln!(out, "  n{i}op -> n{i};");
            for p in &operands {
                let _ = writeln!(out, "  n{p} -> n{i}op;");
            }
        }
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn numbers_stay_short_at_any_magnitude() {
        use super::number;
        assert_eq!(number(1.1), "1.1000");
        assert_eq!(number(-0.0), "-0.0000");
        assert_eq!(number(1e308), "1.0000e308");
        assert_eq!(number(-2.5e-7), "-2.5000e-7");
        assert_eq!(number(f64::NEG_INFINITY), "-inf");
        assert_eq!(number(f64::NAN), "NaN");
    }

    #[test]
    fn escape_writes_control_characters_out() {
        assert_eq!(escape("a\0b"), "a\\\\u0000b");
        assert_eq!(escape("x|y\n"), "x\\|y\\\\u000a");
        assert_eq!(escape("{<\">}"), "\\{\\<\\\"\\>\\}");
    }
}
