//! Model files under attack: flipped bits, repeated and unknown fields, huge or endless
//! files, long names, leftover temporary files, symbolic links, permissions, kills.

use std::fs;

use mlp::{BiasInit, Mlp, ModelError};

use crate::common::bits;
use crate::files::{TempDir, corrupt, mismatch, v1};

/// A small model with no zero parameter, so every number in its file has digits to flip.
fn small_model() -> Mlp {
    Mlp::builder(2, &[3, 1])
        .bias_init(BiasInit::Uniform)
        .seed(11)
        .build()
}

// Pins a bug: 18 % of single-bit flips in a saved file loaded a different model silently.
#[test]
fn no_single_bit_flip_loads_a_different_model() {
    let dir = TempDir::new("bitflips");
    let path = dir.file("model.json");
    let model = small_model();
    model.save(&path).unwrap();
    let good = fs::read(&path).unwrap();
    let (mut errors, mut same) = (0, 0);
    for i in 0..good.len() {
        for bit in 0..8 {
            let mut bad = good.clone();
            bad[i] ^= 1 << bit;
            // Text is checked in memory; other bytes go through a file, as a load does.
            let loaded = match std::str::from_utf8(&bad) {
                Ok(text) => Mlp::from_json(text),
                Err(_) => {
                    fs::write(&path, &bad).unwrap();
                    Mlp::load(&path)
                }
            };
            match loaded {
                Ok(m) => {
                    // Only a flip that leaves the model as it was may load (a 17th digit that
                    // still parses to the same number).
                    assert_eq!(bits(&m.parameters()), bits(&model.parameters()), "byte {i}");
                    assert_eq!(m, model, "byte {i} bit {bit}");
                    same += 1;
                }
                Err(ModelError::Corrupt(_) | ModelError::Mismatch(_)) => errors += 1,
                Err(other) => panic!("byte {i} bit {bit}: {other}"),
            }
        }
    }
    assert_eq!(errors + same, good.len() * 8);
    assert!(errors > same * 50, "{errors} errors, {same} harmless");
}

