//! `Slot`: one churn slot, which connects, sends one message, checks its echo, closes, and
//! starts over.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::Framing;
use crate::message::write_message;
use crate::reply::{Outcome, Reply};

/// Where a slot is in its cycle.
#[derive(Debug)]
enum Phase {
    /// No connection: between cycles, or waiting before retrying a failed connect.
    Idle,
    /// `connect` was issued at `started`; the first writable event tells how it went.
    Connecting {
        /// The non-blocking socket, registered READABLE | WRITABLE.
        stream: TcpStream,
        /// When the cycle began, just before `connect`.
        started: Instant,
    },
    /// Connected: sending the message and reading its echo.
    Echoing {
        /// The socket.
        stream: TcpStream,
        /// When the cycle began.
        started: Instant,
        /// How much of the message the socket has taken.
        written: usize,
    },
}

/// What an event did to a slot's cycle.
#[derive(Debug)]
pub(crate) enum Step {
    /// Nothing finished: more events are needed.
    Pending,
    /// The echo came back whole; `intact` is false when a byte differed or bytes followed
    /// it. The cycle began at `started`.
    Echoed {
        /// When the cycle began.
        started: Instant,
        /// Whether the echo equalled the message, and nothing came after it.
        intact: bool,
    },
    /// The connect failed (refused, reset, unreachable).
    ConnectFailed(io::Error),
    /// After connecting, a read or write failed or the server closed first.
    Failed(io::Error),
    /// The echo could not be delimited any more: a mismatch.
    Desync,
}

/// One churn slot: run-wide number, cycle count, the current connection and its checker.
///
/// Each cycle's message is message number `cycle` of connection `id` (see `message.rs`), so
/// an echo that belongs to another cycle or slot does not match.
#[derive(Debug)]
pub(crate) struct Slot {
    /// The run-wide slot number, which seeds its messages.
    id: u64,
    /// Cycles begun; the number of the next cycle's message.
    cycle: u64,
    /// The current connection, if any; changed by `begin`, `on_event` and `close`.
    phase: Phase,
    /// How messages are delimited.
    framing: Framing,
    /// Bytes per message on the wire.
    size: usize,
    /// The current cycle's message.
    message: Vec<u8>,
    /// Checks the current cycle's echo.
    reply: Reply,
}

impl Slot {
    /// An idle slot numbered `id`, sending `size`-byte `framing` messages.
    pub(crate) fn new(id: u64, framing: Framing, size: usize) -> Slot {
        Slot {
            id,
            cycle: 0,
            phase: Phase::Idle,
            framing,
            size,
            message: Vec::with_capacity(size),
            reply: Reply::new(framing, size),
        }
    }

    /// Begins a cycle at `now`: prepares its message and starts a non-blocking connect to
    /// `addr`, registered with `token`. The kernel picks the source address and port in
    /// `connect`, which lets it reuse ports in TIME_WAIT (see [`churn`](crate::churn())).
    ///
    /// # Errors
    ///
    /// Creating or registering the socket, or starting the connect, failed at once: for
    /// example `AddrNotAvailable` when no local port is free. The slot stays idle.
    pub(crate) fn begin(
        &mut self,
        addr: SocketAddr,
        registry: &Registry,
        token: Token,
        now: Instant,
    ) -> io::Result<()> {
        debug_assert!(matches!(self.phase, Phase::Idle));
        self.message.clear();
        write_message(
            self.framing,
            self.size,
            self.id,
            self.cycle,
            &mut self.message,
        );
        self.reply.expect(self.id, self.cycle);
        self.cycle += 1;
        let mut stream = TcpStream::connect(addr)?;
        registry.register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)?;
        self.phase = Phase::Connecting {
            stream,
            started: now,
        };
        Ok(())
    }

    /// When the current cycle began, and whether it is still connecting; `None` when idle.
    pub(crate) fn started(&self) -> Option<(Instant, bool)> {
        match &self.phase {
            Phase::Idle => None,
            Phase::Connecting { started, .. } => Some((*started, true)),
            Phase::Echoing { started, .. } => Some((*started, false)),
        }
    }

    /// Handles a readiness event: finishes the handshake, writes what is left of the
    /// message, and reads and checks what came back. Spurious events are harmless.
    pub(crate) fn on_event(&mut self, buf: &mut [u8]) -> Step {
        if let Phase::Connecting { stream, started } = &self.phase {
            match connected(stream) {
                Ok(true) => {}
                Ok(false) => return Step::Pending,
                Err(e) => return Step::ConnectFailed(e),
            }
            let started = *started;
            if let Phase::Connecting { stream, .. } =
                std::mem::replace(&mut self.phase, Phase::Idle)
            {
                self.phase = Phase::Echoing {
                    stream,
                    started,
                    written: 0,
                };
            }
        }
        let Phase::Echoing {
            stream,
            started,
            written,
        } = &mut self.phase
        else {
            return Step::Pending;
        };
        if let Err(e) = write_rest(stream, &self.message, written) {
            return Step::Failed(e);
        }
        loop {
            let n = match stream.read(buf) {
                Ok(0) => {
                    return Step::Failed(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection before echoing",
                    ));
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Pending,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Step::Failed(e),
            };
            let (used, outcome) = self.reply.feed(&buf[..n]);
            match outcome {
                // `feed` took all of `buf[..n]`; read on.
                Outcome::Pending => {}
                // Bytes after the echo are bytes nobody asked for.
                Outcome::Complete { intact } => {
                    return Step::Echoed {
                        started: *started,
                        intact: intact && used == n,
                    };
                }
                Outcome::Desync => return Step::Desync,
            }
        }
    }

    /// Closes the current connection, if any, and leaves the slot idle. With the echo read in
    /// full, closing sends a FIN (a normal close); this side then holds the port in
    /// TIME_WAIT.
    pub(crate) fn close(&mut self, registry: &Registry) {
        match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Idle => {}
            Phase::Connecting { mut stream, .. } | Phase::Echoing { mut stream, .. } => {
                // Dropping the socket removes it from epoll anyway; this keeps mio's view tidy.
                let _ = registry.deregister(&mut stream);
            }
        }
    }
}

/// After an event on a connecting socket: `Ok(true)` once established (and then
/// `TCP_NODELAY` is set), `Ok(false)` if the event was spurious.
fn connected(stream: &TcpStream) -> io::Result<bool> {
    // mio's recipe: a pending error means failure; otherwise a peer address means success.
    if let Some(e) = stream.take_error()? {
        return Err(e);
    }
    match stream.peer_addr() {
        Ok(_) => {
            stream.set_nodelay(true)?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
        Err(e) => Err(e),
    }
}

/// Writes `message[*written..]` until it is all written or the socket is full.
fn write_rest(stream: &mut TcpStream, message: &[u8], written: &mut usize) -> io::Result<()> {
    while *written < message.len() {
        match stream.write(&message[*written..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => *written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
