//! The `Handler` trait: what a protocol implements.

use std::fmt;
use std::io;

use turbine_codec::{CodecError, Decoder, Encoder};

use crate::{Config, Context};

/// Frames a handler's codec decodes.
pub type FrameIn<H> = <<H as Handler>::Codec as Decoder>::Item;
/// Frames a handler's codec encodes: what [`Context::send`] and [`ConnHandle`](crate::ConnHandle)
/// take.
pub type FrameOut<H> = <<H as Handler>::Codec as Encoder>::Item;

/// A protocol: one value per connection, driven by the connection's reactor.
///
/// The server calls its factory once per accepted connection, on the reactor that accepted it,
/// and that value then lives on that reactor thread alone: a handler needs no `Send`, no locks
/// and no `Arc` for per-connection state. Callbacks run on the reactor, so they must not block
/// or run long: hand CPU-heavy work to the worker pool with
/// [`Context::offload`](crate::Context::offload), whose result comes back to this handler, in
/// order, on this reactor.
///
/// Every callback is wrapped in `catch_unwind`: a panic closes that one connection at once
/// (output not yet written is dropped, replies to earlier frames of the same read included),
/// is counted in the stats, and nothing else is affected; [`on_close`](Handler::on_close) then
/// gets [`CloseReason::Panicked`], so state kept outside the handler (a registry entry) is
/// cleaned up as on any other close.
///
/// # Examples
///
/// A line protocol that upper-cases each line:
///
/// ```
/// use turbine_reactor::{Config, Context, Handler};
/// use turbine_codec::LinesCodec;
///
/// struct Shout;
///
/// impl Handler for Shout {
///     type Codec = LinesCodec;
///
///     fn codec(&mut self, config: &Config) -> LinesCodec {
///         LinesCodec::new(config.frame_limits())
///     }
///
///     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
///         ctx.send(line.to_uppercase());
///     }
/// }
/// ```
pub trait Handler: Sized + 'static {
    /// Turns this protocol's bytes into frames and back. Its encoded frame type must be `Send`
    /// so that [`ConnHandle`](crate::ConnHandle)s can carry it between threads.
    type Codec: Decoder + Encoder<Item: Send + 'static>;

    /// Builds this connection's codec; called once, right after the factory.
    ///
    /// [`Config::frame_limits`] gives the stock codecs their bounds: `TURBINE_MAX_FRAME` for
    /// what the peer sends, `TURBINE_MAX_FRAME_OUT` for what the server writes.
    fn codec(&mut self, config: &Config) -> Self::Codec;

    /// Bytes to write to a connection refused at accept (over `TURBINE_MAX_CONNECTIONS` or
    /// `TURBINE_MAX_CONNECTIONS_PER_IP`) before it is closed, e.g. `ERR max connections\n`;
    /// one non-blocking write, best effort. No handler is created for such a connection. The
    /// default sends nothing.
    fn rejection(reason: Rejection) -> Option<Vec<u8>> {
        let _ = reason;
        None
    }

    /// Called once when the connection is accepted, before any frame. A greeting sent here goes
    /// out first. The default does nothing.
    fn on_open(&mut self, ctx: &mut Context<'_, Self>) {
        let _ = ctx;
    }

    /// Called for each decoded frame, in arrival order.
    ///
    /// Frames sent with [`Context::send`] are written after this and the other frames of the same
    /// read have been handled, in one write. Calling [`Context::close`] stops delivery of the
    /// frames that follow.
    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, frame: FrameIn<Self>);

    /// Called when the decoder rejects the input (too long, malformed, or truncated at end of
    /// stream). After a fatal error ([`CodecError::is_fatal`]) the connection is already
    /// closing ([`CloseReason::Decode`], whatever happens to the reply) and closes once what
    /// was sent is flushed, so this is the place to send a protocol error reply. After [`CodecError::Discarded`] (a codec set to skip over-long frames) the
    /// connection stays open and decoding goes on. The default logs at debug level.
    fn on_decode_error(&mut self, ctx: &mut Context<'_, Self>, error: CodecError) {
        log::debug!("{}: closing: {error}", ctx.peer_addr());
    }

    /// Called when the connection's output, having gone above the high watermark, has drained
    /// below the low watermark, whatever put it there (replies to what was read, which also
    /// pauses reading until now, or a job's result, a timer, a handle's frames). Producers that
    /// send more than they read (a download, a stream) stop while
    /// [`Context::is_writable`] is `false` and go on here. The default does nothing.
    fn on_writable(&mut self, ctx: &mut Context<'_, Self>) {
        let _ = ctx;
    }

    /// Called when a [`broadcast`](crate::broadcast) would take this connection's output past
    /// the write limit (`TURBINE_WRITE_LIMIT`): its peer reads more slowly than traffic arrives
    /// for it. That payload is not queued. The default disconnects it at once
    /// ([`CloseReason::Overflow`]); a protocol can instead call [`Context::close_now`] and send
    /// a last line, or keep the connection and let it miss the payload.
    fn on_overflow(&mut self, ctx: &mut Context<'_, Self>) {
        log::debug!(
            "{}: output over the write limit, disconnecting",
            ctx.peer_addr()
        );
        ctx.close_for_overflow();
    }

    /// Called on every open connection when the server shuts down gracefully. From then on the
    /// connection is served as usual until its first quiet moment (no unfinished frame, no
    /// output pending, no offloaded job in flight, the socket read until it would block), then
    /// closed with [`CloseReason::Shutdown`]: a client in the middle of a request gets its
    /// reply, an idle one is closed at once. A protocol can send a goodbye here (it goes out
    /// before the close) or [`close`](Context::close) at once. Connections still open at the
    /// shutdown deadline (`TURBINE_SHUTDOWN_TIMEOUT`) are closed by force. The default does
    /// nothing.
    fn on_shutdown(&mut self, ctx: &mut Context<'_, Self>) {
        let _ = ctx;
    }

    /// Whether this connection has work in flight that the framework cannot see: a request
    /// waiting for another connection's reply, say. During a graceful shutdown a connection is
    /// closed at its first quiet moment only when this is `false`; it is asked after every
    /// callback. The default is `false`.
    fn is_busy(&self) -> bool {
        false
    }

    /// Called when a timer set with [`Context::set_timer`] fires, with its tag. The default
    /// does nothing.
    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, tag: u64) {
        let _ = (ctx, tag);
    }

    /// Called when the peer has closed its side (its FIN, read as the end of the stream), after
    /// every frame before it. Return [`HalfClose::Close`] (the default) to close once the
    /// replies already sent are written ([`CloseReason::PeerClosed`]), or
    /// [`HalfClose::KeepWriting`] to keep sending: no frame arrives any more, and the connection
    /// closes once its own side is shut too ([`Context::close_write`]) or it is closed. A proxy
    /// relaying a half-close keeps writing.
    fn on_peer_closed(&mut self, ctx: &mut Context<'_, Self>) -> HalfClose {
        let _ = ctx;
        HalfClose::Close
    }

    /// Called on an outbound connection (see [`Context::connect`]) whose connect failed:
    /// refused, unreachable, timed out (`TURBINE_CONNECT_TIMEOUT` or the connect's own
    /// timeout)... It never opened, so `on_open` was not called; the connection then closes
    /// with [`CloseReason::ConnectFailed`] (a linked partner hears of it through
    /// [`on_partner_closed`](Handler::on_partner_closed)). The default logs at debug level.
    fn on_connect_failed(&mut self, ctx: &mut Context<'_, Self>, error: io::Error) {
        log::debug!("{}: connect failed: {error}", ctx.peer_addr());
    }

    /// Called when this connection's partner (see [`Context::connect_partner`]) has closed, with
    /// its reason. The default closes this one too, once its output is written; a proxy might
    /// instead reset it when the partner failed ([`Context::reset`]), or try another upstream
    /// when the partner's connect failed.
    fn on_partner_closed(&mut self, ctx: &mut Context<'_, Self>, reason: &CloseReason) {
        let _ = reason;
        ctx.close();
    }

    /// Called once when the connection is gone, with the reason: however it ended, after a
    /// panic in another callback too ([`CloseReason::Panicked`]), and for an outbound
    /// connection whose connect failed. Nothing can be sent any more (sends are dropped), but
    /// the context still gives the connection's id and address and reaches the other
    /// connections of its reactor ([`Context::with_conn`], [`Context::reactor_local`]), to
    /// clean up what they keep for it. The default does nothing.
    fn on_close(&mut self, ctx: &mut Context<'_, Self>, reason: CloseReason) {
        let _ = (ctx, reason);
    }
}

