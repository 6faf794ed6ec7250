//! A connection: its handler, its state, its socket, and every transition of its life.
//!
//! [`ConnState`] owns a connection's state (codec, buffers, offloaded jobs, timers, and the
//! states of its life, read side and write side as enums); its fields are private to this module
//! and its children, which are the only code that changes them. [`Connection`] adds the handler
//! and the socket and drives the transitions: the reactor and a
//! [`TestConnection`](crate::TestConnection) (over an in-memory socket) call the very same
//! methods, and each returns a [`Step`]: whether the connection is still open.
//!
//! - `serve.rs`: the serve path, top to bottom: read, decode, dispatch, write, settle.
//! - `close.rs`: closing: `close`, `close_now`, the FIN, the lingering close, the end.
//! - `deadlines.rs`: idle, frame, write, linger and the handler's own timers.
//! - `deliver.rs`: messages from other threads: frames, broadcasts, job results, close.
//! - `outbound.rs`: connecting, and what linked partners do to each other.
//! - `life.rs`: the state enums.

mod close;
mod deadlines;
mod deliver;
mod life;
mod outbound;
mod serve;

use std::any::Any;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;

use turbine_codec::{CodecError, Encoder, ReadBuf};

use crate::addrs::Addrs;
use crate::conn_timers::{ConnTimers, TimerError, TimerId};
use crate::context::Route;
use crate::core::Core;
use crate::handle::ConnShared;
use crate::offload::{Done, Offloads};
use crate::output::{Output, Sink};
use crate::tls::TlsInfo;
use crate::{CloseReason, ConnHandle, ConnId, Context, FileRegion, FrameOut, Handler, Payload};
use life::{Drain, Finish, Flow, Life, ReadSide, Sending, WriteSide};

/// Whether a connection is still open after a step. The owner drops a `Closed` one (its
/// handler has had `on_close`; dropping closes the socket).
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Still open (perhaps closing).
    Open,
    /// Gone.
    Closed,
    /// Gone, replaced in its slot by the connection it handed to
    /// [`Core::hand_over`](crate::core::Core::hand_over) (an accepted socket whose PROXY header
    /// has arrived becomes the handler's connection).
    Replaced,
}

/// A handler callback panicked; the connection must close.
#[derive(Debug)]
pub(crate) struct Panicked;

/// A socket as a connection uses it: non-blocking reads and writes (of file regions too, where
/// it can), a half-close, a reset, and the outcome of a non-blocking connect.
pub(crate) trait Transport: Read + Write + Sink {
    /// Sends our FIN after what was written; reading goes on.
    fn shutdown_write(&mut self) -> io::Result<()>;

    /// Makes the close that follows a reset (SO_LINGER 0) instead of a FIN.
    fn set_reset_on_close(&mut self);

    /// After the first writable (or error) event of a connecting socket: the local address
    /// the connect went out from if it succeeded, else why not.
    ///
    /// # Errors
    ///
    /// The connect's error (refused, unreachable...). Any error counts: after a failed connect
    /// no second event comes to wait for.
    fn finish_connect(&mut self) -> io::Result<SocketAddr>;

    /// Whether the read that just returned `got` of the `asked` bytes proves the socket
    /// drained, so that no read is needed before the next readable event (a read that would
    /// only say `WouldBlock` is a system call for nothing). On a plain socket, a short read
    /// does; TLS says whether its own last read of the socket was short.
    fn read_drained(&self, got: usize, asked: usize) -> bool {
        got < asked
    }

    /// Whether a TLS handshake must complete before the connection opens.
    fn is_tls(&self) -> bool {
        false
    }

    /// Drives a TLS handshake as far as the socket allows.
    ///
    /// # Errors
    ///
    /// The handshake failed (bad records, no common version or cipher, the peer left).
    fn handshake(&mut self) -> io::Result<Handshake> {
        Ok(Handshake::Done)
    }

    /// Whether TLS records wait to be written (they are written before anything else, and
    /// before our FIN).
    fn has_pending_output(&self) -> bool {
        false
    }

