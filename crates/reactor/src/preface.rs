//! `Preface`: an accepted connection whose PROXY header has not been read yet.
//!
//! On a listener that takes PROXY headers (`TURBINE_PROXY_PROTOCOL`), every connection starts
//! with one, naming the client the balancer connected for. Until it has been read the
//! connection has no handler: the handler factory is called with the client's address, the
//! per-address cap counts it, and not a byte of it reaches the codec. The header is read with
//! `MSG_PEEK` first, so that exactly its bytes are taken from the socket and what follows
//! (a TLS ClientHello, the protocol's first bytes) is left for the connection.

use std::any::Any;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use mio::net::TcpStream;

use crate::addrs::Addrs;
use crate::connection::{Conn, Origin, Readiness, Step};
use crate::core::Core;
use crate::proxy_protocol::MAX_PROXY_HEADER;
use crate::reactor::{Entrance, refuse};
use crate::{ConnId, ProxyHeader, ProxyRead};

/// An accepted socket waiting for its PROXY header.
pub(crate) struct Preface {
    /// Slot and serial: the connection keeps them.
    id: ConnId,
    /// The socket, registered under `id`; taken when the connection opens.
    socket: Option<TcpStream>,
    /// The socket's own ends: the balancer and our address.
    addrs: Addrs,
    /// Opens the connection once the header is read.
    entrance: Arc<Entrance>,
    /// When the header must have arrived: the frame timeout (the idle timeout without one;
    /// never with neither).
    deadline: Option<Instant>,
}

impl Preface {
    pub(crate) fn new(
        socket: TcpStream,
        addrs: Addrs,
        id: ConnId,
        entrance: Arc<Entrance>,
        deadline: Option<Instant>,
    ) -> Preface {
        Preface {
            id,
            socket: Some(socket),
            addrs,
            entrance,
            deadline,
        }
    }

    /// Reads the header if it has arrived whole; then the connection takes this one's place.
    fn read_header(&mut self, core: &mut Core) -> Step {
        let Some(socket) = self.socket.as_mut() else {
            return Step::Closed;
        };
        let mut buf = [0; MAX_PROXY_HEADER];
        let seen = match socket.peek(&mut buf) {
            Ok(0) => return self.fail(core, "closed before its PROXY header".into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Open,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return self.read_header(core),
            Err(e) => return self.fail(core, format!("read failed before its PROXY header: {e}")),
        };
        let accepts = core.config().proxy_protocol;
        let (header, len) = match ProxyHeader::parse(&buf[..seen], accepts, self.addrs.peer()) {
            // More will come (a new edge); the header is at most MAX_PROXY_HEADER bytes, so a full
            // buffer is always complete or invalid.
            ProxyRead::Incomplete => return Step::Open,
            ProxyRead::Invalid(why) => return self.fail(core, why),
            ProxyRead::Complete { header, len } => (header, len),
        };
        // Take exactly the header: it is in the socket's buffer, so one read returns it whole.
        match socket.read(&mut buf[..len]) {
            Ok(n) if n == len => {}
            Ok(n) => return self.fail(core, format!("read {n} of the {len} header bytes seen")),
            Err(e) => return self.fail(core, format!("reading the PROXY header failed: {e}")),
        }
        let addrs = Addrs::proxied(header, self.addrs.clone());
        self.open(core, addrs)
    }

    /// Counts the client's address against its cap and hands over to the connection.
    fn open(&mut self, core: &mut Core, addrs: Addrs) -> Step {
        let mut socket = self.socket.take().expect("the socket is here until opened");
        let client = addrs.peer();
        if let Err(reason) = core.limits().admit_address(client.ip()) {
            refuse(core, &self.entrance, &mut socket, client, reason);
            return Step::Closed; // this one's slot is released with it
        }
        log::trace!("{client}: PROXY header from {}", self.addrs.peer());
        match self.entrance.open(socket, addrs, self.id, core) {
            Some(conn) => core.hand_over(conn),
            None => {
                core.limits().release_address(client.ip());
                Step::Closed
            }
        }
    }

    /// Closes the socket for `why`, counted and logged (at debug level: a client's fault).
    fn fail(&mut self, core: &mut Core, why: String) -> Step {
        core.stats_mut().proxy_failures += 1;
        log::debug!("{}: {why}; closed", self.addrs.peer());
        Step::Closed
    }
}

impl Conn for Preface {
    fn id(&self) -> ConnId {
        self.id
    }

    fn peer(&self) -> SocketAddr {
        self.addrs.peer()
    }

    fn origin(&self) -> Origin {
        Origin::Pending
    }

    fn pending_output(&self) -> usize {
        0
    }

    fn open(&mut self, core: &mut Core) -> Step {
        if let Some(at) = self.deadline {
            core.schedule(at, self.id.slot(), self.id.serial());
        }
        self.read_header(core)
    }

    fn ready(&mut self, core: &mut Core, _readiness: Readiness) -> Step {
        self.read_header(core)
    }

    fn serve_queued(&mut self, core: &mut Core) -> Step {
        self.read_header(core)
    }

    fn deadline(&mut self, core: &mut Core, _at: Instant) -> Step {
        match self.deadline {
            Some(at) if at <= core.now() => {
                let why = "no PROXY header within the frame timeout".to_string();
                self.fail(core, why)
            }
            _ => Step::Open,
        }
    }

    fn shutdown(&mut self, _core: &mut Core) -> Step {
        // Not yet a connection: no handler to tell, no request to finish.
        Step::Closed
    }

    fn force_close(&mut self, _core: &mut Core) {}

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
