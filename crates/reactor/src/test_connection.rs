//! `TestConnection`: a handler and its codec driven over an in-memory socket, no reactor.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use mio::{Poll, Token, Waker};
use turbine_codec::{CodecError, Decoder, ReadBuf};

use crate::addrs::Addrs;
use crate::connection::{Conn, Connection, Readiness, Step};
use crate::core::Core;
use crate::limits::Limits;
use crate::mailbox::{Bell, Mailboxes, Message};
use crate::memory_socket::MemorySocket;
use crate::offload::PoolCell;
use crate::{
    CloseReason, Config, ConnHandle, ConnId, FrameOut, Handler, ProxyHeader, ReactorStats,
};

/// The peer of every test connection (the server an outbound one connects to).
const PEER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 49152);
/// The local address of an accepted test connection.
const LOCAL: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 7878);
/// Where an outbound test connection connects from.
const CONNECTED_FROM: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 49153);

/// Drives one handler and its codec exactly as a reactor does, over an in-memory socket whose
/// other end is the test.
///
/// It is the reactor's own connection code, not a model of it: the same reads and decoding,
/// the same watermarks, write limit and output accounting, the same closing, lingering and
/// timeouts, the same handling of handle frames, broadcasts and offloaded results. So a handle
/// send past the write limit fails here as on a socket, a closing connection skips broadcasts
/// here as there, and a panic in the handler closes the connection with
/// [`CloseReason::Panicked`] (it is also printed by the panic hook).
///
/// - Input: each [`push`](TestConnection::push) is what the peer sent; the connection reads it
///   as from a socket (one read per push, unless a push is larger than `TURBINE_READ_BUFFER`).
///   [`push_eof`](TestConnection::push_eof) is the peer's FIN.
/// - Output: [`take_output`](TestConnection::take_output) reads what the connection wrote, as
///   bytes; [`take_frames`](TestConnection::take_frames) decodes it with a client's decoder. By
///   default the peer takes any amount of unread output; [`set_peer_window`](Self::set_peer_window)
///   bounds it like a socket buffer, so output piles up in the connection until the test reads.
/// - Messages: frames sent through a [`ConnHandle`], broadcasts and offloaded results arrive
///   when [`deliver`](TestConnection::deliver) (or `take_output`) runs, as from a reactor's
///   mailbox; [`finish_offloads`](TestConnection::finish_offloads) waits for jobs.
/// - Time: the connection's clock stands still unless [`advance`](TestConnection::advance)
///   moves it; timeouts and [`Context::set_timer`](crate::Context::set_timer) timers fire then.
/// - Closing: [`close_reason`](TestConnection::close_reason) says why once our side has sent
///   its FIN. The in-memory peer answers our FIN with its own, as a client that reads to the end
///   does, so `on_close` follows at once.
///
/// The connection is reported as reactor 0 with a process-unique [`ConnId`], peer
/// `127.0.0.1:49152` and local address `127.0.0.1:7878` (an outbound one: connected to
/// `127.0.0.1:49152` from `127.0.0.1:49153`; one [`proxied`](TestConnection::proxied): the
/// addresses its PROXY header gives).
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
///         LinesCodec::new(config.frame_limits())
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
    /// The connection, over the in-memory socket.
    conn: Connection<H, MemorySocket>,
    /// What a reactor would lend it: clock, buffers, timers, counters, mailboxes.
    core: Core,
    /// What handles and jobs posted, not yet delivered.
    inbox: Receiver<Message<FrameOut<H>>>,
    /// Owns the waker's epoll instance; nothing polls it.
    _poll: Poll,
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

    /// Like [`new`](TestConnection::new) with a configuration: its frame limits go to the
    /// codec, its watermarks, write limit and timeouts apply as on a socket.
    ///
    /// # Panics
    ///
    /// If the operating system refuses an `epoll` instance for the handles' waker.
    pub fn with_config(handler: H, config: Config) -> Self {
        TestConnection::build(handler, config, Addrs::new(PEER, LOCAL), None)
    }

    /// Like [`with_config`](TestConnection::with_config) for a connection that started with
    /// the PROXY `header` (as on a listener with `TURBINE_PROXY_PROTOCOL`): the handler's
    /// [`Context::proxy`](crate::Context::proxy) is `header`, and its
    /// [`peer_addr`](crate::Context::peer_addr) and [`local_addr`](crate::Context::local_addr)
    /// are the header's source and destination, or the test's own addresses for a header with
    /// none (a v2 `LOCAL`, a v1 `UNKNOWN`). The header is taken as given: whether its balancer
    /// is trusted is the listener's business, not tested here.
    ///
    /// # Panics
    ///
    /// If the operating system refuses an `epoll` instance for the handles' waker.
    ///
    /// # Examples
    ///
    /// ```
    /// use turbine_reactor::{Config, Context, Handler, ProxyHeader, ProxyProtocol, ProxyRead};
    /// use turbine_reactor::TestConnection;
    /// use turbine_codec::LinesCodec;
    ///
    /// struct Where;
    ///
    /// impl Handler for Where {
    ///     type Codec = LinesCodec;
    ///     fn codec(&mut self, config: &Config) -> LinesCodec {
    ///         LinesCodec::new(config.frame_limits())
    ///     }
    ///     fn on_open(&mut self, ctx: &mut Context<'_, Self>) {
    ///         ctx.send(ctx.peer_addr().to_string());
    ///     }
    ///     fn on_frame(&mut self, _ctx: &mut Context<'_, Self>, _line: String) {}
    /// }
    ///
    /// let balancer = "127.0.0.1:40000".parse().unwrap();
    /// let input = b"PROXY TCP4 203.0.113.7 192.0.2.1 51000 443\r\n";
    /// let ProxyRead::Complete { header, .. } = ProxyHeader::parse(input, ProxyProtocol::Any, balancer)
    /// else {
    ///     panic!("a whole v1 header");
    /// };
    /// let mut conn = TestConnection::proxied(Where, Config::new(), header);
    /// assert_eq!(conn.take_output(), b"203.0.113.7:51000\n");
    /// ```
    pub fn proxied(handler: H, config: Config, header: ProxyHeader) -> Self {
        let addrs = Addrs::proxied(header, Addrs::new(PEER, LOCAL));
        TestConnection::build(handler, config, addrs, None)
    }

    /// An outbound connection (as [`Context::connect`](crate::Context::connect) opens one) whose
    /// connect is under way, with the default [`Config`]: nothing runs until the test ends the
    /// connect with [`connected`](TestConnection::connected) (then `on_open`) or
    /// [`connect_fails`](TestConnection::connect_fails) (then `on_connect_failed`), or
    /// [`advance`](TestConnection::advance) passes `TURBINE_CONNECT_TIMEOUT`. Frames sent to it
    /// meanwhile wait and go out first once connected.
    ///
    /// # Panics
    ///
    /// If the operating system refuses an `epoll` instance for the handles' waker.
    pub fn connecting(handler: H) -> Self {
        TestConnection::connecting_with_config(handler, Config::new())
    }

    /// [`connecting`](TestConnection::connecting) with a configuration.
    ///
    /// # Panics
    ///
    /// If the operating system refuses an `epoll` instance for the handles' waker.
    pub fn connecting_with_config(handler: H, config: Config) -> Self {
        let deadline = Instant::now() + config.connect_timeout;
        TestConnection::build(handler, config, Addrs::outbound(PEER), Some(deadline))
    }

    /// The connect under way succeeds: `on_open` runs, and what waited goes out.
    pub fn connected(&mut self) {
        self.conn
            .socket_mut()
            .set_connect_outcome(Ok(CONNECTED_FROM));
        self.step(|conn, core| conn.ready(core, Readiness::WRITABLE));
    }

    /// The connect under way fails with `error`: `on_connect_failed` runs, then the connection
    /// closes with [`CloseReason::ConnectFailed`].
    pub fn connect_fails(&mut self, error: std::io::Error) {
        self.conn.socket_mut().set_connect_outcome(Err(error));
        self.step(|conn, core| conn.ready(core, Readiness::WRITABLE));
    }

    /// Whether the connection closed with a reset ([`Context::reset`](crate::Context::reset)).
    pub fn is_reset(&mut self) -> bool {
        self.conn.socket_mut().is_reset()
    }

    /// An accepted connection with ends `addrs`, or an outbound one connecting until
    /// `connecting` (a deadline; `addrs` is then not used).
    fn build(mut handler: H, config: Config, addrs: Addrs, connecting: Option<Instant>) -> Self {
        let poll = Poll::new().expect("TestConnection: cannot create an epoll instance");
        let waker =
            Waker::new(poll.registry(), Token(0)).expect("TestConnection: cannot create a waker");
        let pool = PoolCell::new(config.pool_config());
        let mut core = Core::new(
            0,
            Arc::new(config),
            pool,
            Mailboxes::new(Bell::new(Arc::new(waker))),
            Arc::new(Limits::new(usize::MAX, 0)),
            None,
        );
        let inbox = core.mailboxes().inbox::<H>();
        let codec = handler.codec(core.config());
        let id = ConnId::new(0, 0, core.next_serial());
        let socket = MemorySocket::default();
        let conn = match connecting {
            Some(deadline) => {
                Connection::connecting(handler, codec, socket, id, PEER, deadline, None)
            }
            None => Connection::new(handler, codec, socket, id, addrs),
        };
        let mut test = TestConnection {
            conn,
            core,
            inbox,
            _poll: poll,
            unread_output: ReadBuf::new(),
        };
        test.step(|conn, core| conn.open(core));
        test
    }

    /// The peer sends `bytes`: the connection reads them and hands every frame they complete to
    /// the handler. Once it is closing, they are read and discarded, as on a socket.
    pub fn push(&mut self, bytes: &[u8]) {
        self.conn.socket_mut().push_input(bytes);
        self.step(|conn, core| conn.ready(core, Readiness::READABLE));
    }

    /// The peer closes its side: what is left is decoded to the end (a truncated frame is a
    /// decode error), replies go out, then the connection closes.
    pub fn push_eof(&mut self) {
        self.conn.socket_mut().close_input();
        self.step(|conn, core| conn.ready(core, Readiness::FIN));
    }

    /// Starts a graceful server shutdown for this connection: calls [`Handler::on_shutdown`],
    /// then the connection closes at its first quiet moment.
    pub fn shutdown(&mut self) {
        self.step(|conn, core| conn.shutdown(core));
    }

    /// Moves the connection's clock forward by `by` and runs one turn of its reactor: timeouts
    /// and handler timers due by then fire, in time order (a timer set again from `on_timer`
    /// for a moment already past fires in the next turn, as on a reactor).
    pub fn advance(&mut self, by: Duration) {
        let now = self.core.now() + by;
        self.core.set_now(now);
        self.core.begin_turn();
        while let Some((at, _key, serial)) = self.core.timers().pop_due(now) {
            if serial == self.conn.id().serial() {
                self.step(|conn, core| conn.deadline(core, at));
            }
        }
    }

    /// Bounds how much unread output the peer takes before the connection's writes block, as a
    /// socket buffer does (`None`, the default, for no bound). Output past it waits in the
    /// connection, counts against the watermarks and the write limit, and is written when the
    /// test reads with [`take_output`](TestConnection::take_output).
    pub fn set_peer_window(&mut self, bytes: Option<usize>) {
        self.conn.socket_mut().set_window(bytes);
        if !self.conn.is_connecting() {
            // A socket that takes writes again says so with a writable event.
            self.step(|conn, core| conn.ready(core, Readiness::WRITABLE));
        }
    }

    /// A handle to this connection, as [`Context::handle`](crate::Context::handle) gives one.
    pub fn handle(&mut self) -> ConnHandle<FrameOut<H>> {
        self.conn.handle(&mut self.core)
    }

    /// Applies what was sent through handles (and broadcasts, and job results) so far, as a
    /// reactor does when it drains its mailbox; returns how many were taken (a closing
    /// connection takes none).
    pub fn deliver(&mut self) -> usize {
        let mut taken = 0;
        while let Ok(msg) = self.inbox.try_recv() {
            taken += self.receive(msg);
        }
        taken
    }

    /// Waits until every offloaded job has been answered (or `timeout` has passed), applying
    /// results and handle frames as they arrive; returns whether none is pending.
    pub fn finish_offloads(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.conn.pending_offloads() > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.inbox.recv_timeout(left) {
                Ok(msg) => {
                    self.receive(msg);
                }
                Err(_) => break,
            }
        }
        self.deliver();
        self.conn.pending_offloads() == 0
    }

    /// Everything the connection wrote since the last call, after delivering messages. Reading
    /// makes room in the peer's window, so output that waited for it is written and returned
    /// too.
    pub fn take_output(&mut self) -> Vec<u8> {
        self.deliver();
        let mut output = self.conn.socket_mut().take_output();
        while self.conn.pending_output() > 0 && !self.conn.is_closed() && !self.conn.is_connecting()
        {
            // The peer made room: the socket takes writes again.
            self.step(|conn, core| conn.ready(core, Readiness::WRITABLE));
            let taken = self.conn.socket_mut().take_output();
            if taken.is_empty() {
                break; // what is left waits for offloaded jobs, or the window is closed
            }
            output.extend_from_slice(&taken);
        }
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

    /// Output bytes waiting in the connection (not yet written to the peer's window).
    pub fn output_len(&self) -> usize {
        self.conn.pending_output()
    }

    /// Why the connection closed, once our side has (its FIN sent, or gone).
    pub fn close_reason(&self) -> Option<&CloseReason> {
        self.conn.close_reason()
    }

    /// Whether the connection has closed (our side done; see
    /// [`close_reason`](TestConnection::close_reason)).
    pub fn is_closed(&self) -> bool {
        self.conn.close_reason().is_some()
    }

    /// Counters as a reactor would keep them for this one connection.
    pub fn stats(&self) -> ReactorStats {
        *self.core.stats()
    }

    /// The handler, to inspect its state.
    pub fn handler(&self) -> &H {
        self.conn.handler()
    }

    /// The handler, to change its state.
    pub fn handler_mut(&mut self) -> &mut H {
        self.conn.handler_mut()
    }

    /// Applies one mailbox message as a reactor would; returns how many letters the
    /// connection took.
    fn receive(&mut self, msg: Message<FrameOut<H>>) -> usize {
        let serial = self.conn.id().serial();
        let mut letters = Vec::new();
        msg.open(|_key, to, letter| {
            if to == serial {
                letters.push(letter);
            }
        });
        let mut taken = 0;
        for letter in letters {
            taken += usize::from(self.conn.takes_messages());
            self.step(|conn, core| conn.deliver(core, letter));
        }
        taken
    }

    /// One step of the connection, then what a reactor would do next: serve it while it is
    /// queued; and as the peer, answer our FIN with ours.
    fn step(&mut self, f: impl FnOnce(&mut Connection<H, MemorySocket>, &mut Core) -> Step) {
        if self.conn.is_closed() {
            return;
        }
        let mut step = f(&mut self.conn, &mut self.core);
        while step == Step::Open {
            if self.core.dequeue().is_some() {
                step = Conn::serve_queued(&mut self.conn, &mut self.core);
            } else if self.core.next_turn_joins() {
                // A read budget ran out: the next turn serves it.
            } else if self.conn.socket_mut().is_output_closed()
                && !self.conn.socket_mut().is_input_closed()
            {
                self.conn.socket_mut().close_input();
                step = self.conn.ready(&mut self.core, Readiness::FIN);
            } else {
                break;
            }
        }
        // Whatever was queued is served (or moot once closed).
        self.core.next_turn_joins();
        while self.core.dequeue().is_some() {}
    }
}

impl<H: Handler> fmt::Debug for TestConnection<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestConnection")
            .field("id", &self.conn.id())
            .field("output_len", &self.conn.pending_output())
            .field("close_reason", &self.conn.close_reason())
            .finish()
    }
}
