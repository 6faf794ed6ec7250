//! `Connection`: one accepted socket, its handler, codec and buffers.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use mio::net::TcpStream;
use turbine_codec::{CodecError, Decoder, Encoder, ReadBuf};

use crate::handle::ConnShared;
use crate::offload::Pending;
use crate::output::Output;
use crate::reactor::Env;
use crate::{CloseReason, ConnId, Context, FrameOut, Handler, ReactorStats};

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Reading frames and writing replies.
    Open,
    /// No more frames are delivered (input is read and discarded so the peer is never stuck
    /// writing); pending output is flushed, then the write side is shut down.
    Closing,
    /// Our FIN is sent; input is discarded until the peer closes or the linger deadline passes.
    /// Closing a socket with unread input would send RST, which can destroy replies the peer
    /// has not read yet.
    Lingering,
}

/// A connection: the user's handler and everything the reactor keeps for it.
pub(crate) struct Connection<H: Handler> {
    /// The protocol's per-connection state.
    pub(crate) handler: H,
    /// Codec, buffers and flags; what a [`Context`](crate::Context) sees.
    pub(crate) io: ConnIo<H>,
    /// The socket, registered for readable and writable edges.
    pub(crate) socket: TcpStream,
}

/// The I/O state of a connection, kept apart from the handler (so both can be borrowed at once)
/// and from the socket (so a [`TestConnection`](crate::TestConnection) can drive it in memory).
pub(crate) struct ConnIo<H: Handler> {
    /// Reactor, slab key and generation.
    pub(crate) id: ConnId,
    /// The peer's address.
    pub(crate) peer: SocketAddr,
    /// Decoder and encoder.
    pub(crate) codec: H::Codec,
    /// Bytes of an unfinished frame; empty and unallocated between frames (reads then go
    /// through the reactor's shared buffer).
    pub(crate) input: ReadBuf,
    /// Output not yet written: encoded frames and shared broadcast payloads.
    pub(crate) output: Output,
    /// `close_now` was called: after one more write attempt the connection closes, whatever
    /// is left unwritten.
    pub(crate) abort: bool,
    /// Life cycle.
    pub(crate) phase: Phase,
    /// Why the connection is closing, once it is.
    pub(crate) close_reason: Option<CloseReason>,
    /// The peer has closed its write side (a read returned 0).
    pub(crate) peer_eof: bool,
    /// The socket may hold unread input: set by readable events, cleared by `WouldBlock` or a
    /// short read. With edge triggering nothing else will tell us again.
    pub(crate) readable: bool,
    /// The last readable event said the peer closed: read until 0 even after a short read.
    pub(crate) read_closed: bool,
    /// The last write hit `WouldBlock`; a writable event clears it.
    pub(crate) write_blocked: bool,
    /// Reading is paused because output passed the high watermark.
    pub(crate) paused: bool,
    /// The connection is in the reactor's run queue.
    pub(crate) queued: bool,
    /// When input last arrived (for the idle timeout).
    pub(crate) last_input: Instant,
    /// When the unfinished frame in `input` began (for the frame timeout).
    pub(crate) partial_since: Option<Instant>,
    /// When output last moved, or started waiting (for the write timeout).
    pub(crate) last_write: Instant,
    /// A frame-timeout check is scheduled.
    pub(crate) frame_timer: bool,
    /// A write-timeout check is scheduled.
    pub(crate) write_timer: bool,
    /// Pending output as last added to the reactor's `output_buffered` stat.
    pub(crate) accounted: usize,
    /// Shared with `ConnHandle`s; created by the first one.
    pub(crate) shared: Option<Arc<ConnShared>>,
    /// Offloaded jobs not yet answered, in the order they were issued.
    pub(crate) offloads: VecDeque<Pending<H>>,
    /// Sequence number of the next offloaded job.
    pub(crate) next_offload: u64,
    /// Bytes held in `offloads` behind pending jobs.
    pub(crate) held: usize,
    /// A job's continuation is running: its frames go straight to `output`.
    pub(crate) completing: bool,
}

impl<H: Handler> ConnIo<H> {
    pub(crate) fn new(id: ConnId, peer: SocketAddr, codec: H::Codec, now: Instant) -> Self {
        ConnIo {
            id,
            peer,
            codec,
            input: ReadBuf::new(),
            output: Output::default(),
            abort: false,
            phase: Phase::Open,
            close_reason: None,
            peer_eof: false,
            readable: false,
            read_closed: false,
            write_blocked: false,
            paused: false,
            queued: false,
            last_input: now,
            partial_since: None,
            last_write: now,
            frame_timer: false,
            write_timer: false,
            accounted: 0,
            shared: None,
            offloads: VecDeque::new(),
            next_offload: 0,
            held: 0,
            completing: false,
        }
    }

