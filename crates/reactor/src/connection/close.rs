//! Closing a connection: `close`, `close_now`, the drain at shutdown, our FIN, the lingering
//! close, and the end.

use std::io;

use turbine_codec::CodecError;

use super::{
    ConnState, Connection, Finish, Life, Origin, ReadSide, Sending, Step, Transport, WriteSide,
};
use crate::context::Route;
use crate::core::Core;
use crate::output::Output;
use crate::{CloseReason, Context, HalfClose, Handler};

impl<H: Handler, S: Transport> Connection<H, S> {
    /// The server is shutting down: the connection is served as usual until its first quiet
    /// moment, then closed ([`CloseReason::Shutdown`]). `on_shutdown` runs first; it may send a
    /// goodbye or close at once.
    pub(crate) fn shutdown(&mut self, core: &mut Core) -> Step {
        if self.state.life != Life::Open {
            return Step::Open;
        }
        self.state.life = Life::Draining;
        if self
            .callback(core, Route::InOrder, |h, ctx| h.on_shutdown(ctx))
            .is_err()
        {
            return self.panicked(core);
        }
        // A quiet moment needs the socket read until it would block: input may have arrived
        // since the last event was handled.
        if self.state.read == ReadSide::Drained {
            self.state.read = ReadSide::Ready { fin: false };
        }
        self.serve(core)
    }

    /// After output moved: a half-close sends its FIN once its output is out; a connection
    /// whose both directions are done closes; a draining connection that is quiet starts
    /// closing; a closing one whose output is out sends its FIN.
    pub(super) fn settle(&mut self, core: &mut Core) -> Step {
        let state = &mut self.state;
        if state.sending == Sending::ShutAfterOutput
            && state.output.is_empty()
            && state.offloads.is_empty()
            && !matches!(state.life, Life::Connecting { .. })
        {
            match self.send_fin(core) {
                Ok(true) => {}
                Ok(false) => return Step::Open, // the close_notify waits for the socket
                Err(kind) => return self.fail(core, kind),
            }
        }
        let state = &mut self.state;
        if state.sending == Sending::Shut
            && state.read == ReadSide::Eof
            && state.life.delivers_frames()
        {
            return self.close(core, CloseReason::PeerClosed); // both directions are done
        }
        if state.life == Life::Draining && state.is_quiet() && !self.handler.is_busy() {
            self.state.begin_close(CloseReason::Shutdown);
        }
        let Life::Closing { reason, finish } = &self.state.life else {
            return Step::Open;
        };
        let output_out = self.state.output.is_empty() && !self.socket.has_pending_output();
        match finish {
            Finish::Reset => {
                let reason = reason.clone();
                self.socket.set_reset_on_close();
                self.close(core, reason)
            }
            Finish::Flush if output_out && self.state.offloads.is_empty() => self.finish(core),
            Finish::Refused | Finish::Abort { .. } if output_out => self.finish(core),
            Finish::Abort { deadline: None } => {
                // No write timeout to bound a wait: the one write it just had was all it gets.
                let reason = reason.clone();
                self.close(core, reason)
            }
            _ => Step::Open,
        }
    }

    /// Output is out: sends our FIN, then lingers if the peer may still be sending, or closes.
    fn finish(&mut self, core: &mut Core) -> Step {
        let reason = self.state.life.reason();
        // After the peer's FIN a plain connection owes nothing more (dropping the socket sends
        // ours), but a TLS peer is owed our `close_notify` (RFC 8446 6.1), or a strict client
        // reports a truncated session.
        let owed = self.state.read != ReadSide::Eof || self.socket.is_tls();
        if owed && self.state.sending != Sending::Shut {
            match self.send_fin(core) {
                Ok(true) => {}
                Ok(false) => return Step::Open, // the close_notify waits for the socket
                Err(kind) => {
                    log::debug!("{}: shutdown: {kind}", self.state.addrs.peer());
                    return self.close(core, reason);
                }
            }
        }
        if self.state.read == ReadSide::Eof {
            return self.close(core, reason); // both sides are done
        }
        match self.state.linger_until(core) {
            Some(until) => {
                self.state.life = Life::Lingering { reason, until };
                if matches!(self.state.read, ReadSide::Ready { .. }) {
                    self.enqueue(core);
                }
                Step::Open
            }
            None => self.close(core, reason),
        }
    }

