//! What runs on the worker pool: finding a file under the root, opening it, reading its first
//! window, and later windows: into memory (the copy path) or into the page cache only (the
//! `sendfile` path). Everything here may wait on the disk, so nothing here runs on a reactor.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustix::fs::{Mode, OFlags, ResolveFlags};

use super::answer::{Answer, Conditions, Meta, content_type};
use super::target::Target;

/// What every connection shares: where files are, and where prefetched windows go.
#[derive(Debug)]
pub(crate) struct Site {
    /// `HTTP_ROOT`, canonical (absolute, no symbolic link in it): every file served lies
    /// under it once its own path is made canonical.
    pub(crate) root: PathBuf,
    /// The root, open: paths are resolved beneath it by the kernel (`openat2`).
    dir: File,
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
        let dir = File::open(&root)?;
        let null = OpenOptions::new().write(true).open("/dev/null")?;
        Ok(Site { root, dir, null })
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
    let Some((path, file, metadata)) = open_under(site, &lookup.target) else {
        return Ok(Found::Missing);
    };
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
        Some((start, end)) if end > start => Some(bring(site, &file, &meta, carry, start, end)?),
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

/// `Err` if `file` is no longer the one `meta` describes (its length or validators moved).
fn unchanged(file: &File, meta: &Meta) -> io::Result<()> {
    if Meta::of(&file.metadata()?) != *meta {
        return Err(io::Error::other("the file changed while it was sent"));
    }
    Ok(())
}

/// Reads (copy) or prefetches (zero-copy) the window of `start..end` that `carry` allows, a
/// body's first or a later one, then checks the file is still the one `meta` describes: a file
/// rewritten before or during the read must not go out under the old validators.
///
/// # Errors
///
/// The file changed since it was opened, or ends early: the connection must close, since
/// the peer was promised other bytes.
pub(crate) fn bring(
    site: &Site,
    file: &File,
    meta: &Meta,
    carry: Carry,
    start: u64,
    end: u64,
) -> io::Result<Window> {
    let window = match carry {
        Carry::Copy { chunk } => {
            let len = (end - start).min(chunk as u64) as usize;
            let mut bytes = vec![0; len];
            file.read_exact_at(&mut bytes, start)?;
            Window::Bytes(bytes)
        }
        Carry::ZeroCopy { window } => {
            let len = (end - start).min(window as u64) as usize;
            prefetch(&site.null, file, start, len)?;
            Window::Cached(len)
        }
    };
    unchanged(file, meta)?;
    Ok(window)
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

/// The file `target` names, open, with its metadata and the name its type comes from, if it
/// lies under the root: a directory's `index.html`; `None` for what is missing, leaves the
/// root (through a symbolic link: the target itself has no `..`), is not a regular file, or
/// cannot be opened.
///
/// The kernel resolves the path beneath the root's descriptor (`openat2` with
/// `RESOLVE_BENEATH`), in one system call and with no window between a check and the open.
/// What it refuses without saying where a link leads (an absolute link, one that climbs above
/// the root and back) and a kernel without `openat2` (before 5.6) get [`open_canonical`]
/// instead: a link that stays under the root is served, one that leaves it is not.
fn open_under(site: &Site, target: &Target) -> Option<(PathBuf, File, Metadata)> {
    let (file, metadata) = match open_beneath(&site.dir, &target.relative) {
        // No `openat2` (before Linux 5.6, or refused by a seccomp filter), or a symbolic link
        // `RESOLVE_BENEATH` refuses whatever it points at (an absolute one, or one that
        // climbs above the root and back): the canonical path decides.
        Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM | rustix::io::Errno::XDEV) => {
            return open_canonical(&site.root, target);
        }
        opened => opened.ok()?,
    };
    let (name, file, metadata) = if metadata.is_dir() {
        let index = target.relative.join("index.html");
        let (file, metadata) = open_beneath(&site.dir, &index).ok()?;
        (index, file, metadata)
    } else if target.directory {
        return None; // `/file.txt/` names no directory
    } else {
        (target.relative.clone(), file, metadata)
    };
    metadata.is_file().then_some((name, file, metadata))
}

/// Opens `relative` beneath the directory `dir`, and reads its metadata.
///
/// O_NONBLOCK: a FIFO must not hold a worker waiting for a writer (the type is checked after
/// the open); it changes nothing for a regular file.
fn open_beneath(dir: &File, relative: &Path) -> rustix::io::Result<(File, Metadata)> {
    let relative = if relative.as_os_str().is_empty() {
        Path::new(".")
    } else {
        relative
    };
    let fd = rustix::fs::openat2(
        dir,
        relative,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
    )?;
    let file = File::from(fd);
    let metadata = file.metadata().map_err(|_| rustix::io::Errno::IO)?;
    Ok((file, metadata))
}

/// [`open_under`] without `openat2`: the path made canonical (every link followed) must stay
/// under the canonical root, then is opened with O_NOFOLLOW, so a link put in its place since
/// cannot lead elsewhere (a directory on the way swapped for a link can, in that window: the
/// reason `openat2` comes first).
fn open_canonical(root: &Path, target: &Target) -> Option<(PathBuf, File, Metadata)> {
    let mut path = root.join(&target.relative).canonicalize().ok()?;
    if !path.starts_with(root) {
        return None;
    }
    if std::fs::metadata(&path).ok()?.is_dir() {
        path = path.join("index.html").canonicalize().ok()?;
        if !path.starts_with(root) {
            return None;
        }
    } else if target.directory {
        return None;
    }
    let flags = (OFlags::NONBLOCK | OFlags::NOFOLLOW).bits();
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(flags as i32)
        .open(&path)
        .ok()?;
    let metadata = file.metadata().ok()?;
    metadata.is_file().then_some((path, file, metadata))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::super::target;
    use super::*;

    /// Both ways of opening under the root agree: files and links within it are served,
    /// directories by their `index.html`, links out of it (to a file, to a directory, through
    /// a directory) and what is not a regular file are not.
    #[test]
    fn opening_under_the_root() {
        let dir = std::env::temp_dir().join(format!("turbine-http-files-{}", std::process::id()));
        let root = dir.join("www");
        std::fs::create_dir_all(root.join("docs")).unwrap();
        std::fs::create_dir_all(root.join("empty")).unwrap();
        std::fs::write(dir.join("secret.txt"), b"secret").unwrap();
        std::fs::write(root.join("a.txt"), b"alpha").unwrap();
        std::fs::write(root.join("docs/index.html"), b"docs").unwrap();
        symlink("a.txt", root.join("alias.txt")).unwrap();
        symlink("../a.txt", root.join("docs/up.txt")).unwrap();
        symlink(dir.join("secret.txt"), root.join("out")).unwrap();
        symlink("../secret.txt", root.join("rel-out")).unwrap();
        symlink(&dir, root.join("parent")).unwrap();
        let site = Site::new(&root).unwrap();
        let open = |path: &str| {
            let target = target::parse(path).unwrap();
            let beneath = open_under(&site, &target).map(|(_, file, _)| read(&file));
            let canonical = open_canonical(&site.root, &target).map(|(_, file, _)| read(&file));
            assert_eq!(beneath, canonical, "{path}: both ways agree");
            beneath
        };
        assert_eq!(open("/a.txt").as_deref(), Some(&b"alpha"[..]));
        assert_eq!(open("/alias.txt").as_deref(), Some(&b"alpha"[..]));
        assert_eq!(open("/docs/up.txt").as_deref(), Some(&b"alpha"[..]));
        assert_eq!(open("/docs").as_deref(), Some(&b"docs"[..]));
        assert_eq!(open("/docs/").as_deref(), Some(&b"docs"[..]));
        for refused in [
            "/out",
            "/rel-out",
            "/parent/secret.txt",
            "/empty",
            "/a.txt/",
            "/nope",
        ] {
            assert_eq!(open(refused), None, "{refused}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn read(file: &File) -> Vec<u8> {
        let mut bytes = vec![0; 64];
        let n = file.read_at(&mut bytes, 0).unwrap();
        bytes.truncate(n);
        bytes
    }
}
