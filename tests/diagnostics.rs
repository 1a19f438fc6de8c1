//! Diagnostics: anomaly detection (`backward_checked`), the gradient checker, and DOT export.

use tapegrad::check::{self, Config};
use tapegrad::{Activation, AnomalyKind, Tape, Var};

use crate::util::{ACTIVATIONS, activate, bitwise_eq};

/// The op name `describe` gives a neuron node: "relu(dot + b)" and so on.
fn neuron_op(act: Activation) -> &'static str {
    match act {
        Activation::Relu => "relu(dot + b)",
        Activation::Tanh => "tanh(dot + b)",
        Activation::Sigmoid => "sigmoid(dot + b)",
        Activation::Identity => "dot + b",
    }
}

// ---------------------------------------------------------------------------------------------
// Anomaly detection.

#[test]
fn anomaly_names_the_first_non_finite_value_in_recording_order() {
    let mut tape = Tape::new();
    tape.set_detect_anomaly(true);
    assert!(tape.detects_anomaly());
    let tape = tape;
    let _unused = tape.var(f64::NAN); // not something y depends on: never reported
    let x = tape.var(-1.0).with_label("x");
    let (bad, line) = (x.ln().with_label("log x"), line!());
    let twice = (bad * 2.0).with_label("twice"); // NaN too, but later
    let y = twice + x;
    let err = y.backward_checked().unwrap_err();
    assert!(matches!(err.kind, AnomalyKind::Value { value } if value.is_nan()));
    assert_eq!(err.node.id, bad.index());
    assert_eq!(err.node.op, "ln");
    assert_eq!(err.node.label.as_deref(), Some("log x"));
    let at = err.node.location.expect("a location while detection is on");
    assert_eq!((at.file(), at.line()), (file!(), line));
    let msg = err.to_string();
    for part in ["ln", "log x", file!(), &format!(":{line}:")] {
        assert!(msg.contains(part), "{part:?} missing from {msg:?}");
    }
    assert!(!msg.contains("set_detect_anomaly"), "{msg}");
    // The plain backward still returns what IEEE gives: here finite, since NaN values are
    // not factors of this gradient: dy/dx = 1 + 2·(1/x) = −1.
    assert_eq!(y.backward()[x], -1.0);
}

#[test]
fn anomaly_locations_of_every_recording_form() {
    // Each way of recording a node reports the line that recorded it (operators and
    // compound assignment included).
    let mut tape = Tape::new();
    tape.set_detect_anomaly(true);
    let tape = tape;
    let big = tape.var(1e200);
    let zero = tape.var(0.0);
    let ten = [big; 10];
    let r200 = tape.run(&[1e200]);
    let wb = tape.run(&[1e200, 0.0]);
    let mut c = zero;
    let compound_line = line!() + 1;
    c /= zero;
    let cases: Vec<(Var, u32)> = vec![
        (big * big, line!()),
        (1.0 / zero, line!()),
        (zero.recip(), line!()),
        (big * 1e200, line!()),
        (tape.sum(ten) * 1e108, line!()),
        (tape.dot(&[big, big], &[big, big]), line!()),
        (tape.vars(&[f64::INFINITY])[0], line!()),
        (tape.var(f64::NAN), line!()),
        (tape.run(&[f64::NAN]).get(0), line!()),
        (tape.dot_run(r200, r200), line!()),
        (tape.affine(wb, r200), line!()),
        (tape.neuron(wb, r200, Activation::Relu), line!()),
        (c, compound_line),
    ];
    for (k, (v, line)) in cases.into_iter().enumerate() {
        let err = (v * 1.0).backward_checked().unwrap_err();
        assert!(matches!(err.kind, AnomalyKind::Value { .. }), "case {k}");
        let at = err.node.location.unwrap();
        assert_eq!((at.file(), at.line()), (file!(), line), "case {k}: {err}");
    }
}

