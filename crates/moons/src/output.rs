//! Writing a run's files as one set, swapped in with one atomic step.
//!
//! Beside the output folder `N` (in its parent `P`) a run uses:
//!
//! | name | what | when it is gone |
//! |---|---|---|
//! | `P/.N.moons-lock` | an empty file the run holds a lock on, so that a second run into `N` is refused | removed when the run ends; left by a killed run and reused by the next |
//! | `P/.N.moons-staging-<pid>` | the new set, written in full; after the swap, the old set | removed at the end of the commit; left by a killed run and removed by the next run into `N` |
//! | `P/N.useless` | the files of a run judged useless when `N` already holds a set of its kind | replaced by the next useless run |
//!
//! The commit (Linux): the staging folder is exchanged with `N` by one
//! `renameat2(RENAME_EXCHANGE)`, so `N` shows the complete old set until that call and the
//! complete new set after it. Entries of the old folder that are not part of the new set (a
//! user's files, the other kind of run's files) are then moved back into `N` one by one, and
//! the replaced files removed. Where the exchange is not available (another system, or a file
//! system that refuses it), `N` is renamed aside and the staging folder renamed to `N`:
//! between the two renames `N` is missing, never a mix, and a killed run's folder aside is
//! renamed back by the next run.
//!
//! A stale staging folder is told apart from a swapped-out old one by a marker file,
//! `.moons-staged-<pid>`, written into the staging folder first and removed from `N` right
//! after the swap.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use crate::{AppError, EVAL_FILES, OUTPUT_FILES};

/// The environment variable of the test hook: `MOONS_TEST_DIE_AT=k` makes the process abort
/// (as a kill would: no destructor runs) right after the k-th change the commit makes to the
/// file system. Only the tests set it.
pub const DIE_AT: &str = "MOONS_TEST_DIE_AT";

/// Suffix of the folder beside `N` that takes a useless run's files.
pub const USELESS_SUFFIX: &str = ".useless";

/// Where a committed set went.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Committed {
    /// The folder the files are in: the output folder, or [`USELESS_SUFFIX`]'s folder.
    pub dir: PathBuf,
    /// The files, in the set's order.
    pub files: Vec<PathBuf>,
    /// The output folder, when it kept an earlier set because this one is useless.
    pub kept: Option<PathBuf>,
}

/// The output folder of one run, locked for the run's length. Dropping it removes the lock
/// file and, if the run wrote nothing, the folders it created above the output folder.
#[derive(Debug)]
pub(crate) struct Output {
    /// `--out` as the user typed it: every message names this.
    typed: PathBuf,
    /// The folder the set goes into (`--out` made absolute, symbolic links followed).
    dir: PathBuf,
    parent: PathBuf,
    name: OsString,
    lock: Option<File>,
    lock_path: PathBuf,
    /// The outermost folder this run created above `dir`.
    created: Option<PathBuf>,
    /// Changes made so far by the commit, for the test hook.
    changes: u32,
    die_at: Option<u32>,
    /// Lines to print as warnings: stale folders that could not be cleaned.
    pub warnings: Vec<String>,
}

/// Refuses an `--out` that exists and is not a folder, naming it.
pub(crate) fn check_out(out: &Path) -> Result<(), AppError> {
    match fs::metadata(out) {
        Ok(m) if !m.is_dir() => Err(AppError::Usage(format!(
            "--out `{}` exists and is not a folder; give a folder (it is created if missing)",
            out.display()
        ))),
        _ => Ok(()),
    }
}

/// Every name a run of either kind writes.
fn is_moons_file(name: &OsStr) -> bool {
    OUTPUT_FILES.iter().chain(&EVAL_FILES).any(|f| name == *f)
}

/// Whether a process with this id is running. Without `/proc`, none is taken to be: the
/// caller holds the lock, which a live run into the same folder would hold instead.
fn alive(pid: u32) -> bool {
    pid != std::process::id()
        && Path::new("/proc/self").exists()
        && Path::new("/proc").join(pid.to_string()).exists()
}

fn with_suffix(name: &OsStr, suffix: &str) -> OsString {
    let mut s = name.to_os_string();
    s.push(suffix);
    s
}

fn hidden(name: &OsStr, suffix: &str) -> OsString {
    let mut s = OsString::from(".");
    s.push(name);
    s.push(suffix);
    s
}

