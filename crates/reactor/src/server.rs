//! `Server`: binds the listeners (one socket per reactor each) and runs the reactor threads.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::Receiver;
use mio::net::TcpListener;
use mio::{Interest, Poll, Token, Waker};

use crate::connector::Command as ConnectorCommand;
use crate::limits::{self, Limits};
use crate::mailbox::Bell;
use crate::metrics::{Endpoint, ServerFigures};
use crate::offload::PoolCell;
use crate::periodic::Task;
use crate::reactor::{Accept, Acceptor, FIRST_LISTENER, Reactor, Setup, WAKER};
use crate::tls::TlsFiles;
use crate::{
    Config, Connector, Handler, Metrics, PoolStats, ShutdownHandle, Stats, StatsHandle, listener,
};

/// One address the server listens on: a socket per reactor, and the handler its connections
/// get.
struct Listener {
    /// The bound address (with the port the kernel chose for port 0).
    addr: SocketAddr,
    /// One socket per reactor, registered with that reactor's poll.
    sockets: Vec<TcpListener>,
    /// Makes its connections; the main listener's is given at `start`.
    acceptor: Option<Arc<dyn Accept>>,
    /// TLS for its connections, if it speaks TLS.
    tls: Option<Arc<rustls::ServerConfig>>,
    /// Whether it is the metrics listener (`TURBINE_METRICS_ADDR`): plain HTTP, never a PROXY
    /// header, and not among [`Server::local_addrs`].
    metrics: bool,
}

/// A bound server: listeners on one or more addresses, not yet serving.
///
/// [`bind`](Server::bind) does everything that can fail before any thread starts (validating
/// the configuration, binding the main listener on `config.addr`, creating each reactor's
/// `epoll` instance), so a program learns of a bad address or a port in use at once;
/// [`listen`](Server::listen) adds more listeners, each with its own handler type (a protocol
/// port and an admin port, say). Every reactor serves every listener, each with its own
/// SO_REUSEPORT socket; one shutdown stops them all. With port 0 the first socket of a
/// listener gets a port from the kernel and the others bind the same one;
/// [`local_addrs`](Server::local_addrs) tells which.
///
/// With `TURBINE_METRICS_ADDR` set, `bind` also binds the metrics listener, served by the same
/// reactors ([`metrics_addr`](Server::metrics_addr) tells where); [`metrics`](Server::metrics)
/// is the registry it serves, where a program adds its own figures.
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
/// server.shutdown()?; // graceful: drains, closes, joins the reactor threads
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Server {
    /// The validated configuration, with the main listener's address as bound.
    config: Arc<Config>,
    /// Each reactor's poll instance (listeners and waker registered) and bell.
    reactors: Vec<(Poll, Arc<Bell>)>,
    /// The listeners; the first is the main one, on `config.addr`.
    listeners: Vec<Listener>,
    /// Stops the server; also held by the signal watcher.
    shutdown: ShutdownHandle,
    /// Each reactor's published counters.
    stats: StatsHandle,
    /// Tasks every reactor runs periodically.
    periodic: Vec<(Duration, Task)>,
    /// The main listener's certificate files (`TURBINE_TLS_*`), which SIGHUP reloads.
    tls_files: Option<TlsFiles>,
    /// Opens outbound connections on the reactors; made at `bind` so that setup code can hold
    /// one before the reactors start.
    connector: Connector,
    /// Each reactor's end of the connector's command queues, handed over at `start`.
    commands: Vec<Receiver<ConnectorCommand>>,
    /// The worker pool, started by the first offload.
    pool: Arc<PoolCell>,
    /// The metrics registry, the server's own figures in it from `start`.
    metrics: Metrics,
}

