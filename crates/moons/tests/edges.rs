//! The demo's edges, through the real binary: exit statuses, warnings, messages, and what a
//! failed or evaluation-only run leaves in the output folder.

use std::process::{Command, Output};

mod common;
use common::{listing, s, stderr, stdout};

fn moons(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_moons"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_learning_rate_that_blows_up_the_loss_warns_and_exits_3() {
    // Regression: `--lr 100` ended at loss 1.2e14, accuracy 50 %, exit 0 and no warning.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = moons(&["-q", "--lr", "100", "--samples", "40", "--out", s(&out)]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    let warnings: Vec<&str> = err.lines().collect();
    assert!(
        warnings.iter().all(|l| l.starts_with("moons: warning: ")),
        "{err}"
    );
    assert!(
        warnings
            .iter()
            .any(|l| l.contains("loss grew") && l.contains("--lr 100 ")),
        "{err}"
    );
    assert!(
        warnings.iter().any(|l| l.contains("no better than chance")),
        "{err}"
    );
    // The useless run still wrote its files, so that loss.svg shows what happened.
    for f in moons::OUTPUT_FILES {
        assert!(out.join(f).is_file(), "{f}");
    }
}

#[test]
fn data_that_overflows_is_blamed_not_the_learning_rate() {
    // Regression: `--noise 1e308` was blamed on the learning rate.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = moons(&["-q", "--noise", "1e308", "--out", s(&out)]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("--noise 1e308") && !err.contains("--lr"),
        "{err}"
    );
    assert!(!out.exists(), "a failed run leaves no folder");
    assert!(listing(dir.path()).is_empty(), "{:?}", listing(dir.path()));
}

