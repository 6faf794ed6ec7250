//! The Turbine peers: the echo example's handler with one reactor, raw or line framing.

use std::io;
use std::net::SocketAddr;

use turbine::{Config, Server};

use crate::peer::Serving;

#[path = "../common/echo_handlers.rs"]
mod echo_handlers;

use echo_handlers::{LineEcho, RawEcho};

/// Turbine's configuration for every run: defaults (64 KiB frames and read buffer, 10,000
/// connections, `TCP_NODELAY`) and one reactor, so each server has one serving thread.
fn config(addr: SocketAddr) -> Config {
    Config::new().addr(addr).reactors(1)
}

/// Starts the raw echo with `reactors` reactors (1 but in the scaling mode).
///
/// # Errors
///
/// See [`Server::bind`] and [`Server::start`].
pub(crate) fn start_raw(addr: SocketAddr, reactors: usize) -> io::Result<Serving> {
    Ok(Serving::turbine(
        Server::bind(config(addr).reactors(reactors))?.start(|_peer| RawEcho)?,
    ))
}

/// Starts the line echo.
///
/// # Errors
///
/// See [`Server::bind`] and [`Server::start`].
pub(crate) fn start_lines(addr: SocketAddr) -> io::Result<Serving> {
    Ok(Serving::turbine(
        Server::bind(config(addr))?.start(|_peer| LineEcho)?,
    ))
}