#[test]
fn anomaly_names_an_infinite_local_derivative() {
    // Every value is finite (√0 = 0), but d√z/dz at 0 is +inf: a Gradient anomaly naming the
    // sqrt node and its operand z.
    let mut tape = Tape::new();
    tape.set_detect_anomaly(true);
    let tape = tape;
    let z = tape.var(0.0).with_label("z");
    let (s, line) = (z.sqrt().with_label("sqrt z"), line!());
    let y = s * 3.0 + 1.0;
    let err = y.backward_checked().unwrap_err();
    match err.kind {
        AnomalyKind::Gradient { operand, gradient } => {
            assert_eq!(operand, z.index());
            assert_eq!(gradient, f64::INFINITY);
        }
        other => panic!("expected a gradient anomaly, got {other:?}"),
    }
    assert_eq!(err.node.id, s.index());
    assert_eq!(err.node.op, "sqrt");
    assert_eq!(err.node.label.as_deref(), Some("sqrt z"));
    assert_eq!(err.node.location.unwrap().line(), line);
    let msg = err.to_string();
    assert!(msg.contains("gradient") && msg.contains("sqrt"), "{msg}");
    assert!(msg.contains(&format!("#{}", z.index())), "{msg}");
}

#[test]
fn anomaly_finds_a_gradient_that_overflows_with_finite_factors() {
    // x = 1e-300, a = x·1e200 = 1e-100, b = a·1e200 = 1e100: every value and every local
    // derivative is finite, but db/dx = 1e400 overflows, at node a (operand x).
    let tape = Tape::new();
    let x = tape.var(1e-300);
    let a = x * 1e200;
    let b = a * 1e200;
    assert_eq!(b.backward()[x], f64::INFINITY);
    let err = b.backward_checked().unwrap_err();
    assert_eq!(err.node.id, a.index());
    assert!(err.node.op.starts_with("* 1"), "{}", err.node.op);
    assert!(matches!(
        err.kind,
        AnomalyKind::Gradient { operand: 0, gradient } if gradient == f64::INFINITY
    ));
}

#[test]
fn anomaly_in_a_neuron_names_the_fused_node() {
    // w = [1e200, 1e200], x = [1e200, −1e200]: the products overflow to inf and −inf, their sum
    // is NaN, and so is every activation of it. The operands are finite, so the first
    // non-finite value is the neuron's own: a Value anomaly naming the fused node, its op
    // "act(dot + b)", its label and the line that recorded it.
    for act in ACTIVATIONS {
        let mut tape = Tape::new();
        tape.set_detect_anomaly(true);
        let tape = tape;
        let wb = tape.run(&[1e200, 1e200, 0.5]);
        let x = tape.run(&[1e200, -1e200]);
        let (h, line) = (tape.neuron(wb, x, act).with_label("h"), line!());
        let y = h * 2.0 + 1.0;
        let err = y.backward_checked().unwrap_err();
        assert!(
            matches!(err.kind, AnomalyKind::Value { value } if value.is_nan()),
            "{act:?}: {err}"
        );
        assert_eq!(err.node.id, h.index(), "{act:?}");
        assert_eq!(err.node.op, neuron_op(act));
        assert_eq!(err.node.label.as_deref(), Some("h"));
        let at = err.node.location.expect("a location while detection is on");
        assert_eq!((at.file(), at.line()), (file!(), line), "{act:?}");
        let msg = err.to_string();
        for part in [neuron_op(act), "\"h\"", file!(), &format!(":{line}:")] {
            assert!(msg.contains(part), "{part:?} missing from {msg:?}");
        }

        // The composite records the pre-activation as a node: that is what it reports, as
        // "dot + b" (the one documented difference).
        let z = tape.affine(wb, x);
        let err = activate(z, act).backward_checked().unwrap_err();
        assert_eq!((err.node.id, err.node.op.as_str()), (z.index(), "dot + b"));
    }
}

#[test]
fn anomaly_in_a_neuron_names_an_overflowing_operand_gradient() {
    // w = 1e300, b = 0, x = 1e-300: z ≈ 1, every value is finite. y = h·1e10 gives the neuron
    // an upstream gradient of 1e10 and g_z = 1e10·act'(z) ≥ 1e9 for all three activations, so
    // d/dx = g_z·w overflows to inf while d/dw = g_z·x ≈ 1e-290 does not: a Gradient anomaly at
    // the neuron node, naming its operand x.
    for act in ACTIVATIONS {
        let mut tape = Tape::new();
        tape.set_detect_anomaly(true);
        let tape = tape;
        let wb = tape.run(&[1e300, 0.0]);
        let x = tape.run(&[1e-300]);
        let (h, line) = (tape.neuron(wb, x, act), line!());
        let y = h * 1e10;
        assert!(y.value().is_finite() && h.value() > 0.5);
        let err = y.backward_checked().unwrap_err();
        assert_eq!(
            err.kind,
            AnomalyKind::Gradient {
                operand: x.get(0).index(),
                gradient: f64::INFINITY
            },
            "{act:?}"
        );
        assert_eq!(
            (err.node.id, err.node.op.as_str()),
            (h.index(), neuron_op(act))
        );
        assert_eq!(err.node.location.unwrap().line(), line);
        let msg = err.to_string();
        assert!(
            msg.contains(neuron_op(act)) && msg.contains("gradient"),
            "{msg}"
        );
        // The plain backward agrees: d/dx = inf, d/dw finite.
        let g = y.backward();
        assert_eq!(g[x.get(0)], f64::INFINITY);
        assert!(g[wb.get(0)].is_finite());
    }
}

