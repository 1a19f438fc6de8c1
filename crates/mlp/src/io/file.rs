//! Saving (atomic, through symbolic links, keeping permissions) and loading (capped).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};

use super::checksum::Fnv;
use crate::{Mlp, ModelError};

/// How many bytes [`Mlp::load`] reads at most: 64 MiB, room for about three million
/// parameters. [`Mlp::load_with_limit`] takes another limit.
///
/// ```
/// assert_eq!(mlp::io::DEFAULT_MAX_BYTES, 64 * 1024 * 1024);
/// ```
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;

/// Symbolic links followed before giving up (Linux's own limit).
const MAX_LINKS: usize = 40;

/// The temporary file [`Mlp::save`] writes before renaming it to `path`:
/// `.tmp-<16 hex digits>` beside it, the digits a hash of `path`'s file name. The name is
/// 21 bytes whatever `path`'s length, and the same on every save to `path`, so a save that
/// was killed leaves at most this one file, which the next save reuses.
///
/// ```
/// let tmp = mlp::io::temp_path("out/model.json");
/// assert_eq!(tmp.parent(), Some(std::path::Path::new("out")));
/// assert_eq!(tmp.file_name().unwrap().len(), 21);
/// assert_eq!(tmp, mlp::io::temp_path("out/model.json"));
/// assert_ne!(tmp, mlp::io::temp_path("out/other.json"));
/// ```
pub fn temp_path(path: impl AsRef<Path>) -> PathBuf {
    let path = path.as_ref();
    let name = path.file_name().unwrap_or(path.as_os_str());
    let hash = Fnv::new().bytes(name.as_encoded_bytes()).finish();
    path.with_file_name(format!(".tmp-{hash:016x}"))
}

fn with_path(e: io::Error, path: &Path) -> ModelError {
    ModelError::Io(io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// The file a save to `path` replaces: `path` itself, or the end of its chain of links.
fn resolve_links(path: &Path) -> Result<PathBuf, ModelError> {
    let mut at = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = fs::read_link(&at).map_err(|e| with_path(e, &at))?;
                // A relative link is relative to the folder holding it.
                at = match at.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(at),
        }
    }
    Err(with_path(
        io::Error::other("too many levels of symbolic links"),
        path,
    ))
}

/// Whether `file` is still the file at `path` (another save may have renamed it away while
/// this one waited for the lock).
#[cfg(unix)]
fn is_file_at(file: &File, path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let open = file.metadata()?;
    Ok(match fs::symlink_metadata(path) {
        Ok(now) => now.dev() == open.dev() && now.ino() == open.ino(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => return Err(e),
    })
}

/// Elsewhere a file open for writing cannot be renamed away, so it is still there.
#[cfg(not(unix))]
fn is_file_at(_: &File, _: &Path) -> io::Result<bool> {
    Ok(true)
}

/// Opens and locks the temporary file: concurrent saves to one path take turns, and each
/// writes a file that no other save holds open.
fn lock_temp(tmp: &Path) -> io::Result<File> {
    loop {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(tmp)?;
        file.lock()?;
        if is_file_at(&file, tmp)? {
            return Ok(file);
        }
        if fs::symlink_metadata(tmp).is_ok_and(|m| !m.file_type().is_file()) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "exists and is not a regular file",
            ));
        }
    }
}

