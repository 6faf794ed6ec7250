//! Graceful shutdown: close the listener, let connections finish, force the rest.

use super::Reactor;
use crate::connection::Phase;
use crate::{CloseReason, Handler};

impl<H, F> Reactor<H, F>
where
    H: Handler,
    F: Fn(std::net::SocketAddr) -> H,
{
    /// Closes the listener and asks every connection to finish.
    pub(super) fn begin_shutdown(&mut self) {
        let timeout = self.env.config.shutdown_timeout;
        self.stopping = Some((self.now + timeout, self.conns.len()));
        if let Some(mut listener) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        self.accept_more = false;
        self.accept_retry = None;
        log::info!(
            "reactor {}: shutting down; {} connections open, deadline {timeout:?}",
            self.env.index,
            self.conns.len()
        );
        let keys: Vec<usize> = self.conns.iter().map(|(key, _)| key).collect();
        for key in keys {
            if self.conns[key].io.phase == Phase::Open
                && self.callback(key, |h, ctx| h.on_shutdown(ctx))
            {
                self.flush(key);
            }
        }
    }

    /// Whether the loop should end: shutdown began and every connection is closed, or the
    /// deadline passed (then the rest are closed by force).
    pub(super) fn shutdown_finished(&mut self) -> bool {
        let Some((deadline, open_at_start)) = self.stopping else {
            return false;
        };
        let mut forced = 0;
        if !self.conns.is_empty() {
            if self.now < deadline {
                return false;
            }
            let keys: Vec<usize> = self.conns.iter().map(|(key, _)| key).collect();
            forced = keys.len();
            for key in keys {
                self.close(key, Some(CloseReason::Forced));
            }
        }
        log::info!(
            "reactor {}: stopped; {} connections drained, {forced} closed by force",
            self.env.index,
            open_at_start.saturating_sub(forced),
        );
        true
    }
}