#[test]
fn a_changed_parameter_fails_the_checksum() {
    let model = small_model();
    let json = model.to_json();
    let b = model.layers()[0].neurons[0].b;
    let edited = json.replacen(&format!("\"b\":{b:?}"), "\"b\":0.5", 1);
    assert_ne!(edited, json);
    let msg = corrupt(Mlp::from_json(&edited).unwrap_err());
    assert!(msg.contains("checksum mismatch"), "{msg}");
    // A layer's activation is covered too.
    let edited = json.replacen(r#""activation":"relu""#, r#""activation":"tanh""#, 1);
    assert!(corrupt(Mlp::from_json(&edited).unwrap_err()).contains("checksum mismatch"));

    let at = json.find(r#""checksum":""#).unwrap() + 12;
    let stored = &json[at..at + 16];
    let cases = [
        (
            json.replacen(stored, &stored.to_uppercase(), 1),
            "16 lowercase hex digits",
        ),
        (json.replacen(stored, "0", 1), "16 lowercase hex digits"),
        (
            json.replacen(&format!(r#","checksum":"{stored}""#), "", 1),
            "missing field `checksum`",
        ),
        (
            json.replacen(&format!(r#""{stored}""#), "17", 1),
            "unexpected content",
        ),
    ];
    for (text, expect) in &cases {
        let msg = corrupt(Mlp::from_json(text).unwrap_err());
        assert!(msg.contains(expect), "{text}\n=> {msg}");
    }
}

#[test]
fn version_1_files_still_load_without_a_checksum() {
    let model = small_model();
    let old = v1(&model.to_json());
    assert!(!old.contains("checksum"));
    let loaded = Mlp::from_json(&old).unwrap();
    assert_eq!(bits(&loaded.parameters()), bits(&model.parameters()));
    // A version 1 file never had a checksum: one is an error, not ignored.
    let with = old.replacen(r#""nin""#, r#""checksum":"0000000000000000","nin""#, 1);
    assert!(corrupt(Mlp::from_json(&with).unwrap_err()).contains("version 1 file has no"));
}

// Pins a bug: repeated keys loaded silently, the last one winning, "format" included.
#[test]
fn repeated_fields_are_errors() {
    let json = small_model().to_json();
    let w = {
        let at = json.find(r#""w":["#).unwrap();
        json[at..at + json[at..].find(']').unwrap() + 1].to_string()
    };
    let cases = [
        (
            r#""format":"tapegrad-mlp""#,
            r#""format":"keras","format":"tapegrad-mlp""#,
            "format",
        ),
        (
            r#""format":"tapegrad-mlp""#,
            r#""format":"tapegrad-mlp","format":"tapegrad-mlp""#,
            "format",
        ),
        (r#""version":2"#, r#""version":2,"version":2"#, "version"),
        (r#""nin":2"#, r#""nin":2,"nin":2"#, "nin"),
        (r#""layers":"#, r#""layers":[],"layers":"#, "layers"),
        (
            r#""activation":"relu""#,
            r#""activation":"relu","activation":"relu""#,
            "activation",
        ),
        (r#""neurons":"#, r#""neurons":[],"neurons":"#, "neurons"),
        (&w, &format!("{w},{w}"), "w"),
        (r#""b":"#, r#""b":0.0,"b":"#, "b"),
    ];
    for (from, to, field) in cases {
        let text = json.replacen(from, to, 1);
        assert_ne!(text, json);
        let msg = corrupt(Mlp::from_json(&text).unwrap_err());
        assert!(
            msg.contains(&format!("duplicate field `{field}`")),
            "{text}\n=> {msg}"
        );
    }
}

#[test]
fn unknown_fields_are_errors() {
    let json = small_model().to_json();
    let cases = [
        (r#""nin":2"#, r#""nin":2,"extra":1"#),
        (
            r#""activation":"relu","#,
            r#""activation":"relu","extra":[1,2],"#,
        ),
        (r#""b":"#, r#""extra":{},"b":"#),
    ];
    for (from, to) in cases {
        let text = json.replacen(from, to, 1);
        let msg = corrupt(Mlp::from_json(&text).unwrap_err());
        assert!(msg.contains("unknown field `extra`"), "{text}\n=> {msg}");
    }
    // Another format is named as such, whatever else it holds.
    let keras = r#"{"format":"keras","layers":"dense","extra":{"a":[1,2]}}"#;
    assert!(mismatch(Mlp::from_json(keras).unwrap_err()).contains("`keras`"));
}

// Pins a bug: messages repeated the file's strings whole and raw, so a 64 MiB `format` made
// a 64 MiB message and ESC or newlines in a file reached the terminal.
#[test]
fn messages_quote_a_short_escaped_excerpt() {
    let json = small_model().to_json();
    let at = json.find(r#""checksum":""#).unwrap() + 12;
    let checksum = &json[at..at + 16];
    let huge = "A".repeat(1 << 20);
    let hostile = "\u{1b}[31mred\nline\u{202e}";
    for text in [huge.as_str(), hostile] {
        // As JSON writes it: the parsed string holds the raw characters.
        let quoted = serde_json::to_string(text).unwrap();
        let cases = [
            json.replacen(r#""tapegrad-mlp""#, &quoted, 1),
            json.replacen(&format!("\"{checksum}\""), &quoted, 1),
            json.replacen(r#""relu""#, &quoted, 1),
            json.replacen(r#""nin":2"#, &format!(r#""nin":{quoted}"#), 1),
            json.replacen(r#""nin":2"#, &format!(r#""nin":2,{quoted}:1"#), 1),
        ];
        for case in cases {
            assert_ne!(case, json);
            let msg = Mlp::from_json(&case).unwrap_err().to_string();
            assert!(msg.len() < 400, "{} bytes: {}", msg.len(), &msg[..400]);
            assert!(!msg.chars().any(char::is_control), "{msg:?}");
            assert!(!msg.contains('\u{202e}'), "{msg:?}");
            if text == huge {
                assert!(msg.contains(&format!("{}…", &huge[..64])), "{msg}");
                assert!(!msg.contains(&huge[..65]), "{msg}");
            } else {
                assert!(msg.contains(r"\u{1b}[31mred\nline\u{202e}"), "{msg}");
            }
        }
    }
}

fn too_large(e: ModelError) -> (Option<u64>, u64, String) {
    let text = e.to_string();
    match e {
        ModelError::TooLarge { size, limit, .. } => (size, limit, text),
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

// Pins a bug: nothing capped a model file's size (a 2 GB file aborted on memory).
#[test]
fn files_over_the_limit_are_refused() {
    let dir = TempDir::new("limit");
    let path = dir.file("model.json");
    small_model().save(&path).unwrap();
    let len = fs::metadata(&path).unwrap().len();
    assert_eq!(Mlp::load_with_limit(&path, len).unwrap(), small_model());
    let (size, limit, text) = too_large(Mlp::load_with_limit(&path, len - 1).unwrap_err());
    assert_eq!((size, limit), (Some(len), len - 1));
    assert!(
        text.contains("model.json") && text.contains(&format!("{len} bytes")),
        "{text}"
    );

    // The default: a file one byte over it is refused before it is read.
    let big = dir.file("big.json");
    let f = fs::File::create(&big).unwrap();
    f.set_len(mlp::io::DEFAULT_MAX_BYTES + 1).unwrap();
    let (size, limit, _) = too_large(Mlp::load(&big).unwrap_err());
    assert_eq!(
        (size, limit),
        (
            Some(mlp::io::DEFAULT_MAX_BYTES + 1),
            mlp::io::DEFAULT_MAX_BYTES
        )
    );
}

// Pins a bug: `Mlp::load("/dev/zero")` read until memory ran out. Devices are refused
// now; a file whose size says nothing of its length (`/proc`) is read up to the limit.
#[cfg(target_os = "linux")]
#[test]
fn an_endless_file_is_refused_or_read_up_to_the_limit() {
    let err = Mlp::load_with_limit("/dev/zero", 4096).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ModelError::Io(_)), "{err:?}");
    assert!(
        text.contains("/dev/zero") && text.contains("not a regular file"),
        "{text}"
    );
    let maps = "/proc/self/maps";
    assert_eq!(fs::metadata(maps).unwrap().len(), 0);
    let (size, limit, text) = too_large(Mlp::load_with_limit(maps, 16).unwrap_err());
    assert_eq!((size, limit), (None, 16));
    assert!(
        text.contains(maps) && text.contains("more than 16 bytes"),
        "{text}"
    );
}

// Pins a bug: the buffer was reserved at the file's size, so a sparse 100 GB file with no
// limit aborted the process on a failed allocation.
#[test]
fn a_huge_sparse_file_with_no_limit_is_an_error() {
    let dir = TempDir::new("sparse");
    let path = dir.file("model.json");
    let huge = 100 << 30;
    for start in [
        "",
        r#"{"format":"tapegrad-mlp","version":2,"nin":1,"layers":["#,
    ] {
        fs::write(&path, start).unwrap();
        fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(huge)
            .unwrap();
        let msg = corrupt(Mlp::load_with_limit(&path, u64::MAX).unwrap_err());
        assert!(msg.contains("not valid JSON"), "{msg}");
        let column = format!("column {}", start.len() + 1);
        assert!(msg.contains(&column), "{msg}");
    }
}

// Pins a bug: `Mlp::load` on a FIFO with no writer waited forever.
#[cfg(unix)]
#[test]
fn a_fifo_is_refused_without_waiting() {
    let dir = TempDir::new("fifo");
    let path = dir.file("model.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(made.success());
    let err = Mlp::load(&path).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ModelError::Io(_)), "{err:?}");
    assert!(
        text.contains("model.json") && text.contains("FIFO"),
        "{text}"
    );
    let err = Mlp::load(&dir.0).unwrap_err().to_string();
    assert!(err.contains("a folder, not a regular file"), "{err}");
}

#[test]
fn utf8_is_checked_across_reads() {
    let dir = TempDir::new("utf8");
    let path = dir.file("model.json");
    let json = small_model().to_json();
    let at = json.find(r#""checksum":""#).unwrap() + 12;
    // Two-byte characters over the reader's buffer boundaries, at both parities.
    for pad in ["", "x"] {
        let long = format!("{pad}{}", "é".repeat(10_000));
        fs::write(&path, json.replacen(&json[at..at + 16], &long, 1)).unwrap();
        let msg = corrupt(Mlp::load(&path).unwrap_err());
        assert!(msg.contains("not 16 lowercase hex digits"), "{msg}");
    }
    // A byte that is not UTF-8 far into the file, and a sequence cut by the end.
    let mut bad = json
        .replacen(&json[at..at + 16], &"a".repeat(20_000), 1)
        .into_bytes();
    bad[at + 15_000] = 0xff;
    fs::write(&path, &bad).unwrap();
    let msg = corrupt(Mlp::load(&path).unwrap_err());
    assert!(
        msg.contains(&format!(
            "not UTF-8 text: an invalid byte sequence at byte {}",
            at + 15_000
        )),
        "{msg}"
    );
    let mut cut = json.as_bytes()[..at].to_vec();
    cut.push(0xc3);
    fs::write(&path, &cut).unwrap();
    let msg = corrupt(Mlp::load(&path).unwrap_err());
    assert!(msg.contains(&format!("at byte {}", cut.len() - 1)), "{msg}");
}

// Pins a bug: a valid 250-byte file name failed, the temporary name's suffix passing the
// 255-byte limit, and the error named the final path.
#[test]
fn long_file_names_save() {
    let dir = TempDir::new("longname");
    let name = format!("{}.json", "m".repeat(245));
    assert_eq!(name.len(), 250);
    let path = dir.file(&name);
    let model = small_model();
    model.save(&path).unwrap();
    assert_eq!(Mlp::load(&path).unwrap(), model);
    assert_eq!(dir.entries(), vec![name]);
}

// Pins a bug: saves wrote into a predictable, reused temporary name, so whatever was planted
// there (a file of another user, a hard link, a leftover read-only file) was written
// through, handed over, or blocked every later save.
#[test]
fn what_lies_at_the_old_temporary_name_is_left_alone() {
    let dir = TempDir::new("oldtmp");
    let path = dir.file("model.json");
    let old_name = dir.file(mlp::io::temp_prefix(&path).trim_end_matches('-'));
    let model = small_model();
    fs::write(&old_name, "planted").unwrap();
    model.save(&path).unwrap();
    assert_eq!(fs::read_to_string(&old_name).unwrap(), "planted");
    fs::remove_file(&old_name).unwrap();
    fs::create_dir(&old_name).unwrap();
    Mlp::new(2, &[3, 1], 0).save(&path).unwrap();
    assert_eq!(Mlp::load(&path).unwrap(), Mlp::new(2, &[3, 1], 0));
    fs::remove_dir(&old_name).unwrap();
    assert_eq!(dir.entries(), vec!["model.json".to_string()]);
}

#[cfg(unix)]
mod unix {
    use std::fs;
    use std::os::unix::fs::{PermissionsExt, symlink};
    use std::path::Path;

    use mlp::io::temp_prefix;
    use mlp::{Mlp, ModelError};

    use super::small_model;
    use crate::files::TempDir;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    // Pins two bugs: a file with mode 0600 came back 0644 after a save, and saving over a
    // setuid or setgid file kept those bits on a file now owned by whoever saved.
    #[test]
    fn saving_keeps_the_replaced_files_permissions_but_setuid_and_setgid() {
        let dir = TempDir::new("perms");
        let path = dir.file("model.json");
        let modes = [0o600, 0o640, 0o604, 0o4755, 0o2755, 0o6640];
        for m in modes {
            Mlp::new(2, &[3, 1], 0).save(&path).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(m)).unwrap();
            assert_eq!(mode(&path), m);
            small_model().save(&path).unwrap();
            assert_eq!(mode(&path), m & 0o777);
            assert_eq!(Mlp::load(&path).unwrap(), small_model());
        }
    }

    // Pins a bug: saving through a link replaced the link with a regular file.
    #[test]
    fn saving_through_a_link_writes_the_file_it_points_to() {
        let dir = TempDir::new("symlink");
        fs::create_dir(dir.file("real")).unwrap();
        let target = dir.file("real/model.json");
        Mlp::new(2, &[3, 1], 0).save(&target).unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o600)).unwrap();
        // A relative link, and an absolute link to that link.
        let link = dir.file("model.json");
        symlink("real/model.json", &link).unwrap();
        let link2 = dir.file("again.json");
        symlink(&link, &link2).unwrap();
        for (i, via) in [&link, &link2].into_iter().enumerate() {
            let model = Mlp::new(2, &[3, 1], 10 + i as u64);
            model.save(via).unwrap();
            for p in [&link, &link2] {
                assert!(fs::symlink_metadata(p).unwrap().file_type().is_symlink());
            }
            assert_eq!(Mlp::load(&target).unwrap(), model);
            assert_eq!(mode(&target), 0o600);
        }
        assert_eq!(dir.entries(), vec!["again.json", "model.json", "real"]);
        assert_eq!(fs::read_dir(dir.file("real")).unwrap().count(), 1);

        // A dangling link: the file it names is created.
        let dangling = dir.file("dangling.json");
        symlink("real/new.json", &dangling).unwrap();
        small_model().save(&dangling).unwrap();
        assert_eq!(Mlp::load(dir.file("real/new.json")).unwrap(), small_model());

        // A loop of links is an error, not a hang.
        symlink("loop-b", dir.file("loop-a")).unwrap();
        symlink("loop-a", dir.file("loop-b")).unwrap();
        let err = small_model().save(dir.file("loop-a")).unwrap_err();
        assert!(matches!(err, ModelError::Io(_)));
        assert!(err.to_string().contains("symbolic links"), "{err}");
    }

    #[test]
    fn links_planted_as_temporary_files_are_not_followed_or_removed() {
        let dir = TempDir::new("tmplink");
        let path = dir.file("model.json");
        let victim = dir.file("victim.txt");
        fs::write(&victim, "keep me").unwrap();
        let prefix = temp_prefix(&path);
        // At the old fixed name, and at names of the current scheme.
        let planted = [
            prefix.trim_end_matches('-').to_owned(),
            format!("{prefix}hard00"),
            format!("{prefix}sym000"),
        ];
        fs::hard_link(&victim, dir.file(&planted[0])).unwrap();
        fs::hard_link(&victim, dir.file(&planted[1])).unwrap();
        symlink(&victim, dir.file(&planted[2])).unwrap();
        for seed in 0..3 {
            Mlp::new(2, &[3, 1], seed).save(&path).unwrap();
            assert_eq!(Mlp::load(&path).unwrap(), Mlp::new(2, &[3, 1], seed));
        }
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me");
        let mut expect = planted.to_vec();
        expect.extend(["model.json".to_owned(), "victim.txt".to_owned()]);
        expect.sort();
        assert_eq!(dir.entries(), expect);
    }

    // Pins a bug: a save killed while replacing a 0444 model left a 0444 temporary file that
    // made every later save fail with "Permission denied".
    #[test]
    fn a_read_only_leftover_is_removed_and_does_not_block() {
        let dir = TempDir::new("readonly");
        let path = dir.file("model.json");
        let leftover = dir.file(&format!("{}killed", temp_prefix(&path)));
        fs::write(&leftover, "half a mod").unwrap();
        fs::set_permissions(&leftover, fs::Permissions::from_mode(0o444)).unwrap();
        Mlp::new(2, &[3, 1], 0).save(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o444)).unwrap();
        small_model().save(&path).unwrap();
        assert_eq!(Mlp::load(&path).unwrap(), small_model());
        assert_eq!(mode(&path), 0o444);
        assert_eq!(dir.entries(), vec!["model.json".to_string()]);
    }

    /// Set in the child process of `a_killed_save_leaves_the_old_or_the_new_model`: the file
    /// it saves to.
    const CHILD: &str = "MLP_TEST_SAVE_UNTIL_KILLED";

    /// Kills the child if the test fails before it does.
    struct Killer(std::process::Child);

    impl Drop for Killer {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    fn a_killed_save_leaves_the_old_or_the_new_model() {
        use std::io::{BufRead, BufReader};
        use std::process::{Command, Stdio};
        use std::time::{Duration, Instant};

        let models = [Mlp::new(2, &[16, 16, 1], 1), Mlp::new(2, &[16, 16, 1], 2)];
        if let Some(path) = std::env::var_os(CHILD) {
            // The child: saves the two models in turn until killed (or a minute has passed).
            models[0].save(&path).unwrap();
            // libtest may have written "test <name> ... " on the same line.
            println!("saving");
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(60) {
                for m in &models {
                    m.save(&path).unwrap();
                }
            }
            return;
        }
        let dir = TempDir::new("kill");
        let path = dir.file("model.json");
        let prefix = temp_prefix(&path);
        let exe = std::env::current_exe().unwrap();
        let test = "hostile::unix::a_killed_save_leaves_the_old_or_the_new_model";
        for round in 0..12u64 {
            let child = Command::new(&exe)
                .args(["--exact", test, "--nocapture", "--test-threads=1"])
                .env(CHILD, &path)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut child = Killer(child);
            let out = BufReader::new(child.0.stdout.take().unwrap());
            let saving = out
                .lines()
                .map(Result::unwrap)
                .any(|l| l.ends_with("saving"));
            assert!(saving, "the child process did not start saving");
            // A different moment of a save each round.
            std::thread::sleep(Duration::from_micros(300 + round * 1_237 % 9_000));
            drop(child);
            let loaded = Mlp::load(&path).unwrap();
            assert!(models.contains(&loaded), "round {round}");
            let entries = dir.entries();
            assert!(
                entries
                    .iter()
                    .all(|e| e == "model.json" || e.starts_with(&prefix)),
                "{entries:?}"
            );
        }
        // The next save takes over what a killed one left.
        models[0].save(&path).unwrap();
        assert_eq!(dir.entries(), vec!["model.json".to_string()]);
    }
}
