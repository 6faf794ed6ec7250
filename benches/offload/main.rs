//! Cheap requests while the worker pool is saturated: `PING` latency against the `offload`
//! example, with `HASH` jobs on the pool, on the reactor (`OFFLOAD_INLINE=1`), and at each
//! worker priority.
//!
//! ```text
//! cargo bench --bench offload                       # about 70 s on a quiet machine
//! OFFLOAD_BENCH_SECS=10 cargo bench --bench offload # longer measurements
//! OFFLOAD_BENCH_MODES=low,idle cargo bench --bench offload   # some modes only
//! cargo bench --bench offload -- --tail            # pipelined hashes, closed-loop PINGs
//! ```
//!
//! # What is measured
//!
//! The example (built first with `cargo build --release --example offload`) runs in a child
//! process with one reactor and two workers (`TURBINE_REACTORS=1`, `TURBINE_WORKERS=2`), default
//! hash settings (PBKDF2-HMAC-SHA512, 100,000 iterations). For each server mode:
//!
//! 1. **unloaded**: 50 connections each send a `PING` every 10 ms (5,000 per second in all,
//!    staggered) on one thread, and time each `PONG`, from the send to the reply's last byte,
//!    into a [`turbine_load::Histogram`].
//! 2. **saturated**: the same while 8 other connections each keep one `HASH` outstanding (a new
//!    one as soon as the reply arrives), so the two workers never run dry; hashes and `ERR busy`
//!    replies per second are counted over the same window.
//!
//! Modes: the pool at `TURBINE_WORKER_PRIORITY` `low` (the default: `SCHED_BATCH`, nice 10),
//! `normal` and `idle` (`low`, `normal`, `idle` in `OFFLOAD_BENCH_MODES`); the pool with one
//! worker at `low`, leaving a core to the reactor (`one-worker`); and `OFFLOAD_INLINE=1`, where
//! the reactor hashes itself (`inline`). The worker threads' actual policy and nice value are
//! read from `/proc` while saturated.
//!
//! The goal: with the pool saturated (default priority), `PING` p99 at most 2 ms and at most 3x
//! the unloaded p99. Everything runs on the same machine: on two cores the bench's own threads
//! compete with the server's for CPU, which the latencies include.
//!
//! Before each server starts, the bench waits (up to a minute) for a second in which other
//! processes use less than 0.2 cores. The last column is the CPU that other processes used
//! during the measurement, in cores (`/proc/stat` less the bench's and the server's own time):
//! a figure measured next to other work shows it.
//!
//! A `PING` waits for its `PONG` before the next is sent: when the server stalls, fewer `PING`s
//! go out (the table's `PING/s` shows it) and the latencies understate the stall.
//!
//! # Layout
//!
//! - `server.rs`: building and running the example; the workers' priority from `/proc`.
//! - `ping.rs`: the paced `PING` client. `hash_load.rs`: the `HASH` loaders.
//! - `cpu.rs`: the CPU other processes used during a measurement.
//! - `tail.rs`: `--tail`, the `PING` tail under pipelined hashes, 5 runs per server.

mod cpu;
mod hash_load;
#[path = "../common/machine.rs"]
mod machine;
mod ping;
mod server;
mod tail;

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use cpu::{OtherCpu, wait_quiet};
use hash_load::{HashLoad, Tally};
use machine::Machine;
use ping::{Pinger, Pings};
use server::Server;

/// `PING` connections.
const PING_CONNECTIONS: usize = 50;
/// Time between two `PING`s of one connection.
const PING_INTERVAL: Duration = Duration::from_millis(10);
/// Connections keeping one `HASH` each outstanding.
const HASH_CONNECTIONS: usize = 8;
/// Pinging discarded before each server's first measurement.
const WARMUP: Duration = Duration::from_secs(1);
/// Time for the loaders to fill the pool before measuring.
const FILL: Duration = Duration::from_secs(1);
/// Before each server, wait up to `QUIET_PATIENCE` for other processes to use less than this
/// many cores...
const QUIET_CORES: f64 = 0.2;
/// ...for one second.
const QUIET_PATIENCE: Duration = Duration::from_secs(60);
/// The goal: saturated p99 at most this...
const GOAL_P99: Duration = Duration::from_millis(2);
/// ...and at most this many times the unloaded p99.
const GOAL_RATIO: f64 = 3.0;