#[test]
fn a_diverged_run_leaves_no_folder_not_even_its_parents() {
    // Regression: a diverged run left an empty --out folder behind.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a/b/out");
    let o = moons(&["-q", "--lr", "1e300", "--steps", "5", "--out", s(&out)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--lr 1e300"), "{}", stderr(&o));
    assert!(listing(dir.path()).is_empty(), "{:?}", listing(dir.path()));
}

#[test]
fn steps_zero_without_a_model_is_refused() {
    // Regression: `--steps 0` without --load replaced out/ with an untrained model.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = moons(&["--steps", "0", "--out", s(&out)]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("--steps 0") && err.contains("--load"), "{err}");
    assert!(!out.exists());
}

#[test]
fn negative_counts_get_an_invalid_value_message() {
    // Regression: clap said "unexpected argument '-5' found".
    for (flag, value) in [
        ("--steps", "-5"),
        ("--seed", "-1"),
        ("--threads", "-1"),
        ("--samples", "-3"),
        ("--hidden", "-8"),
    ] {
        let o = moons(&[flag, value]);
        assert_eq!(o.status.code(), Some(2), "{flag}");
        let err = stderr(&o);
        assert!(
            err.contains(&format!("invalid value '{value}' for '{flag}"))
                && err.contains("negative"),
            "{flag} {value}: {err}"
        );
        assert!(!err.contains("unexpected argument"), "{err}");
    }
}

#[test]
fn numbers_stay_readable_at_any_magnitude_and_one_step_is_singular() {
    // Regression: `--lr 1e308` printed 300 digits per line, `--lr 1e-300` printed zeros,
    // and "1 steps".
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = moons(&[
        "--lr",
        "1e-300",
        "--steps",
        "1",
        "--samples",
        "20",
        "--out",
        s(&out),
    ]);
    let text = stdout(&o);
    assert!(text.contains("training 1 step: "), "{text}");
    assert!(text.contains("lr 1e-300 → 1e-301"), "{text}");
    assert!(text.contains("lr 1.000e-300"), "{text}");
    assert!(text.contains(" per step over 1 step\n"), "{text}");
    assert!(text.lines().all(|l| l.len() < 240), "{text}");
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let row = csv.lines().nth(1).unwrap();
    assert!(row.ends_with(",1e-300"), "{row}");

    let o = moons(&["--lr", "1e308", "--steps", "1", "--out", s(&out)]);
    let text = stdout(&o);
    assert!(text.contains("lr 1.000e308"), "{text}");
    assert!(text.lines().all(|l| l.len() < 240), "{text}");
    assert!(stderr(&o).lines().all(|l| l.len() < 300), "{}", stderr(&o));
}

#[test]
fn a_load_error_names_the_path_once() {
    // Regression: "cannot load the model `p`: model file I/O failed: p: No such file".
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let o = moons(&["--load", s(&missing)]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.matches("missing.json").count(), 1, "{err}");
}

#[test]
fn an_out_that_is_a_file_is_named_as_such() {
    // Regression: `--out out/model.json` said "File exists (os error 17)".
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("model.json");
    std::fs::write(&file, "{}").unwrap();
    let o = moons(&["--out", s(&file)]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("model.json") && err.contains("is not a folder"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "{}");
}

#[test]
fn outputs_are_replaced_all_together_or_not_at_all() {
    // Regression: with loss.svg a folder, metrics.csv and model.json were already replaced
    // when the run failed.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(out.join("loss.svg")).unwrap();
    std::fs::write(out.join("metrics.csv"), "old").unwrap();
    std::fs::write(out.join("model.json"), "old").unwrap();
    let o = moons(&["-q", "--steps", "2", "--samples", "20", "--out", s(&out)]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("loss.svg") && err.contains("is a folder"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("metrics.csv")).unwrap(),
        "old"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("model.json")).unwrap(),
        "old"
    );
    assert_eq!(listing(&out), ["loss.svg", "metrics.csv", "model.json"]);
    // No staging folder is left beside out/.
    assert_eq!(listing(dir.path()), ["out"]);

    // Once the folder is gone, all six files are replaced.
    std::fs::remove_dir(out.join("loss.svg")).unwrap();
    let o = moons(&["-q", "--steps", "2", "--samples", "20", "--out", s(&out)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut expected: Vec<String> = moons::OUTPUT_FILES.iter().map(|f| f.to_string()).collect();
    expected.sort();
    assert_eq!(listing(&out), expected);
    assert_ne!(
        std::fs::read_to_string(out.join("metrics.csv")).unwrap(),
        "old"
    );
    assert_eq!(listing(dir.path()), ["out"]);
}

#[test]
fn load_alone_evaluates_without_touching_the_training_run() {
    // Regression: `--load out/model.json` alone trained 100 more steps. And evaluating
    // into the training folder replaced metrics.csv with its header and loss.svg with an
    // empty plot.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = moons(&["-q", "--steps", "40", "--samples", "30", "--out", s(&out)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let before: Vec<Vec<u8>> = moons::OUTPUT_FILES
        .iter()
        .map(|f| std::fs::read(out.join(f)).unwrap())
        .collect();

    let model = out.join("model.json");
    let o = moons(&["--load", s(&model), "--samples", "30", "--out", s(&out)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        !text.contains("step "),
        "no training steps expected:\n{text}"
    );
    let last = text.lines().last().unwrap();
    assert!(last.starts_with("evaluated: loss "), "{last}");

    let after: Vec<Vec<u8>> = moons::OUTPUT_FILES
        .iter()
        .map(|f| std::fs::read(out.join(f)).unwrap())
        .collect();
    assert!(before == after, "the training run's files changed");
    for f in moons::EVAL_FILES {
        assert!(out.join(f).is_file(), "{f}");
    }
    // The evaluation's numbers are the final line's, and its picture shows them.
    let csv = std::fs::read_to_string(out.join("eval-metrics.csv")).unwrap();
    let row: Vec<f64> = csv
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    let model = mlp::Mlp::load(&model).unwrap();
    let data = mlp::datasets::two_moons(30, 0.1, 1337);
    let (loss, accuracy) = moons::evaluate(&model, &data);
    assert_eq!((row[3], row[4]), (loss, accuracy));
    let svg = std::fs::read_to_string(out.join("eval-loss.svg")).unwrap();
    assert!(
        svg.contains(&format!("loss {}", moons::numbers::readable(loss))),
        "{svg}"
    );
    assert!(svg.contains(&format!("accuracy {:.1}%", 100.0 * accuracy)));
}

#[test]
fn help_documents_the_exit_statuses_and_the_load_default() {
    let o = moons(&["--help"]);
    let help = stdout(&o);
    for needle in [
        "Exit status",
        "3  the run finished and wrote its files, but the model is useless",
        "--load PATH alone, the saved model is evaluated",
        "eval-metrics.csv",
        "8 GiB",
        "--steps 0 without --load",
    ] {
        assert!(
            help.contains(needle),
            "{needle} missing from --help:\n{help}"
        );
    }
}

#[test]
fn a_model_over_the_load_limit_names_the_flag_that_raises_it() {
    // `--hidden 2000,2000` saves a 79 MB model.json that `--load` refused at 64 MiB with no
    // way to raise the limit. A small model and a small limit show the same path.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = moons(&["-q", "--steps", "30", "--samples", "30", "--out", s(&out)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let model = out.join("model.json");
    let size = std::fs::metadata(&model).unwrap().len().to_string();
    let eval = dir.path().join("eval");
    let o = moons(&[
        "--load",
        s(&model),
        "--max-model-bytes",
        "1000",
        "--out",
        s(&eval),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("--max-model-bytes") && err.contains(&size) && err.contains("1000"),
        "{err}"
    );
    assert!(!err.contains("load_with_limit"), "{err}");
    let o = moons(&[
        "-q",
        "--load",
        s(&model),
        "--max-model-bytes",
        &size,
        "--samples",
        "30",
        "--out",
        s(&eval),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(eval.join("eval-metrics.csv").is_file());
}