    /// Writes the TLS records that wait.
    ///
    /// # Errors
    ///
    /// The socket's write error, `WouldBlock` included.
    fn flush_pending(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Queues a TLS `close_notify` (once): `true` if it was queued now and must be written
    /// before the FIN.
    fn close_notify(&mut self) -> bool {
        false
    }

    /// The TLS session's facts, once its handshake is done.
    fn tls_info(&self) -> Option<TlsInfo> {
        None
    }
}

/// How far a TLS handshake is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Handshake {
    /// Done (or there is none): the connection can open.
    Done,
    /// Waiting for the socket.
    Pending,
}

impl Sink for mio::net::TcpStream {
    fn sends_files(&self) -> bool {
        cfg!(target_os = "linux")
    }

    /// `sendfile(2)` (rustix's safe wrapper): the kernel copies from the page cache to the
    /// socket buffer, or on loopback hands the pages over without any copy.
    #[cfg(target_os = "linux")]
    fn write_before_file(&mut self, bufs: &[std::io::IoSlice<'_>]) -> io::Result<usize> {
        use rustix::net::{SendAncillaryBuffer, SendFlags};
        let flags = SendFlags::MORE | SendFlags::NOSIGNAL;
        let mut control = SendAncillaryBuffer::default();
        Ok(rustix::net::sendmsg(&*self, bufs, &mut control, flags)?)
    }

    #[cfg(target_os = "linux")]
    fn send_file(&mut self, file: &std::fs::File, offset: u64, len: usize) -> io::Result<usize> {
        let mut offset = offset;
        Ok(rustix::fs::sendfile(&*self, file, Some(&mut offset), len)?)
    }
}

impl Transport for mio::net::TcpStream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }

    fn set_reset_on_close(&mut self) {
        let _ = socket2::SockRef::from(&*self).set_linger(Some(std::time::Duration::ZERO));
    }

    fn finish_connect(&mut self) -> io::Result<SocketAddr> {
        // mio's recipe: the pending error first, then the peer address (NotConnected if the
        // connect is not through; treated as a failure, see above).
        if let Some(e) = self.take_error()? {
            return Err(e);
        }
        self.peer_addr()?;
        self.local_addr()
    }
}

/// Who opened a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A listener accepted it.
    Accepted,
    /// A handler (or the program) connected it.
    Connected,
    /// A listener accepted it and its PROXY header has not arrived: it holds a connection
    /// slot, but no per-address count yet (the address is the header's).
    Pending,
}

/// What a readiness event said.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Readiness {
    /// Input (or an error) may be waiting.
    pub(crate) readable: bool,
    /// The peer's FIN (or an error) was reported.
    pub(crate) fin: bool,
    /// The socket takes writes again.
    pub(crate) writable: bool,
}

impl Readiness {
    /// Input arrived.
    pub(crate) const READABLE: Readiness = Readiness {
        readable: true,
        fin: false,
        writable: false,
    };
    /// The peer's FIN arrived.
    pub(crate) const FIN: Readiness = Readiness {
        readable: true,
        fin: true,
        writable: false,
    };
    /// The socket takes writes again.
    pub(crate) const WRITABLE: Readiness = Readiness {
        readable: false,
        fin: false,
        writable: true,
    };

    /// From a mio event.
    pub(crate) fn of(event: &mio::event::Event) -> Self {
        Readiness {
            readable: event.is_readable() || event.is_read_closed() || event.is_error(),
            fin: event.is_read_closed() || event.is_error(),
            writable: event.is_writable() || event.is_write_closed() || event.is_error(),
        }
    }
}

/// One connection: the user's handler, the connection's state, and its socket.
pub(crate) struct Connection<H: Handler, S> {
    /// The protocol's per-connection state.
    handler: H,
    /// Everything else the connection is; what a [`Context`] sees.
    state: ConnState<H>,
    /// The socket (a TCP stream, or an in-memory one in tests).
    socket: S,
}

