//! A `redis-server` of the test's own, on a free port, stopped when dropped.

use std::net::SocketAddr;
use std::process::{Child, Command};

use super::service::{Started, free_port, spawn, start_service};

/// The Debian package (and program) it comes from.
const PACKAGE: &str = "redis-server";

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
    /// installed, so the calling test can skip; panics if it does not come up.
    pub(crate) fn start() -> Option<RedisServer> {
        let (child, addr) = start_service(PACKAGE, || {
            let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
            (command(addr), addr, addr)
        })?;
        Some(RedisServer { child, addr })
    }

    /// Starts one on `port` (to restart it where it was); `None` as for [`start`](Self::start).
    /// Panics if it does not come up (the port taken meanwhile: there is no other to try).
    pub(crate) fn start_on(port: u16) -> Option<RedisServer> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        match spawn(command(addr), PACKAGE, addr) {
            Started::Up(child) => Some(RedisServer { child, addr }),
            Started::Missing(why) => {
                eprintln!("SKIPPED: {why}");
                None
            }
            Started::Failed(why) => panic!("{why}"),
        }
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

/// The command line of a server on `addr`: no persistence, in the foreground.
fn command(addr: SocketAddr) -> Command {
    let mut command = Command::new(PACKAGE);
    command
        .args(["--port", &addr.port().to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"]);
    command
}
