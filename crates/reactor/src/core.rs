//! `Core`: a reactor's state as its connections see it, the connections themselves included.

mod connect;
mod conns;

use std::any::{Any, TypeId};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use mio::Registry;
use slab::Slab;
use turbine_codec::ReadBuf;

use crate::connection::Conn;
use crate::limits::Limits;
use crate::mailbox::{Mailbox, Mailboxes};
use crate::offload::PoolCell;
use crate::output::Output;
use crate::timers::Timers;
use crate::{CloseReason, Config, ConnId, FrameOut, Handler, ReactorStats};

/// Serial numbers handed to connections, unique in the process for its whole life.
static NEXT_SERIAL: AtomicU64 = AtomicU64::new(0);
/// Serial numbers a reactor takes at once, so accepting costs no shared atomic per connection.
const SERIAL_BLOCK: u64 = 1024;

/// The state one reactor shares among its connections: configuration, clock, buffers, queues,
/// timers, counters, mailboxes, and the connections themselves.
///
/// A connection gets `&mut Core` for the length of one step (an event, a delivery, a timer) and
/// asks it for what it needs: the shared read buffer, the spare output buffer, a place in the
/// run queue or the timer heap, a new outbound connection, or another connection of the same
/// reactor. While a connection is stepped it is taken out of the table (`conns.rs`), which is
/// how its callbacks can reach the others without a channel. A
/// [`TestConnection`](crate::TestConnection) has a `Core` of its own, with no other connection,
/// whose clock moves only when the test says so.
pub(crate) struct Core {
    /// Index of the reactor (0 in a test connection).
    index: usize,
    /// The server's configuration.
    config: Arc<Config>,
    /// The worker pool for offloaded jobs, shared by every reactor.
    pool: Arc<PoolCell>,
    /// The time at the start of the current turn.
    now: Instant,
    /// The shared read buffer: a connection without an unfinished frame reads here, so an idle
    /// connection owns no input memory.
    read_buf: ReadBuf,
    /// A spare output buffer lent to a connection that produces output and returned once it is
    /// written out, so idle connections hold no output memory and busy ones allocate none.
    out_spare: Output,
    /// Connections to serve without waiting for an event: slab key and serial number.
    run_queue: VecDeque<(usize, u64)>,
    /// Connections whose read budget ran out this turn with input left: they join the run
    /// queue when the next turn begins, so that a connection gets one budget a turn.
    next_turn: Vec<(usize, u64)>,
    /// When to look at which connection again.
    timers: Timers,
    /// Counters, published by the reactor once per turn.
    stats: ReactorStats,
    /// Mailboxes of this reactor, one per handler type.
    mailboxes: Mailboxes,
    /// The block of serial numbers being handed out: next and end.
    serials: (u64, u64),
    /// The connections, by slab key (also their mio token).
    conns: Slab<Box<dyn Conn>>,
    /// Connection caps shared with the other reactors.
    limits: Arc<Limits>,
    /// Registers new outbound sockets with the reactor's poll; `None` in a test connection.
    registry: Option<Registry>,
    /// State the program keeps per reactor, by type (`Context::reactor_local`).
    locals: HashMap<TypeId, Box<dyn Any>>,
    /// Set when a graceful shutdown begins (connections that open from then on drain at
    /// once): its deadline, and how many connections were open then.
    stopping: Option<(Instant, usize)>,
    /// Partner closes for connections that were out of the table (stepping) when they came:
    /// told as soon as their step ends.
    partner_closes: Vec<(ConnId, CloseReason)>,
    /// What a connection that returned [`Step::Replaced`] handed over to take its slot.
    successor: Option<Box<dyn Conn>>,
}

impl Core {
    pub(crate) fn new(
        index: usize,
        config: Arc<Config>,
        pool: Arc<PoolCell>,
        mailboxes: Mailboxes,
        limits: Arc<Limits>,
        registry: Option<Registry>,
    ) -> Self {
        Core {
            conns: Slab::new(),
            limits,
            registry,
            locals: HashMap::new(),
            stopping: None,
            partner_closes: Vec::new(),
            successor: None,
            index,
            read_buf: ReadBuf::with_capacity(config.read_buffer),
            config,
            pool,
            now: Instant::now(),
            out_spare: Output::default(),
            run_queue: VecDeque::new(),
            next_turn: Vec::new(),
            timers: Timers::default(),
            stats: ReactorStats::default(),
            mailboxes,
            serials: (0, 0),
        }
    }

    /// Index of the reactor.
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// The server's configuration.
    pub(crate) fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// The worker pool.
    pub(crate) fn pool(&self) -> &PoolCell {
        &self.pool
    }

    /// The time at the start of this turn.
    pub(crate) fn now(&self) -> Instant {
        self.now
    }

    /// Moves the clock (the reactor at each turn, a test connection when told).
    pub(crate) fn set_now(&mut self, now: Instant) {
        self.now = now;
    }

