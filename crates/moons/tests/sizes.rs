//! Sizes a user can type are checked before anything is allocated (a regression: `--samples
//! 18446744073709551615` panicked with "capacity overflow", `--samples 1000000000` aborted on
//! a 24 GB allocation, `--hidden 100000,100000` ran for seconds before the allocator killed
//! it).

use std::process::Command;

use moons::limits::{Culprit, Estimate, check};

fn refused(args: &[&str], flag: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_moons"))
        .args(args)
        .args(["--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("moons: error: {flag} is too large: ")),
        "{args:?}: {err}"
    );
    assert!(!out.exists());
}

#[test]
fn too_large_sizes_are_one_line_errors_naming_the_flag() {
    let max = usize::MAX.to_string();
    refused(&["--samples", &max], &format!("--samples {max}"));
    refused(&["--samples", "1000000000"], "--samples 1000000000");
    refused(&["--hidden", &max], &format!("--hidden {max}"));
    refused(&["--hidden", "100000,100000"], "--hidden 100000,100000");
    refused(
        &["--hidden", "16", "--samples", &max, "--threads", &max],
        &format!("--samples {max}"),
    );
}

#[test]
fn a_loaded_model_too_large_for_the_data_is_named() {
    // A model that fits alone but not with these many samples' per-chunk gradients.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.json");
    mlp::Mlp::new(2, &[2000, 1], 1).save(&path).unwrap();
    let limit = moons::limits::limit();
    let samples = (1..40)
        .map(|k| 1usize << k)
        .find(|&n| check(n, 2, &[2000, 1], 1, mlp::TrainConfig::DEFAULT_LANES, limit).is_err())
        .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_moons"))
        .args([
            "--load",
            path.to_str().unwrap(),
            "--samples",
            &samples.to_string(),
        ])
        .args(["--out", dir.path().join("out").to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--samples") && err.contains("is too large"),
        "{err}"
    );
}

#[test]
fn the_estimate_grows_with_each_size_and_blames_the_right_one() {
    let limit = 1u64 << 30;
    let demo = Estimate::new(100, 2, &[16, 16, 1], 1, 1);
    assert!(demo.total() < u128::from(limit));
    // A hidden layer of 100,000 alone fits; two of them (10^10 weights) do not.
    assert!(check(100, 2, &[100_000, 1], 1, 1, 8 << 30).is_ok());
    assert_eq!(
        check(100, 2, &[100_000, 100_000, 1], 1, 1, 8 << 30)
            .unwrap_err()
            .0,
        Culprit::Model
    );
    assert_eq!(
        check(1_000_000_000, 2, &[16, 16, 1], 1, 1, limit)
            .unwrap_err()
            .0,
        Culprit::Samples
    );
    // More samples, wider layers and more threads each need more.
    assert!(Estimate::new(1000, 2, &[16, 16, 1], 1, 1).total() > demo.total());
    assert!(Estimate::new(100, 2, &[32, 16, 1], 1, 1).total() > demo.total());
    assert!(
        Estimate::new(1000, 2, &[16, 16, 1], 4, 1).total()
            > Estimate::new(1000, 2, &[16, 16, 1], 1, 1).total()
    );
    // Wider lanes hold more bytes per node; with one lane the scalar estimate.
    let lanes = |n| Estimate::new(1000, 2, &[64, 64, 1], 1, n).total();
    assert!(lanes(1) < lanes(4) && lanes(4) < lanes(8) && lanes(8) < lanes(16));
    assert_eq!(
        check(100, 2, &[4_000, 5_000, 1], 1, 16, 4 << 30)
            .unwrap_err()
            .0,
        Culprit::Lanes
    );
    // Nothing overflows at the largest values.
    for lanes in [1, usize::MAX] {
        let worst = Estimate::new(
            usize::MAX,
            2,
            &[usize::MAX, usize::MAX, 1],
            usize::MAX,
            lanes,
        );
        assert!(worst.total() > u128::from(u64::MAX));
    }
}

#[test]
fn the_limit_is_at_most_the_documented_one() {
    let limit = moons::limits::limit();
    assert!(limit <= moons::limits::MEMORY_LIMIT);
    if let Some(machine) = moons::limits::machine_memory() {
        assert!(limit <= machine);
    }
}
