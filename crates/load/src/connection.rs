//! `Connection`: one non-blocking client connection, plain or TLS (through `Stream`), that
//! keeps `depth` messages in flight, or sends them when a fixed-rate timetable says they are
//! due.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use mio::net::TcpStream;

use crate::Framing;
use crate::message::write_message;
use crate::reply::{Outcome, Reply};
use crate::stream::Stream;
use crate::tally::Tally;
use crate::timetable::Timetable;
use crate::tls::Tls;

/// Most bytes a fixed-rate connection queues beyond what its socket has taken: due messages
/// past this wait for the socket instead of piling up in memory.
const WRITE_BATCH: usize = 64 * 1024;

/// The messages every connection of a run exchanges, and when.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    /// How messages are delimited.
    pub(crate) framing: Framing,
    /// Bytes per message on the wire.
    pub(crate) size: usize,
    /// What sends the next message.
    pub(crate) pace: Pace,
}

/// What sends the next message on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pace {
    /// Closed loop: `depth` messages in flight, each complete reply answered by the next.
    Replies {
        /// Messages in flight per connection.
        depth: usize,
    },
    /// Open loop: each message goes out when the run's [`Timetable`] says it is due.
    Timetable {
        /// Messages per second, all connections together.
        rate: u64,
        /// Connections in the whole run, across threads.
        connections: u64,
        /// Most messages a connection may have awaiting replies.
        max_outstanding: usize,
    },
}

/// Why a fixed-rate message that came due had to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Its socket would take no more bytes.
    SocketFull,
    /// `max_outstanding` messages were already awaiting replies.
    Outstanding,
}

/// A fixed-rate connection's place in the timetable.
#[derive(Debug, Default)]
struct Due {
    /// Messages that have come due: sequence numbers `0..count`. Those from `next_seq` on
    /// are waiting to be sent.
    count: u64,
    /// Messages that came due since the last [`Connection::pump`] while the connection was
    /// not waiting: the pump counts those it cannot send as late or backlogged. The others
    /// were counted when they came due.
    fresh: u64,
    /// Why the last pump left messages waiting; `None` when it sent every one due.
    waiting_for: Option<Wait>,
}

/// How far the connection is from carrying messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// `connect` was issued; the first writable event tells how it went.
    Connecting,
    /// TLS only: connected, and the TLS handshake is under way.
    Handshaking,
    /// Established (over TLS: handshake complete): messages may flow.
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
/// Closed loop, the invariant while running is `sent.len() == depth`, since every complete
/// reply immediately queues the next message; `out` therefore never holds more than `depth`
/// messages. At a fixed rate, `sent.len() <= max_outstanding`, and `out` holds at most about
/// [`WRITE_BATCH`] bytes: messages due beyond either bound wait, counted, in `due`.
#[derive(Debug)]
pub(crate) struct Connection {
    /// The non-blocking socket, plain or TLS, registered READABLE | WRITABLE (edge-triggered)
    /// by the worker.
    pub(crate) stream: Stream<TcpStream>,
    /// How far the connect and the TLS handshake are; changed by [`Connection::establish`].
    pub(crate) state: State,
    /// The run-wide connection number, which seeds its messages' contents.
    id: u64,
    /// Queued bytes; `out[written..]` is not yet written. Emptied when all are written.
    out: Vec<u8>,
    /// How much of `out` the socket has taken.
    written: usize,
    /// When each message in flight was queued (closed loop) or due (fixed rate), oldest first:
    /// latency counts from it.
    sent: VecDeque<Instant>,
    /// Sequence number of the next message to queue.
    next_seq: u64,
    /// Checks the reply to the oldest message in flight.
    reply: Reply,
    /// Fixed rate only: the messages that came due and how the last pump fared.
    due: Due,
}

impl Connection {
    /// Starts a non-blocking connect to `addr` for connection number `id`, over TLS when
    /// `tls` is given.
    ///
    /// # Errors
    ///
    /// Creating the socket or starting the connect failed at once, or rustls refused to
    /// start a session.
    pub(crate) fn connect(
        addr: SocketAddr,
        id: u64,
        shape: Shape,
        tls: Option<&Tls>,
    ) -> io::Result<Connection> {
        let stream = Stream::new(TcpStream::connect(addr)?, tls)?;
        let mut reply = Reply::new(shape.framing, shape.size);
        reply.expect(id, 0);
        // Closed loop, `depth` messages are always in flight; at a fixed rate usually few.
        let in_flight = match shape.pace {
            Pace::Replies { depth } => depth,
            Pace::Timetable { .. } => 4,
        };
        Ok(Connection {
            stream,
            state: State::Connecting,
            id,
            out: Vec::with_capacity(in_flight.saturating_mul(shape.size).min(WRITE_BATCH)),
            written: 0,
            sent: VecDeque::with_capacity(in_flight),
            next_seq: 0,
            reply,
            due: Due::default(),
        })
    }

