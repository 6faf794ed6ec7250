//! `Worker`: one client thread's event loop over its share of the connections.

use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use crate::Report;
use crate::connection::{Closed, Connection, Shape, State};
use crate::progress::{PUBLISH_EVERY, Progress};
use crate::tally::{Schedule, Tally};

/// How long a connect may take before it counts as failed.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Bytes one read may take: many replies at once, so a busy connection needs few reads.
const READ_BUFFER: usize = 64 * 1024;

/// Events taken per poll.
const EVENTS: usize = 1024;

/// One client thread: its `Poll`, its connections (the token is the index) and a read buffer
/// they share, since a reply is checked as it is read and never kept.
pub(crate) struct Worker {
    /// The thread's own event loop.
    poll: Poll,
    /// Events of the last poll, reused.
    events: Events,
    /// The connections, indexed by token; `None` once closed or failed.
    conns: Vec<Option<Connection>>,
    /// Where every read lands.
    buf: Vec<u8>,
    /// The messages exchanged.
    shape: Shape,
    /// Connections that could not be established.
    failed_connects: u64,
}

impl Worker {
    /// Connects connections number `ids` to `addr`, all at once, and waits until each has
    /// succeeded, failed, or run out of [`CONNECT_TIMEOUT`].
    ///
    /// # Errors
    ///
    /// Only if the event loop itself cannot be created or polled; failed connects are counted.
    pub(crate) fn connect(addr: SocketAddr, ids: Range<u64>, shape: Shape) -> io::Result<Worker> {
        let poll = Poll::new()?;
        let mut conns = Vec::with_capacity(ids.clone().count());
        let mut failed_connects = 0;
        for id in ids {
            let token = Token(conns.len());
            let conn = Connection::connect(addr, id, shape).and_then(|mut conn| {
                let interest = Interest::READABLE | Interest::WRITABLE;
                poll.registry()
                    .register(&mut conn.stream, token, interest)?;
                Ok(conn)
            });
            match conn {
                Ok(conn) => conns.push(Some(conn)),
                Err(e) => {
                    log::debug!("connect to {addr} failed: {e}");
                    failed_connects += 1;
                    conns.push(None);
                }
            }
        }
        let mut worker = Worker {
            poll,
            events: Events::with_capacity(EVENTS),
            conns,
            buf: vec![0; READ_BUFFER],
            shape,
            failed_connects,
        };
        worker.await_connects()?;
        Ok(worker)
    }

    /// Polls until no connection is still connecting; those left at the deadline fail.
    fn await_connects(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        let mut pending = self.conns.iter().flatten().count();
        while pending > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            if let Err(e) = self.poll.poll(&mut self.events, Some(deadline - now)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            for event in self.events.iter() {
                let i = event.token().0;
                let Some(conn) = self.conns[i].as_mut() else {
                    continue;
                };
                if conn.state != State::Connecting {
                    continue;
                }
                match conn.check_connected() {
                    Ok(true) => pending -= 1,
                    Ok(false) => {}
                    Err(e) => {
                        log::debug!("connect failed: {e}");
                        pending -= 1;
                        self.failed_connects += 1;
                        // Closing the socket also takes it out of epoll.
                        self.conns[i] = None;
                    }
                }
            }
        }
        for i in 0..self.conns.len() {
            if let Some(conn) = &self.conns[i] {
                if conn.state == State::Connecting {
                    self.failed_connects += 1;
                    self.close(i);
                }
            }
        }
        Ok(())
    }

    /// Runs the load until `schedule.until`, publishing counts to `progress` as it goes, and
    /// returns this thread's share of the report.
    pub(crate) fn run(mut self, schedule: Schedule, progress: &Progress) -> Report {
        let mut tally = Tally::new(schedule, self.failed_connects);
        let shape = self.shape;
        for i in 0..self.conns.len() {
            if let Some(conn) = self.conns[i].as_mut() {
                if let Err(closed) = conn.start(shape, &mut self.buf, &mut tally) {
                    self.on_closed(i, closed, &mut tally);
                }
            }
        }
        let mut next_publish = Instant::now() + PUBLISH_EVERY;
        loop {
            let now = Instant::now();
            if now >= schedule.until {
                break;
            }
            if now >= next_publish {
                progress.publish(&mut tally.unpublished);
                next_publish = now + PUBLISH_EVERY;
            }
            // Wake for the next publish or the end even when no event comes.
            let timeout = next_publish.min(schedule.until) - now;
            if let Err(e) = self.poll.poll(&mut self.events, Some(timeout)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // Without its event loop this thread can do nothing more; its counts stand.
                log::error!("poll failed, stopping this client thread: {e}");
                break;
            }
            let mut failures = Vec::new();
            for event in self.events.iter() {
                let i = event.token().0;
                let Some(conn) = self.conns[i].as_mut() else {
                    continue;
                };
                // A closed or failed socket reports it through the read, so all three read.
                let readable = event.is_readable() || event.is_read_closed() || event.is_error();
                if let Err(closed) = conn.on_event(readable, shape, &mut self.buf, &mut tally) {
                    failures.push((i, closed));
                }
            }
            for (i, closed) in failures {
                self.on_closed(i, closed, &mut tally);
            }
        }
        progress.publish(&mut tally.unpublished);
        tally.report
    }

    /// Counts why connection `i` closed, then closes it.
    fn on_closed(&mut self, i: usize, closed: Closed, tally: &mut Tally) {
        match closed {
            Closed::Failed(e) => {
                log::debug!("connection closed: {e}");
                tally.error();
            }
            // Already counted as a mismatch.
            Closed::Desync => log::debug!("replies out of step; connection closed"),
        }
        self.close(i);
    }

    /// Deregisters and drops connection `i`, which closes its socket.
    fn close(&mut self, i: usize) {
        if let Some(mut conn) = self.conns[i].take() {
            // Dropping the socket removes it from epoll anyway; this only keeps mio's view tidy.
            let _ = self.poll.registry().deregister(&mut conn.stream);
        }
    }
}
