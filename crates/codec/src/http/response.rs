//! `Response`: what a server answers, and its encoding.

use std::fmt::Write as _;

use crate::CodecError;

/// An HTTP/1.1 response: status, header fields, and a body or the length of one sent apart.
///
/// The codec writes `Content-Length` itself, from [`body`](Response::body) or
/// [`announce`](Response::announce) (none for 1xx, 204 and 304). Header names must be tokens and
/// values must not hold CR, LF or NUL, so a value taken from a request cannot split the response;
/// the encoder refuses a response that breaks this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Body,
}

/// A response's body.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Body {
    /// Written with the head.
    Bytes(Vec<u8>),
    /// Only its length is written: the body follows apart (streamed), or never (a `HEAD`).
    Announced(u64),
}

impl Response {
    /// A response with `status` (its reason phrase is the standard one) and an empty body.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Bytes(Vec::new()),
        }
    }

    /// Adds a header field (after those added before).
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body, written after the head; `Content-Length` is its length.
    #[must_use]
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = Body::Bytes(body.into());
        self
    }

    /// Writes only the head, with `Content-Length: len`: for a `HEAD` response, or a body the
    /// program sends after it, in pieces (as raw bytes on the connection).
    #[must_use]
    pub fn announce(mut self, len: u64) -> Response {
        self.body = Body::Announced(len);
        self
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Appends the response to `dst`, head and body at most `max` bytes; `dst` is left as it
    /// was on error.
    pub(super) fn encode(self, dst: &mut Vec<u8>, max: usize) -> Result<(), CodecError> {
        if !(100..=999).contains(&self.status) {
            return Err(CodecError::invalid(format!(
                "status {} is not 3 digits",
                self.status
            )));
        }
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (name, value) in &self.headers {
            if name.is_empty() || !name.bytes().all(is_token) {
                return Err(CodecError::invalid(format!(
                    "header name {name:?} is not a token"
                )));
            }
            if name.eq_ignore_ascii_case("content-length") {
                return Err(CodecError::invalid(
                    "Content-Length is the codec's: set the body or announce its length",
                ));
            }
            if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | b'\0')) {
                return Err(CodecError::invalid(format!(
                    "header {name}'s value holds CR, LF or NUL"
                )));
            }
            let _ = write!(head, "{name}: {value}\r\n");
        }
        let bodiless = self.status < 200 || self.status == 204 || self.status == 304;
        let (length, mut body) = match self.body {
            Body::Bytes(bytes) => (bytes.len() as u64, bytes),
            Body::Announced(len) => (len, Vec::new()),
        };
        if bodiless {
            body.clear(); // 1xx, 204 and 304 carry none: neither written nor counted
        } else {
            let _ = write!(head, "Content-Length: {length}\r\n");
        }
        head.push_str("\r\n");
        let written = head.len() + body.len();
        if written > max {
            return Err(CodecError::FrameTooLong {
                len: written as u64,
                max,
            });
        }
        dst.reserve(written);
        dst.extend_from_slice(head.as_bytes());
        dst.extend_from_slice(&body);
        Ok(())
    }
}

/// A `tchar` of RFC 9110.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The standard reason phrase of `status`, or `Status` for one without.
fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}