impl Mlp {
    /// Writes the model as JSON to `path` atomically: to [`io::temp_path`](crate::io::temp_path)
    /// beside it (locked, so concurrent saves take turns), flushed and synced, then renamed
    /// over `path`. A crash leaves either the old file or the new one, never half of one;
    /// the temporary file it may leave is reused by the next save.
    ///
    /// If `path` is a symbolic link, the file it points to is replaced (the link stays);
    /// the replaced file's permissions are kept.
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
    /// written); [`ModelError::Io`] naming the file that failed (the temporary file, or the
    /// target for the rename) if writing or renaming fails (the temporary file is removed).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ModelError> {
        let path = path.as_ref();
        // Unreachable through the checked setters; kept so no file ever holds a `null`.
        if let Some(i) = self.parameters().iter().position(|p| !p.is_finite()) {
            return Err(ModelError::Corrupt(format!(
                "{} is {}: a model with non-finite parameters cannot be saved",
                self.parameter_name(i),
                self.parameters()[i]
            )));
        }
        if path.file_name().is_none() {
            return Err(with_path(
                io::Error::new(io::ErrorKind::InvalidInput, "not a file path"),
                path,
            ));
        }
        let target = resolve_links(path)?;
        let tmp = temp_path(&target);
        let json = self.to_json();
        let permissions = fs::metadata(&target).ok().map(|m| m.permissions());
        let mut file = lock_temp(&tmp).map_err(|e| with_path(e, &tmp))?;
        let write = |f: &mut File| -> io::Result<()> {
            f.set_len(0)?;
            if let Some(p) = permissions {
                f.set_permissions(p)?;
            }
            f.write_all(json.as_bytes())?;
            f.write_all(b"\n")?;
            f.flush()?;
            f.sync_all()
        };
        if let Err(e) = write(&mut file) {
            let _ = fs::remove_file(&tmp);
            return Err(with_path(e, &tmp));
        }
        // Renamed while locked, so a save waiting for the lock sees it gone and starts over.
        if let Err(e) = fs::rename(&tmp, &target) {
            let _ = fs::remove_file(&tmp);
            return Err(with_path(e, &target));
        }
        drop(file);
        // Make the rename durable where directories can be synced (best effort).
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Reads a model written by [`Mlp::save`], checked as [`Mlp::from_json`] does, reading
    /// at most [`io::DEFAULT_MAX_BYTES`](crate::io::DEFAULT_MAX_BYTES) (64 MiB); a larger
    /// file is [`ModelError::TooLarge`], and [`Mlp::load_with_limit`] takes a larger limit.
    ///
    /// Only a regular file (or a link to one) is read: a FIFO, a device or a folder is an
    /// error at once, never a wait. The file is read twice as a stream (its header, then the
    /// model) and its text is never held whole, so memory is the model's own plus a small
    /// buffer, whatever the limit.
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

    /// [`Mlp::load`] reading at most `max_bytes` instead of
    /// [`io::DEFAULT_MAX_BYTES`](crate::io::DEFAULT_MAX_BYTES): a regular file whose size is
    /// over the limit is refused before reading, and one that turns out longer than its size
    /// said (it grew, or it is a `/proc` file) once `max_bytes + 1` bytes are read. Nothing is
    /// reserved from the limit or the size, so `u64::MAX` is a safe "no limit".
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
    /// [`ModelError::TooLarge`] past the limit; [`ModelError::Io`] naming the path if it is
    /// not a regular file (kind `InvalidInput`), cannot be read, or memory runs out (kind
    /// `OutOfMemory`); otherwise as [`Mlp::from_json`], with the path in the message.
    pub fn load_with_limit(path: impl AsRef<Path>, max_bytes: u64) -> Result<Mlp, ModelError> {
        let path = path.as_ref();
        let too_large = |size| ModelError::TooLarge {
            path: path.to_path_buf(),
            size,
            limit: max_bytes,
        };
        let file = open_regular_file(path)?;
        let size = file.metadata().map_err(|e| with_path(e, path))?.len();
        if size > max_bytes {
            return Err(too_large(Some(size)));
        }
        // Two passes over the file (the header, then the model), neither holding its bytes:
        // memory is the model's, whatever the file's size or the limit.
        let mut file = Capped::new(file, max_bytes);
        let header = serde_json::from_reader(BufReader::new(&mut file));
        let model = super::build(header, || {
            file.restart().map_err(serde_json::Error::io)?;
            serde_json::from_reader(BufReader::new(&mut file))
        });
        let stop = file.stop;
        let named = |m: String| format!("{}: {m}", path.display());
        match (model, stop) {
            (Ok(model), _) => Ok(model),
            (Err(_), Some(Stop::TooLarge)) => Err(too_large(None)),
            (Err(_), Some(Stop::NotUtf8(at))) => Err(ModelError::Corrupt(named(format!(
                "not UTF-8 text: an invalid byte sequence at byte {at}"
            )))),
            (Err(ModelError::Corrupt(m)), None) => Err(ModelError::Corrupt(named(m))),
            (Err(ModelError::Mismatch(m)), None) => Err(ModelError::Mismatch(named(m))),
            (Err(ModelError::Io(e)), None) => Err(with_path(e, path)),
            (Err(other), None) => Err(other),
        }
    }
}

