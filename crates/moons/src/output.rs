//! Writing a run's files as one set: they are written into a staging folder beside the output
//! folder and moved in only when all of them are ready, so the output folder holds either the
//! old set or the new one; a failed run leaves no folder behind.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::AppError;

/// The staging folder of one run and what [`Stage::commit`] will move into place. Dropping it
/// uncommitted removes the staging folder and any folder it created on the way.
#[derive(Debug)]
pub struct Stage {
    out: PathBuf,
    staging: PathBuf,
    names: Vec<&'static str>,
    /// The outermost folder this run created above `out`, removed again if the run fails.
    created: Option<PathBuf>,
    committed: bool,
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

impl Stage {
    /// Creates the staging folder beside `out` (and `out`'s missing parents).
    pub(crate) fn new(out: &Path) -> Result<Stage, AppError> {
        check_out(out)?;
        let dir_error = |source: io::Error| AppError::OutputDir {
            path: out.to_path_buf(),
            source,
        };
        let absolute = std::path::absolute(out).map_err(dir_error)?;
        let (Some(parent), Some(name)) = (absolute.parent(), absolute.file_name()) else {
            return Err(AppError::Usage(format!(
                "--out `{}` has no folder name to write beside; name a folder, e.g. `out`",
                out.display()
            )));
        };
        let created = parent
            .ancestors()
            .take_while(|a| !a.exists())
            .last()
            .map(Path::to_path_buf);
        fs::create_dir_all(parent).map_err(dir_error)?;
        let stage = Stage {
            out: out.to_path_buf(),
            staging: parent.join(format!(
                ".{}.moons-staging-{}",
                name.to_string_lossy(),
                std::process::id()
            )),
            names: Vec::new(),
            created,
            committed: false,
        };
        // A folder of this name can only be left by a killed run of a process with this id.
        let _ = fs::remove_dir_all(&stage.staging);
        fs::create_dir(&stage.staging).map_err(|source| AppError::OutputDir {
            path: stage.staging.clone(),
            source,
        })?;
        Ok(stage)
    }

    /// Writes one file of the set into the staging folder.
    pub(crate) fn write(&mut self, name: &'static str, contents: &[u8]) -> Result<(), AppError> {
        let path = self.staging.join(name);
        fs::write(&path, contents).map_err(|source| AppError::Write { path, source })?;
        self.names.push(name);
        Ok(())
    }

    /// Moves the staged files into the output folder, all of them or (restoring the old
    /// files) none, and returns their final paths.
    pub(crate) fn commit(mut self) -> Result<Vec<PathBuf>, AppError> {
        let finals: Vec<PathBuf> = self.names.iter().map(|n| self.out.join(n)).collect();
        if !self.out.exists() {
            fs::rename(&self.staging, &self.out).map_err(|source| AppError::OutputDir {
                path: self.out.clone(),
                source,
            })?;
            self.committed = true;
            return Ok(finals);
        }
        check_out(&self.out)?;
        for path in &finals {
            if fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
                return Err(AppError::Write {
                    path: path.clone(),
                    source: io::Error::other("it is a folder; no file of this run was written"),
                });
            }
        }
        let backup = self.staging.with_extension("old");
        let _ = fs::remove_dir_all(&backup);
        fs::create_dir(&backup).map_err(|source| AppError::OutputDir {
            path: backup.clone(),
            source,
        })?;
        let mut saved = Vec::new();
        let mut moved = Vec::new();
        let mut result = Ok(());
        for (&name, path) in self.names.iter().zip(&finals) {
            if path.exists() {
                if let Err(source) = fs::rename(path, backup.join(name)) {
                    result = Err((path.clone(), source));
                    break;
                }
                saved.push(name);
            }
            if let Err(source) = fs::rename(self.staging.join(name), path) {
                result = Err((path.clone(), source));
                break;
            }
            moved.push(name);
        }
        if let Err((path, source)) = result {
            for name in moved {
                let _ = fs::rename(self.out.join(name), self.staging.join(name));
            }
            for &name in &saved {
                let _ = fs::rename(backup.join(name), self.out.join(name));
            }
            let _ = fs::remove_dir(&backup);
            return Err(AppError::Write { path, source });
        }
        for name in saved {
            let _ = fs::remove_file(backup.join(name));
        }
        let _ = fs::remove_dir(&backup);
        let _ = fs::remove_dir(&self.staging);
        self.committed = true;
        Ok(finals)
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        for name in &self.names {
            let _ = fs::remove_file(self.staging.join(name));
        }
        let _ = fs::remove_dir(&self.staging);
        if let Some(top) = &self.created {
            // Only folders left empty are removed: remove_dir fails on anything else.
            let parent = self.staging.parent().map(Path::to_path_buf);
            for dir in parent.iter().flat_map(|p| p.ancestors()) {
                if fs::remove_dir(dir).is_err() || dir == top {
                    break;
                }
            }
        }
    }
}
