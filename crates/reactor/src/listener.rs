//! Making a reactor's listener: one socket per reactor, all on one address (SO_REUSEPORT).

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

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
