//! What runs on the worker pool: finding a file under the root, opening it, reading its first
//! window, and later windows: into memory (the copy path) or into the page cache only (the
//! `sendfile` path). Everything here may wait on the disk, so nothing here runs on a reactor.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::answer::{Answer, Conditions, Meta, content_type};
use super::target::Target;

/// What every connection shares: where files are, and where prefetched windows go.
#[derive(Debug)]
pub(crate) struct Site {
    /// `HTTP_ROOT`, canonical (absolute, no symbolic link in it): every file served lies
    /// under it once its own path is made canonical.
    pub(crate) root: PathBuf,
    /// `/dev/null`, opened once: prefetching sends windows there.
    pub(crate) null: File,
}

impl Site {
    /// The site serving `root`.
    ///
    /// # Errors
    ///
    /// `root` does not exist or is not a directory; `/dev/null` cannot be opened.
    pub(crate) fn new(root: &Path) -> io::Result<Site> {
        let root = root.canonicalize()?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "not a directory",
            ));
        }
        let null = OpenOptions::new().write(true).open("/dev/null")?;
        Ok(Site { root, null })
    }
}

/// How a body's bytes reach the socket, and in what windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Carry {
    /// Read into memory on the pool, `chunk` bytes at a time, and queued as bytes (TLS, small
    /// bodies).
    Copy {
        /// Bytes per read.
        chunk: usize,
    },
    /// Brought into the page cache on the pool, `window` bytes at a time, and sent by the
    /// reactor with `sendfile`.
    ZeroCopy {
        /// Bytes per window.
        window: usize,
    },
}

/// What the first job is asked: a request for a file.
#[derive(Debug, Clone)]
pub(crate) struct Lookup {
    /// The path under the root.
    pub(crate) target: Target,
    /// The fields that choose 200, 206, 304 or 416.
    pub(crate) conditions: Conditions,
    /// `GET` (a body is sent) or `HEAD`.
    pub(crate) get: bool,
    /// How a body is carried.
    pub(crate) carry: Carry,
    /// Bodies shorter than this are copied even when `carry` says zero-copy: one `writev` of
    /// head and body beats a write and a `sendfile`.
    pub(crate) zero_copy_min: u64,
}

/// A window of a body, as a job brings it.
#[derive(Debug)]
pub(crate) enum Window {
    /// Its bytes (the copy path).
    Bytes(Vec<u8>),
    /// Its length: it is in the page cache, for `sendfile` (the zero-copy path).
    Cached(usize),
}

impl Window {
    /// Its length in bytes.
    pub(crate) fn len(&self) -> usize {
        match self {
            Window::Bytes(bytes) => bytes.len(),
            Window::Cached(len) => *len,
        }
    }
}

/// What the first job found.
#[derive(Debug)]
pub(crate) enum Found {
    /// No file to serve: missing, outside the root, not a regular file, unreadable: 404.
    Missing,
    /// A file, and what the request gets.
    File(Opened),
}

/// A file opened for a request.
#[derive(Debug)]
pub(crate) struct Opened {
    /// The open file, shared with the windows in the connection's output.
    pub(crate) file: Arc<File>,
    /// Its metadata when opened: validators and length.
    pub(crate) meta: Meta,
    /// `Content-Type`, by the served file's extension.
    pub(crate) content_type: &'static str,
    /// 200, 206, 304 or 416.
    pub(crate) answer: Answer,
    /// How the body goes, if there is one.
    pub(crate) carry: Carry,
    /// The body's first window (none without a body).
    pub(crate) first: Option<Window>,
}

/// The first job: resolves the target under the root, opens the file, answers the request's
/// conditions and brings the first window of the body.
///
/// # Errors
///
/// The file could not be read where its metadata said it has bytes (it shrank meanwhile):
/// the connection closes rather than promise a length it cannot send.
pub(crate) fn look_up(site: &Site, lookup: &Lookup) -> io::Result<Found> {
    let Some((path, file)) = open_under(&site.root, &lookup.target) else {
        return Ok(Found::Missing);
    };
    let Ok(metadata) = file.metadata() else {
        return Ok(Found::Missing);
    };
    if !metadata.is_file() {
        return Ok(Found::Missing); // replaced by something else since it was looked at
    }
    let meta = Meta::of(&metadata);
    let answer = lookup.conditions.answer(&meta, lookup.get);
    let body = match answer {
        Answer::Whole if lookup.get => Some((0, meta.len)),
        Answer::Part { start, end } => Some((start, end)),
        _ => None,
    };
    let carry = match lookup.carry {
        Carry::ZeroCopy { .. } if body.is_some_and(|(s, e)| e - s < lookup.zero_copy_min) => {
            // The whole body is shorter than `zero_copy_min`: one read of that size holds it.
            Carry::Copy {
                chunk: lookup.zero_copy_min as usize,
            }
        }
        carry => carry,
    };
    let first = match body {
        Some((start, end)) if end > start => Some(bring(site, &file, carry, start, end)?),
        _ => None,
    };
    Ok(Found::File(Opened {
        file: Arc::new(file),
        meta,
        content_type: content_type(&path),
        answer,
        carry,
        first,
    }))
}

