//! A `redis-server` of the test's own, on a free port, stopped when dropped.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server` (Debian's package) with no persistence, on loopback.
pub(crate) struct RedisServer {
    /// The process.
    child: Child,
    /// Where it listens.
    addr: SocketAddr,
}

impl RedisServer {
    /// The server's process id (to stop and continue it).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts one on a free port; `None` (and the reason printed) if `redis-server` is not
    /// installed or does not come up, so the calling test can skip.
    pub(crate) fn start() -> Option<RedisServer> {
        RedisServer::start_on(free_port())
    }

    /// Starts one on `port` (to restart it where it was); `None` as for [`start`](Self::start).
    pub(crate) fn start_on(port: u16) -> Option<RedisServer> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"]);
        let child = spawn_service(command, "redis-server", addr)?;
        Some(RedisServer { child, addr })
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Runs `redis-cli` against it with `args`; its standard output.
    pub(crate) fn cli(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-p", &self.addr.port().to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Stops it (a kill: no goodbye to its clients) and waits for it to go.
    pub(crate) fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `command`, a server from Debian's package `package` (its output discarded), and
/// waits until `ready` accepts connections; `None`, with the reason printed for the calling
/// test to skip, if it cannot be run or does not come up (then it is stopped).
pub(crate) fn spawn_service(
    mut command: Command,
    package: &str,
    ready: SocketAddr,
) -> Option<Child> {
    let spawned = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            eprintln!("SKIPPED: {package} cannot be run ({e}); install Debian's {package}");
            return None;
        }
    };
    if !comes_up(&mut child, ready) {
        eprintln!("SKIPPED: {package} did not come up on {ready}");
        let _ = child.kill();
        let _ = child.wait();
        return None;
    }
    Some(child)
}

/// Waits (at most 10 s) until `addr` accepts connections; `false` if it does not, or if
/// `child`, the server meant to listen there, exits first.
fn comes_up(child: &mut Child, addr: SocketAddr) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// A port nothing listens on now (the kernel's pick for a socket bound and dropped).
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}
