//! `LoadConfig` and `HoldConfig`: what a load run and a hold run do, and their checks.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::Framing;

/// Largest message size accepted, in bytes: far above any sensible echo message, and small
/// enough that a length header always fits in 32 bits.
pub const MAX_SIZE: usize = 64 << 20;

/// What [`run`](crate::run) does: how many connections, how hard, for how long.
///
/// Every connection keeps exactly `depth` messages of `size` bytes in flight: each complete
/// reply is answered by the next message. Only the `duration` after `warmup` is measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadConfig {
    /// The server to load. Default `127.0.0.1:7878`.
    pub addr: SocketAddr,
    /// Connections to open, spread over the threads. At least 1; default 100.
    pub connections: usize,
    /// Client threads, each with its own `mio::Poll`; more threads than connections are not
    /// started. At least 1; default 1.
    pub threads: usize,
    /// Bytes per message on the wire, framing included: at least
    /// [`Framing::min_size`], at most [`MAX_SIZE`]. Default 64.
    pub size: usize,
    /// Messages in flight per connection (pipelining depth). At least 1; default 1.
    pub depth: usize,
    /// Length of the measured window, after the warm-up. Default 10 s.
    pub duration: Duration,
    /// Load applied before measuring starts, to fill caches and let the server settle; its
    /// replies are checked but not counted. Default 2 s.
    pub warmup: Duration,
    /// How messages are delimited; must match the server. Default [`Framing::Raw`].
    pub framing: Framing,
    /// The server's process id, to measure the CPU time it spends in the measured window.
    /// Default `None`.
    pub server_pid: Option<u32>,
    /// Whether to print a progress line to stderr once a second. Default `true`.
    pub progress: bool,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 7878)),
            connections: 100,
            threads: 1,
            size: 64,
            depth: 1,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(2),
            framing: Framing::Raw,
            server_pid: None,
            progress: true,
        }
    }
}

impl LoadConfig {
    /// Checks every bound documented on the fields.
    ///
    /// # Errors
    ///
    /// `InvalidInput`, naming the field, its value and what is accepted.
    pub fn validate(&self) -> io::Result<()> {
        at_least("connections", self.connections, 1)?;
        at_least("threads", self.threads, 1)?;
        at_least("depth", self.depth, 1)?;
        check_size(self.framing, self.size)?;
        if self.duration.is_zero() {
            return Err(invalid(
                "duration is 0: expected a positive duration".into(),
            ));
        }
        Ok(())
    }
}

/// What [`hold`](crate::hold) does: how many idle connections to open, and the message each
/// sends once they are all open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldConfig {
    /// The server to connect to. When it is a `127.x.y.z` address, source addresses are
    /// spread over `127.0.0.1`, `127.0.0.2`, ... (a new one every 10 000 connections), so
    /// that the ephemeral ports of one source address are not exhausted.
    pub addr: SocketAddr,
    /// Connections to open and hold; each needs a file descriptor in this process.
    pub connections: usize,
    /// The server's process id, to read its resident memory before and after.
    pub server_pid: Option<u32>,
    /// Bytes of the one message each connection sends, framing included (see
    /// [`LoadConfig::size`]).
    pub size: usize,
    /// How messages are delimited; must match the server.
    pub framing: Framing,
}

impl Default for HoldConfig {
    /// 127.0.0.1:7878, 10 000 connections, no pid, 64-byte raw messages.
    fn default() -> Self {
        HoldConfig {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 7878)),
            connections: 10_000,
            server_pid: None,
            size: 64,
            framing: Framing::Raw,
        }
    }
}

impl HoldConfig {
    /// Checks the message size; any number of connections, even 0, is accepted.
    ///
    /// # Errors
    ///
    /// `InvalidInput`, naming the size and what is accepted.
    pub fn validate(&self) -> io::Result<()> {
        check_size(self.framing, self.size)
    }
}

/// Fails unless `framing.min_size() <= size <= MAX_SIZE`.
fn check_size(framing: Framing, size: usize) -> io::Result<()> {
    if size < framing.min_size() || size > MAX_SIZE {
        return Err(invalid(format!(
            "size {size} with {framing} framing: expected {} to {MAX_SIZE} bytes",
            framing.min_size()
        )));
    }
    Ok(())
}

/// Fails unless `value >= min`.
fn at_least(name: &str, value: usize, min: usize) -> io::Result<()> {
    if value < min {
        return Err(invalid(format!("{name} {value}: expected at least {min}")));
    }
    Ok(())
}

/// An `InvalidInput` error with `message`.
fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}
