//! `ServerFigures`: the server's own `turbine_*` families, read from the published stats and
//! the worker pool's counters at each scrape, so that counting costs the reactors nothing more
//! than the stats they keep anyway.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;

use crate::offload::PoolCell;
use crate::{ClosedBy, ReactorStats, RejectedBy, Stats, StatsHandle};

/// The server's own figures, registered in its [`Metrics`](super::Metrics) when it starts.
pub(crate) struct ServerFigures {
    /// Every reactor's published counters.
    stats: StatsHandle,
    /// The worker pool (its counters are zero until the first offload starts it).
    pool: Arc<PoolCell>,
    /// Whether a listener speaks TLS: the TLS families are written then (and once an outbound
    /// TLS connection has counted something).
    tls: bool,
    /// Whether connections start with a PROXY header: `turbine_proxy_failures_total` is
    /// written then.
    proxy: bool,
}

impl ServerFigures {
    pub(crate) fn new(stats: StatsHandle, pool: Arc<PoolCell>, tls: bool, proxy: bool) -> Self {
        ServerFigures {
            stats,
            pool,
            tls,
            proxy,
        }
    }
}

impl fmt::Debug for ServerFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerFigures")
            .field("tls", &self.tls)
            .field("proxy", &self.proxy)
            .finish()
    }
}

/// A family with one value per reactor: its name (a counter's without `_total`), help text,
/// type, and how to read it from a reactor's stats.
type PerReactor = (
    &'static str,
    &'static str,
    MetricType,
    fn(&ReactorStats) -> u64,
);

/// The families with one value per reactor and no other label, in the order written.
const PER_REACTOR: &[PerReactor] = &[
    (
        "turbine_connections_open",
        "Connections open now, outbound ones included.",
        MetricType::Gauge,
        |s| s.open,
    ),
    (
        "turbine_connections_accepted",
        "Connections accepted.",
        MetricType::Counter,
        |s| s.accepted,
    ),
    (
        "turbine_bytes_received",
        "Bytes read from connections and handed to decoders.",
        MetricType::Counter,
        |s| s.bytes_in,
    ),
    (
        "turbine_bytes_sent",
        "Bytes written to connections.",
        MetricType::Counter,
        |s| s.bytes_out,
    ),
    (
        "turbine_frames_received",
        "Frames decoded and handed to handlers.",
        MetricType::Counter,
        |s| s.frames_in,
    ),
    (
        "turbine_frames_sent",
        "Frames encoded for output.",
        MetricType::Counter,
        |s| s.frames_out,
    ),
    (
        "turbine_handler_panics",
        "Handler or codec panics caught.",
        MetricType::Counter,
        |s| s.panics,
    ),
    (
        "turbine_offloads_in_flight",
        "Offloaded jobs whose results have not reached their connection yet.",
        MetricType::Gauge,
        |s| s.offloads,
    ),
    (
        "turbine_loop_iterations",
        "Turns of the event loop.",
        MetricType::Counter,
        ReactorStats::loop_iterations,
    ),
    (
        "turbine_outbound_connections_open",
        "Outbound connections open now (connecting or connected).",
        MetricType::Gauge,
        |s| s.outbound,
    ),
    (
        "turbine_outbound_connects",
        "Outbound connects asked for (the failures among them included).",
        MetricType::Counter,
        |s| s.connects,
    ),
    (
        "turbine_outbound_connect_failures",
        "Outbound connects that failed (refused, timed out, unreachable, TLS handshake failed).",
        MetricType::Counter,
        |s| s.connect_failures,
    ),
];

/// Like [`PER_REACTOR`], in bytes (the name gets its `_bytes` suffix from the unit).
const PER_REACTOR_BYTES: &[PerReactor] = &[
    (
        "turbine_output_buffered",
        "Output waiting to be written, over all connections.",
        MetricType::Gauge,
        |s| s.output_buffered,
    ),
    (
        "turbine_output_peak",
        "The most output one connection has held at once.",
        MetricType::Gauge,
        |s| s.output_peak,
    ),
];

/// The TLS families, written when TLS is in use.
const TLS: &[PerReactor] = &[
    (
        "turbine_tls_handshakes",
        "TLS handshakes completed.",
        MetricType::Counter,
        |s| s.tls_handshakes,
    ),
    (
        "turbine_tls_handshake_failures",
        "TLS handshakes that failed or timed out.",
        MetricType::Counter,
        |s| s.tls_failures,
    ),
];

/// The PROXY protocol family, written when it is on.
const PROXY: &[PerReactor] = &[(
    "turbine_proxy_failures",
    "Connections closed before their PROXY header was read: untrusted address, malformed or \
     missing header.",
    MetricType::Counter,
    |s| s.proxy_failures,
)];

