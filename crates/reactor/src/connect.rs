//! `Connect` and `ConnectError`: where an outbound connection goes, and why it could not start.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// Where and how to open an outbound connection ([`Context::connect`](crate::Context::connect)).
///
/// A resolved address: a reactor never resolves names, since a DNS lookup blocks. Resolve on
/// the worker pool with [`Context::resolve`](crate::Context::resolve), or before the server
/// starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connect {
    /// The address to connect to.
    addr: SocketAddr,
    /// How long the connect may take; `None` for `TURBINE_CONNECT_TIMEOUT`.
    timeout: Option<Duration>,
}

impl Connect {
    /// A connect to `addr`, timing out after `TURBINE_CONNECT_TIMEOUT`.
    pub fn to(addr: SocketAddr) -> Self {
        Connect {
            addr,
            timeout: None,
        }
    }

    /// Sets this connect's own timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The connect's own timeout, if it has one.
    pub fn own_timeout(&self) -> Option<Duration> {
        self.timeout
    }
}

impl From<SocketAddr> for Connect {
    fn from(addr: SocketAddr) -> Self {
        Connect::to(addr)
    }
}

/// Why an outbound connect could not even start; holds the handler it was for, so the caller
/// can try elsewhere with it.
///
/// A connect that starts and then fails (refused, unreachable, timed out) is reported later,
/// to the new connection's [`on_connect_failed`](crate::Handler::on_connect_failed) instead.
pub struct ConnectError<P> {
    /// What went wrong: out of descriptors (`EMFILE`), over `TURBINE_MAX_CONNECTIONS`, an
    /// address the system refuses at once, or no reactor (a `TestConnection`).
    error: io::Error,
    /// The handler the connection was for.
    handler: P,
}

impl<P> ConnectError<P> {
    pub(crate) fn new(error: io::Error, handler: P) -> Self {
        ConnectError { error, handler }
    }

    /// What went wrong.
    pub fn error(&self) -> &io::Error {
        &self.error
    }

    /// The handler, back.
    pub fn into_handler(self) -> P {
        self.handler
    }

    /// The error and the handler.
    pub fn into_parts(self) -> (io::Error, P) {
        (self.error, self.handler)
    }
}

impl<P> fmt::Debug for ConnectError<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectError")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<P> fmt::Display for ConnectError<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connect not started: {}", self.error)
    }
}

impl<P> std::error::Error for ConnectError<P> {}
