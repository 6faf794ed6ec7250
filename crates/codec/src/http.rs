//! HTTP/1.1, the server's side: [`HttpCodec`] reads [`Request`]s (the head parsed by `httparse`,
//! the parser hyper uses; a `Content-Length` body read whole) and writes [`Response`]s.
//!
//! Bounded against hostile input: the head is at most `max_head` bytes and 100 header fields
//! (past either, [`Refusal::HeadTooLarge`] or [`Refusal::TooManyHeaders`], status 431), a body at
//! most `max_body` bytes and a whole request (head and body) at most `max_head` (413), so a
//! request never holds more input than the decode bound the reactor enforces. What could
//! smuggle a second request past a proxy is refused
//! (status 400): `Content-Length` with `Transfer-Encoding`, several different `Content-Length`s,
//! any `Transfer-Encoding` (a body this codec cannot read). A refusal is handed to the handler
//! as [`Incoming::Refused`], so it can answer with the status before closing; the codec then
//! reads nothing more from the connection.

mod request;
mod response;
#[cfg(test)]
mod tests;

pub use request::{Request, Version};
pub use response::Response;

use memchr::memmem;

use crate::{CodecError, Decoder, Encoder, FrameLimits, ReadBuf};

/// The most header fields a request may have: past it, 431.
pub const MAX_HEADERS: usize = 100;

/// What the decoder hands the handler: a request, or why the connection's input was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A whole request (head and body).
    Request(Request),
    /// The input cannot be read as requests: answer with [`Refusal::status`] and close; the
    /// codec ignores everything after it.
    Refused(Refusal),
}

/// Why a request was refused, and the status that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The head passed `max_head` bytes without ending: 431.
    HeadTooLarge,
    /// More than [`MAX_HEADERS`] header fields: 431.
    TooManyHeaders,
    /// Not an HTTP/1.x request head (`httparse`'s reason), or a bad `Content-Length`: 400.
    Malformed(String),
    /// `Content-Length` and `Transfer-Encoding` together, or `Content-Length`s that disagree:
    /// what request smuggling is made of. 400.
    Ambiguous,
    /// A `Transfer-Encoding` body, which this codec does not read: 400.
    TransferEncoding {
        /// The request's method: a server that does not serve it answers as it would have
        /// (a file server's 405) before closing.
        method: String,
    },
    /// A `Content-Length` over `max_body`, or a request longer than the decode bound: 413.
    BodyTooLarge {
        /// The length announced.
        len: u64,
        /// The request's method, as for [`TransferEncoding`](Refusal::TransferEncoding).
        method: String,
    },
}

impl Refusal {
    /// The response status for the refusal.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::HeadTooLarge | Refusal::TooManyHeaders => 431,
            Refusal::BodyTooLarge { .. } => 413,
            Refusal::Malformed(_) | Refusal::Ambiguous | Refusal::TransferEncoding { .. } => 400,
        }
    }

    /// The refused request's method, where its head was read whole (a refusal of its body):
    /// a `HEAD`'s answer has no body, and a server answers a method it does not serve as it
    /// would have (a file server's 405).
    pub fn method(&self) -> Option<&str> {
        match self {
            Refusal::TransferEncoding { method } | Refusal::BodyTooLarge { method, .. } => {
                Some(method)
            }
            Refusal::HeadTooLarge
            | Refusal::TooManyHeaders
            | Refusal::Malformed(_)
            | Refusal::Ambiguous => None,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::HeadTooLarge => f.write_str("request head too large"),
            Refusal::TooManyHeaders => write!(f, "more than {MAX_HEADERS} header fields"),
            Refusal::Malformed(why) => write!(f, "malformed request: {why}"),
            Refusal::Ambiguous => {
                f.write_str("ambiguous body length (Content-Length with Transfer-Encoding, or two)")
            }
            Refusal::TransferEncoding { method } => {
                write!(
                    f,
                    "{method} with a Transfer-Encoding body, which is not supported"
                )
            }
            Refusal::BodyTooLarge { len, method } => {
                write!(f, "{method} with a body of {len} bytes, too large")
            }
        }
    }
}

/// Where the decoder is in its input.
#[derive(Debug, Clone)]
enum State {
    /// Looking for the end of a head; the first `scanned` bytes are known not to hold it.
    Head {
        /// Bytes already searched for `\r\n\r\n` (less the 3 a match could straddle).
        scanned: usize,
    },
    /// A head is parsed and its body is arriving: kept, so that a body sent a byte at a time
    /// is not parsed again with every byte.
    Body {
        /// The request, without its body yet.
        head: Request,
        /// Bytes of the head at the front of the input.
        head_len: usize,
        /// Bytes of the body after it.
        body_len: usize,
    },
    /// A head was refused: nothing more is read.
    Refused,
}