/// A server configuration to measure.
struct Mode {
    /// Its name in `OFFLOAD_BENCH_MODES`.
    key: &'static str,
    /// Its name in the table.
    name: &'static str,
    /// Variables on top of the common ones.
    env: &'static [(&'static str, &'static str)],
}

/// Every mode, in the order they run.
const MODES: [Mode; 5] = [
    Mode {
        key: "low",
        name: "pool, low priority (default)",
        env: &[("TURBINE_WORKER_PRIORITY", "low")],
    },
    Mode {
        key: "normal",
        name: "pool, normal priority",
        env: &[("TURBINE_WORKER_PRIORITY", "normal")],
    },
    Mode {
        key: "idle",
        name: "pool, idle priority",
        env: &[("TURBINE_WORKER_PRIORITY", "idle")],
    },
    Mode {
        key: "one-worker",
        name: "pool, 1 worker, low priority",
        env: &[("TURBINE_WORKERS", "1")],
    },
    Mode {
        key: "inline",
        name: "inline (OFFLOAD_INLINE=1)",
        env: &[("OFFLOAD_INLINE", "1")],
    },
];

/// What to run, from `OFFLOAD_BENCH_SECS` and `OFFLOAD_BENCH_MODES`.
struct Settings {
    /// Length of each measurement.
    secs: Duration,
    /// The modes to measure, in order.
    modes: Vec<&'static Mode>,
}

impl Settings {
    /// Reads the variables; unset ones give 5 seconds and every mode.
    ///
    /// # Errors
    ///
    /// A message naming the variable, its value and what it accepts.
    fn from_env() -> Result<Settings, String> {
        let mut settings = Settings {
            secs: Duration::from_secs(5),
            modes: MODES.iter().collect(),
        };
        if let Ok(text) = std::env::var("OFFLOAD_BENCH_SECS") {
            settings.secs = match text.trim().parse::<u64>() {
                Ok(secs @ 1..=600) => Duration::from_secs(secs),
                _ => {
                    return Err(format!(
                        "OFFLOAD_BENCH_SECS={text:?}: expected a whole number of seconds \
                         from 1 to 600"
                    ));
                }
            };
        }
        if let Ok(text) = std::env::var("OFFLOAD_BENCH_MODES") {
            let keys = MODES.map(|m| m.key).join(", ");
            settings.modes = text
                .split(',')
                .map(|key| MODES.iter().find(|m| m.key == key.trim()))
                .collect::<Option<Vec<_>>>()
                .filter(|modes| !modes.is_empty())
                .ok_or_else(|| {
                    format!(
                        "OFFLOAD_BENCH_MODES={text:?}: expected a comma-separated list of {keys}"
                    )
                })?;
        }
        Ok(settings)
    }
}

/// What one mode measured.
struct Row {
    /// The mode's name.
    name: &'static str,
    /// `PING`s with no other load.
    unloaded: Pings,
    /// `PING`s while the loaders run.
    saturated: Pings,
    /// What the loaders got during the saturated measurement.
    load: Tally,
    /// Cores' worth of CPU other processes used during each measurement.
    other: [f64; 2],
    /// The workers' policy/nice, as `/proc` showed them.
    priority: String,
    /// Lines where the pool said the system refused its priority.
    refused: Vec<String>,
}

