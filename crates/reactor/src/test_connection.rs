//! `TestConnection`: a handler and its codec driven with in-memory bytes, no socket.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use mio::{Poll, Token, Waker};
use turbine_codec::{CodecError, Decoder, ReadBuf};

use crate::connection::{self, ConnIo, Phase};
use crate::mailbox::{Mailbox, Message};
use crate::offload::{self, PoolCell};
use crate::reactor::Env;
use crate::{CloseReason, Config, ConnHandle, ConnId, Context, FrameOut, Handler, ReactorStats};

/// Drives one handler and its codec the way a reactor does, with bytes pushed in by a test.
///
/// Input can be pushed in any chunking; each [`push`](TestConnection::push) is handled like one
/// read (every complete frame goes to the handler, in order). Output is what the handler's
/// encoder produced, read as bytes or decoded back into frames. Frames sent through a
/// [`ConnHandle`] arrive when [`deliver`](TestConnection::deliver) (or
/// [`take_output`](TestConnection::take_output)) runs, as from a reactor's mailbox. Closing
/// behaves as on a socket: a close, a fatal decode error or the peer's end of stream stops
/// frame delivery, and [`close_reason`](TestConnection::close_reason) says why.
///
/// The connection is reported as reactor 0, slot 0, generation 0, peer `127.0.0.1:49152`.
/// Panics in the handler are not caught: a test sees them as they are.
///
/// # Examples
///
/// ```
/// use turbine_reactor::{CloseReason, Config, Context, Handler, TestConnection};
/// use turbine_codec::LinesCodec;
///
/// struct Greeter;
///
/// impl Handler for Greeter {
///     type Codec = LinesCodec;
///     fn codec(&mut self, config: &Config) -> LinesCodec {
///         LinesCodec::new(config.max_frame)
///     }
///     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, name: String) {
///         if name == "bye" {
///             ctx.close();
///         } else {
///             ctx.send(format!("hello {name}"));
///         }
///     }
/// }
///
/// let mut conn = TestConnection::new(Greeter);
/// conn.push(b"ann\nb"); // "b" waits for the rest of its line
/// conn.push(b"ob\nbye\nignored\n");
/// assert_eq!(conn.take_output(), b"hello ann\nhello bob\n");
/// assert_eq!(conn.close_reason(), Some(&CloseReason::Closed));
/// ```
pub struct TestConnection<H: Handler> {
    /// The handler under test.
    handler: H,
    /// Codec, input and output buffers, as on a real connection.
    io: ConnIo<H>,
    /// Configuration and the mailbox that handles post to.
    env: Env<H>,
    /// Counters, as a reactor keeps them.
    stats: ReactorStats,
    /// What handles posted, not yet delivered.
    inbox: Receiver<Message<FrameOut<H>>>,
    /// Owns the waker's epoll instance; nothing polls it.
    _poll: Poll,
    /// Set once the connection has closed, with the reason.
    closed: Option<CloseReason>,
    /// Output taken by `take_frames` that did not make a whole frame yet.
    unread_output: ReadBuf,
}

impl<H: Handler> TestConnection<H> {
    /// Opens a test connection with the default [`Config`]: builds the codec and calls
    /// [`Handler::on_open`].
    ///
    /// # Panics
    ///
    /// If the operating system refuses an `epoll` instance for the handles' waker.
    pub fn new(handler: H) -> Self {
        TestConnection::with_config(handler, Config::new())
    }

    /// Like [`new`](TestConnection::new) with a configuration (its `max_frame` goes to the
    /// codec, its write limit to handles).
    ///
    /// # Panics
    ///
    /// If the operating system refuses an `epoll` instance for the handles' waker.
    pub fn with_config(mut handler: H, config: Config) -> Self {
        let poll = Poll::new().expect("TestConnection: cannot create an epoll instance");
        let waker =
            Waker::new(poll.registry(), Token(0)).expect("TestConnection: cannot create a waker");
        let (mailbox, inbox) = Mailbox::new(Arc::new(waker));
        let codec = handler.codec(&config);
        let id = ConnId {
            reactor: 0,
            key: 0,
            generation: 0,
        };
        let peer = SocketAddr::from((Ipv4Addr::LOCALHOST, 49152));
        let mut conn = TestConnection {
            handler,
            io: ConnIo::new(id, peer, codec, Instant::now()),
            env: Env {
                index: 0,
                mailbox,
                pool: PoolCell::new(config.pool_config()),
                config: Arc::new(config),
            },
            stats: ReactorStats::default(),
            inbox,
            _poll: poll,
            closed: None,
            unread_output: ReadBuf::new(),
        };
        conn.stats.accepted = 1;
        conn.stats.open = 1;
        conn.callback(|h, ctx| h.on_open(ctx));
        conn
    }

    /// Hands `bytes` to the connection as one read: every complete frame they finish goes to
    /// the handler. Ignored once the connection is closing, as a reactor discards such input.
    pub fn push(&mut self, bytes: &[u8]) {
        self.read(bytes, false);
    }

    /// The peer closes its side: what is left is decoded to the end (a truncated frame is a
    /// decode error), then the connection closes.
    pub fn push_eof(&mut self) {
        self.read(&[], true);
        self.io.begin_close(CloseReason::PeerClosed);
        self.settle();
    }

    /// Starts a graceful server shutdown for this connection: calls [`Handler::on_shutdown`].
    pub fn shutdown(&mut self) {
        if self.io.phase == Phase::Open {
            self.callback(|h, ctx| h.on_shutdown(ctx));
        }
    }