#[test]
fn a_neuron_hides_a_non_finite_pre_activation_from_anomaly_detection() {
    // The documented difference from affine + act: the pre-activation is not a node. With
    // w = ±1e200, b = 0, x = 1e200 it overflows to ±inf, and tanh, sigmoid and relu squash
    // that to a finite value (tanh ±1, sigmoid 1 or 0, relu(−inf) = 0) with a zero slope, so
    // the neuron's checked backward succeeds (gradients 0, as the plain backward gives),
    // while the composite reports its "dot + b" node's infinite value.
    for (act, w) in [
        (Activation::Tanh, 1e200),
        (Activation::Tanh, -1e200),
        (Activation::Sigmoid, 1e200),
        (Activation::Sigmoid, -1e200),
        (Activation::Relu, -1e200),
    ] {
        let mut tape = Tape::new();
        tape.set_detect_anomaly(true);
        let tape = tape;
        let wb = tape.run(&[w, 0.0]);
        let x = tape.run(&[1e200]);
        let h = tape.neuron(wb, x, act);
        let g = h
            .backward_checked()
            .expect("every value and gradient is finite");
        assert_eq!(g.wrt_run(wb), vec![0.0, 0.0], "{act:?}, w = {w:e}");
        assert_eq!(g.wrt_run(x), vec![0.0], "{act:?}, w = {w:e}");
        assert!(bitwise_eq(g.as_slice(), h.backward().as_slice()));

        let (z, line) = (tape.affine(wb, x), line!());
        let err = activate(z, act).backward_checked().unwrap_err();
        let inf = if w > 0.0 {
            f64::INFINITY
        } else {
            f64::NEG_INFINITY
        };
        assert_eq!(err.kind, AnomalyKind::Value { value: inf }, "{act:?}");
        assert_eq!((err.node.id, err.node.op.as_str()), (z.index(), "dot + b"));
        assert_eq!(err.node.location.unwrap().line(), line);
    }
}

/// A NaN or infinity born in the recorded backward of `Var::grad` is reported with the op
/// that made it and the line that called `grad`.
#[test]
fn anomaly_in_a_recorded_gradient_names_the_op_and_the_grad_call() {
    let mut tape = Tape::new();
    tape.set_detect_anomaly(true);
    let tape = tape;
    let x = tape.var(0.0);
    let y = x.sqrt() * 3.0;
    let line = line!() + 1;
    let dy = y.grad(&[x])[0];
    assert_eq!(dy.value(), f64::INFINITY);
    let err = (dy * dy).backward_checked().unwrap_err();
    let AnomalyKind::Value { value } = err.kind else {
        panic!("expected a non-finite value, got {err}");
    };
    assert_eq!(value, f64::INFINITY);
    // sqrt's derivative is g / (2y): the division by 2·0 makes the infinity.
    assert_eq!(err.node.op, "/");
    let location = err.node.location.expect("detection was on");
    assert_eq!((location.file(), location.line()), (file!(), line), "{err}");
}

#[test]
fn anomaly_without_detection_has_no_location() {
    let tape = Tape::new();
    assert!(!tape.detects_anomaly());
    let x = tape.var(0.0).with_label("x");
    let y = (x / x).with_label("ratio");
    let err = y.backward_checked().unwrap_err();
    assert_eq!(err.node.id, y.index());
    assert_eq!(err.node.op, "/");
    assert_eq!(err.node.label.as_deref(), Some("ratio"));
    assert_eq!(err.node.location, None);
    assert!(err.to_string().contains("set_detect_anomaly"), "{err}");
}