    /// Sends our FIN, after a TLS `close_notify` on a TLS connection: `Ok(false)` while the
    /// `close_notify` waits for the socket to take it (the next flush tries again).
    fn send_fin(&mut self, core: &Core) -> Result<bool, io::ErrorKind> {
        if self.socket.close_notify() || self.socket.has_pending_output() {
            match self.socket.flush_pending() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // The reactor's clock, as every write timeout is measured on (a
                    // `TestConnection`'s included).
                    self.state.write = WriteSide::Blocked { since: core.now() };
                    return Ok(false);
                }
                Err(e) => return Err(e.kind()),
            }
        }
        self.socket.shutdown_write().map_err(|e| e.kind())?;
        self.state.sending = Sending::Shut;
        Ok(true)
    }

    /// A read returned 0 (or a TLS session ended without `close_notify`, `reason` says
    /// which): the peer has closed its side. A lingering connection is done; an open one asks
    /// its handler whether to close for `reason` (after the replies already sent) or to keep
    /// writing (a half-close, as a proxy relays it).
    pub(super) fn peer_closed(&mut self, core: &mut Core, reason: CloseReason) -> Step {
        match &self.state.life {
            Life::Lingering { reason, .. } => {
                let reason = reason.clone();
                self.close(core, reason)
            }
            Life::Closed(_) => Step::Closed,
            Life::Open | Life::Draining => {
                let mut half_close = HalfClose::Close;
                let ask = |h: &mut H, ctx: &mut Context<'_, H>| half_close = h.on_peer_closed(ctx);
                if self.callback(core, Route::InOrder, ask).is_err() {
                    return self.panicked(core);
                }
                if half_close == HalfClose::Close {
                    // Replies to what it sent still go out; `finish` then closes at once.
                    self.state.begin_close(reason);
                }
                Step::Open
            }
            Life::Connecting { .. } | Life::Handshaking { .. } | Life::Closing { .. } => Step::Open,
        }
    }

    /// A read or write failed: the connection is dead. A lingering one was closing anyway.
    pub(super) fn fail(&mut self, core: &mut Core, kind: io::ErrorKind) -> Step {
        let reason = match &self.state.life {
            Life::Lingering { reason, .. } => reason.clone(),
            _ => CloseReason::Io(kind),
        };
        log::debug!("{}: closed: {kind}", self.state.addrs.peer());
        self.close(core, reason)
    }

    /// A handler or codec callback panicked: the connection closes at once.
    pub(crate) fn panicked(&mut self, core: &mut Core) -> Step {
        core.stats_mut().panics += 1;
        log::error!(
            "{}: handler panicked; connection closed",
            self.state.addrs.peer()
        );
        self.close(core, CloseReason::Panicked)
    }

    /// The end: the connection is gone. Handles see it closed, its jobs' results will be
    /// dropped, the handler gets `on_close` (under `catch_unwind`, like every callback), and a
    /// linked partner hears of it.
    pub(crate) fn close(&mut self, core: &mut Core, reason: CloseReason) -> Step {
        if matches!(self.state.life, Life::Closed(_)) {
            return Step::Closed;
        }
        log::trace!("{}: closed: {reason}", self.state.addrs.peer());
        self.state.life = Life::Closed(reason.clone());
        let state = &mut self.state;
        if let Some(shared) = &state.shared {
            shared.close();
        }
        let jobs = state.offloads.clear();
        state.timers.clear();
        state.output = Output::default();
        let stats = core.stats_mut();
        stats.count_close(&reason);
        stats.open -= 1;
        if state.origin == Origin::Connected {
            stats.outbound -= 1;
        }
        stats.offloads -= jobs as u64;
        stats.output_buffered -= state.accounted as u64;
        state.accounted = 0;
        let partner = state.partner.take();
        let told = reason.clone();
        if self
            .callback(core, Route::InOrder, |h, ctx| h.on_close(ctx, told))
            .is_err()
        {
            core.stats_mut().panics += 1;
            log::error!("{}: handler panicked in on_close", self.state.addrs.peer());
        }
        if let Some(partner) = partner {
            core.partner_closed(partner, &reason);
        }
        Step::Closed
    }
}

impl<H: Handler> ConnState<H> {
    /// Stops delivering frames: what was sent is flushed and pending jobs are answered, then the
    /// connection closes. The first reason wins. A connect still under way is given up (what
    /// waited for it is dropped).
    pub(crate) fn begin_close(&mut self, reason: CloseReason) {
        let finish = match self.life {
            Life::Open | Life::Draining => Finish::Flush,
            Life::Connecting { .. } | Life::Handshaking { .. } => Finish::Reset,
            _ => return,
        };
        self.life = Life::Closing { reason, finish };
        self.stop_taking_messages();
    }