/// Why a connection closed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer closed its side and every reply was flushed.
    PeerClosed,
    /// The handler called [`Context::close`] or [`Context::close_now`], or a
    /// [`ConnHandle::close`](crate::ConnHandle::close) came.
    Closed,
    /// The server shut down gracefully: the connection was closed at its first quiet moment.
    Shutdown,
    /// The decoder rejected the input.
    Decode(CodecError),
    /// The encoder rejected a frame the handler sent.
    Encode(CodecError),
    /// Nothing arrived for the configured idle timeout (for a partner: nothing moved either way).
    IdleTimeout,
    /// An unfinished frame waited longer than the frame timeout for its remaining bytes.
    FrameTimeout,
    /// Pending output did not move for the write timeout (the peer stopped reading).
    WriteTimeout,
    /// Output passed the write limit and the connection was disconnected as too slow.
    Overflow,
    /// Still open at the shutdown deadline.
    Forced,
    /// A read or write failed (for example the peer reset the connection).
    Io(std::io::ErrorKind),
    /// A handler callback (or the codec) panicked.
    Panicked,
    /// An outbound connect failed (the error's kind; `on_connect_failed` had the error).
    ConnectFailed(std::io::ErrorKind),
    /// This side reset the connection ([`Context::reset`]).
    Reset,
    /// The TLS handshake failed or a TLS record was bad (the text says why); the peer got an
    /// alert where one fits. A peer that closes a TLS connection without `close_notify` shows
    /// as `Io(UnexpectedEof)`, not [`PeerClosed`](CloseReason::PeerClosed).
    Tls(String),
    /// The TLS handshake did not complete within `TURBINE_TLS_HANDSHAKE_TIMEOUT`.
    HandshakeTimeout,
}

