//! Accepting: a listener's new connections, the connection caps, running out of descriptors,
//! and opening a connection on an accepted socket (at once, or once its PROXY header is read).

use std::io::{self, Write};
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};

use super::Reactor;
use crate::addrs::Addrs;
use crate::connection::{Conn, Connection};
use crate::core::Core;
use crate::preface::Preface;
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
    /// The handler and codec for a new connection from `addrs.peer()`; `None` if the factory
    /// panicked.
    fn connection(
        &self,
        stream: Stream,
        addrs: Addrs,
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
        addrs: Addrs,
        id: ConnId,
        core: &Core,
    ) -> Option<Box<dyn Conn>> {
        let config = core.config();
        let made = catch_unwind(AssertUnwindSafe(|| {
            let mut handler = (self.factory)(addrs.peer());
            let codec = handler.codec(config);
            (handler, codec)
        }));
        let (handler, codec) = made.ok()?;
        Some(Box::new(Connection::new(handler, codec, stream, id, addrs)))
    }

    fn rejection(&self, reason: Rejection) -> Option<Vec<u8>> {
        H::rejection(reason)
    }
}

/// What opens a listener's connections on their accepted sockets: its handler type, its TLS,
/// its address.
pub(crate) struct Entrance {
    /// Makes connections of the listener's handler type.
    acceptor: Arc<dyn Accept>,
    /// TLS for its connections, if it speaks TLS.
    tls: Option<Arc<rustls::ServerConfig>>,
    /// The address the listener is bound to.
    bound: SocketAddr,
    /// Whether its connections start with a PROXY header (`TURBINE_PROXY_PROTOCOL`; never on
    /// the metrics listener).
    proxied: bool,
}

impl Entrance {
    /// The local address of a socket accepted on this listener: the listener's own, unless
    /// it is bound to a wildcard address (then the kernel is asked which one the client
    /// reached).
    fn local_addr(&self, stream: &TcpStream) -> SocketAddr {
        if self.bound.ip().is_unspecified() {
            stream.local_addr().unwrap_or(self.bound)
        } else {
            self.bound
        }
    }

    /// The connection for an accepted socket, registered under `id`, with TLS if the
    /// listener speaks it; `None` (logged and counted) if no TLS session could be made or the
    /// handler factory panicked. The caller releases the connection's caps then.
    pub(crate) fn open(
        &self,
        stream: TcpStream,
        addrs: Addrs,
        id: ConnId,
        core: &mut Core,
    ) -> Option<Box<dyn Conn>> {
        let peer = addrs.peer();
        let stream = match &self.tls {
            None => Stream::Plain(stream),
            Some(config) => match rustls::ServerConnection::new(Arc::clone(config)) {
                Ok(session) => Stream::Tls(Box::new(TlsStream::server(stream, session))),
                Err(e) => {
                    log::warn!("{peer}: no TLS session: {e}");
                    return None;
                }
            },
        };
        let conn = self.acceptor.connection(stream, addrs, id, core);
        if conn.is_none() {
            log::error!("{peer}: handler factory panicked; connection closed");
            core.stats_mut().panics += 1;
        }
        conn
    }

    /// What the handler type writes to a connection refused by a cap.
    pub(crate) fn rejection(&self, reason: Rejection) -> Option<Vec<u8>> {
        self.acceptor.rejection(reason)
    }
}

/// A reactor's socket of one listener.
pub(crate) struct Listening {
    /// The socket; `None` once shutdown has begun.
    socket: Option<TcpListener>,
    /// Opens its connections.
    entrance: Arc<Entrance>,
    /// The accept budget ran out with connections possibly waiting.
    pub(super) more: bool,
}

impl Listening {
    pub(super) fn new(
        socket: TcpListener,
        acceptor: Arc<dyn Accept>,
        tls: Option<Arc<rustls::ServerConfig>>,
        proxied: bool,
    ) -> Self {
        let bound = socket
            .local_addr()
            .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
        Listening {
            socket: Some(socket),
            entrance: Arc::new(Entrance {
                acceptor,
                tls,
                bound,
                proxied,
            }),
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
        let entrance = Arc::clone(&listening.entrance);
        let mut more = true;
        for _ in 0..ACCEPTS_PER_TURN {
            match socket.accept() {
                Ok((stream, peer)) => {
                    self.accept_delay = BACKOFF.0;
                    self.admit(&entrance, stream, peer);
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
                    self.core.stats_mut().count_shed();
                    drop(stream);
                }
                Err(_) => break,
            }
        }
        self.spare_fd = std::fs::File::open("/dev/null").ok();
        shed
    }

    /// Sets up an accepted connection and opens it, unless a cap refuses it. On a listener
    /// that takes PROXY headers, a socket from an untrusted address is closed at once, and one
    /// from a balancer waits for its header (the per-address cap applies to the header's).
    fn admit(&mut self, entrance: &Arc<Entrance>, mut stream: TcpStream, peer: SocketAddr) {
        let proxied = entrance.proxied;
        if proxied && !self.is_trusted(peer) {
            self.core.stats_mut().proxy_failures += 1;
            log::debug!("{peer}: not in TURBINE_PROXY_TRUSTED; closed");
            return; // dropping the stream closes it
        }
        let admitted = if proxied {
            self.core.limits().admit_slot()
        } else {
            self.core.limits().admit(peer.ip())
        };
        if let Err(reason) = admitted {
            refuse(&mut self.core, entrance, &mut stream, peer, reason);
            return;
        }
        let release = |core: &Core| {
            if proxied {
                core.limits().release_slot();
            } else {
                core.limits().release(peer.ip());
            }
        };
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
            release(&self.core);
            return;
        }
        let addrs = Addrs::new(peer, entrance.local_addr(&stream));
        let id = ConnId::new(self.core.index(), key, self.core.next_serial());
        if proxied {
            // The header is the connection's first frame; with no frame timeout, the idle one.
            let config = self.core.config();
            let wait = config.frame_timeout.or(config.idle_timeout);
            let deadline = wait.map(|wait| self.core.now() + wait);
            let preface = Preface::new(stream, addrs, id, Arc::clone(entrance), deadline);
            self.core.insert(Box::new(preface));
            return;
        }
        match entrance.open(stream, addrs, id, &mut self.core) {
            Some(conn) => self.core.insert(conn),
            None => release(&self.core),
        }
    }

    /// Whether `peer` may send PROXY headers (`TURBINE_PROXY_TRUSTED`).
    fn is_trusted(&self, peer: SocketAddr) -> bool {
        let trusted = &self.core.config().proxy_trusted;
        trusted.iter().any(|block| block.contains(peer.ip()))
    }
}

/// Refuses a connection a cap does not admit: counts it, and writes the handler type's
/// rejection line if it has one (dropping the stream then closes it).
pub(crate) fn refuse(
    core: &mut Core,
    entrance: &Entrance,
    stream: &mut TcpStream,
    peer: SocketAddr,
    reason: Rejection,
) {
    core.stats_mut().count_rejection(reason);
    log::debug!("{peer}: refused ({reason:?})");
    if let Some(bytes) = entrance.rejection(reason) {
        // A fresh socket has an empty send buffer: a short line goes out whole, or not at
        // all; nothing waits for it.
        let _ = stream.write(&bytes);
    }
}

/// `accept` failed for lack of descriptors or memory, not because of the one connection.
fn out_of_descriptors(e: &io::Error) -> bool {
    // Linux errno values: EMFILE, ENFILE, ENOBUFS, ENOMEM.
    matches!(e.raw_os_error(), Some(24 | 23 | 105 | 12))
}