#[test]
fn anomaly_detection_survives_clear_and_toggling() {
    let mut tape = Tape::new();
    tape.set_detect_anomaly(true);
    for _ in 0..3 {
        {
            let (v, line) = (tape.var(-1.0).sqrt(), line!());
            let err = v.backward_checked().unwrap_err();
            assert_eq!(err.node.id, 1);
            assert_eq!(err.node.location.unwrap().line(), line);
        }
        tape.clear();
    }
    {
        let _ = tape.vars(&[1.0, 2.0]);
    }
    tape.set_detect_anomaly(false);
    {
        let _ = tape.var(3.0);
    }
    tape.set_detect_anomaly(true);
    let (v, line) = (tape.var(0.0).ln(), line!());
    let err = v.backward_checked().unwrap_err();
    assert_eq!(err.node.id, 4);
    assert_eq!(err.node.location.unwrap().line(), line);
}

#[test]
fn checked_backward_of_a_finite_graph_is_the_plain_backward() {
    for detect in [false, true] {
        let mut tape = Tape::new();
        tape.set_detect_anomaly(detect);
        let tape = tape;
        let x = tape.vars(&[0.5, -1.5, 2.0]);
        let _unreachable = tape.var(f64::NAN).sqrt();
        let h = tape.dot(&x, &x).sqrt();
        let y = (h * x[0]).tanh() + x[1].exp() / (x[2] + 1.0) + x[2].relu().ln();
        let checked = y.backward_checked().expect("finite graph");
        let plain = y.backward();
        assert!(bitwise_eq(checked.as_slice(), plain.as_slice()));
        assert!(
            checked
                .wrt_all(&x)
                .iter()
                .all(|g| g.is_finite() && *g != 0.0)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The gradient checker.

#[test]
fn checker_passes_a_smooth_function() {
    // f(x, y) = x·eʸ + ln x at (1.5, −0.5): df/dx = eʸ + 1/x, df/dy = x·eʸ.
    let r = check::gradient(|_, v| v[0] * v[1].exp() + v[0].ln(), &[1.5, -0.5]);
    assert!(r.passed(), "{r}");
    r.assert();
    let ey = f64::exp(-0.5);
    assert!((r.value - (1.5 * ey + f64::ln(1.5))).abs() < 1e-15);
    assert!((r.analytic[0] - (ey + 1.0 / 1.5)).abs() < 1e-15);
    assert!((r.analytic[1] - 1.5 * ey).abs() < 1e-15);
    assert!(r.worst_error <= 1e-8, "{r}");
    assert_eq!(r.numeric.len(), 2);
    assert_eq!(r.tolerance, 1e-5);
    assert_eq!(
        Config::default(),
        Config {
            relative_step: 1e-6,
            tolerance: 1e-5
        }
    );
}

#[test]
fn checker_catches_a_kink() {
    // relu at 0: backward says 0, central differences say (h − 0)/(2h) = 1/2.
    let r = check::gradient(|_, v| v[1] * v[1] + v[0].relu(), &[0.0, 3.0]);
    assert!(!r.passed());
    assert_eq!(r.worst, 0);
    assert_eq!(r.analytic[0], 0.0);
    assert!((r.numeric[0] - 0.5).abs() < 1e-8);
    assert!((r.worst_error - 0.5 / 1.5).abs() < 1e-8);
    assert!(r.to_string().contains("worst component 0"), "{r}");
}

#[test]
#[should_panic(expected = "gradient check failed")]
fn checker_assert_panics_on_failure() {
    check::gradient(|_, v| v[0].abs(), &[1e-7]).assert();
}

#[test]
fn checker_reports_infinite_error_for_non_finite_gradients() {
    // √ at 0: backward gives +inf, the differences see √(−h) = NaN.
    let r = check::gradient(|_, v| v[0].sqrt(), &[0.0]);
    assert!(!r.passed());
    assert_eq!(r.worst_error, f64::INFINITY);
}

#[test]
fn checker_config_changes_the_step_and_tolerance() {
    // x³ at 1: the central difference errs by h² exactly (in exact arithmetic).
    let coarse = Config {
        relative_step: 1e-2,
        tolerance: 1e-5,
    };
    let r = check::gradient_with(coarse, |_, v| v[0] * v[0] * v[0], &[1.0]);
    assert!(!r.passed());
    assert!((r.numeric[0] - 3.0001).abs() < 1e-9, "{r}");
    let loose = Config {
        tolerance: 1e-3,
        ..coarse
    };
    assert!(check::gradient_with(loose, |_, v| v[0] * v[0] * v[0], &[1.0]).passed());
}

#[test]
fn checker_with_no_inputs() {
    let r = check::gradient(|t, _| t.var(2.0), &[]);
    assert!(r.passed());
    assert_eq!(r.value, 2.0);
    assert_eq!(r.to_string(), "no inputs");
}

// ---------------------------------------------------------------------------------------------
// DOT export.

/// A DOT statement list, just enough of the grammar for what `to_dot` writes.
#[derive(Debug, Default)]
struct Dot {
    /// Record nodes: id and the fields of their label.
    records: Vec<(String, Vec<String>)>,
    /// Operation nodes: id and label.
    ops: Vec<(String, String)>,
    /// Edges.
    edges: Vec<(String, String)>,
}

/// The quoted string starting at `s[0] == '"'`, unescaped only for `\"`, and the rest.
fn quoted(s: &str) -> (String, &str) {
    assert!(s.starts_with('"'), "{s}");
    let mut out = String::new();
    let mut chars = s[1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                let (_, next) = chars.next().expect("dangling escape");
                if next != '"' {
                    out.push('\\');
                }
                out.push(next);
            }
            '"' => return (out, &s[i + 2..]),
            c => out.push(c),
        }
    }
    panic!("unterminated string in {s}");
}

/// Splits a record label `{ a | b | c }` on its unescaped `|`, and unescapes the fields.
fn record_fields(label: &str) -> Vec<String> {
    let inner = label
        .trim()
        .strip_prefix('{')
        .and_then(|l| l.strip_suffix('}'))
        .unwrap_or_else(|| panic!("not a {{ record }}: {label}"));
    let mut fields = vec![String::new()];
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields
                .last_mut()
                .unwrap()
                .push(chars.next().expect("escape")),
            '|' => fields.push(String::new()),
            '{' | '}' | '<' | '>' => panic!("unescaped {c} in {label}"),
            c => fields.last_mut().unwrap().push(c),
        }
    }
    fields.iter().map(|f| f.trim().to_string()).collect()
}

