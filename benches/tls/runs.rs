//! The load runs: each scenario with each server, in child processes, rounds repeated and
//! medians kept; and the idle connections held on each server.

use std::io;
use std::time::Duration;

use turbine_load::{Framing, HoldConfig, HoldReport, LoadConfig, TlsConfig};

use crate::Settings;
use crate::certs::Pair;
use crate::child::ServerChild;
use crate::servers::Peer;

/// A measured workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scenario {
    /// Connect, full TLS 1.3 handshake, one 64-byte echo, close: `cycles` at once.
    Handshakes {
        /// Cycles under way at once.
        cycles: usize,
    },
    /// Echo over established TLS 1.3 sessions, `depth` messages of `size` bytes in flight on
    /// each of `connections`.
    Echo {
        /// Bytes per message.
        size: usize,
        /// Messages in flight per connection.
        depth: usize,
        /// Connections.
        connections: usize,
    },
}

impl Scenario {
    /// Every scenario, in the order tables list them.
    pub(crate) const ALL: [Scenario; 3] = [
        Scenario::Handshakes { cycles: 16 },
        Scenario::Echo {
            size: 64,
            depth: 16,
            connections: 100,
        },
        Scenario::Echo {
            size: 16 * 1024,
            depth: 4,
            connections: 50,
        },
    ];

    /// A label such as `echo 64 B, depth 16, 100 connections`.
    pub(crate) fn label(self) -> String {
        match self {
            Scenario::Handshakes { cycles } => {
                format!("full handshakes, {cycles} at once")
            }
            Scenario::Echo {
                size,
                depth,
                connections,
            } => {
                let size = if size >= 1024 {
                    format!("{} KiB", size / 1024)
                } else {
                    format!("{size} B")
                };
                format!("echo {size}, depth {depth}, {connections} connections")
            }
        }
    }

    /// What the figure counts.
    pub(crate) fn unit(self) -> &'static str {
        match self {
            Scenario::Handshakes { .. } => "handshakes",
            Scenario::Echo { .. } => "messages",
        }
    }
}

/// One run's figures, or why there are none.
#[derive(Clone, Debug)]
pub(crate) struct Sample {
    /// Handshakes or messages per second of the window.
    pub per_sec: f64,
    /// Handshakes or messages per second of the server process's CPU time.
    pub per_server_cpu_sec: Option<f64>,
    /// Median latency of a message or of a whole cycle, microseconds.
    pub p50_us: f64,
    /// Anything that went wrong: failed connects or handshakes, errors, wrong echoes, or a run
    /// that did not happen.
    pub flaw: Option<String>,
}

/// One server in one scenario, with a sample per round.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    /// The workload.
    pub scenario: Scenario,
    /// The server.
    pub peer: Peer,
    /// One per round.
    pub samples: Vec<Sample>,
}

impl Row {
    /// The median over rounds of a figure present in every flawless sample.
    pub(crate) fn median(&self, figure: impl Fn(&Sample) -> Option<f64>) -> Option<f64> {
        let mut values: Vec<f64> = self
            .samples
            .iter()
            .filter(|s| s.flaw.is_none())
            .filter_map(figure)
            .collect();
        values.sort_by(f64::total_cmp);
        (!values.is_empty()).then(|| values[values.len() / 2])
    }

    /// Whether any round went wrong.
    pub(crate) fn is_flawed(&self) -> bool {
        self.samples.iter().any(|s| s.flaw.is_some())
    }
}

/// Runs every scenario with every server, `settings.rounds` times, the servers' order
/// rotating each round so that drift on a shared machine hits both alike.
pub(crate) fn run(settings: &Settings, pair: &Pair) -> Vec<Row> {
    let mut rows: Vec<Row> = Scenario::ALL
        .into_iter()
        .flat_map(|scenario| {
            Peer::ALL.into_iter().map(move |peer| Row {
                scenario,
                peer,
                samples: Vec::new(),
            })
        })
        .collect();
    for round in 0..settings.rounds {
        for scenario in Scenario::ALL {
            let mut peers = Peer::ALL;
            peers.rotate_left(round % Peer::ALL.len());
            for peer in peers {
                let sample = measure(peer, scenario, settings, pair).unwrap_or_else(|e| Sample {
                    per_sec: 0.0,
                    per_server_cpu_sec: None,
                    p50_us: 0.0,
                    flaw: Some(format!("the run failed: {e}")),
                });
                println!(
                    "round {}/{}  {:<44} {:<13} {:>9.0} {}/s  {:>9} per server CPU-s  p50 {:>8.1} us{}",
                    round + 1,
                    settings.rounds,
                    scenario.label(),
                    peer.name(),
                    sample.per_sec,
                    scenario.unit(),
                    sample
                        .per_server_cpu_sec
                        .map_or("n/a".to_string(), |v| format!("{v:.0}")),
                    sample.p50_us,
                    sample
                        .flaw
                        .as_ref()
                        .map_or(String::new(), |why| format!("  !!! {why}")),
                );
                rows.iter_mut()
                    .find(|row| row.scenario == scenario && row.peer == peer)
                    .expect("every scenario and server has a row")
                    .samples
                    .push(sample);
            }
        }
    }
    rows
}

