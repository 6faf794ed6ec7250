//! `Pinger`: many connections sending paced `PING`s on one thread, timing each `PONG`.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use turbine_load::Histogram;

/// The request and its reply.
const PING: &[u8] = b"PING\n";
const PONG: &[u8] = b"PONG\n";

/// One connection: at most one `PING` in flight.
struct Conn {
    /// The socket (non-blocking).
    stream: TcpStream,
    /// When the next `PING` is due.
    due: Instant,
    /// When the `PING` in flight was sent, if one is.
    sent: Option<Instant>,
    /// Bytes of the current `PONG` received so far.
    got: usize,
}

/// What one measurement saw.
pub(crate) struct Pings {
    /// Latency of each `PING` answered, from its send to the end of its `PONG`.
    pub latency: Histogram,
    /// How long the measurement ran.
    pub elapsed: Duration,
}

/// `connections` sockets on one `mio::Poll`, each sending a `PING` every `interval` (staggered
/// so the sends spread evenly) and waiting for its `PONG` before the next.
///
/// The pace is an open loop as long as replies come within `interval`: the server is not
/// pushed harder when it is slow. When a reply is late the next `PING` goes out at once after
/// it, so a stalled server gets fewer `PING`s, not more; `Pings::latency.count()` shows that.
pub(crate) struct Pinger {
    /// The readiness queue of every connection.
    poll: Poll,
    /// The connections, indexed by token.
    conns: Vec<Conn>,
    /// The pace of each connection.
    interval: Duration,
}

impl Pinger {
    /// Opens `connections` connections to `addr` (`TCP_NODELAY` on).
    ///
    /// # Errors
    ///
    /// A connection or the poll could not be set up.
    pub(crate) fn connect(
        addr: SocketAddr,
        connections: usize,
        interval: Duration,
    ) -> io::Result<Self> {
        let poll = Poll::new()?;
        let mut conns = Vec::with_capacity(connections);
        let start = Instant::now();
        for i in 0..connections {
            let stream = std::net::TcpStream::connect(addr)?;
            stream.set_nodelay(true)?;
            stream.set_nonblocking(true)?;
            let mut stream = TcpStream::from_std(stream);
            poll.registry()
                .register(&mut stream, Token(i), Interest::READABLE)?;
            let offset = interval * i as u32 / connections as u32;
            conns.push(Conn {
                stream,
                due: start + offset,
                sent: None,
                got: 0,
            });
        }
        Ok(Pinger {
            poll,
            conns,
            interval,
        })
    }

    /// Pings for `duration` and returns the latencies of the `PONG`s that arrived in it.
    ///
    /// # Errors
    ///
    /// A socket failed, the server closed a connection, or it sent something other than
    /// `PONG`.
    pub(crate) fn measure(&mut self, duration: Duration) -> io::Result<Pings> {
        let mut latency = Histogram::new();
        let mut events = Events::with_capacity(self.conns.len());
        let start = Instant::now();
        let end = start + duration;
        for conn in &mut self.conns {
            conn.due = conn.due.max(start);
        }
        loop {
            let now = Instant::now();
            if now >= end {
                break;
            }
            let mut next = end;
            for conn in &mut self.conns {
                if conn.sent.is_none() {
                    if conn.due <= now {
                        send(conn, now)?;
                    } else {
                        next = next.min(conn.due);
                    }
                }
            }
            self.poll
                .poll(&mut events, Some(next.saturating_duration_since(now)))?;
            for event in &events {
                let conn = &mut self.conns[event.token().0];
                if let Some(ns) = receive(conn)? {
                    latency.record(ns);
                    // Keep the pace; after a late reply the next PING goes at once, and the
                    // slots missed meanwhile are skipped rather than sent in a burst.
                    conn.due = (conn.due + self.interval).max(Instant::now());
                }
            }
        }
        // Let the PINGs in flight finish (unrecorded), so the next measurement starts clean.
        let settle = Instant::now() + Duration::from_secs(10);
        while self.conns.iter().any(|c| c.sent.is_some()) && Instant::now() < settle {
            self.poll
                .poll(&mut events, Some(Duration::from_millis(100)))?;
            for event in &events {
                let conn = &mut self.conns[event.token().0];
                receive(conn)?;
            }
        }
        Ok(Pings {
            latency,
            elapsed: start.elapsed(),
        })
    }
}

/// Sends one `PING` (5 bytes always fit an idle socket's buffer).
fn send(conn: &mut Conn, now: Instant) -> io::Result<()> {
    let n = conn.stream.write(PING)?;
    if n != PING.len() {
        return Err(io::Error::other("a PING did not fit the socket buffer"));
    }
    conn.sent = Some(now);
    conn.got = 0;
    Ok(())
}

/// Reads what arrived; returns the latency in nanoseconds if the `PONG` is now complete.
fn receive(conn: &mut Conn) -> io::Result<Option<u64>> {
    let mut buf = [0; 64];
    let mut done = None;
    loop {
        match conn.stream.read(&mut buf) {
            Ok(0) => return Err(io::Error::other("the server closed a PING connection")),
            Ok(n) => {
                let Some(sent) = conn.sent else {
                    return Err(io::Error::other("a reply with no PING in flight"));
                };
                let end = conn.got + n;
                if end > PONG.len() || buf[..n] != PONG[conn.got..end] {
                    let text = String::from_utf8_lossy(&buf[..n]);
                    return Err(io::Error::other(format!("expected PONG, got {text:?}")));
                }
                conn.got = end;
                if end == PONG.len() {
                    done = Some(sent.elapsed().as_nanos() as u64);
                    conn.sent = None;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(done),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
