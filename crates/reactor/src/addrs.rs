//! `Addrs`: a connection's two ends as its handler sees them: the socket's, or the client's
//! and the address it connected to, as a PROXY header told them.

use std::net::{Ipv4Addr, SocketAddr};

use crate::ProxyHeader;

/// Where a connection comes from and what it reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Addrs {
    /// The client: the socket's peer, or the source a PROXY header gave.
    peer: SocketAddr,
    /// What the client connected to: the socket's local end, or the destination a PROXY header
    /// gave. For an outbound connection, unspecified until its connect completes.
    local: SocketAddr,
    /// The PROXY header the connection started with, if its listener takes them.
    proxy: Option<Box<ProxyHeader>>,
}

impl Addrs {
    /// A connection's socket ends.
    pub(crate) fn new(peer: SocketAddr, local: SocketAddr) -> Addrs {
        Addrs {
            peer,
            local,
            proxy: None,
        }
    }

    /// An outbound connection to `peer`, whose local address is known once it connects.
    pub(crate) fn outbound(peer: SocketAddr) -> Addrs {
        Addrs::new(peer, SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))
    }

    /// The ends a PROXY `header` gives, read on a socket whose ends are `socket`: the header's
    /// addresses where it has them (a v2 `LOCAL` or a v1 `UNKNOWN` header has none, so the
    /// connection keeps the socket's).
    pub(crate) fn proxied(header: ProxyHeader, socket: Addrs) -> Addrs {
        let (peer, local) = header.addresses().unwrap_or((socket.peer, socket.local));
        Addrs {
            peer,
            local,
            proxy: Some(Box::new(header)),
        }
    }

    /// The client's address.
    pub(crate) fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The address the client connected to.
    pub(crate) fn local(&self) -> SocketAddr {
        self.local
    }

    /// The PROXY header, if the connection came with one.
    pub(crate) fn proxy(&self) -> Option<&ProxyHeader> {
        self.proxy.as_deref()
    }

    /// An outbound connection's connect completed from `local`.
    pub(crate) fn connected_from(&mut self, local: SocketAddr) {
        self.local = local;
    }
}
