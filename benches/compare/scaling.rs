//! The `--scaling` mode: raw echo throughput with 1, 2, 4 and 8 serving threads, Turbine's
//! reactors against tokio's multi-threaded runtime, on a machine with cores to spare.
//!
//! Meant for 16 cores: run this process on the upper eight (`taskset -c 8-15`), which hold the
//! load generator's threads; each server child is started under `taskset -c 0-(N-1)`, so N
//! serving threads have N cores of their own. Threads counts that would not leave the load
//! generator at least as many cores as the server are skipped. `benches/scaling.sh` is the
//! prepared script (built beforehand, one run in about 3 minutes).

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io;

use turbine_load::{Framing, LoadConfig};

use crate::child::ServerChild;
use crate::machine::Machine;
use crate::peer::Peer;
use crate::rounds::median;
use crate::settings::Settings;

/// Serving threads measured.
const THREADS: [usize; 4] = [1, 2, 4, 8];

/// The servers compared.
const PEERS: [Peer; 2] = [Peer::TurbineRaw, Peer::TokioRaw];

/// Connections of every run: enough that 8 threads each have many.
const CONNECTIONS: usize = 512;

/// Messages in flight per connection.
const DEPTH: usize = 16;

/// One server with one thread count, one round.
#[derive(Clone, Debug)]
pub(crate) struct Run {
    /// The server.
    pub peer: Peer,
    /// Serving threads.
    pub threads: usize,
    /// Messages per second.
    pub per_sec: f64,
    /// Messages per second of the server's CPU time.
    pub per_cpu: Option<f64>,
    /// What went wrong, if anything.
    pub flaw: Option<String>,
}

/// The machine's cores, whatever this process's mask (`processor` lines of /proc/cpuinfo).
pub(crate) fn machine_cores() -> usize {
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|info| info.lines().filter(|l| l.starts_with("processor")).count())
        .unwrap_or(1)
        .max(1)
}

/// The cores this process may use (its affinity mask): the load generator's.
fn load_cores() -> usize {
    core_affinity::get_core_ids().map_or(1, |ids| ids.len())
}

/// Every thread count the machine allows, for both servers, `settings.rounds` times.
pub(crate) fn run(settings: &Settings, machine_cores: usize) -> Vec<Run> {
    let load = load_cores();
    let mut runs = Vec::new();
    for threads in THREADS {
        if threads > load || threads + load > machine_cores.max(load + 1) {
            println!(
                "scaling: skipping {threads} threads: {machine_cores} cores, {load} for the load"
            );
            continue;
        }
        for round in 0..settings.rounds {
            let mut peers = PEERS;
            peers.rotate_left(round % PEERS.len());
            for peer in peers {
                let run = measure(peer, threads, load, settings);
                println!(
                    "scaling: round {}/{} {:<12} {threads} threads {:>11.0} msg/s {:>11} per server CPU-s{}",
                    round + 1,
                    settings.rounds,
                    peer.name(),
                    run.per_sec,
                    run.per_cpu.map_or("n/a".into(), |v| format!("{v:.0}")),
                    run.flaw
                        .as_ref()
                        .map_or(String::new(), |w| format!("  !!! {w}"))
                );
                runs.push(run);
            }
        }
    }
    runs
}

