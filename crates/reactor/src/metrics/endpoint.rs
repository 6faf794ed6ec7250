//! `Endpoint`: the metrics listener's handler, an HTTP/1.1 connection like any other on the
//! reactors: `GET /metrics`, `GET /health`, 404 for the rest.
//!
//! It is bounded like every connection: a request head is at most 8 KiB and a body 1 KiB (past
//! either, or for anything that is not HTTP, the codec refuses the input: the status, then the
//! close), the frame, idle and write timeouts apply, and it counts against the connection caps.

use turbine_codec::{FrameLimits, HttpCodec, Incoming, Request, Response, Version};

use super::{Metrics, MetricsFormat};
use crate::{Config, Context, Handler, Rejection};

/// Longest request head taken.
const MAX_HEAD: usize = 8 << 10;
/// Longest request body taken (the endpoint reads none; a small one is read and ignored).
const MAX_BODY: usize = 1 << 10;
/// Longest response written: far above any scrape, whatever the output setting says (the
/// endpoint writes only what it made itself).
const MAX_RESPONSE: usize = 256 << 20;

/// One scraper's connection.
#[derive(Debug)]
pub(crate) struct Endpoint {
    /// What `/metrics` serves.
    metrics: Metrics,
}

impl Endpoint {
    pub(crate) fn new(metrics: Metrics) -> Self {
        Endpoint { metrics }
    }

    /// The response to `request`.
    fn answer(&self, request: &Request) -> Response {
        let head = request.method() == "HEAD";
        if !head && request.method() != "GET" {
            return text(404, "not found\n", false);
        }
        match request.path() {
            "/metrics" => {
                let format = MetricsFormat::negotiate(request.header("accept"));
                match self.metrics.encode(format) {
                    Ok(body) => {
                        let ok = Response::new(200).header("Content-Type", format.content_type());
                        with_body(ok, body.into_bytes(), head)
                    }
                    Err(_) => text(500, "a collector failed\n", head),
                }
            }
            "/health" => text(200, "ok\n", head),
            _ => text(404, "not found\n", head),
        }
    }
}

/// A `text/plain` response with `body` (only its length for a `HEAD`).
fn text(status: u16, body: &str, head: bool) -> Response {
    let response = Response::new(status).header("Content-Type", "text/plain; charset=utf-8");
    with_body(response, body.as_bytes().to_vec(), head)
}

/// `response` with `body`, or for a `HEAD` request with only its length.
fn with_body(response: Response, body: Vec<u8>, head: bool) -> Response {
    if head {
        response.announce(body.len() as u64)
    } else {
        response.body(body)
    }
}

impl Handler for Endpoint {
    type Codec = HttpCodec;

    fn codec(&mut self, _config: &Config) -> HttpCodec {
        HttpCodec::new(FrameLimits::new(MAX_HEAD, MAX_RESPONSE)).with_max_body(MAX_BODY)
    }

    fn rejection(_reason: Rejection) -> Option<Vec<u8>> {
        Some(
            b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
                .to_vec(),
        )
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, incoming: Incoming) {
        match incoming {
            Incoming::Request(_) if !ctx.is_writable() => {
                // Answers pile up unread: a scraper pipelining requests faster than it reads
                // them (Prometheus never pipelines). Each answer encodes the whole registry on
                // this reactor, so one read of small requests must not buy thousands of them.
                log::debug!("{}: metrics: requests pipelined unread", ctx.peer_addr());
                ctx.send(
                    text(503, "too many requests unread\n", false).header("Connection", "close"),
                );
                ctx.close();
            }
            Incoming::Request(request) => {
                let response = self.answer(&request);
                if !request.keep_alive() {
                    ctx.send(response.header("Connection", "close"));
                    ctx.close();
                } else if request.version() == Version::Http10 {
                    // HTTP/1.0 closes unless the response says it stays open.
                    ctx.send(response.header("Connection", "keep-alive"));
                } else {
                    ctx.send(response);
                }
            }
            Incoming::Refused(refusal) => {
                log::debug!("{}: metrics: {refusal}", ctx.peer_addr());
                let head = refusal.method() == Some("HEAD");
                let status = refusal.status();
                ctx.send(text(status, &format!("{refusal}\n"), head).header("Connection", "close"));
                ctx.close();
            }
        }
    }
}
