//! `Config`: every knob of a server, with its default and its bounds.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use turbine_pool::{PoolConfig, WorkerPriority};

/// How a server is set up: address, reactors, buffers, limits and timeouts.
///
/// Fields are public to read; set them with the builder methods of the same name. Start from
/// [`Config::new`] (the defaults below) or [`Config::from_env`] (the defaults
/// overridden by `TURBINE_*` variables), and adjust with the builder methods. The environment
/// never overrides a builder call made after `from_env`; to give a program its own default that
/// the environment may still override, set it before [`Config::with_env`].
///
/// | builder | variable | default |
/// |---|---|---|
/// | [`addr`](Config::addr) | `TURBINE_ADDR` | `127.0.0.1:7878` |
/// | [`reactors`](Config::reactors) | `TURBINE_REACTORS` | available cores |
/// | [`pin_cores`](Config::pin_cores) | `TURBINE_PIN_CORES` | `false` |
/// | [`backlog`](Config::backlog) | `TURBINE_BACKLOG` | 1024 |
/// | [`max_connections`](Config::max_connections) | `TURBINE_MAX_CONNECTIONS` | 10000 |
/// | [`max_frame`](Config::max_frame) | `TURBINE_MAX_FRAME` | 64 KiB |
/// | [`read_buffer`](Config::read_buffer) | `TURBINE_READ_BUFFER` | 64 KiB |
/// | [`write_high_watermark`](Config::write_high_watermark) | `TURBINE_WRITE_HIGH_WATERMARK` | 64 KiB |
/// | [`write_low_watermark`](Config::write_low_watermark) | `TURBINE_WRITE_LOW_WATERMARK` | 32 KiB |
/// | [`write_limit`](Config::write_limit) | `TURBINE_WRITE_LIMIT` | 1 MiB |
/// | [`idle_timeout`](Config::idle_timeout) | `TURBINE_IDLE_TIMEOUT` | off |
/// | [`frame_timeout`](Config::frame_timeout) | `TURBINE_FRAME_TIMEOUT` | 30 s |
/// | [`write_timeout`](Config::write_timeout) | `TURBINE_WRITE_TIMEOUT` | 60 s |
/// | [`max_connections_per_ip`](Config::max_connections_per_ip) | `TURBINE_MAX_CONNECTIONS_PER_IP` | off |
/// | [`shutdown_timeout`](Config::shutdown_timeout) | `TURBINE_SHUTDOWN_TIMEOUT` | 25 s |
/// | [`nodelay`](Config::nodelay) | `TURBINE_NODELAY` | `true` |
/// | [`workers`](Config::workers) | `TURBINE_WORKERS` | available cores |
/// | [`worker_queue`](Config::worker_queue) | `TURBINE_WORKER_QUEUE` | 1024 |
/// | [`worker_priority`](Config::worker_priority) | `TURBINE_WORKER_PRIORITY` | `low` |
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
    /// Address every reactor's listener binds.
    pub addr: SocketAddr,
    /// Number of reactor threads, each with its own listener.
    pub reactors: usize,
    /// Whether reactor `i` is pinned to core `i`.
    pub pin_cores: bool,
    /// Listen backlog of each listener.
    pub backlog: u32,
    /// Open connections allowed across all reactors.
    pub max_connections: usize,
    /// Largest frame the codecs accept, in bytes.
    pub max_frame: usize,
    /// Size of each reactor's shared read buffer, and the most one read takes.
    pub read_buffer: usize,
    /// Output bytes above which reading from a connection pauses.
    pub write_high_watermark: usize,
    /// Output bytes below which a paused connection reads again.
    pub write_low_watermark: usize,
    /// Output bytes above which sends through a `ConnHandle` fail.
    pub write_limit: usize,
    /// Close a connection that has sent nothing for this long.
    pub idle_timeout: Option<Duration>,
    /// Close a connection whose unfinished frame is older than this (slow-loris defence).
    pub frame_timeout: Option<Duration>,
    /// Close a connection whose pending output has not moved for this long.
    pub write_timeout: Option<Duration>,
    /// Open connections allowed from one IP address across all reactors; 0 is no limit.
    pub max_connections_per_ip: usize,
    /// How long a graceful shutdown may take before connections are closed by force.
    pub shutdown_timeout: Duration,
    /// Whether accepted sockets get `TCP_NODELAY`.
    pub nodelay: bool,
    /// Worker threads for [`Context::offload`](crate::Context::offload); started on first use.
    pub workers: usize,
    /// Offloaded jobs that may wait for a worker; more are refused as busy.
    pub worker_queue: usize,
    /// Scheduling priority of the workers, relative to the reactors.
    pub worker_priority: WorkerPriority,
}

