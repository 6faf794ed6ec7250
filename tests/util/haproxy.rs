//! An `haproxy` of the test's own (Debian's package): TCP mode on a free loopback port, in
//! front of the test's servers, stopped when dropped.

use std::fmt::Write as _;
use std::fs;
use std::net::SocketAddr;
use std::process::{Child, Command};

use super::redis::{free_port, spawn_service};
use super::tls::TempDir;

/// A running `haproxy -db` (foreground) with one frontend and one backend.
pub(crate) struct Haproxy {
    /// The process.
    child: Child,
    /// The frontend: where clients connect.
    addr: SocketAddr,
    /// Its configuration file's directory.
    _dir: TempDir,
}

impl Haproxy {
    /// Starts one balancing `leastconn` over `backends`, each `server` line ending with
    /// `options` (`send-proxy-v2`, `send-proxy`, `check`...); `None` (and the reason printed)
    /// if `haproxy` is not installed or does not come up, so the calling test can skip.
    pub(crate) fn start(backends: &[SocketAddr], options: &str) -> Option<Haproxy> {
        let dir = TempDir::new();
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mut config = format!(
            "global\n    maxconn 4000\n\
             defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 60s\n    \
             timeout server 60s\n\
             frontend front\n    bind {addr}\n    default_backend back\n\
             backend back\n    balance leastconn\n"
        );
        for (i, backend) in backends.iter().enumerate() {
            let _ = writeln!(config, "    server s{i} {backend} {options}");
        }
        // Where the test sees that HAProxy is up: a connection to the frontend would reach a
        // backend, as a client of the test's servers. Bound after the frontend, at startup.
        let ready = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let _ = write!(
            config,
            "frontend ready\n    bind {ready}\n    tcp-request connection reject\n"
        );
        let path = dir.join("haproxy.cfg");
        fs::write(&path, config).expect("write haproxy.cfg");
        let mut command = Command::new("haproxy");
        command.arg("-db").arg("-f").arg(&path);
        let child = spawn_service(command, "haproxy", ready)?;
        Some(Haproxy {
            child,
            addr,
            _dir: dir,
        })
    }

    /// Where clients connect.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
