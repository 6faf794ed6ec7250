//! The serve path, top to bottom: read within the turn's budget, decode, dispatch, write, settle.

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};

use turbine_codec::{CodecError, Decoder, ReadBuf};

use super::{
    ConnState, Connection, Drain, Flow, Life, Panicked, ReadSide, Step, Transport, WriteSide,
};
use crate::context::Route;
use crate::core::Core;
use crate::{CloseReason, Context, Handler};

/// Reads one connection may do per turn before the others get theirs (Netty reads 16
/// messages, Redis one read; four full buffers keep a streaming connection efficient without
/// starving the rest).
const READS_PER_TURN: usize = 4;
/// Smallest read into a connection's own buffer (one holding an unfinished frame).
const MIN_OWN_READ: usize = 4096;

/// What a connection does with the input it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Intake {
    /// Decodes it into frames for the handler.
    Frames,
    /// Drops it: the connection is closing, and reads only so that the peer is never stuck
    /// writing and its FIN is seen.
    Discard,
}

/// How one read ended.
enum Read {
    /// Bytes arrived, none were waiting, or the read was interrupted: the connection goes on
    /// (and reads again while its read side says input may be waiting).
    Continue,
    /// The peer closed its side: with a FIN (`PeerClosed`), or on TLS without `close_notify`
    /// (`Io(UnexpectedEof)`, which a truncation would also look like).
    End(CloseReason),
    /// The connection is dead.
    Failed(io::ErrorKind),
}

impl<H: Handler, S: Transport> Connection<H, S> {
    /// Serves the connection: reads what the turn's budget allows, handing frames to the
    /// handler after each read, then writes and settles what follows.
    pub(crate) fn serve(&mut self, core: &mut Core) -> Step {
        if self.state.intake().is_some() {
            // Replies are likely: lend the reactor's spare output buffer, returned by `flush`.
            core.lend_output(&mut self.state.output);
            if self.read_input(core) == Step::Closed {
                return Step::Closed;
            }
        }
        self.flush(core)
    }

    /// Reads up to `READS_PER_TURN` times, dispatching frames after each read.
    fn read_input(&mut self, core: &mut Core) -> Step {
        let read_buffer = core.config().read_buffer;
        let high_watermark = core.config().write_high_watermark;
        for _ in 0..READS_PER_TURN {
            let Some(intake) = self.state.intake() else {
                return Step::Open;
            };
            // Lend a buffer: a connection holding an unfinished frame reads into its own, any
            // other into the reactor's, so an idle connection owns no input memory.
            let own = !self.state.input.is_empty();
            let (mut buf, want) = if own {
                let buf = std::mem::take(&mut self.state.input);
                let want = buf.len().clamp(MIN_OWN_READ.min(read_buffer), read_buffer);
                (buf, want)
            } else {
                (core.lend_read_buf(), read_buffer)
            };
            let frames_before = core.stats().frames_in;
            let mut dispatched = Ok(());
            let result = buf.read_from(&mut self.socket, want);
            // The peer's side ended: with a FIN, or on TLS without `close_notify` (the end all
            // the same); what it sent before still gets its replies.
            let ended = match &result {
                Ok(0) => Some(CloseReason::PeerClosed),
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    Some(CloseReason::Io(io::ErrorKind::UnexpectedEof))
                }
                _ => None,
            };
            let read = match (ended, result) {
                (Some(reason), _) => {
                    self.state.read = ReadSide::Eof;
                    if intake == Intake::Frames {
                        dispatched = self.dispatch(core, &mut buf, true);
                    }
                    Read::End(reason)
                }
                (None, Ok(n)) => {
                    self.state.idle_since = core.now();
                    self.state.last_input = Some(core.now());
                    // A short read drained the socket, unless the peer's FIN was reported: it
                    // will not be reported again, so read on until 0.
                    if self.state.read != (ReadSide::Ready { fin: true })
                        && self.socket.read_drained(n, want)
                    {
                        self.state.read = ReadSide::Drained;
                    }
                    match intake {
                        Intake::Frames => {
                            core.stats_mut().bytes_in += n as u64;
                            dispatched = self.dispatch(core, &mut buf, false);
                        }
                        Intake::Discard => buf.clear(),
                    }
                    Read::Continue
                }
                (None, Err(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.state.read = ReadSide::Drained;
                    Read::Continue
                }
                (None, Err(e)) if e.kind() == io::ErrorKind::Interrupted => Read::Continue,
                (None, Err(e)) => Read::Failed(e.kind()),
            };
            let completed_a_frame = core.stats().frames_in > frames_before;
            self.state
                .keep_unfinished(core, buf, own, completed_a_frame);
            if dispatched.is_err() {
                return self.panicked(core);
            }
            match read {
                Read::End(reason) => return self.peer_closed(core, reason),
                Read::Failed(kind) => return self.fail(core, kind),
                Read::Continue => {}
            }
            // Backpressure: past the high watermark, stop reading until output drains below
            // the low one (the read side keeps what it knows for then). A linked partner's
            // output counts too: what this connection reads is what it sends there.
            // (A handler's own hold stays: its `resume_reading` decides, and backpressure may
            // pause the connection again then.)
            if self.state.life.delivers_frames()
                && self.state.flow == Flow::Flowing
                && (self.state.pending_output() > high_watermark
                    || self.state.partner_output(core) > high_watermark)
            {
                self.state.flow = Flow::Paused;
                return Step::Open;
            }
            if self.state.read == ReadSide::Drained {
                return Step::Open;
            }
        }
        // Budget spent with input possibly left: no edge will come for it, so queue ourselves,
        // for the next turn (served again in this one, it would have two budgets).
        self.defer(core);
        Step::Open
    }

