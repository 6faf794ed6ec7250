//! The `--latency` mode: latency against offered rate, open loop, for Turbine, tokio and the bare
//! mio loop side by side.
//!
//! Each server's peak is its closed-loop throughput with one message in flight per connection
//! (the same 100 connections, 64-byte messages): like the open-loop runs, every message then
//! goes out in a write of its own. A peak with 16 in flight batches 16 messages per system call
//! on both sides, a rate that no generator sending each message at its own intended time can
//! offer (tried: at a tenth of it the generator's own send lag already set the figures, about
//! 1 ms at every rate and for every server). The offered rates are fractions of the lowest of the three
//! peaks, so every server is asked for the same rates, none past what all can carry. At each
//! rate a fixed-rate run (`turbine_load::run_at_rate`: messages on a timetable, latency from
//! each message's intended send time, so a stall is not hidden by coordinated omission)
//! measures p50, p99 and p99.9; rounds rotate the servers' order and the tables keep medians.

use std::fmt::Write as _;
use std::io;

use turbine_load::{Framing, LoadConfig, RateConfig, Report};

use crate::child::ServerChild;
use crate::machine::Machine;
use crate::peer::Peer;
use crate::plot::{colour, escape, short};
use crate::rounds::median;
use crate::settings::Settings;

/// The servers compared.
pub(crate) const PEERS: [Peer; 3] = [Peer::TurbineRaw, Peer::TokioRaw, Peer::MioRaw];

/// Offered rates, as fractions of the common peak; the issue's two are 50 % and 90 %.
pub(crate) const FRACTIONS: [f64; 5] = [0.1, 0.3, 0.5, 0.7, 0.9];

/// Messages in flight per connection in the peak (closed-loop) runs: one, as in the open-loop
/// runs (see the module's docs).
const PEAK_DEPTH: usize = 1;

/// A figure of a point.
type Figure = fn(&Point) -> f64;

/// One server at one offered rate, one round.
#[derive(Clone, Debug)]
pub(crate) struct Point {
    /// Messages per second asked for.
    pub offered: f64,
    /// Messages per second answered.
    pub achieved: f64,
    /// Latency percentiles from the intended send time, microseconds.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// The load generator's own send lag, 99th percentile, microseconds: above the server's
    /// figures it would say the generator, not the server, set the latency.
    pub lag_p99: f64,
    /// Errors, wrong echoes, failed connects or unsent messages: the point is marked.
    pub flaw: Option<String>,
}

/// What the latency mode measured.
pub(crate) struct Curves {
    /// Each server's closed-loop peak, messages per second (median of rounds).
    pub peaks: Vec<(Peer, f64)>,
    /// The common peak the offered rates are fractions of.
    pub peak: f64,
    /// For each server, for each fraction, one point per round.
    pub points: Vec<(Peer, Vec<Vec<Point>>)>,
}

/// Measures the peaks, then every rate for every server, `settings.rounds` times.
pub(crate) fn run(settings: &Settings) -> io::Result<Curves> {
    let mut peaks = Vec::new();
    for peer in PEERS {
        let mut rates = Vec::new();
        for _ in 0..settings.rounds {
            let report = closed_loop(peer, settings)?;
            rates.push(report.messages_per_sec());
        }
        let peak = median(rates).unwrap_or(0.0);
        println!(
            "latency: {:<13} closed-loop peak {:>10.0} msg/s",
            peer.name(),
            peak
        );
        peaks.push((peer, peak));
    }
    let peak = peaks.iter().map(|&(_, p)| p).fold(f64::INFINITY, f64::min);
    if !peak.is_finite() || peak < 100.0 {
        return Err(io::Error::other(format!(
            "no usable peak ({peak:.0} msg/s)"
        )));
    }
    let mut points: Vec<(Peer, Vec<Vec<Point>>)> = PEERS
        .iter()
        .map(|&p| (p, vec![Vec::new(); FRACTIONS.len()]))
        .collect();
    for round in 0..settings.rounds {
        for (f, fraction) in FRACTIONS.iter().enumerate() {
            let mut order = PEERS;
            order.rotate_left(round % PEERS.len());
            for peer in order {
                let rate = (peak * fraction).round();
                let point = match fixed_rate(peer, rate, settings) {
                    Ok(report) => point(rate, &report),
                    Err(e) => Point {
                        offered: rate,
                        achieved: 0.0,
                        p50: 0.0,
                        p99: 0.0,
                        p999: 0.0,
                        lag_p99: 0.0,
                        flaw: Some(e.to_string()),
                    },
                };
                println!(
                    "latency: round {}/{} {:<13} {:>9.0} msg/s offered {:>9.0} achieved  p50 {:>8.1} us  p99 {:>8.1} us  p99.9 {:>8.1} us  send lag p99 {:>7.1} us{}",
                    round + 1,
                    settings.rounds,
                    peer.name(),
                    point.offered,
                    point.achieved,
                    point.p50,
                    point.p99,
                    point.p999,
                    point.lag_p99,
                    point
                        .flaw
                        .as_ref()
                        .map_or(String::new(), |w| format!("  !!! {w}"))
                );
                let row = points
                    .iter_mut()
                    .find(|(p, _)| *p == peer)
                    .expect("a row per peer");
                row.1[f].push(point);
            }
        }
    }
    Ok(Curves {
        peaks,
        peak,
        points,
    })
}

