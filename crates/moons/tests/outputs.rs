//! The output folder as a whole, through the real binary: a set is swapped in as one even
//! when the run is killed halfway, what a killed run leaves is cleaned by the next one, a
//! second run at once is refused, and nothing the run did not make is removed.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use moons::OUTPUT_FILES;

mod common;
use common::{listing, s, stderr};

fn moons(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_moons"));
    c.args(args);
    c
}

fn run(args: &[&str]) -> Output {
    moons(args).output().unwrap()
}

/// The six training files of a folder, by name (missing ones absent).
fn set(dir: &Path) -> BTreeMap<&'static str, Vec<u8>> {
    OUTPUT_FILES
        .iter()
        .filter_map(|&f| std::fs::read(dir.join(f)).ok().map(|b| (f, b)))
        .collect()
}

const SMALL: [&str; 5] = ["-q", "--steps", "2", "--samples", "20"];

/// A run of SMALL with this seed into `out`.
fn small(out: &Path, seed: &str, extra: &[&str]) -> Output {
    let mut args = SMALL.to_vec();
    args.extend(["--seed", seed, "--out", s(out)]);
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn a_run_killed_at_any_point_of_the_commit_leaves_one_whole_set() {
    // Staged files were renamed into --out one by one, so a kill between two renames left a
    // mix of two runs' files and staging and backup folders that nothing removed.
    let dir = tempfile::tempdir().unwrap();
    let (old_dir, new_dir) = (dir.path().join("old"), dir.path().join("new"));
    assert_eq!(small(&old_dir, "1", &[]).status.code(), Some(0));
    assert_eq!(small(&new_dir, "2", &[]).status.code(), Some(0));
    let (old, new) = (set(&old_dir), set(&new_dir));
    assert_ne!(old, new);

    let mut finished = false;
    for k in 1..40 {
        let case = tempfile::tempdir().unwrap();
        let out = case.path().join("out");
        std::fs::create_dir_all(out.join("mine")).unwrap();
        std::fs::write(out.join("mine/notes.txt"), "keep").unwrap();
        std::fs::write(out.join("notes.txt"), "keep").unwrap();
        for (name, bytes) in &old {
            std::fs::write(out.join(name), bytes).unwrap();
        }
        let o = {
            let mut args = SMALL.to_vec();
            args.extend(["--seed", "2", "--out", s(&out)]);
            moons(&args)
                .env("MOONS_TEST_DIE_AT", k.to_string())
                .output()
                .unwrap()
        };
        let now = set(&out);
        assert!(now == old || now == new, "killed at change {k}: a mix");
        if o.status.success() {
            assert!(k > 3, "the commit made only {k} changes");
            assert!(now == new);
            finished = true;
        } else {
            assert_eq!(o.status.code(), None, "change {k}: {}", stderr(&o));
        }
        // The next run cleans up and puts everything the user had back.
        assert_eq!(small(&out, "2", &[]).status.code(), Some(0), "after {k}");
        assert!(set(&out) == new);
        assert_eq!(listing(case.path()), ["out"], "after a kill at change {k}");
        let mut expected: Vec<String> = OUTPUT_FILES.iter().map(|f| f.to_string()).collect();
        expected.extend(["mine".to_string(), "notes.txt".to_string()]);
        expected.sort();
        assert_eq!(listing(&out), expected, "after a kill at change {k}");
        assert_eq!(
            std::fs::read_to_string(out.join("notes.txt")).unwrap(),
            "keep"
        );
        assert_eq!(
            std::fs::read_to_string(out.join("mine/notes.txt")).unwrap(),
            "keep"
        );
        if finished {
            break;
        }
    }
    assert!(finished, "the hook killed every run");
}

#[test]
fn a_folder_named_like_the_old_backup_is_the_users_and_stays() {
    // The backup folder beside --out had a fixed name, `.out.old`, and a user's own folder
    // of that name was deleted on the second run.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let theirs = dir.path().join(".out.old");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::write(theirs.join("f"), "keep").unwrap();
    for seed in ["1", "2"] {
        assert_eq!(small(&out, seed, &[]).status.code(), Some(0));
    }
    assert_eq!(std::fs::read_to_string(theirs.join("f")).unwrap(), "keep");
    assert_eq!(listing(dir.path()), [".out.old", "out"]);
}

#[test]
fn a_useless_run_keeps_the_last_good_set_and_goes_beside_it() {
    // `--lr 100` (loss 1.2e14, exit 3) replaced the last good run's files.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert_eq!(small(&out, "1", &[]).status.code(), Some(0));
    let good = set(&out);
    let o = run(&[
        "--lr",
        "100",
        "--samples",
        "40",
        "--steps",
        "20",
        "--out",
        s(&out),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(set(&out) == good, "the good run's files changed");
    let beside = dir.path().join("out.useless");
    assert_eq!(set(&beside).len(), 6);
    let text = String::from_utf8_lossy(&o.stdout);
    let useless = format!("into {}", beside.display());
    assert!(text.contains(&useless), "{text}");
    assert!(
        text.contains(&format!("{} keeps the previous run's files", out.display())),
        "{text}"
    );
    let last = text.lines().last().unwrap();
    assert!(
        last.contains(&format!("files in {}", beside.display())),
        "{last}"
    );
}

#[test]
fn a_second_run_into_the_same_folder_is_refused_while_the_first_holds_the_lock() {
    // Two runs into one --out at once could both exit 0 and leave a mix.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert_eq!(small(&out, "1", &[]).status.code(), Some(0));
    let before = set(&out);
    let lock_path = dir.path().join(".out.moons-lock");
    let lock = std::fs::File::create(&lock_path).unwrap();
    lock.try_lock().unwrap();
    let o = small(&out, "2", &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("another moons run") && err.contains(&format!("`{}`", out.display())),
        "{err}"
    );
    assert!(set(&out) == before);
    drop(lock);
    assert_eq!(small(&out, "2", &[]).status.code(), Some(0));
    assert_eq!(listing(dir.path()), ["out"], "the lock file is removed");
}

#[cfg(target_os = "linux")]
#[test]
fn an_out_that_cannot_be_made_is_named_as_typed() {
    // `--out /proc/foo` named the internal staging folder.
    let o = run(&["-q", "--steps", "1", "--out", "/proc/foo"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("`/proc/foo`") && !err.contains("moons-"),
        "{err}"
    );
}

#[test]
fn a_run_killed_while_training_leaves_only_what_the_next_run_cleans() {
    // Each kill during training left a `.out.moons-staging-<pid>` folder (28 after 30
    // kills), and the parents made for `--out new/a/b` stayed.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("new/a/b");
    let mut child = moons(&[
        "--steps",
        "100000000",
        "--samples",
        "2",
        "--lr",
        "1e-9",
        "--out",
        s(&out),
    ])
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let stdout = child.stdout.take().unwrap();
    for line in BufReader::new(stdout).lines() {
        if line.unwrap().starts_with("step ") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // What is left: the folders made for --out and the (unlocked) lock file, nothing else.
    assert_eq!(listing(&dir.path().join("new/a")), [".b.moons-lock"]);
    // A stale staging folder of a dead process, as a kill during the commit leaves it.
    let stale = dir.path().join("new/a/.b.moons-staging-4294967295");
    std::fs::create_dir(&stale).unwrap();
    std::fs::write(stale.join("metrics.csv"), "partial").unwrap();
    std::fs::write(stale.join(".moons-staged-4294967295"), "").unwrap();

    assert_eq!(small(&out, "1", &[]).status.code(), Some(0));
    assert_eq!(listing(&dir.path().join("new/a")), ["b"]);
    assert_eq!(set(&out).len(), 6);
}
