//! Opening an outbound connection on this reactor.

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use mio::net::TcpStream;
use mio::{Interest, Token};

use super::Core;
use crate::connection::Connection;
use crate::stream::Stream;
use crate::tls_stream::TlsStream;
use crate::{ConnId, Connect, ConnectError, Handler, socket};

impl Core {
    /// Starts a non-blocking connect to `to` for a connection with `handler`, linked to
    /// `partner` if given; returns its id. It opens when the connect completes (`on_open`), or
    /// fails later through `on_connect_failed`.
    ///
    /// # Errors
    ///
    /// The connect could not start: no registry (a test connection), the connection cap,
    /// `socket`/`connect` failing at once (`EMFILE`, an unusable address), or registering
    /// with the poll; the handler is handed back.
    pub(crate) fn connect<P: Handler>(
        &mut self,
        to: Connect,
        mut handler: P,
        partner: Option<ConnId>,
    ) -> Result<ConnId, ConnectError<P>> {
        let Some(registry) = &self.registry else {
            let why = "outbound connections need a reactor (a TestConnection has none)";
            return Err(ConnectError::new(
                io::Error::new(io::ErrorKind::Unsupported, why),
                handler,
            ));
        };
        // Every connect asked for counts, so that failures (refused at once or later) are
        // always a part of it.
        self.stats.connects += 1;
        if self.limits.admit_slot().is_err() {
            let why = "TURBINE_MAX_CONNECTIONS connections are open";
            self.stats.connect_failures += 1;
            return Err(ConnectError::new(io::Error::other(why), handler));
        }
        let fail = |core: &mut Core, error: io::Error, handler: P| {
            core.limits.release_slot();
            core.stats.connect_failures += 1;
            Err(ConnectError::new(error, handler))
        };
        let session = match to.client_tls() {
            None => None,
            Some((config, name)) => {
                match rustls::ClientConnection::new(Arc::clone(config), name.clone()) {
                    Ok(session) => Some((session, name)),
                    Err(e) => return fail(self, io::Error::other(e), handler),
                }
            }
        };
        let mut stream = match TcpStream::connect(to.addr()) {
            Ok(stream) => stream,
            Err(e) => return fail(self, e, handler),
        };
        if let Err(e) = socket::tune(&stream, &self.config) {
            log::debug!("{}: socket option refused: {e}", to.addr());
        }
        let key = self.conns.vacant_key();
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = registry.register(&mut stream, Token(key), interest) {
            return fail(self, e, handler);
        }
        let config = &self.config;
        let Ok(codec) = catch_unwind(AssertUnwindSafe(|| handler.codec(config))) else {
            let _ = self.registry.as_ref().map(|r| r.deregister(&mut stream));
            self.stats.panics += 1;
            return fail(
                self,
                io::Error::other("the handler's codec panicked"),
                handler,
            );
        };
        let id = ConnId::new(self.index, key, self.next_serial());
        let deadline = self.now + to.own_timeout().unwrap_or(self.config.connect_timeout);
        let stream = match session {
            None => Stream::Plain(stream),
            Some((session, name)) => {
                Stream::Tls(Box::new(TlsStream::client(stream, session, name)))
            }
        };
        let conn = Connection::connecting(handler, codec, stream, id, to.addr(), deadline, partner);
        self.insert(Box::new(conn));
        Ok(id)
    }
}