/// A connection's state apart from its handler (so both can be borrowed at once) and its
/// socket (so a test connection can drive it in memory).
pub(crate) struct ConnState<H: Handler> {
    /// Reactor, slot and serial number.
    id: ConnId,
    /// The client's address and the one it reached (from a PROXY header, if any).
    addrs: Addrs,
    /// Accepted or outbound.
    origin: Origin,
    /// The linked connection on the same reactor, if any: coupled backpressure, told of
    /// this one's close.
    partner: Option<ConnId>,
    /// Decoder and encoder.
    codec: H::Codec,
    /// Bytes of an unfinished frame; empty and unallocated between frames (reads then go
    /// through the reactor's shared buffer).
    input: ReadBuf,
    /// Output not yet written: encoded frames and shared broadcast payloads.
    output: Output,
    /// Offloaded jobs not yet answered, and the frames held behind them.
    offloads: Offloads<H>,
    /// Where the connection is in its life.
    life: Life,
    /// What the socket's read side is known to hold.
    read: ReadSide,
    /// Whether backpressure has paused reading.
    flow: Flow,
    /// Whether the socket takes writes.
    write: WriteSide,
    /// Whether our side still sends (a half-close ends it).
    sending: Sending,
    /// Whether the handler (`on_writable`) and the partner are owed a word when output drains.
    drain: Drain,
    /// Where the idle clock starts: the last input (for a partner, any write too), the open, or
    /// the end of a pause.
    idle_since: Instant,
    /// When input last arrived, if ever (the linger decision).
    last_input: Option<Instant>,
    /// When the unfinished frame in `input` began (the frame timeout).
    partial_since: Option<Instant>,
    /// The handler's own timers.
    timers: ConnTimers,
    /// The earliest time a look at this connection is scheduled in the reactor's heap.
    armed: Option<Instant>,
    /// Pending output as last added to the reactor's `output_buffered` counter.
    accounted: usize,
    /// Shared with `ConnHandle`s; made by the first one.
    shared: Option<Arc<ConnShared>>,
    /// Whether the connection is in the reactor's run queue, this turn's or the next's.
    queued: bool,
    /// The transport held records it could not write yet (TLS), as of the last flush.
    transport_pending: bool,
    /// The TLS session's facts, once its handshake is done.
    tls: Option<TlsInfo>,
    /// Whether the socket sends file regions itself (plain TCP on Linux): whether
    /// `Context::send_file` takes them.
    sends_files: bool,
}

impl<H: Handler, S: Transport> Connection<H, S> {
    /// An accepted connection; nothing runs until [`open`](Connection::open).
    pub(crate) fn new(handler: H, codec: H::Codec, socket: S, id: ConnId, addrs: Addrs) -> Self {
        Connection::with_life(handler, codec, socket, id, addrs, Life::Open, None)
    }

    /// An outbound connection whose connect is under way, timing out at `deadline`, linked to
    /// `partner` if given; [`open`](Connection::open) starts its clock.
    pub(crate) fn connecting(
        handler: H,
        codec: H::Codec,
        socket: S,
        id: ConnId,
        peer: SocketAddr,
        deadline: Instant,
        partner: Option<ConnId>,
    ) -> Self {
        let life = Life::Connecting { deadline };
        let addrs = Addrs::outbound(peer);
        Connection::with_life(handler, codec, socket, id, addrs, life, partner)
    }

    fn with_life(
        handler: H,
        codec: H::Codec,
        socket: S,
        id: ConnId,
        addrs: Addrs,
        life: Life,
        partner: Option<ConnId>,
    ) -> Self {
        let now = Instant::now();
        let origin = match life {
            Life::Connecting { .. } => Origin::Connected,
            _ => Origin::Accepted,
        };
        Connection {
            handler,
            state: ConnState {
                id,
                addrs,
                origin,
                partner,
                codec,
                input: ReadBuf::new(),
                output: Output::default(),
                offloads: Offloads::default(),
                life,
                read: ReadSide::Drained,
                flow: Flow::Flowing,
                write: WriteSide::Writable,
                sending: Sending::Open,
                drain: Drain::Clear,
                idle_since: now,
                last_input: None,
                partial_since: None,
                timers: ConnTimers::default(),
                armed: None,
                accounted: 0,
                shared: None,
                queued: false,
                transport_pending: false,
                tls: None,
                sends_files: socket.sends_files(),
            },
            socket,
        }
    }