/// Opens `path` for reading if it is a regular file: a FIFO would block until a writer
/// comes, and a device may never end or may act on being opened.
fn open_regular_file(path: &Path) -> Result<File, ModelError> {
    let refuse = |t: fs::FileType| {
        with_path(
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{}, not a regular file: models are read from files",
                    kind(t)
                ),
            ),
            path,
        )
    };
    let before = fs::metadata(path).map_err(|e| with_path(e, path))?;
    if !before.is_file() {
        return Err(refuse(before.file_type()));
    }
    let mut options = OpenOptions::new();
    options.read(true);
    // If the file was swapped for a FIFO since the check, opening it does not wait.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path).map_err(|e| with_path(e, path))?;
    // The check that counts: what was opened.
    let opened = file.metadata().map_err(|e| with_path(e, path))?;
    if !opened.is_file() {
        return Err(refuse(opened.file_type()));
    }
    Ok(file)
}

/// What a file that is not a regular one is, for a message.
fn kind(t: fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() { "a folder" } else { "something" }
}

/// Why [`Capped`] stopped a read.
#[derive(Clone, Copy)]
enum Stop {
    /// More than the limit: the file grew, or its size was not its length (as in `/proc`).
    TooLarge,
    /// Not UTF-8 from this byte offset on.
    NotUtf8(u64),
}

/// The model file as read: at most `limit` bytes, checked to be UTF-8 as they arrive.
struct Capped {
    file: File,
    limit: u64,
    read: u64,
    /// The start of a UTF-8 sequence cut by the end of the last read.
    partial: ([u8; 4], usize),
    stop: Option<Stop>,
}

impl Capped {
    fn new(file: File, limit: u64) -> Self {
        Capped {
            file,
            limit,
            read: 0,
            partial: ([0; 4], 0),
            stop: None,
        }
    }

    /// Back to the first byte, for the second pass.
    fn restart(&mut self) -> io::Result<()> {
        self.file.rewind()?;
        self.read = 0;
        self.partial.1 = 0;
        Ok(())
    }

    /// Checks that `bytes`, which follow the ones already read, continue UTF-8 text; `at` is
    /// their offset in the file.
    fn check_utf8(&mut self, mut bytes: &[u8], mut at: u64) -> Result<(), Stop> {
        let (buf, len) = &mut self.partial;
        let sequence_at = at - *len as u64;
        while *len > 0 {
            let Some((&b, rest)) = bytes.split_first() else {
                return Ok(());
            };
            buf[*len] = b;
            *len += 1;
            (bytes, at) = (rest, at + 1);
            match std::str::from_utf8(&buf[..*len]) {
                Ok(_) => *len = 0,
                Err(e) if e.error_len().is_none() => {}
                Err(_) => return Err(Stop::NotUtf8(sequence_at)),
            }
        }
        match std::str::from_utf8(bytes) {
            Ok(_) => Ok(()),
            // A sequence cut by the end of this read: the next read completes it.
            Err(e) if e.error_len().is_none() => {
                let tail = &bytes[e.valid_up_to()..];
                buf[..tail.len()].copy_from_slice(tail);
                *len = tail.len();
                Ok(())
            }
            Err(e) => Err(Stop::NotUtf8(at + e.valid_up_to() as u64)),
        }
    }
}

impl Read for Capped {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(stop) = self.stop {
            return Err(stop.into());
        }
        // One byte past the limit is enough to know the file is longer.
        let room = self.limit.saturating_add(1) - self.read;
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.file.read(&mut buf[..want])?;
        let at = self.read;
        self.read += n as u64;
        let checked = if self.read > self.limit {
            Err(Stop::TooLarge)
        } else if n == 0 && want > 0 && self.partial.1 > 0 {
            Err(Stop::NotUtf8(at - self.partial.1 as u64))
        } else {
            self.check_utf8(&buf[..n], at)
        };
        checked.map_err(|stop| {
            self.stop = Some(stop);
            io::Error::from(stop)
        })?;
        Ok(n)
    }
}

impl From<Stop> for io::Error {
    fn from(stop: Stop) -> Self {
        io::Error::new(
            io::ErrorKind::InvalidData,
            match stop {
                Stop::TooLarge => "over the size limit",
                Stop::NotUtf8(_) => "not UTF-8",
            },
        )
    }
}
