//! The handshake costs, and the Markdown report of everything measured.

use std::fmt::Write as _;
use std::time::Duration;

use rustls::SupportedProtocolVersion;

use crate::Settings;
use crate::certs::{Certs, KeyKind};
use crate::cost;
use crate::machine::Machine;
use crate::runs::{Held, Row, Scenario};
use crate::servers::Peer;

/// Full handshakes timed per key kind and version.
const HANDSHAKES: usize = 300;

/// One key kind and version's handshakes in memory.
#[derive(Debug)]
pub(crate) struct Cost {
    /// The certificate's key.
    pub kind: KeyKind,
    /// `1.3` or `1.2`.
    pub version: &'static str,
    /// The server's time for each handshake, or why there is none.
    pub result: Result<Vec<Duration>, String>,
}

/// Times [`HANDSHAKES`] full handshakes for each key kind and version; an RSA key that could
/// not be made is left out with the reason printed.
pub(crate) fn costs(certs: &Certs) -> Vec<Cost> {
    let versions: [(&'static str, &'static SupportedProtocolVersion); 2] = [
        ("1.3", &rustls::version::TLS13),
        ("1.2", &rustls::version::TLS12),
    ];
    let mut pairs = vec![&certs.ecdsa];
    match &certs.rsa {
        Ok(rsa) => pairs.push(rsa),
        Err(why) => println!("skipping RSA-2048: {why}"),
    }
    let mut costs = Vec::new();
    for pair in pairs {
        for (version, protocol) in versions {
            let result = cost::measure(pair, protocol, HANDSHAKES).map_err(|e| e.to_string());
            match &result {
                Ok(times) => {
                    let mut times = times.clone();
                    println!(
                        "handshake {:<12} TLS {version}: median {:.0} us, p99 {:.0} us",
                        pair.kind.name(),
                        cost::percentile_us(&mut times, 50.0),
                        cost::percentile_us(&mut times, 99.0)
                    );
                }
                Err(e) => println!("!!! handshake {} TLS {version}: {e}", pair.kind.name()),
            }
            costs.push(Cost {
                kind: pair.kind,
                version,
                result,
            });
        }
    }
    costs
}

/// The whole report.
pub(crate) fn markdown(
    machine: &Machine,
    settings: &Settings,
    costs: &[Cost],
    rows: &[Row],
    held: &[Held],
) -> String {
    let mut md = String::from("# TLS: Turbine and tokio-rustls\n\n");
    let _ = writeln!(
        md,
        "Written by `{}` (`benches/tls/`).\n",
        settings.command()
    );
    md.push_str(&machine.markdown());
    cost_table(&mut md, costs);
    load_table(&mut md, settings, rows);
    if !held.is_empty() {
        hold_table(&mut md, settings, held);
    }
    md
}

/// How long one full handshake keeps a reactor busy.
fn cost_table(md: &mut String, costs: &[Cost]) {
    let _ = writeln!(
        md,
        "\n## One full handshake on a reactor\n\n\
         A rustls client and server in memory, {HANDSHAKES} full handshakes each (no \
         resumption), only the server's calls timed (`read_tls`, `process_new_packets`, \
         `write_tls`): the time a reactor spends on one handshake, during which its other \
         connections wait. Handshakes per core-second = 1 / median.\n\n\
         | certificate key | TLS | median | p99 | handshakes per core-second |\n\
         |---|---|---|---|---|"
    );
    for cost in costs {
        match &cost.result {
            Ok(times) => {
                let mut times = times.clone();
                let median = cost::percentile_us(&mut times, 50.0);
                let _ = writeln!(
                    md,
                    "| {} | {} | {median:.0} us | {:.0} us | {:.0} |",
                    cost.kind.name(),
                    cost.version,
                    cost::percentile_us(&mut times, 99.0),
                    1e6 / median
                );
            }
            Err(e) => {
                let _ = writeln!(
                    md,
                    "| {} **(!)** | {} | failed: {e} | | |",
                    cost.kind.name(),
                    cost.version
                );
            }
        }
    }
}

