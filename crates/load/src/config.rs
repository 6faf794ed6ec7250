//! `LoadConfig`, `RateConfig` and `HoldConfig`: what a load run (closed loop, fixed rate or
//! churn) and a hold run do, and their checks. (TLS settings are in `tls.rs`.)

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::{Framing, TlsConfig};

/// Largest message size accepted, in bytes: far above any sensible echo message, and small
/// enough that a length header always fits in 32 bits.
pub const MAX_SIZE: usize = 64 << 20;

/// What [`run`](crate::run()) does: how many connections, how hard, for how long.
///
/// Every connection keeps exactly `depth` messages of `size` bytes in flight: each complete
/// reply is answered by the next message. Only the `duration` after `warmup` is measured.
///
/// The same settings describe the other load runs, which have no depth and refuse one other
/// than 1: a fixed-rate run ([`RateConfig::load`]) and a churn run
/// ([`churn`](crate::churn()), where `connections` is the number of connect-echo-close cycles
/// under way at once).
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
    /// Messages in flight per connection (pipelining depth). At least 1; default 1. Fixed-rate
    /// and churn runs have no depth and refuse any other value.
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
    /// Speak TLS to the server, as these settings say; `None`, the default, for plain TCP.
    /// The messages are the plaintext. Closed-loop and fixed-rate runs complete each
    /// connection's handshake before the warm-up (a failed one counts as a failed connect);
    /// a churn run makes a full handshake every cycle.
    pub tls: Option<TlsConfig>,
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
            tls: None,
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
        self.tls.as_ref().map_or(Ok(()), TlsConfig::validate)
    }

    /// Checks the bounds, and that `depth` is 1, for a run that has no depth: `what` names
    /// it in the error.
    fn validate_without_depth(&self, what: &str) -> io::Result<()> {
        self.validate()?;
        if self.depth != 1 {
            return Err(invalid(format!(
                "depth {}: {what} has no depth; leave it at 1",
                self.depth
            )));
        }
        Ok(())
    }

    /// Checks the bounds for a [`churn`](crate::churn()) run: those of [`validate`], and
    /// `depth` left at 1, since each cycle sends one message.
    ///
    /// [`validate`]: LoadConfig::validate
    ///
    /// # Errors
    ///
    /// `InvalidInput`, naming the field, its value and what is accepted.
    pub fn validate_churn(&self) -> io::Result<()> {
        self.validate_without_depth("a churn run sends one message per connection and")
    }
}

/// What [`run_at_rate`](crate::run_at_rate()) does: a fixed-rate (open-loop) run, in which
/// messages are sent on a timetable whatever the server does, rather than in answer to
/// replies.
///
/// The run's messages are due evenly spaced, `1 / rate` apart, from the start of the warm-up:
/// message `n` at `start + n / rate`, sent on connection `n % connections`. So each
/// connection sends `rate / connections` messages a second, the connections taking turns, and
/// the client threads share them as they share the connections. Each reply's latency counts
/// from its message's *intended* send time: if the server stalls, messages keep falling due,
/// and the time each waited counts, so the percentiles show the stall as a user arriving at a
/// steady rate would see it (no coordinated omission, as in wrk2). A closed-loop run stops
/// sending while the server stalls, and records one slow reply per message in flight.
///
/// A message that cannot be sent when due (its socket is full, or `max_outstanding` messages
/// are awaiting replies on its connection) waits and is sent as soon as it can; it is counted
/// in [`Pacing`](crate::Pacing), and the report compares the rate achieved with the target.
///
/// `mio::Poll`'s timeout counts whole milliseconds, so a thread sleeps only until about 1 ms
/// before the next message is due and then polls without sleeping until it is: messages leave
/// on time, and a client thread at a high rate keeps its core busy. Whatever delay remains
/// (a thread that cannot keep up) is [`Pacing::send_lag`](crate::Pacing::send_lag), and counts
/// in the latency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateConfig {
    /// Address, connections, threads, message size and framing, warm-up and measured
    /// window, server pid and progress, as for a closed-loop run. `depth` must stay 1: the
    /// number of messages in flight follows from the rate and the latency.
    pub load: LoadConfig,
    /// Messages per second, all connections together. At least 1; default 1000.
    pub rate: u64,
    /// Most messages one connection may have sent and not yet had answered; messages due
    /// beyond it wait (counted as backlogged) until replies make room, so a server that
    /// stops answering cannot make the generator's memory grow without bound. At least 1;
    /// default 10 000.
    pub max_outstanding: usize,
}

impl Default for RateConfig {
    /// [`LoadConfig::default`] at 1000 messages per second, at most 10 000 outstanding.
    fn default() -> Self {
        RateConfig {
            load: LoadConfig::default(),
            rate: 1000,
            max_outstanding: 10_000,
        }
    }
}

impl RateConfig {
    /// Checks every bound documented on the fields, `load`'s included.
    ///
    /// # Errors
    ///
    /// `InvalidInput`, naming the field, its value and what is accepted.
    pub fn validate(&self) -> io::Result<()> {
        self.load.validate_without_depth(
            "a fixed-rate run sends on a timetable, not on replies, so it",
        )?;
        at_least("rate", usize::try_from(self.rate).unwrap_or(usize::MAX), 1)?;
        at_least("max_outstanding", self.max_outstanding, 1)
    }
}

/// What [`hold`](crate::hold()) does: how many idle connections to open, and the message each
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
    /// Speak TLS to the server, as these settings say; `None` for plain TCP. Each connection
    /// completes its handshake before it is held, so the server's memory is read with every
    /// session established.
    pub tls: Option<TlsConfig>,
}

impl Default for HoldConfig {
    /// 127.0.0.1:7878, 10 000 connections, no pid, 64-byte raw messages, plain TCP.
    fn default() -> Self {
        HoldConfig {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 7878)),
            connections: 10_000,
            server_pid: None,
            size: 64,
            framing: Framing::Raw,
            tls: None,
        }
    }
}

impl HoldConfig {
    /// Checks the message size and the TLS settings; any number of connections, even 0, is
    /// accepted.
    ///
    /// # Errors
    ///
    /// `InvalidInput`, naming the field, its value and what is accepted.
    pub fn validate(&self) -> io::Result<()> {
        check_size(self.framing, self.size)?;
        self.tls.as_ref().map_or(Ok(()), TlsConfig::validate)
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
