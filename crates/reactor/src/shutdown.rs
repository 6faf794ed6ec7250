//! `ShutdownHandle`: asks every reactor of a server to stop gracefully.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mio::Waker;

/// Starts a graceful shutdown of a server from any thread; cheap to clone.
///
/// On [`shutdown`](ShutdownHandle::shutdown) every reactor closes its listeners at once, calls
/// [`Handler::on_shutdown`](crate::Handler::on_shutdown) on each connection, and serves each
/// until its first quiet moment (no unfinished frame, no output pending, no offloaded job in
/// flight, the socket read until it would block), then closes it; whatever is still open when
/// the shutdown timeout (`TURBINE_SHUTDOWN_TIMEOUT`) runs out is closed by force. [`crate::run`]
/// calls it on SIGINT and SIGTERM.
#[derive(Clone)]
pub struct ShutdownHandle {
    /// Set once shutdown is requested; reactors check it when woken.
    requested: Arc<AtomicBool>,
    /// One waker per reactor.
    wakers: Arc<[Arc<Waker>]>,
}

impl ShutdownHandle {
    pub(crate) fn new(wakers: Vec<Arc<Waker>>) -> Self {
        ShutdownHandle {
            requested: Arc::new(AtomicBool::new(false)),
            wakers: wakers.into(),
        }
    }

    /// Requests the shutdown and wakes every reactor; returns at once. Calling it again does
    /// nothing more.
    pub fn shutdown(&self) {
        if !self.requested.swap(true, Ordering::SeqCst) {
            for waker in self.wakers.iter() {
                // An error means that reactor's poll is gone: it has stopped already.
                let _ = waker.wake();
            }
        }
    }

    /// Whether a shutdown has been requested.
    pub fn is_requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }
}

impl std::fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShutdownHandle")
            .field("requested", &self.is_requested())
            .finish()
    }
}
