//! `Http`: one connection's handler. Requests are answered one at a time, in the order they
//! came; pipelined ones wait in a queue. An answer is an explicit state: idle, looking the file
//! up on the worker pool, or sending a body window by window, each window brought by a job
//! and the next one asked for only while the connection is writable.

use std::collections::VecDeque;
use std::fs::File;
use std::sync::Arc;
use std::time::Duration;

use turbine::codec::{Incoming, Refusal, Request};
use turbine::{
    CodecError, Config, Context, FileRegion, HalfClose, Handler, HttpCodec, JobError, OffloadError,
};

use super::answer::{Answer, Conditions, Meta};
use super::files::{self, Carry, Found, Lookup, Site, Window};
use super::responses::{self, After};
use super::target;

/// Requests waiting behind the one being answered before reading pauses (a client that
/// pipelines faster than files are found is slowed by TCP, not buffered).
const MAX_WAITING: usize = 32;
/// Largest window read into memory (the copy path): memory per connection stays under the
/// write limit, since a window is asked for only below the high watermark.
const MAX_CHUNK: usize = 256 << 10;
/// Bodies shorter than this are copied even on plain TCP: one `writev` of head and body costs
/// less than a `write` and a `sendfile`.
const ZERO_COPY_MIN: u64 = 64 << 10;
/// Tag of the timer that asks again for a window the worker queue had no room for.
const RETRY: u64 = 1;
/// How long to wait before asking again.
const RETRY_AFTER: Duration = Duration::from_millis(2);

/// A request's method, as far as this server cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    /// `GET`: the file's head and body.
    Get,
    /// `HEAD`: the head alone.
    Head,
    /// Anything else: 405.
    Other,
}

/// What the handler keeps of a request until its turn: a few strings, not the whole head.
#[derive(Debug)]
struct Get {
    /// The method.
    method: Method,
    /// The target's path, still percent-encoded.
    path: String,
    /// The conditional and range fields.
    conditions: Conditions,
    /// What becomes of the connection after the answer.
    after: After,
}

impl Get {
    fn of(request: &Request) -> Get {
        Get {
            method: match request.method() {
                "GET" => Method::Get,
                "HEAD" => Method::Head,
                _ => Method::Other,
            },
            path: request.path().to_string(),
            conditions: Conditions::of(request),
            after: After::of(request),
        }
    }
}

/// Input waiting for its answer.
#[derive(Debug)]
enum Pending {
    /// A request.
    Request(Get),
    /// Input that cannot be read as requests: answered with `status` (without a body when
    /// the request was a `HEAD`), then the connection closes.
    Refused {
        /// The response's status.
        status: u16,
        /// Whether the refused request was a `HEAD` (as far as the codec read it).
        head: bool,
    },
}

/// The answer in progress.
#[derive(Debug)]
enum Exchange {
    /// None: the next request can start.
    Idle,
    /// The request's file is being looked up on the worker pool.
    LookingUp,
    /// A body is being sent.
    Body(Body),
}

/// A body on its way: what is left of it, and where its next window is.
#[derive(Debug)]
struct Body {
    /// The open file.
    file: Arc<File>,
    /// The file as it was when its head was sent: each window checks it has not changed.
    meta: Meta,
    /// How its windows go.
    carry: Carry,
    /// Offset of the next window.
    next: u64,
    /// One past the body's last byte.
    end: u64,
    /// What becomes of the connection after it.
    after: After,
    /// Whether the next window is being brought or waits for the connection to drain.
    step: Step,
}

/// Where a body's next window is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Waiting for the output to drain below the high watermark (`on_writable`), or for room
    /// in the worker queue (a retry timer).
    Waiting,
    /// A job is bringing it.
    Bringing,
}

/// Whether this connection is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// As input arrives.
    Flowing,
    /// Paused: `MAX_WAITING` requests wait.
    Held,
}