/// The load runs: medians over rounds and the ratio Turbine / tokio-rustls.
fn load_table(md: &mut String, settings: &Settings, rows: &[Row]) {
    let _ = writeln!(
        md,
        "\n## Load, per server CPU-second\n\n\
         Each server alone in a child process on core 0, the load generator (`turbine-load`, \
         one thread, TLS 1.3, ECDSA P-256 certificate) on core 1; {} of {} s after a {} s \
         warm-up, medians over rounds. The ratio is Turbine / tokio-rustls per server \
         CPU-second, taken within each round (the two ran back to back) and given as the median \
         of the rounds and their range: above 1.0, Turbine does more with the same CPU.\n\n\
         | workload | server | per second | per server CPU-second | p50 latency | ratio (range) |\n\
         |---|---|---|---|---|---|",
        rounds(settings.rounds),
        settings.duration.as_secs_f64(),
        settings.warmup.as_secs_f64()
    );
    for scenario in Scenario::ALL {
        let ratio = round_ratios(rows, scenario);
        for row in rows.iter().filter(|r| r.scenario == scenario) {
            let mark = if row.is_flawed() { " **(!)**" } else { "" };
            let _ = writeln!(
                md,
                "| {} | {}{mark} | {} {} | {} | {} | {} |",
                scenario.label(),
                row.peer.name(),
                count(row.median(|s| Some(s.per_sec))),
                scenario.unit(),
                count(row.median(|s| s.per_server_cpu_sec)),
                row.median(|s| Some(s.p50_us))
                    .map_or("n/a".to_string(), |us| format!("{us:.0} us")),
                if row.peer == Peer::Turbine {
                    ratio.as_str()
                } else {
                    ""
                }
            );
        }
    }
    for row in rows.iter().filter(|r| r.is_flawed()) {
        for why in row.samples.iter().filter_map(|s| s.flaw.as_ref()) {
            let _ = writeln!(
                md,
                "\n(!) {} {}: {why}",
                row.scenario.label(),
                row.peer.name()
            );
        }
    }
}

/// Turbine / tokio-rustls per server CPU-second in each round where both have a figure: the
/// median and the range, or `n/a`.
fn round_ratios(rows: &[Row], scenario: Scenario) -> String {
    let samples = |peer: Peer| {
        rows.iter()
            .find(|r| r.scenario == scenario && r.peer == peer)
            .map(|r| r.samples.as_slice())
            .unwrap_or_default()
    };
    let mut ratios: Vec<f64> = samples(Peer::Turbine)
        .iter()
        .zip(samples(Peer::TokioRustls))
        .filter(|(t, k)| t.flaw.is_none() && k.flaw.is_none())
        .filter_map(|(t, k)| {
            Some(t.per_server_cpu_sec? / k.per_server_cpu_sec.filter(|v| *v > 0.0)?)
        })
        .collect();
    if ratios.is_empty() {
        return "n/a".into();
    }
    ratios.sort_by(f64::total_cmp);
    format!(
        "**{:.2}x** ({:.2} to {:.2})",
        ratios[ratios.len() / 2],
        ratios[0],
        ratios[ratios.len() - 1]
    )
}

/// Memory per idle TLS connection.
fn hold_table(md: &mut String, settings: &Settings, held: &[Held]) {
    let _ = writeln!(
        md,
        "\n## Memory per idle TLS connection\n\n\
         Each server alone in a child process; the load generator (`turbine_load::hold`) reads \
         its resident memory, opens {} connections and completes each one's TLS 1.3 handshake, \
         waits 500 ms, reads the memory again, then echoes one 64-byte message on each. Neither \
         server holds a read buffer of its own for an idle connection (Turbine reads every \
         connection into its reactor's shared buffer, the tokio-rustls echo reads through \
         `fill_buf`): what remains is the TCP stream, the task or connection, and rustls's \
         session, whose record buffer keeps 4 KiB.\n\n\
         | server | held | failed | echoed correctly | growth per connection |\n\
         |---|---|---|---|---|",
        count(Some(settings.hold as f64))
    );
    for h in held {
        let mark = if h.is_clean(settings.hold) {
            ""
        } else {
            " **(!)**"
        };
        match &h.report {
            Ok(r) => {
                let _ = writeln!(
                    md,
                    "| {}{mark} | {} | {} | {} | {} |",
                    h.peer.name(),
                    count(Some(r.connections as f64)),
                    r.failed_connects,
                    count(Some(r.echoed_ok as f64)),
                    r.rss_growth_per_connection()
                        .map_or("n/a".to_string(), |b| format!("{:.1} KiB", b / 1024.0))
                );
            }
            Err(e) => {
                let _ = writeln!(md, "| {}{mark} | failed: {e} | | | |", h.peer.name());
            }
        }
    }
}

/// `1 round` or `3 rounds`.
fn rounds(n: usize) -> String {
    if n == 1 {
        "1 round".into()
    } else {
        format!("{n} rounds")
    }
}

/// A figure with thousands separators, or `n/a`.
fn count(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".into(), crate::format::count)
}