impl Server {
    /// Validates `config` and binds the main listener (`config.addr`), one socket per reactor.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a configuration that [`Config::validate`] refuses, or TLS files
    /// (`TURBINE_TLS_CERT`, `TURBINE_TLS_KEY`) that cannot be read, do not parse or do not
    /// match (the error's inner value is the [`ConfigError`](crate::ConfigError) naming the
    /// variable); `AddrInUse` if
    /// anything, another copy of this server included, already listens on the address (the
    /// reactors share the port among themselves only), or on the metrics address (the error
    /// then names it); otherwise the error from `socket`, `bind` or `listen`, or from creating
    /// the `epoll` instance.
    pub fn bind(config: Config) -> io::Result<Server> {
        config
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let tls_files =
            TlsFiles::load(&config).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let mut config = config;
        fit_descriptor_budget(&mut config);
        let mut reactors = Vec::with_capacity(config.reactors);
        for _ in 0..config.reactors {
            let poll = Poll::new()?;
            let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
            reactors.push((poll, Bell::new(waker)));
        }
        let wakers = reactors.iter().map(|(_, bell)| bell.waker()).collect();
        let (senders, commands): (Vec<_>, Vec<_>) = reactors
            .iter()
            .map(|(_, bell)| {
                let (tx, rx) = crossbeam_channel::unbounded();
                ((tx, Arc::clone(bell)), rx)
            })
            .unzip();
        let pool = PoolCell::new(config.pool_config());
        let mut server = Server {
            shutdown: ShutdownHandle::new(wakers),
            stats: StatsHandle::new(config.reactors),
            reactors,
            listeners: Vec::new(),
            periodic: Vec::new(),
            config: Arc::new(config),
            tls_files,
            connector: Connector::new(senders),
            commands,
            pool,
            metrics: Metrics::new(),
        };
        let tls = server
            .tls_files
            .as_ref()
            .map(|files| Arc::clone(files.server()));
        let addr = server.add_listener(server.config.addr, None, tls)?;
        Arc::make_mut(&mut server.config).addr = addr;
        log::info!("configuration: {}", server.config);
        log::info!(
            "listening on {addr} with {} reactors",
            server.config.reactors
        );
        if let Some(wanted) = server.config.metrics_addr {
            let metrics = server.metrics.clone();
            let endpoint = Acceptor::new(move |_peer| Endpoint::new(metrics.clone()));
            let bound = server
                .add_listener(wanted, Some(Arc::new(endpoint)), None)
                .map_err(|e| io::Error::new(e.kind(), format!("metrics listener {wanted}: {e}")))?;
            server.listeners.last_mut().expect("just added").metrics = true;
            log::info!("metrics on http://{bound}/metrics");
        }
        Ok(server)
    }

    /// Binds one more listener on `addr`, whose connections get handlers from `factory`: its
    /// own handler type, on the same reactors as the others, under the same shutdown and the
    /// same connection caps.
    ///
    /// # Errors
    ///
    /// As for [`bind`](Server::bind): `AddrInUse` if anything already listens there, or the
    /// error from `socket`, `bind`, `listen` or registering with a reactor.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{BufRead, BufReader, Write};
    /// use turbine_reactor::{Config, Context, Handler, Server};
    /// use turbine_codec::LinesCodec;
    ///
    /// /// The protocol port: echoes lines.
    /// struct Echo;
    /// /// The admin port: answers `conns` with the connections open on its reactor.
    /// struct Admin;
    ///
    /// impl Handler for Echo {
    ///     type Codec = LinesCodec;
    ///     fn codec(&mut self, config: &Config) -> LinesCodec {
    ///         LinesCodec::new(config.frame_limits())
    ///     }
    ///     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
    ///         ctx.send(line);
    ///     }
    /// }
    ///
    /// impl Handler for Admin {
    ///     type Codec = LinesCodec;
    ///     fn codec(&mut self, config: &Config) -> LinesCodec {
    ///         LinesCodec::new(config.frame_limits())
    ///     }
    ///     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
    ///         match line.as_str() {
    ///             "ping" => ctx.send("pong"),
    ///             _ => ctx.send("unknown"),
    ///         }
    ///     }
    /// }
    ///
    /// let config = Config::new().addr("127.0.0.1:0".parse().unwrap()).reactors(1);
    /// let server = Server::bind(config)?
    ///     .listen("127.0.0.1:0".parse().unwrap(), |_peer| Admin)?;
    /// let [_, admin] = server.local_addrs()[..] else { unreachable!() };
    /// let running = server.start(|_peer| Echo)?;
    ///
    /// let mut client = std::net::TcpStream::connect(admin)?;
    /// client.write_all(b"ping\n")?;
    /// let mut reply = String::new();
    /// BufReader::new(&client).read_line(&mut reply)?;
    /// assert_eq!(reply, "pong\n");
    /// drop(client);
    /// running.shutdown()?; // stops both listeners
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn listen<H, F>(mut self, addr: SocketAddr, factory: F) -> io::Result<Server>
    where
        H: Handler,
        F: Fn(SocketAddr) -> H + Send + Sync + 'static,
    {
        let acceptor: Arc<dyn Accept> = Arc::new(Acceptor::new(factory));
        let addr = self.add_listener(addr, Some(acceptor), None)?;
        log::info!("also listening on {addr}");
        Ok(self)
    }

