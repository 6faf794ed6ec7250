//! Every setting of a server, declared once: its field, type, default, variable, accepted
//! values and meaning.
//!
//! To add a setting, add one entry below; its builder, its variable, its bounds check, its
//! `Display` item and its rustdoc row follow, and the README test prints the table row to paste.
//! A check between settings (one bounded by another) is written by hand in
//! [`Config::validate`]. What `Config` does with the settings is in `config.rs`; the kinds of
//! values in `settings/kind.rs`.

mod declare;
mod grammar;
mod kind;
#[cfg(test)]
mod readme;
mod text_kinds;
mod unknown;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use turbine_pool::WorkerPriority;

use crate::{Cidr, ProxyProtocol};

use declare::declare_settings;
pub(crate) use declare::{Setting, Visit, VisitMut};
pub(crate) use grammar::render_duration;
pub use grammar::{parse_bool, parse_duration, parse_size};
pub(crate) use kind::Kind;
use kind::{Address, Choice, Count, Flag, OrOff, Size, Time};
use text_kinds::{CidrList, FilePath, NameList};
pub(crate) use unknown::unknown_variables;

/// The number of cores this process may run on, the default for threads per core.
fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One gibibyte, the usual ceiling of a size.
const GIB: usize = 1 << 30;

declare_settings! {
    /// How a server is set up: address, reactors, buffers, limits, socket options and
    /// timeouts.
    ///
    /// Fields are public to read; set them with the builder methods of the same name. Start
    /// from [`Config::new`] (the defaults under [Variables and defaults](#variables-and-defaults)) or [`Config::from_env`]
    /// (the defaults overridden by `TURBINE_*` variables), and adjust with the builder methods.
    /// The environment never overrides a builder call made after `from_env`; to give a program
    /// its own default that the environment may still override, set it before
    /// [`Config::with_env`]. The README's Configuration table lists what each variable accepts.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use turbine_reactor::Config;
    ///
    /// let config = Config::new()
    ///     .addr("127.0.0.1:0".parse().unwrap())
    ///     .reactors(2)
    ///     .idle_timeout(Some(Duration::from_secs(30)));
    /// assert!(config.validate().is_ok());
    /// ```
    #[derive(Debug, Clone, PartialEq, Eq)]
    #[non_exhaustive]
    pub struct Config {
        /// Address every reactor's listener binds; port 0 picks any free port.
        addr: SocketAddr = SocketAddr::from((Ipv4Addr::LOCALHOST, 7878)),
            shown "`127.0.0.1:7878`", var "TURBINE_ADDR", accepts Address;

        /// Number of reactor threads, each with its own listener.
        reactors: usize = available_cores(),
            shown "available cores", var "TURBINE_REACTORS", accepts Count::range(1, 1024);

        /// Whether reactor *i* is pinned to core *i* (modulo the cores available).
        pin_cores: bool = false,
            shown "`false`", var "TURBINE_PIN_CORES", accepts Flag;

        /// Listen backlog of each listener (the kernel caps it at `somaxconn`).
        backlog: u32 = 1024,
            shown "`1024`", var "TURBINE_BACKLOG", accepts Count::range(1, 65535);

        /// Open connections allowed across all reactors: one past it is closed as soon as it is
        /// accepted (after the protocol's `Handler::rejection` line), and the limit is lowered
        /// with a warning if `ulimit -n` cannot hold it.
        max_connections: usize = 10_000,
            shown "`10000`", var "TURBINE_MAX_CONNECTIONS",
            accepts Count::range(1, 10_000_000);

        /// Largest frame the codecs accept from a peer, in bytes.
        max_frame: usize = 64 << 10,
            shown "`64KiB`", var "TURBINE_MAX_FRAME", accepts Size::range(1, GIB);

        /// Largest frame the server's encoders write, in bytes; larger than `TURBINE_MAX_FRAME`
        /// by default so that a reply longer than its request is not refused.
        max_frame_out: usize = 8 << 20,
            shown "`8MiB`", var "TURBINE_MAX_FRAME_OUT", accepts Size::range(1, GIB);

        /// Size of each reactor's shared read buffer: the most one read takes.
        read_buffer: usize = 64 << 10,
            shown "`64KiB`", var "TURBINE_READ_BUFFER", accepts Size::range(1 << 10, 16 << 20);

        /// Output bytes above which reading from a connection pauses.
        write_high_watermark: usize = 64 << 10,
            shown "`64KiB`", var "TURBINE_WRITE_HIGH_WATERMARK", accepts Size::range(1, GIB);

        /// Output bytes below which a paused connection is read again; at most
        /// `TURBINE_WRITE_HIGH_WATERMARK`.
        write_low_watermark: usize = 32 << 10,
            shown "`32KiB`", var "TURBINE_WRITE_LOW_WATERMARK", accepts Size::ANY;

        /// Output bytes above which sends through a `ConnHandle` fail with `Full`; at least
        /// `TURBINE_WRITE_HIGH_WATERMARK`.
        write_limit: usize = 1 << 20,
            shown "`1MiB`", var "TURBINE_WRITE_LIMIT", accepts Size::range(1, GIB);

        /// Close a connection that has sent nothing for this long (a partner: neither read nor
        /// written).
        idle_timeout: Option<Duration> = None,
            shown "`off`", var "TURBINE_IDLE_TIMEOUT", accepts OrOff(Time);

        /// Close a connection whose unfinished frame is older than this (slow-loris defence).
        frame_timeout: Option<Duration> = Some(Duration::from_secs(30)),
            shown "`30s`", var "TURBINE_FRAME_TIMEOUT", accepts OrOff(Time);

        /// Close a connection whose pending output has not moved for this long (its peer
        /// stopped reading).
        write_timeout: Option<Duration> = Some(Duration::from_secs(60)),
            shown "`60s`", var "TURBINE_WRITE_TIMEOUT", accepts OrOff(Time);

        /// After our FIN, how long a closing connection reads and discards input while waiting
        /// for the peer's FIN; used only when unread input could otherwise turn the close into
        /// a reset.
        linger_timeout: Option<Duration> = Some(Duration::from_secs(2)),
            shown "`2s`", var "TURBINE_LINGER_TIMEOUT", accepts OrOff(Time);

        /// Open connections allowed from one IP address, counted across all reactors; 0 is no
        /// limit.
        max_connections_per_ip: usize = 0,
            shown "`0` (no limit)", var "TURBINE_MAX_CONNECTIONS_PER_IP",
            accepts Count::at_least(0);

        /// How long a graceful shutdown may take before connections are closed by force.
        shutdown_timeout: Duration = Duration::from_secs(25),
            shown "`25s`", var "TURBINE_SHUTDOWN_TIMEOUT", accepts Time;

        /// How long an outbound connect may take.
        connect_timeout: Duration = Duration::from_secs(5),
            shown "`5s`", var "TURBINE_CONNECT_TIMEOUT", accepts Time;

        /// Whether connections get `TCP_NODELAY` (replies leave at once, not batched by Nagle).
        nodelay: bool = true,
            shown "`true`", var "TURBINE_NODELAY", accepts Flag;

        /// `SO_SNDBUF` of each connection; off leaves the kernel's default.
        send_buffer: Option<usize> = None,
            shown "`off` (kernel default)", var "TURBINE_SEND_BUFFER",
            accepts OrOff(Size::range(1 << 10, GIB));

        /// `SO_RCVBUF` of each connection; off leaves the kernel's default.
        recv_buffer: Option<usize> = None,
            shown "`off` (kernel default)", var "TURBINE_RECV_BUFFER",
            accepts OrOff(Size::range(1 << 10, GIB));

        /// TCP keepalive: when set, it is on, with this idle time before the first probe.
        keepalive: Option<Duration> = None,
            shown "`off`", var "TURBINE_KEEPALIVE", accepts OrOff(Time);

        /// Time between keepalive probes; needs `TURBINE_KEEPALIVE`.
        keepalive_interval: Option<Duration> = None,
            shown "`off` (kernel default)", var "TURBINE_KEEPALIVE_INTERVAL",
            accepts OrOff(Time);

        /// Unanswered keepalive probes before the connection is dropped; needs
        /// `TURBINE_KEEPALIVE`.
        keepalive_count: Option<u32> = None,
            shown "`off` (kernel default)", var "TURBINE_KEEPALIVE_COUNT",
            accepts OrOff(Count::range(1, 127));

        /// PEM certificate chain: with `TURBINE_TLS_KEY`, the main listener speaks TLS.
        tls_cert: Option<PathBuf> = None,
            shown "`off`", var "TURBINE_TLS_CERT", accepts OrOff(FilePath);

        /// PEM private key (PKCS#8, RSA or SEC1) of the certificate in `TURBINE_TLS_CERT`.
        tls_key: Option<PathBuf> = None,
            shown "`off`", var "TURBINE_TLS_KEY", accepts OrOff(FilePath);

        /// How long a TLS handshake may take before the connection is closed.
        tls_handshake_timeout: Duration = Duration::from_secs(10),
            shown "`10s`", var "TURBINE_TLS_HANDSHAKE_TIMEOUT", accepts Time;

        /// Protocols offered by ALPN, in order of preference; the handler reads the one
        /// negotiated.
        tls_alpn: Vec<String> = Vec::new(),
            shown "`off`", var "TURBINE_TLS_ALPN", accepts NameList;

        /// Whether every connection must start with a PROXY protocol header (HAProxy's: `v1`
        /// text, `v2` binary, or `any`), whose client address the handler, the logs and the
        /// per-IP limit then use.
        proxy_protocol: ProxyProtocol = ProxyProtocol::Off,
            shown "`off`", var "TURBINE_PROXY_PROTOCOL",
            accepts Choice::<ProxyProtocol>::of(&["off", "v1", "v2", "any"]);

        /// With `TURBINE_PROXY_PROTOCOL`, the addresses that may send PROXY headers (the load
        /// balancers); a connection from any other is closed at once.
        proxy_trusted: Vec<Cidr> = Cidr::loopback(),
            shown "`127.0.0.0/8,::1/128`", var "TURBINE_PROXY_TRUSTED", accepts CidrList;

        /// Worker threads for `ctx.offload`, started on first use.
        workers: usize = available_cores(),
            shown "available cores", var "TURBINE_WORKERS", accepts Count::range(1, 1024);

        /// Offloaded jobs that may wait for a worker; past it `ctx.offload` answers `Busy` at
        /// once.
        worker_queue: usize = 1024,
            shown "`1024`", var "TURBINE_WORKER_QUEUE", accepts Count::range(1, 1 << 24);

        /// Scheduling priority of the workers: `low` is SCHED_BATCH + nice 10, `idle`
        /// SCHED_IDLE, so reactors win a core.
        worker_priority: WorkerPriority = WorkerPriority::Low,
            shown "`low`", var "TURBINE_WORKER_PRIORITY",
            accepts Choice::<WorkerPriority>::of(&["normal", "low", "idle"]);

        /// Address of the metrics listener, served by the reactors like any other listener: `GET
        /// /metrics` answers in the Prometheus text format 0.0.4, or OpenMetrics 1.0 when the
        /// scraper's `Accept` prefers it, and `GET /health` with `ok`; plain HTTP (no TLS, no
        /// PROXY header).
        metrics_addr: Option<SocketAddr> = None,
            shown "`off`", var "TURBINE_METRICS_ADDR", accepts OrOff(Address);
    }
}