/// HTTP/1.1 requests in, responses out (a server's codec).
///
/// # Examples
///
/// ```
/// use turbine_codec::{Decoder, Encoder, HttpCodec, Incoming, ReadBuf, Response};
///
/// let mut codec = HttpCodec::new(64 * 1024);
/// let mut input = ReadBuf::from(&b"GET /index.html?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"[..]);
/// let Some(Incoming::Request(request)) = codec.decode(&mut input)? else {
///     panic!("a request");
/// };
/// assert_eq!((request.method(), request.path()), ("GET", "/index.html"));
/// assert_eq!(request.header("host"), Some(&b"a"[..]));
/// assert!(request.keep_alive());
///
/// let mut output = Vec::new();
/// codec.encode(Response::new(200).header("Content-Type", "text/plain").body("hi"), &mut output)?;
/// assert_eq!(output, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi");
/// # Ok::<(), turbine_codec::CodecError>(())
/// ```
#[derive(Debug, Clone)]
pub struct HttpCodec {
    /// Longest request, head and body together, in bytes (the decode bound); longest response
    /// head and body written (the encode bound).
    limits: FrameLimits,
    /// Longest request body (within the decode bound).
    max_body: usize,
    state: State,
}

impl HttpCodec {
    /// A codec taking requests (head and body) of at most `limits`' decode bound (a bare
    /// `usize` is both bounds), and writing responses of at most its encode bound.
    pub fn new(limits: impl Into<FrameLimits>) -> Self {
        let limits = limits.into();
        HttpCodec {
            max_body: limits.decode,
            limits,
            state: State::Head { scanned: 0 },
        }
    }

    /// Sets the longest request body taken (`Content-Length`); 0 refuses every body. The whole
    /// request stays within the decode bound whatever this says.
    #[must_use]
    pub fn with_max_body(mut self, max_body: usize) -> Self {
        self.max_body = max_body;
        self
    }

    /// Refuses the rest of the input: the handler is told once, then nothing is read.
    fn refuse(&mut self, src: &mut ReadBuf, refusal: Refusal) -> Option<Incoming> {
        self.state = State::Refused;
        src.clear();
        Some(Incoming::Refused(refusal))
    }
}

impl Decoder for HttpCodec {
    type Item = Incoming;

    fn decode(&mut self, src: &mut ReadBuf) -> Result<Option<Incoming>, CodecError> {
        // Taken out; every path below puts the state it leaves back.
        let scanned = match std::mem::replace(&mut self.state, State::Head { scanned: 0 }) {
            State::Head { scanned } => scanned,
            State::Body {
                head,
                head_len,
                body_len,
            } if src.len() >= head_len + body_len => {
                return Ok(Some(complete(src, head, head_len, body_len)));
            }
            waiting @ State::Body { .. } => {
                self.state = waiting;
                return Ok(None);
            }
            State::Refused => {
                self.state = State::Refused;
                src.clear(); // what follows is not read
                return Ok(None);
            }
        };
        if scanned == 0 {
            // Empty lines before a request line are skipped (RFC 9112, 2.2).
            let blank = src
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
            src.advance(blank);
        }
        let max_head = self.limits.decode;
        let from = scanned.saturating_sub(3);
        let Some(end) = memmem::find(&src[from..], b"\r\n\r\n").map(|i| from + i + 4) else {
            if src.len() > max_head {
                return Ok(self.refuse(src, Refusal::HeadTooLarge));
            }
            self.state = State::Head { scanned: src.len() };
            return Ok(None);
        };
        if end > max_head {
            return Ok(self.refuse(src, Refusal::HeadTooLarge));
        }
        let head = match request::parse_head(&src[..end]) {
            Ok(head) => head,
            Err(refusal) => return Ok(self.refuse(src, refusal)),
        };
        let body_len = match head.body_length() {
            Ok(len) => len,
            Err(refusal) => return Ok(self.refuse(src, refusal)),
        };
        // The body must fit its own bound and, with the head, the decode bound: the reactor
        // closes a connection whose unfinished input passes it.
        if body_len > self.max_body as u64 || body_len > (self.limits.decode - end) as u64 {
            let refusal = Refusal::BodyTooLarge {
                len: body_len,
                method: head.method().to_string(),
            };
            return Ok(self.refuse(src, refusal));
        }
        let body_len = body_len as usize; // at most the decode bound
        if src.len() < end + body_len {
            // The head is known; wait for the body (nothing reserved on the header's word).
            self.state = State::Body {
                head,
                head_len: end,
                body_len,
            };
            return Ok(None);
        }
        self.state = State::Head { scanned: 0 };
        Ok(Some(complete(src, head, end, body_len)))
    }
}

/// Takes a request of `head_len` bytes of head and `body_len` of body off the front of `src`.
fn complete(src: &mut ReadBuf, head: Request, head_len: usize, body_len: usize) -> Incoming {
    src.advance(head_len);
    Incoming::Request(head.with_body(src.split_to(body_len)))
}

impl Encoder for HttpCodec {
    type Item = Response;

    fn encode(&mut self, response: Response, dst: &mut Vec<u8>) -> Result<(), CodecError> {
        response.encode(dst, self.limits.encode)
    }
}
