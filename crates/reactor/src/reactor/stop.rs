//! Graceful shutdown: close the listeners, let connections drain, force the rest.

use super::Reactor;

impl Reactor {
    /// Closes the listeners and tells every connection the server is stopping: each is served
    /// until its first quiet moment, then closed.
    pub(super) fn begin_shutdown(&mut self) {
        let timeout = self.core.config().shutdown_timeout;
        self.core.begin_stopping(self.core.now() + timeout);
        for listener in &mut self.listeners {
            listener.close(self.poll.registry());
        }
        self.accept_retry = None;
        log::info!(
            "reactor {}: shutting down; {} connections open, deadline {timeout:?}",
            self.core.index(),
            self.core.open_count()
        );
        for key in self.core.keys() {
            self.core.step(key, None, |c, core| c.shutdown(core));
        }
    }

    /// Whether the loop should end: shutdown began and every connection is closed, or the
    /// deadline passed (then the rest are closed by force).
    pub(super) fn shutdown_finished(&mut self) -> bool {
        let Some((deadline, open_at_start)) = self.core.stopping() else {
            return false;
        };
        let mut forced = 0;
        if self.core.open_count() > 0 {
            if self.core.now() < deadline {
                return false;
            }
            forced = self.core.force_close_all();
        }
        log::info!(
            "reactor {}: stopped; {} connections drained, {forced} closed by force",
            self.core.index(),
            open_at_start.saturating_sub(forced),
        );
        true
    }
}
