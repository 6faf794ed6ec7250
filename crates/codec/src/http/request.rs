//! `Request`: a parsed HTTP/1.x request, and reading its head with `httparse`.

use super::{MAX_HEADERS, Refusal};

/// The protocol version of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: the connection closes after the response unless the request asks to keep it.
    Http10,
    /// HTTP/1.1: the connection stays open unless the request says `Connection: close`.
    Http11,
}

/// An HTTP/1.x request: method, target, version, header fields in order, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    method: String,
    target: String,
    version: Version,
    /// Names as sent; values as bytes (they need not be UTF-8).
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Request {
    /// The method, as sent (`GET`, `HEAD`, ...; methods are case-sensitive).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request target as sent: path and query, still percent-encoded.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The target's path (before any `?`), still percent-encoded.
    pub fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(&self.target, |(path, _)| path)
    }

    /// The target's query (after the first `?`), if any.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, query)| query)
    }

    /// The protocol version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The value of the first header field named `name` (compared ignoring ASCII case).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_slice())
    }

    /// Every header field, in the order sent.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// The body (empty without `Content-Length`).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Whether the connection stays open after the response: HTTP/1.1 unless a `Connection`
    /// field says `close`, HTTP/1.0 only if one says `keep-alive`.
    pub fn keep_alive(&self) -> bool {
        let says = |token: &str| {
            self.headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
                .flat_map(|(_, v)| v.split(|&b| b == b','))
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
        };
        match self.version {
            Version::Http11 => !says("close"),
            Version::Http10 => says("keep-alive") && !says("close"),
        }
    }

    /// The body's length as the head declares it: 0 without `Content-Length`.
    pub(super) fn body_length(&self) -> Result<u64, Refusal> {
        if self
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"))
        {
            let with_length = self
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-length"));
            return Err(if with_length {
                Refusal::Ambiguous
            } else {
                Refusal::TransferEncoding {
                    method: self.method.clone(),
                }
            });
        }
        let mut length = None;
        for (_, value) in self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        {
            let parsed = parse_length(value)
                .ok_or_else(|| Refusal::Malformed("Content-Length is not a length".into()))?;
            match length {
                Some(earlier) if earlier != parsed => return Err(Refusal::Ambiguous),
                _ => length = Some(parsed),
            }
        }
        Ok(length.unwrap_or(0))
    }

    /// The request with its body.
    pub(super) fn with_body(mut self, body: Vec<u8>) -> Request {
        self.body = body;
        self
    }
}

/// A `Content-Length` value: decimal digits only (no sign, no spaces inside, at most 18 so it
/// cannot overflow), as RFC 9110 has it.
fn parse_length(value: &[u8]) -> Option<u64> {
    let digits = value.trim_ascii();
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Parses a whole head (request line, fields, the empty line).
pub(super) fn parse_head(head: &[u8]) -> Result<Request, Refusal> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut fields);
    match parsed.parse(head) {
        // httparse also ends a head at a bare `\n\n`: a head that ends before the `\r\n\r\n`
        // the codec found would hide what follows (another request, a `Content-Length`) from
        // the codec, a smuggling step behind a proxy that reads it the other way.
        Ok(httparse::Status::Complete(n)) if n != head.len() => {
            return Err(Refusal::Malformed(
                "a head ended by a bare line feed".into(),
            ));
        }
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(Refusal::Malformed("the head ends early".into()));
        }
        Err(httparse::Error::TooManyHeaders) => return Err(Refusal::TooManyHeaders),
        Err(e) => return Err(Refusal::Malformed(e.to_string())),
    }
    let version = match parsed.version {
        Some(0) => Version::Http10,
        Some(1) => Version::Http11,
        _ => return Err(Refusal::Malformed("not HTTP/1.0 or HTTP/1.1".into())),
    };
    let (Some(method), Some(target)) = (parsed.method, parsed.path) else {
        return Err(Refusal::Malformed("no request line".into()));
    };
    let headers = parsed
        .headers
        .iter()
        .map(|h| (h.name.to_string(), h.value.to_vec()))
        .collect();
    Ok(Request {
        method: method.to_string(),
        target: target.to_string(),
        version,
        headers,
        body: Vec::new(),
    })
}
