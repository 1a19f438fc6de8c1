//! The main job end to end: `moons::run` into temporary folders, and the real binary once for
//! its exit codes and messages.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use moons::{AppError, Args, OUTPUT_FILES};

/// `Args` as the binary would parse them, with `--quiet` and `--out DIR` added.
fn args(out: &Path, extra: &[&str]) -> Args {
    let mut argv = vec!["moons", "--quiet", "--out", out.to_str().unwrap()];
    argv.extend_from_slice(extra);
    Args::parse_from(argv)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Parses an SVG document as XML and checks it is an `<svg>` root.
fn parse_svg(text: &str) -> roxmltree::Document<'_> {
    let doc = roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("not XML: {e}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc
}

fn count(
    doc: &roxmltree::Document<'_>,
    tag: &str,
    pred: impl Fn(&roxmltree::Node) -> bool,
) -> usize {
    doc.descendants()
        .filter(|n| n.tag_name().name() == tag && pred(n))
        .count()
}

fn region_fill(fill: Option<&str>) -> bool {
    let hex = |c: plotters::style::RGBColor| format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2);
    fill.is_some_and(|f| {
        f.eq_ignore_ascii_case(&hex(moons::plot::REGION_NEG))
            || f.eq_ignore_ascii_case(&hex(moons::plot::REGION_POS))
    })
}

/// Parses metrics.csv into (step, loss, accuracy, learning_rate) rows.
fn parse_metrics(text: &str) -> Vec<(usize, f64, f64, f64)> {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("step,loss,accuracy,learning_rate"));
    lines
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 4, "{line}");
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn short_run_writes_every_file_and_they_parse() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nested/out");
    let summary = moons::run(args(
        &out,
        &["--steps", "4", "--samples", "30", "--seed", "5"],
    ))
    .unwrap();

    assert_eq!(summary.steps, 4);
    assert_eq!(summary.parameters, 337);
    assert_eq!(summary.architecture, (2, vec![16, 16, 1]));
    let expected: Vec<PathBuf> = OUTPUT_FILES.iter().map(|f| out.join(f)).collect();
    assert_eq!(summary.files, expected);
    for f in &expected {
        assert!(f.is_file(), "{} missing", f.display());
    }

    // metrics.csv: one row per step, matching the summary's history.
    let rows = parse_metrics(&read(&out.join("metrics.csv")));
    assert_eq!(rows.len(), 4);
    for (k, (row, h)) in rows.iter().zip(&summary.history).enumerate() {
        assert_eq!(row.0, k);
        assert_eq!((row.1, row.2, row.3), (h.loss, h.accuracy, h.learning_rate));
        assert!((0.0..=1.0).contains(&row.2));
    }
    // micrograd's schedule over 4 steps: 1.0, 0.775, 0.55, 0.325.
    assert_eq!(rows[0].3, 1.0);
    assert!((rows[3].3 - 0.325).abs() < 1e-12);

    // model.json loads back; its loss and accuracy are the summary's, bit for bit.
    let model = mlp::Mlp::load(out.join("model.json")).unwrap();
    assert_eq!(model.sizes(), vec![16, 16, 1]);
    let data = mlp::datasets::two_moons(30, 0.1, 5);
    assert_eq!(
        moons::evaluate(&model, &data),
        (summary.loss, summary.accuracy)
    );

    // boundary.svg: well-formed, one filled + one outline circle per point (+ 2 legend
    // markers of 2 circles), and the region rectangles of the model's decision mesh.
    let text = read(&out.join("boundary.svg"));
    assert!(text.trim_start().starts_with("<svg"));
    let doc = parse_svg(&text);
    assert_eq!(count(&doc, "circle", |_| true), 2 * 30 + 4);
    let plot = moons::plot::boundary_svg(&model, &data, "check").unwrap();
    // The mesh's runs, and the legend's two region swatches.
    let region_rects = count(&doc, "rect", |n| region_fill(n.attribute("fill")));
    assert_eq!(region_rects, plot.runs.len() + 2);
    assert!(
        region_rects >= 100,
        "a mesh has at least a rect per row: {region_rects}"
    );
    assert!(text.contains("x₁") && text.contains("x₂") && text.contains("labeled +1"));

    // loss.svg: two curves (loss and accuracy) with 4 points each.
    let text = read(&out.join("loss.svg"));
    let doc = parse_svg(&text);
    let curves: Vec<_> = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "polyline")
        .filter(|n| n.attribute("stroke-width") == Some("2"))
        .filter(|n| {
            n.attribute("points")
                .is_some_and(|p| p.split_whitespace().count() == 4)
        })
        .collect();
    assert_eq!(curves.len(), 2, "{text}");
    assert!(text.contains("loss") && text.contains("accuracy") && text.contains("step"));

    // graph.dot: one record per value of a 2-input neuron, and layout-rs parses it.
    let dot = read(&out.join("graph.dot"));
    assert!(dot.starts_with("digraph"));
    assert_eq!(dot.matches("shape=record").count(), 10, "{dot}");
    for label in [
        "{ x1 |",
        "{ w2 |",
        "{ x1*w1 + x2*w2 |",
        "{ b |",
        "{ o |",
        "relu",
        "| grad ",
    ] {
        assert!(dot.contains(label), "{label} missing from\n{dot}");
    }
    assert!(layout::gv::DotParser::new(&dot).process().is_ok());
    let text = read(&out.join("graph.svg"));
    parse_svg(&text);
    assert!(text.contains("x1*w1 + x2*w2") && text.contains("grad"));
}

