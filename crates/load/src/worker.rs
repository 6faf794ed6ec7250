//! `Worker`: one client thread's event loop over its share of the connections.

use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use crate::Report;
use crate::connection::{Closed, Connection, Pace, Shape, State};
use crate::crew::Client;
use crate::progress::{PUBLISH_EVERY, Progress};
use crate::tally::{Schedule, Tally};
use crate::timetable::Timetable;
use crate::tls::{Tls, log_failed_handshake};

/// How long a connect may take, TLS handshake included, before it counts as failed.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Bytes one read may take: many replies at once, so a busy connection needs few reads.
const READ_BUFFER: usize = 64 * 1024;

/// Events taken per poll.
const EVENTS: usize = 1024;

/// Most fixed-rate messages handed out per loop turn: a thread that has fallen behind still
/// polls its sockets between batches.
const DISPATCH_BATCH: usize = 4096;

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
    /// Of `failed_connects`, those whose TLS handshake failed or did not finish.
    failed_handshakes: u64,
    /// The run-wide numbers of this thread's connections; connection `ids.start + i` has
    /// token `i`.
    ids: Range<u64>,
}

impl Worker {
    /// Connects connections number `ids` to `addr`, over TLS when `tls` is given, all at
    /// once, and waits until each has succeeded (handshake included), failed, or run out of
    /// [`CONNECT_TIMEOUT`].
    ///
    /// # Errors
    ///
    /// Only if the event loop itself cannot be created or polled; failed connects and
    /// handshakes are counted.
    pub(crate) fn connect(
        addr: SocketAddr,
        ids: Range<u64>,
        shape: Shape,
        tls: Option<Tls>,
    ) -> io::Result<Worker> {
        let poll = Poll::new()?;
        let mut conns = Vec::with_capacity(ids.clone().count());
        let mut failed_connects = 0;
        for id in ids.clone() {
            let token = Token(conns.len());
            let conn = Connection::connect(addr, id, shape, tls.as_ref()).and_then(|mut conn| {
                let interest = Interest::READABLE | Interest::WRITABLE;
                poll.registry()
                    .register(conn.stream.socket_mut(), token, interest)?;
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
            failed_handshakes: 0,
            ids,
        };
        worker.await_connects()?;
        Ok(worker)
    }

    /// Polls until no connection is still connecting or handshaking; those left at the
    /// deadline fail.
    fn await_connects(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        let mut pending = self.conns.iter().flatten().count();
        let mut failed = Vec::new();
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
                if conn.state == State::Open {
                    continue;
                }
                match conn.establish() {
                    Ok(true) => pending -= 1,
                    Ok(false) => {}
                    Err(e) => {
                        pending -= 1;
                        failed.push((i, conn.state, e));
                    }
                }
            }
            for (i, state, e) in failed.drain(..) {
                // Closing the socket also takes it out of epoll.
                self.conns[i] = None;
                self.connect_failed(state, &e);
            }
        }
        for i in 0..self.conns.len() {
            if let Some(conn) = &self.conns[i] {
                let state = conn.state;
                if state != State::Open {
                    self.close(i);
                    let e = io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("not connected within {CONNECT_TIMEOUT:?}"),
                    );
                    self.connect_failed(state, &e);
                }
            }
        }
        Ok(())
    }

    /// Counts a connection that failed in `state`, a failed handshake included, and logs why.
    fn connect_failed(&mut self, state: State, e: &io::Error) {
        self.failed_connects += 1;
        if state == State::Handshaking {
            self.failed_handshakes += 1;
            log_failed_handshake(self.failed_handshakes, e);
        } else {
            log::debug!("connect failed: {e}");
        }
    }

    /// Runs the load until `schedule.until`, publishing counts to `progress` as it goes, and
    /// returns this thread's share of the report.
    ///
    /// At a fixed rate each loop turn first hands out the messages the timetable says are
    /// due and pumps the connections they fell to, then sleeps in `poll` until the next one
    /// is due (or an event, a publish or the end comes first): a thread with nothing due
    /// sleeps.
    fn drive(mut self, schedule: Schedule, progress: &Progress) -> Report {
        let shape = self.shape;
        let (mut timetable, target) = match shape.pace {
            Pace::Timetable {
                rate, connections, ..
            } => (
                Some(Timetable::new(
                    schedule.start,
                    rate,
                    connections,
                    self.ids.clone(),
                )),
                Some(rate),
            ),
            Pace::Replies { .. } => (None, None),
        };
        let mut tally = Tally::new(schedule, self.failed_connects, target);
        tally.report.failed_handshakes = self.failed_handshakes;
        for i in 0..self.conns.len() {
            if let Some(conn) = self.conns[i].as_mut() {
                if let Err(closed) = conn.start(shape, &mut self.buf, &mut tally) {
                    self.on_closed(i, closed, &mut tally);
                }
            }
        }
        // Fixed rate: connections given a message this turn, to pump once each.
        let mut due = Vec::new();
        let mut next_publish = Instant::now() + PUBLISH_EVERY;
        loop {
            let now = Instant::now();
            if let Some(timetable) = timetable.as_mut() {
                // Up to `until` itself, so the last turn sends all of the run's messages.
                self.dispatch(timetable, now, schedule.until, &mut due, &mut tally);
                for i in due.drain(..) {
                    self.pump(i, timetable, now, &mut tally);
                }
            }
            if now >= schedule.until {
                break;
            }
            if now >= next_publish {
                progress.publish(&mut tally.unpublished);
                next_publish = now + PUBLISH_EVERY;
            }
            // Wake for the next message due, the next publish or the end, even when no
            // event comes; a message already due means no sleep at all. Only a message's time
            // is worth spinning for (a publish or the end can be a millisecond late).
            let mut timeout = next_publish
                .min(schedule.until)
                .saturating_duration_since(now);
            if let Some(timetable) = &timetable {
                let message = poll_timeout(timetable.next().1.saturating_duration_since(now));
                timeout = timeout.min(message);
            }
            if let Err(e) = self.poll.poll(&mut self.events, Some(timeout)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // Without its event loop this thread can do nothing more; its counts stand.
                log::error!("poll failed, stopping this client thread: {e}");
                break;
            }
            let now = Instant::now();
            let mut failures = Vec::new();
            for event in self.events.iter() {
                let i = event.token().0;
                let Some(conn) = self.conns[i].as_mut() else {
                    continue;
                };
                // A closed or failed socket reports it through the read, so all three read.
                let readable = event.is_readable() || event.is_read_closed() || event.is_error();
                let mut result = conn.on_event(readable, shape, &mut self.buf, &mut tally);
                if let (Ok(()), Some(timetable)) = (&result, &timetable) {
                    // Replies or a drained socket may have made room for waiting messages.
                    result = conn
                        .pump(shape, timetable, now, &mut tally)
                        .map_err(Closed::from);
                }
                if let Err(closed) = result {
                    failures.push((i, closed));
                }
            }
            for (i, closed) in failures {
                self.on_closed(i, closed, &mut tally);
            }
        }
        if let Some(timetable) = &timetable {
            // Messages due that this thread never handed out, having fallen behind.
            tally.unsent(timetable.left_before(schedule.until));
            for conn in self.conns.iter().flatten() {
                tally.unsent(conn.waiting());
                tally.in_flight_at_end(conn.in_flight());
            }
        }
        progress.publish(&mut tally.unpublished);
        tally.report
    }

    /// Hands out the messages due by `now` and before `until` (at most [`DISPATCH_BATCH`])
    /// to their connections, noting in `due` those to pump; a message for a closed
    /// connection will never be sent.
    fn dispatch(
        &mut self,
        timetable: &mut Timetable,
        now: Instant,
        until: Instant,
        due: &mut Vec<usize>,
        tally: &mut Tally,
    ) {
        for _ in 0..DISPATCH_BATCH {
            let (i, at) = timetable.next();
            if at > now || at >= until {
                return;
            }
            timetable.advance();
            match self.conns[i].as_mut() {
                Some(conn) => {
                    if conn.come_due(tally) {
                        due.push(i);
                    }
                }
                None => tally.unsent(1),
            }
        }
    }

    /// Pumps fixed-rate connection `i`, closing it if its socket fails.
    fn pump(&mut self, i: usize, timetable: &Timetable, now: Instant, tally: &mut Tally) {
        let Some(conn) = self.conns[i].as_mut() else {
            return;
        };
        if let Err(e) = conn.pump(self.shape, timetable, now, tally) {
            self.on_closed(i, Closed::Failed(e), tally);
        }
    }

    /// Counts why connection `i` closed, and the fixed-rate messages it leaves unsent, then
    /// closes it.
    fn on_closed(&mut self, i: usize, closed: Closed, tally: &mut Tally) {
        if let Some(conn) = &self.conns[i] {
            tally.unsent(conn.waiting());
        }
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
            let _ = self.poll.registry().deregister(conn.stream.socket_mut());
        }
    }
}

impl Client for Worker {
    type Report = Report;

    fn run(self, schedule: Schedule, progress: &Progress) -> Report {
        self.drive(schedule, progress)
    }
}

/// Closer than this to the next thing due, a fixed-rate thread polls without sleeping.
const SPIN_WITHIN: Duration = Duration::from_millis(1);

/// How long `poll` may sleep when the next message is `left` away.
///
/// `epoll_wait` counts its timeout in whole milliseconds and mio rounds up, so a sleep for 10 µs
/// would last 1 ms and send a millisecond's messages in one burst, late: the latency measured
/// from their intended times would be the generator's. So the thread sleeps only until about
/// 1 ms before the next message and spins (polls without blocking) the rest of the way: at high
/// rates its core is busy, which a load generator's core is for.
fn poll_timeout(left: Duration) -> Duration {
    left.saturating_sub(SPIN_WITHIN)
}