    /// Decodes every complete frame in `buf` and hands each to the handler.
    fn dispatch(&mut self, core: &mut Core, buf: &mut ReadBuf, eof: bool) -> Result<(), Panicked> {
        let Connection { handler, state, .. } = self;
        catch_unwind(AssertUnwindSafe(|| {
            state.decode_frames(handler, buf, eof, core)
        }))
        .map_err(|_| Panicked)
    }

    /// Writes pending output, then applies what follows: reading resumes below the low
    /// watermark, the output buffer goes back to the reactor, a close moves on, and the next
    /// deadline is armed.
    pub(super) fn flush(&mut self, core: &mut Core) -> Step {
        // Whatever put the output over the high watermark (a reply, a job's result, a timer, a
        // partner's relay; only a write brings it down, so this flush sees it), two are told
        // when it drains: the handler (a producer stops while not `is_writable` and goes on in
        // `on_writable`) and the partner, which stops reading while this output is over it.
        if self.state.pending_output() > core.config().write_high_watermark {
            self.state.drain = Drain::Owed;
        }
        if let Err(kind) = self.write_out(core) {
            return self.fail(core, kind);
        }
        let low_watermark = core.config().write_low_watermark;
        let pending = self.state.pending_output();
        let mut writable = pending <= low_watermark && self.state.drain == Drain::Owed;
        if writable {
            self.state.drain = Drain::Clear;
            if let Some(partner) = self.state.partner {
                core.partner_drained(partner, pending);
            }
        }
        if self.state.flow == Flow::Paused
            && pending <= low_watermark
            && self.state.partner_output(core) <= low_watermark
        {
            self.state.resume(core);
            writable = true;
        }
        if writable && self.state.life.delivers_frames() {
            if self
                .callback(core, Route::InOrder, |h, ctx| h.on_writable(ctx))
                .is_err()
            {
                return self.panicked(core);
            }
            if let Err(kind) = self.write_out(core) {
                return self.fail(core, kind);
            }
        }
        core.return_output(&mut self.state.output);
        self.state.account(core);
        let step = self.settle(core);
        if step == Step::Open {
            self.state.transport_pending = self.socket.has_pending_output();
            self.state.arm(core);
        }
        step
    }