#[test]
fn default_run_reaches_full_training_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let summary = moons::run(args(dir.path(), &[])).unwrap();
    assert_eq!(summary.steps, 100);
    assert_eq!(summary.history.len(), 100);
    assert_eq!(summary.accuracy, 1.0, "{summary}");
    assert!(summary.loss < summary.history[0].loss);
    let line = summary.to_string();
    assert!(
        line.contains("accuracy 100.0%") && line.contains("337 parameters"),
        "{line}"
    );
}

#[test]
fn load_evaluates_with_zero_steps_and_continues_training_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    let trained = moons::run(args(&first, &["--steps", "6", "--samples", "40"])).unwrap();
    let saved = first.join("model.json");
    let saved_params = mlp::Mlp::load(&saved).unwrap().parameters();

    // --steps 0: evaluation only; same numbers, written under the evaluation's own names.
    let eval_dir = dir.path().join("eval");
    let load = saved.to_str().unwrap();
    let evaluated = moons::run(args(
        &eval_dir,
        &["--load", load, "--steps", "0", "--samples", "40"],
    ))
    .unwrap();
    assert_eq!(evaluated.steps, 0);
    assert_eq!(
        (evaluated.loss, evaluated.accuracy),
        (trained.loss, trained.accuracy)
    );
    for name in moons::EVAL_FILES {
        assert!(eval_dir.join(name).is_file(), "{name}");
    }
    assert!(!eval_dir.join("metrics.csv").exists());
    parse_svg(&read(&eval_dir.join("eval-loss.svg")));

    // --steps 3: training continues from the saved parameters (its first step's loss is the
    // saved model's loss) and changes them.
    let more_dir = dir.path().join("more");
    let more = moons::run(args(
        &more_dir,
        &["--load", load, "--steps", "3", "--samples", "40"],
    ))
    .unwrap();
    assert_eq!(more.history.len(), 3);
    assert_eq!(more.history[0].loss, trained.loss);
    let continued = mlp::Mlp::load(more_dir.join("model.json"))
        .unwrap()
        .parameters();
    assert_ne!(continued, saved_params);
}

#[test]
fn user_errors_are_errors_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();

    // An output folder under a regular file.
    let err = moons::run(args(&file.join("out"), &["--steps", "1"])).unwrap_err();
    assert!(matches!(err, AppError::OutputDir { .. }), "{err:?}");
    assert!(
        err.to_string().contains("cannot create the output folder"),
        "{err}"
    );

    // A model file that does not exist, and one that is not a model.
    let missing = dir.path().join("missing.json");
    let err = moons::run(args(dir.path(), &["--load", missing.to_str().unwrap()])).unwrap_err();
    assert!(matches!(err, AppError::Load { .. }), "{err:?}");
    assert!(err.to_string().contains("missing.json"), "{err}");
    let err = moons::run(args(dir.path(), &["--load", file.to_str().unwrap()])).unwrap_err();
    assert!(matches!(err, AppError::Load { .. }), "{err:?}");

    // A model of the wrong shape, and --hidden contradicting the loaded model.
    let three_inputs = dir.path().join("three.json");
    mlp::Mlp::new(3, &[4, 1], 1).save(&three_inputs).unwrap();
    let err = moons::run(args(
        dir.path(),
        &["--load", three_inputs.to_str().unwrap()],
    ))
    .unwrap_err();
    assert!(err.to_string().contains("needs 2 inputs"), "{err}");
    let small = dir.path().join("small.json");
    mlp::Mlp::new(2, &[4, 1], 1).save(&small).unwrap();
    let err = moons::run(args(
        dir.path(),
        &["--load", small.to_str().unwrap(), "--hidden", "8"],
    ))
    .unwrap_err();
    assert!(matches!(err, AppError::Usage(_)), "{err:?}");
    assert!(
        err.to_string().contains("[8]") && err.to_string().contains("[4]"),
        "{err}"
    );
}