    /// After an event on a connection not yet open: takes it through the TCP connect and,
    /// over TLS, the handshake, as far as they go without waiting. `Ok(true)` once open,
    /// `Ok(false)` while either still waits (or the event was spurious).
    ///
    /// # Errors
    ///
    /// The connect failed (refused, unreachable, reset), or in [`State::Handshaking`] the
    /// TLS handshake did (see [`Stream::handshake`]).
    pub(crate) fn establish(&mut self) -> io::Result<bool> {
        if self.state == State::Connecting {
            if !self.stream.connected()? {
                return Ok(false);
            }
            self.state = State::Handshaking;
        }
        if self.state == State::Handshaking {
            if !self.stream.handshake()? {
                return Ok(false);
            }
            self.state = State::Open;
        }
        Ok(true)
    }

    /// Closed loop, puts the first `depth` messages in flight; either way, reads whatever
    /// arrived while the connection sat idle (an edge that fired before the run started is
    /// not repeated).
    pub(crate) fn start(
        &mut self,
        shape: Shape,
        buf: &mut [u8],
        tally: &mut Tally,
    ) -> Result<(), Closed> {
        if let Pace::Replies { depth } = shape.pace {
            let now = Instant::now();
            for _ in 0..depth {
                self.queue(shape, now);
            }
        }
        self.flush()?;
        self.read(shape, buf, tally)?;
        self.flush()?;
        Ok(())
    }

    /// Handles a readiness event: reads everything available when `readable` (checking
    /// replies and, closed loop, queueing the next messages), then writes what is queued. A
    /// fixed-rate connection then needs a [`pump`](Connection::pump): replies or a drained
    /// socket may have made room for messages waiting.
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

    /// Fixed rate: the connection's next message has come due (per the timetable). Returns
    /// `true` when the connection must be pumped this turn; `false` when it already is to be,
    /// or when it is waiting (and then the message is counted as waiting too).
    pub(crate) fn come_due(&mut self, tally: &mut Tally) -> bool {
        self.due.count += 1;
        match self.due.waiting_for {
            Some(wait) => {
                tally.waited(wait, 1);
                false
            }
            None => {
                self.due.fresh += 1;
                self.due.fresh == 1
            }
        }
    }

    /// Fixed rate: sends the messages that are due, as far as the socket and
    /// `max_outstanding` allow, each stamped with its intended time from `timetable`; counts
    /// those that came due since the last pump and must wait. A closed-loop connection only
    /// writes what is queued.
    pub(crate) fn pump(
        &mut self,
        shape: Shape,
        timetable: &Timetable,
        now: Instant,
        tally: &mut Tally,
    ) -> io::Result<()> {
        let Pace::Timetable {
            max_outstanding, ..
        } = shape.pace
        else {
            return self.flush();
        };
        loop {
            while self.next_seq < self.due.count
                && self.sent.len() < max_outstanding
                && self.out.len() - self.written < WRITE_BATCH
            {
                let intended = timetable.intended(self.id, self.next_seq);
                self.queue(shape, intended);
                tally.sent(intended, now);
            }
            self.flush()?;
            let socket_full = self.written < self.out.len();
            if socket_full || self.next_seq == self.due.count || self.sent.len() >= max_outstanding
            {
                break;
            }
        }
        let waiting = self.waiting();
        self.due.waiting_for = if waiting == 0 {
            None
        } else if self.sent.len() >= max_outstanding {
            Some(Wait::Outstanding)
        } else {
            Some(Wait::SocketFull)
        };
        if let Some(wait) = self.due.waiting_for {
            // The waiting messages are the newest, so the fresh ones among them are the
            // last `fresh` of them.
            tally.waited(wait, self.due.fresh.min(waiting));
        }
        self.due.fresh = 0;
        Ok(())
    }

    /// Fixed rate: messages that came due and have not been sent.
    pub(crate) fn waiting(&self) -> u64 {
        self.due.count.saturating_sub(self.next_seq)
    }

    /// Messages sent and not yet answered.
    pub(crate) fn in_flight(&self) -> u64 {
        self.sent.len() as u64
    }

    /// Appends the next message to `out`; latency will count from `at`.
    fn queue(&mut self, shape: Shape, at: Instant) {
        write_message(
            shape.framing,
            shape.size,
            self.id,
            self.next_seq,
            &mut self.out,
        );
        self.next_seq += 1;
        self.sent.push_back(at);
    }

    /// Reads until the socket is drained, feeding every byte (the plaintext, over TLS) to the
    /// reply checker.
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

    /// Checks received bytes; each complete reply is tallied and, closed loop, answered by the
    /// next message.
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
                    if let Pace::Replies { .. } = shape.pace {
                        self.queue(shape, now);
                    }
                }
                Outcome::Desync => {
                    tally.desync();
                    return Err(Closed::Desync);
                }
            }
        }
        Ok(())
    }

    /// Writes queued bytes (and TLS records still waiting) until all are written or the
    /// socket is full; a writable event resumes the rest.
    fn flush(&mut self) -> io::Result<()> {
        self.stream.write_rest(&self.out, &mut self.written)?;
        if self.written == self.out.len() {
            self.out.clear();
            self.written = 0;
        }
        Ok(())
    }
}
