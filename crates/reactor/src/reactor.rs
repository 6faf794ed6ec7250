//! `Reactor`: one thread's event loop: accept, read, decode, dispatch, write, timers, mailbox.
//!
//! # One turn of the loop
//!
//! 1. `poll` waits for events, at most until the next deadline (not at all if work is queued).
//! 2. Each event is handled at once: the listener accepts (a bounded number per turn), a
//!    connection reads, decodes and dispatches frames, then writes what its handler sent in one
//!    `write`.
//! 3. The mailbox is drained (bounded per turn): frames from `ConnHandle`s are encoded and
//!    their connections queued for a flush.
//! 4. The run queue is served: connections stopped early by the per-turn budget, unpaused by
//!    backpressure, or with new output.
//! 5. Due timers fire; stats are published.
//!
//! mio is edge-triggered: an event says "something changed", once. A connection therefore
//! remembers that it may still be readable until a read returns `WouldBlock` or comes back short
//! (a short read means the socket was drained; new data brings a new edge). Whenever the reactor
//! stops reading early it must put the connection on the run queue itself, or it would never be
//! read again.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;
use turbine_codec::ReadBuf;

use crate::connection::{self, ConnIo, Connection, Phase};
use crate::limits::IpCounts;
use crate::mailbox::{Mailbox, Message};
use crate::offload::{self, Outcome, PoolCell};
use crate::output::Output;
use crate::stats::StatsHandle;
use crate::timers::{TimerKind, Timers};
use crate::{
    CloseReason, Config, ConnId, Context, FrameOut, Handler, ReactorStats, Rejection,
    ShutdownHandle,
};

/// Token of the reactor's listener.
pub(crate) const LISTENER: Token = Token(0);
/// Token of the reactor's waker (mailbox and shutdown).
pub(crate) const WAKER: Token = Token(1);
/// Connection `key` is registered with token `key + FIRST_CONN`.
const FIRST_CONN: usize = 2;

/// Reads one connection may do per turn before others get theirs (Netty reads 16 messages,
/// Redis one read; four full buffers keep a streaming connection efficient without starving).
const READS_PER_TURN: usize = 4;
/// Connections accepted per turn before the reactor serves the others.
const ACCEPTS_PER_TURN: usize = 64;
/// Mailbox messages handled per turn.
const MAILBOX_PER_TURN: usize = 4096;
/// Smallest read into a connection's own buffer (holding an unfinished frame).
const MIN_OWN_READ: usize = 4096;
/// How long a closed connection waits for the peer's FIN after sending its own.
const LINGER: Duration = Duration::from_secs(5);
/// First and longest wait before retrying `accept` after running out of descriptors.
const ACCEPT_BACKOFF: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(1));

/// What handlers and handles on one reactor share.
pub(crate) struct Env<H: Handler> {
    /// The reactor's index.
    pub(crate) index: usize,
    /// Where `ConnHandle`s post frames for this reactor's connections.
    pub(crate) mailbox: Arc<Mailbox<FrameOut<H>>>,
    /// The server's configuration.
    pub(crate) config: Arc<Config>,
    /// The worker pool for offloaded jobs, shared by every reactor.
    pub(crate) pool: Arc<PoolCell>,
}

/// Everything a reactor thread needs, handed over by the server.
pub(crate) struct Parts<H: Handler, F> {
    pub(crate) poll: Poll,
    pub(crate) listener: TcpListener,
    pub(crate) env: Env<H>,
    pub(crate) inbox: Receiver<Message<FrameOut<H>>>,
    pub(crate) factory: Arc<F>,
    pub(crate) stats: StatsHandle,
    pub(crate) shutdown: ShutdownHandle,
    pub(crate) open_total: Arc<AtomicUsize>,
    pub(crate) ip_counts: Arc<IpCounts>,
}

