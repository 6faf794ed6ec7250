//! From a request target to a path under the root: percent-decoded once, then checked segment
//! by segment, on the reactor (no file system access: that is the worker pool's).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// What a request target names, relative to the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// Normal segments only (no `..`, `.`, empty or absolute ones): joined to the root, it
    /// cannot leave it but through a symbolic link, which the worker pool checks.
    pub(crate) relative: PathBuf,
    /// The target ended with `/`: it must be a directory (served by its `index.html`).
    pub(crate) directory: bool,
}

/// The path of a target (origin form `/a/b`, or absolute form `http://host/a/b`; the query
/// already cut off), percent-decoded once; `None`, answered 404, for what must not or cannot
/// name a file under the root: a `..` segment (written plainly or encoded, `%2e%2e`, or made
/// by an encoded slash, `..%2F`), a NUL byte, a bad escape, a target that is not a path.
///
/// Decoding happens once, before splitting, so `%2F` is a separator like `/`, and `%252e`
/// stays the three characters `%2e` (a file may be called that).
pub(crate) fn parse(path: &str) -> Option<Target> {
    let path = strip_authority(path)?;
    if !path.starts_with('/') {
        return None;
    }
    let decoded = percent_decode(path.as_bytes())?;
    if decoded.contains(&0) {
        return None;
    }
    let mut relative = PathBuf::new();
    for segment in decoded.split(|&b| b == b'/') {
        match segment {
            b"" | b"." => {}
            b".." => return None,
            name => relative.push(OsStr::from_bytes(name)),
        }
    }
    Some(Target {
        relative,
        directory: decoded.ends_with(b"/"),
    })
}

/// The path of an absolute-form target (`http://host:port/path`, which a server must accept,
/// RFC 9112 3.2.2), or the target itself.
fn strip_authority(target: &str) -> Option<&str> {
    let lower = |n: usize| target.get(..n).map(str::to_ascii_lowercase);
    let scheme = if lower(7).as_deref() == Some("http://") {
        7
    } else if lower(8).as_deref() == Some("https://") {
        8
    } else {
        return Some(target);
    };
    let rest = &target[scheme..];
    Some(rest.find('/').map_or("/", |slash| &rest[slash..]))
}

/// `%XX` escapes replaced by their byte; `None` for a `%` not followed by two hex digits.
fn percent_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut bytes = input.iter();
    while let Some(&b) = bytes.next() {
        if b != b'%' {
            out.push(b);
            continue;
        }
        let hi = hex(*bytes.next()?)?;
        let lo = hex(*bytes.next()?)?;
        out.push(hi << 4 | lo);
    }
    Some(out)
}

/// A hex digit's value.
fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relative(path: &str) -> Option<String> {
        parse(path).map(|t| t.relative.to_string_lossy().into_owned())
    }

    /// Plain paths, escapes, empty and `.` segments, absolute form.
    #[test]
    fn paths_under_the_root() {
        assert_eq!(relative("/"), Some(String::new()));
        assert_eq!(relative("/a/b.txt"), Some("a/b.txt".into()));
        assert_eq!(relative("/a%20b/c%2Fd"), Some("a b/c/d".into()));
        assert_eq!(relative("//etc/passwd"), Some("etc/passwd".into()));
        assert_eq!(relative("/./a/./b"), Some("a/b".into()));
        assert_eq!(relative("/%252e%252e/x"), Some("%2e%2e/x".into()));
        assert_eq!(relative("/a..b/..c"), Some("a..b/..c".into()));
        assert_eq!(relative("http://example.com/a/b"), Some("a/b".into()));
        assert_eq!(relative("HTTPS://example.com"), Some(String::new()));
        assert!(parse("/docs/").unwrap().directory);
        assert!(!parse("/docs").unwrap().directory);
    }

    /// Every way out of the root, and what cannot be decoded, is refused.
    #[test]
    fn ways_out_are_refused() {
        for path in [
            "/../x",
            "/a/../../x",
            "/%2e%2e/x",
            "/%2E%2E%2Fx",
            "/a/%2e%2E",
            "/..",
            "/a%00b",
            "/%zz",
            "/%4",
            "*",
            "x/y",
            "http://example.com/../x",
        ] {
            assert_eq!(parse(path), None, "{path}");
        }
    }
}