    /// Writes pending output until it is all written or the socket is full.
    fn write_out(&mut self, core: &mut Core) -> Result<(), io::ErrorKind> {
        let state = &mut self.state;
        let stats = core.stats_mut();
        stats.output_peak = stats.output_peak.max(state.pending_output() as u64);
        if matches!(state.life, Life::Connecting { .. }) {
            return Ok(()); // what is queued waits for the connect
        }
        while state.write == WriteSide::Writable {
            // Plaintext output first; on TLS, the records it (or the session) left to write.
            let written = if !state.output.is_empty() {
                state.output.write_to(&mut self.socket).map(Some)
            } else if self.socket.has_pending_output() {
                self.socket.flush_pending().map(|()| None)
            } else {
                break;
            };
            match written {
                Ok(Some(0)) => return Err(io::ErrorKind::WriteZero),
                Ok(Some(n)) => {
                    // What one of a relayed pair writes, its partner read: the pair is busy.
                    if state.partner.is_some() {
                        state.idle_since = core.now();
                    }
                    core.stats_mut().bytes_out += n as u64;
                }
                Ok(None) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    state.write = WriteSide::Blocked { since: core.now() };
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.kind()),
            }
        }
        Ok(())
    }
}

impl<H: Handler> ConnState<H> {
    /// What to do with input now, if anything: frames while the connection delivers them and
    /// is not paused, discarding while it closes, nothing once the socket is drained.
    fn intake(&self) -> Option<Intake> {
        if !matches!(self.read, ReadSide::Ready { .. }) {
            return None;
        }
        if !self.life.delivers_frames() {
            return Some(Intake::Discard);
        }
        (self.flow == Flow::Flowing).then_some(Intake::Frames)
    }

    /// Decodes every complete frame in `buf` and hands each to the handler, as long as the
    /// connection delivers frames.
    ///
    /// With `eof`, the peer has closed: once `decode` has nothing more, `decode_eof` is called
    /// until it has nothing more either. A fatal decode error goes to `on_decode_error` and
    /// starts the close; a non-fatal one ([`CodecError::Discarded`]) goes there too and
    /// decoding goes on. Input left after a close is dropped. A decoder that lets unconsumed
    /// input grow past the maximum frame plus one read is stopped here with
    /// [`CodecError::FrameTooLong`].
    fn decode_frames(&mut self, handler: &mut H, buf: &mut ReadBuf, eof: bool, core: &mut Core) {
        let max_frame = core.config().max_frame;
        let max_input = max_frame.saturating_add(core.config().read_buffer);
        let mut at_eof = false;
        while self.life.delivers_frames() {
            let decoded = if at_eof {
                self.codec.decode_eof(buf)
            } else {
                self.codec.decode(buf)
            };
            let error = match decoded {
                Ok(Some(frame)) => {
                    core.stats_mut().frames_in += 1;
                    handler.on_frame(&mut Context::new(self, core, Route::InOrder), frame);
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
            // Closing first: the reason is the decode error whatever the handler's error reply
            // does (an encoder refusing it must not hide it), and the reply still goes out.
            if error.is_fatal() {
                self.begin_close(CloseReason::Decode(error.clone()));
            }
            handler.on_decode_error(&mut Context::new(self, core, Route::InOrder), error);
        }
        if !self.life.delivers_frames() {
            buf.clear(); // frames after a close are not delivered
        }
    }

    /// Takes a read buffer back after a read: bytes of an unfinished frame stay with the
    /// connection (copied out of the shared buffer, or in its own, shrunk after a large
    /// frame); an emptied own buffer is freed; the shared one returns to the reactor. Starts
    /// the frame clock when an unfinished frame begins (a new one begins whenever this read
    /// completed a frame), stops it when none is left.
    fn keep_unfinished(&mut self, core: &mut Core, mut buf: ReadBuf, own: bool, completed: bool) {
        let read_buffer = core.config().read_buffer;
        if own {
            if !buf.is_empty() {
                if buf.capacity() > 2 * buf.len().max(read_buffer) {
                    buf.shrink_to(read_buffer);
                }
                self.input = buf;
            }
        } else {
            if !buf.is_empty() {
                self.input = ReadBuf::from(&buf[..]);
            }
            core.return_read_buf(buf);
        }
        if self.input.is_empty() {
            self.partial_since = None;
        } else if self.partial_since.is_none() || completed {
            self.partial_since = Some(core.now());
        }
    }

    /// Publishes pending output to handles and the reactor's counters.
    fn account(&mut self, core: &mut Core) {
        let pending = self.pending_output();
        let stats = core.stats_mut();
        stats.output_buffered = stats.output_buffered - self.accounted as u64 + pending as u64;
        self.accounted = pending;
        if let Some(shared) = &self.shared {
            shared.publish(pending);
        }
    }
}