fn parse_dot(text: &str) -> Dot {
    let body = text
        .trim()
        .strip_prefix("digraph")
        .expect("digraph")
        .trim_start();
    let open = body.find('{').expect("{");
    let name = body[..open].trim();
    assert!(
        name.chars().all(|c| c.is_alphanumeric() || c == '_'),
        "{name}"
    );
    let body = body[open + 1..].strip_suffix('}').expect("closing }");
    let mut dot = Dot::default();
    for line in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let stmt = line
            .strip_suffix(';')
            .unwrap_or_else(|| panic!("no ; in {line}"));
        if let Some((from, to)) = stmt.split_once("->") {
            dot.edges
                .push((from.trim().to_string(), to.trim().to_string()));
        } else if let Some((id, attrs)) = stmt.split_once(" [") {
            let attrs = attrs.strip_suffix(']').expect("]");
            let id = id.trim().to_string();
            if id == "node" {
                continue;
            }
            let at = attrs.find("label=").expect("label=");
            let (label, rest) = quoted(&attrs[at + "label=".len()..]);
            assert!(rest.trim().is_empty(), "after the label: {rest}");
            if attrs[..at].contains("shape=record") {
                dot.records.push((id, record_fields(&label)));
            } else {
                dot.ops.push((id, label));
            }
        } else {
            let (k, v) = stmt.split_once('=').expect("an attribute");
            assert!(!k.trim().is_empty() && !v.trim().is_empty());
        }
    }
    dot
}