    /// Closes at once with a reset (SO_LINGER 0): output is dropped and the peer sees
    /// `ECONNRESET`, as when a relayed connection failed and its partner must not look
    /// finished.
    pub(crate) fn reset(&mut self) {
        if matches!(self.life, Life::Lingering { .. } | Life::Closed(_)) {
            return;
        }
        self.life = Life::Closing {
            reason: CloseReason::Reset,
            finish: Finish::Reset,
        };
        self.stop_taking_messages();
    }

    /// Closes without waiting for the peer to read: frames not yet started and pending jobs
    /// are dropped, the frame being written is finished (the peer never sees a torn frame),
    /// then what the handler sends after this call, best effort within the write timeout.
    pub(crate) fn close_now(&mut self, reason: CloseReason, core: &mut Core) {
        let reason = match &self.life {
            Life::Connecting { .. } => return self.begin_close(reason),
            Life::Open | Life::Draining => reason,
            Life::Closing {
                reason: first,
                finish: Finish::Flush | Finish::Refused,
            } => first.clone(),
            _ => return,
        };
        let dropped = self.output.truncate_to_frame();
        let jobs = self.offloads.clear();
        core.stats_mut().offloads -= jobs as u64;
        log::debug!(
            "{}: closing now ({reason}): {dropped} bytes of output and {jobs} jobs dropped",
            self.addrs.peer()
        );
        let deadline = core.config().write_timeout.map(|t| core.now() + t);
        self.life = Life::Closing {
            reason,
            finish: Finish::Abort { deadline },
        };
        self.stop_taking_messages();
    }

    /// An encoder refused a frame: the frame is lost, so nothing after it may be sent either.
    /// What came before is flushed, then the connection closes with [`CloseReason::Encode`],
    /// unless it was already closing for another reason, which stays.
    pub(super) fn refuse_output(&mut self, error: CodecError) {
        log::error!(
            "{}: encoder refused a frame, closing: {error}",
            self.addrs.peer()
        );
        match &mut self.life {
            Life::Open | Life::Draining => {
                self.life = Life::Closing {
                    reason: CloseReason::Encode(error),
                    finish: Finish::Refused,
                };
                self.stop_taking_messages();
            }
            Life::Closing { finish, .. } if *finish == Finish::Flush => *finish = Finish::Refused,
            _ => {}
        }
    }

    /// Handles fail from now on, and the handler's timers will not fire.
    fn stop_taking_messages(&mut self) {
        if let Some(shared) = &self.shared {
            shared.close();
        }
        self.timers.clear();
    }

    /// Whether a draining connection has reached a quiet moment: no unfinished frame, no
    /// output, no job in flight, and the socket read until it would block (or to its end).
    fn is_quiet(&self) -> bool {
        self.input.is_empty()
            && self.pending_output() == 0
            && self.offloads.is_empty()
            && matches!(self.read, ReadSide::Drained | ReadSide::Eof)
    }

    /// When to stop lingering after our FIN, or `None` to close at once.
    ///
    /// Closing a socket with unread input makes the kernel send a reset, which can destroy
    /// replies the peer has not read yet; so does input that arrives after the close. We
    /// linger (read and discard until the peer's FIN, at most `TURBINE_LINGER_TIMEOUT`) only
    /// when the peer may still be sending: input is known to be unread, or arrived within the
    /// last linger timeout. A peer that never sent anything, or has been silent for longer, is
    /// not in the middle of sending: its connection closes at once.
    fn linger_until(&self, core: &Core) -> Option<std::time::Instant> {
        let linger = core.config().linger_timeout?;
        let now = core.now();
        let unread = matches!(self.read, ReadSide::Ready { .. }) || !self.input.is_empty();
        let recent = self
            .last_input
            .is_some_and(|at| now.saturating_duration_since(at) < linger);
        (unread || recent).then(|| now + linger)
    }
}

impl Life {
    /// Why a closing connection closes.
    fn reason(&self) -> CloseReason {
        match self {
            Life::Closing { reason, .. }
            | Life::Lingering { reason, .. }
            | Life::Closed(reason) => reason.clone(),
            Life::Connecting { .. } | Life::Handshaking { .. } | Life::Open | Life::Draining => {
                CloseReason::Closed
            }
        }
    }
}
