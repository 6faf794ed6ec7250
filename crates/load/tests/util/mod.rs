//! Test servers: tiny thread-per-connection echo servers on `127.0.0.1:0`, plain and (in
//! `tls.rs`) TLS; and a thread's CPU time, to check that an idle client thread sleeps.
//!
//! Every test file includes this module, and none uses all of it.
#![allow(dead_code)]

pub(crate) mod tls;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// What the test server does to the bytes it sends back.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Echo {
    /// Sends every byte back unchanged.
    Faithful,
    /// Flips the lowest bit of the first byte of every read before echoing it.
    Corrupting,
    /// Echoes faithfully, except that from `after` past the first accepted connection, for
    /// `stall`, no connection echoes anything: bytes read then are sent back when the stall
    /// ends, as by a server whose event loop blocked.
    Stalling {
        /// From the first accept to the start of the stall.
        after: Duration,
        /// How long the stall lasts.
        stall: Duration,
    },
    /// Reads everything and never answers.
    Silent,
}

/// One test server's shared state.
#[derive(Debug)]
struct Shared {
    /// What it does to the bytes.
    echo: Echo,
    /// When it accepted its first connection.
    first_accept: OnceLock<Instant>,
}

/// Starts an echo server on a free loopback port and returns its address. The server and its
/// threads live until the test process exits.
pub(crate) fn echo_server(echo: Echo) -> SocketAddr {
    echo_server_counting(echo).0
}

/// As [`echo_server`], also returning the count of connections it has accepted.
pub(crate) fn echo_server_counting(echo: Echo) -> (SocketAddr, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a test port");
    let addr = listener.local_addr().expect("local address");
    let shared = Arc::new(Shared {
        echo,
        first_accept: OnceLock::new(),
    });
    let accepted = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&accepted);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            shared.first_accept.get_or_init(Instant::now);
            counter.fetch_add(1, Ordering::Relaxed);
            let shared = Arc::clone(&shared);
            thread::spawn(move || serve(stream, &shared));
        }
    });
    (addr, accepted)
}

/// Echoes one connection until it closes or fails.
fn serve(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0; 16 * 1024];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        match shared.echo {
            Echo::Faithful => {}
            Echo::Corrupting => buf[0] ^= 0x01,
            Echo::Stalling { after, stall } => {
                let first = *shared.first_accept.get().expect("set at accept");
                let (from, to) = (first + after, first + after + stall);
                let now = Instant::now();
                if now >= from && now < to {
                    thread::sleep(to - now);
                }
            }
            Echo::Silent => continue,
        }
        if stream.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

/// A port on 127.0.0.1 that nobody listens on (it was free a moment ago).
pub(crate) fn refused_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a test port");
    listener.local_addr().expect("local address")
}

/// The CPU time (user + system) used so far by the thread of this process named `name`, or
/// `None` when there is no such thread.
pub(crate) fn thread_cpu(name: &str) -> Option<Duration> {
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
        // Fields after the parenthesised name: state is field 3, utime 14 and stime 15.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        return Some(Duration::from_millis(ticks * 1000 / turbine_load::CLK_TCK));
    }
    None
}