    /// A handle to this connection, as [`Context::handle`] gives one.
    pub fn handle(&mut self) -> ConnHandle<FrameOut<H>> {
        let Self {
            handler: _,
            io,
            env,
            stats,
            ..
        } = self;
        Context { io, env, stats }.handle()
    }

    /// Encodes the frames sent through handles so far, as a reactor does when it drains its
    /// mailbox; returns how many were delivered (frames arriving after the close are dropped).
    pub fn deliver(&mut self) -> usize {
        let mut delivered = 0;
        while let Ok(msg) = self.inbox.try_recv() {
            delivered += usize::from(self.receive(msg));
        }
        self.settle();
        delivered
    }

    /// Waits until every offloaded job has been answered (or `timeout` has passed), delivering
    /// results and handle frames as they arrive; returns whether none is pending.
    pub fn finish_offloads(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.io.offloads.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.inbox.recv_timeout(left) {
                Ok(msg) => {
                    self.receive(msg);
                }
                Err(_) => break,
            }
        }
        self.deliver();
        self.io.offloads.is_empty()
    }

    /// Handles one mailbox message as a reactor would; returns whether it produced anything.
    fn receive(&mut self, msg: Message<FrameOut<H>>) -> bool {
        if self.closed.is_some() {
            return false; // the connection is gone: frames and results are dropped
        }
        match msg {
            Message::Send { frame, .. } => {
                if let Some(shared) = &self.io.shared {
                    shared
                        .in_flight
                        .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                }
                self.io.encode(frame, &mut self.stats);
            }
            Message::Broadcast { payload, .. } => {
                if self.io.pending_output() + payload.len() > self.env.config.write_limit {
                    self.callback(|h, ctx| h.on_overflow(ctx));
                } else {
                    self.io.output.push_shared(payload);
                    self.stats.frames_out += 1;
                }
            }
            Message::Offloaded { seq, outcome, .. } => {
                let Some(front_seq) = self.io.offloads.front().map(|p| p.seq) else {
                    return false;
                };
                if let Some(pending) = self.io.offloads.get_mut((seq - front_seq) as usize) {
                    pending.outcome = Some(outcome);
                }
                self.callback(offload::complete);
            }
        }
        true
    }

    /// Everything written since the last call, after delivering frames sent through handles.
    pub fn take_output(&mut self) -> Vec<u8> {
        self.deliver();
        let output = self.io.output.take_bytes();
        self.stats.bytes_out += output.len() as u64;
        output
    }

    /// [`take_output`](TestConnection::take_output), decoded into frames with a client-side
    /// `decoder`. Bytes of an incomplete last frame are kept for the next call (use the same
    /// decoder then).
    ///
    /// # Errors
    ///
    /// The decoder's error, if the output is not valid for it.
    pub fn take_frames<D: Decoder>(&mut self, decoder: &mut D) -> Result<Vec<D::Item>, CodecError> {
        let output = self.take_output();
        self.unread_output.extend_from_slice(&output);
        let mut frames = Vec::new();
        while let Some(frame) = decoder.decode(&mut self.unread_output)? {
            frames.push(frame);
        }
        Ok(frames)
    }

    /// Why the connection closed, once it has.
    pub fn close_reason(&self) -> Option<&CloseReason> {
        self.closed.as_ref()
    }

    /// Whether the connection has closed.
    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    /// Counters as a reactor would keep them for this one connection.
    pub fn stats(&self) -> ReactorStats {
        self.stats
    }

    /// The handler, to inspect its state.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The handler, to change its state.
    pub fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// One read of `bytes` (or the end of stream), decoded and dispatched.
    fn read(&mut self, bytes: &[u8], eof: bool) {
        if self.io.phase != Phase::Open {
            return;
        }
        self.stats.bytes_in += bytes.len() as u64;
        self.io.peer_eof |= eof;
        let mut input = std::mem::take(&mut self.io.input);
        input.extend_from_slice(bytes);
        let Self {
            handler,
            io,
            env,
            stats,
            ..
        } = self;
        connection::dispatch(handler, io, &mut input, eof, env, stats);
        self.io.input = input;
        self.settle();
    }

    /// Runs one callback with a context.
    fn callback(&mut self, f: impl FnOnce(&mut H, &mut Context<'_, H>)) {
        let Self {
            handler,
            io,
            env,
            stats,
            ..
        } = self;
        f(handler, &mut Context { io, env, stats });
        self.settle();
    }

    /// Completes a close the way a reactor does once output is flushed (here output counts as
    /// flushed at once: the test reads it with `take_output`).
    fn settle(&mut self) {
        // A closing connection still answers its pending jobs first, as on a socket.
        if self.closed.is_some() || self.io.phase == Phase::Open || !self.io.offloads.is_empty() {
            return;
        }
        self.io.phase = Phase::Lingering;
        let reason = self.io.close_reason.take().unwrap_or(CloseReason::Closed);
        if let Some(shared) = &self.io.shared {
            shared
                .closed
                .store(true, std::sync::atomic::Ordering::Release);
        }
        self.stats.open = 0;
        self.stats.closed = 1;
        self.handler.on_close(reason.clone());
        self.closed = Some(reason);
    }
}

impl<H: Handler> std::fmt::Debug for TestConnection<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestConnection")
            .field("output_len", &self.io.pending_output())
            .field("closed", &self.closed)
            .finish()
    }
}