    /// The counters.
    pub(crate) fn stats(&self) -> &ReactorStats {
        &self.stats
    }

    /// The counters, to count.
    pub(crate) fn stats_mut(&mut self) -> &mut ReactorStats {
        &mut self.stats
    }

    /// The mailboxes.
    pub(crate) fn mailboxes(&mut self) -> &mut Mailboxes {
        &mut self.mailboxes
    }

    /// The mailbox of `H`'s connections on this reactor.
    pub(crate) fn mailbox<H: Handler>(&mut self) -> Arc<Mailbox<FrameOut<H>>> {
        Arc::clone(self.mailboxes.mailbox::<H>())
    }

    /// A serial number no connection in this process has had.
    pub(crate) fn next_serial(&mut self) -> u64 {
        if self.serials.0 == self.serials.1 {
            let start = NEXT_SERIAL.fetch_add(SERIAL_BLOCK, Ordering::Relaxed);
            self.serials = (start, start + SERIAL_BLOCK);
        }
        self.serials.0 += 1;
        self.serials.0 - 1
    }

    /// Lends the shared read buffer; give it back with [`return_read_buf`](Self::return_read_buf).
    pub(crate) fn lend_read_buf(&mut self) -> ReadBuf {
        std::mem::take(&mut self.read_buf)
    }

    /// Takes the shared read buffer back, emptied.
    pub(crate) fn return_read_buf(&mut self, mut buf: ReadBuf) {
        buf.clear();
        self.read_buf = buf;
    }

    /// Lends the spare output buffer to a connection whose output holds no memory.
    pub(crate) fn lend_output(&mut self, output: &mut Output) {
        if !output.is_allocated() {
            std::mem::swap(output, &mut self.out_spare);
        }
    }

    /// Takes an emptied output buffer back as the spare (or frees it if a spare is held).
    pub(crate) fn return_output(&mut self, output: &mut Output) {
        if !output.is_empty() || !output.is_allocated() {
            return;
        }
        if self.out_spare.is_allocated() {
            *output = Output::default();
        } else {
            std::mem::swap(output, &mut self.out_spare);
            self.out_spare.shrink_to(4 * self.config.read_buffer);
        }
    }

    /// Puts connection `key`/`serial` on the run queue (the caller keeps it there once).
    pub(crate) fn enqueue(&mut self, key: usize, serial: u64) {
        self.run_queue.push_back((key, serial));
    }

    /// The next queued connection.
    pub(crate) fn dequeue(&mut self) -> Option<(usize, u64)> {
        self.run_queue.pop_front()
    }

    /// Puts connection `key`/`serial` on the next turn's run queue (the caller keeps it
    /// queued once).
    pub(crate) fn defer(&mut self, key: usize, serial: u64) {
        self.next_turn.push((key, serial));
    }

    /// Connections on this turn's run queue.
    pub(crate) fn queued(&self) -> usize {
        self.run_queue.len()
    }

    /// Whether a connection waits to be served without an event, this turn or the next.
    pub(crate) fn has_queued(&self) -> bool {
        !self.run_queue.is_empty() || !self.next_turn.is_empty()
    }

    /// Starts a turn: timers set from now on fire in a later one, and the connections deferred
    /// to this turn join the run queue.
    pub(crate) fn begin_turn(&mut self) {
        self.timers.begin_turn();
        self.next_turn_joins();
    }

    /// Moves the connections deferred to the next turn onto the run queue; whether there were
    /// any.
    pub(crate) fn next_turn_joins(&mut self) -> bool {
        let any = !self.next_turn.is_empty();
        self.run_queue.extend(self.next_turn.drain(..));
        any
    }

    /// Schedules a look at connection `key`/`serial` at `at`.
    pub(crate) fn schedule(&mut self, at: Instant, key: usize, serial: u64) {
        self.timers.schedule(at, key, serial);
    }

    /// The earliest scheduled deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// The deadline heap.
    pub(crate) fn timers(&mut self) -> &mut Timers {
        &mut self.timers
    }

    /// Whether a graceful shutdown has begun.
    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.is_some()
    }

    /// The shutdown under way, if one is: its deadline, and how many connections were open
    /// when it began.
    pub(crate) fn stopping(&self) -> Option<(Instant, usize)> {
        self.stopping
    }

    /// A graceful shutdown begins, to end by `deadline`.
    pub(crate) fn begin_stopping(&mut self, deadline: Instant) {
        self.stopping = Some((deadline, self.open_count()));
    }

    /// The server-wide connection caps.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// This reactor's `T`, made with `Default` on first use.
    pub(crate) fn local<T: Default + 'static>(&mut self) -> &mut T {
        self.locals
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Box::new(T::default()))
            .downcast_mut()
            .expect("a local is stored under its own type")
    }
}