/// The closed-loop run that finds `peer`'s peak.
fn closed_loop(peer: Peer, settings: &Settings) -> io::Result<Report> {
    let server = ServerChild::spawn(peer.name(), &peer.serve_args(), settings.server_core, None)?;
    let report = turbine_load::run(&LoadConfig {
        depth: PEAK_DEPTH,
        ..load(&server, settings)
    });
    server.kill()?;
    report
}

/// One fixed-rate run of `peer` at `rate` messages per second.
fn fixed_rate(peer: Peer, rate: f64, settings: &Settings) -> io::Result<Report> {
    let server = ServerChild::spawn(peer.name(), &peer.serve_args(), settings.server_core, None)?;
    let report = turbine_load::run_at_rate(&RateConfig {
        load: load(&server, settings),
        rate: rate as u64,
        ..RateConfig::default()
    });
    server.kill()?;
    report
}

/// The load common to every run: the comparison's connections and message size, raw framing.
fn load(server: &ServerChild, settings: &Settings) -> LoadConfig {
    LoadConfig {
        addr: server.addr(),
        connections: settings.connections,
        threads: 1,
        size: settings.size,
        depth: 1,
        duration: settings.duration,
        warmup: settings.warmup,
        framing: Framing::Raw,
        server_pid: Some(server.pid()),
        progress: false,
        tls: None,
    }
}

/// A run's figures.
fn point(offered: f64, report: &Report) -> Point {
    let us = |percent: f64| report.latency.percentile(percent) as f64 / 1e3;
    let pacing = report.pacing.as_ref();
    let unsent = pacing.map_or(0, |p| p.unsent);
    let failures = report.errors + report.mismatches + report.failed_connects + unsent;
    Point {
        offered,
        achieved: report.messages_per_sec(),
        p50: us(50.0),
        p99: us(99.0),
        p999: us(99.9),
        lag_p99: pacing.map_or(0.0, |p| p.send_lag.percentile(99.0) as f64 / 1e3),
        flaw: (failures > 0).then(|| {
            format!(
                "{} errors, {} wrong echoes, {} failed connects, {unsent} unsent",
                report.errors, report.mismatches, report.failed_connects
            )
        }),
    }
}

impl Curves {
    /// The median over rounds of `figure` for `peer` at fraction index `f`.
    fn median(&self, peer: Peer, f: usize, figure: Figure) -> Option<f64> {
        let (_, per_fraction) = self.points.iter().find(|(p, _)| *p == peer)?;
        median(
            per_fraction[f]
                .iter()
                .filter(|p| p.flaw.is_none())
                .map(figure)
                .collect(),
        )
    }

    /// Whether any point went wrong.
    pub(crate) fn is_flawed(&self) -> bool {
        self.points
            .iter()
            .flat_map(|(_, f)| f.iter().flatten())
            .any(|p| p.flaw.is_some())
    }

    /// The report.
    pub(crate) fn markdown(&self, machine: &Machine, settings: &Settings) -> String {
        let mut md = String::from("# Latency against offered rate\n\n");
        let _ = writeln!(
            md,
            "Written by `{}` (`benches/compare/latency.rs`).\n",
            settings.command("--latency")
        );
        md.push_str(&machine.markdown());
        let _ = writeln!(
            md,
            "\nEach server alone in a child process on core 0, the load generator on core 1; {} \
             connections, {}-byte messages, raw echo. Peaks (closed loop, {PEAK_DEPTH} in \
             flight per connection, median of {} rounds): {}. Offered rates are fractions of \
             the lowest peak, {:.0} messages/s, the same for every server. Each point: a \
             fixed-rate run, {} s after a {} s warm-up, latency from each message's intended \
             send time; medians over {} rounds. `lag` is the load generator's own delay in \
             sending (p99): when it is near a server's p99, the generator set the figure.\n",
            settings.connections,
            settings.size,
            settings.rounds,
            self.peaks
                .iter()
                .map(|(p, r)| format!("{} {:.0}/s", p.name(), r))
                .collect::<Vec<_>>()
                .join(", "),
            self.peak,
            settings.duration.as_secs_f64(),
            settings.warmup.as_secs_f64(),
            settings.rounds,
        );
        md.push_str(
            "| offered | server | achieved | p50 | p99 | p99.9 | lag p99 | p99 Turbine / this |\n\
             |---|---|---|---|---|---|---|---|\n",
        );
        for (f, fraction) in FRACTIONS.iter().enumerate() {
            let ours = self.median(Peer::TurbineRaw, f, |p| p.p99);
            for peer in PEERS {
                let m = |figure: Figure| {
                    self.median(peer, f, figure)
                        .map_or("n/a".to_string(), |v| format!("{v:.0}"))
                };
                let ratio = match (ours, self.median(peer, f, |p| p.p99)) {
                    (Some(a), Some(b)) if peer != Peer::TurbineRaw && b > 0.0 => {
                        format!("{:.2}x", a / b)
                    }
                    _ => String::new(),
                };
                let _ = writeln!(
                    md,
                    "| {:.0} % ({:.0}/s) | {} | {}/s | {} µs | {} µs | {} µs | {} µs | {} |",
                    fraction * 100.0,
                    self.peak * fraction,
                    peer.name(),
                    m(|p| p.achieved),
                    m(|p| p.p50),
                    m(|p| p.p99),
                    m(|p| p.p999),
                    m(|p| p.lag_p99),
                    ratio
                );
            }
        }
        md
    }

