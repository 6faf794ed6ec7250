//! Making a reactor's listener: one socket per reactor, all on one address (SO_REUSEPORT).

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

/// Fails with `AddrInUse` if something already listens on `addr`.
///
/// SO_REUSEPORT would otherwise let a second copy of a server bind the same port silently and
/// take half of its connections. A socket without SO_REUSEPORT cannot bind a port that has a
/// listener, so one throw-away bind tells; SO_REUSEADDR keeps TIME_WAIT leftovers from counting.
/// Port 0 needs no check: the kernel picks a free port.
pub(crate) fn ensure_free(addr: SocketAddr) -> io::Result<()> {
    if addr.port() == 0 {
        return Ok(());
    }
    let probe = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    probe.set_reuse_address(true)?;
    if addr.is_ipv6() {
        probe.set_only_v6(true)?;
    }
    probe.bind(&addr.into()).map_err(|e| {
        if e.kind() == io::ErrorKind::AddrInUse {
            io::Error::new(
                e.kind(),
                format!("{e}: another server is listening on {addr}"),
            )
        } else {
            e
        }
    })
}

/// Binds a non-blocking listener on `addr` that other listeners may share.
///
/// SO_REUSEPORT lets every reactor bind its own socket to the same address; the kernel then
/// spreads new connections over them by a hash of the 4-tuple, and each listener has its own
/// accept queue of `backlog` entries. SO_REUSEADDR lets a restarted server bind while old
/// connections sit in TIME_WAIT.
pub(crate) fn bind(addr: SocketAddr, backlog: u32) -> io::Result<mio::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        // `[::]` then means IPv6 only, the same on every system, instead of depending on a sysctl.
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    // `backlog` is validated to fit in an i32 (at most 65535).
    socket.listen(backlog as i32)?;
    Ok(mio::net::TcpListener::from_std(socket.into()))
}