impl Collector for ServerFigures {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let stats = self.stats.snapshot();
        let reactors: Vec<String> = (0..stats.reactors.len()).map(|i| i.to_string()).collect();
        let figures = Figures {
            stats: &stats,
            reactors: &reactors,
        };
        figures.write(&mut encoder, PER_REACTOR, None)?;
        figures.write(&mut encoder, PER_REACTOR_BYTES, Some(&Unit::Bytes))?;
        figures.by_reason(
            &mut encoder,
            "turbine_connections_rejected",
            "Connections refused at accept, by reason.",
            RejectedBy::LABELS,
            |s| s.rejected_by.values().to_vec(),
        )?;
        figures.by_reason(
            &mut encoder,
            "turbine_connections_closed",
            "Connections closed, by reason.",
            ClosedBy::LABELS,
            |s| s.closed_by.values().to_vec(),
        )?;
        figures.loop_busy(&mut encoder)?;
        let total = stats.total();
        if self.tls || total.tls_handshakes + total.tls_failures > 0 {
            figures.write(&mut encoder, TLS, None)?;
        }
        if self.proxy {
            figures.write(&mut encoder, PROXY, None)?;
        }
        self.pool(&mut encoder)
    }
}

impl ServerFigures {
    /// The worker pool's families (one pool per server, so no reactor label).
    fn pool(&self, encoder: &mut DescriptorEncoder) -> fmt::Result {
        let pool = self.pool.stats().unwrap_or_default();
        let families: [(&str, &str, MetricType, u64); 7] = [
            (
                "turbine_pool_queued",
                "Offloaded jobs waiting for a worker.",
                MetricType::Gauge,
                pool.queued,
            ),
            (
                "turbine_pool_running",
                "Offloaded jobs running.",
                MetricType::Gauge,
                pool.running,
            ),
            (
                "turbine_pool_workers",
                "Worker threads alive (0 until the first offload starts the pool).",
                MetricType::Gauge,
                pool.workers,
            ),
            (
                "turbine_pool_completed",
                "Offloaded jobs that ran to their end.",
                MetricType::Counter,
                pool.completed,
            ),
            (
                "turbine_pool_rejected",
                "Offloaded jobs refused: the queue was full or the pool stopping.",
                MetricType::Counter,
                pool.rejected,
            ),
            (
                "turbine_pool_panicked",
                "Offloaded jobs that panicked.",
                MetricType::Counter,
                pool.panicked,
            ),
            (
                "turbine_pool_dropped",
                "Offloaded jobs dropped unrun at the shutdown deadline.",
                MetricType::Counter,
                pool.dropped,
            ),
        ];
        for (name, help, kind, value) in families {
            let metric = encoder.encode_descriptor(name, help, None, kind)?;
            encode_value(kind, value, metric)?;
        }
        Ok(())
    }
}

/// One scrape's stats, with each reactor's label value.
struct Figures<'a> {
    /// Every reactor's counters.
    stats: &'a Stats,
    /// `reactors[i]` is `i` as text.
    reactors: &'a [String],
}

impl Figures<'_> {
    /// Writes each family of `families`, one sample per reactor.
    fn write(
        &self,
        encoder: &mut DescriptorEncoder,
        families: &[PerReactor],
        unit: Option<&Unit>,
    ) -> fmt::Result {
        for &(name, help, kind, read) in families {
            let mut family = encoder.encode_descriptor(name, help, unit, kind)?;
            for (reactor, stats) in self.reactors.iter().zip(&self.stats.reactors) {
                let labels = [("reactor", reactor.as_str())];
                encode_value(kind, read(stats), family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }

    /// Writes a counter family with one sample per reactor and reason.
    fn by_reason(
        &self,
        encoder: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        labels: &[&'static str],
        read: fn(&ReactorStats) -> Vec<u64>,
    ) -> fmt::Result {
        let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
        for (reactor, stats) in self.reactors.iter().zip(&self.stats.reactors) {
            for (reason, count) in labels.iter().zip(read(stats)) {
                let labels: [(&str, Cow<'_, str>); 2] = [
                    ("reactor", Cow::Borrowed(reactor)),
                    ("reason", Cow::Borrowed(reason)),
                ];
                encode_value(MetricType::Counter, count, family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }

    /// Writes `turbine_loop_busy_seconds`, a histogram per reactor.
    fn loop_busy(&self, encoder: &mut DescriptorEncoder) -> fmt::Result {
        let mut family = encoder.encode_descriptor(
            "turbine_loop_busy",
            "Time a turn of the event loop spent between two polls (the loop's lag).",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        for (reactor, stats) in self.reactors.iter().zip(&self.stats.reactors) {
            let busy = &stats.loop_busy;
            let buckets: Vec<(f64, u64)> = busy
                .buckets()
                .map(|(bound, n)| (bound.map_or(f64::INFINITY, |b| b.as_secs_f64()), n))
                .collect();
            let labels = [("reactor", reactor.as_str())];
            family
                .encode_family(&labels)?
                .encode_histogram::<NoLabelSet>(
                    busy.sum().as_secs_f64(),
                    busy.count(),
                    &buckets,
                    None,
                )?;
        }
        Ok(())
    }
}

/// Writes `value` as a counter or a gauge.
fn encode_value(
    kind: MetricType,
    value: u64,
    metric: prometheus_client::encoding::MetricEncoder<'_>,
) -> fmt::Result {
    match kind {
        MetricType::Counter => ConstCounter::new(value).encode(metric),
        _ => ConstGauge::new(value).encode(metric),
    }
}
