//! `Churner`: one client thread's event loop over its churn slots, and its counts.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};

use crate::crew::Client;
use crate::progress::{PUBLISH_EVERY, Progress, Unpublished};
use crate::slot::{Slot, Stage, Step};
use crate::tally::Schedule;
use crate::tls::{Tls, log_failed_handshake};
use crate::{ChurnReport, Framing};

/// How long a slot waits after a failed connect (or TLS handshake) before it tries again, so
/// a server that refuses connections is not hammered by a tight loop of failures.
const RETRY_AFTER: Duration = Duration::from_millis(10);

/// How long a cycle may take, connect, handshake and echo together, before it counts as
/// failed.
const CYCLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Bytes one read may take.
const READ_BUFFER: usize = 64 * 1024;

/// Events taken per poll.
const EVENTS: usize = 1024;

/// One client thread of a churn run: its `Poll` and its slots (the token is the index).
#[derive(Debug)]
pub(crate) struct Churner {
    /// The thread's own event loop.
    poll: Poll,
    /// Events of the last poll, reused.
    events: Events,
    /// The slots, indexed by token.
    slots: Vec<Slot>,
    /// Where every read lands; echoes are checked as they are read, never kept.
    buf: Vec<u8>,
    /// The server.
    addr: SocketAddr,
    /// The TLS client, when the run speaks TLS: each cycle starts a new session from it.
    tls: Option<Tls>,
    /// Slots waiting to retry after a failed connect, and when they may, earliest first
    /// (every wait is [`RETRY_AFTER`], so arrival order is time order).
    resting: VecDeque<(Instant, usize)>,
}

impl Churner {
    /// A thread for slots number `ids`, cycling `size`-byte `framing` messages to `addr`,
    /// over TLS when `tls` is given. Nothing connects until the run starts.
    ///
    /// # Errors
    ///
    /// The event loop cannot be created.
    pub(crate) fn new(
        addr: SocketAddr,
        tls: Option<Tls>,
        ids: Range<u64>,
        framing: Framing,
        size: usize,
    ) -> io::Result<Churner> {
        Ok(Churner {
            poll: Poll::new()?,
            events: Events::with_capacity(EVENTS),
            slots: ids.map(|id| Slot::new(id, framing, size)).collect(),
            buf: vec![0; READ_BUFFER],
            addr,
            tls,
            resting: VecDeque::new(),
        })
    }

    /// Cycles every slot until `schedule.until`; see [`churn`](crate::churn()).
    fn drive(mut self, schedule: Schedule, progress: &Progress) -> ChurnReport {
        let mut tally = ChurnTally::new(schedule);
        let now = Instant::now();
        for i in 0..self.slots.len() {
            self.begin(i, now, &mut tally);
        }
        let mut next_publish = now + PUBLISH_EVERY;
        let mut steps = Vec::new();
        loop {
            let now = Instant::now();
            if now >= schedule.until {
                break;
            }
            if now >= next_publish {
                progress.publish(&mut tally.unpublished);
                self.expire(now, &mut tally);
                next_publish = now + PUBLISH_EVERY;
            }
            while let Some(&(at, i)) = self.resting.front() {
                if at > now {
                    break;
                }
                self.resting.pop_front();
                self.begin(i, now, &mut tally);
            }
            let mut wake = next_publish.min(schedule.until);
            if let Some(&(at, _)) = self.resting.front() {
                wake = wake.min(at);
            }
            if let Err(e) = self
                .poll
                .poll(&mut self.events, Some(wake.saturating_duration_since(now)))
            {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                log::error!("poll failed, stopping this client thread: {e}");
                break;
            }
            for event in self.events.iter() {
                let i = event.token().0;
                match self.slots[i].on_event(&mut self.buf) {
                    Step::Pending => {}
                    step => steps.push((i, step)),
                }
            }
            let now = Instant::now();
            for (i, step) in steps.drain(..) {
                self.slots[i].close(self.poll.registry());
                match step {
                    Step::Pending => {}
                    Step::Echoed { started, intact } => tally.cycle(now, started, intact),
                    Step::ConnectFailed(e) => {
                        tally.failed_connect(&e);
                        self.resting.push_back((now + RETRY_AFTER, i));
                        continue;
                    }
                    Step::HandshakeFailed(e) => {
                        tally.failed_handshake(&e);
                        self.resting.push_back((now + RETRY_AFTER, i));
                        continue;
                    }
                    Step::Failed(e) => {
                        log::debug!("churn connection failed: {e}");
                        tally.error();
                    }
                    Step::Desync => tally.mismatch(),
                }
                self.begin(i, now, &mut tally);
            }
        }
        progress.publish(&mut tally.unpublished);
        // Dropping the slots closes the cycles still under way; they are not counted.
        tally.report
    }

