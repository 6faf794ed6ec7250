//! `--metrics`: what the metrics listener costs. Turbine's raw and line echoes run with
//! `TURBINE_METRICS_ADDR` off and on (scraped once a second, on a new connection each time),
//! in every scenario, interleaved round by round like the main comparison; the report gives
//! messages per server CPU-second of each, and on / off per round.

use std::fmt::Write as _;

use crate::machine::Machine;
use crate::peer::Peer;
use crate::report::per_cpu;
use crate::rounds::{self, Row, Scenario, median};
use crate::settings::Settings;

/// The runs: in each scenario, the Turbine server of its wire format, off and on.
pub(crate) fn run(settings: &Settings) -> Vec<Row> {
    rounds::run_peers(settings, peers)
}

/// The two servers of `scenario`: metrics off, then on.
pub(crate) fn peers(scenario: Scenario) -> Vec<Peer> {
    Peer::METRICS
        .into_iter()
        .filter(|(off, _)| off.wire() == scenario.wire)
        .flat_map(|(off, on)| [off, on])
        .collect()
}

/// Each round's on / off ratio of messages per server CPU-second in `scenario`.
fn ratios(rows: &[Row], scenario: Scenario) -> Vec<f64> {
    let [off, on] = peers(scenario)[..] else {
        return Vec::new();
    };
    let row = |peer| {
        rows.iter()
            .find(|r| r.scenario == scenario && r.peer == peer)
    };
    let (Some(off), Some(on)) = (row(off), row(on)) else {
        return Vec::new();
    };
    off.samples
        .iter()
        .zip(&on.samples)
        .filter(|(a, b)| a.failure.is_none() && b.failure.is_none())
        .filter_map(|(a, b)| Some(per_cpu(b)? / per_cpu(a)?))
        .collect()
}

/// The Markdown report.
pub(crate) fn markdown(machine: &Machine, settings: &Settings, rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Metrics listener cost\n");
    let _ = writeln!(out, "`{}`\n", settings.command("--metrics"));
    let _ = writeln!(out, "{}", machine.markdown());
    let _ = writeln!(
        out,
        "{} connections, {}-byte messages, 1 load thread, {} of {} s; server on core 0, load \
         on core 1. \"on\" has `TURBINE_METRICS_ADDR` set and is scraped once a second on a new \
         connection, by a thread of the server process (its work counts as the server's).\n",
        settings.connections,
        settings.size,
        crate::report::plural(settings.rounds, "round"),
        settings.duration.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "| scenario | off: msg / server CPU-s (median, range) | on: msg / server CPU-s (median, \
         range) | on / off, median of rounds (range) |"
    );
    let _ = writeln!(out, "|---|---|---|---|");
    for scenario in Scenario::ALL {
        let [off, on] = peers(scenario)[..] else {
            continue;
        };
        let cell = |peer: Peer| {
            let Some(row) = rows
                .iter()
                .find(|r| r.scenario == scenario && r.peer == peer)
            else {
                return "n/a".to_string();
            };
            let flaw = if row.is_flawed() { " (!)" } else { "" };
            match (row.median(per_cpu), row.range(per_cpu)) {
                (Some(median), Some((lo, hi))) => {
                    format!("{median:.0} ({lo:.0} to {hi:.0}){flaw}")
                }
                _ => format!("n/a{flaw}"),
            }
        };
        let ratios = ratios(rows, scenario);
        let lo = ratios.iter().copied().reduce(f64::min);
        let hi = ratios.iter().copied().reduce(f64::max);
        let ratio = match (median(ratios), lo, hi) {
            (Some(m), Some(lo), Some(hi)) => format!("{m:.3} ({lo:.3} to {hi:.3})"),
            _ => "n/a".to_string(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {ratio} |",
            scenario.label(),
            cell(off),
            cell(on)
        );
    }
    out
}
