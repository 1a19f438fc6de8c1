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

/// How the name of every temporary file [`Mlp::save`] writes beside `path` starts:
/// `.tmp-<16 hex digits>-`, the digits a hash of `path`'s file name. Each save adds random
/// characters and creates its file exclusively, so no file planted under such a name is
/// ever written through; a later save removes what a killed save of the same user left
/// (a file of this prefix with one link, not locked by a save in progress).
///
/// ```
/// let prefix = mlp::io::temp_prefix("out/model.json");
/// assert_eq!(prefix.len(), 22);
/// assert!(prefix.starts_with(".tmp-") && prefix.ends_with('-'));
/// assert_eq!(prefix, mlp::io::temp_prefix("elsewhere/model.json"));
/// assert_ne!(prefix, mlp::io::temp_prefix("out/other.json"));
/// ```
pub fn temp_prefix(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    let name = path.file_name().unwrap_or(path.as_os_str());
    let hash = Fnv::new().bytes(name.as_encoded_bytes()).finish();
    format!(".tmp-{hash:016x}-")
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

/// Removes the temporary files of earlier saves to the same target that were killed: in
/// `dir`, regular files named with `prefix`, owned by the user who owns `ours` (this save's
/// file), with a single link (never a hard link to another file) and not locked (a save in
/// progress holds its file locked).
#[cfg(unix)]
fn remove_leftovers(dir: &Path, prefix: &str, ours: &Path) {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let (Ok(own), Ok(entries)) = (fs::symlink_metadata(ours), fs::read_dir(dir)) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path == ours
            || !entry
                .file_name()
                .as_encoded_bytes()
                .starts_with(prefix.as_bytes())
        {
            continue;
        }
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_file() || meta.uid() != own.uid() || meta.nlink() != 1 {
            continue;
        }
        let open = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(&path);
        let Ok(file) = open else {
            continue;
        };
        let same = file
            .metadata()
            .is_ok_and(|m| m.dev() == meta.dev() && m.ino() == meta.ino());
        if same && file.try_lock().is_ok() {
            let _ = fs::remove_file(&path);
        }
    }
}

#[cfg(not(unix))]
fn remove_leftovers(_: &Path, _: &str, _: &Path) {}

/// The permissions of the saved file: the replaced file's, without setuid and setgid (the
/// new file belongs to whoever saves); `None` for a new file.
fn target_permissions(target: &Path) -> Option<fs::Permissions> {
    let permissions = fs::metadata(target).ok()?.permissions();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        Some(fs::Permissions::from_mode(permissions.mode() & 0o1777))
    }
    #[cfg(not(unix))]
    Some(permissions)
}

impl Mlp {
    /// Writes the model as JSON to `path` atomically: to a new temporary file beside it
    /// (created exclusively under an unpredictable name starting with
    /// [`io::temp_prefix`](crate::io::temp_prefix)), flushed and synced, then renamed over
    /// `path`. A crash leaves either the old file or the new one, never half of one; the
    /// temporary file a killed save leaves is removed by the next save to `path`.
    ///
    /// If `path` is a symbolic link, the file it points to is replaced (the link stays). The
    /// replaced file's permissions are kept, except setuid and setgid, which are dropped; a
    /// new file gets the usual mode (`0o666` less the umask).
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
    /// written); [`ModelError::Io`] naming what failed (the folder, the temporary file, or
    /// the target for the rename) if creating, writing or renaming fails (the temporary
    /// file is removed).
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
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let json = self.to_json();
        let prefix = temp_prefix(&target);
        // Another save's cleanup may remove this save's file in the moment between its
        // creation and its lock: then the rename finds it gone, and the save starts over.
        let mut attempts = 1;
        loop {
            match write_and_rename(&json, dir, &prefix, &target) {
                Ok(()) => break,
                Err(Retry::Again(_)) if attempts < 3 => attempts += 1,
                Err(Retry::Again(e) | Retry::No(e)) => return Err(e),
            }
        }
        // Make the rename durable where directories can be synced (best effort).
        if let Ok(d) = File::open(dir) {
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
    /// buffer, whatever the limit. Measured (`crates/mlp/tests/load_memory.rs`, bytes
    /// allocated at the peak): 0.78 MB for a 1.8 MB file written by [`Mlp::save`] (0.43
    /// times its size: a parameter takes about 20 bytes of text and 8 of memory); 10 MB for
    /// a 1.8 MB hand-made file of one-weight neurons with one-digit numbers, the worst case
    /// (5.6 times; the model alone is 3.1 times, since a [`Neuron`](crate::Neuron) takes 40
    /// bytes where its text can take 16).
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

/// Why an attempt to save failed: worth another attempt (its file was removed), or not.
enum Retry {
    Again(ModelError),
    No(ModelError),
}

/// One attempt of [`Mlp::save`]: a fresh temporary file in `dir`, written, synced and
/// renamed to `target`. On failure the temporary file is removed (by `NamedTempFile`).
fn write_and_rename(json: &str, dir: &Path, prefix: &str, target: &Path) -> Result<(), Retry> {
    let permissions = target_permissions(target);
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix);
    #[cfg(unix)]
    if permissions.is_none() {
        // The mode a new file gets: the kernel applies the umask at creation.
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o666));
    }
    let tmp = builder
        .tempfile_in(dir)
        .map_err(|e| Retry::No(with_path(e, dir)))?;
    let name = tmp.path().to_path_buf();
    let failed = |e| Retry::No(with_path(e, &name));
    tmp.as_file().lock().map_err(failed)?;
    remove_leftovers(dir, prefix, &name);
    let mut file = tmp.as_file();
    file.write_all(json.as_bytes()).map_err(failed)?;
    file.write_all(b"\n").map_err(failed)?;
    if let Some(p) = permissions {
        file.set_permissions(p).map_err(failed)?;
    }
    file.sync_all().map_err(failed)?;
    match tmp.persist(target) {
        Ok(_) => Ok(()),
        Err(e) if e.error.kind() == io::ErrorKind::NotFound && !name.exists() => {
            Err(Retry::Again(with_path(e.error, &name)))
        }
        Err(e) => Err(Retry::No(with_path(e.error, target))),
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