#[test]
fn dot_draws_micrograds_graph() {
    // L = (a·b + c)·f: 7 values (4 leaves, e = a·b, d = e + c, L), 3 operations; edges: each
    // op to its result (3) and each operand to its op (2 + 2 + 2).
    let tape = Tape::new();
    let a = tape.var(2.0).with_label("a");
    let b = tape.var(-3.0).with_label("b");
    let c = tape.var(10.0).with_label("c");
    let f = tape.var(-2.0).with_label("f");
    let _unused = (a * c).with_label("unused");
    let e = (a * b).with_label("e");
    let d = (e + c).with_label("d");
    let l = (d * f).with_label("L");
    let g = l.backward();
    let text = l.to_dot(Some(&g));
    assert!(text.contains("rankdir=LR"), "{text}");
    let dot = parse_dot(&text);
    assert_eq!(dot.records.len(), 7, "{text}");
    assert_eq!(dot.ops.len(), 3, "{text}");
    assert_eq!(dot.edges.len(), 9, "{text}");
    assert_eq!(text.matches("shape=record").count(), 7);
    assert_eq!(text.matches("->").count(), 9);

    // Each record: label | data v | grad g, with micrograd's 4 decimals.
    let want = [
        ("a", 2.0, 6.0),
        ("b", -3.0, -4.0),
        ("c", 10.0, -2.0),
        ("f", -2.0, 4.0),
        ("e", -6.0, -2.0),
        ("d", 4.0, -2.0),
        ("L", -8.0, 1.0),
    ];
    let mut ids = std::collections::HashMap::new();
    for (id, fields) in &dot.records {
        assert_eq!(fields.len(), 3, "{fields:?}");
        let (label, value, grad) = want
            .iter()
            .find(|w| w.0 == fields[0])
            .unwrap_or_else(|| panic!("unexpected record {fields:?}"));
        assert_eq!(fields[1], format!("data {value:.4}"));
        assert_eq!(fields[2], format!("grad {grad:.4}"));
        ids.insert(*label, id.clone());
    }
    assert_eq!(ids.len(), 7);

    // Structure: every op node feeds exactly one value and is fed by that value's operands.
    let ops: Vec<&str> = dot.ops.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(ops.iter().filter(|&&o| o == "*").count(), 2);
    assert_eq!(ops.iter().filter(|&&o| o == "+").count(), 1);
    let declared = |n: &str| {
        dot.records.iter().any(|(id, _)| id == n) || dot.ops.iter().any(|(id, _)| id == n)
    };
    for (from, to) in &dot.edges {
        assert!(declared(from) && declared(to), "{from} -> {to}");
    }
    let op_of = |value: &str| -> String {
        let feeding: Vec<&String> = dot
            .edges
            .iter()
            .filter(|(from, to)| to == &ids[value] && dot.ops.iter().any(|(id, _)| id == from))
            .map(|(from, _)| from)
            .collect();
        assert_eq!(feeding.len(), 1, "{value}");
        feeding[0].clone()
    };
    let inputs = |op: &str| -> Vec<String> {
        let mut v: Vec<String> = dot
            .edges
            .iter()
            .filter(|(_, to)| to == op)
            .map(|(from, _)| from.clone())
            .collect();
        v.sort();
        v
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        inputs(&op_of("e")),
        sorted(vec![ids["a"].clone(), ids["b"].clone()])
    );
    assert_eq!(
        inputs(&op_of("d")),
        sorted(vec![ids["e"].clone(), ids["c"].clone()])
    );
    assert_eq!(
        inputs(&op_of("L")),
        sorted(vec![ids["d"].clone(), ids["f"].clone()])
    );
    for leaf in ["a", "b", "c", "f"] {
        assert!(
            !dot.edges.iter().any(|(_, to)| to == &ids[leaf]),
            "{leaf} is a leaf"
        );
    }
}

