//! An `haproxy` of the test's own (Debian's package): TCP mode on a free loopback port, in
//! front of the test's servers, stopped when dropped.

use std::fmt::Write as _;
use std::fs;
use std::net::SocketAddr;
use std::process::{Child, Command};

use super::service::{free_port, start_service};
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
    /// if `haproxy` is not installed, so the calling test can skip; panics if it does not
    /// come up.
    pub(crate) fn start(backends: &[SocketAddr], options: &str) -> Option<Haproxy> {
        let (child, (addr, dir)) = start_service("haproxy", || {
            let dir = TempDir::new();
            let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let path = dir.join("haproxy.cfg");
            fs::write(&path, config(addr, backends, options)).expect("write haproxy.cfg");
            let mut command = Command::new("haproxy");
            command.arg("-db").arg("-f").arg(&path);
            (command, addr, (addr, dir))
        })?;
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

/// The configuration: a frontend on `addr` balancing `leastconn` over `backends`, each
/// `server` line ending with `options`.
fn config(addr: SocketAddr, backends: &[SocketAddr], options: &str) -> String {
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
    config
}