    /// A line chart: p99 (solid) and p50 (dashed) against offered rate, log scale.
    pub(crate) fn svg(&self, subtitle: &str) -> String {
        // Picture size, then the plot area's left, right, top and bottom edges.
        const W: f64 = 900.0;
        const H: f64 = 520.0;
        const L: f64 = 90.0;
        const R: f64 = 860.0;
        const T: f64 = 80.0;
        const B: f64 = 440.0;
        let values: Vec<f64> = PEERS
            .iter()
            .flat_map(|&peer| {
                (0..FRACTIONS.len()).flat_map(move |f| {
                    [
                        self.median(peer, f, |p| p.p50),
                        self.median(peer, f, |p| p.p99),
                    ]
                })
            })
            .flatten()
            .filter(|v| *v > 0.0)
            .collect();
        let lo = values
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
            .max(1.0);
        let hi = values.iter().copied().fold(0.0, f64::max).max(lo * 10.0);
        let (lo_exp, hi_exp) = (lo.log10().floor(), hi.log10().ceil());
        let y = |v: f64| B - (B - T) * (v.max(1.0).log10() - lo_exp) / (hi_exp - lo_exp);
        let x = |fraction: f64| L + (R - L) * fraction;
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="13">"#
        );
        let _ = writeln!(svg, r##"<rect width="{W}" height="{H}" fill="#ffffff"/>"##);
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="28" text-anchor="middle" font-size="17" font-weight="bold">Echo latency against offered rate (p99 solid, p50 dashed; lower is better)</text>"#,
            W / 2.0
        );
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="50" text-anchor="middle" fill="#444444">{}</text>"##,
            W / 2.0,
            escape(subtitle)
        );
        let mut exp = lo_exp;
        while exp <= hi_exp {
            let ty = y(10f64.powf(exp));
            let _ = writeln!(
                svg,
                r##"<line x1="{L}" y1="{ty:.1}" x2="{R}" y2="{ty:.1}" stroke="#dddddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{} µs</text>"##,
                L - 8.0,
                ty + 4.0,
                short(10f64.powf(exp))
            );
            exp += 1.0;
        }
        for &fraction in &FRACTIONS {
            let tx = x(fraction);
            let _ = writeln!(
                svg,
                r#"<text x="{tx:.1}" y="{:.1}" text-anchor="middle">{:.0} % ({})</text>"#,
                B + 20.0,
                fraction * 100.0,
                short(self.peak * fraction)
            );
        }
        let _ = writeln!(
            svg,
            r##"<line x1="{L}" y1="{B}" x2="{R}" y2="{B}" stroke="#000000"/><line x1="{L}" y1="{T}" x2="{L}" y2="{B}" stroke="#000000"/><text x="{}" y="{}" text-anchor="middle">offered rate, % of the lowest closed-loop peak (messages/s)</text>"##,
            (L + R) / 2.0,
            B + 45.0
        );
        for (i, peer) in PEERS.into_iter().enumerate() {
            let lines: [(Figure, &str); 2] =
                [(|p| p.p99, ""), (|p| p.p50, r#" stroke-dasharray="6 4""#)];
            for (figure, dash) in lines {
                let line: Vec<String> = FRACTIONS
                    .iter()
                    .enumerate()
                    .filter_map(|(f, &fraction)| {
                        let v = self.median(peer, f, figure)?;
                        Some(format!("{:.1},{:.1}", x(fraction), y(v)))
                    })
                    .collect();
                let _ = writeln!(
                    svg,
                    r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2.5"{dash}/>"#,
                    line.join(" "),
                    colour(peer)
                );
            }
            let ly = T + 10.0 + 20.0 * i as f64;
            let _ = writeln!(
                svg,
                r#"<line x1="{}" y1="{ly}" x2="{}" y2="{ly}" stroke="{}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
                L + 15.0,
                L + 45.0,
                colour(peer),
                L + 52.0,
                ly + 4.0,
                peer.name()
            );
        }
        svg.push_str("</svg>\n");
        svg
    }
}
