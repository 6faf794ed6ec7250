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

mod accept;
mod deadlines;
mod deliver;
mod serve;
mod stop;

use std::collections::VecDeque;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use mio::net::TcpListener;
use mio::{Events, Poll, Token};
use slab::Slab;
use turbine_codec::ReadBuf;

use crate::connection::{Connection, Phase};
use crate::limits::IpCounts;
use crate::mailbox::{Mailbox, Message};
use crate::offload::PoolCell;
use crate::output::Output;
use crate::periodic::{Periodic, Task};
use crate::stats::StatsHandle;
use crate::timers::Timers;
use crate::{CloseReason, Config, Context, FrameOut, Handler, ReactorStats, ShutdownHandle};

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
    pub(crate) periodic: Vec<(Duration, Task)>,
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
    /// The program's periodic tasks.
    periodic: Periodic,
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
            periodic: Periodic::new(&parts.periodic, Instant::now()),
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
            self.periodic.next_due(),
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
}