fn main() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let exe = match server::build_example() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("offload bench: cannot build the example: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", machine());
    if std::env::args().any(|arg| arg == "--tail") {
        return match tail::run(&exe, settings.secs) {
            Ok(table) => {
                println!("{table}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("offload bench: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let mut rows = Vec::new();
    let secs = settings.secs;
    for mode in settings.modes {
        if !wait_quiet(QUIET_CORES, QUIET_PATIENCE) {
            eprintln!("warning: other processes keep the machine busy; measuring anyway");
        }
        eprintln!("measuring: {} ({secs:?} per measurement)", mode.name);
        match measure(&exe, mode, secs) {
            Ok(row) => rows.push(row),
            Err(e) => {
                eprintln!("offload bench: {}: {e}", mode.name);
                return ExitCode::FAILURE;
            }
        }
    }
    println!("{}", table(&rows));
    let wrong: u64 = rows.iter().map(|r| r.load.wrong).sum();
    if wrong > 0 {
        eprintln!("offload bench: {wrong} HASH replies were neither a hash nor ERR busy");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Runs one server and measures it unloaded, then saturated.
fn measure(exe: &PathBuf, mode: &Mode, secs: Duration) -> io::Result<Row> {
    let server = Server::spawn(exe, mode.env)?;
    let mut pinger = Pinger::connect(server.addr(), PING_CONNECTIONS, PING_INTERVAL)?;
    let pids = vec![server.pid(), std::process::id()];
    pinger.measure(WARMUP)?;
    let other = OtherCpu::start(pids.clone());
    let unloaded = pinger.measure(secs)?;
    let other_unloaded = other.cores();
    let load = HashLoad::start(server.addr(), HASH_CONNECTIONS, 1)?;
    std::thread::sleep(FILL);
    let before = load.tally();
    let other = OtherCpu::start(pids);
    let saturated = pinger.measure(secs)?;
    let other_saturated = other.cores();
    let during = load.tally() - before;
    let priority = server.worker_priority();
    load.stop()?;
    drop(pinger);
    let log = server.stop();
    let refused = log
        .into_iter()
        .filter(|line| line.contains("refused"))
        .collect();
    Ok(Row {
        name: mode.name,
        unloaded,
        saturated,
        load: during,
        other: [other_unloaded, other_saturated],
        priority,
        refused,
    })
}

/// The results as a Markdown table, then the goal's verdict.
fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| server | load | PING p50 | p99 | p99.9 | max | PING/s | HASH/s | busy/s | workers | others' CPU |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let measured = [
            ("none", &row.unloaded, row.other[0]),
            ("8 HASH", &row.saturated, row.other[1]),
        ];
        for (load, pings, other) in measured {
            let secs = pings.elapsed.as_secs_f64();
            let (hashes, busy, workers) = if load == "none" {
                ("".to_string(), "".to_string(), "".to_string())
            } else {
                (
                    format!("{:.1}", row.load.hashes as f64 / secs),
                    format!("{:.1}", row.load.busy as f64 / secs),
                    row.priority.clone(),
                )
            };
            let h = &pings.latency;
            out.push_str(&format!(
                "| {} | {load} | {} | {} | {} | {} | {:.0} | {hashes} | {busy} | {workers} | {other:.2} cores |\n",
                row.name,
                time(h.percentile(50.0)),
                time(h.percentile(99.0)),
                time(h.percentile(99.9)),
                time(h.max()),
                h.count() as f64 / secs,
            ));
        }
    }
    for row in rows {
        for line in &row.refused {
            out.push_str(&format!("\n{}: {line}", row.name));
        }
    }
    if let Some(row) = rows.iter().find(|row| row.name == MODES[0].name) {
        let unloaded = row.unloaded.latency.percentile(99.0);
        let saturated = row.saturated.latency.percentile(99.0);
        let ratio = saturated as f64 / unloaded.max(1) as f64;
        let verdict = |met: bool| if met { "met" } else { "missed" };
        out.push_str(&format!(
            "\nGoal ({}), saturated PING p99 {}: at most {}: {}; at most {GOAL_RATIO}x the \
             unloaded p99 {}: {} ({ratio:.3}x)\n",
            row.name,
            time(saturated),
            time(GOAL_P99.as_nanos() as u64),
            verdict(Duration::from_nanos(saturated) <= GOAL_P99),
            time(unloaded),
            verdict(ratio <= GOAL_RATIO),
        ));
    }
    out
}

/// A latency in nanoseconds, as µs below a millisecond and ms above.
fn time(ns: u64) -> String {
    if ns < 1_000_000 {
        format!("{:.0} µs", ns as f64 / 1e3)
    } else {
        format!("{:.2} ms", ns as f64 / 1e6)
    }
}

/// The machine, toolchain and commit the figures come from, and the server's set-up.
fn machine() -> String {
    format!(
        "{}one reactor, two workers, 100,000 iterations",
        Machine::describe().markdown()
    )
}
