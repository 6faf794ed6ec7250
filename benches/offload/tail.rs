//! `--tail`: the `PING` tail while the pool is saturated by pipelined hashes and the `PING`s
//! come as fast as they are answered.
//!
//! ```text
//! cargo bench --bench offload -- --tail                    # 5 runs per server, about 2 minutes
//! OFFLOAD_TAIL_ENV=TURBINE_WORKER_PRIORITY=idle cargo bench --bench offload -- --tail
//! ```
//!
//! The scenario: 3 connections keep 8 `HASH` requests each outstanding (24 jobs for 2 workers, so
//! the pool never runs dry and its queue always holds work), while 20 connections send `PING`
//! in a closed loop (the next as soon as the `PONG` arrives), all from this process, unpinned,
//! on the same 2 cores as the server. Each server is measured in `OFFLOAD_TAIL_RUNS` runs (5),
//! a fresh process each, `OFFLOAD_BENCH_SECS` (5 s) each after a second of filling and a second
//! of warm-up. The goal: `PING` p99 at most 2 ms in every run.
//!
//! `OFFLOAD_TAIL_ENV` (`NAME=VALUE,...`) adds variables to every server: a way to try a
//! setting without building again.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::cpu::{OtherCpu, wait_quiet};
use crate::hash_load::HashLoad;
use crate::ping::Pinger;
use crate::server::Server;
use crate::{FILL, QUIET_CORES, QUIET_PATIENCE, WARMUP, time};

/// `PING` connections, each with one `PING` in flight at all times.
const PINGERS: usize = 20;
/// `HASH` connections...
const HASHERS: usize = 3;
/// ...each with this many requests outstanding.
const HASH_DEPTH: usize = 8;
/// Runs per server unless `OFFLOAD_TAIL_RUNS` says otherwise.
const RUNS: usize = 5;
/// The goal: `PING` p99 at most this, in every run.
const GOAL_P99: Duration = Duration::from_millis(2);

/// A server the tail mode measures: one reactor, and the default two on this machine.
struct Setup {
    /// Its name in the table.
    name: &'static str,
    /// Variables on top of the bench's common ones (2 workers).
    env: &'static [(&'static str, &'static str)],
}

/// The servers measured, in order.
const SETUPS: [Setup; 2] = [
    Setup {
        name: "1 reactor",
        env: &[("TURBINE_REACTORS", "1")],
    },
    Setup {
        name: "2 reactors",
        env: &[("TURBINE_REACTORS", "2")],
    },
];

/// One run's figures.
struct Run {
    /// `PING` latencies: p50, p99, p99.9, max, nanoseconds.
    percentiles: [u64; 4],
    /// `PING`s answered per second.
    pings: f64,
    /// Hashes answered per second.
    hashes: f64,
    /// Cores' worth of CPU other processes used.
    other: f64,
}

/// Runs the tail mode and prints its table; `Err` if a run failed or a variable is bad.
pub(crate) fn run(exe: &PathBuf, secs: Duration) -> Result<String, String> {
    let runs = match std::env::var("OFFLOAD_TAIL_RUNS") {
        Ok(text) => text
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| format!("OFFLOAD_TAIL_RUNS={text:?}: expected 1 to 100"))?,
        Err(_) => RUNS,
    };
    let extra = extra_env()?;
    let mut out = format!(
        "{PINGERS} PING connections in a closed loop, {HASHERS} HASH connections with \
         {HASH_DEPTH} outstanding each, 2 workers{}; {runs} runs of {secs:?}\n\n\
         | server | run | PING p50 | p99 | p99.9 | max | PING/s | HASH/s | others' CPU |\n\
         |---|---|---|---|---|---|---|---|---|\n",
        if extra.is_empty() {
            String::new()
        } else {
            let vars: Vec<String> = extra.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!(", {}", vars.join(" "))
        }
    );
    let mut verdicts = String::new();
    for setup in &SETUPS {
        let mut met = 0;
        for n in 1..=runs {
            if !wait_quiet(QUIET_CORES, QUIET_PATIENCE) {
                eprintln!("warning: other processes keep the machine busy; measuring anyway");
            }
            let mut env: Vec<(&str, &str)> = setup.env.to_vec();
            env.extend(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let run = measure(exe, &env, secs).map_err(|e| format!("{}: {e}", setup.name))?;
            let [p50, p99, p999, max] = run.percentiles;
            eprintln!(
                "tail: {} run {n}: p50 {} p99 {}",
                setup.name,
                time(p50),
                time(p99)
            );
            if Duration::from_nanos(p99) <= GOAL_P99 {
                met += 1;
            }
            out.push_str(&format!(
                "| {} | {n} | {} | {} | {} | {} | {:.0} | {:.1} | {:.2} cores |\n",
                setup.name,
                time(p50),
                time(p99),
                time(p999),
                time(max),
                run.pings,
                run.hashes,
                run.other,
            ));
        }
        verdicts.push_str(&format!(
            "\n{}: PING p99 at most {} in {met} of {runs} runs",
            setup.name,
            time(GOAL_P99.as_nanos() as u64)
        ));
    }
    out.push_str(&verdicts);
    out.push('\n');
    Ok(out)
}

/// `OFFLOAD_TAIL_ENV` as pairs.
fn extra_env() -> Result<Vec<(String, String)>, String> {
    let Ok(text) = std::env::var("OFFLOAD_TAIL_ENV") else {
        return Ok(Vec::new());
    };
    text.split(',')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| {
                    format!("OFFLOAD_TAIL_ENV={text:?}: expected NAME=VALUE pairs, comma-separated")
                })
        })
        .collect()
}

/// One run: a fresh server, the hashes filling its pool, then the `PING`s measured.
fn measure(exe: &PathBuf, env: &[(&str, &str)], secs: Duration) -> io::Result<Run> {
    let server = Server::spawn(exe, env)?;
    let load = HashLoad::start(server.addr(), HASHERS, HASH_DEPTH)?;
    let mut pinger = Pinger::connect(server.addr(), PINGERS, Duration::ZERO)?;
    std::thread::sleep(FILL);
    pinger.measure(WARMUP)?;
    let before = load.tally();
    let other = OtherCpu::start(vec![server.pid(), std::process::id()]);
    let pings = pinger.measure(secs)?;
    let other = other.cores();
    let during = load.tally() - before;
    load.stop()?;
    drop(pinger);
    server.stop();
    if during.wrong > 0 {
        return Err(io::Error::other(
            "a HASH reply was neither a hash nor ERR busy",
        ));
    }
    let elapsed = pings.elapsed.as_secs_f64();
    let h = &pings.latency;
    Ok(Run {
        percentiles: [
            h.percentile(50.0),
            h.percentile(99.0),
            h.percentile(99.9),
            h.max(),
        ],
        pings: h.count() as f64 / elapsed,
        hashes: during.hashes as f64 / elapsed,
        other,
    })
}
