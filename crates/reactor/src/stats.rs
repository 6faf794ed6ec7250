//! Counters each reactor publishes, readable from any thread: plain integers the reactor
//! counts in, copied once per loop turn into atomics that [`StatsHandle`] reads (the metrics
//! endpoint reads them the same way, at scrape time). Counts by reason are in `stats/reasons.rs`,
//! the loop's busy-time histogram in `stats/busy.rs`.

mod busy;
mod reasons;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering, Ordering::Relaxed};
use std::time::Duration;

pub use busy::LoopBusy;
pub use reasons::{ClosedBy, RejectedBy};

/// One reactor's counters at one moment.
///
/// A reactor counts in plain integers on its own thread and publishes them once per loop turn
/// (and when it stops), so reading stats never slows the reactor; a snapshot can lag the truth
/// by one turn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReactorStats {
    /// Connections open now.
    pub open: u64,
    /// Connections accepted since start.
    pub accepted: u64,
    /// Connections closed since start (for any reason): the sum of `closed_by`.
    pub closed: u64,
    /// Connections closed since start, by reason.
    pub closed_by: ClosedBy,
    /// Connections closed at accept: over `max_connections` or `max_connections_per_ip`, or
    /// shed from the backlog while the process was out of descriptors; the sum of
    /// `rejected_by`.
    pub rejected: u64,
    /// Connections closed at accept, by reason.
    pub rejected_by: RejectedBy,
    /// Bytes read from connections and handed to decoders.
    pub bytes_in: u64,
    /// Bytes written to connections.
    pub bytes_out: u64,
    /// Frames decoded and handed to handlers.
    pub frames_in: u64,
    /// Frames encoded for output (by handlers and through `ConnHandle`s).
    pub frames_out: u64,
    /// Output bytes waiting to be written, over all connections, now.
    pub output_buffered: u64,
    /// The most output any one connection has held at once since start.
    pub output_peak: u64,
    /// Handler or codec panics caught (each closed its connection).
    pub panics: u64,
    /// Offloaded jobs whose results have not been handed to their connection yet.
    pub offloads: u64,
    /// Outbound connections open now (connecting or connected); also counted in `open`.
    pub outbound: u64,
    /// Outbound connects asked for since start (`connect_failures` counts a part of them).
    pub connects: u64,
    /// Outbound connects that failed (refused, timed out, unreachable...) since start.
    pub connect_failures: u64,
    /// TLS handshakes completed (accepted and outbound connections) since start.
    pub tls_handshakes: u64,
    /// TLS handshakes that failed or timed out (plaintext or garbage sent to a TLS port, no
    /// common version, a stalled client) since start.
    pub tls_failures: u64,
    /// Connections closed before their PROXY header was read (`TURBINE_PROXY_PROTOCOL`): from
    /// an address not in `TURBINE_PROXY_TRUSTED`, with a malformed header or none within the
    /// frame timeout, or one of a version not taken; since start.
    pub proxy_failures: u64,
    /// How long each turn of the loop was busy, from `poll`'s return to the next `poll`; its
    /// count is the turns ([`loop_iterations`](ReactorStats::loop_iterations)).
    pub loop_busy: LoopBusy,
}

impl ReactorStats {
    /// Turns of the event loop since start.
    pub fn loop_iterations(&self) -> u64 {
        self.loop_busy.count()
    }

    /// Adds `other`'s counters to these (`output_peak` takes the larger).
    pub fn add(&mut self, other: &ReactorStats) {
        self.open += other.open;
        self.accepted += other.accepted;
        self.closed += other.closed;
        self.closed_by.add(&other.closed_by);
        self.rejected += other.rejected;
        self.rejected_by.add(&other.rejected_by);
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self.frames_in += other.frames_in;
        self.frames_out += other.frames_out;
        self.output_buffered += other.output_buffered;
        self.output_peak = self.output_peak.max(other.output_peak);
        self.panics += other.panics;
        self.offloads += other.offloads;
        self.outbound += other.outbound;
        self.connects += other.connects;
        self.connect_failures += other.connect_failures;
        self.tls_handshakes += other.tls_handshakes;
        self.tls_failures += other.tls_failures;
        self.proxy_failures += other.proxy_failures;
        self.loop_busy.add(&other.loop_busy);
    }

    /// Counts a close for `reason`.
    pub(crate) fn count_close(&mut self, reason: &crate::CloseReason) {
        self.closed += 1;
        self.closed_by.count(reason);
    }

    /// Counts a connection refused at accept by a cap.
    pub(crate) fn count_rejection(&mut self, reason: crate::Rejection) {
        self.rejected += 1;
        self.rejected_by.count(reason);
    }

    /// Counts a connection shed from the backlog for lack of descriptors.
    pub(crate) fn count_shed(&mut self) {
        self.rejected += 1;
        self.rejected_by.descriptors += 1;
    }

    /// Counts one turn of the loop, busy for `busy`.
    pub(crate) fn count_turn(&mut self, busy: Duration) {
        self.loop_busy.observe(busy);
    }
}

/// A snapshot of every reactor's counters, indexed by reactor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// `reactors[i]` is reactor `i`'s counters.
    pub reactors: Vec<ReactorStats>,
}

impl Stats {
    /// The sum over all reactors.
    pub fn total(&self) -> ReactorStats {
        let mut total = ReactorStats::default();
        for r in &self.reactors {
            total.add(r);
        }
        total
    }
}