/// One event loop and the connections it owns.
pub(crate) struct Reactor<H: Handler, F> {
    /// The reactor's own epoll instance.
    poll: Poll,
    /// This reactor's listener; `None` once shutdown has begun.
    listener: Option<TcpListener>,
    /// Open connections, keyed by slab slot.
    conns: Slab<Connection<H>>,
    /// Shared with contexts and handles.
    env: Env<H>,
    /// Makes a handler for each accepted connection.
    factory: Arc<F>,
    /// Messages from `ConnHandle`s.
    inbox: Receiver<Message<FrameOut<H>>>,
    /// The shared read buffer: every read of a connection without an unfinished frame lands here.
    read_buf: ReadBuf,
    /// A spare output buffer lent to connections that produce output and returned when it is
    /// written out, so idle connections hold no output memory and busy ones allocate none.
    out_spare: Output,
    /// Connections to serve without waiting for an event, with their generation.
    run_queue: VecDeque<(usize, u64)>,
    /// Idle and linger deadlines.
    timers: Timers,
    /// Counters, published to `published` once per turn.
    stats: ReactorStats,
    /// Where the counters are published.
    published: StatsHandle,
    /// The server's shutdown flag.
    shutdown: ShutdownHandle,
    /// Connections open across all reactors (for `max_connections`).
    open_total: Arc<AtomicUsize>,
    /// Connections open per peer address across all reactors (for `max_connections_per_ip`).
    ip_counts: Arc<IpCounts>,
    /// A descriptor held in reserve (`/dev/null`), released to shed the backlog when the
    /// process runs out of descriptors.
    spare_fd: Option<std::fs::File>,
    /// Generation for the next accepted connection.
    next_generation: u64,
    /// The time at the start of the current turn.
    now: Instant,
    /// The listener may have more connections waiting (the accept budget ran out).
    accept_more: bool,
    /// After running out of descriptors: when to retry `accept`, and the current delay.
    accept_retry: Option<Instant>,
    /// The delay before the next retry if `accept` fails again.
    accept_delay: Duration,
    /// The mailbox may hold more messages (the per-turn budget ran out).
    inbox_more: bool,
    /// Set when shutdown begins: the deadline, and how many connections were open then.
    stopping: Option<(Instant, usize)>,
}

