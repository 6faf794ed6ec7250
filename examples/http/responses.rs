//! The responses this server writes: their status and header fields. The codec adds
//! `Content-Length` (from the body, or the length a head announces).

use std::cell::RefCell;
use std::time::SystemTime;

use turbine::codec::{Request, Response, Version};

use super::answer::Meta;
use super::date;

/// What becomes of the connection after a response, and what the response says of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    /// HTTP/1.1 keeps the connection open unless told otherwise: nothing to say.
    KeepAlive,
    /// An HTTP/1.0 client that asked to keep the connection is told it is kept
    /// (`Connection: keep-alive`), or it would wait for the close.
    KeepAlive10,
    /// The connection closes after this response: `Connection: close`.
    Close,
}

impl After {
    /// What `request` asks: HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with
    /// `Connection: keep-alive`.
    pub(crate) fn of(request: &Request) -> After {
        match (request.keep_alive(), request.version()) {
            (false, _) => After::Close,
            (true, Version::Http10) => After::KeepAlive10,
            (true, Version::Http11) => After::KeepAlive,
        }
    }

    /// Whether the connection closes after the response.
    pub(crate) fn closes(self) -> bool {
        self == After::Close
    }
}

/// The fields every response carries: `Date`, and `Connection` when there is something to say.
fn base(status: u16, after: After) -> Response {
    let response = Response::new(status).header("Date", now());
    match after {
        After::KeepAlive => response,
        After::KeepAlive10 => response.header("Connection", "keep-alive"),
        After::Close => response.header("Connection", "close"),
    }
}

/// The head of a 200 (`range` `None`) or a 206 for bytes `start..end` of a file, announcing
/// the body's length: the body follows in windows (or, for a `HEAD`, never).
pub(crate) fn file(
    meta: &Meta,
    content_type: &str,
    range: Option<(u64, u64)>,
    after: After,
) -> Response {
    let (status, len) = match range {
        Some((start, end)) => (206, end - start),
        None => (200, meta.len),
    };
    let mut response = base(status, after)
        .header("Content-Type", content_type)
        .header("Last-Modified", meta.last_modified())
        .header("ETag", meta.etag())
        .header("Accept-Ranges", "bytes");
    if let Some((start, end)) = range {
        let range = format!("bytes {start}-{}/{}", end - 1, meta.len);
        response = response.header("Content-Range", range);
    }
    response.announce(len)
}

/// 304: the client's copy is current; its validators, no body.
pub(crate) fn not_modified(meta: &Meta, after: After) -> Response {
    base(304, after)
        .header("Last-Modified", meta.last_modified())
        .header("ETag", meta.etag())
}

/// 416: the range lies past the end; `Content-Range` tells the length.
pub(crate) fn unsatisfiable(meta: &Meta, after: After) -> Response {
    base(416, after).header("Content-Range", format!("bytes */{}", meta.len))
}

/// An error (404, 405, 400, 431, 500, 503) with a one-line text body (its length only, for a
/// `HEAD`); 405 says which methods are allowed.
pub(crate) fn error(status: u16, head: bool, after: After) -> Response {
    let mut response = base(status, after).header("Content-Type", "text/plain; charset=utf-8");
    if status == 405 {
        response = response.header("Allow", "GET, HEAD");
    }
    let body = match status {
        400 => "400 Bad Request\n",
        404 => "404 Not Found\n",
        405 => "405 Method Not Allowed\n",
        431 => "431 Request Header Fields Too Large\n",
        503 => "503 Service Unavailable\n",
        _ => "500 Internal Server Error\n",
    };
    if head {
        response.announce(body.len() as u64)
    } else {
        response.body(body)
    }
}

thread_local! {
    /// The `Date` value of the current second, made once per second per reactor thread.
    static DATE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// `Date`: now, as an HTTP date.
fn now() -> String {
    let secs = date::unix_seconds(SystemTime::now());
    DATE.with_borrow_mut(|(at, text)| {
        if *at != secs {
            *at = secs;
            *text = date::format(secs);
        }
        text.clone()
    })
}
