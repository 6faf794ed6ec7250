//! `Connection`: one non-blocking client connection that keeps `depth` messages in flight.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Instant;

use mio::net::TcpStream;

use crate::Framing;
use crate::message::write_message;
use crate::reply::{Outcome, Reply};
use crate::tally::Tally;

/// The messages every connection of a run exchanges.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    /// How messages are delimited.
    pub(crate) framing: Framing,
    /// Bytes per message on the wire.
    pub(crate) size: usize,
    /// Messages in flight per connection.
    pub(crate) depth: usize,
}

/// Whether the TCP handshake is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// `connect` was issued; the first writable event tells how it went.
    Connecting,
    /// Established: messages may flow.
    Open,
}

/// Why a connection was closed.
#[derive(Debug)]
pub(crate) enum Closed {
    /// A read or write failed, or the server closed its side.
    Failed(io::Error),
    /// Replies could no longer be delimited; already counted as a mismatch.
    Desync,
}

impl From<io::Error> for Closed {
    fn from(e: io::Error) -> Closed {
        Closed::Failed(e)
    }
}

/// One client connection: its socket, unsent bytes, and the messages awaiting replies.
///
/// Invariant while running: `sent.len() == depth`, since every complete reply immediately
/// queues the next message; `out` therefore never holds more than `depth` messages.
#[derive(Debug)]
pub(crate) struct Connection {
    /// The non-blocking socket, registered READABLE | WRITABLE (edge-triggered) by the worker.
    pub(crate) stream: TcpStream,
    /// Whether the handshake is done; changed by [`Connection::check_connected`].
    pub(crate) state: State,
    /// The run-wide connection number, which seeds its messages' contents.
    id: u64,
    /// Queued bytes; `out[written..]` is not yet written. Emptied when all are written.
    out: Vec<u8>,
    /// How much of `out` the socket has taken.
    written: usize,
    /// When each message in flight was queued, oldest first.
    sent: VecDeque<Instant>,
    /// Sequence number of the next message to queue.
    next_seq: u64,
    /// Checks the reply to the oldest message in flight.
    reply: Reply,
}

impl Connection {
    /// Starts a non-blocking connect to `addr` for connection number `id`.
    ///
    /// # Errors
    ///
    /// Creating the socket or starting the connect failed at once.
    pub(crate) fn connect(addr: SocketAddr, id: u64, shape: Shape) -> io::Result<Connection> {
        let stream = TcpStream::connect(addr)?;
        let mut reply = Reply::new(shape.framing, shape.size);
        reply.expect(id, 0);
        Ok(Connection {
            stream,
            state: State::Connecting,
            id,
            out: Vec::with_capacity(shape.depth * shape.size),
            written: 0,
            sent: VecDeque::with_capacity(shape.depth),
            next_seq: 0,
            reply,
        })
    }

    /// After an event on a connecting socket: `Ok(true)` once established (and then
    /// `TCP_NODELAY` is set, so pipelined small messages are not held back), `Ok(false)` if
    /// the event was spurious and the handshake is still going.
    ///
    /// # Errors
    ///
    /// The connect failed (refused, unreachable, reset).
    pub(crate) fn check_connected(&mut self) -> io::Result<bool> {
        // mio's recipe: a pending error means failure; otherwise a peer address means success.
        if let Some(e) = self.stream.take_error()? {
            return Err(e);
        }
        match self.stream.peer_addr() {
            Ok(_) => {
                self.stream.set_nodelay(true)?;
                self.state = State::Open;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Puts the first `depth` messages in flight and reads whatever arrived while the
    /// connection sat idle (an edge that fired before the run started is not repeated).
    pub(crate) fn start(
        &mut self,
        shape: Shape,
        buf: &mut [u8],
        tally: &mut Tally,
    ) -> Result<(), Closed> {
        let now = Instant::now();
        for _ in 0..shape.depth {
            self.queue(shape, now);
        }
        self.flush()?;
        self.read(shape, buf, tally)?;
        self.flush()?;
        Ok(())
    }

    /// Handles a readiness event: reads everything available when `readable` (checking
    /// replies and queueing the next messages), then writes what is queued.
    pub(crate) fn on_event(
        &mut self,
        readable: bool,
        shape: Shape,
        buf: &mut [u8],
        tally: &mut Tally,
    ) -> Result<(), Closed> {
        if readable {
            self.read(shape, buf, tally)?;
        }
        self.flush()?;
        Ok(())
    }

    /// Appends the next message to `out` and notes when it was queued.
    fn queue(&mut self, shape: Shape, now: Instant) {
        write_message(
            shape.framing,
            shape.size,
            self.id,
            self.next_seq,
            &mut self.out,
        );
        self.next_seq += 1;
        self.sent.push_back(now);
    }

    /// Reads until the socket is drained, feeding every byte to the reply checker.
    fn read(&mut self, shape: Shape, buf: &mut [u8], tally: &mut Tally) -> Result<(), Closed> {
        loop {
            match self.stream.read(buf) {
                Ok(0) => {
                    return Err(Closed::Failed(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection",
                    )));
                }
                Ok(n) => {
                    // One clock reading per read: every reply it completes arrived together.
                    self.receive(&buf[..n], shape, Instant::now(), tally)?;
                    // A short read means the kernel buffer is empty; with edge triggering a
                    // new edge fires when more arrives, so the read that would only say
                    // `WouldBlock` is skipped (tokio does the same on Linux).
                    if n < buf.len() {
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Checks received bytes; each complete reply is tallied and answered by the next message.
    fn receive(
        &mut self,
        mut data: &[u8],
        shape: Shape,
        now: Instant,
        tally: &mut Tally,
    ) -> Result<(), Closed> {
        while !data.is_empty() {
            let (n, outcome) = self.reply.feed(data);
            data = &data[n..];
            match outcome {
                Outcome::Pending => {}
                Outcome::Complete { intact } => {
                    let Some(sent) = self.sent.pop_front() else {
                        // Bytes beyond every message in flight: the server made them up.
                        tally.desync();
                        return Err(Closed::Desync);
                    };
                    tally.reply(now, sent, shape.size, intact);
                    let answered = self.next_seq - self.sent.len() as u64;
                    self.reply.expect(self.id, answered);
                    self.queue(shape, now);
                }
                Outcome::Desync => {
                    tally.desync();
                    return Err(Closed::Desync);
                }
            }
        }
        Ok(())
    }

    /// Writes queued bytes until all are written or the socket is full; a writable event
    /// resumes the rest.
    fn flush(&mut self) -> io::Result<()> {
        while self.written < self.out.len() {
            match self.stream.write(&self.out[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.out.clear();
        self.written = 0;
        Ok(())
    }
}