/// One run of `peer` with `threads` serving threads on cores 0 to threads - 1.
fn measure(peer: Peer, threads: usize, load: usize, settings: &Settings) -> Run {
    let result = (|| -> io::Result<turbine_load::Report> {
        let cores = format!("0-{}", threads - 1);
        let wrapper: Vec<OsString> = ["taskset", "-c", &cores].map(OsString::from).to_vec();
        let threads_arg = threads.to_string();
        let [serve, name] = peer.serve_args();
        let args = [serve, name, "--threads", &threads_arg];
        let server = ServerChild::spawn(peer.name(), &args, None, Some(&wrapper))?;
        let report = turbine_load::run(&LoadConfig {
            addr: server.addr(),
            connections: CONNECTIONS,
            threads: load,
            size: settings.size,
            depth: DEPTH,
            duration: settings.duration,
            warmup: settings.warmup,
            framing: Framing::Raw,
            server_pid: Some(server.pid()),
            progress: false,
            tls: None,
        });
        server.kill()?;
        report
    })();
    match result {
        Ok(report) => {
            let failures = report.errors + report.mismatches + report.failed_connects;
            Run {
                peer,
                threads,
                per_sec: report.messages_per_sec(),
                per_cpu: report.messages_per_server_cpu_sec(),
                flaw: (failures > 0)
                    .then(|| format!("{failures} errors, wrong echoes or failed connects")),
            }
        }
        Err(e) => Run {
            peer,
            threads,
            per_sec: 0.0,
            per_cpu: None,
            flaw: Some(e.to_string()),
        },
    }
}

/// The median messages per second of `peer` with `threads`, over clean rounds.
fn per_sec(runs: &[Run], peer: Peer, threads: usize) -> Option<f64> {
    median(
        runs.iter()
            .filter(|r| r.peer == peer && r.threads == threads && r.flaw.is_none())
            .map(|r| r.per_sec)
            .collect(),
    )
}

/// The report: throughput by thread count, speed-up over one thread, Turbine / tokio.
pub(crate) fn markdown(machine: &Machine, settings: &Settings, runs: &[Run]) -> String {
    let mut md = String::from("# Scaling across cores\n\n");
    let _ = writeln!(
        md,
        "Written by `{}` (`benches/compare/scaling.rs`, `benches/scaling.sh`).\n",
        settings
            .command("--scaling")
            .replace("cargo bench", "taskset -c 8-15 cargo bench")
    );
    md.push_str(&machine.markdown());
    let _ = writeln!(
        md,
        "\nRaw echo, {CONNECTIONS} connections, {DEPTH} messages of {} bytes in flight each; \
         each server in a child process confined to cores 0 to N-1 (`taskset`), the load \
         generator's {} threads on the other cores; {} of {} s after a {} s warm-up, medians. \
         Turbine runs N reactors (one SO_REUSEPORT listener each); tokio a multi-threaded \
         runtime of N workers (work stealing, one listener).\n",
        settings.size,
        load_cores(),
        settings.rounds,
        settings.duration.as_secs_f64(),
        settings.warmup.as_secs_f64()
    );
    md.push_str(
        "| threads | Turbine msg/s | speed-up | tokio msg/s | speed-up | Turbine / tokio |\n\
         |---:|---:|---:|---:|---:|---:|\n",
    );
    let one = |peer| per_sec(runs, peer, 1);
    for threads in THREADS {
        let (t, k) = (
            per_sec(runs, Peer::TurbineRaw, threads),
            per_sec(runs, Peer::TokioRaw, threads),
        );
        if t.is_none() && k.is_none() {
            continue;
        }
        let speed = |v: Option<f64>, base: Option<f64>| match (v, base) {
            (Some(v), Some(b)) if b > 0.0 => format!("{:.2}x", v / b),
            _ => "n/a".into(),
        };
        let _ = writeln!(
            md,
            "| {threads} | {} | {} | {} | {} | {} |",
            t.map_or("n/a".into(), |v| format!("{v:.0}")),
            speed(t, one(Peer::TurbineRaw)),
            k.map_or("n/a".into(), |v| format!("{v:.0}")),
            speed(k, one(Peer::TokioRaw)),
            speed(t, k)
        );
    }
    let flaws: Vec<String> = runs
        .iter()
        .filter_map(|r| {
            Some(format!(
                "{} {} threads: {}",
                r.peer.name(),
                r.threads,
                r.flaw.as_ref()?
            ))
        })
        .collect();
    if !flaws.is_empty() {
        let _ = writeln!(md, "\nRuns that went wrong: {}.", flaws.join("; "));
    }
    md
}
