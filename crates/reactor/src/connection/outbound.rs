//! Outbound connections and links between connections of one reactor: completing a connect,
//! a callback run from another connection, what a partner's output and close do to this one,
//! and the handler's own controls (half-close, reset, pause, keep open through a shutdown).

use std::io;

use super::{
    ConnState, Connection, Flow, Handshake, Life, Origin, Panicked, ReadSide, Sending, Step,
    Transport,
};
use crate::context::Route;
use crate::core::Core;
use crate::{CloseReason, ConnId, Context, Handler};

impl<H: Handler, S: Transport> Connection<H, S> {
    /// The connecting socket reported: connected (`on_open`, then what waited goes out) or
    /// failed.
    pub(super) fn finish_connect(&mut self, core: &mut Core) -> Step {
        match self.socket.finish_connect() {
            Ok(local) => {
                self.state.addrs.connected_from(local);
                if self.socket.is_tls() {
                    self.begin_handshake(core);
                    return self.advance_handshake(core);
                }
                self.opened(core)
            }
            Err(e) => {
                let reason = CloseReason::ConnectFailed(e.kind());
                self.connect_failed(core, e, reason)
            }
        }
    }

    /// A TLS connection's handshake starts (an accepted one at once, an outbound one once
    /// connected), bounded by `TURBINE_TLS_HANDSHAKE_TIMEOUT`.
    pub(super) fn begin_handshake(&mut self, core: &mut Core) {
        let deadline = core.now() + core.config().tls_handshake_timeout;
        self.state.life = Life::Handshaking { deadline };
    }

    /// Drives a TLS handshake: once done the connection opens; a handshake that fails closes
    /// it, counted (an outbound one through `on_connect_failed`).
    pub(super) fn advance_handshake(&mut self, core: &mut Core) -> Step {
        match self.socket.handshake() {
            Ok(Handshake::Done) => {
                core.stats_mut().tls_handshakes += 1;
                self.state.tls = self.socket.tls_info();
                self.opened(core)
            }
            Ok(Handshake::Pending) => {
                self.state.arm(core);
                Step::Open
            }
            Err(e) => {
                let reason = CloseReason::Tls(e.to_string());
                self.handshake_failed(core, e, reason)
            }
        }
    }

    /// The TLS handshake failed with `error` or timed out: counted, and closed for `reason`;
    /// an outbound connection's handler hears of it in `on_connect_failed`, since it never
    /// opened.
    pub(super) fn handshake_failed(
        &mut self,
        core: &mut Core,
        error: io::Error,
        reason: CloseReason,
    ) -> Step {
        core.stats_mut().tls_failures += 1;
        log::debug!("{}: TLS handshake failed: {error}", self.state.addrs.peer());
        if self.state.origin == Origin::Connected {
            return self.connect_failed(core, error, reason);
        }
        self.close(core, reason)
    }

    /// The connection is established (connected, and with TLS its handshake done): `on_open`,
    /// then what arrived meanwhile is read.
    fn opened(&mut self, core: &mut Core) -> Step {
        self.state.life = Life::Open;
        self.state.idle_since = core.now();
        // Input may have arrived with the connect or the handshake's last records: no other
        // edge would say so (a FIN reported meanwhile is kept).
        self.state.read = self.state.read.readable(false);
        if self
            .callback(core, Route::InOrder, |h, ctx| h.on_open(ctx))
            .is_err()
        {
            return self.panicked(core);
        }
        if core.is_stopping() {
            // Opened during a graceful shutdown: it drains like every other.
            return self.shutdown(core);
        }
        self.serve(core)
    }

