//! Accepting: a listener's new connections, the connection caps, running out of descriptors.

use std::io::{self, Write};
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};

use super::Reactor;
use crate::connection::{Conn, Connection};
use crate::core::Core;
use crate::stream::Stream;
use crate::tls_stream::TlsStream;
use crate::{ConnId, Handler, Rejection, socket};

/// Connections accepted per listener per turn before the reactor serves the others.
const ACCEPTS_PER_TURN: usize = 64;
/// First and longest wait before retrying `accept` after running out of descriptors.
pub(super) const BACKOFF: (Duration, Duration) =
    (Duration::from_millis(10), Duration::from_secs(1));

/// Makes a connection for each socket one listener accepts: that listener's handler type,
/// erased so one reactor can serve several listeners.
pub(crate) trait Accept: Send + Sync {
    /// The handler and codec for a new connection from `peer`; `None` if the factory panicked.
    fn connection(
        &self,
        stream: Stream,
        peer: SocketAddr,
        id: ConnId,
        core: &Core,
    ) -> Option<Box<dyn Conn>>;

    /// What the handler type writes to a connection refused at accept.
    fn rejection(&self, reason: Rejection) -> Option<Vec<u8>>;
}

/// The [`Accept`] of handler `H`, made by factory `F`.
pub(crate) struct Acceptor<H, F> {
    /// Makes a handler for each accepted connection, with the peer's address.
    factory: F,
    /// The handler type.
    handler: PhantomData<fn() -> H>,
}

impl<H, F> Acceptor<H, F> {
    pub(crate) fn new(factory: F) -> Self {
        Acceptor {
            factory,
            handler: PhantomData,
        }
    }
}

impl<H, F> Accept for Acceptor<H, F>
where
    H: Handler,
    F: Fn(SocketAddr) -> H + Send + Sync,
{
    fn connection(
        &self,
        stream: Stream,
        peer: SocketAddr,
        id: ConnId,
        core: &Core,
    ) -> Option<Box<dyn Conn>> {
        let config = core.config();
        let made = catch_unwind(AssertUnwindSafe(|| {
            let mut handler = (self.factory)(peer);
            let codec = handler.codec(config);
            (handler, codec)
        }));
        let (handler, codec) = made.ok()?;
        Some(Box::new(Connection::new(handler, codec, stream, id, peer)))
    }

    fn rejection(&self, reason: Rejection) -> Option<Vec<u8>> {
        H::rejection(reason)
    }
}

/// A reactor's socket of one listener.
pub(crate) struct Listening {
    /// The socket; `None` once shutdown has begun.
    socket: Option<TcpListener>,
    /// Makes connections of the listener's handler type.
    acceptor: Arc<dyn Accept>,
    /// TLS for its connections, if it speaks TLS.
    tls: Option<Arc<rustls::ServerConfig>>,
    /// The accept budget ran out with connections possibly waiting.
    pub(super) more: bool,
}

impl Listening {
    pub(super) fn new(
        socket: TcpListener,
        acceptor: Arc<dyn Accept>,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        Listening {
            socket: Some(socket),
            acceptor,
            tls,
            more: false,
        }
    }

    /// Stops listening: the socket is deregistered and closed.
    pub(super) fn close(&mut self, registry: &Registry) {
        if let Some(mut socket) = self.socket.take() {
            let _ = registry.deregister(&mut socket);
        }
        self.more = false;
    }
}

impl Reactor {
    /// Accepts on every listener whose budget ran out last turn.
    pub(super) fn accept_more(&mut self) {
        for index in 0..self.listeners.len() {
            if self.listeners[index].more {
                self.accept(index);
            }
        }
    }

