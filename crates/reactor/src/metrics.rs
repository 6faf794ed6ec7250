//! Metrics for Prometheus: the [`Metrics`] registry every server has, the formats it is written
//! in ([`MetricsFormat`]), and the listener that serves it (`TURBINE_METRICS_ADDR`).
//!
//! The server's own figures cost the reactors nothing more than the stats they already keep:
//! a collector (`metrics/collector.rs`) reads the published [`Stats`](crate::Stats) and the
//! worker pool's counters when a scraper asks, and writes them as `turbine_*` families. A
//! program adds its own figures to the same registry. The endpoint (`metrics/endpoint.rs`) is
//! a handler like any other, on an HTTP/1.1 listener of the server's own reactors, so it is
//! bounded like every connection; the scraper's `Accept` header picks the format
//! (`metrics/negotiate.rs`).

mod collector;
mod endpoint;
mod negotiate;

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock, RwLockWriteGuard};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Metric, Registry};

pub(crate) use collector::ServerFigures;
pub(crate) use endpoint::Endpoint;

/// The format a scrape is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetricsFormat {
    /// The Prometheus text exposition format, version 0.0.4: what every scraper reads.
    Prometheus,
    /// OpenMetrics text 1.0: counters' `# TYPE` lines name the family without `_total`, units
    /// get a `# UNIT` line, and the text ends with `# EOF`.
    OpenMetrics,
}

impl MetricsFormat {
    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            MetricsFormat::Prometheus => "text/plain; version=0.0.4",
            MetricsFormat::OpenMetrics => "application/openmetrics-text; version=1.0.0",
        }
    }

    /// The format a request's `Accept` header asks for, chosen as Prometheus's own client
    /// libraries choose it: the media ranges in order of preference (`q`, then the more
    /// specific first), the first that is `application/openmetrics-text` (version 1.0.0,
    /// 0.0.1 or none) or `text/plain` (version 0.0.4 or none) wins; anything else, or no
    /// header, gets the Prometheus text format.
    ///
    /// # Examples
    ///
    /// ```
    /// use turbine_reactor::MetricsFormat;
    ///
    /// let prometheus = b"application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.2";
    /// assert_eq!(MetricsFormat::negotiate(Some(prometheus)), MetricsFormat::OpenMetrics);
    /// assert_eq!(MetricsFormat::negotiate(Some(b"*/*")), MetricsFormat::Prometheus);
    /// assert_eq!(MetricsFormat::negotiate(None), MetricsFormat::Prometheus);
    /// ```
    pub fn negotiate(accept: Option<&[u8]>) -> MetricsFormat {
        accept.map_or(MetricsFormat::Prometheus, negotiate::negotiate)
    }
}

/// A server's metrics registry: the server's own `turbine_*` figures and whatever the program
/// adds, served by the metrics listener (`TURBINE_METRICS_ADDR`); cheap to clone, usable from
/// any thread.
///
/// The registry is [`prometheus_client`]'s (re-exported from this crate, so a program names the
/// same version): a program registers its own metrics (counters and gauges are atomics, so
/// updating one takes no lock), collectors that read their figures when scraped, or
/// [`gauge_fn`](Metrics::gauge_fn) for a value it can compute. The lock is taken to register
/// and for each scrape, never by the server's own counting. As the crate requires, a counter
/// is registered without its `_total` suffix (the encoding adds it; a debug build panics on a
/// name that has it).
///
/// A scrape runs on a reactor thread (the one that accepted the scraper's connection), so
/// what a collector does must be quick: read counters, not walk large structures under a lock
/// that traffic needs.
///
/// # Examples
///
/// ```
/// use turbine_reactor::prometheus_client::metrics::counter::Counter;
/// use turbine_reactor::{Config, MetricsFormat, Server};
///
/// let server = Server::bind(Config::new().addr("127.0.0.1:0".parse().unwrap()))?;
/// let logins: Counter = Counter::default();
/// server.metrics().register("myapp_logins", "Logins accepted.", logins.clone());
/// server.metrics().gauge_fn("myapp_answer", "The answer.", || 42);
/// logins.inc(); // from any handler, any thread
///
/// let text = server.metrics().encode(MetricsFormat::Prometheus).unwrap();
/// assert!(text.contains("# TYPE myapp_logins_total counter\nmyapp_logins_total 1\n"));
/// assert!(text.contains("myapp_answer 42\n"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Metrics {
    /// The registry; written to register, read by each scrape.
    registry: Arc<RwLock<Registry>>,
}

impl Metrics {
    /// An empty registry (a server's has its own figures in it once it starts).
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `metric` as `name` with its `help` text (a period is added to it).
    pub fn register(&self, name: impl Into<String>, help: impl Into<String>, metric: impl Metric) {
        self.registry().register(name, help, metric);
    }

    /// Registers `collector`, called on each scrape to write its own families.
    pub fn register_collector(&self, collector: impl Collector) {
        self.registry().register_collector(Box::new(collector));
    }

    /// Registers a gauge whose value `read` computes on each scrape: a size the program keeps
    /// anyway (keys in a store, members in a room), with nothing to update on the hot path.
    pub fn gauge_fn(
        &self,
        name: impl Into<String>,
        help: impl Into<String>,
        read: impl Fn() -> i64 + Send + Sync + 'static,
    ) {
        self.register_collector(FnGauge {
            name: name.into(),
            help: help.into(),
            read: Box::new(read),
        });
    }

    /// The registry itself, locked for writing: for what the shortcuts above do not cover
    /// (units, sub-registries with a prefix or labels). Scrapes wait while it is held.
    pub fn registry(&self) -> RwLockWriteGuard<'_, Registry> {
        // A panic elsewhere while the lock was held leaves the registry usable.
        self.registry
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Every registered metric, written in `format`.
    ///
    /// # Errors
    ///
    /// A collector that failed to write itself.
    pub fn encode(&self, format: MetricsFormat) -> Result<String, fmt::Error> {
        let registry = self.registry.read().unwrap_or_else(PoisonError::into_inner);
        let mut text = String::new();
        match format {
            MetricsFormat::Prometheus => {
                prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)?;
            }
            MetricsFormat::OpenMetrics => {
                prometheus_client::encoding::text::encode(&mut text, &registry)?;
            }
        }
        Ok(text)
    }
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// A gauge computed at each scrape ([`Metrics::gauge_fn`]).
struct FnGauge {
    /// The family's name.
    name: String,
    /// Its help text.
    help: String,
    /// Computes the value.
    read: Box<dyn Fn() -> i64 + Send + Sync>,
}

impl fmt::Debug for FnGauge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnGauge").field("name", &self.name).finish()
    }
}

impl Collector for FnGauge {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let gauge = ConstGauge::new((self.read)());
        let help = format!("{}.", self.help.trim_end_matches('.'));
        gauge.encode(encoder.encode_descriptor(&self.name, &help, None, gauge.metric_type())?)
    }
}
