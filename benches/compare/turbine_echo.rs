//! The Turbine peers: the echo example's handler with one reactor, raw or line framing, with the
//! metrics listener off (the comparison's peers) or on (`--metrics`).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use turbine::{Config, Running, Server};

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

/// How often the servers with the metrics listener on are scraped: far more often than a
/// Prometheus server does (15 s to 1 min), so the cost measured is an upper bound.
const SCRAPE_EVERY: Duration = Duration::from_secs(1);

/// The raw echo with the metrics listener on, scraped every [`SCRAPE_EVERY`].
///
/// # Errors
///
/// See [`Server::bind`] and [`Server::start`].
pub(crate) fn start_raw_metrics(addr: SocketAddr) -> io::Result<Serving> {
    let running = Server::bind(with_metrics(addr))?.start(|_peer| RawEcho)?;
    scrape_forever(&running);
    Ok(Serving::turbine(running))
}

/// The line echo with the metrics listener on, scraped every [`SCRAPE_EVERY`].
///
/// # Errors
///
/// See [`Server::bind`] and [`Server::start`].
pub(crate) fn start_lines_metrics(addr: SocketAddr) -> io::Result<Serving> {
    let running = Server::bind(with_metrics(addr))?.start(|_peer| LineEcho)?;
    scrape_forever(&running);
    Ok(Serving::turbine(running))
}

/// [`config`] with the metrics listener on a free port of 127.0.0.1.
fn with_metrics(addr: SocketAddr) -> Config {
    config(addr).metrics_addr(Some(SocketAddr::from(([127, 0, 0, 1], 0))))
}

/// Scrapes `running`'s metrics endpoint every [`SCRAPE_EVERY`] from a thread of this process
/// (so its own work counts as the server's CPU too: the figure is an upper bound), each time
/// on a new connection, as Prometheus does without keep-alive; panics if a scrape fails.
fn scrape_forever(running: &Running) {
    let addr = running.metrics_addr().expect("the metrics listener is on");
    thread::spawn(move || {
        loop {
            thread::sleep(SCRAPE_EVERY);
            let mut stream = TcpStream::connect(addr).expect("connect to /metrics");
            stream
                .write_all(b"GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                .expect("send a scrape");
            let mut reply = Vec::new();
            stream.read_to_end(&mut reply).expect("read a scrape");
            assert!(reply.starts_with(b"HTTP/1.1 200 "), "a failed scrape");
        }
    });
}
