//! Serving a connection: reading within the budget, decoding, dispatching, writing.

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};

use turbine_codec::ReadBuf;

use super::{LINGER, MIN_OWN_READ, READS_PER_TURN, Reactor};
use crate::connection::{self, Connection, Phase};
use crate::output::Output;
use crate::timers::TimerKind;
use crate::{CloseReason, Handler};

impl<H, F> Reactor<H, F>
where
    H: Handler,
    F: Fn(std::net::SocketAddr) -> H,
{
    /// Reads (within the budget) and writes for one connection.
    pub(super) fn drive(&mut self, key: usize) {
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
    pub(super) fn enqueue(&mut self, key: usize) {
        let io = &mut self.conns[key].io;
        if !io.queued {
            io.queued = true;
            self.run_queue.push_back((key, io.id.generation));
        }
    }

    /// Serves the connections queued before this call; those queued meanwhile wait a turn.
    pub(super) fn serve_run_queue(&mut self) {
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
    pub(super) fn read_input(&mut self, key: usize) -> bool {
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
    pub(super) fn note_partial_frame(&mut self, key: usize, completed_a_frame: bool) {
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
    pub(super) fn put_back(&mut self, key: usize, mut buf: ReadBuf, own: bool) {
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
    pub(super) fn dispatch(&mut self, key: usize, buf: &mut ReadBuf, eof: bool) -> bool {
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
    pub(super) fn flush(&mut self, key: usize) {
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
}
