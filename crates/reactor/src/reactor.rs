//! `Reactor`: one thread's event loop: accept, serve, deliver, time out, stop.
//!
//! # One turn of the loop
//!
//! 1. `poll` waits for events, at most until the next deadline (not at all if work is queued).
//! 2. Each event is handled at once: a listener accepts (a bounded number per turn), a
//!    connection reads, decodes and dispatches frames, then writes what its handler sent in one
//!    `write` (a connection already on the run queue only notes the event: it is served there,
//!    so once a turn).
//! 3. The mailboxes are drained (bounded per turn): frames from `ConnHandle`s, broadcasts and
//!    job results are applied and their connections queued for a flush.
//! 4. The run queue is served: connections stopped early by the per-turn budget, unpaused by
//!    backpressure, or with new output.
//! 5. Due deadlines and periodic tasks run; the turn is counted, with the time it took since
//!    `poll` returned (the loop's lag, `turbine_loop_busy_seconds`); stats are published.
//!
//! mio is edge-triggered: an event says "something changed", once. A connection therefore
//! remembers that it may still be readable until a read shows the socket drained, and whenever
//! it stops reading early it puts itself on the run queue, or it would never be read again.
//!
//! The reactor holds connections of any handler type (one per listener, and more later) as
//! `Box<dyn Conn>`: each connection's code is compiled for its own handler, and the reactor
//! only routes events, messages and deadlines to it and drops it once it says it is closed.

mod accept;
mod inbox;
mod setup;
mod stop;

use std::io;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};

use crate::ShutdownHandle;
use crossbeam_channel::Receiver;

use crate::connection::Readiness;
use crate::connector::Command;
use crate::core::Core;
use crate::mailbox::{Bell, Mailboxes};
use crate::periodic::Periodic;
use crate::stats::StatsHandle;
use accept::Listening;
pub(crate) use accept::{Accept, Acceptor, Entrance, refuse};
pub(crate) use inbox::{Inbox, inbox_for};
pub(crate) use setup::Setup;
use std::sync::Arc;

/// Token of the reactor's waker (mailboxes and shutdown).
pub(crate) const WAKER: Token = Token(usize::MAX);
/// Listener `i` is registered with token `FIRST_LISTENER + i`; connections use their slab key,
/// which never comes near.
pub(crate) const FIRST_LISTENER: usize = usize::MAX / 2;

/// Mailbox messages handled per turn, over all mailboxes.
const MAILBOX_PER_TURN: usize = 4096;

/// One event loop and the connections it owns.
pub(crate) struct Reactor {
    /// The reactor's own epoll instance.
    poll: Poll,
    /// What the reactor lends its connections: clock, buffers, run queue, timers, counters,
    /// mailboxes.
    core: Core,
    /// This reactor's socket of each of the server's listeners, with its handler's acceptor.
    listeners: Vec<Listening>,
    /// The receiving ends of this reactor's mailboxes, one per handler type.
    inboxes: Vec<Box<dyn Inbox>>,
    /// Rung by mailboxes, the shutdown handle and connectors; answered before each drain.
    bell: Arc<Bell>,
    /// Work from other threads: outbound connects.
    commands: Receiver<Command>,
    /// Where the counters are published.
    published: StatsHandle,
    /// The server's shutdown flag.
    shutdown: ShutdownHandle,
    /// A descriptor held in reserve (`/dev/null`), released to shed the backlog when the
    /// process runs out of descriptors.
    spare_fd: Option<std::fs::File>,
    /// After running out of descriptors: when to retry `accept`.
    accept_retry: Option<Instant>,
    /// The delay before the next retry if `accept` fails again.
    accept_delay: Duration,
    /// The program's periodic tasks.
    periodic: Periodic,
    /// The mailboxes may hold more messages (the per-turn budget ran out).
    inbox_more: bool,
}

