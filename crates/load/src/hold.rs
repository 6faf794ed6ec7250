//! `hold`: opens many idle connections at once and measures what they cost the server.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::message::write_message;
use crate::reply::{Outcome, Reply};
use crate::stream::Stream;
use crate::tls::{Tls, log_failed_handshake};
use crate::units::Bytes;
use crate::{HoldConfig, TlsVersion, server_rss};

/// How long one connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one echo's (or TLS handshake's) write or read may block.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// How long the server gets to settle after the last connect, before its memory is read.
const SETTLE: Duration = Duration::from_millis(500);

/// Connections per loopback source address: well under the 28 000 ephemeral ports Linux
/// offers by default (32768-60999), since each bound socket takes one.
const PER_SOURCE_ADDR: usize = 10_000;

/// What [`hold`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HoldReport {
    /// Connections established (over TLS: handshake complete) and held.
    pub connections: usize,
    /// Connections that could not be established (refused, timed out, out of file
    /// descriptors or ports; over TLS, also failed handshakes).
    pub failed_connects: u64,
    /// Of `failed_connects`, those that connected but whose TLS handshake failed (an
    /// untrusted certificate or one not valid for the server name, an alert from the server,
    /// the server closing) or timed out; the first is logged at warning level with rustls's
    /// reason.
    pub failed_handshakes: u64,
    /// The server's resident memory before any connection was opened, in bytes.
    pub rss_before: Option<u64>,
    /// The server's resident memory with all connections open and idle, in bytes.
    pub rss_after: Option<u64>,
    /// Connections whose one message came back intact.
    pub echoed_ok: usize,
    /// Connections whose reply differed from the message sent, or carried extra bytes.
    pub mismatches: u64,
    /// Connections whose echo failed: a write or read error, a timeout, or the server closing.
    pub errors: u64,
    /// The TLS version of the held sessions, or `None` for plain TCP.
    pub tls: Option<TlsVersion>,
}

impl HoldReport {
    /// How much the server's resident memory grew per connection held, in bytes; `None`
    /// without both memory readings or without connections.
    ///
    /// Resident memory moves in pages and the allocator keeps freed memory, so this is
    /// meaningful over thousands of connections, not a handful; it can be negative.
    pub fn rss_growth_per_connection(&self) -> Option<f64> {
        let (before, after) = (self.rss_before?, self.rss_after?);
        (self.connections > 0).then(|| (after as f64 - before as f64) / self.connections as f64)
    }
}

impl fmt::Display for HoldReport {
    /// A multi-line summary, for example:
    ///
    /// ```text
    /// held       10000 connections (failed connects 0)
    /// server     rss 2.1 MiB before, 14.6 MiB after: 1.3 KiB per connection
    /// echo       10000 ok (mismatches 0, errors 0)
    /// ```
    ///
    /// Over TLS the first line says the handshakes are complete and counts those that failed:
    /// `held 10000 connections, TLS 1.3 handshakes complete (failed connects 0, of which TLS
    /// handshakes 0)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "held       {} connections", self.connections)?;
        match self.tls {
            None => writeln!(f, " (failed connects {})", self.failed_connects)?,
            Some(version) => writeln!(
                f,
                ", {version} handshakes complete (failed connects {}, of which TLS handshakes \
                 {})",
                self.failed_connects, self.failed_handshakes
            )?,
        }
        if let (Some(before), Some(after)) = (self.rss_before, self.rss_after) {
            write!(
                f,
                "server     rss {} before, {} after",
                Bytes(before as f64),
                Bytes(after as f64)
            )?;
            if let Some(growth) = self.rss_growth_per_connection() {
                write!(f, ": {} per connection", Bytes(growth))?;
            }
            writeln!(f)?;
        }
        write!(
            f,
            "echo       {} ok (mismatches {}, errors {})",
            self.echoed_ok, self.mismatches, self.errors
        )
    }
}