#[test]
fn dot_without_gradients_and_with_odd_labels() {
    let tape = Tape::new();
    let x = tape.var(1.5).with_label(r#"x|{y}<z> "q" \"#);
    let y = x * x; // one operand twice: one edge
    let s = tape.sum([x, y, x]);
    let text = s.to_dot(None);
    let dot = parse_dot(&text);
    assert_eq!(dot.records.len(), 3, "{text}");
    assert_eq!(dot.ops.len(), 2, "{text}");
    // Edges: * → y, x → *, sum → s, x → sum, y → sum.
    assert_eq!(dot.edges.len(), 5, "{text}");
    for (_, fields) in &dot.records {
        assert_eq!(fields.len(), 2, "no grad column: {fields:?}");
        assert!(fields[1].starts_with("data "), "{fields:?}");
    }
    assert!(
        dot.records.iter().any(|(_, f)| f[0] == r#"x|{y}<z> "q" \"#),
        "{text}"
    );
    let ops: Vec<&str> = dot.ops.iter().map(|(_, l)| l.as_str()).collect();
    assert!(ops.contains(&"*") && ops.contains(&"sum"), "{ops:?}");
}

#[test]
fn dot_of_a_neuron_and_of_constants() {
    // relu(w·x + b) with 3 inputs: values w (3), x (3), b, w·x, +, relu = 10; ops 3.
    let tape = Tape::new();
    let w = tape.vars(&[0.1, -0.2, 0.3]);
    let x = tape.vars(&[1.0, 2.0, 3.0]);
    let b = tape.var(0.5);
    let y = (tape.dot(&w, &x) + b).relu();
    let dot = parse_dot(&y.to_dot(Some(&y.backward())));
    assert_eq!(dot.records.len(), 10);
    assert_eq!(dot.ops.len(), 3);
    assert_eq!(dot.edges.len(), 3 + 6 + 2 + 1);
    // The same neuron through affine: the bias is an operand of the fused node.
    let wb = tape.run(&[0.1, -0.2, 0.3, 0.5]);
    let xr = tape.run(&[1.0, 2.0, 3.0]);
    let y = tape.affine(wb, xr).relu();
    let dot = parse_dot(&y.to_dot(Some(&y.backward())));
    assert_eq!(dot.records.len(), 4 + 3 + 2);
    assert_eq!(dot.ops.len(), 2);
    assert_eq!(dot.edges.len(), 2 + 7 + 1);
    // The same neuron in one node: one record for it and one op node, labelled with the
    // activation and the affine map, fed by all 7 operands (the bias included).
    for act in ACTIVATIONS {
        let y = tape.neuron(wb, xr, act).with_label("h");
        let text = y.to_dot(Some(&y.backward()));
        let dot = parse_dot(&text);
        assert_eq!(dot.records.len(), 4 + 3 + 1, "{text}");
        assert_eq!(dot.ops.len(), 1, "{text}");
        assert_eq!(dot.ops[0].1, neuron_op(act), "{text}");
        assert_eq!(dot.edges.len(), 1 + 7, "{text}");
        let op = &dot.ops[0].0;
        assert_eq!(dot.edges.iter().filter(|(_, to)| to == op).count(), 7);
        // Its record: label, value, and d y/d y = 1.
        let want = vec![
            "h".to_string(),
            format!("data {:.4}", y.value()),
            "grad 1.0000".to_string(),
        ];
        assert!(dot.records.iter().any(|(_, f)| *f == want), "{text}");
    }
    // relu(0.1 − 0.4 + 0.9 + 0.5) = 1.1: the record shows the activation's value.
    let text = tape.neuron(wb, xr, Activation::Relu).to_dot(None);
    assert!(text.contains("data 1.1000"), "{text}");
    // Constants appear in their operation's node, not as records.
    let z = (2.0 * b - 1.0).powf(3.0);
    let dot = parse_dot(&z.to_dot(None));
    assert_eq!(dot.records.len(), 4);
    let mut ops: Vec<&str> = dot.ops.iter().map(|(_, l)| l.as_str()).collect();
    ops.sort();
    assert_eq!(ops, vec!["* 2", "+ -1", "powf 3"]);
}

/// Pins three `to_dot` bugs: a label holding NUL made the whole DOT unreadable, relabelling a
/// node kept every old label until `clear`, and `Grads` of another tape were drawn silently.
#[test]
fn dot_escapes_control_characters_and_keeps_only_the_last_label() {
    let tape = Tape::new();
    let x = tape.var(2.0).with_label("first");
    let x = x.with_label("nul\0and\nnewline");
    let y = (x * 3.0).with_label("y");
    let text = y.to_dot(Some(&y.backward()));
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{text:?}"
    );
    assert_eq!(text.lines().count(), text.matches('\n').count());
    let dot = parse_dot(&text);
    let labels: Vec<&str> = dot.records.iter().map(|(_, f)| f[0].as_str()).collect();
    assert!(labels.contains(&r"nul\u0000and\u000anewline"), "{labels:?}");
    assert!(!labels.contains(&"first"), "{labels:?}");
    assert_eq!(x.label().as_deref(), Some("nul\0and\nnewline"));
    // 100,000 relabels of one node keep one label.
    let before = tape.memory_bytes();
    for k in 0..100_000 {
        let _ = x.with_label(&format!("x{k}"));
    }
    assert_eq!(x.label().as_deref(), Some("x99999"));
    assert_eq!(tape.memory_bytes(), before);
}

#[test]
#[should_panic(expected = "Var::to_dot was given a Var recorded on another tape")]
fn dot_with_gradients_of_another_tape_panics() {
    let (a, b) = (Tape::new(), Tape::new());
    let x = a.var(1.0);
    let y = b.var(2.0);
    let gy = (y * y).backward();
    // Grads of `b`'s tape, drawn on `a`'s graph: lifetimes allow it, the check refuses it.
    let _ = (x * x).to_dot(Some(&gy));
}