    /// [`listen`](Server::listen), with TLS from `tls` on that listener.
    ///
    /// # Errors
    ///
    /// As for [`listen`](Server::listen).
    pub fn listen_tls<H, F>(
        mut self,
        addr: SocketAddr,
        tls: Arc<rustls::ServerConfig>,
        factory: F,
    ) -> io::Result<Server>
    where
        H: Handler,
        F: Fn(SocketAddr) -> H + Send + Sync + 'static,
    {
        let acceptor: Arc<dyn Accept> = Arc::new(Acceptor::new(factory));
        let addr = self.add_listener(addr, Some(acceptor), Some(tls))?;
        log::info!("also listening on {addr} (TLS)");
        Ok(self)
    }

    /// Makes the main listener speak TLS with `tls`, a rustls configuration the program built
    /// itself (client certificates, its own certificate resolver, session tickets...), instead
    /// of the one `TURBINE_TLS_CERT` and `TURBINE_TLS_KEY` describe (SIGHUP then reloads
    /// nothing: the program's resolver decides what to serve). Its ALPN list is the program's
    /// too.
    pub fn with_tls(mut self, tls: Arc<rustls::ServerConfig>) -> Self {
        self.listeners[0].tls = Some(tls);
        self.tls_files = None;
        self
    }

    /// The certificate files SIGHUP reloads, if the main listener's TLS comes from them.
    pub(crate) fn tls_files(&self) -> Option<TlsFiles> {
        self.tls_files.clone()
    }

    /// Binds a listener's socket on every reactor and registers them; returns the address.
    fn add_listener(
        &mut self,
        addr: SocketAddr,
        acceptor: Option<Arc<dyn Accept>>,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> io::Result<SocketAddr> {
        listener::ensure_free(addr)?;
        let token = Token(FIRST_LISTENER + self.listeners.len());
        let mut bound = addr;
        let mut sockets = Vec::with_capacity(self.reactors.len());
        for (poll, _) in &self.reactors {
            let mut socket = listener::bind(bound, self.config.backlog)?;
            // With port 0 the first bind picks the port; the other reactors must share it.
            bound = socket.local_addr()?;
            poll.registry()
                .register(&mut socket, token, Interest::READABLE)?;
            sockets.push(socket);
        }
        self.listeners.push(Listener {
            addr: bound,
            sockets,
            acceptor,
            tls,
            metrics: false,
        });
        Ok(bound)
    }

    /// The main listener's address (with the port the kernel chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.config.addr
    }