impl CloseReason {
    /// The reason's short name, without its details: the `reason` label of the
    /// `turbine_connections_closed_total` metric and the field of
    /// [`ClosedBy`](crate::ClosedBy) that counts it. `peer`, `closed`, `shutdown`, `decode`,
    /// `encode`, `idle_timeout`, `frame_timeout`, `write_timeout`, `overflow`, `forced`, `io`,
    /// `panic`, `connect_failed`, `reset`, `tls` or `handshake_timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use turbine_reactor::CloseReason;
    ///
    /// assert_eq!(CloseReason::IdleTimeout.label(), "idle_timeout");
    /// assert_eq!(CloseReason::Io(std::io::ErrorKind::ConnectionReset).label(), "io");
    /// ```
    pub fn label(&self) -> &'static str {
        match self {
            CloseReason::PeerClosed => "peer",
            CloseReason::Closed => "closed",
            CloseReason::Shutdown => "shutdown",
            CloseReason::Decode(_) => "decode",
            CloseReason::Encode(_) => "encode",
            CloseReason::IdleTimeout => "idle_timeout",
            CloseReason::FrameTimeout => "frame_timeout",
            CloseReason::WriteTimeout => "write_timeout",
            CloseReason::Overflow => "overflow",
            CloseReason::Forced => "forced",
            CloseReason::Io(_) => "io",
            CloseReason::Panicked => "panic",
            CloseReason::ConnectFailed(_) => "connect_failed",
            CloseReason::Reset => "reset",
            CloseReason::Tls(_) => "tls",
            CloseReason::HandshakeTimeout => "handshake_timeout",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::PeerClosed => f.write_str("peer closed"),
            CloseReason::Closed => f.write_str("closed"),
            CloseReason::Shutdown => f.write_str("server shutdown"),
            CloseReason::Decode(e) => write!(f, "decode error: {e}"),
            CloseReason::Encode(e) => write!(f, "encode error: {e}"),
            CloseReason::IdleTimeout => f.write_str("idle timeout"),
            CloseReason::FrameTimeout => f.write_str("frame timeout"),
            CloseReason::WriteTimeout => f.write_str("write timeout"),
            CloseReason::Overflow => f.write_str("output over the write limit"),
            CloseReason::Forced => f.write_str("closed by force at the deadline"),
            CloseReason::Io(kind) => write!(f, "I/O error: {kind}"),
            CloseReason::Panicked => f.write_str("handler panicked"),
            CloseReason::ConnectFailed(kind) => write!(f, "connect failed: {kind}"),
            CloseReason::Reset => f.write_str("reset by this side"),
            CloseReason::Tls(why) => write!(f, "TLS: {why}"),
            CloseReason::HandshakeTimeout => f.write_str("TLS handshake timed out"),
        }
    }
}

/// Why a connection was refused at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// `TURBINE_MAX_CONNECTIONS` connections are open.
    MaxConnections,
    /// `TURBINE_MAX_CONNECTIONS_PER_IP` connections are open from the peer's address.
    MaxConnectionsPerIp,
}

/// What a connection does when its peer has closed its side: the answer of
/// [`Handler::on_peer_closed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HalfClose {
    /// Close once the replies already sent are written.
    Close,
    /// Keep sending until our side is shut too ([`Context::close_write`]) or the connection is
    /// closed.
    KeepWriting,
}
