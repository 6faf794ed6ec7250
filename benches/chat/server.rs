//! The chat server in a child process: this binary started with `--serve REACTORS` (and
//! `--redis ADDR` for cluster mode), running the example's own handler, registry and cluster
//! code (compiled in with `#[path]`); and `redis-server` in a child process, for cluster mode.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use turbine::Server;

use crate::cluster::{Cluster, Status, TICK};
use crate::config;
use crate::member::Member;
use crate::registry::Registry;

/// How long an instance may take to link up with Redis before it gives up.
const LINK_TIMEOUT: Duration = Duration::from_secs(20);

/// The `--serve` mode: the chat on 127.0.0.1, any free port, with `reactors` reactors and
/// the example's defaults otherwise (`CHAT_OUTBUF_LIMIT` 4 MiB), until stdin closes. With
/// `redis`, in cluster mode (`CHAT_REDIS`, the default `CHAT_CLUSTER_TTL`), and `listening
/// on` is printed once the link to Redis is up.
pub(crate) fn serve(reactors: usize, redis: Option<SocketAddr>) -> ExitCode {
    let reactors_var = reactors.to_string();
    let redis_var = redis.map(|addr| addr.to_string());
    let mut vars = vec![
        ("TURBINE_ADDR", "127.0.0.1:0"),
        ("TURBINE_REACTORS", reactors_var.as_str()),
    ];
    if let Some(redis) = &redis_var {
        vars.push(("CHAT_REDIS", redis.as_str()));
    }
    let lookup = |name: &str| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    };
    let (config, settings) = match (config::from_vars(lookup), config::cluster_from_vars(lookup)) {
        (Ok(config), Ok(settings)) => (config, settings),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("chat server: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let registry = Arc::new(Registry::new());
    let (started, cluster) = match (Server::bind(config), settings) {
        (Err(e), _) => (Err(e), None),
        (Ok(server), None) => (
            server.start(move |_peer| Member::new(Arc::clone(&registry))),
            None,
        ),
        (Ok(server), Some(settings)) => {
            let cluster = Arc::new(Cluster::new(settings, Arc::clone(&registry), reactors));
            cluster.start(server.connector(), server.shutdown_handle());
            let (ticking, members) = (Arc::clone(&cluster), Arc::clone(&cluster));
            let started = server
                .every(TICK, move |reactor| ticking.tick(reactor))
                .start(move |_peer| Member::clustered(Arc::clone(&registry), Arc::clone(&members)));
            (started, Some(cluster))
        }
    };
    let running = match started {
        Ok(running) => running,
        Err(e) => {
            eprintln!("chat server: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(cluster) = cluster {
        // Members that came before the link would get guest nicks of the instance's own.
        let deadline = Instant::now() + LINK_TIMEOUT;
        while cluster.status() != Status::Up {
            if Instant::now() > deadline {
                eprintln!("chat server: no link to Redis after {LINK_TIMEOUT:?}");
                return ExitCode::FAILURE;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    println!("listening on {}", running.local_addr());
    let _ = io::stdout().flush();
    // The parent holds our stdin; it closes when the parent is done with us or dies.
    let _ = io::copy(&mut io::stdin().lock(), &mut io::sink());
    // Exit without a graceful shutdown, which would wait for members that are gone.
    std::process::exit(0)
}

/// A chat server child process, killed and reaped on drop so none outlives the benchmark.
pub(crate) struct ServerChild {
    /// The process.
    child: Child,
    /// The write end of its stdin: the server runs until it closes.
    _stdin: Option<ChildStdin>,
    /// Where it listens, as it printed it.
    addr: SocketAddr,
}

impl ServerChild {
    /// Starts the chat with `reactors` reactors, in cluster mode on `redis` if given, and
    /// waits for its `listening on ADDR` line.
    ///
    /// # Errors
    ///
    /// The process could not start, or closed its stdout without a valid address line.
    pub(crate) fn spawn(reactors: usize, redis: Option<SocketAddr>) -> io::Result<ServerChild> {
        let mut command = Command::new(std::env::current_exe()?);
        command.args(["--serve", &reactors.to_string()]);
        if let Some(redis) = redis {
            command.args(["--redis", &redis.to_string()]);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let mut server = ServerChild {
            child,
            _stdin: stdin,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let mut line = String::new();
        if let Some(stdout) = stdout {
            BufReader::new(stdout).read_line(&mut line)?;
        }
        server.addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|addr| addr.parse().ok())
            .ok_or_else(|| {
                io::Error::other(format!("expected `listening on ADDR`, got {line:?}"))
            })?;
        Ok(server)
    }

    /// Where the server listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The child's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `redis-server` child process on a free loopback port, without persistence; killed and
/// reaped on drop.
pub(crate) struct RedisChild {
    /// The process.
    child: Child,
    /// Where it listens.
    addr: SocketAddr,
}

impl RedisChild {
    /// Starts `redis-server` and waits until it takes connections.
    ///
    /// # Errors
    ///
    /// `redis-server` could not be run (`ErrorKind::NotFound` when it is not installed), or
    /// did not take connections within 10 s.
    pub(crate) fn spawn() -> io::Result<RedisChild> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut redis = RedisChild {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(redis.addr).is_err() {
            if Instant::now() > deadline || redis.child.try_wait()?.is_some() {
                return Err(io::Error::other(format!(
                    "redis-server did not come up on {}",
                    redis.addr
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(redis)
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The child's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for RedisChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