/// The load generator's settings common to every run.
fn load_config(server: &ServerChild, settings: &Settings, pair: &Pair) -> LoadConfig {
    LoadConfig {
        addr: server.addr(),
        threads: 1,
        duration: settings.duration,
        warmup: settings.warmup,
        framing: Framing::Raw,
        server_pid: Some(server.pid()),
        progress: false,
        tls: Some(TlsConfig::new(&pair.cert)),
        ..LoadConfig::default()
    }
}

/// Starts `peer` in a child process, drives it through `scenario`, kills it.
fn measure(peer: Peer, scenario: Scenario, settings: &Settings, pair: &Pair) -> io::Result<Sample> {
    let server = spawn(peer, settings, pair)?;
    let base = load_config(&server, settings, pair);
    let sample = match scenario {
        Scenario::Handshakes { cycles } => {
            let report = turbine_load::churn(&LoadConfig {
                connections: cycles,
                ..base
            })?;
            let failures = report.failed_connects + report.errors + report.mismatches;
            Sample {
                per_sec: report.connections_per_sec(),
                per_server_cpu_sec: report.connections_per_server_cpu_sec(),
                p50_us: report.latency.percentile(50.0) as f64 / 1e3,
                flaw: (failures > 0).then(|| {
                    format!(
                        "{} failed connects ({} handshakes), {} errors, {} wrong echoes",
                        report.failed_connects,
                        report.failed_handshakes,
                        report.errors,
                        report.mismatches
                    )
                }),
            }
        }
        Scenario::Echo {
            size,
            depth,
            connections,
        } => {
            let report = turbine_load::run(&LoadConfig {
                connections,
                size,
                depth,
                ..base
            })?;
            let failures = report.failed_connects + report.errors + report.mismatches;
            Sample {
                per_sec: report.messages_per_sec(),
                per_server_cpu_sec: report.messages_per_server_cpu_sec(),
                p50_us: report.latency.percentile(50.0) as f64 / 1e3,
                flaw: (failures > 0).then(|| {
                    format!(
                        "{} failed connects, {} errors, {} wrong echoes",
                        report.failed_connects, report.errors, report.mismatches
                    )
                }),
            }
        }
    };
    server.kill()?;
    Ok(sample)
}

/// `peer` serving TLS with `pair` in a child process pinned to the server's core.
fn spawn(peer: Peer, settings: &Settings, pair: &Pair) -> io::Result<ServerChild> {
    let cert = pair.cert.to_string_lossy();
    let key = pair.key.to_string_lossy();
    let args = ["--serve", peer.name(), "--cert", &cert, "--key", &key];
    ServerChild::spawn(peer.name(), &args, settings.server_core, None)
}

/// One server's idle connections: what holding them cost it.
#[derive(Debug)]
pub(crate) struct Held {
    /// The server.
    pub peer: Peer,
    /// What the load generator measured, or why it could not.
    pub report: Result<HoldReport, String>,
}

impl Held {
    /// Whether every connection completed its handshake and echoed correctly.
    pub(crate) fn is_clean(&self, connections: usize) -> bool {
        self.report.as_ref().is_ok_and(|r| {
            r.failed_connects == 0
                && r.errors == 0
                && r.mismatches == 0
                && r.echoed_ok == connections
        })
    }
}

/// Holds `settings.hold` idle TLS connections on each server in turn.
pub(crate) fn hold(settings: &Settings, pair: &Pair) -> Vec<Held> {
    Peer::ALL
        .into_iter()
        .map(|peer| {
            let report = hold_one(peer, settings, pair).map_err(|e| e.to_string());
            match &report {
                Ok(r) => println!(
                    "hold {:<13} {} TLS connections, {} failed, {} echoed, {} per connection",
                    peer.name(),
                    r.connections,
                    r.failed_connects,
                    r.echoed_ok,
                    r.rss_growth_per_connection()
                        .map_or("n/a".to_string(), |b| format!("{b:.0} B"))
                ),
                Err(e) => println!("!!! hold {}: {e}", peer.name()),
            }
            Held { peer, report }
        })
        .collect()
}

/// Starts `peer`, holds the connections, kills it.
fn hold_one(peer: Peer, settings: &Settings, pair: &Pair) -> io::Result<HoldReport> {
    let server = spawn(peer, settings, pair)?;
    let report = turbine_load::hold(&HoldConfig {
        addr: server.addr(),
        connections: settings.hold,
        server_pid: Some(server.pid()),
        size: 64,
        framing: Framing::Raw,
        tls: Some(TlsConfig::new(&pair.cert)),
    });
    server.kill()?;
    report
}

/// About how long the load runs take, for the estimate printed at the start.
pub(crate) fn run_time(settings: &Settings) -> Duration {
    let runs = Scenario::ALL.len() * Peer::ALL.len() * settings.rounds;
    (settings.warmup + settings.duration + Duration::from_millis(300)) * runs as u32
}
