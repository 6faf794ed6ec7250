//! Servers from Debian's packages (`redis-server`, `haproxy`) started by the tests: each on
//! free loopback ports, and counted as up only once the process itself listens there.
//!
//! A port the kernel picked and freed can be taken again before the service binds it (by
//! another test's server in the same process): then the service exits, or worse, a probe by
//! connecting would reach the other listener and call it up. So readiness is read from
//! `/proc`: the listening socket on the port must be one of the child's descriptors, and a
//! start that loses its port is tried again on new ones.

use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What came of starting a service once.
pub(crate) enum Started {
    /// It listens on the address it was told.
    Up(Child),
    /// It cannot be run here (not installed): the calling test skips.
    Missing(String),
    /// It ran but did not come up: why (it has been stopped).
    Failed(String),
}

/// A port nothing listens on now (the kernel's pick for a socket bound and dropped).
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// Starts the service of Debian's package `package` up to three times, each time on what
/// `attempt` prepares: the command, the address that says it is up, and what the caller keeps
/// (its addresses, its files). `None`, with the reason printed, if it cannot be run here;
/// panics if it runs but never comes up.
pub(crate) fn start_service<T>(
    package: &str,
    mut attempt: impl FnMut() -> (Command, SocketAddr, T),
) -> Option<(Child, T)> {
    let mut failures = Vec::new();
    for _ in 0..3 {
        let (command, ready, kept) = attempt();
        match spawn(command, package, ready) {
            Started::Up(child) => return Some((child, kept)),
            Started::Missing(why) => {
                eprintln!("SKIPPED: {why}");
                return None;
            }
            Started::Failed(why) => failures.push(why),
        }
    }
    panic!("{package} did not come up in three tries: {failures:?}");
}

/// Starts `command`, a server from Debian's package `package` (its output discarded), and
/// waits (at most 10 s) until the process itself listens on `ready`.
pub(crate) fn spawn(mut command: Command, package: &str, ready: SocketAddr) -> Started {
    let spawned = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            return Started::Missing(format!(
                "{package} cannot be run ({e}); install Debian's {package}"
            ));
        }
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if listens(child.id(), ready) {
            return Started::Up(child);
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Started::Failed(format!(
                "{package} exited ({status}) before it listened on {ready}"
            ));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Started::Failed(format!("{package} did not listen on {ready} within 10 s"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether process `pid` holds a socket listening on `addr` (IPv4): the listeners' inodes
/// from `/proc/net/tcp`, looked for among the process's descriptors.
fn listens(pid: u32, addr: SocketAddr) -> bool {
    let inodes = listener_inodes(addr);
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        fs::read_link(fd.path()).is_ok_and(|link| {
            let link = link.to_string_lossy();
            inodes
                .iter()
                .any(|inode| link == format!("socket:[{inode}]"))
        })
    })
}

/// The inodes of the sockets in `LISTEN` on `addr`, as `/proc/net/tcp` lists them (the
/// address as the kernel prints it: the 32-bit word in host order, then the port, in hex).
fn listener_inodes(addr: SocketAddr) -> Vec<String> {
    let SocketAddr::V4(v4) = addr else {
        panic!("the tests' services listen on IPv4 loopback, not {addr}");
    };
    let local = format!(
        "{:08X}:{:04X}",
        u32::from_le_bytes(v4.ip().octets()),
        v4.port()
    );
    const LISTEN: &str = "0A";
    let table = fs::read_to_string("/proc/net/tcp").expect("read /proc/net/tcp");
    table
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|fields| fields.len() > 9 && fields[1] == local && fields[3] == LISTEN)
        .map(|fields| fields[9].to_string())
        .collect()
}
