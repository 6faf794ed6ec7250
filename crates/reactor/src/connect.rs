//! `Connect` and `ConnectError`: where an outbound connection goes, and why it could not start.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use rustls::pki_types::ServerName;

/// Where and how to open an outbound connection ([`Context::connect`](crate::Context::connect)).
///
/// A resolved address: a reactor never resolves names, since a DNS lookup blocks. Resolve on
/// the worker pool with [`Context::resolve`](crate::Context::resolve), or before the server
/// starts. Over TLS with [`tls`](Connect::tls).
#[derive(Debug, Clone)]
pub struct Connect {
    /// The address to connect to.
    addr: SocketAddr,
    /// How long the connect may take; `None` for `TURBINE_CONNECT_TIMEOUT`.
    timeout: Option<Duration>,
    /// The TLS client configuration and the server's name, for a connection over TLS.
    tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
}

impl Connect {
    /// A connect to `addr`, timing out after `TURBINE_CONNECT_TIMEOUT`.
    pub fn to(addr: SocketAddr) -> Self {
        Connect {
            addr,
            timeout: None,
            tls: None,
        }
    }

    /// Speaks TLS over the connection, as a client with `config` (trusted roots, versions,
    /// ALPN: [`tls_client_config`](crate::tls_client_config) makes one from a CA file), to a
    /// server whose certificate must be valid for `server_name` (sent as SNI when it is a DNS
    /// name). The handshake follows the connect: `on_open` runs once it is done, within
    /// `TURBINE_TLS_HANDSHAKE_TIMEOUT`; a handshake that fails or times out ends in
    /// `on_connect_failed`, like a failed connect, and is counted in `tls_failures` too.
    #[must_use]
    pub fn tls(mut self, config: Arc<ClientConfig>, server_name: ServerName<'static>) -> Self {
        self.tls = Some((config, server_name));
        self
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

    /// The TLS client configuration and server name, for a connect over TLS.
    pub(crate) fn client_tls(&self) -> Option<&(Arc<ClientConfig>, ServerName<'static>)> {
        self.tls.as_ref()
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