/// Bounds the configuration accepts, shared by the validation and the error messages.
pub(crate) mod bounds {
    pub const REACTORS: (usize, usize) = (1, 1024);
    pub const BACKLOG: (u32, u32) = (1, 65535);
    pub const MAX_CONNECTIONS: (usize, usize) = (1, 10_000_000);
    pub const MAX_FRAME: (usize, usize) = (1, 1 << 30);
    pub const READ_BUFFER: (usize, usize) = (1 << 10, 16 << 20);
    pub const WRITE_SIZE: (usize, usize) = (1, 1 << 30);
    pub const WORKERS: (usize, usize) = (1, 1024);
    pub const WORKER_QUEUE: (usize, usize) = (1, 1 << 24);
}

impl Config {
    /// The defaults listed on [`Config`], ignoring the environment.
    pub fn new() -> Self {
        Config {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 7878)),
            reactors: std::thread::available_parallelism().map_or(1, |n| n.get()),
            pin_cores: false,
            backlog: 1024,
            max_connections: 10_000,
            max_frame: 64 << 10,
            read_buffer: 64 << 10,
            write_high_watermark: 64 << 10,
            write_low_watermark: 32 << 10,
            write_limit: 1 << 20,
            idle_timeout: None,
            frame_timeout: Some(Duration::from_secs(30)),
            write_timeout: Some(Duration::from_secs(60)),
            max_connections_per_ip: 0,
            shutdown_timeout: Duration::from_secs(25),
            nodelay: true,
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            worker_queue: 1024,
            worker_priority: WorkerPriority::Low,
        }
    }

    /// The defaults, overridden by every `TURBINE_*` variable that is set, then validated.
    ///
    /// # Errors
    ///
    /// A variable that does not parse or is out of bounds, or a combination that
    /// [`validate`](Config::validate) rejects; the error names the variable, its value and what
    /// is accepted.
    pub fn from_env() -> Result<Self, ConfigError> {
        Config::new().with_env()
    }

    /// Sets the listening address.
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Sets the number of reactor threads (at least 1).
    pub fn reactors(mut self, n: usize) -> Self {
        self.reactors = n;
        self
    }

    /// Pins reactor `i` to core `i` (modulo the cores available) when `true`.
    pub fn pin_cores(mut self, pin: bool) -> Self {
        self.pin_cores = pin;
        self
    }

    /// Sets the listen backlog of each listener (the kernel caps it at `somaxconn`).
    pub fn backlog(mut self, backlog: u32) -> Self {
        self.backlog = backlog;
        self
    }

    /// Sets how many connections may be open at once across all reactors; a connection past it
    /// is closed as soon as it is accepted.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// Sets the largest frame the codecs accept, in bytes.
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.max_frame = bytes;
        self
    }

    /// Sets the size of each reactor's shared read buffer: the most one `read` call takes.
    pub fn read_buffer(mut self, bytes: usize) -> Self {
        self.read_buffer = bytes;
        self
    }

    /// Sets the output size above which the reactor stops reading from a connection.
    pub fn write_high_watermark(mut self, bytes: usize) -> Self {
        self.write_high_watermark = bytes;
        self
    }

    /// Sets the output size below which a paused connection is read again.
    pub fn write_low_watermark(mut self, bytes: usize) -> Self {
        self.write_low_watermark = bytes;
        self
    }

    /// Sets the hard cap on a connection's output: sends through a
    /// [`ConnHandle`](crate::ConnHandle) fail above it.
    pub fn write_limit(mut self, bytes: usize) -> Self {
        self.write_limit = bytes;
        self
    }

    /// Closes a connection after this long without receiving a byte; `None` never does.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Closes a connection whose unfinished frame has been waiting this long for the rest of
    /// its bytes (a peer trickling a frame byte by byte); `None` never does.
    pub fn frame_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.frame_timeout = timeout;
        self
    }

    /// Closes a connection whose pending output has not moved for this long (its peer stopped
    /// reading); `None` never does.
    pub fn write_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// Limits open connections from one IP address, counted across all reactors; 0 is no
    /// limit. A connection past it is closed as soon as it is accepted.
    pub fn max_connections_per_ip(mut self, n: usize) -> Self {
        self.max_connections_per_ip = n;
        self
    }

    /// Sets how long a graceful shutdown waits for output to drain before closing by force.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Sets `TCP_NODELAY` on accepted sockets (replies leave at once, not batched by Nagle).
    pub fn nodelay(mut self, nodelay: bool) -> Self {
        self.nodelay = nodelay;
        self
    }

    /// Sets the number of worker threads that run offloaded jobs (at least 1).
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// Sets how many offloaded jobs may wait for a worker; past it
    /// [`Context::offload`](crate::Context::offload) answers busy at once.
    pub fn worker_queue(mut self, n: usize) -> Self {
        self.worker_queue = n;
        self
    }

    /// Sets the workers' scheduling priority.
    pub fn worker_priority(mut self, priority: WorkerPriority) -> Self {
        self.worker_priority = priority;
        self
    }

    /// The worker pool's configuration.
    pub(crate) fn pool_config(&self) -> PoolConfig {
        PoolConfig::new()
            .workers(self.workers)
            .queue(self.worker_queue)
            .priority(self.worker_priority)
    }

    /// Checks every value against its bounds and the watermarks against each other.
    ///
    /// # Errors
    ///
    /// The first value out of bounds, named by its environment variable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        use bounds::*;
        check_range("TURBINE_REACTORS", self.reactors, REACTORS)?;
        check_range("TURBINE_BACKLOG", self.backlog, BACKLOG)?;
        check_range(
            "TURBINE_MAX_CONNECTIONS",
            self.max_connections,
            MAX_CONNECTIONS,
        )?;
        check_range("TURBINE_MAX_FRAME", self.max_frame, MAX_FRAME)?;
        check_range("TURBINE_READ_BUFFER", self.read_buffer, READ_BUFFER)?;
        check_range("TURBINE_WORKERS", self.workers, WORKERS)?;
        check_range("TURBINE_WORKER_QUEUE", self.worker_queue, WORKER_QUEUE)?;
        let high = self.write_high_watermark;
        let low = self.write_low_watermark;
        check_range("TURBINE_WRITE_HIGH_WATERMARK", high, WRITE_SIZE)?;
        check_range("TURBINE_WRITE_LIMIT", self.write_limit, WRITE_SIZE)?;
        if low > high {
            return Err(ConfigError::new(
                "TURBINE_WRITE_LOW_WATERMARK",
                low.to_string(),
                format!("a size no larger than TURBINE_WRITE_HIGH_WATERMARK ({high})"),
            ));
        }
        if self.write_limit < high {
            return Err(ConfigError::new(
                "TURBINE_WRITE_LIMIT",
                self.write_limit.to_string(),
                format!("a size no smaller than TURBINE_WRITE_HIGH_WATERMARK ({high})"),
            ));
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

fn check_range<T: PartialOrd + fmt::Display>(
    var: &'static str,
    value: T,
    (min, max): (T, T),
) -> Result<(), ConfigError> {
    if value < min || value > max {
        return Err(ConfigError::new(
            var,
            value.to_string(),
            format!("a value from {min} to {max}"),
        ));
    }
    Ok(())
}

impl fmt::Display for Config {
    /// One line with every effective setting, for the start-up log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let off = |t: Option<Duration>| t.map_or("off".to_string(), |d| format!("{d:?}"));
        write!(
            f,
            "addr={} reactors={} pin_cores={} backlog={} max_connections={} max_frame={} \
             read_buffer={} write_high_watermark={} write_low_watermark={} write_limit={} \
             idle_timeout={} frame_timeout={} write_timeout={} max_connections_per_ip={} \
             shutdown_timeout={:?} nodelay={} workers={} worker_queue={} worker_priority={}",
            self.addr,
            self.reactors,
            self.pin_cores,
            self.backlog,
            self.max_connections,
            self.max_frame,
            self.read_buffer,
            self.write_high_watermark,
            self.write_low_watermark,
            self.write_limit,
            off(self.idle_timeout),
            off(self.frame_timeout),
            off(self.write_timeout),
            self.max_connections_per_ip,
            self.shutdown_timeout,
            self.nodelay,
            self.workers,
            self.worker_queue,
            self.worker_priority,
        )
    }
}

/// A configuration value that was refused: which variable, what it held, what is accepted.
///
/// Its `Display` is the message a program prints before it exits with code 2, for example
/// `TURBINE_REACTORS="0": expected a value from 1 to 1024`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The environment variable (or, for a builder value, the variable it corresponds to).
    pub var: &'static str,
    /// The refused value as given.
    pub value: String,
    /// What the variable accepts.
    pub expected: String,
}

impl ConfigError {
    /// An error for `var`, which held `value`; `expected` says what it accepts. For a program's
    /// own settings, so its messages read like Turbine's.
    pub fn new(var: &'static str, value: String, expected: impl Into<String>) -> Self {
        ConfigError {
            var,
            value,
            expected: expected.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={:?}: expected {}",
            self.var, self.value, self.expected
        )
    }
}

impl std::error::Error for ConfigError {}
