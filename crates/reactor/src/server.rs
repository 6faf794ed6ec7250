//! `Server`: binds one listener per reactor and runs the reactor threads.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::thread::JoinHandle;
use std::time::Duration;

use mio::net::TcpListener;
use mio::{Interest, Poll, Waker};

use crate::limits::{self, IpCounts};
use crate::mailbox::Mailbox;
use crate::offload::PoolCell;
use crate::periodic::Task;
use crate::reactor::{Env, LISTENER, Parts, Reactor, WAKER};
use crate::{Config, Handler, PoolStats, ShutdownHandle, Stats, StatsHandle, listener};

/// A bound server: N listeners on one address, not yet serving.
///
/// [`bind`](Server::bind) does everything that can fail before any thread starts (validating
/// the configuration, binding the listeners, creating each reactor's `epoll` instance), so a
/// program learns of a bad address or a port in use at once. With port 0 the first listener
/// gets a port from the kernel and the others bind the same one; [`local_addr`](Server::local_addr)
/// tells which.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use turbine_reactor::{Config, Context, Handler, Server};
/// use turbine_codec::RawCodec;
///
/// struct Echo;
///
/// impl Handler for Echo {
///     type Codec = RawCodec;
///
///     fn codec(&mut self, _config: &Config) -> RawCodec {
///         RawCodec::new()
///     }
///
///     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, bytes: Vec<u8>) {
///         ctx.send(bytes);
///     }
/// }
///
/// let config = Config::new().addr("127.0.0.1:0".parse().unwrap()).reactors(2);
/// let server = Server::bind(config)?.start(|_peer| Echo)?;
///
/// let mut client = std::net::TcpStream::connect(server.local_addr())?;
/// client.write_all(b"ping")?;
/// let mut reply = [0; 4];
/// client.read_exact(&mut reply)?;
/// assert_eq!(&reply, b"ping");
/// drop(client);
///
/// server.shutdown()?; // graceful: flushes, closes, joins the reactor threads
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Server {
    /// The validated configuration, with the address actually bound.
    config: Arc<Config>,
    /// Each reactor's poll instance with its listener registered.
    reactors: Vec<(Poll, TcpListener, Arc<Waker>)>,
    /// Stops the server; also held by the signal watcher.
    shutdown: ShutdownHandle,
    /// Each reactor's published counters.
    stats: StatsHandle,
    /// Tasks every reactor runs periodically.
    periodic: Vec<(Duration, Task)>,
}

impl Server {
    /// Validates `config` and binds one listener per reactor.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a configuration that [`Config::validate`] refuses; `AddrInUse` if
    /// anything, another copy of this server included, already listens on the address (the
    /// listeners share the port among themselves only); otherwise the error from `socket`,
    /// `bind` or `listen`, or from creating the `epoll` instance.
    pub fn bind(config: Config) -> io::Result<Server> {
        config
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        listener::ensure_free(config.addr)?;
        let mut config = config;
        fit_descriptor_budget(&mut config);
        let mut reactors = Vec::with_capacity(config.reactors);
        for _ in 0..config.reactors {
            let mut listener = listener::bind(config.addr, config.backlog)?;
            // With port 0 the first bind picks the port; the other reactors must share it.
            config.addr = listener.local_addr()?;
            let poll = Poll::new()?;
            poll.registry()
                .register(&mut listener, LISTENER, Interest::READABLE)?;
            let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
            reactors.push((poll, listener, waker));
        }
        log::info!("configuration: {config}");
        log::info!(
            "listening on {} with {} reactors",
            config.addr,
            config.reactors
        );
        let wakers = reactors.iter().map(|(_, _, w)| Arc::clone(w)).collect();
        Ok(Server {
            shutdown: ShutdownHandle::new(wakers),
            stats: StatsHandle::new(config.reactors),
            config: Arc::new(config),
            reactors,
            periodic: Vec::new(),
        })
    }

    /// The address the listeners are bound to (with the port the kernel chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.config.addr
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A handle that shuts the server down from any thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// A handle that reads the server's stats from any thread.
    pub fn stats_handle(&self) -> StatsHandle {
        self.stats.clone()
    }