/// Whether the peer still sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    /// It may.
    Open,
    /// Its FIN came: the connection closes once the requests before it are answered.
    Finished,
}

/// One connection of the file server.
#[derive(Debug)]
pub(crate) struct Http {
    /// The root and `/dev/null`, shared by every connection.
    site: Arc<Site>,
    /// How bodies go: zero-copy on plain TCP, copy on TLS (set in `on_open`), and copy from
    /// the first region a socket refuses.
    carry: Carry,
    /// Bytes per window read into memory.
    chunk: usize,
    /// Requests read and not yet answered, oldest first.
    waiting: VecDeque<Pending>,
    /// The answer in progress.
    exchange: Exchange,
    /// Whether reading is held back by the queue.
    reading: Reading,
    /// Whether the peer has finished sending.
    peer: Peer,
}

impl Http {
    /// A connection serving `site`.
    pub(crate) fn new(site: Arc<Site>) -> Http {
        Http {
            site,
            carry: Carry::Copy { chunk: MAX_CHUNK },
            chunk: MAX_CHUNK,
            waiting: VecDeque::new(),
            exchange: Exchange::Idle,
            reading: Reading::Flowing,
            peer: Peer::Open,
        }
    }

    /// Starts the requests that wait, one at a time: each either is answered at once (and the
    /// next one starts) or leaves an answer in progress. Once none is left and the peer has
    /// finished, closes. While the output is over the high watermark none starts
    /// (`on_writable` calls again): a client that pipelines requests without reading the
    /// answers holds at most the write limit of them, not one copy of a file per request.
    fn next(&mut self, ctx: &mut Context<'_, Self>) {
        while matches!(self.exchange, Exchange::Idle) {
            if !ctx.is_writable() {
                return; // `on_writable` calls again
            }
            let Some(pending) = self.waiting.pop_front() else {
                if self.peer == Peer::Finished {
                    ctx.close();
                }
                return;
            };
            if self.reading == Reading::Held && self.waiting.len() <= MAX_WAITING / 2 {
                self.reading = Reading::Flowing;
                ctx.resume_reading();
            }
            self.start(ctx, pending);
        }
    }