    /// Counts the connection open. An accepted one gets `on_open` now (a greeting sent there
    /// goes out first); an outbound one starts its connect timeout and gets `on_open` once
    /// connected.
    pub(crate) fn open(&mut self, core: &mut Core) -> Step {
        self.state.idle_since = core.now();
        let stats = core.stats_mut();
        stats.open += 1;
        if self.state.origin == Origin::Connected {
            stats.outbound += 1;
            self.state.arm(core);
            return Step::Open;
        }
        stats.accepted += 1;
        if self.socket.is_tls() {
            self.begin_handshake(core);
            return self.advance_handshake(core);
        }
        if self
            .callback(core, Route::InOrder, |h, ctx| h.on_open(ctx))
            .is_err()
        {
            return self.panicked(core);
        }
        self.flush(core)
    }

    /// A readiness event: remember what it said, then serve (or, for a connect under way,
    /// learn its outcome). A connection on the run queue is served there, later in this turn:
    /// serving it here too would give it two turns' budget in one.
    pub(crate) fn ready(&mut self, core: &mut Core, readiness: Readiness) -> Step {
        // Remembered even before the connection opens: an edge is reported once, and a FIN
        // that came with the connect or the handshake's last records must not be lost.
        if readiness.readable {
            self.state.read = self.state.read.readable(readiness.fin);
        }
        match self.state.life {
            Life::Connecting { .. } if readiness.writable || readiness.fin => {
                return self.finish_connect(core);
            }
            Life::Connecting { .. } => return Step::Open,
            Life::Handshaking { .. } => return self.advance_handshake(core),
            _ => {}
        }
        if readiness.writable {
            self.state.write = WriteSide::Writable;
        }
        if self.state.queued {
            return Step::Open;
        }
        self.serve(core)
    }

    /// The connection's identity.
    pub(crate) fn id(&self) -> ConnId {
        self.state.id
    }

    /// The peer's address.
    pub(crate) fn peer(&self) -> SocketAddr {
        self.state.addrs.peer()
    }

    /// The handler.
    pub(crate) fn handler(&self) -> &H {
        &self.handler
    }

    /// The handler, to change.
    pub(crate) fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// The socket.
    pub(crate) fn socket_mut(&mut self) -> &mut S {
        &mut self.socket
    }

    /// Why the connection has stopped, once it has sent its FIN (or is gone).
    pub(crate) fn close_reason(&self) -> Option<&CloseReason> {
        match &self.state.life {
            Life::Lingering { reason, .. } | Life::Closed(reason) => Some(reason),
            _ => None,
        }
    }

    /// Whether its connect is still under way.
    pub(crate) fn is_connecting(&self) -> bool {
        matches!(self.state.life, Life::Connecting { .. })
    }

    /// Whether the connection is gone.
    pub(crate) fn is_closed(&self) -> bool {
        matches!(self.state.life, Life::Closed(_))
    }

    /// Offloaded jobs not yet answered.
    pub(crate) fn pending_offloads(&self) -> usize {
        self.state.offloads.len()
    }

    /// Output bytes not yet written, those held behind jobs included.
    pub(crate) fn pending_output(&self) -> usize {
        self.state.pending_output()
    }

    /// Whether the connection still takes frames and broadcasts from other threads.
    pub(crate) fn takes_messages(&self) -> bool {
        self.state.life.takes_messages()
    }

    /// A handle to this connection, as [`Context::handle`] gives one.
    pub(crate) fn handle(&mut self, core: &mut Core) -> ConnHandle<FrameOut<H>> {
        Context::new(&mut self.state, core, Route::InOrder).handle()
    }