    /// Every listener's address, the main one first, then in the order they were added (the
    /// metrics listener is not among them: see [`metrics_addr`](Server::metrics_addr)).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter(|l| !l.metrics)
            .map(|l| l.addr)
            .collect()
    }

    /// The metrics listener's address (`TURBINE_METRICS_ADDR`, with the port the kernel chose
    /// for port 0), if it is on.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.listeners.iter().find(|l| l.metrics).map(|l| l.addr)
    }

    /// The metrics registry: the server's own `turbine_*` figures (from `start` on) and the
    /// program's, served by the metrics listener if `TURBINE_METRICS_ADDR` is set (and to
    /// encode anywhere else in any case). Register the program's figures here, before or after
    /// `start`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use turbine_reactor::{Config, Server};
    ///
    /// let config = Config::new().addr("127.0.0.1:0".parse().unwrap());
    /// let server = Server::bind(config.metrics_addr(Some("127.0.0.1:0".parse().unwrap())))?;
    /// let rooms = Arc::new(AtomicUsize::new(3));
    /// let read = Arc::clone(&rooms);
    /// server.metrics().gauge_fn("chat_rooms", "Rooms open.", move || {
    ///     read.load(Ordering::Relaxed) as i64
    /// });
    /// assert!(server.metrics_addr().is_some()); // GET /metrics there shows chat_rooms 3
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn metrics(&self) -> Metrics {
        self.metrics.clone()
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

    /// Opens outbound connections on the reactors, from setup code or any thread, as
    /// [`Running::connector`] does. Connects asked for before [`start`](Server::start) wait
    /// in each reactor's queue and begin as soon as it runs; a program whose `main` is
    /// [`run_with`](crate::run_with) takes it here, in the setup step, say for a periodic task
    /// that keeps a connection to another server open. If the server never starts, they are
    /// dropped with it.
    ///
    /// # Examples
    ///
    /// ```
    /// use turbine_reactor::{Config, Context, Handler, Server};
    /// use turbine_codec::LinesCodec;
    ///
    /// /// An outbound connection that greets the peer.
    /// struct Hello;
    ///
    /// impl Handler for Hello {
    ///     type Codec = LinesCodec;
    ///     fn codec(&mut self, config: &Config) -> LinesCodec {
    ///         LinesCodec::new(config.frame_limits())
    ///     }
    ///     fn on_open(&mut self, ctx: &mut Context<'_, Self>) {
    ///         ctx.send("hello");
    ///     }
    ///     fn on_frame(&mut self, _ctx: &mut Context<'_, Self>, _line: String) {}
    /// }
    ///
    /// let peer = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let config = Config::new().addr("127.0.0.1:0".parse().unwrap()).reactors(1);
    /// let server = Server::bind(config)?;
    /// server.connector().connect(0, peer.local_addr()?, || Hello)?; // runs once started
    /// let running = server.start(|_peer| Hello)?;
    /// let (stream, _) = peer.accept()?;
    /// let mut line = String::new();
    /// std::io::BufRead::read_line(&mut std::io::BufReader::new(stream), &mut line)?;
    /// assert_eq!(line, "hello\n");
    /// running.shutdown()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connector(&self) -> Connector {
        self.connector.clone()
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
    /// `factory` is called on a reactor thread for each connection the main listener accepts,
    /// with the peer's address, and returns that connection's handler.
    ///
    /// # Errors
    ///
    /// A thread could not be spawned; the threads already started are shut down.
    pub fn start<H, F>(mut self, factory: F) -> io::Result<Running>
    where
        H: Handler,
        F: Fn(SocketAddr) -> H + Send + Sync + 'static,
    {
        self.listeners[0].acceptor = Some(Arc::new(Acceptor::new(factory)));
        let pool = Arc::clone(&self.pool);
        let tls = self.listeners.iter().any(|l| l.tls.is_some());
        let proxied = self.config.proxy_protocol.is_on();
        self.metrics.register_collector(ServerFigures::new(
            self.stats.clone(),
            Arc::clone(&pool),
            tls,
            proxied,
        ));
        let limits = Arc::new(Limits::new(
            self.config.max_connections,
            self.config.max_connections_per_ip,
        ));
        let cores = if self.config.pin_cores {
            core_affinity::get_core_ids().unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut commands = std::mem::take(&mut self.commands).into_iter();
        let mut running = Running {
            connector: self.connector.clone(),
            local_addrs: self.local_addrs(),
            metrics_addr: self.metrics_addr(),
            metrics: self.metrics.clone(),
            shutdown: self.shutdown.clone(),
            stats: self.stats.clone(),
            pool: Arc::clone(&pool),
            threads: Vec::new(),
        };
        let mut sockets: Vec<_> = self
            .listeners
            .iter_mut()
            .map(|l| std::mem::take(&mut l.sockets).into_iter())
            .collect();
        for (index, (poll, bell)) in self.reactors.into_iter().enumerate() {
            let listeners = self
                .listeners
                .iter()
                .zip(&mut sockets)
                .map(|(listener, sockets)| {
                    let socket = sockets.next().expect("one socket per reactor");
                    let acceptor = listener.acceptor.clone().expect("every listener has one");
                    // A scraper sends no PROXY header, even when the balancer's clients do.
                    let proxied = proxied && !listener.metrics;
                    (socket, acceptor, listener.tls.clone(), proxied)
                })
                .collect();
            let registry = poll.registry().try_clone()?;
            let setup = Setup {
                index,
                registry,
                spare_fd: std::fs::File::open("/dev/null").ok(),
                poll,
                listeners,
                bell,
                config: Arc::clone(&self.config),
                pool: Arc::clone(&pool),
                limits: Arc::clone(&limits),
                stats: self.stats.clone(),
                shutdown: self.shutdown.clone(),
                periodic: self.periodic.clone(),
                commands: commands.next().expect("one command queue per reactor"),
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
                    Reactor::new(setup).run()
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
            .field("listeners", &self.local_addrs())
            .finish()
    }
}

/// A server whose reactors are running.
///
/// Dropping it shuts the server down gracefully and waits for the reactor threads, so a test
/// that panics midway still stops its server.
pub struct Running {
    /// Opens outbound connections on the reactors.
    connector: Connector,
    /// Where the listeners are bound, the main one first (the metrics listener apart).
    local_addrs: Vec<SocketAddr>,
    /// Where the metrics listener is bound, if it is on.
    metrics_addr: Option<SocketAddr>,
    /// The metrics registry.
    metrics: Metrics,
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
    /// The main listener's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addrs[0]
    }

    /// Every listener's address, the main one first, then in the order they were added (the
    /// metrics listener apart).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// The metrics listener's address, if `TURBINE_METRICS_ADDR` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The metrics registry, as [`Server::metrics`] gives it.
    pub fn metrics(&self) -> Metrics {
        self.metrics.clone()
    }

    /// Opens outbound connections on a chosen reactor, from any thread.
    pub fn connector(&self) -> Connector {
        self.connector.clone()
    }

    /// Every reactor's counters as it published them at the end of its last loop turn: what a
    /// peer sees happen (a close, a refusal) is counted here once that turn ends.
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
            .field("local_addrs", &self.local_addrs)
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
