//! `Slot`: one churn slot, which connects (over TLS: and makes a full handshake), sends one
//! message, checks its echo, closes, and starts over.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::Framing;
use crate::message::write_message;
use crate::reply::{Outcome, Reply};
use crate::stream::Stream;
use crate::tls::Tls;

/// A cycle under way: its connection, when it began, and how far it got.
#[derive(Debug)]
struct Cycle {
    /// The non-blocking socket, plain or TLS, registered READABLE | WRITABLE.
    stream: Stream<TcpStream>,
    /// When the cycle began, just before `connect`.
    started: Instant,
    /// How far it got; changed by [`Slot::on_event`].
    stage: Stage,
}

/// How far a cycle got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// `connect` was issued; the first writable event tells how it went.
    Connecting,
    /// Connected; the TLS handshake is under way (a plain cycle passes straight through).
    Handshaking,
    /// Sending the message and reading its echo.
    Echoing {
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
    /// The TLS handshake failed (see [`Stream::handshake`]).
    HandshakeFailed(io::Error),
    /// After the handshake, a read or write failed or the server closed first.
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
    /// The cycle under way; `None` between cycles and while resting after a failed connect.
    /// Set by `begin`, advanced by `on_event`, ended by `close`.
    current: Option<Cycle>,
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
            current: None,
            framing,
            size,
            message: Vec::with_capacity(size),
            reply: Reply::new(framing, size),
        }
    }

    /// Begins a cycle at `now`: prepares its message and starts a non-blocking connect to
    /// `addr`, registered with `token`, with a new TLS session from `tls` when given (so
    /// every cycle makes a full handshake). The kernel picks the source address and port in
    /// `connect`, which lets it reuse ports in TIME_WAIT (see [`churn`](crate::churn())).
    ///
    /// # Errors
    ///
    /// Creating or registering the socket, or starting the connect, failed at once: for
    /// example `AddrNotAvailable` when no local port is free. The slot stays idle.
    pub(crate) fn begin(
        &mut self,
        addr: SocketAddr,
        tls: Option<&Tls>,
        registry: &Registry,
        token: Token,
        now: Instant,
    ) -> io::Result<()> {
        debug_assert!(self.current.is_none());
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
        let mut stream = Stream::new(TcpStream::connect(addr)?, tls)?;
        registry.register(
            stream.socket_mut(),
            token,
            Interest::READABLE | Interest::WRITABLE,
        )?;
        self.current = Some(Cycle {
            stream,
            started: now,
            stage: Stage::Connecting,
        });
        Ok(())
    }

    /// When the current cycle began, and how far it got; `None` when idle.
    pub(crate) fn started(&self) -> Option<(Instant, Stage)> {
        self.current.as_ref().map(|c| (c.started, c.stage))
    }

    /// Handles a readiness event: finishes the connect and the TLS handshake, writes what is
    /// left of the message, and reads and checks what came back. Spurious events are
    /// harmless.
    pub(crate) fn on_event(&mut self, buf: &mut [u8]) -> Step {
        let Some(cycle) = self.current.as_mut() else {
            return Step::Pending;
        };
        if cycle.stage == Stage::Connecting {
            match cycle.stream.connected() {
                Ok(true) => cycle.stage = Stage::Handshaking,
                Ok(false) => return Step::Pending,
                Err(e) => return Step::ConnectFailed(e),
            }
        }
        if cycle.stage == Stage::Handshaking {
            match cycle.stream.handshake() {
                Ok(true) => cycle.stage = Stage::Echoing { written: 0 },
                Ok(false) => return Step::Pending,
                Err(e) => return Step::HandshakeFailed(e),
            }
        }
        let Stage::Echoing { written } = &mut cycle.stage else {
            return Step::Pending;
        };
        if let Err(e) = cycle.stream.write_rest(&self.message, written) {
            return Step::Failed(e);
        }
        loop {
            let n = match cycle.stream.read(buf) {
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
                        started: cycle.started,
                        intact: intact && used == n,
                    };
                }
                Outcome::Desync => return Step::Desync,
            }
        }
    }

    /// Closes the current connection, if any, and leaves the slot idle. With the echo read in
    /// full, closing sends a FIN (a normal close), after a TLS `close_notify`; this side then
    /// holds the port in TIME_WAIT.
    pub(crate) fn close(&mut self, registry: &Registry) {
        if let Some(mut cycle) = self.current.take() {
            // Dropping the socket removes it from epoll anyway; this keeps mio's view tidy.
            let _ = registry.deregister(cycle.stream.socket_mut());
        }
    }
}
