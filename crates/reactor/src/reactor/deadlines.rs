//! Deadlines: idle, frame, write and linger timeouts, and the accept retry.

use super::Reactor;
use crate::connection::Phase;
use crate::timers::TimerKind;
use crate::{CloseReason, Handler};

impl<H, F> Reactor<H, F>
where
    H: Handler,
    F: Fn(std::net::SocketAddr) -> H,
{
    pub(super) fn fire_timers(&mut self) {
        // A periodic task runs on the reactor thread like a callback: it must be short.
        self.periodic.run_due(self.now, self.env.index);
        if self.accept_retry.is_some_and(|at| at <= self.now) {
            self.accept_retry = None;
            self.accept();
        }
        while let Some((key, generation, kind)) = self.timers.pop_due(self.now) {
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            let io = &mut conn.io;
            if io.id.generation != generation {
                continue;
            }
            match kind {
                TimerKind::Idle if io.phase == Phase::Open => {
                    let Some(idle) = self.env.config.idle_timeout else {
                        continue;
                    };
                    // A paused connection is waiting for its peer to read, not idle.
                    let due = if io.paused {
                        self.now + idle
                    } else {
                        io.last_input + idle
                    };
                    if due <= self.now {
                        log::debug!("{}: idle for {idle:?}, closing", io.peer);
                        io.begin_close(CloseReason::IdleTimeout);
                        self.flush(key);
                    } else {
                        self.timers.schedule(due, key, generation, TimerKind::Idle);
                    }
                }
                TimerKind::Linger if io.phase == Phase::Lingering => {
                    let reason = io.close_reason.take();
                    self.close(key, reason);
                }
                TimerKind::Frame => {
                    io.frame_timer = false;
                    let (Some(timeout), Some(since)) =
                        (self.env.config.frame_timeout, io.partial_since)
                    else {
                        continue;
                    };
                    if io.phase != Phase::Open {
                        continue;
                    }
                    let due = since + timeout;
                    if due <= self.now {
                        log::debug!("{}: frame unfinished after {timeout:?}, closing", io.peer);
                        io.begin_close(CloseReason::FrameTimeout);
                        self.flush(key);
                    } else {
                        io.frame_timer = true;
                        self.timers.schedule(due, key, generation, TimerKind::Frame);
                    }
                }
                TimerKind::Write => {
                    io.write_timer = false;
                    let Some(timeout) = self.env.config.write_timeout else {
                        continue;
                    };
                    if io.output.is_empty() || io.phase == Phase::Lingering {
                        continue;
                    }
                    let due = io.last_write + timeout;
                    if due <= self.now {
                        // The peer is not reading: output cannot drain, so do not wait for it.
                        log::debug!("{}: output stuck for {timeout:?}, closing", io.peer);
                        io.close_now(CloseReason::WriteTimeout, &mut self.stats);
                        let reason = io.close_reason.take();
                        self.close(key, reason);
                    } else {
                        io.write_timer = true;
                        self.timers.schedule(due, key, generation, TimerKind::Write);
                    }
                }
                _ => {}
            }
        }
    }
}
