//! `Context`: what a handler can do with its connection during a callback.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::connection::ConnIo;
use crate::handle::ConnShared;
use crate::reactor::Env;
use crate::{CloseReason, Config, ConnHandle, ConnId, FrameOut, Handler, ReactorStats};

/// The connection a [`Handler`] callback runs for: send frames, close, get a [`ConnHandle`].
///
/// A context lives only for one callback. Everything it does is local to the reactor thread:
/// sends are encoded into the connection's output at once and written when the callback (and
/// the other frames of the same read) are done, in one write.
pub struct Context<'a, H: Handler> {
    /// The connection's I/O state.
    pub(crate) io: &'a mut ConnIo<H>,
    /// The reactor's shared parts.
    pub(crate) env: &'a Env<H>,
    /// The reactor's counters.
    pub(crate) stats: &'a mut ReactorStats,
}

impl<H: Handler> Context<'_, H> {
    /// Encodes `frame` onto the connection's output.
    ///
    /// Output produced here is paced by the watermarks: once the connection's output passes the
    /// high watermark the reactor stops reading from it, so a request/response protocol cannot
    /// be made to buffer without bound. If the encoder refuses the frame the error is logged and
    /// the connection is closed after flushing what came before
    /// ([`CloseReason::Encode`]); later sends are dropped, since the peer would see a gap.
    pub fn send(&mut self, frame: impl Into<FrameOut<H>>) {
        self.io.encode(frame.into(), self.stats);
    }

    /// Closes the connection once its output is flushed: reading stops now, pending output is
    /// written, then the write side is shut down and the connection is closed when the peer
    /// closes too (or after a short linger). Frames still buffered are not delivered.
    pub fn close(&mut self) {
        self.io.begin_close(CloseReason::Closed);
    }

    /// A handle that sends to this connection from any thread.
    pub fn handle(&mut self) -> ConnHandle<FrameOut<H>> {
        let shared = self.io.shared.get_or_insert_with(ConnShared::new).clone();
        ConnHandle::new(
            self.io.id,
            Arc::clone(&self.env.mailbox),
            shared,
            self.env.config.write_limit,
        )
    }

    /// The connection's identity (reactor, slot, generation).
    pub fn id(&self) -> ConnId {
        self.io.id
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.io.peer
    }

    /// Index of the reactor that owns this connection (0-based).
    pub fn reactor(&self) -> usize {
        self.io.id.reactor
    }

    /// Output bytes queued and not yet written.
    pub fn output_len(&self) -> usize {
        self.io.pending_output()
    }

    /// Whether output is below the high watermark; a producer that sends more than it reads
    /// can stop while this is `false` and resume in [`Handler::on_writable`].
    pub fn is_writable(&self) -> bool {
        self.io.pending_output() <= self.env.config.write_high_watermark
    }

    /// Whether [`close`](Context::close) was called or the connection is otherwise closing.
    pub fn is_closing(&self) -> bool {
        self.io.is_closing()
    }

    /// The server's configuration.
    pub fn config(&self) -> &Config {
        &self.env.config
    }
}