    /// Begins slot `i`'s next cycle, or sends it resting when the connect fails at once.
    fn begin(&mut self, i: usize, now: Instant, tally: &mut ChurnTally) {
        let registry = self.poll.registry();
        if let Err(e) = self.slots[i].begin(self.addr, self.tls.as_ref(), registry, Token(i), now) {
            tally.failed_connect(&e);
            self.resting.push_back((now + RETRY_AFTER, i));
        }
    }

    /// Fails every cycle older than [`CYCLE_TIMEOUT`]: a connect or handshake as a failed
    /// connect (the slot rests), an echo as an error (the slot starts over).
    fn expire(&mut self, now: Instant, tally: &mut ChurnTally) {
        for i in 0..self.slots.len() {
            let Some((started, stage)) = self.slots[i].started() else {
                continue;
            };
            if now.saturating_duration_since(started) < CYCLE_TIMEOUT {
                continue;
            }
            self.slots[i].close(self.poll.registry());
            let late = |what| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{what} within {CYCLE_TIMEOUT:?}"),
                )
            };
            match stage {
                Stage::Connecting => {
                    tally.failed_connect(&late("not connected"));
                    self.resting.push_back((now + RETRY_AFTER, i));
                }
                Stage::Handshaking => {
                    tally.failed_handshake(&late("TLS handshake not done"));
                    self.resting.push_back((now + RETRY_AFTER, i));
                }
                Stage::Echoing { .. } => {
                    log::debug!("no echo within {CYCLE_TIMEOUT:?}");
                    tally.error();
                    self.begin(i, now, tally);
                }
            }
        }
    }
}

impl Client for Churner {
    type Report = ChurnReport;

    fn run(self, schedule: Schedule, progress: &Progress) -> ChurnReport {
        self.drive(schedule, progress)
    }
}

/// A churn thread's counts: the window's, for the report, and recent ones, for progress.
#[derive(Debug)]
struct ChurnTally {
    /// The measured window.
    schedule: Schedule,
    /// This thread's share of the report (`elapsed` and `server_cpu` left unset).
    report: ChurnReport,
    /// Counts since the last publish, warm-up included.
    unpublished: Unpublished,
}

impl ChurnTally {
    /// Empty counts for a run on `schedule`.
    fn new(schedule: Schedule) -> ChurnTally {
        ChurnTally {
            schedule,
            report: ChurnReport::default(),
            unpublished: Unpublished::default(),
        }
    }

    /// Counts a cycle begun at `started` whose echo was checked at `now`.
    fn cycle(&mut self, now: Instant, started: Instant, intact: bool) {
        let ns =
            u64::try_from(now.saturating_duration_since(started).as_nanos()).unwrap_or(u64::MAX);
        self.unpublished.messages += 1;
        self.unpublished.latency.record(ns);
        if !intact {
            self.mismatch();
        }
        if now >= self.schedule.measure_from && now < self.schedule.until {
            self.report.cycles += 1;
            self.report.latency.record(ns);
        }
    }

    /// Counts a failed connect, and whether it failed for want of a local port.
    fn failed_connect(&mut self, e: &io::Error) {
        log::debug!("churn connect failed: {e}");
        self.report.failed_connects += 1;
        self.unpublished.failed_connects += 1;
        if e.kind() == io::ErrorKind::AddrNotAvailable {
            self.report.out_of_ports += 1;
        }
    }

    /// Counts a failed TLS handshake, as a failed connect too.
    fn failed_handshake(&mut self, e: &io::Error) {
        self.report.failed_connects += 1;
        self.unpublished.failed_connects += 1;
        self.report.failed_handshakes += 1;
        log_failed_handshake(self.report.failed_handshakes, e);
    }

    /// Counts a cycle ended by an error after its handshake.
    fn error(&mut self) {
        self.report.errors += 1;
        self.unpublished.errors += 1;
    }

    /// Counts a mismatched or undelimitable echo.
    fn mismatch(&mut self) {
        self.report.mismatches += 1;
        self.unpublished.mismatches += 1;
    }
}
