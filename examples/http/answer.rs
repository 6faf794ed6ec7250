//! What a request for a file gets, from the file's metadata and the request's conditional and
//! range fields (RFC 9110, 13 and 14): 200, 206, 304 or 416. Pure functions, so the rules are
//! tested without files.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use turbine::codec::Request;

use super::date;

/// What is known of a file: its validators and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta {
    /// Length in bytes.
    pub(crate) len: u64,
    /// Last modification, seconds since the Unix epoch (0 for earlier).
    pub(crate) mtime: u64,
    /// The nanoseconds of the last modification.
    pub(crate) mtime_nsec: u32,
    /// Inode number: a file replaced by another (a rename over it) has a new one.
    pub(crate) inode: u64,
}

impl Meta {
    /// From an open file's metadata.
    pub(crate) fn of(metadata: &Metadata) -> Meta {
        Meta {
            len: metadata.len(),
            mtime: u64::try_from(metadata.mtime()).unwrap_or(0),
            mtime_nsec: u32::try_from(metadata.mtime_nsec()).unwrap_or(0),
            inode: metadata.ino(),
        }
    }

    /// The entity tag: a strong validator from inode, length and modification time (to the
    /// nanosecond), so any change the file system records makes a new one.
    pub(crate) fn etag(&self) -> String {
        format!(
            "\"{:x}-{:x}-{:x}.{:x}\"",
            self.inode, self.len, self.mtime, self.mtime_nsec
        )
    }

    /// `Last-Modified`.
    pub(crate) fn last_modified(&self) -> String {
        date::format(self.mtime)
    }
}

/// A request's fields that decide between 200, 206, 304 and 416.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Conditions {
    /// `If-None-Match`.
    pub(crate) if_none_match: Option<String>,
    /// `If-Modified-Since`.
    pub(crate) if_modified_since: Option<String>,
    /// `Range`.
    pub(crate) range: Option<String>,
    /// `If-Range`.
    pub(crate) if_range: Option<String>,
}

impl Conditions {
    /// The fields of `request`. A list field sent on several lines is one list, as RFC 9110
    /// (5.3) has it: the lines of `If-None-Match` are joined with commas, and so are those of
    /// `Range` (several lines are several ranges, which this server ignores). A single-value
    /// field is taken from its first line.
    pub(crate) fn of(request: &Request) -> Conditions {
        let field = |name| {
            request
                .header(name)
                .map(|value| String::from_utf8_lossy(value).into_owned())
        };
        let list = |name: &str| {
            let lines: Vec<String> = request
                .headers()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
                .collect();
            (!lines.is_empty()).then(|| lines.join(", "))
        };
        Conditions {
            if_none_match: list("if-none-match"),
            if_modified_since: field("if-modified-since"),
            range: list("range"),
            if_range: field("if-range"),
        }
    }

    /// The answer to a `GET` (`get`) or `HEAD` of a file with `meta`, in RFC 9110's order
    /// (13.2.2): `If-None-Match` (when present, `If-Modified-Since` is not looked at), then
    /// `If-Modified-Since`, then `Range` for a `GET` only (a `HEAD` ignores it), unless an
    /// `If-Range` that does not match says the client's copy is stale.
    pub(crate) fn answer(&self, meta: &Meta, get: bool) -> Answer {
        if let Some(tags) = &self.if_none_match {
            if none_match_hits(tags, &meta.etag()) {
                return Answer::NotModified;
            }
        } else if let Some(since) = self.if_modified_since.as_deref().and_then(date::parse) {
            if meta.mtime <= since {
                return Answer::NotModified;
            }
        }
        let Some(range) = &self.range else {
            return Answer::Whole;
        };
        if !get || !self.if_range_holds(meta) {
            return Answer::Whole;
        }
        parse_range(range, meta.len)
    }

    /// Whether `If-Range` (if any) names the current file: the same entity tag, compared
    /// strongly, or exactly its `Last-Modified` date.
    fn if_range_holds(&self, meta: &Meta) -> bool {
        match self.if_range.as_deref().map(str::trim) {
            None => true,
            Some(tag) if tag.starts_with('"') => tag == meta.etag(),
            Some(tag) if tag.starts_with("W/") => false, // weak tags never match here
            Some(date) => date::parse(date) == Some(meta.mtime),
        }
    }
}

