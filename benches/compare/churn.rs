//! The `--churn` mode: connect, one echo, close, over and over; connections per server
//! CPU-second for Turbine, tokio and the bare mio loop, side by side.
//!
//! Every cycle pays what a short-lived connection costs the server: the accept, its socket
//! options, the slot in the connection table (and, in Turbine, the per-IP count and the idle
//! timer), the read and echo, and the close. Rounds rotate the servers' order; the report
//! keeps each server's median and the per-round ratios Turbine / peer.

use std::fmt::Write as _;
use std::io;

use turbine_load::{ChurnReport, Framing, LoadConfig};

use crate::child::ServerChild;
use crate::machine::Machine;
use crate::peer::Peer;
use crate::report::{count, plural};
use crate::rounds::median;
use crate::settings::Settings;

/// The servers compared; Turbine first, the others are its peers.
pub(crate) const PEERS: [Peer; 3] = [Peer::TurbineRaw, Peer::TokioRaw, Peer::MioRaw];

/// Cycles under way at once: enough to keep the server busy, few enough that the ports left
/// in TIME_WAIT (about 28,000 free on Linux's default range, for 60 s) last a run.
const SLOTS: usize = 20;

/// One server's churn in one round.
pub(crate) struct Cycle {
    /// The server.
    pub peer: Peer,
    /// The round, from 0.
    pub round: usize,
    /// What the load generator measured, or why it could not.
    pub report: Result<ChurnReport, String>,
}

impl Cycle {
    /// Connections per server CPU-second, if the run was clean.
    fn per_cpu(&self) -> Option<f64> {
        let report = self.report.as_ref().ok()?;
        if self.flaw().is_some() {
            return None;
        }
        report.connections_per_server_cpu_sec()
    }

    /// What went wrong, if anything: the run failed, or cycles failed or echoed wrong.
    pub(crate) fn flaw(&self) -> Option<String> {
        match &self.report {
            Err(e) => Some(e.clone()),
            Ok(r) if r.errors + r.mismatches + r.failed_connects > 0 => Some(format!(
                "{} errors, {} mismatches, {} failed connects ({} out of ports)",
                r.errors, r.mismatches, r.failed_connects, r.out_of_ports
            )),
            Ok(_) => None,
        }
    }
}

/// Runs every round, each server once per round in a rotating order.
pub(crate) fn run(settings: &Settings) -> Vec<Cycle> {
    let mut cycles = Vec::new();
    for round in 0..settings.rounds {
        for i in 0..PEERS.len() {
            let peer = PEERS[(i + round) % PEERS.len()];
            let report = churn(peer, settings).map_err(|e| e.to_string());
            let cycle = Cycle {
                peer,
                round,
                report,
            };
            match (&cycle.report, cycle.flaw()) {
                (Ok(r), None) => println!(
                    "churn: round {}/{} {:<12} {:>8.0} conn/s  {:>8} per server CPU-s  p99 {} us",
                    round + 1,
                    settings.rounds,
                    peer.name(),
                    r.connections_per_sec(),
                    r.connections_per_server_cpu_sec()
                        .map_or("n/a".to_string(), |v| format!("{v:.0}")),
                    r.latency.percentile(99.0) / 1000
                ),
                (_, flaw) => println!(
                    "!!! churn: round {} {}: {}",
                    round + 1,
                    peer.name(),
                    flaw.unwrap_or_default()
                ),
            }
            cycles.push(cycle);
        }
    }
    cycles
}

/// Starts `peer` on the server core, churns it for the warm-up and the window, stops it.
fn churn(peer: Peer, settings: &Settings) -> io::Result<ChurnReport> {
    let server = ServerChild::spawn(peer.name(), &peer.serve_args(), settings.server_core, None)?;
    let report = turbine_load::churn(&LoadConfig {
        addr: server.addr(),
        connections: SLOTS,
        size: settings.size,
        duration: settings.duration,
        warmup: settings.warmup,
        framing: Framing::Raw,
        server_pid: Some(server.pid()),
        progress: false,
        ..LoadConfig::default()
    });
    server.kill()?;
    report
}

/// The Markdown report.
pub(crate) fn markdown(machine: &Machine, settings: &Settings, cycles: &[Cycle]) -> String {
    let mut out = String::from("# Connection churn\n\n");
    let _ = writeln!(
        out,
        "Written by `{}` (`benches/compare/churn.rs`).\n",
        settings.command("--churn")
    );
    out.push_str(&machine.markdown());
    let _ = writeln!(
        out,
        "\nEach server alone in a child process on core 0, the load generator on core 1. {SLOTS} \
         cycles under way at once, each: connect, one {}-byte message, its echo checked, \
         close (the client closes first, so TIME_WAIT stays on the client's side); {} of {} s \
         after a {} s warm-up, servers in rotating order. The figure: connections per second \
         of the server's CPU time.\n",
        settings.size,
        plural(settings.rounds, "round"),
        settings.duration.as_secs_f64(),
        settings.warmup.as_secs_f64()
    );
    out.push_str(
        "| server | connections/s (median) | per server CPU-s (median, range) | cycle p99 | Turbine / this, per round (median, range) |\n\
         |---|---|---|---|---|\n",
    );
    for peer in PEERS {
        let mine: Vec<&Cycle> = cycles.iter().filter(|c| c.peer == peer).collect();
        let rate = median(
            mine.iter()
                .filter_map(|c| c.report.as_ref().ok())
                .map(ChurnReport::connections_per_sec)
                .collect(),
        );
        let per_cpu: Vec<f64> = mine.iter().filter_map(|c| c.per_cpu()).collect();
        let p99 = median(
            mine.iter()
                .filter_map(|c| c.report.as_ref().ok())
                .map(|r| r.latency.percentile(99.0) as f64 / 1e3)
                .collect(),
        );
        let ratios: Vec<f64> = (0..settings.rounds)
            .filter_map(|round| {
                let of = |p: Peer| {
                    cycles
                        .iter()
                        .find(|c| c.peer == p && c.round == round)
                        .and_then(Cycle::per_cpu)
                };
                Some(of(Peer::TurbineRaw)? / of(peer)?)
            })
            .collect();
        let flawed = mine.iter().any(|c| c.flaw().is_some());
        let _ = writeln!(
            out,
            "| {}{} | {} | {} | {} | {} |",
            peer.name(),
            if flawed { " (!)" } else { "" },
            rate.map_or("n/a".to_string(), count),
            spread(&per_cpu, count),
            p99.map_or("n/a".to_string(), |us| format!("{us:.0} µs")),
            if peer == Peer::TurbineRaw {
                String::new()
            } else {
                spread(&ratios, |v| format!("{v:.2}x"))
            }
        );
    }
    out
}

/// `median (low to high)` of `values`, each shown by `show`; `n/a` if there are none.
fn spread(values: &[f64], show: impl Fn(f64) -> String) -> String {
    let lo = values.iter().copied().reduce(f64::min);
    let hi = values.iter().copied().reduce(f64::max);
    match (median(values.to_vec()), lo, hi) {
        (Some(m), Some(lo), Some(hi)) => format!("{} ({} to {})", show(m), show(lo), show(hi)),
        _ => "n/a".to_string(),
    }
}