    /// Answers one request, or starts looking its file up.
    fn start(&mut self, ctx: &mut Context<'_, Self>, pending: Pending) {
        let get = match pending {
            Pending::Refused { status, head } => {
                return self.reply(
                    ctx,
                    responses::error(status, head, After::Close),
                    After::Close,
                );
            }
            Pending::Request(get) => get,
        };
        let (head, after) = (get.method == Method::Head, get.after);
        if get.method == Method::Other {
            return self.reply(ctx, responses::error(405, false, after), after);
        }
        let Some(target) = target::parse(&get.path) else {
            return self.reply(ctx, responses::error(404, head, after), after);
        };
        let lookup = Lookup {
            target,
            conditions: get.conditions,
            get: !head,
            carry: self.carry,
            zero_copy_min: ZERO_COPY_MIN.min(self.chunk as u64),
        };
        let site = Arc::clone(&self.site);
        let job = move || files::look_up(&site, &lookup);
        let done = move |http: &mut Http, ctx: &mut Context<'_, Http>, found| {
            http.found(ctx, found, head, after);
            http.next(ctx);
        };
        match ctx.offload(job, done) {
            Ok(()) => self.exchange = Exchange::LookingUp,
            Err(OffloadError::Busy(_)) => {
                self.reply(ctx, responses::error(503, head, after), after)
            }
            Err(_) => self.reply(ctx, responses::error(503, head, After::Close), After::Close),
        }
    }

    /// The lookup's result: a whole answer, or a head and the first window of a body.
    fn found(
        &mut self,
        ctx: &mut Context<'_, Self>,
        found: Result<std::io::Result<Found>, JobError>,
        head: bool,
        after: After,
    ) {
        let opened = match found {
            Ok(Ok(Found::File(opened))) => opened,
            Ok(Ok(Found::Missing)) => {
                return self.reply(ctx, responses::error(404, head, after), after);
            }
            Ok(Err(e)) => {
                // The file shrank between its metadata and its read: no length can be promised.
                log::debug!("{}: {e}; closing", ctx.peer_addr());
                return self.close(ctx);
            }
            Err(_panicked) => {
                return self.reply(ctx, responses::error(500, head, After::Close), After::Close);
            }
        };
        let (meta, content_type) = (&opened.meta, opened.content_type);
        let range = match opened.answer {
            Answer::NotModified => {
                return self.reply(ctx, responses::not_modified(meta, after), after);
            }
            Answer::Unsatisfiable => {
                return self.reply(ctx, responses::unsatisfiable(meta, after), after);
            }
            Answer::Whole => None,
            Answer::Part { start, end } => Some((start, end)),
        };
        ctx.send(responses::file(meta, content_type, range, after));
        let Some(window) = opened.first else {
            return self.done(ctx, after); // HEAD, or an empty body
        };
        let (next, end) = range.unwrap_or((0, meta.len));
        let body = Body {
            file: opened.file,
            meta: opened.meta,
            carry: opened.carry,
            next,
            end,
            after,
            step: Step::Bringing,
        };
        self.window(ctx, body, window);
    }

    /// A window of `body` has come: queued as bytes or as a file region; then the body is
    /// done, or the next window is asked for.
    fn window(&mut self, ctx: &mut Context<'_, Self>, mut body: Body, window: Window) {
        let len = window.len();
        match window {
            Window::Bytes(bytes) => ctx.send_encoded(bytes),
            Window::Cached(len) => {
                let region = FileRegion::new(Arc::clone(&body.file), body.next, len);
                if ctx.send_file(region).is_err() {
                    // The socket does not send files: copy from now on, this window included.
                    self.carry = Carry::Copy { chunk: self.chunk };
                    body.carry = self.carry;
                    body.step = Step::Waiting;
                    self.exchange = Exchange::Body(body);
                    return self.pump(ctx);
                }
            }
        }
        body.next += len as u64;
        if body.next >= body.end {
            return self.done(ctx, body.after);
        }
        body.step = Step::Waiting;
        self.exchange = Exchange::Body(body);
        self.pump(ctx);
    }

    /// Asks the worker pool for the body's next window, if none is on its way and the
    /// connection is writable (else `on_writable` calls again).
    fn pump(&mut self, ctx: &mut Context<'_, Self>) {
        let Exchange::Body(body) = &mut self.exchange else {
            return;
        };
        if body.step == Step::Bringing || !ctx.is_writable() {
            return;
        }
        let (site, file) = (Arc::clone(&self.site), Arc::clone(&body.file));
        let (meta, carry, next, end) = (body.meta, body.carry, body.next, body.end);
        let job = move || files::bring(&site, &file, &meta, carry, next, end);
        let done = |http: &mut Http, ctx: &mut Context<'_, Http>, brought| {
            http.brought(ctx, brought);
            http.next(ctx);
        };
        match ctx.offload(job, done) {
            Ok(()) => body.step = Step::Bringing,
            Err(OffloadError::Busy(_)) => {
                if ctx.set_timer(RETRY_AFTER, RETRY).is_err() {
                    self.close(ctx);
                }
            }
            Err(_) => self.close(ctx), // the pool is stopping
        }
    }

    /// A window's job has answered.
    fn brought(
        &mut self,
        ctx: &mut Context<'_, Self>,
        brought: Result<std::io::Result<Window>, JobError>,
    ) {
        let Exchange::Body(body) = std::mem::replace(&mut self.exchange, Exchange::Idle) else {
            return;
        };
        match brought {
            Ok(Ok(window)) => self.window(ctx, body, window),
            Ok(Err(e)) => {
                // Changed, shrunk or unreadable: the peer sees the stream end short of the
                // length announced, never other bytes in their place.
                log::debug!("{}: {e}; closing", ctx.peer_addr());
                self.close(ctx);
            }
            Err(_panicked) => self.close(ctx),
        }
    }

    /// Sends a whole answer.
    fn reply(
        &mut self,
        ctx: &mut Context<'_, Self>,
        response: turbine::codec::Response,
        after: After,
    ) {
        ctx.send(response);
        self.done(ctx, after);
    }

    /// An answer is complete: the next request may start, or the connection closes.
    fn done(&mut self, ctx: &mut Context<'_, Self>, after: After) {
        self.exchange = Exchange::Idle;
        if after.closes() {
            self.close(ctx);
        }
    }

    /// Closes after what was queued; the requests still waiting are dropped.
    fn close(&mut self, ctx: &mut Context<'_, Self>) {
        self.exchange = Exchange::Idle;
        self.waiting.clear();
        ctx.close();
    }
}