/// What a request for a file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// 304: the client's copy is current; no body.
    NotModified,
    /// 200: the whole file.
    Whole,
    /// 206: bytes `start..end` of it.
    Part {
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
    /// 416: the range lies past the end of the file.
    Unsatisfiable,
}

/// Whether an `If-None-Match` list holds the tag `etag` (or is `*`), by weak comparison:
/// `W/"x"` matches `"x"`.
fn none_match_hits(list: &str, etag: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// A `Range` value against a file of `len` bytes: one range of `bytes=a-b`, `a-` or `-n`.
/// What this server does not read (another unit, several ranges, bad syntax) is ignored, so
/// the whole file is sent, as RFC 9110 allows; a range starting past the end, or a suffix of
/// 0 bytes, is unsatisfiable. An empty file has one satisfiable form, a suffix of more than
/// 0 bytes (RFC 9110, 14.1.1), and no part to send of it: the whole (empty) file is sent.
fn parse_range(value: &str, len: u64) -> Answer {
    let Some((unit, spec)) = value.trim().split_once('=') else {
        return Answer::Whole;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return Answer::Whole;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Answer::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // -n: the last n bytes.
        return match position(last) {
            None => Answer::Whole,
            Some(0) => Answer::Unsatisfiable,
            Some(_) if len == 0 => Answer::Whole,
            Some(n) => Answer::Part {
                start: len - n.min(len),
                end: len,
            },
        };
    }
    // a- and a-b.
    let Some(start) = position(first) else {
        return Answer::Whole;
    };
    let last = match last {
        "" => None,
        digits => match position(digits) {
            Some(last) if last >= start => Some(last),
            _ => return Answer::Whole, // not a valid range: ignored
        },
    };
    if start >= len {
        return Answer::Unsatisfiable;
    }
    let end = last.map_or(len, |last| last.saturating_add(1).min(len));
    Answer::Part { start, end }
}

/// A byte position: decimal digits; one too long for a `u64` counts as the largest.
fn position(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse().unwrap_or(u64::MAX))
}