impl<H, F> Reactor<H, F>
where
    H: Handler,
    F: Fn(std::net::SocketAddr) -> H,
{
    pub(crate) fn new(parts: Parts<H, F>) -> Self {
        let read_buffer = parts.env.config.read_buffer;
        Reactor {
            poll: parts.poll,
            listener: Some(parts.listener),
            conns: Slab::new(),
            env: parts.env,
            factory: parts.factory,
            inbox: parts.inbox,
            read_buf: ReadBuf::with_capacity(read_buffer),
            out_spare: Output::default(),
            run_queue: VecDeque::new(),
            timers: Timers::default(),
            stats: ReactorStats::default(),
            published: parts.stats,
            shutdown: parts.shutdown,
            open_total: parts.open_total,
            ip_counts: parts.ip_counts,
            spare_fd: std::fs::File::open("/dev/null").ok(),
            next_generation: 0,
            now: Instant::now(),
            accept_more: false,
            accept_retry: None,
            accept_delay: ACCEPT_BACKOFF.0,
            inbox_more: false,
            stopping: None,
        }
    }

    /// Runs until shutdown has drained every connection or its deadline has passed.
    pub(crate) fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self.poll_timeout();
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            self.now = Instant::now();
            let mut woken = false;
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(),
                    WAKER => woken = true,
                    Token(token) => self.on_conn_event(token - FIRST_CONN, event),
                }
            }
            if woken {
                self.env.mailbox.take_notification();
                if self.stopping.is_none() && self.shutdown.is_requested() {
                    self.begin_shutdown();
                }
            }
            if woken || self.inbox_more {
                self.drain_inbox();
            }
            if self.accept_more {
                self.accept();
            }
            self.serve_run_queue();
            self.fire_timers();
            if self.shutdown_finished() {
                self.published.reactor(self.env.index).store(&self.stats);
                return Ok(());
            }
            self.published.reactor(self.env.index).store(&self.stats);
        }
    }

    /// How long `poll` may sleep: not at all with work queued, else until the next deadline.
    fn poll_timeout(&self) -> Option<Duration> {
        if !self.run_queue.is_empty() || self.inbox_more || self.accept_more {
            return Some(Duration::ZERO);
        }
        let deadlines = [
            self.timers.next_deadline(),
            self.accept_retry,
            self.stopping.map(|(deadline, _)| deadline),
        ];
        let next = deadlines.into_iter().flatten().min()?;
        Some(next.saturating_duration_since(Instant::now()))
    }

    fn on_conn_event(&mut self, key: usize, event: &mio::event::Event) {
        let Some(conn) = self.conns.get_mut(key) else {
            return; // an event for a connection closed earlier in this turn
        };
        let io = &mut conn.io;
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            io.readable = true;
            io.read_closed |= event.is_read_closed() || event.is_error();
        }
        if event.is_writable() || event.is_write_closed() || event.is_error() {
            io.write_blocked = false;
        }
        self.drive(key);
    }

    // ----- accepting ------------------------------------------------------------------------

    /// Accepts up to `ACCEPTS_PER_TURN` connections.
    fn accept(&mut self) {
        self.accept_more = false;
        if self.accept_retry.is_some() {
            return; // backing off; the retry timer calls again
        }
        let Some(listener) = self.listener.take() else {
            return;
        };
        for _ in 0..ACCEPTS_PER_TURN {
            match listener.accept() {
                Ok((stream, peer)) => {
                    self.accept_delay = ACCEPT_BACKOFF.0;
                    self.admit(stream, peer);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.listener = Some(listener);
                    return;
                }
                Err(e) if out_of_descriptors(&e) => {
                    // The connection stays in the backlog and edge triggering will not report
                    // it again: retry on a timer, backing off, instead of spinning. Meanwhile
                    // the spare descriptor lets us close what waits in the backlog, so those
                    // clients see a prompt close instead of hanging.
                    let shed = self.shed_backlog(&listener);
                    log::warn!(
                        "reactor {}: accept failed ({e}); closed {shed} waiting connections; \
                         retrying in {:?}",
                        self.env.index,
                        self.accept_delay
                    );
                    self.accept_retry = Some(self.now + self.accept_delay);
                    self.accept_delay = (self.accept_delay * 2).min(ACCEPT_BACKOFF.1);
                    self.listener = Some(listener);
                    return;
                }
                // Errors about one connection (aborted before accept, refused by a firewall
                // rule...) do not stop the others.
                Err(e) => log::debug!("reactor {}: accept: {e}", self.env.index),
            }
        }
        self.listener = Some(listener);
        self.accept_more = true;
    }

    /// Out of descriptors: frees the spare one, accepts and closes what waits in the backlog
    /// (up to a turn's budget), and takes the spare back. Returns how many were closed.
    fn shed_backlog(&mut self, listener: &TcpListener) -> usize {
        let Some(spare) = self.spare_fd.take() else {
            return 0;
        };
        drop(spare);
        let mut shed = 0;
        while shed < ACCEPTS_PER_TURN {
            match listener.accept() {
                Ok((stream, peer)) => {
                    shed += 1;
                    self.stats.rejected += 1;
                    drop((stream, peer));
                }
                Err(_) => break,
            }
        }
        self.spare_fd = std::fs::File::open("/dev/null").ok();
        shed
    }

    /// Closes a connection refused at accept, after the protocol's one-line explanation.
    fn reject(&mut self, mut stream: TcpStream, peer: std::net::SocketAddr, reason: Rejection) {
        self.stats.rejected += 1;
        log::debug!("{peer}: refused ({reason:?})");
        if let Some(bytes) = H::rejection(reason) {
            // A fresh socket has an empty send buffer: a short line goes out whole, or not at
            // all; nothing waits for it.
            let _ = stream.write(&bytes);
        }
        // Dropping the stream closes it.
    }

    /// Releases what an accepted connection held in the server-wide limits.
    fn release_limits(&self, peer: std::net::SocketAddr) {
        self.open_total.fetch_sub(1, Ordering::AcqRel);
        if self.env.config.max_connections_per_ip > 0 {
            self.ip_counts.remove(peer.ip());
        }
    }

    /// Sets up an accepted connection and calls `on_open`.
    fn admit(&mut self, mut stream: TcpStream, peer: std::net::SocketAddr) {
        let config = &self.env.config;
        if self.open_total.fetch_add(1, Ordering::AcqRel) >= config.max_connections {
            self.open_total.fetch_sub(1, Ordering::AcqRel);
            self.reject(stream, peer, Rejection::MaxConnections);
            return;
        }
        let per_ip = config.max_connections_per_ip;
        if per_ip > 0 && !self.ip_counts.try_add(peer.ip(), per_ip) {
            self.open_total.fetch_sub(1, Ordering::AcqRel);
            self.reject(stream, peer, Rejection::MaxConnectionsPerIp);
            return;
        }
        let config = &self.env.config;
        if config.nodelay {
            // Without it a reply can wait for the ACK of the previous one (Nagle + delayed ACK).
            let _ = stream.set_nodelay(true);
        }
        let entry = self.conns.vacant_entry();
        let key = entry.key();
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) =
            self.poll
                .registry()
                .register(&mut stream, Token(key + FIRST_CONN), interest)
        {
            log::warn!("{peer}: cannot register: {e}");
            self.release_limits(peer);
            return;
        }
        let factory = &self.factory;
        let made = catch_unwind(AssertUnwindSafe(|| {
            let mut handler = factory(peer);
            let codec = handler.codec(config);
            (handler, codec)
        }));
        let Ok((handler, codec)) = made else {
            log::error!("{peer}: handler factory panicked; connection closed");
            self.stats.panics += 1;
            self.release_limits(peer);
            return;
        };
        let generation = self.next_generation;
        self.next_generation += 1;
        let id = ConnId {
            reactor: self.env.index,
            key,
            generation,
        };
        let io = ConnIo::new(id, peer, codec, self.now);
        entry.insert(Connection {
            handler,
            io,
            socket: stream,
        });
        self.stats.accepted += 1;
        self.stats.open += 1;
        if let Some(idle) = config.idle_timeout {
            self.timers
                .schedule(self.now + idle, key, generation, TimerKind::Idle);
        }
        if self.callback(key, |h, ctx| h.on_open(ctx)) {
            self.flush(key);
        }
    }

    // ----- serving connections ----------------------------------------------------------------

    /// Reads (within the budget) and writes for one connection.
    fn drive(&mut self, key: usize) {
        let io = &mut self.conns[key].io;
        io.queued = false;
        let reading_frames = io.phase == Phase::Open && !io.paused;
        if io.readable && (reading_frames || io.phase != Phase::Open) {
            if !io.output.is_allocated() {
                std::mem::swap(&mut io.output, &mut self.out_spare);
            }
            if !self.read_input(key) {
                return;
            }
        }
        self.flush(key);
    }

    /// Puts a connection on the run queue (once).
    fn enqueue(&mut self, key: usize) {
        let io = &mut self.conns[key].io;
        if !io.queued {
            io.queued = true;
            self.run_queue.push_back((key, io.id.generation));
        }
    }

    /// Serves the connections queued before this call; those queued meanwhile wait a turn.
    fn serve_run_queue(&mut self) {
        for _ in 0..self.run_queue.len() {
            let Some((key, generation)) = self.run_queue.pop_front() else {
                break;
            };
            match self.conns.get(key) {
                Some(c) if c.io.id.generation == generation && c.io.queued => self.drive(key),
                _ => {}
            }
        }
    }

    /// Reads up to `READS_PER_TURN` times, dispatching frames after each read. Returns `false`
    /// if the connection is gone.
    fn read_input(&mut self, key: usize) -> bool {
        let read_buffer = self.env.config.read_buffer;
        for _ in 0..READS_PER_TURN {
            let Connection { io, socket, .. } = &mut self.conns[key];
            // A connection holding an unfinished frame reads into its own buffer; any other
            // reads into the reactor's, so an idle connection owns no input memory.
            let own = !io.input.is_empty();
            let (mut buf, want) = if own {
                let buf = std::mem::take(&mut io.input);
                let want = buf.len().clamp(MIN_OWN_READ, read_buffer);
                (buf, want)
            } else {
                (std::mem::take(&mut self.read_buf), read_buffer)
            };
            buf.reserve(want);
            let space = buf.spare_capacity();
            let result = buf.read_from(socket, space);
            let phase = io.phase;
            match result {
                Ok(0) => {
                    io.readable = false;
                    io.peer_eof = true;
                    let alive = phase != Phase::Open || self.dispatch(key, &mut buf, true);
                    self.put_back(key, buf, own);
                    if !alive {
                        return false;
                    }
                    let io = &mut self.conns[key].io;
                    io.begin_close(CloseReason::PeerClosed);
                    if io.phase == Phase::Lingering {
                        let reason = io.close_reason.take();
                        self.close(key, reason);
                        return false;
                    }
                    return true;
                }
                Ok(n) => {
                    io.last_input = self.now;
                    let drained = n < space && !io.read_closed;
                    let frames_before = self.stats.frames_in;
                    let alive = if phase == Phase::Open {
                        self.stats.bytes_in += n as u64;
                        self.dispatch(key, &mut buf, false)
                    } else {
                        buf.clear(); // closing: input is discarded
                        true
                    };
                    self.put_back(key, buf, own);
                    if !alive {
                        return false;
                    }
                    self.note_partial_frame(key, self.stats.frames_in > frames_before);
                    let high = self.env.config.write_high_watermark;
                    let io = &mut self.conns[key].io;
                    if drained {
                        io.readable = false;
                        return true;
                    }
                    if io.phase == Phase::Open && io.pending_output() > high {
                        io.paused = true;
                        return true;
                    }
                }
                Err(e) => {
                    self.put_back(key, buf, own);
                    match e.kind() {
                        io::ErrorKind::WouldBlock => {
                            self.conns[key].io.readable = false;
                            return true;
                        }
                        io::ErrorKind::Interrupted => {}
                        kind => {
                            self.fail(key, kind);
                            return false;
                        }
                    }
                }
            }
        }
        // Budget spent with input possibly left: no edge will come for it, so queue ourselves.
        self.enqueue(key);
        true
    }

    /// After a read: starts the frame clock when an unfinished frame begins (a new one begins
    /// whenever a frame was completed in this read), stops it when none is left.
    fn note_partial_frame(&mut self, key: usize, completed_a_frame: bool) {
        let io = &mut self.conns[key].io;
        if io.input.is_empty() {
            io.partial_since = None;
            return;
        }
        if io.partial_since.is_none() || completed_a_frame {
            io.partial_since = Some(self.now);
        }
        if let (Some(timeout), false) = (self.env.config.frame_timeout, io.frame_timer) {
            io.frame_timer = true;
            let generation = io.id.generation;
            self.timers
                .schedule(self.now + timeout, key, generation, TimerKind::Frame);
        }
    }

    /// Returns a read buffer after use: leftover bytes of an unfinished frame stay with the
    /// connection (copied out of the shared buffer, or in its own, shrunk after a large frame);
    /// an emptied own buffer is freed.
    fn put_back(&mut self, key: usize, mut buf: ReadBuf, own: bool) {
        let read_buffer = self.env.config.read_buffer;
        let conn = self.conns.get_mut(key);
        if own {
            if let Some(conn) = conn {
                if !buf.is_empty() {
                    if buf.capacity() > 2 * buf.len().max(read_buffer) {
                        buf.shrink_to(read_buffer);
                    }
                    conn.io.input = buf;
                }
            }
        } else {
            if let Some(conn) = conn {
                if !buf.is_empty() {
                    conn.io.input = ReadBuf::from(&buf[..]);
                }
            }
            buf.clear();
            self.read_buf = buf;
        }
    }

    /// Decodes every complete frame in `buf` and hands each to the handler. Returns `false` if
    /// the connection is gone (its handler panicked).
    fn dispatch(&mut self, key: usize, buf: &mut ReadBuf, eof: bool) -> bool {
        let Reactor {
            conns, env, stats, ..
        } = self;
        let Connection { handler, io, .. } = &mut conns[key];
        let result = catch_unwind(AssertUnwindSafe(|| {
            connection::dispatch(handler, io, buf, eof, env, stats);
        }));
        if result.is_err() {
            self.panicked(key);
            return false;
        }
        true
    }

    /// Writes pending output, then applies what follows from it: resuming reads below the low
    /// watermark, finishing a close, returning the output buffer.
    fn flush(&mut self, key: usize) {
        let low_watermark = self.env.config.write_low_watermark;
        let read_buffer = self.env.config.read_buffer;
        let Connection { io, socket, .. } = &mut self.conns[key];
        self.stats.output_peak = self.stats.output_peak.max(io.pending_output() as u64);
        let (was_empty, out_before) = (io.output.is_empty(), self.stats.bytes_out);
        if let Err(e) = io.write_out(socket, &mut self.stats) {
            self.fail(key, e.kind());
            return;
        }
        if was_empty || self.stats.bytes_out > out_before {
            io.last_write = self.now;
        }
        if io.write_blocked && !io.write_timer {
            if let Some(timeout) = self.env.config.write_timeout {
                io.write_timer = true;
                let generation = io.id.generation;
                self.timers
                    .schedule(io.last_write + timeout, key, generation, TimerKind::Write);
            }
        }
        if io.abort {
            // `close_now`: that was the last write, whatever it took.
            let reason = io.close_reason.take();
            self.close(key, reason);
            return;
        }
        if io.paused && io.pending_output() <= low_watermark {
            io.paused = false;
            let open = io.phase == Phase::Open;
            if io.readable {
                self.enqueue(key);
            }
            if open && !self.callback(key, |h, ctx| h.on_writable(ctx)) {
                return;
            }
            let Connection { io, socket, .. } = &mut self.conns[key];
            if let Err(e) = io.write_out(socket, &mut self.stats) {
                self.fail(key, e.kind());
                return;
            }
        }
        let Connection { io, socket, .. } = &mut self.conns[key];
        if io.output.is_empty() && io.output.is_allocated() {
            if self.out_spare.is_allocated() {
                io.output = Output::default();
            } else {
                std::mem::swap(&mut io.output, &mut self.out_spare);
                self.out_spare.shrink_to(4 * read_buffer);
            }
        }
        io.account(&mut self.stats);
        if io.phase == Phase::Closing && io.is_drained() {
            if io.peer_eof {
                let reason = io.close_reason.take();
                self.close(key, reason);
                return;
            }
            // Send our FIN after the last byte, then wait for the peer's.
            let _ = socket.shutdown(std::net::Shutdown::Write);
            io.phase = Phase::Lingering;
            let generation = io.id.generation;
            if io.readable {
                self.enqueue(key);
            }
            self.timers
                .schedule(self.now + LINGER, key, generation, TimerKind::Linger);
        }
    }

    // ----- closing ----------------------------------------------------------------------------

    /// A read or write failed: the connection is dead. A lingering one was closing anyway.
    fn fail(&mut self, key: usize, kind: io::ErrorKind) {
        let io = &mut self.conns[key].io;
        let reason = match io.phase {
            Phase::Lingering => io.close_reason.take(),
            _ => Some(CloseReason::Io(kind)),
        };
        log::debug!("{}: closed: {kind}", io.peer);
        self.close(key, reason);
    }

    /// A handler or codec panicked: count it and drop the connection without more callbacks.
    fn panicked(&mut self, key: usize) {
        self.stats.panics += 1;
        log::error!(
            "{}: handler panicked; connection closed",
            self.conns[key].io.peer
        );
        self.close(key, None);
    }

    /// Removes the connection, tells its handles and (with a reason) its handler; dropping it
    /// closes the socket.
    fn close(&mut self, key: usize, reason: Option<CloseReason>) {
        let mut conn = self.conns.remove(key);
        self.stats.closed += 1;
        self.stats.open -= 1;
        self.stats.output_buffered -= conn.io.accounted as u64;
        self.stats.offloads -= conn.io.offloads.len() as u64;
        self.release_limits(conn.io.peer);
        if let Some(shared) = &conn.io.shared {
            shared.closed.store(true, Ordering::Release);
        }
        if let Some(reason) = reason {
            log::trace!("{}: closed: {reason}", conn.io.peer);
            let handler = &mut conn.handler;
            if catch_unwind(AssertUnwindSafe(|| handler.on_close(reason))).is_err() {
                self.stats.panics += 1;
                log::error!("{}: handler panicked in on_close", conn.io.peer);
            }
        }
    }

    /// Runs one handler callback with a context, catching a panic. Returns `false` if the
    /// connection is gone.
    fn callback(&mut self, key: usize, f: impl FnOnce(&mut H, &mut Context<'_, H>)) -> bool {
        let Reactor {
            conns, env, stats, ..
        } = self;
        let Connection { handler, io, .. } = &mut conns[key];
        let result = catch_unwind(AssertUnwindSafe(|| {
            f(handler, &mut Context { io, env, stats });
        }));
        if result.is_err() {
            self.panicked(key);
            return false;
        }
        true
    }

    // ----- mailbox, timers, shutdown ----------------------------------------------------------

    /// Delivers up to `MAILBOX_PER_TURN` messages; notes whether more may wait.
    fn drain_inbox(&mut self) {
        for _ in 0..MAILBOX_PER_TURN {
            match self.inbox.try_recv() {
                Ok(msg) => self.deliver(msg),
                Err(_) => {
                    self.inbox_more = false;
                    return;
                }
            }
        }
        self.inbox_more = true;
    }

    /// Hands a mailbox message to its connection.
    fn deliver(&mut self, msg: Message<FrameOut<H>>) {
        match msg {
            Message::Send {
                key,
                generation,
                frame,
            } => self.deliver_frame(key, generation, frame),
            Message::Offloaded {
                key,
                generation,
                seq,
                outcome,
            } => self.deliver_outcome(key, generation, seq, outcome),
            Message::Broadcast { payload, targets } => self.deliver_broadcast(&payload, targets),
        }
    }

    /// Queues a broadcast payload, by reference, on each target still open; a target whose
    /// output would pass the write limit gets `on_overflow` instead.
    fn deliver_broadcast(&mut self, payload: &Arc<[u8]>, targets: Vec<(usize, u64)>) {
        let limit = self.env.config.write_limit;
        for (key, generation) in targets {
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            let io = &mut conn.io;
            if io.id.generation != generation || io.phase == Phase::Lingering || io.abort {
                continue;
            }
            if io.pending_output() + payload.len() > limit {
                if !self.callback(key, |h, ctx| h.on_overflow(ctx)) {
                    continue;
                }
            } else {
                io.output.push_shared(Arc::clone(payload));
                self.stats.frames_out += 1;
            }
            self.enqueue(key);
        }
    }

    /// Files an offloaded job's result in its slot and runs every continuation whose turn has
    /// come. A result for a connection that is gone is dropped.
    fn deliver_outcome(&mut self, key: usize, generation: u64, seq: u64, outcome: Outcome) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let io = &mut conn.io;
        let Some(front) = io.offloads.front() else {
            return;
        };
        if io.id.generation != generation || seq < front.seq {
            return;
        }
        let Some(pending) = io.offloads.get_mut((seq - front.seq) as usize) else {
            return;
        };
        pending.outcome = Some(outcome);
        if self.callback(key, offload::complete) {
            self.enqueue(key);
        }
    }

    /// Encodes a frame from a `ConnHandle` if its connection is still the one it was sent to.
    fn deliver_frame(&mut self, key: usize, generation: u64, frame: FrameOut<H>) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let io = &mut conn.io;
        if io.id.generation != generation {
            return; // the slot was reused: the frame was for a connection that is gone
        }
        if io.phase != Phase::Lingering {
            // (A lingering connection's write side is shut: the frame is dropped.)
            let stats = &mut self.stats;
            if catch_unwind(AssertUnwindSafe(|| io.encode(frame, stats))).is_err() {
                self.panicked(key);
                return;
            }
        }
        if let Some(shared) = &io.shared {
            // Publish the grown output before the frame stops counting as in flight, so a
            // sender always sees it in one or the other: what handles can make a connection
            // buffer stays within the write limit plus the frames in flight.
            shared.output.store(io.pending_output(), Ordering::SeqCst);
            shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
        self.enqueue(key);
    }

    fn fire_timers(&mut self) {
        if self.accept_retry.is_some_and(|at| at <= self.now) {
            self.accept_retry = None;
            self.accept();
        }
        while let Some((key, generation, kind)) = self.timers.pop_due(self.now) {
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            let io = &mut conn.io;
            if io.id.generation != generation {
                continue;
            }
            match kind {
                TimerKind::Idle if io.phase == Phase::Open => {
                    let Some(idle) = self.env.config.idle_timeout else {
                        continue;
                    };
                    // A paused connection is waiting for its peer to read, not idle.
                    let due = if io.paused {
                        self.now + idle
                    } else {
                        io.last_input + idle
                    };
                    if due <= self.now {
                        log::debug!("{}: idle for {idle:?}, closing", io.peer);
                        io.begin_close(CloseReason::IdleTimeout);
                        self.flush(key);
                    } else {
                        self.timers.schedule(due, key, generation, TimerKind::Idle);
                    }
                }
                TimerKind::Linger if io.phase == Phase::Lingering => {
                    let reason = io.close_reason.take();
                    self.close(key, reason);
                }
                TimerKind::Frame => {
                    io.frame_timer = false;
                    let (Some(timeout), Some(since)) =
                        (self.env.config.frame_timeout, io.partial_since)
                    else {
                        continue;
                    };
                    if io.phase != Phase::Open {
                        continue;
                    }
                    let due = since + timeout;
                    if due <= self.now {
                        log::debug!("{}: frame unfinished after {timeout:?}, closing", io.peer);
                        io.begin_close(CloseReason::FrameTimeout);
                        self.flush(key);
                    } else {
                        io.frame_timer = true;
                        self.timers.schedule(due, key, generation, TimerKind::Frame);
                    }
                }
                TimerKind::Write => {
                    io.write_timer = false;
                    let Some(timeout) = self.env.config.write_timeout else {
                        continue;
                    };
                    if io.output.is_empty() || io.phase == Phase::Lingering {
                        continue;
                    }
                    let due = io.last_write + timeout;
                    if due <= self.now {
                        // The peer is not reading: output cannot drain, so do not wait for it.
                        log::debug!("{}: output stuck for {timeout:?}, closing", io.peer);
                        io.close_now(CloseReason::WriteTimeout, &mut self.stats);
                        let reason = io.close_reason.take();
                        self.close(key, reason);
                    } else {
                        io.write_timer = true;
                        self.timers.schedule(due, key, generation, TimerKind::Write);
                    }
                }
                _ => {}
            }
        }
    }

    /// Closes the listener and asks every connection to finish.
    fn begin_shutdown(&mut self) {
        let timeout = self.env.config.shutdown_timeout;
        self.stopping = Some((self.now + timeout, self.conns.len()));
        if let Some(mut listener) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        self.accept_more = false;
        self.accept_retry = None;
        log::info!(
            "reactor {}: shutting down; {} connections open, deadline {timeout:?}",
            self.env.index,
            self.conns.len()
        );
        let keys: Vec<usize> = self.conns.iter().map(|(key, _)| key).collect();
        for key in keys {
            if self.conns[key].io.phase == Phase::Open
                && self.callback(key, |h, ctx| h.on_shutdown(ctx))
            {
                self.flush(key);
            }
        }
    }

    /// Whether the loop should end: shutdown began and every connection is closed, or the
    /// deadline passed (then the rest are closed by force).
    fn shutdown_finished(&mut self) -> bool {
        let Some((deadline, open_at_start)) = self.stopping else {
            return false;
        };
        let mut forced = 0;
        if !self.conns.is_empty() {
            if self.now < deadline {
                return false;
            }
            let keys: Vec<usize> = self.conns.iter().map(|(key, _)| key).collect();
            forced = keys.len();
            for key in keys {
                self.close(key, Some(CloseReason::Forced));
            }
        }
        log::info!(
            "reactor {}: stopped; {} connections drained, {forced} closed by force",
            self.env.index,
            open_at_start.saturating_sub(forced),
        );
        true
    }
}

/// `accept` failed for lack of descriptors or memory, not because of the one connection.
fn out_of_descriptors(e: &io::Error) -> bool {
    // Linux errno values: EMFILE, ENFILE, ENOBUFS, ENOMEM.
    matches!(e.raw_os_error(), Some(24 | 23 | 105 | 12))
}