    /// Runs one handler callback with a context, catching a panic.
    fn callback(
        &mut self,
        core: &mut Core,
        route: Route,
        f: impl FnOnce(&mut H, &mut Context<'_, H>),
    ) -> Result<(), Panicked> {
        let Connection { handler, state, .. } = self;
        catch_unwind(AssertUnwindSafe(|| {
            f(handler, &mut Context::new(state, core, route));
        }))
        .map_err(|_| Panicked)
    }

    /// Puts the connection on the run queue (once) to be served later in this turn.
    fn enqueue(&mut self, core: &mut Core) {
        self.state.enqueue(core);
    }

    /// Puts the connection on the next turn's run queue (once): its read budget is spent.
    fn defer(&mut self, core: &mut Core) {
        self.state.defer(core);
    }
}

/// A connection the reactor holds without knowing its handler type.
pub(crate) trait Conn: Any {
    /// The connection's identity.
    fn id(&self) -> ConnId;
    /// The peer's address.
    fn peer(&self) -> SocketAddr;
    /// Accepted or outbound.
    fn origin(&self) -> Origin;
    /// Whether this is the placeholder of a connection being stepped.
    fn is_vacant(&self) -> bool {
        false
    }
    /// Output bytes not yet written.
    fn pending_output(&self) -> usize;
    /// Counts it open and calls `on_open` (or starts its connect).
    fn open(&mut self, core: &mut Core) -> Step;
    /// A readiness event for its socket.
    fn ready(&mut self, core: &mut Core, readiness: Readiness) -> Step;
    /// Its entry in the run queue came up: it may be queued again, and is served.
    fn serve_queued(&mut self, core: &mut Core) -> Step;
    /// Its entry in the timer heap, scheduled for `at`, fired.
    fn deadline(&mut self, core: &mut Core, at: Instant) -> Step;
    /// The server is shutting down.
    fn shutdown(&mut self, core: &mut Core) -> Step;
    /// The shutdown deadline passed: close now.
    fn force_close(&mut self, core: &mut Core);
    /// Its partner's output, `output` bytes now, drained below the low watermark. Only a
    /// connection has a partner: anything else in the table ignores it.
    fn partner_drained(&mut self, _core: &mut Core, _output: usize) -> Step {
        Step::Open
    }
    /// Its partner closed, for `reason` (ignored but by a connection, as above).
    fn partner_closed(&mut self, _core: &mut Core, _reason: &CloseReason) -> Step {
        Step::Open
    }
    /// For typed deliveries.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<H: Handler, S: Transport + 'static> Conn for Connection<H, S> {
    fn id(&self) -> ConnId {
        Connection::id(self)
    }

    fn peer(&self) -> SocketAddr {
        Connection::peer(self)
    }

    fn origin(&self) -> Origin {
        self.state.origin
    }

    fn pending_output(&self) -> usize {
        self.state.pending_output()
    }

    fn open(&mut self, core: &mut Core) -> Step {
        Connection::open(self, core)
    }

    fn ready(&mut self, core: &mut Core, readiness: Readiness) -> Step {
        Connection::ready(self, core, readiness)
    }

    fn serve_queued(&mut self, core: &mut Core) -> Step {
        // Only here does its entry leave the queue: a serve for a readiness event while it is
        // queued must not queue it twice (each duplicate would serve it once more per turn).
        self.state.queued = false;
        Connection::serve(self, core)
    }

    fn deadline(&mut self, core: &mut Core, at: Instant) -> Step {
        Connection::deadline(self, core, at)
    }

    fn shutdown(&mut self, core: &mut Core) -> Step {
        Connection::shutdown(self, core)
    }

    fn force_close(&mut self, core: &mut Core) {
        let _ = self.close(core, CloseReason::Forced);
    }

    fn partner_drained(&mut self, core: &mut Core, output: usize) -> Step {
        Connection::partner_drained(self, core, output)
    }