    /// Runs `task` on every reactor thread every `period`, with the reactor's index, between
    /// two turns of its loop: housekeeping such as expiring keys a reactor owns or sampling.
    /// The task runs on the event loop, so it must be short; a reactor that is late skips the
    /// runs it missed instead of catching up.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use turbine_reactor::{Config, Server};
    ///
    /// let config = Config::new().addr("127.0.0.1:0".parse().unwrap()).reactors(1);
    /// let server = Server::bind(config)?.every(Duration::from_millis(100), |reactor| {
    ///     log::trace!("reactor {reactor}: housekeeping");
    /// });
    /// # let _ = server;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn every(mut self, period: Duration, task: impl Fn(usize) + Send + Sync + 'static) -> Self {
        self.periodic
            .push((period.max(Duration::from_millis(1)), Arc::new(task)));
        self
    }

    /// Starts the reactor threads (`turbine-reactor-0`, ...) and returns at once.
    ///
    /// `factory` is called on a reactor thread for each accepted connection, with the peer's
    /// address, and returns that connection's handler.
    ///
    /// # Errors
    ///
    /// A thread could not be spawned; the threads already started are shut down.
    pub fn start<H, F>(self, factory: F) -> io::Result<Running>
    where
        H: Handler,
        F: Fn(SocketAddr) -> H + Send + Sync + 'static,
    {
        let factory = Arc::new(factory);
        let pool = PoolCell::new(self.config.pool_config());
        let open_total = Arc::new(AtomicUsize::new(0));
        let ip_counts = Arc::new(IpCounts::default());
        let cores = if self.config.pin_cores {
            core_affinity::get_core_ids().unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut running = Running {
            local_addr: self.config.addr,
            shutdown: self.shutdown.clone(),
            stats: self.stats.clone(),
            pool: Arc::clone(&pool),
            threads: Vec::new(),
        };
        for (index, (poll, listener, waker)) in self.reactors.into_iter().enumerate() {
            let (mailbox, inbox) = Mailbox::new(waker);
            let parts = Parts {
                poll,
                listener,
                env: Env {
                    index,
                    mailbox,
                    config: Arc::clone(&self.config),
                    pool: Arc::clone(&pool),
                },
                inbox,
                factory: Arc::clone(&factory),
                stats: self.stats.clone(),
                shutdown: self.shutdown.clone(),
                open_total: Arc::clone(&open_total),
                ip_counts: Arc::clone(&ip_counts),
                periodic: self.periodic.clone(),
            };
            let core = (!cores.is_empty()).then(|| cores[index % cores.len()]);
            let thread = std::thread::Builder::new()
                .name(format!("turbine-reactor-{index}"))
                .spawn(move || {
                    if let Some(core) = core {
                        if !core_affinity::set_for_current(core) {
                            log::warn!("reactor {index}: could not pin to core {}", core.id);
                        }
                    }
                    Reactor::new(parts).run()
                });
            match thread {
                Ok(thread) => running.threads.push(thread),
                Err(e) => return Err(e), // `running` drops: shuts down the started threads
            }
        }
        Ok(running)
    }

    /// Starts the reactors and blocks until they have shut down.
    ///
    /// # Errors
    ///
    /// See [`start`](Server::start) and [`Running::join`].
    pub fn run<H, F>(self, factory: F) -> io::Result<()>
    where
        H: Handler,
        F: Fn(SocketAddr) -> H + Send + Sync + 'static,
    {
        self.start(factory)?.join()
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.config)
            .finish()
    }
}

/// A server whose reactors are running.
///
/// Dropping it shuts the server down gracefully and waits for the reactor threads, so a test
/// that panics midway still stops its server.
pub struct Running {
    /// Where the listeners are bound.
    local_addr: SocketAddr,
    /// Stops the reactors.
    shutdown: ShutdownHandle,
    /// Reads their stats.
    stats: StatsHandle,
    /// The worker pool, stopped once the reactors have.
    pool: Arc<PoolCell>,
    /// The reactor threads; empty once joined.
    threads: Vec<JoinHandle<io::Result<()>>>,
}

impl Running {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Every reactor's counters now.
    pub fn stats(&self) -> Stats {
        self.stats.snapshot()
    }

    /// A handle that reads the stats from any thread.
    pub fn stats_handle(&self) -> StatsHandle {
        self.stats.clone()
    }

    /// The worker pool's counters, once the first offload has started it.
    pub fn pool_stats(&self) -> Option<PoolStats> {
        self.pool.stats()
    }

    /// A handle that shuts the server down from any thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Starts a graceful shutdown and waits for it to finish.
    ///
    /// # Errors
    ///
    /// See [`join`](Running::join).
    pub fn shutdown(self) -> io::Result<()> {
        self.shutdown.shutdown();
        self.join()
    }

    /// Waits until every reactor has stopped (after a shutdown was requested somewhere).
    ///
    /// # Errors
    ///
    /// The first error a reactor stopped with (a failing `epoll_wait`), or `Other` if a reactor
    /// thread panicked.
    pub fn join(mut self) -> io::Result<()> {
        self.join_threads()
    }

    fn join_threads(&mut self) -> io::Result<()> {
        let mut result = Ok(());
        for thread in self.threads.drain(..) {
            let outcome = thread
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("a reactor thread panicked")));
            if let Err(e) = outcome {
                // Stop the others too, then report the first failure.
                self.shutdown.shutdown();
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
        // Every connection is closed: jobs still queued have nobody to answer.
        self.pool.shutdown(Duration::ZERO);
        result
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.shutdown.shutdown();
            let _ = self.join_threads();
        }
    }
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("local_addr", &self.local_addr)
            .field("reactors", &self.threads.len())
            .finish()
    }
}

/// Lowers `max_connections` to what the open-file limit can hold, with a warning that says so
/// (as Redis does with `maxclients`): better a clear cap than `EMFILE` at accept.
fn fit_descriptor_budget(config: &mut Config) {
    let Some(limit) = limits::open_file_limit() else {
        return;
    };
    let reserved = limits::reserved_descriptors(config.reactors);
    let fits = limit.saturating_sub(reserved).max(1);
    if config.max_connections > fits {
        log::warn!(
            "TURBINE_MAX_CONNECTIONS={} does not fit the open-file limit ({limit}, {reserved} \
             kept for the server): lowered to {fits}; raise `ulimit -n` for more",
            config.max_connections
        );
        config.max_connections = fits;
    }
}