    /// The connect failed (or timed out, or its TLS handshake failed): `on_connect_failed`,
    /// then the connection closes for `reason` ([`CloseReason::ConnectFailed`], or the TLS
    /// one), which its partner hears of.
    pub(super) fn connect_failed(
        &mut self,
        core: &mut Core,
        error: io::Error,
        reason: CloseReason,
    ) -> Step {
        core.stats_mut().connect_failures += 1;
        log::debug!("{}: connect failed: {error}", self.state.addrs.peer());
        if self
            .callback(core, Route::InOrder, |h, ctx| {
                h.on_connect_failed(ctx, error)
            })
            .is_err()
        {
            return self.panicked(core);
        }
        self.close(core, reason)
    }

    /// Runs `f` with this connection's handler and a context for it, on behalf of another
    /// connection of the reactor (`Context::with_conn`); what it sends is flushed in this turn.
    pub(crate) fn run<R>(
        &mut self,
        core: &mut Core,
        f: impl FnOnce(&mut H, &mut Context<'_, H>) -> R,
    ) -> Result<R, Panicked> {
        let mut result = None;
        self.callback(core, Route::InOrder, |h, ctx| result = Some(f(h, ctx)))?;
        self.enqueue(core);
        result.ok_or(Panicked)
    }

    /// The partner's output drained to `output` bytes: if this connection paused reading for
    /// it (or for its own output) and both are now under the low watermark, it reads again.
    pub(crate) fn partner_drained(&mut self, core: &mut Core, output: usize) -> Step {
        let low = core.config().write_low_watermark;
        if self.state.flow == Flow::Paused && self.state.pending_output() <= low && output <= low {
            self.state.resume(core);
        }
        Step::Open
    }

    /// The partner closed: the link is gone (nothing to pause for any more), and the handler
    /// hears of it (by default it closes too).
    pub(crate) fn partner_closed(&mut self, core: &mut Core, reason: &CloseReason) -> Step {
        self.state.partner = None;
        if self.state.flow == Flow::Paused {
            self.state.resume(core);
        }
        if self
            .callback(core, Route::InOrder, |h, ctx| {
                h.on_partner_closed(ctx, reason)
            })
            .is_err()
        {
            return self.panicked(core);
        }
        self.flush(core)
    }
}

impl<H: Handler> ConnState<H> {
    /// The linked connection, if any.
    pub(crate) fn partner(&self) -> Option<ConnId> {
        self.partner
    }

    /// Links `partner` to this connection.
    pub(crate) fn link(&mut self, partner: ConnId) {
        self.partner = Some(partner);
    }

    /// Output of the partner, 0 without one.
    pub(super) fn partner_output(&self, core: &Core) -> usize {
        self.partner.and_then(|p| core.output_of(p)).unwrap_or(0)
    }

    /// Reading resumes after a pause: the idle clock restarts (waiting for the peer to read was
    /// not idling) and input known to wait is read this turn.
    pub(super) fn resume(&mut self, core: &mut Core) {
        self.flow = Flow::Flowing;
        self.idle_since = core.now();
        if matches!(self.read, ReadSide::Ready { .. }) {
            self.enqueue(core);
        }
    }

    /// The handler pauses reading until [`resume_reading`](Self::resume_reading).
    pub(crate) fn pause_reading(&mut self) {
        self.flow = Flow::Held;
    }

    /// The handler resumes reading; backpressure may pause it again.
    pub(crate) fn resume_reading(&mut self, core: &mut Core) {
        if self.flow == Flow::Held {
            self.resume(core);
        }
    }

    /// Our FIN goes out after the output queued so far; the connection keeps reading. Frames
    /// sent after this are dropped.
    pub(crate) fn close_write(&mut self, core: &mut Core) {
        if self.sending == Sending::Open {
            self.sending = Sending::ShutAfterOutput;
            self.enqueue(core);
        }
    }

    /// Whether our side still sends.
    pub(super) fn sends(&self) -> bool {
        self.sending == Sending::Open
    }

    /// A connection that is draining for a shutdown stays open until it closes on its own (or
    /// the shutdown deadline) instead of closing at its first quiet moment.
    pub(crate) fn keep_open(&mut self) {
        if self.life == Life::Draining {
            self.life = Life::Open;
        }
    }
}