    /// Accepts up to a turn's budget of connections on listener `index`.
    pub(super) fn accept(&mut self, index: usize) {
        let listening = &mut self.listeners[index];
        listening.more = false;
        if self.accept_retry.is_some() {
            return; // backing off; the retry timer calls again
        }
        let Some(socket) = listening.socket.take() else {
            return;
        };
        let acceptor = Arc::clone(&listening.acceptor);
        let tls = listening.tls.clone();
        let mut more = true;
        for _ in 0..ACCEPTS_PER_TURN {
            match socket.accept() {
                Ok((stream, peer)) => {
                    self.accept_delay = BACKOFF.0;
                    self.admit(&*acceptor, tls.as_ref(), stream, peer);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // The backlog is empty: whatever ran out of descriptors has passed.
                    self.accept_delay = BACKOFF.0;
                    more = false;
                    break;
                }
                Err(e) if out_of_descriptors(&e) => {
                    // The connection stays in the backlog and edge triggering will not report
                    // it again: retry on a timer, backing off, instead of spinning. Meanwhile
                    // the spare descriptor lets us close what waits in the backlog, so those
                    // clients see a prompt close instead of hanging.
                    let shed = self.shed_backlog(&socket);
                    log::warn!(
                        "reactor {}: accept failed ({e}); closed {shed} waiting connections; \
                         retrying in {:?}",
                        self.core.index(),
                        self.accept_delay
                    );
                    self.accept_retry = Some(self.core.now() + self.accept_delay);
                    self.accept_delay = (self.accept_delay * 2).min(BACKOFF.1);
                    more = false;
                    break;
                }
                // Errors about one connection (aborted before accept, refused by a firewall
                // rule...) do not stop the others.
                Err(e) => log::debug!("reactor {}: accept: {e}", self.core.index()),
            }
        }
        let listening = &mut self.listeners[index];
        listening.socket = Some(socket);
        listening.more = more;
    }

    /// Out of descriptors: frees the spare one, accepts and closes what waits in the backlog
    /// (up to a turn's budget), and takes the spare back. Returns how many were closed.
    fn shed_backlog(&mut self, listener: &TcpListener) -> usize {
        let Some(spare) = self.spare_fd.take() else {
            return 0;
        };
        drop(spare);
        let mut shed = 0;
        while shed < ACCEPTS_PER_TURN {
            match listener.accept() {
                Ok((stream, _peer)) => {
                    shed += 1;
                    self.core.stats_mut().rejected += 1;
                    drop(stream);
                }
                Err(_) => break,
            }
        }
        self.spare_fd = std::fs::File::open("/dev/null").ok();
        shed
    }

    /// Sets up an accepted connection and opens it, unless a cap refuses it.
    fn admit(
        &mut self,
        acceptor: &dyn Accept,
        tls: Option<&Arc<rustls::ServerConfig>>,
        mut stream: TcpStream,
        peer: SocketAddr,
    ) {
        if let Err(reason) = self.core.limits().admit(peer.ip()) {
            self.core.stats_mut().rejected += 1;
            log::debug!("{peer}: refused ({reason:?})");
            if let Some(bytes) = acceptor.rejection(reason) {
                // A fresh socket has an empty send buffer: a short line goes out whole, or not
                // at all; nothing waits for it.
                let _ = stream.write(&bytes);
            }
            return; // dropping the stream closes it
        }
        if let Err(e) = socket::tune(&stream, self.core.config()) {
            log::debug!("{peer}: socket option refused: {e}");
        }
        let key = self.core.vacant_key();
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut stream, Token(key), interest)
        {
            log::warn!("{peer}: cannot register: {e}");
            self.core.limits().release(peer.ip());
            return;
        }
        let stream = match tls {
            None => Stream::Plain(stream),
            Some(config) => match rustls::ServerConnection::new(Arc::clone(config)) {
                Ok(session) => Stream::Tls(Box::new(TlsStream::server(stream, session))),
                Err(e) => {
                    log::warn!("{peer}: no TLS session: {e}");
                    self.core.limits().release(peer.ip());
                    return;
                }
            },
        };
        let id = ConnId::new(self.core.index(), key, self.core.next_serial());
        match acceptor.connection(stream, peer, id, &self.core) {
            Some(conn) => self.core.insert(conn),
            None => {
                log::error!("{peer}: handler factory panicked; connection closed");
                self.core.stats_mut().panics += 1;
                self.core.limits().release(peer.ip());
            }
        }
    }
}

/// `accept` failed for lack of descriptors or memory, not because of the one connection.
fn out_of_descriptors(e: &io::Error) -> bool {
    // Linux errno values: EMFILE, ENFILE, ENOBUFS, ENOMEM.
    matches!(e.raw_os_error(), Some(24 | 23 | 105 | 12))
}