/// Opens `connections` connections, holds them all open at once, and reports what the server's
/// memory did; then checks that every one still works.
///
/// In order: read the server's memory (with `server_pid`); open the connections one after the
/// other with blocking connects (5 s timeout each; failures are counted, not fatal), spreading
/// source addresses over `127.0.0.1`, `127.0.0.2`, ... when the target is a loopback `127.x`
/// address, and with `tls` complete each one's handshake (2 s timeouts; a failure counts as a
/// failed connect and a failed handshake); wait 500 ms for the server to settle and read its
/// memory again; then, one connection at a time, send one message and check its echo (2 s
/// timeouts); finally close them all (TLS sessions with a `close_notify`).
///
/// Over TLS the growth per connection is thus what an established, idle session costs the
/// server: its TLS state and buffers as its TLS library keeps them between messages.
///
/// Closing first leaves each connection in TIME_WAIT on this side for a minute. The first
/// 10 000 connections reuse such ports; explicitly bound ones (past 10 000) cannot, so
/// repeating a hold of more than 10 000 within a minute may count failed connects.
///
/// Each connection is a file descriptor in this process, so `connections` must stay below
/// its limit (`ulimit -n`); beyond it, connects fail and are counted. The server must accept
/// that many too (Turbine's `TURBINE_MAX_CONNECTIONS`, 10 000 by default): one that closes
/// the extra connections shows them as echo errors.
///
/// # Errors
///
/// - `InvalidInput` when the message size is out of bounds for the framing, or the TLS
///   settings are (see [`TlsConfig::validate`](crate::TlsConfig::validate)).
/// - With `tls`, the error reading its certificate file, or `InvalidInput` or
///   `InvalidData` when it holds no usable certificate.
/// - The error from `/proc` when `server_pid` is given but its memory cannot be read before
///   starting; a failure to read it afterwards only leaves `rss_after` empty.
///
/// # Examples
///
/// ```no_run
/// use turbine_load::HoldConfig;
///
/// let report = turbine_load::hold(&HoldConfig {
///     connections: 5_000,
///     server_pid: Some(4242),
///     ..HoldConfig::default()
/// })?;
/// println!("{report}");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn hold(config: &HoldConfig) -> io::Result<HoldReport> {
    config.validate()?;
    let tls = config.tls.as_ref().map(Tls::new).transpose()?;
    let mut report = HoldReport {
        rss_before: config.server_pid.map(server_rss).transpose()?,
        tls: config.tls.as_ref().map(|tls| tls.version),
        ..HoldReport::default()
    };
    let mut streams = Vec::with_capacity(config.connections);
    for n in 0..config.connections {
        let socket = match open(config.addr, n) {
            Ok(socket) => socket,
            Err(e) => {
                log::debug!("connect {n} to {} failed: {e}", config.addr);
                report.failed_connects += 1;
                continue;
            }
        };
        match Stream::new(socket, tls.as_ref()).and_then(handshake) {
            Ok(stream) => streams.push(stream),
            Err(e) => {
                report.failed_connects += 1;
                report.failed_handshakes += 1;
                log_failed_handshake(report.failed_handshakes, &e);
            }
        }
    }
    report.connections = streams.len();
    thread::sleep(SETTLE);
    report.rss_after = config.server_pid.and_then(|pid| {
        server_rss(pid)
            .inspect_err(|e| log::warn!("cannot read the memory of process {pid}: {e}"))
            .ok()
    });

    let mut message = Vec::with_capacity(config.size);
    let mut reply = Reply::new(config.framing, config.size);
    let mut buf = vec![0; 64 * 1024];
    for (n, stream) in streams.iter_mut().enumerate() {
        message.clear();
        write_message(config.framing, config.size, n as u64, 0, &mut message);
        reply.expect(n as u64, 0);
        match echo(stream, &message, &mut reply, &mut buf) {
            Ok(true) => report.echoed_ok += 1,
            Ok(false) => report.mismatches += 1,
            Err(e) => {
                log::debug!("echo on connection {n} failed: {e}");
                report.errors += 1;
            }
        }
    }
    // Dropping the streams closes them.
    Ok(report)
}

/// Connects connection number `n` to `addr` with a blocking connect.
fn open(addr: SocketAddr, n: usize) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if let Some(source) = loopback_source(addr.ip(), n) {
        // SO_REUSEADDR lets a new socket take a port still in TIME_WAIT from an earlier run.
        socket.set_reuse_address(true)?;
        socket.bind(&SocketAddr::from((source, 0)).into())?;
    }
    socket.connect_timeout(&addr.into(), CONNECT_TIMEOUT)?;
    socket.set_tcp_nodelay(true)?;
    let stream = TcpStream::from(socket);
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(stream)
}