impl Output {
    /// Checks `out`, creates its missing parents, takes the lock and cleans what killed runs
    /// into it left.
    pub(crate) fn open(out: &Path) -> Result<Output, AppError> {
        check_out(out)?;
        let dir_error = |source: io::Error| AppError::OutputDir {
            path: out.to_path_buf(),
            source,
        };
        let mut dir = std::path::absolute(out).map_err(dir_error)?;
        if fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink()) {
            // The folder a link points to is replaced, not the link.
            dir = fs::canonicalize(&dir).map_err(dir_error)?;
        }
        let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
            return Err(AppError::Usage(format!(
                "--out `{}` has no folder name to write beside; name a folder, e.g. `out`",
                out.display()
            )));
        };
        let (parent, name) = (parent.to_path_buf(), name.to_os_string());
        let created = parent
            .ancestors()
            .take_while(|a| !a.exists())
            .last()
            .map(Path::to_path_buf);
        let mut output = Output {
            typed: out.to_path_buf(),
            lock_path: parent.join(hidden(&name, ".moons-lock")),
            dir,
            parent,
            name,
            lock: None,
            created,
            changes: 0,
            die_at: std::env::var(DIE_AT).ok().and_then(|v| v.parse().ok()),
            warnings: Vec::new(),
        };
        fs::create_dir_all(&output.parent).map_err(dir_error)?;
        output.lock = Some(output.take_lock()?);
        output.clean_stale();
        Ok(output)
    }

    fn take_lock(&self) -> Result<File, AppError> {
        let error = |source: io::Error| AppError::OutputDir {
            path: self.typed.clone(),
            source,
        };
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&self.lock_path)
                .map_err(error)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => {
                    return Err(AppError::Busy {
                        out: self.typed.clone(),
                        lock: self.lock_path.clone(),
                    });
                }
                Err(fs::TryLockError::Error(e)) => return Err(error(e)),
            }
            // A run that ended between our open and our lock removed the file: a lock on it
            // keeps no one out, so take the file now there.
            if same_file(&file, &self.lock_path) {
                return Ok(file);
            }
        }
    }

    /// Removes the staging folders of dead runs into this folder (and its useless
    /// sibling), putting back what they held that is not part of a set.
    fn clean_stale(&mut self) {
        let Ok(entries) = fs::read_dir(&self.parent) else {
            return;
        };
        let mut stale = Vec::new();
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            for target in [self.name.clone(), with_suffix(&self.name, USELESS_SUFFIX)] {
                for (kind, aside) in [(".moons-staging-", false), (".moons-old-", true)] {
                    let prefix = hidden(&target, kind);
                    let pid = file_name
                        .to_str()
                        .zip(prefix.to_str())
                        .and_then(|(f, p)| f.strip_prefix(p))
                        .and_then(|pid| pid.parse::<u32>().ok());
                    if let Some(pid) = pid.filter(|&pid| !alive(pid)) {
                        stale.push((entry.path(), self.parent.join(&target), pid, aside));
                    }
                }
            }
        }
        // Markers in the folders themselves: a run killed right after its set went in.
        for target in [
            self.dir.clone(),
            self.dir
                .with_file_name(with_suffix(&self.name, USELESS_SUFFIX)),
        ] {
            for entry in fs::read_dir(&target).into_iter().flatten().flatten() {
                let pid = entry
                    .file_name()
                    .to_str()
                    .and_then(|n| n.strip_prefix(MARKER)?.parse().ok());
                if pid.is_some_and(|pid| !alive(pid)) {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        for (folder, target, pid, aside) in stale {
            if aside && !target.exists() {
                // Killed between the two renames of the fallback: the old set goes back.
                if fs::rename(&folder, &target).is_ok() {
                    continue;
                }
            }
            let staged = folder.join(marker(pid)).exists();
            self.empty_old_folder(&folder, &target, staged);
            if fs::remove_dir(&folder).is_err() {
                self.warnings.push(format!(
                    "left `{}`: a killed run's folder that holds files moons did not write",
                    folder.display()
                ));
            }
        }
    }

    /// Empties a folder that held a set: its set files (all of them if it is a staged new
    /// set, else those that `target` now has newer copies of) are removed, anything else is
    /// moved into `target` where that name is free.
    fn empty_old_folder(&mut self, folder: &Path, target: &Path, staged: bool) {
        let Ok(entries) = fs::read_dir(folder) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let is_file = entry.file_type().is_ok_and(|t| !t.is_dir());
            let replaced = target.join(&name).exists();
            let is_marker = name.to_str().is_some_and(|n| n.starts_with(MARKER));
            if is_file && (is_marker || is_moons_file(&name) && (staged || replaced)) {
                let _ = fs::remove_file(entry.path());
            } else if !replaced && target.is_dir() {
                let _ = fs::rename(entry.path(), target.join(&name));
            } else {
                continue;
            }
            self.changed();
        }
    }

    /// The test hook: counts a change to the file system and dies at the chosen one.
    fn changed(&mut self) {
        self.changes += 1;
        if self.die_at == Some(self.changes) {
            std::process::abort();
        }
    }

    /// Writes `files` as one set: into the output folder, or, when `useless` and the output
    /// folder already holds a set of the same kind, into the useless folder beside it.
    pub(crate) fn commit(
        &mut self,
        files: &[(&'static str, Vec<u8>)],
        useless: bool,
    ) -> Result<Committed, AppError> {
        let names: Vec<&str> = files.iter().map(|(n, _)| *n).collect();
        let has_set = names.iter().any(|n| self.dir.join(n).exists());
        let (target_name, kept) = if useless && has_set {
            (
                with_suffix(&self.name, USELESS_SUFFIX),
                Some(self.typed.clone()),
            )
        } else {
            (self.name.clone(), None)
        };
        let target = self.parent.join(&target_name);
        let shown = if kept.is_some() {
            PathBuf::from(with_suffix(self.typed.as_os_str(), USELESS_SUFFIX))
        } else {
            self.typed.clone()
        };
        let error = |source: io::Error| AppError::Write {
            path: shown.clone(),
            source,
        };
        check_out(&target)?;
        for name in &names {
            if fs::symlink_metadata(target.join(name)).is_ok_and(|m| m.is_dir()) {
                return Err(AppError::Write {
                    path: shown.join(name),
                    source: io::Error::other("it is a folder; no file of this run was written"),
                });
            }
        }

        let pid = std::process::id();
        let staging = self
            .parent
            .join(hidden(&target_name, &format!(".moons-staging-{pid}")));
        fs::create_dir(&staging).map_err(error)?;
        let staged = (|| {
            fs::write(staging.join(marker(pid)), b"")?;
            for (name, contents) in files {
                fs::write(staging.join(name), contents)?;
            }
            Ok(())
        })();
        if let Err(e) = staged {
            let _ = fs::remove_dir_all(&staging); // only what this run just wrote
            return Err(error(e));
        }
        self.changed();

        if !target.exists() {
            fs::rename(&staging, &target).map_err(error)?;
            self.changed();
        } else {
            let old = self.swap(&staging, &target, &target_name).map_err(error)?;
            let _ = fs::remove_file(target.join(marker(pid)));
            self.changed();
            self.empty_old_folder(&old, &target, false);
            if fs::remove_dir(&old).is_err() {
                self.warnings.push(format!(
                    "left `{}`: it holds what moons could not move back into `{}`",
                    old.display(),
                    shown.display()
                ));
            }
        }
        let _ = fs::remove_file(target.join(marker(pid)));
        Ok(Committed {
            files: names.iter().map(|n| shown.join(n)).collect(),
            dir: shown,
            kept,
        })
    }

    /// Puts `staging` at `target` and returns where the old `target` is now.
    fn swap(&mut self, staging: &Path, target: &Path, target_name: &OsStr) -> io::Result<PathBuf> {
        match exchange(staging, target) {
            Ok(()) => {
                self.changed();
                return Ok(staging.to_path_buf());
            }
            Err(e) if !exchange_unsupported(&e) => return Err(e),
            Err(_) => {}
        }
        let aside = self.parent.join(hidden(
            target_name,
            &format!(".moons-old-{}", std::process::id()),
        ));
        fs::rename(target, &aside)?;
        self.changed();
        if let Err(e) = fs::rename(staging, target) {
            let _ = fs::rename(&aside, target);
            return Err(e);
        }
        self.changed();
        Ok(aside)
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if self.lock.is_some() {
            // Removed while still locked: a run that opened it meanwhile sees the lock held,
            // and one that opens it later makes a new file (see take_lock).
            let _ = fs::remove_file(&self.lock_path);
        }
        self.lock = None;
        if let Some(top) = &self.created {
            // Only folders left empty are removed: remove_dir fails on anything else.
            for dir in self.parent.ancestors() {
                if fs::remove_dir(dir).is_err() || dir == top {
                    break;
                }
            }
        }
    }
}

const MARKER: &str = ".moons-staged-";

/// The marker file a run writes first into its staging folder.
fn marker(pid: u32) -> String {
    format!("{MARKER}{pid}")
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &File, path: &Path) -> bool {
    path.exists()
}

/// Swaps two folders in one step.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let a = CString::new(a.as_os_str().as_bytes())?;
    let b = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: two NUL-terminated strings that outlive the call; the flag is the kernel's.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// Whether an [`exchange`] failed because the system or file system lacks it.
fn exchange_unsupported(e: &io::Error) -> bool {
    #[cfg(target_os = "linux")]
    if let Some(code) = e.raw_os_error() {
        return [libc::EINVAL, libc::ENOSYS, libc::EOPNOTSUPP].contains(&code);
    }
    e.kind() == io::ErrorKind::Unsupported
}