impl Reactor {
    pub(crate) fn new(setup: Setup) -> Self {
        let now = Instant::now();
        let mailboxes = Mailboxes::new(Arc::clone(&setup.bell));
        let mut core = Core::new(
            setup.index,
            setup.config,
            setup.pool,
            mailboxes,
            setup.limits,
            Some(setup.registry),
        );
        core.set_now(now);
        Reactor {
            poll: setup.poll,
            core,
            listeners: setup
                .listeners
                .into_iter()
                .map(|(socket, acceptor, tls, proxied)| {
                    Listening::new(socket, acceptor, tls, proxied)
                })
                .collect(),
            inboxes: Vec::new(),
            bell: setup.bell,
            commands: setup.commands,
            published: setup.stats,
            shutdown: setup.shutdown,
            spare_fd: setup.spare_fd,
            accept_retry: None,
            accept_delay: accept::BACKOFF.0,
            periodic: Periodic::new(&setup.periodic, now),
            inbox_more: false,
        }
    }

    /// Runs until shutdown has drained every connection or its deadline has passed.
    pub(crate) fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        // When the last turn ended: the clock read that measures the turn also times the poll.
        let mut turn_end = Instant::now();
        loop {
            let timeout = self.poll_timeout(turn_end);
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            self.core.set_now(Instant::now());
            self.core.begin_turn();
            let mut woken = false;
            for event in events.iter() {
                match event.token() {
                    WAKER => woken = true,
                    Token(token) if token >= FIRST_LISTENER => self.accept(token - FIRST_LISTENER),
                    Token(key) => {
                        let readiness = Readiness::of(event);
                        self.core
                            .step(key, None, |c, core| c.ready(core, readiness));
                    }
                }
            }
            if woken {
                self.bell.answer();
                if !self.core.is_stopping() && self.shutdown.is_requested() {
                    self.begin_shutdown();
                }
            }
            if woken || self.inbox_more {
                self.drain_inboxes();
            }
            self.accept_more();
            self.serve_run_queue();
            self.fire_deadlines();
            let finished = self.shutdown_finished();
            turn_end = Instant::now();
            let busy = turn_end.saturating_duration_since(self.core.now());
            self.core.stats_mut().count_turn(busy);
            self.published
                .reactor(self.core.index())
                .store(self.core.stats());
            if finished {
                return Ok(());
            }
        }
    }

    /// How long `poll` may sleep: not at all with work queued, else until the next deadline,
    /// counted from `now`.
    fn poll_timeout(&self, now: Instant) -> Option<Duration> {
        if self.core.has_queued() || self.inbox_more || self.listeners.iter().any(|l| l.more) {
            return Some(Duration::ZERO);
        }
        let deadlines = [
            self.core.next_deadline(),
            self.accept_retry,
            self.periodic.next_due(),
            self.core.stopping().map(|(deadline, _)| deadline),
        ];
        let next = deadlines.into_iter().flatten().min()?;
        Some(next.saturating_duration_since(now))
    }

    /// Delivers up to `MAILBOX_PER_TURN` messages over all mailboxes; notes whether more may
    /// wait.
    fn drain_inboxes(&mut self) {
        self.inboxes.extend(self.core.mailboxes().take_opened());
        let mut budget = MAILBOX_PER_TURN;
        // Connects from other threads first (each a socket and a connect: cheap), within the
        // same budget.
        while budget > 0 {
            let Ok(command) = self.commands.try_recv() else {
                break;
            };
            command(&mut self.core);
            budget -= 1;
        }
        for inbox in &self.inboxes {
            budget -= inbox.drain(&mut self.core, budget);
            if budget == 0 {
                break;
            }
        }
        self.inbox_more = budget == 0;
    }

    /// Serves the connections queued before this call; those queued meanwhile wait a turn.
    fn serve_run_queue(&mut self) {
        for _ in 0..self.core.queued() {
            let Some((key, serial)) = self.core.dequeue() else {
                break;
            };
            self.core
                .step(key, Some(serial), |c, core| c.serve_queued(core));
        }
    }

    /// Runs due periodic tasks, retries `accept` after a backoff, and hands each connection
    /// whose deadline has come its turn.
    fn fire_deadlines(&mut self) {
        // A periodic task runs on the event loop like a callback: it must be short.
        self.periodic.run_due(self.core.now(), self.core.index());
        if self.accept_retry.is_some_and(|at| at <= self.core.now()) {
            self.accept_retry = None;
            for index in 0..self.listeners.len() {
                self.accept(index);
            }
        }
        let now = self.core.now();
        while let Some((at, key, serial)) = self.core.timers().pop_due(now) {
            self.core
                .step(key, Some(serial), |c, core| c.deadline(core, at));
        }
    }
}
