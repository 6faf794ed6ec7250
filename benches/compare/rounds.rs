//! The measured runs: every scenario and peer once per round, rounds repeated, medians kept.

use std::io;
use std::time::Duration;

use turbine_load::{LoadConfig, Report};

use crate::child::ServerChild;
use crate::peer::{Peer, Wire};
use crate::settings::Settings;

/// A workload: the wire format and how many messages each connection keeps in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Scenario {
    /// Raw bytes or lines; decides which peers take part.
    pub wire: Wire,
    /// Messages each connection has in flight (1: ping-pong).
    pub depth: usize,
}

impl Scenario {
    /// Every scenario, in the order tables list them.
    pub(crate) const ALL: [Scenario; 4] = [
        Scenario {
            wire: Wire::Raw,
            depth: 1,
        },
        Scenario {
            wire: Wire::Raw,
            depth: 16,
        },
        Scenario {
            wire: Wire::Lines,
            depth: 1,
        },
        Scenario {
            wire: Wire::Lines,
            depth: 16,
        },
    ];

    /// The peers that speak this scenario's wire format, Turbine first.
    pub(crate) fn peers(self) -> impl Iterator<Item = Peer> {
        Peer::ALL
            .into_iter()
            .filter(move |peer| peer.wire() == self.wire)
    }

    /// A short label such as `raw, depth 16`.
    pub(crate) fn label(self) -> String {
        format!("{}, depth {}", self.wire.name(), self.depth)
    }
}

/// What one run of one peer measured, or why it has no figures.
#[derive(Clone, Debug)]
pub(crate) struct Sample {
    /// Echoed messages per second of the measured window.
    pub messages_per_sec: f64,
    /// Messages per second of CPU time the server process used (user + system, all threads).
    pub per_server_cpu_sec: Option<f64>,
    /// The server's CPU time over the window's length: 1.0 is one core kept busy.
    pub server_cpu_share: Option<f64>,
    /// Median round-trip latency, microseconds.
    pub p50_us: f64,
    /// 99th-percentile round-trip latency, microseconds.
    pub p99_us: f64,
    /// Connections that failed with an error during the window.
    pub errors: u64,
    /// Replies that differed from what was sent.
    pub mismatches: u64,
    /// Connections that could not be opened.
    pub failed_connects: u64,
    /// Set when the run itself failed (server did not start, load generator error).
    pub failure: Option<String>,
}

impl Sample {
    /// The figures of a load generator report.
    fn from_report(report: &Report) -> Sample {
        let window = report.elapsed.as_secs_f64();
        Sample {
            messages_per_sec: report.messages_per_sec(),
            per_server_cpu_sec: report.messages_per_server_cpu_sec(),
            server_cpu_share: report
                .server_cpu
                .filter(|_| window > 0.0)
                .map(|cpu| cpu.as_secs_f64() / window),
            p50_us: report.latency.percentile(50.0) as f64 / 1e3,
            p99_us: report.latency.percentile(99.0) as f64 / 1e3,
            errors: report.errors,
            mismatches: report.mismatches,
            failed_connects: report.failed_connects,
            failure: None,
        }
    }

    /// A run that produced no figures.
    fn failed(why: String) -> Sample {
        Sample {
            messages_per_sec: 0.0,
            per_server_cpu_sec: None,
            server_cpu_share: None,
            p50_us: 0.0,
            p99_us: 0.0,
            errors: 0,
            mismatches: 0,
            failed_connects: 0,
            failure: Some(why),
        }
    }

    /// Whether anything went wrong: such a sample marks its row.
    pub(crate) fn is_flawed(&self) -> bool {
        self.failure.is_some() || self.errors > 0 || self.mismatches > 0 || self.failed_connects > 0
    }
}

/// One peer in one scenario, with a sample per round.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    /// The workload.
    pub scenario: Scenario,
    /// The server.
    pub peer: Peer,
    /// One sample per round, in round order.
    pub samples: Vec<Sample>,
}

impl Row {
    /// The median over rounds of `figure`, skipping samples without it.
    pub(crate) fn median(&self, figure: impl Fn(&Sample) -> Option<f64>) -> Option<f64> {
        median(
            self.samples
                .iter()
                .filter(|s| s.failure.is_none())
                .filter_map(figure)
                .collect(),
        )
    }

    /// The smallest and largest value of `figure` over rounds.
    pub(crate) fn range(&self, figure: impl Fn(&Sample) -> Option<f64>) -> Option<(f64, f64)> {
        let values: Vec<f64> = self
            .samples
            .iter()
            .filter(|s| s.failure.is_none())
            .filter_map(figure)
            .collect();
        let min = values.iter().copied().reduce(f64::min)?;
        let max = values.iter().copied().reduce(f64::max)?;
        Some((min, max))
    }

