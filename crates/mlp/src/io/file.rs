//! Saving (atomic) and loading (capped).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Mlp, ModelError};

/// How many bytes [`Mlp::load`] reads at most: 64 MiB, room for about three million
/// parameters. [`Mlp::load_with_limit`] takes another limit.
///
/// ```
/// assert_eq!(mlp::io::DEFAULT_MAX_BYTES, 64 * 1024 * 1024);
/// ```
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;

fn with_path(e: io::Error, path: &Path) -> ModelError {
    ModelError::Io(io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

impl Mlp {
    /// Writes the model as JSON to `path` atomically: to `<path>.tmp-<pid>-<n>` in the same
    /// folder (`n` counts this process's saves), flushed and synced, then renamed over
    /// `path`. A crash leaves either the old
    /// file or the new one, never half of one.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("mlp-doc-save-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let path = dir.join("model.json");
    /// let m = mlp::Mlp::new(2, &[16, 16, 1], 1337);
    /// m.save(&path)?;
    /// assert_eq!(mlp::Mlp::load(&path)?, m);
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), mlp::ModelError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ModelError::Corrupt`] if a parameter is not finite (JSON cannot hold it; nothing is
    /// written); [`ModelError::Io`] naming the path if writing or renaming fails (the
    /// temporary file is removed).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ModelError> {
        let path = path.as_ref();
        if let Some(i) = self.parameters().iter().position(|p| !p.is_finite()) {
            return Err(ModelError::Corrupt(format!(
                "{} is {}: a model with non-finite parameters cannot be saved",
                self.parameter_name(i),
                self.parameters()[i]
            )));
        }
        let json = self.to_json();
        let name = path.file_name().ok_or_else(|| {
            ModelError::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: not a file path", path.display()),
            ))
        })?;
        let mut tmp_name = name.to_os_string();
        // The pid keeps processes apart, the counter threads of one process.
        static SAVES: AtomicU64 = AtomicU64::new(0);
        let n = SAVES.fetch_add(1, Ordering::Relaxed);
        tmp_name.push(format!(".tmp-{}-{n}", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let write = || -> io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(json.as_bytes())?;
            f.write_all(b"\n")?;
            f.flush()?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, path)
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(with_path(e, path));
        }
        // Make the rename durable where directories can be synced (best effort).
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Reads a model written by [`Mlp::save`], checked as [`Mlp::from_json`] does, reading
    /// at most [`io::DEFAULT_MAX_BYTES`](crate::io::DEFAULT_MAX_BYTES).
    ///
    /// ```
    /// let err = mlp::Mlp::load("/nonexistent/model.json").unwrap_err();
    /// assert!(matches!(err, mlp::ModelError::Io(_)));
    /// assert!(err.to_string().contains("/nonexistent/model.json"));
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Mlp::load_with_limit`].
    pub fn load(path: impl AsRef<Path>) -> Result<Mlp, ModelError> {
        Mlp::load_with_limit(path, DEFAULT_MAX_BYTES)
    }

    /// [`Mlp::load`] reading at most `max_bytes`: a longer file (or one that never ends,
    /// like `/dev/zero`) is an error once `max_bytes + 1` bytes are read, and a regular file
    /// whose size is over the limit is refused before reading.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("mlp-doc-limit-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let path = dir.join("model.json");
    /// mlp::Mlp::new(2, &[16, 16, 1], 1).save(&path)?;
    /// let err = mlp::Mlp::load_with_limit(&path, 1000).unwrap_err();
    /// assert!(matches!(err, mlp::ModelError::TooLarge { limit: 1000, .. }));
    /// assert!(mlp::Mlp::load_with_limit(&path, 1 << 20).is_ok());
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), mlp::ModelError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ModelError::TooLarge`] past the limit; [`ModelError::Io`] naming the path if it
    /// cannot be read; otherwise as [`Mlp::from_json`], with the path in the message.
    pub fn load_with_limit(path: impl AsRef<Path>, max_bytes: u64) -> Result<Mlp, ModelError> {
        let path = path.as_ref();
        let too_large = |size| ModelError::TooLarge {
            path: path.to_path_buf(),
            size,
            limit: max_bytes,
        };
        let file = File::open(path).map_err(|e| with_path(e, path))?;
        let meta = file.metadata().map_err(|e| with_path(e, path))?;
        if meta.is_file() && meta.len() > max_bytes {
            return Err(too_large(Some(meta.len())));
        }
        let expect = if meta.is_file() { meta.len() } else { 0 };
        let mut bytes = Vec::with_capacity(usize::try_from(expect).unwrap_or(0));
        file.take(max_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| with_path(e, path))?;
        if bytes.len() as u64 > max_bytes {
            return Err(too_large(None));
        }
        let named = |m: String| format!("{}: {m}", path.display());
        if let Err(e) = std::str::from_utf8(&bytes) {
            return Err(ModelError::Corrupt(named(format!("not UTF-8 text: {e}"))));
        }
        Mlp::from_json_bytes(&bytes).map_err(|e| match e {
            ModelError::Corrupt(m) => ModelError::Corrupt(named(m)),
            ModelError::Mismatch(m) => ModelError::Mismatch(named(m)),
            other => other,
        })
    }
}