/// Completes a blocking stream's TLS handshake and sends its last message, so that the
/// server holds an established session (nothing to do for plain TCP).
fn handshake(mut stream: Stream<TcpStream>) -> io::Result<Stream<TcpStream>> {
    // On a blocking socket the handshake only waits when a read timed out.
    if !stream.handshake()? {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("TLS handshake not done within {IO_TIMEOUT:?}"),
        ));
    }
    stream.flush()?;
    Ok(stream)
}

/// The source address to bind for connection number `n` to `target`: `None` (let the kernel
/// choose) for the first 10 000 and for any target that is not an IPv4 loopback address;
/// `127.0.0.2` for the next 10 000, `127.0.0.3` for the next, and so on.
///
/// The first 10 000 get `127.0.0.1` without a `bind`: that is the kernel's choice anyway, and
/// `connect` picks the source port knowing the destination, so it can reuse ports still in
/// TIME_WAIT from an earlier run (Linux's default `tcp_tw_reuse = 2` allows it on loopback).
/// An explicit `bind` cannot, and after one run of 10 000 connections the next would run out
/// of ports and spend seconds of system time searching for them.
fn loopback_source(target: IpAddr, n: usize) -> Option<Ipv4Addr> {
    match target {
        IpAddr::V4(ip) if ip.is_loopback() => {
            let step = u32::try_from(n / PER_SOURCE_ADDR).ok()?;
            if step == 0 {
                return None;
            }
            let source = u32::from(Ipv4Addr::new(127, 0, 0, 1)).checked_add(step)?;
            // Past 127.255.255.254 there is no loopback address left; the kernel chooses.
            Some(Ipv4Addr::from(source)).filter(|s| s.is_loopback())
        }
        _ => None,
    }
}

/// Sends `message` and reads its echo; `Ok(true)` when it came back intact and alone.
fn echo(
    stream: &mut Stream<TcpStream>,
    message: &[u8],
    reply: &mut Reply,
    buf: &mut [u8],
) -> io::Result<bool> {
    let mut written = 0;
    stream.write_rest(message, &mut written)?;
    // On a blocking socket writing stops short only when a write timed out.
    if written < message.len() {
        return Err(io::ErrorKind::TimedOut.into());
    }
    stream.flush()?;
    loop {
        let n = match stream.read(buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let (used, outcome) = reply.feed(&buf[..n]);
        match outcome {
            Outcome::Pending => {}
            // Bytes after the reply are bytes nobody asked for.
            Outcome::Complete { intact } => return Ok(intact && used == n),
            Outcome::Desync => return Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Source addresses step every 10 000 connections, only for IPv4 loopback targets; the first
    /// 10 000 leave the choice to the kernel.
    #[test]
    fn source_addresses() {
        let lo: IpAddr = Ipv4Addr::new(127, 0, 0, 1).into();
        assert_eq!(loopback_source(lo, 0), None);
        assert_eq!(loopback_source(lo, 9_999), None);
        assert_eq!(
            loopback_source(lo, 10_000),
            Some(Ipv4Addr::new(127, 0, 0, 2))
        );
        assert_eq!(
            loopback_source(Ipv4Addr::new(127, 9, 9, 9).into(), 25_000),
            Some(Ipv4Addr::new(127, 0, 0, 3))
        );
        assert_eq!(loopback_source(Ipv4Addr::new(10, 0, 0, 1).into(), 0), None);
        assert_eq!(loopback_source("::1".parse().unwrap(), 0), None);
    }

    /// Growth per connection needs both readings and at least one connection.
    #[test]
    fn growth_per_connection() {
        let mut r = HoldReport {
            connections: 1000,
            rss_before: Some(1_000_000),
            rss_after: Some(3_048_000),
            ..HoldReport::default()
        };
        assert_eq!(r.rss_growth_per_connection(), Some(2048.0));
        assert!(r.to_string().contains("2.0 KiB per connection"), "{r}");
        r.connections = 0;
        assert_eq!(r.rss_growth_per_connection(), None);
        r.rss_after = None;
        assert_eq!(r.rss_growth_per_connection(), None);
    }
}