/// `Content-Type` by the served file's extension (case ignored).
pub(crate) fn content_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        Some("png") => "image/png",
        Some("jpg") => "image/jpeg",
        Some("svg") => "image/svg+xml",
        Some("wasm") => "application/wasm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: Meta = Meta {
        len: 1000,
        mtime: 784_111_777, // Sun, 06 Nov 1994 08:49:37 GMT
        mtime_nsec: 5,
        inode: 42,
    };

    fn range(value: &str) -> Answer {
        parse_range(value, META.len)
    }

    /// One range in its three forms, clamped to the file; what is past it is unsatisfiable;
    /// what this server does not read is ignored (the whole file).
    #[test]
    fn ranges() {
        let part = |start, end| Answer::Part { start, end };
        assert_eq!(range("bytes=0-99"), part(0, 100));
        assert_eq!(range("bytes=990-"), part(990, 1000));
        assert_eq!(range("bytes=-10"), part(990, 1000));
        assert_eq!(range("bytes=-5000"), part(0, 1000));
        assert_eq!(range("bytes=500-99999"), part(500, 1000));
        assert_eq!(range("BYTES = 1-1"), part(1, 2));
        assert_eq!(range("bytes=999-999"), part(999, 1000));
        assert_eq!(range("bytes=0-99999999999999999999999"), part(0, 1000));
        for unsatisfiable in ["bytes=1000-", "bytes=1000-2000", "bytes=-0"] {
            assert_eq!(
                range(unsatisfiable),
                Answer::Unsatisfiable,
                "{unsatisfiable}"
            );
        }
        assert_eq!(parse_range("bytes=0-", 0), Answer::Unsatisfiable);
        assert_eq!(parse_range("bytes=-1", 0), Answer::Whole);
        for ignored in [
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=5-1",
            "bytes=a-b",
            "bytes=-",
            "bytes=1",
            "0-1",
            "bytes=+1-2",
        ] {
            assert_eq!(range(ignored), Answer::Whole, "{ignored}");
        }
    }

    fn conditions(fields: &[(&str, &str)]) -> Conditions {
        let field = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        };
        Conditions {
            if_none_match: field("If-None-Match"),
            if_modified_since: field("If-Modified-Since"),
            range: field("Range"),
            if_range: field("If-Range"),
        }
    }

    /// `If-None-Match` (any tag of the list, weak or not, or `*`) and `If-Modified-Since`
    /// give 304; `If-None-Match` decides alone when present; a date that is not one is
    /// ignored.
    #[test]
    fn conditional_requests() {
        let etag = META.etag();
        let lm = META.last_modified();
        let answer = |fields: &[(&str, &str)]| conditions(fields).answer(&META, true);
        assert_eq!(answer(&[("If-None-Match", &etag)]), Answer::NotModified);
        let listed = format!("\"x\", W/{etag}");
        assert_eq!(answer(&[("If-None-Match", &listed)]), Answer::NotModified);
        assert_eq!(answer(&[("If-None-Match", "*")]), Answer::NotModified);
        assert_eq!(answer(&[("If-None-Match", "\"other\"")]), Answer::Whole);
        assert_eq!(answer(&[("If-Modified-Since", &lm)]), Answer::NotModified);
        let later = date::format(META.mtime + 10);
        assert_eq!(
            answer(&[("If-Modified-Since", &later)]),
            Answer::NotModified
        );
        let earlier = date::format(META.mtime - 1);
        assert_eq!(answer(&[("If-Modified-Since", &earlier)]), Answer::Whole);
        assert_eq!(
            answer(&[("If-Modified-Since", "not a date")]),
            Answer::Whole
        );
        let both = [("If-None-Match", "\"other\""), ("If-Modified-Since", &lm)];
        assert_eq!(answer(&both), Answer::Whole, "If-None-Match decides alone");
        // 304 comes before the range.
        let ranged = [("If-None-Match", &etag[..]), ("Range", "bytes=0-1")];
        assert_eq!(answer(&ranged), Answer::NotModified);
    }

    /// A range applies to `GET` only, and only while `If-Range` names the current file.
    #[test]
    fn if_range_and_head() {
        let etag = META.etag();
        let lm = META.last_modified();
        let part = Answer::Part { start: 0, end: 2 };
        let answer = |fields: &[(&str, &str)]| conditions(fields).answer(&META, true);
        assert_eq!(answer(&[("Range", "bytes=0-1")]), part);
        assert_eq!(
            conditions(&[("Range", "bytes=0-1")]).answer(&META, false),
            Answer::Whole,
            "HEAD ignores Range"
        );
        assert_eq!(answer(&[("Range", "bytes=0-1"), ("If-Range", &etag)]), part);
        assert_eq!(answer(&[("Range", "bytes=0-1"), ("If-Range", &lm)]), part);
        for stale in ["\"old\"", "Sun, 06 Nov 1994 08:49:36 GMT", "W/\"x\""] {
            let fields = [("Range", "bytes=0-1"), ("If-Range", stale)];
            assert_eq!(answer(&fields), Answer::Whole, "{stale}");
        }
    }

    /// Every listed extension, in any case; anything else is octet-stream.
    #[test]
    fn content_types() {
        let cases = [
            ("index.html", "text/html; charset=utf-8"),
            ("a.CSS", "text/css; charset=utf-8"),
            ("app.js", "text/javascript; charset=utf-8"),
            ("d.json", "application/json"),
            ("r.txt", "text/plain; charset=utf-8"),
            ("i.png", "image/png"),
            ("p.JPG", "image/jpeg"),
            ("v.svg", "image/svg+xml"),
            ("m.wasm", "application/wasm"),
            ("archive.tar.gz", "application/octet-stream"),
            ("README", "application/octet-stream"),
        ];
        for (name, want) in cases {
            assert_eq!(content_type(Path::new(name)), want, "{name}");
        }
    }
}
