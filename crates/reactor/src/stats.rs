//! Counters each reactor publishes, readable from any thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

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
    /// Connections closed since start (for any reason).
    pub closed: u64,
    /// Connections closed at accept: over `max_connections` or `max_connections_per_ip`, or
    /// shed from the backlog while the process was out of descriptors.
    pub rejected: u64,
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
    /// Outbound connects started since start.
    pub connects: u64,
    /// Outbound connects that failed (refused, timed out, unreachable...) since start.
    pub connect_failures: u64,
    /// TLS handshakes that failed or timed out (plaintext or garbage sent to a TLS port, no
    /// common version, a stalled client) since start.
    pub tls_failures: u64,
    /// Connections closed before their PROXY header was read (`TURBINE_PROXY_PROTOCOL`): from
    /// an address not in `TURBINE_PROXY_TRUSTED`, with a malformed header or none within the
    /// frame timeout, or one of a version not taken; since start.
    pub proxy_failures: u64,
}

impl ReactorStats {
    /// Adds `other`'s counters to these (`output_peak` takes the larger).
    pub fn add(&mut self, other: &ReactorStats) {
        self.open += other.open;
        self.accepted += other.accepted;
        self.closed += other.closed;
        self.rejected += other.rejected;
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
        self.tls_failures += other.tls_failures;
        self.proxy_failures += other.proxy_failures;
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

/// The published copy of one reactor's counters.
///
/// Aligned to 128 bytes (two cache lines, the unit the adjacent-line prefetcher pulls in) so
/// that reactors storing their counters every turn never share a cache line.
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct Published {
    /// One atomic per [`ReactorStats`] field, in declaration order.
    fields: [AtomicU64; 17],
}

impl Published {
    /// Stores a reactor's current counters (called by that reactor only).
    pub(crate) fn store(&self, s: &ReactorStats) {
        let values = [
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
            s.tls_failures,
            s.proxy_failures,
        ];
        for (field, value) in self.fields.iter().zip(values) {
            field.store(value, Relaxed);
        }
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
            tls_failures,
            proxy_failures,
        ] = self.fields.each_ref().map(|f| f.load(Relaxed));
        ReactorStats {
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
            tls_failures,
            proxy_failures,
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