#[test]
fn a_diverging_learning_rate_is_a_training_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = moons::run(args(dir.path(), &["--steps", "10", "--lr", "1e300"])).unwrap_err();
    assert!(matches!(err, AppError::Diverged { .. }), "{err:?}");
    assert!(err.to_string().contains("--lr"), "{err}");
}

fn moons_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_moons"))
}

#[test]
fn binary_reports_bad_flags_and_bad_folders_and_runs() {
    let dir = tempfile::tempdir().unwrap();

    let bad = moons_bin().args(["--stepz", "3"]).output().unwrap();
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("unexpected argument '--stepz'"), "{stderr}");
    let bad = moons_bin().args(["--lr", "-1"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("greater than 0"));

    let file = dir.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let under_file = file.join("out");
    let unwritable = moons_bin()
        .args(["--steps", "1", "--out", under_file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(unwritable.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&unwritable.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("moons: error: cannot create the output folder"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    let out = dir.path().join("out");
    let ok = moons_bin()
        .args([
            "--steps",
            "3",
            "--samples",
            "20",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("step ")).count(),
        3,
        "{stdout}"
    );
    let last = stdout.lines().last().unwrap();
    assert!(
        last.starts_with("final: loss ") && last.contains("337 parameters"),
        "{stdout}"
    );
    // The time per step ends the run's report.
    assert!(last.ends_with(" per step over 3 steps"), "{last}");
    for f in OUTPUT_FILES {
        assert!(out.join(f).is_file(), "{f}");
    }

    let quiet = moons_bin()
        .args([
            "--quiet",
            "--steps",
            "2",
            "--samples",
            "20",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&quiet.stdout).lines().count(), 1);
}

#[test]
fn threads_do_not_change_the_results() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let run = |dir: &Path, threads: &str| {
        moons::run(args(
            dir,
            &["--steps", "5", "--samples", "300", "--threads", threads],
        ))
        .unwrap();
        (
            read(&dir.join("metrics.csv")),
            read(&dir.join("model.json")),
        )
    };
    let one = run(dirs[0].path(), "1");
    let two = run(dirs[1].path(), "2");
    // 300 samples are five chunks, shared between the threads; the sums keep chunk order.
    assert_eq!(one, two);
}

#[test]
fn evaluate_matches_the_loss_a_training_step_records() {
    // One chunk (≤ 64 samples), so the step's loss is one tape's value, bit for bit.
    let data = mlp::datasets::two_moons(50, 0.1, 4);
    let mut model = mlp::Mlp::new(2, &[16, 16, 1], 4);
    let (loss, accuracy) = moons::evaluate(&model, &data);
    let mut trainer = mlp::Trainer::new(mlp::TrainConfig::micrograd_demo());
    let report = trainer.step(&mut model, &data).unwrap();
    assert_eq!(loss.to_bits(), report.loss.to_bits());
    assert_eq!(accuracy, report.accuracy);
}

/// Regression: `Trainer::train` reserved room for every requested step's report up front, so
/// `--steps 100000000000` aborted the process on a 4 TB allocation instead of stopping with
/// the training error that a short run gives.
#[test]
fn a_huge_step_count_with_a_diverging_rate_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let huge = moons_bin()
        .args([
            "--steps",
            "100000000000",
            "--lr",
            "1e6",
            "--samples",
            "20",
            "--quiet",
        ])
        .args(["--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(huge.status.code(), Some(1), "{huge:?}");
    let stderr = String::from_utf8_lossy(&huge.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("moons: error: "), "{stderr}");
    assert!(stderr.contains("training stopped at step "), "{stderr}");
    assert!(!stderr.contains("memory allocation"), "{stderr}");
}

/// The lane tape (the default) and the scalar tape (`--lanes 1`) train the same model: each
/// sample's numbers are the same, only the sums over samples run in another order.
#[test]
fn lanes_and_the_scalar_tape_train_the_same_model() {
    let run = |lanes: &str| {
        let args = Args::parse_from(["moons", "--steps", "30", "--quiet", "--lanes", lanes]);
        let dir = tempfile::tempdir().unwrap();
        let summary = moons::run(Args {
            out: dir.path().join("out"),
            ..args
        })
        .unwrap();
        (summary.loss, summary.history)
    };
    let (loss, history) = run("1");
    for lanes in ["4", "8", "16"] {
        let (l, h) = run(lanes);
        assert!((l - loss).abs() <= 1e-12 * loss, "{lanes}: {l} vs {loss}");
        for (a, b) in h.iter().zip(&history) {
            assert!(
                (a.loss - b.loss).abs() <= 1e-12 * b.loss,
                "{lanes}: {a:?} vs {b:?}"
            );
        }
    }
    assert_eq!(Args::default().lanes, mlp::TrainConfig::DEFAULT_LANES);
}
