//! What per-connection timers cost a reactor: 10,000 connections, each with a timer.
//!
//! ```text
//! cargo bench --bench timers              # 10,000 connections, 5 s per mode
//! cargo bench --bench timers -- 2000 2    # connections, seconds
//! ```
//!
//! The server runs in a child process (this binary with `TIMERS_BENCH_SERVE` set) with one
//! reactor; the parent opens the connections and reads the child's CPU time from
//! `/proc/PID/stat` over the measuring window. Modes, one child each:
//! - `none`: the connections only, no timer (the baseline: an idle reactor);
//! - `pending`: each connection has one 1-hour timer that does not fire in the window (what a
//!   request deadline or a keepalive costs while it waits);
//! - `ticking`: each connection's timer fires every 100 ms and is set again from `on_timer`
//!   (100,000 timer callbacks a second at 10,000 connections).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use turbine::{Config, Context, Handler, RawCodec, Server};

/// What each connection's handler does with timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// No timer.
    None,
    /// One timer far in the future.
    Pending,
    /// A timer every 100 ms, set again when it fires.
    Ticking,
}

impl Mode {
    const ALL: [Mode; 3] = [Mode::None, Mode::Pending, Mode::Ticking];

    fn name(self) -> &'static str {
        match self {
            Mode::None => "none",
            Mode::Pending => "pending",
            Mode::Ticking => "ticking",
        }
    }
}

/// Period of a ticking timer.
const TICK: Duration = Duration::from_millis(100);

/// A connection that only keeps its timer.
struct Timed(Mode);

impl Handler for Timed {
    type Codec = RawCodec;

    fn codec(&mut self, _config: &Config) -> RawCodec {
        RawCodec::new()
    }

    fn on_open(&mut self, ctx: &mut Context<'_, Self>) {
        match self.0 {
            Mode::None => {}
            Mode::Pending => drop(ctx.set_timer(Duration::from_secs(3600), 0)),
            Mode::Ticking => drop(ctx.set_timer(TICK, 0)),
        }
    }

    fn on_frame(&mut self, _ctx: &mut Context<'_, Self>, _bytes: Vec<u8>) {}

    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, _tag: u64) {
        if self.0 == Mode::Ticking {
            let _ = ctx.set_timer(TICK, 0);
        }
    }
}

/// The child: serves until its stdin closes.
fn serve(mode: Mode) {
    let config = Config::new()
        .addr("127.0.0.1:0".parse().unwrap())
        .reactors(1)
        .max_connections(20_000);
    let server = Server::bind(config).expect("bind");
    let running = server.start(move |_| Timed(mode)).expect("start");
    println!("listening on {}", running.local_addr());
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    running.shutdown().expect("shutdown");
}

/// Runs one mode: returns the server's CPU time over `window`.
fn measure(mode: Mode, connections: usize, window: Duration) -> Duration {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("TIMERS_BENCH_SERVE", mode.name())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("the address line");
    let addr: SocketAddr = line
        .trim()
        .trim_start_matches("listening on ")
        .parse()
        .unwrap();
    let clients: Vec<TcpStream> = (0..connections)
        .map(|i| TcpStream::connect(addr).unwrap_or_else(|e| panic!("connection {i}: {e}")))
        .collect();
    // Let every connection be accepted and settle before the window opens.
    std::thread::sleep(Duration::from_secs(1));
    let pid = child.id();
    let before = turbine_load::server_cpu_time(pid).expect("the server's CPU time");
    let start = Instant::now();
    std::thread::sleep(window);
    let used = turbine_load::server_cpu_time(pid).expect("the server's CPU time") - before;
    let elapsed = start.elapsed();
    drop(clients);
    drop(child.stdin.take());
    let _ = child.wait();
    used.mul_f64(window.as_secs_f64() / elapsed.as_secs_f64())
}

fn main() {
    if let Ok(mode) = std::env::var("TIMERS_BENCH_SERVE") {
        let mode = Mode::ALL
            .into_iter()
            .find(|m| m.name() == mode)
            .expect("a mode");
        return serve(mode);
    }
    let numbers: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let connections = numbers.first().copied().unwrap_or(10_000) as usize;
    let window = Duration::from_secs(numbers.get(1).copied().unwrap_or(5));
    println!("{connections} connections, one reactor, {window:?} per mode");
    println!("| timers | server CPU | share of one core | per connection-second |");
    println!("|---|---|---|---|");
    for mode in Mode::ALL {
        let used = measure(mode, connections, window);
        let share = used.as_secs_f64() / window.as_secs_f64() * 100.0;
        let per = used.as_secs_f64() * 1e9 / (connections as f64 * window.as_secs_f64());
        println!(
            "| {} | {:.2} s | {share:.1} % | {per:.0} ns |",
            mode.name(),
            used.as_secs_f64()
        );
    }
}