/// A later window of a body: bytes `start..end` at most one window long. Checks first that
/// the file is still the one whose length and validators were sent.
///
/// # Errors
///
/// The file changed since it was opened, or ends early: the connection must close, since
/// the peer was promised other bytes.
pub(crate) fn next_window(
    site: &Site,
    file: &File,
    meta: &Meta,
    carry: Carry,
    start: u64,
    end: u64,
) -> io::Result<Window> {
    if Meta::of(&file.metadata()?) != *meta {
        return Err(io::Error::other("the file changed while it was sent"));
    }
    bring(site, file, carry, start, end)
}

/// Reads (copy) or prefetches (zero-copy) the window of `start..end` that `carry` allows.
fn bring(site: &Site, file: &File, carry: Carry, start: u64, end: u64) -> io::Result<Window> {
    match carry {
        Carry::Copy { chunk } => {
            let len = (end - start).min(chunk as u64) as usize;
            let mut bytes = vec![0; len];
            file.read_exact_at(&mut bytes, start)?;
            Ok(Window::Bytes(bytes))
        }
        Carry::ZeroCopy { window } => {
            let len = (end - start).min(window as u64) as usize;
            prefetch(&site.null, file, start, len)?;
            Ok(Window::Cached(len))
        }
    }
}

/// Brings bytes `start..start + len` of `file` into the page cache: `sendfile` to `/dev/null`
/// makes the kernel read the pages (waiting for the disk here, on the pool) and drop them at
/// once, with no copy into this process. Where that is refused, reads them into a scratch
/// buffer instead.
///
/// # Errors
///
/// The file ends before `start + len`, or cannot be read.
fn prefetch(null: &File, file: &File, start: u64, len: usize) -> io::Result<()> {
    let mut offset = start;
    let end = start + len as u64;
    while offset < end {
        let left = (end - offset) as usize;
        match rustix::fs::sendfile(null, file, Some(&mut offset), left) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return read_through(file, offset, end),
        }
    }
    Ok(())
}

/// Reads `offset..end` of `file` and drops the bytes: a prefetch the slow way.
fn read_through(file: &File, mut offset: u64, end: u64) -> io::Result<()> {
    let mut scratch = vec![0; 64 << 10];
    while offset < end {
        let want = ((end - offset) as usize).min(scratch.len());
        let n = file.read_at(&mut scratch[..want], offset)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        offset += n as u64;
    }
    Ok(())
}

/// The file `target` names, canonical and open, if it lies under `root` (which is canonical):
/// a directory's `index.html`; `None` for what is missing, leaves the root (through a symbolic
/// link: the target itself has no `..`), is not a regular file, or cannot be opened.
fn open_under(root: &Path, target: &Target) -> Option<(PathBuf, File)> {
    let mut path = root.join(&target.relative).canonicalize().ok()?;
    if !path.starts_with(root) {
        return None;
    }
    let mut metadata = std::fs::metadata(&path).ok()?;
    if metadata.is_dir() {
        path = path.join("index.html").canonicalize().ok()?;
        if !path.starts_with(root) {
            return None;
        }
        metadata = std::fs::metadata(&path).ok()?;
    } else if target.directory {
        return None; // `/file.txt/` names no directory
    }
    if !metadata.is_file() {
        return None;
    }
    // O_NONBLOCK: a FIFO put in the file's place since the check must not hold a worker
    // waiting for a writer; it changes nothing for a regular file. O_NOFOLLOW: nor may a
    // symbolic link put there.
    let flags = (rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOFOLLOW).bits();
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(flags as i32)
        .open(&path)
        .ok()?;
    Some((path, file))
}