impl Handler for Http {
    type Codec = HttpCodec;

    fn codec(&mut self, config: &Config) -> HttpCodec {
        // The codec keeps a whole request within the frame limit; a body is bounded by one read
        // buffer too, so that a body it would still wait for is answered (400) instead.
        HttpCodec::new(config.frame_limits())
            .with_max_body(config.read_buffer.min(config.max_frame))
    }

    fn on_open(&mut self, ctx: &mut Context<'_, Self>) {
        let config = ctx.config();
        // A window is asked for below the high watermark, so one of at most this much keeps
        // the output under the write limit.
        let room = config
            .write_limit
            .saturating_sub(config.write_high_watermark)
            .max(4 << 10);
        self.chunk = room.min(MAX_CHUNK);
        self.carry = if ctx.tls().is_some() {
            Carry::Copy { chunk: self.chunk }
        } else {
            // A region holds no memory: a window as large as the write limit.
            Carry::ZeroCopy {
                window: config.write_limit.max(ZERO_COPY_MIN as usize),
            }
        };
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, incoming: Incoming) {
        let pending = match incoming {
            Incoming::Request(request) => Pending::Request(Get::of(&request)),
            Incoming::Refused(refusal) => {
                log::debug!("{}: {refusal}", ctx.peer_addr());
                let status = match (refusal.method(), &refusal) {
                    // A method this server does not serve is 405 whatever its body; the
                    // body cannot be skipped safely, so the connection closes after it.
                    (Some(method), _) if !matches!(method, "GET" | "HEAD") => 405,
                    // A body on GET/HEAD it cannot skip safely: the spec's 400 (not the
                    // codec's 413).
                    (_, Refusal::BodyTooLarge { .. }) => 400,
                    (_, other) => other.status(),
                };
                let head = refusal.method() == Some("HEAD");
                Pending::Refused { status, head }
            }
        };
        self.waiting.push_back(pending);
        if self.waiting.len() >= MAX_WAITING && self.reading == Reading::Flowing {
            self.reading = Reading::Held;
            ctx.pause_reading();
        }
        self.next(ctx);
    }

    fn on_decode_error(&mut self, ctx: &mut Context<'_, Self>, error: CodecError) {
        // The connection is closing already (a request cut by the peer's FIN, say).
        log::debug!("{}: {error}", ctx.peer_addr());
    }

    fn on_writable(&mut self, ctx: &mut Context<'_, Self>) {
        self.pump(ctx);
        self.next(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, tag: u64) {
        if tag == RETRY {
            self.pump(ctx);
        }
    }

    fn on_peer_closed(&mut self, _ctx: &mut Context<'_, Self>) -> HalfClose {
        // A client may send its requests, then its FIN, then read: answer them all first.
        if self.is_busy() {
            self.peer = Peer::Finished;
            HalfClose::KeepWriting
        } else {
            HalfClose::Close
        }
    }

    fn is_busy(&self) -> bool {
        !matches!(self.exchange, Exchange::Idle) || !self.waiting.is_empty()
    }
}
