//! The Turbine peers: the echo example's handler with one reactor, raw or line framing.

use std::io;
use std::net::SocketAddr;

use turbine::{Config, Context, Handler, LinesCodec, RawCodec, Server};

use crate::peer::Serving;

/// Echoes raw bytes: each read's bytes go back as they came.
struct RawEcho;

impl Handler for RawEcho {
    type Codec = RawCodec;

    fn codec(&mut self, _config: &Config) -> RawCodec {
        RawCodec::new()
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, bytes: Vec<u8>) {
        ctx.send(bytes);
    }
}

/// Echoes lines: the codec strips the `\n` on the way in and appends it on the way out.
struct LineEcho;

impl Handler for LineEcho {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.max_frame)
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        ctx.send(line);
    }
}

/// Turbine's configuration for every run: defaults (64 KiB frames and read buffer, 10,000
/// connections, `TCP_NODELAY`) and one reactor, so each server has one serving thread.
fn config(addr: SocketAddr) -> Config {
    Config::new().addr(addr).reactors(1)
}

/// Starts the raw echo.
///
/// # Errors
///
/// See [`Server::bind`] and [`Server::start`].
pub fn start_raw(addr: SocketAddr) -> io::Result<Serving> {
    Ok(Serving::turbine(
        Server::bind(config(addr))?.start(|_peer| RawEcho)?,
    ))
}

/// Starts the line echo.
///
/// # Errors
///
/// See [`Server::bind`] and [`Server::start`].
pub fn start_lines(addr: SocketAddr) -> io::Result<Serving> {
    Ok(Serving::turbine(
        Server::bind(config(addr))?.start(|_peer| LineEcho)?,
    ))
}