    /// Encodes one frame onto the output, or starts closing if the encoder refuses it.
    pub(crate) fn encode(&mut self, frame: FrameOut<H>, stats: &mut ReactorStats) {
        if matches!(self.close_reason, Some(CloseReason::Encode(_))) {
            return;
        }
        // While jobs are pending, what the handler sends waits behind the latest one.
        let codec = &mut self.codec;
        let encoded = match self.offloads.back_mut() {
            Some(pending) if !self.completing => {
                let before = pending.held.len();
                let encoded = codec.encode(frame, &mut pending.held);
                self.held += pending.held.len() - before;
                encoded
            }
            _ => self.output.append(|dst| codec.encode(frame, dst)),
        };
        match encoded {
            Ok(()) => stats.frames_out += 1,
            Err(e) => {
                log::error!("{}: encoder refused a frame, closing: {e}", self.peer);
                // The frame is lost, so nothing after it may be sent either.
                self.close_reason = Some(CloseReason::Encode(e));
                if self.phase == Phase::Open {
                    self.phase = Phase::Closing;
                }
            }
        }
    }

    /// Stops delivering frames; the reactor flushes and closes. The first reason wins.
    pub(crate) fn begin_close(&mut self, reason: CloseReason) {
        if self.phase == Phase::Open {
            self.phase = Phase::Closing;
            self.close_reason = Some(reason);
        }
    }

    /// Drops pending output and jobs and marks the connection to close after one more write.
    pub(crate) fn close_now(&mut self, reason: CloseReason, stats: &mut ReactorStats) {
        if self.phase == Phase::Lingering || self.abort {
            return;
        }
        self.output = Output::default();
        stats.offloads -= self.offloads.len() as u64;
        self.offloads.clear();
        self.held = 0;
        self.abort = true;
        self.phase = Phase::Closing;
        self.close_reason = Some(reason);
    }

    /// Output bytes not yet written, those held behind pending jobs included: what the
    /// watermarks and the write limit count.
    pub(crate) fn pending_output(&self) -> usize {
        self.unwritten() + self.held
    }

    /// Bytes in `output` not yet written.
    pub(crate) fn unwritten(&self) -> usize {
        self.output.len()
    }

    /// Whether a closing connection has nothing left to send: no output, no pending job.
    pub(crate) fn is_drained(&self) -> bool {
        self.unwritten() == 0 && self.offloads.is_empty()
    }

    /// Whether the connection no longer delivers frames.
    pub(crate) fn is_closing(&self) -> bool {
        self.phase != Phase::Open
    }

    /// Writes pending output until it is all written or the socket is full.
    ///
    /// # Errors
    ///
    /// A write error other than `WouldBlock` (the connection is then dead).
    pub(crate) fn write_out(
        &mut self,
        socket: &mut impl Write,
        stats: &mut ReactorStats,
    ) -> io::Result<()> {
        while !self.output.is_empty() && !self.write_blocked {
            match self.output.write_to(socket) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => stats.bytes_out += n as u64,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.write_blocked = true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Publishes pending output to handles and the reactor's stats.
    pub(crate) fn account(&mut self, stats: &mut ReactorStats) {
        let pending = self.pending_output();
        stats.output_buffered = stats.output_buffered - self.accounted as u64 + pending as u64;
        self.accounted = pending;
        if let Some(shared) = &self.shared {
            shared.output.store(pending, Ordering::Relaxed);
        }
    }
}

/// Decodes every complete frame in `buf` and hands each to the handler, as the reactor does
/// after a read (and [`TestConnection`](crate::TestConnection) after a push).
///
/// With `eof`, the peer has closed: once `decode` has nothing more, `decode_eof` is called until
/// it has nothing more either. A fatal decode error goes to `on_decode_error` and starts the
/// close; a non-fatal one ([`CodecError::Discarded`]) goes there too and decoding goes on.
/// Input left after a close is dropped. A decoder that lets unconsumed input grow past the
/// maximum frame plus one read is stopped here with [`CodecError::FrameTooLong`].
pub(crate) fn dispatch<H: Handler>(
    handler: &mut H,
    io: &mut ConnIo<H>,
    buf: &mut ReadBuf,
    eof: bool,
    env: &Env<H>,
    stats: &mut ReactorStats,
) {
    let max_frame = env.config.max_frame;
    let max_input = max_frame.saturating_add(env.config.read_buffer);
    let mut at_eof = false;
    while io.phase == Phase::Open {
        let decoded = if at_eof {
            io.codec.decode_eof(buf)
        } else {
            io.codec.decode(buf)
        };
        let error = match decoded {
            Ok(Some(frame)) => {
                stats.frames_in += 1;
                handler.on_frame(&mut Context { io, env, stats }, frame);
                continue;
            }
            Ok(None) if eof && !at_eof => {
                at_eof = true;
                continue;
            }
            Ok(None) if buf.len() > max_input => CodecError::FrameTooLong {
                len: buf.len() as u64,
                max: max_frame,
            },
            Ok(None) => break,
            Err(e) => e,
        };
        let fatal = error.is_fatal();
        handler.on_decode_error(&mut Context { io, env, stats }, error.clone());
        if fatal {
            io.begin_close(CloseReason::Decode(error));
        }
    }
    if io.phase != Phase::Open {
        buf.clear(); // frames after a close are not delivered
    }
}