/// How many plain counters [`ReactorStats`] has (the fields that are one `u64`).
const SCALARS: usize = 18;

/// The published copy of one reactor's counters.
///
/// Aligned to 128 bytes (two cache lines, the unit the adjacent-line prefetcher pulls in) so
/// that reactors storing their counters every turn never share a cache line.
#[repr(align(128))]
pub(crate) struct Published {
    /// One atomic per plain [`ReactorStats`] field, in declaration order.
    scalars: [AtomicU64; SCALARS],
    /// `closed_by`, in [`ClosedBy::LABELS`] order.
    closed_by: [AtomicU64; ClosedBy::LEN],
    /// `rejected_by`, in [`RejectedBy::LABELS`] order.
    rejected_by: [AtomicU64; RejectedBy::LEN],
    /// `loop_busy`: its buckets, then its sum.
    loop_busy: [AtomicU64; LoopBusy::LEN],
}

impl Default for Published {
    fn default() -> Self {
        Published {
            scalars: std::array::from_fn(|_| AtomicU64::new(0)),
            closed_by: std::array::from_fn(|_| AtomicU64::new(0)),
            rejected_by: std::array::from_fn(|_| AtomicU64::new(0)),
            loop_busy: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// Stores `values` into `atomics` with `order`: each is read on its own, and a reader may see
/// one turn's value next to the previous turn's.
fn store_all<const N: usize>(atomics: &[AtomicU64; N], values: [u64; N], order: Ordering) {
    for (atomic, value) in atomics.iter().zip(values) {
        atomic.store(value, order);
    }
}

/// Where `closed` and `rejected` sit among [`Published::store`]'s scalars.
const CLOSED: usize = 2;
const REJECTED: usize = 3;

/// Stores each value of `values` whose atomic holds another (only this reactor writes them).
fn store_changed<const N: usize>(atomics: &[AtomicU64; N], values: [u64; N]) {
    for (atomic, value) in atomics.iter().zip(values) {
        if atomic.load(Relaxed) != value {
            atomic.store(value, Relaxed);
        }
    }
}

/// Loads every atomic of `atomics` with `order`.
fn load_all<const N: usize>(atomics: &[AtomicU64; N], order: Ordering) -> [u64; N] {
    atomics.each_ref().map(|atomic| atomic.load(order))
}

impl Published {
    /// Stores a reactor's current counters (called by that reactor only, once per turn).
    pub(crate) fn store(&self, s: &ReactorStats) {
        let scalars = [
            s.open,
            s.accepted,
            s.closed,
            s.rejected,
            s.bytes_in,
            s.bytes_out,
            s.frames_in,
            s.frames_out,
            s.output_buffered,
            s.output_peak,
            s.panics,
            s.offloads,
            s.outbound,
            s.connects,
            s.connect_failures,
            s.tls_handshakes,
            s.tls_failures,
            s.proxy_failures,
        ];
        // The by-reason counts move only when a connection closes or is refused, and a turn
        // moves one bucket of the loop's histogram: the rest is not stored again every turn.
        if self.scalars[CLOSED].load(Relaxed) != s.closed {
            store_all(&self.closed_by, s.closed_by.values(), Relaxed);
        }
        if self.scalars[REJECTED].load(Relaxed) != s.rejected {
            store_all(&self.rejected_by, s.rejected_by.values(), Relaxed);
        }
        store_changed(&self.loop_busy, s.loop_busy.values());
        // Last, released: a reader that sees a close counted (loading the counts first, with
        // acquire) sees its reason too.
        store_all(&self.scalars, scalars, Ordering::Release);
    }

    fn load(&self) -> ReactorStats {
        let [
            open,
            accepted,
            closed,
            rejected,
            bytes_in,
            bytes_out,
            frames_in,
            frames_out,
            output_buffered,
            output_peak,
            panics,
            offloads,
            outbound,
            connects,
            connect_failures,
            tls_handshakes,
            tls_failures,
            proxy_failures,
        ] = load_all(&self.scalars, Ordering::Acquire);
        ReactorStats {
            open,
            accepted,
            closed,
            closed_by: ClosedBy::from_values(load_all(&self.closed_by, Relaxed)),
            rejected,
            rejected_by: RejectedBy::from_values(load_all(&self.rejected_by, Relaxed)),
            bytes_in,
            bytes_out,
            frames_in,
            frames_out,
            output_buffered,
            output_peak,
            panics,
            offloads,
            outbound,
            connects,
            connect_failures,
            tls_handshakes,
            tls_failures,
            proxy_failures,
            loop_busy: LoopBusy::from_values(load_all(&self.loop_busy, Relaxed)),
        }
    }
}

/// Reads a server's stats from any thread; cheap to clone.
#[derive(Clone)]
pub struct StatsHandle {
    /// One published block per reactor.
    reactors: Arc<[Published]>,
}

impl StatsHandle {
    pub(crate) fn new(reactors: usize) -> Self {
        StatsHandle {
            reactors: (0..reactors).map(|_| Published::default()).collect(),
        }
    }

    pub(crate) fn reactor(&self, index: usize) -> &Published {
        &self.reactors[index]
    }

    /// Every reactor's counters as last published.
    pub fn snapshot(&self) -> Stats {
        Stats {
            reactors: self.reactors.iter().map(Published::load).collect(),
        }
    }
}

impl std::fmt::Debug for StatsHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.snapshot().fmt(f)
    }
}