    /// Whether any round went wrong.
    pub(crate) fn is_flawed(&self) -> bool {
        self.samples.iter().any(Sample::is_flawed)
    }
}

/// The median of `values` (the mean of the middle two for an even count); `None` if empty.
pub(crate) fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

/// Runs every round: in each, every scenario in turn, and in each scenario every peer once.
///
/// The peers' order rotates from round to round, so none always runs first after a change of
/// scenario; interleaving the servers makes slow drift of a shared machine hit all of them.
pub(crate) fn run(settings: &Settings) -> Vec<Row> {
    run_peers(settings, |scenario| scenario.peers().collect())
}

/// [`run`], with `peers_of` choosing the peers of each scenario.
pub(crate) fn run_peers(settings: &Settings, peers_of: impl Fn(Scenario) -> Vec<Peer>) -> Vec<Row> {
    let mut rows: Vec<Row> = Scenario::ALL
        .into_iter()
        .flat_map(|scenario| {
            peers_of(scenario).into_iter().map(move |peer| Row {
                scenario,
                peer,
                samples: Vec::new(),
            })
        })
        .collect();
    for round in 0..settings.rounds {
        for scenario in Scenario::ALL {
            let mut peers: Vec<Peer> = peers_of(scenario);
            let turn = round % peers.len();
            peers.rotate_left(turn);
            for peer in peers {
                let sample = match measure(peer, scenario, settings) {
                    Ok(report) => Sample::from_report(&report),
                    Err(e) => Sample::failed(e.to_string()),
                };
                print_sample(round, settings.rounds, scenario, peer, &sample);
                let row = rows
                    .iter_mut()
                    .find(|row| row.scenario == scenario && row.peer == peer)
                    .expect("every scenario and peer has a row");
                row.samples.push(sample);
            }
        }
    }
    rows
}

/// Starts `peer` in a child process, drives it and kills it.
fn measure(peer: Peer, scenario: Scenario, settings: &Settings) -> io::Result<Report> {
    let server = ServerChild::spawn(peer.name(), &peer.serve_args(), settings.server_core, None)?;
    let config = LoadConfig {
        addr: server.addr(),
        connections: settings.connections,
        threads: 1,
        size: settings.size,
        depth: scenario.depth,
        duration: settings.duration,
        warmup: settings.warmup,
        framing: scenario.wire.framing(),
        server_pid: Some(server.pid()),
        progress: false,
        tls: None,
    };
    let report = turbine_load::run(&config);
    server.kill()?;
    report
}

/// One line per run, as it finishes; a flawed run is shouted.
fn print_sample(round: usize, rounds: usize, scenario: Scenario, peer: Peer, sample: &Sample) {
    let head = format!(
        "round {}/{rounds}  {:<15} {:<14}",
        round + 1,
        scenario.label(),
        peer.name()
    );
    if let Some(why) = &sample.failure {
        println!("{head} FAILED: {why}");
        return;
    }
    println!(
        "{head} {:>10.0} msg/s  {:>10} msg/server-CPU-s  server CPU {:>4}  p50 {:>7.1} us  p99 {:>7.1} us",
        sample.messages_per_sec,
        sample
            .per_server_cpu_sec
            .map_or("n/a".to_string(), |v| format!("{v:.0}")),
        sample
            .server_cpu_share
            .map_or("n/a".to_string(), |v| format!("{:.0}%", v * 100.0)),
        sample.p50_us,
        sample.p99_us,
    );
    if sample.is_flawed() {
        println!(
            "!!! {} {}: {} errors, {} mismatches, {} failed connects",
            scenario.label(),
            peer.name(),
            sample.errors,
            sample.mismatches,
            sample.failed_connects
        );
    }
}

/// How long a run takes, start-up and kill included, for the estimate printed at the start.
pub(crate) fn run_time(settings: &Settings) -> Duration {
    run_time_of(settings, |scenario| scenario.peers().count())
}

/// [`run_time`] with `peers(scenario)` peers in each scenario.
pub(crate) fn run_time_of(settings: &Settings, peers: impl Fn(Scenario) -> usize) -> Duration {
    let runs: usize = Scenario::ALL.into_iter().map(peers).sum();
    let per_run = settings.warmup + settings.duration + Duration::from_millis(200);
    per_run * (runs * settings.rounds) as u32
}