    fn partner_closed(&mut self, core: &mut Core, reason: &CloseReason) -> Step {
        Connection::partner_closed(self, core, reason)
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

// ----- what a Context asks of the state --------------------------------------------------------

impl<H: Handler> ConnState<H> {
    /// Puts the connection on the run queue (once) to be served later in this turn.
    pub(crate) fn enqueue(&mut self, core: &mut Core) {
        if !self.queued {
            self.queued = true;
            core.enqueue(self.id.slot(), self.id.serial());
        }
    }

    /// Puts the connection on the next turn's run queue (once; if it is on this turn's, it
    /// stays there).
    fn defer(&mut self, core: &mut Core) {
        if !self.queued {
            self.queued = true;
            core.defer(self.id.slot(), self.id.serial());
        }
    }

    /// The connection's identity.
    pub(crate) fn id(&self) -> ConnId {
        self.id
    }

    /// The peer's address.
    pub(crate) fn peer(&self) -> SocketAddr {
        self.addrs.peer()
    }

    /// The address the client reached.
    pub(crate) fn local(&self) -> SocketAddr {
        self.addrs.local()
    }

    /// The PROXY header the connection started with, if any.
    pub(crate) fn proxy(&self) -> Option<&crate::ProxyHeader> {
        self.addrs.proxy()
    }

    /// The TLS session's facts, on a TLS connection.
    pub(crate) fn tls(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }

    /// Output bytes not yet written, those held behind pending jobs included: what the
    /// watermarks and the write limit count.
    pub(crate) fn pending_output(&self) -> usize {
        self.output.len() + self.offloads.held()
    }

    /// Whether frames are no longer delivered (closing or closed).
    pub(crate) fn is_closing(&self) -> bool {
        !self.life.delivers_frames()
    }

    /// Offloaded jobs not yet answered.
    pub(crate) fn pending_offloads(&self) -> usize {
        self.offloads.len()
    }

    /// The state handles share, made on first use.
    pub(crate) fn shared(&mut self) -> Arc<ConnShared> {
        let shared = self.shared.get_or_insert_with(ConnShared::new);
        if !self.life.takes_messages() {
            shared.close();
        }
        Arc::clone(shared)
    }

    /// Encodes one frame: behind the latest pending job (`Route::InOrder`) or straight onto
    /// the output (a job's continuation). An encoder refusal starts the close.
    pub(crate) fn send(&mut self, frame: FrameOut<H>, route: Route, core: &mut Core) {
        if !self.life.accepts_output() || !self.sends() {
            log::trace!(
                "{}: frame dropped: the connection is closing",
                self.addrs.peer()
            );
            return;
        }
        let codec = &mut self.codec;
        let encode = |out: &mut Output| out.push_frame(|dst| codec.encode(frame, dst));
        let encoded = match route {
            Route::InOrder => self.offloads.hold_or(&mut self.output, encode),
            Route::Direct => encode(&mut self.output),
        };
        match encoded {
            Ok(()) => core.stats_mut().frames_out += 1,
            Err(e) => self.refuse_output(e),
        }
    }

    /// Queues bytes already in the protocol's wire format, as `send` queues an encoded frame.
    pub(crate) fn send_encoded(&mut self, bytes: Vec<u8>, route: Route, core: &mut Core) {
        if !self.life.accepts_output() || !self.sends() {
            return;
        }
        match route {
            Route::InOrder => self
                .offloads
                .hold_or(&mut self.output, |out| out.push_encoded(bytes)),
            Route::Direct => self.output.push_encoded(bytes),
        }
        core.stats_mut().frames_out += 1;
    }

    /// Queues a file region for the socket to send, in order with frames (behind pending jobs
    /// like `send`); handed back if the socket cannot send files. Dropped, like a frame, once
    /// the connection no longer takes output.
    pub(crate) fn send_file(
        &mut self,
        region: FileRegion,
        route: Route,
        core: &mut Core,
    ) -> Result<(), FileRegion> {
        if !self.sends_files {
            return Err(region);
        }
        if !self.life.accepts_output() || !self.sends() {
            return Ok(());
        }
        match route {
            Route::InOrder => self
                .offloads
                .hold_or(&mut self.output, |out| out.push_file(region)),
            Route::Direct => self.output.push_file(region),
        }
        core.stats_mut().frames_out += 1;
        Ok(())
    }

    /// `frame` encoded by this connection's encoder, to broadcast.
    pub(crate) fn encode_payload(
        &mut self,
        frame: FrameOut<H>,
    ) -> Result<Payload<FrameOut<H>>, CodecError> {
        Payload::encode(&mut self.codec, frame)
    }

    /// The next job's sequence number, its result's way home, and where its continuation
    /// waits.
    pub(crate) fn next_offload(&self) -> (ConnId, u64) {
        (self.id, self.offloads.next_seq())
    }

    /// Files the continuation of the job just submitted.
    pub(crate) fn push_offload(&mut self, done: Done<H>) {
        self.offloads.push(done);
    }

    /// Sets a timer of the handler's; refused past [`MAX_TIMERS`](crate::MAX_TIMERS) or once
    /// closing. The caller arms the connection's deadline after the callback.
    pub(crate) fn set_timer(&mut self, at: Instant, tag: u64) -> Result<TimerId, TimerError> {
        if !self.life.delivers_frames() {
            return Err(TimerError::Closing);
        }
        self.timers.set(at, tag)
    }

    /// Cancels a timer of the handler's.
    pub(crate) fn cancel_timer(&mut self, id: TimerId) -> bool {
        self.timers.cancel(id)
    }
}
