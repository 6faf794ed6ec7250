//! A connection's deadlines: idle, frame and write timeouts, the end of a lingering close or of
//! a `close_now`, and the handler's own timers, all behind one entry in the reactor's heap.

use std::time::Instant;

use super::{ConnState, Connection, Finish, Flow, Life, Step, Transport, WriteSide};
use crate::context::Route;
use crate::core::Core;
use crate::{CloseReason, Config, Handler};

impl<H: Handler, S: Transport> Connection<H, S> {
    /// The heap entry scheduled for `at` fired: does whatever is due, then re-arms.
    pub(crate) fn deadline(&mut self, core: &mut Core, at: Instant) -> Step {
        if self.state.armed == Some(at) {
            self.state.armed = None;
        }
        let now = core.now();
        match &self.state.life {
            Life::Closed(_) => return Step::Closed,
            Life::Handshaking { deadline } if *deadline <= now => {
                let timed_out = std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "TLS handshake timed out (TURBINE_TLS_HANDSHAKE_TIMEOUT)",
                );
                return self.handshake_failed(core, timed_out, CloseReason::HandshakeTimeout);
            }
            Life::Connecting { deadline } if *deadline <= now => {
                let timed_out = std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "connect timed out (TURBINE_CONNECT_TIMEOUT)",
                );
                let reason = CloseReason::ConnectFailed(timed_out.kind());
                return self.connect_failed(core, timed_out, reason);
            }
            Life::Lingering { reason, until } if *until <= now => {
                let reason = reason.clone();
                return self.close(core, reason);
            }
            Life::Closing {
                reason,
                finish: Finish::Abort { deadline: Some(d) },
            } if *d <= now => {
                log::debug!(
                    "{}: last output not read in time, closing",
                    self.state.addrs.peer()
                );
                let reason = reason.clone();
                return self.close(core, reason);
            }
            _ => {}
        }
        let config = std::sync::Arc::clone(core.config());
        if self.state.write_due(&config).is_some_and(|due| due <= now) {
            // The peer is not reading: output cannot drain, so do not wait for it.
            log::debug!("{}: output stuck, closing", self.state.addrs.peer());
            return self.close(core, CloseReason::WriteTimeout);
        }
        if self.state.idle_due(&config).is_some_and(|due| due <= now) {
            log::debug!("{}: idle, closing", self.state.addrs.peer());
            self.state.begin_close(CloseReason::IdleTimeout);
        } else if self.state.frame_due(&config).is_some_and(|due| due <= now) {
            log::debug!(
                "{}: frame unfinished in time, closing",
                self.state.addrs.peer()
            );
            self.state.begin_close(CloseReason::FrameTimeout);
        }
        // Only the timers due on entry: one set again from `on_timer` for now fires next turn,
        // so a handler cannot keep its reactor in this loop.
        for _ in 0..self.state.timers.due(now) {
            if !self.state.life.delivers_frames() {
                break;
            }
            let Some(tag) = self.state.timers.pop_due(now) else {
                break;
            };
            if self
                .callback(core, Route::InOrder, |h, ctx| h.on_timer(ctx, tag))
                .is_err()
            {
                return self.panicked(core);
            }
        }
        self.flush(core)
    }
}

impl<H: Handler> ConnState<H> {
    /// Makes sure the reactor looks at this connection by its earliest deadline: schedules an
    /// entry unless one at least as early is already in the heap.
    pub(super) fn arm(&mut self, core: &mut Core) {
        let Some(next) = self.next_deadline(core.config()) else {
            return;
        };
        if self.armed.is_none_or(|armed| next < armed) {
            core.schedule(next, self.id.slot(), self.id.serial());
            self.armed = Some(next);
        }
    }

    /// The earliest of the connection's deadlines.
    fn next_deadline(&self, config: &Config) -> Option<Instant> {
        let life = match &self.life {
            Life::Connecting { deadline } | Life::Handshaking { deadline } => Some(*deadline),
            Life::Lingering { until, .. } => Some(*until),
            Life::Closing {
                finish: Finish::Abort { deadline },
                ..
            } => *deadline,
            _ => None,
        };
        [
            life,
            self.write_due(config),
            self.idle_due(config),
            self.frame_due(config),
            self.handler_timer_due(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// When pending output that stopped moving times out: the connection's own, or on TLS the
    /// records the session still holds (its output may be empty then).
    fn write_due(&self, config: &Config) -> Option<Instant> {
        let WriteSide::Blocked { since } = self.write else {
            return None;
        };
        if (self.output.is_empty() && !self.transport_pending)
            || matches!(self.life, Life::Lingering { .. } | Life::Closed(_))
        {
            return None;
        }
        Some(since + config.write_timeout?)
    }

    /// When the connection is idle long enough to close. A connection not read (paused by
    /// backpressure, or by its handler) is waiting, not idle. A partner's writes move the clock
    /// as its reads do (`write_out`): what one of a relayed pair reads, the other writes, so a
    /// one-way stream (a download through a proxy, whose client sends nothing for minutes)
    /// keeps both sides busy, and the pair is idle once neither side has read or written.
    fn idle_due(&self, config: &Config) -> Option<Instant> {
        if !self.life.delivers_frames() || self.flow != Flow::Flowing {
            return None;
        }
        Some(self.idle_since + config.idle_timeout?)
    }

    /// When the unfinished frame has waited too long for its remaining bytes.
    fn frame_due(&self, config: &Config) -> Option<Instant> {
        if !self.life.delivers_frames() {
            return None;
        }
        Some(self.partial_since? + config.frame_timeout?)
    }

    /// When the handler's earliest timer fires.
    fn handler_timer_due(&self) -> Option<Instant> {
        if !self.life.delivers_frames() {
            return None;
        }
        self.timers.next()
    }
}
