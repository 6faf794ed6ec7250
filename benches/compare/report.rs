//! The comparison's Markdown report: set-up, ratios, every row, system calls per message.

use std::fmt::Write as _;

use crate::machine::Machine;
use crate::peer::Peer;
use crate::rounds::{Row, Sample, Scenario};
use crate::settings::Settings;
use crate::syscalls::{Counter, FAILED, TOTAL, Trace};

/// One Turbine / peer comparison at one depth.
#[derive(Clone, Debug)]
pub(crate) struct Ratio {
    /// The Turbine server.
    pub turbine: Peer,
    /// The server it is compared with.
    pub peer: Peer,
    /// Pipeline depth.
    pub depth: usize,
    /// Median messages per server CPU-second, Turbine's over the peer's.
    pub per_cpu: Option<f64>,
    /// Smallest and largest per-round ratio of messages per server CPU-second.
    pub per_cpu_range: Option<(f64, f64)>,
    /// Median messages per second, Turbine's over the peer's.
    pub throughput: Option<f64>,
    /// The smallest `per_cpu` the project aims for, if it has a goal for this pair.
    pub goal: Option<f64>,
}

impl Ratio {
    /// `Some(true)` if the goal is met, `Some(false)` if missed, `None` without goal or data.
    pub(crate) fn meets_goal(&self) -> Option<bool> {
        Some(self.per_cpu? >= self.goal?)
    }
}

/// The comparisons the report makes, with the goal of each: Turbine raw at least 1.2x bare mio
/// and 1.1x tokio, lines at least 1.2x tokio's `Framed`; blocking has none.
const PAIRS: [(Peer, Peer, Option<f64>); 4] = [
    (Peer::TurbineRaw, Peer::MioRaw, Some(1.2)),
    (Peer::TurbineRaw, Peer::TokioRaw, Some(1.1)),
    (Peer::TurbineRaw, Peer::BlockingRaw, None),
    (Peer::TurbineLines, Peer::TokioLines, Some(1.2)),
];

/// Messages per server CPU-second of a sample.
pub(crate) fn per_cpu(sample: &Sample) -> Option<f64> {
    sample.per_server_cpu_sec
}

/// Messages per second of a sample.
fn throughput(sample: &Sample) -> Option<f64> {
    Some(sample.messages_per_sec)
}

/// Every comparison at every depth, from the rows measured.
pub(crate) fn ratios(rows: &[Row]) -> Vec<Ratio> {
    let mut ratios = Vec::new();
    for (turbine, peer, goal) in PAIRS {
        for depth in [1, 16] {
            let scenario = Scenario {
                wire: turbine.wire(),
                depth,
            };
            let find = |p: Peer| rows.iter().find(|r| r.scenario == scenario && r.peer == p);
            let (Some(ours), Some(theirs)) = (find(turbine), find(peer)) else {
                continue;
            };
            let over = |figure: fn(&Sample) -> Option<f64>| {
                Some(ours.median(figure)? / theirs.median(figure)?)
            };
            // Same-round pairs: the two ran within seconds of each other.
            let per_round: Vec<f64> = ours
                .samples
                .iter()
                .zip(&theirs.samples)
                .filter(|(a, b)| a.failure.is_none() && b.failure.is_none())
                .filter_map(|(a, b)| Some(per_cpu(a)? / per_cpu(b)?))
                .collect();
            let range = per_round
                .iter()
                .copied()
                .reduce(f64::min)
                .zip(per_round.iter().copied().reduce(f64::max));
            ratios.push(Ratio {
                turbine,
                peer,
                depth,
                per_cpu: over(per_cpu),
                per_cpu_range: range,
                throughput: over(throughput),
                goal,
            });
        }
    }
    ratios
}

/// The whole report.
pub(crate) fn markdown(
    machine: &Machine,
    settings: &Settings,
    rows: &[Row],
    counts: &Counts,
) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Side by side: messages per server CPU-second\n");
    let _ = writeln!(
        md,
        "Written by `{}` (`benches/compare/`).\n",
        settings.command("")
    );
    md.push_str(&machine.markdown());
    md.push('\n');
    md.push_str(&setup(settings));
    md.push_str(&ratio_table(&ratios(rows), settings.rounds));
    md.push_str(&row_table(rows, settings.rounds));
    md.push_str(&syscall_tables(counts, settings));
    md
}

/// How the figures were taken.
fn setup(settings: &Settings) -> String {
    let pinning = match (settings.server_core, settings.load_core) {
        (Some(server), Some(load)) => {
            format!("the server child pinned to core {server}, the load generator to core {load}")
        }
        _ => "no pinning (fewer than two cores)".to_string(),
    };
    format!(
        "Each server runs alone in a child process (this bench binary with `--serve NAME`), \
         {pinning}. The load generator (`turbine-load`, 1 thread) opens {} connections and keeps \
         1 or 16 messages of {} bytes in flight on each; every reply is checked. Each run: {} s \
         warm-up, {} s measured; {}, each running every server once per scenario \
         (servers interleaved, order rotated per round); figures are medians over rounds. \
         Messages per server CPU-second = replies in the window / the server process's user + \
         system CPU time in the window (`/proc/PID/stat`, all threads), so it does not depend \
         on how much CPU the load generator leaves the server.\n\n",
        settings.connections,
        settings.size,
        settings.warmup.as_secs_f64(),
        settings.duration.as_secs_f64(),
        plural(settings.rounds, "round"),
    )
}

/// Turbine over each peer.
fn ratio_table(ratios: &[Ratio], rounds: usize) -> String {
    let mut md = format!(
        "## Ratios, Turbine / peer (medians of {})\n\n\
         | Turbine vs peer | depth | msgs per server CPU-s | per-round range | msgs/s | goal | met |\n\
         |---|---|---|---|---|---|---|\n",
        plural(rounds, "round")
    );
    for ratio in ratios {
        let _ = writeln!(
            md,
            "| {} vs {} | {} | {} | {} | {} | {} | {} |",
            ratio.turbine.name(),
            ratio.peer.name(),
            ratio.depth,
            ratio.per_cpu.map_or("n/a".into(), |r| format!("{r:.2}")),
            ratio
                .per_cpu_range
                .map_or("n/a".into(), |(lo, hi)| format!("{lo:.2} to {hi:.2}")),
            ratio.throughput.map_or("n/a".into(), |r| format!("{r:.2}")),
            ratio.goal.map_or("none".into(), |g| format!("≥ {g:.1}")),
            match ratio.meets_goal() {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "",
            }
        );
    }
    md.push('\n');
    md
}

/// Every scenario and server.
fn row_table(rows: &[Row], rounds: usize) -> String {
    let mut md = format!(
        "## Every server (medians of {})\n\n\
         | scenario | server | msgs/s | msgs per server CPU-s | range over rounds | server CPU | p50 | p99 | errors | mismatches |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
        plural(rounds, "round")
    );
    for row in rows {
        let sum = |f: fn(&Sample) -> u64| row.samples.iter().map(f).sum::<u64>();
        let failed = row.samples.iter().filter(|s| s.failure.is_some()).count();
        let mut server = row.peer.name().to_string();
        if row.is_flawed() {
            server.push_str(" **(!)**");
        }
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.scenario.label(),
            server,
            row.median(throughput).map_or("n/a".into(), count),
            row.median(per_cpu).map_or("n/a".into(), count),
            row.range(per_cpu).map_or("n/a".into(), |(lo, hi)| format!(
                "{} to {}",
                count(lo),
                count(hi)
            )),
            row.median(|s| s.server_cpu_share)
                .map_or("n/a".into(), |c| format!("{:.0} %", c * 100.0)),
            row.median(|s| Some(s.p50_us))
                .map_or("n/a".into(), |us| format!("{us:.0} µs")),
            row.median(|s| Some(s.p99_us))
                .map_or("n/a".into(), |us| format!("{us:.0} µs")),
            sum(|s| s.errors + s.failed_connects),
            sum(|s| s.mismatches),
        );
        if failed > 0 {
            let _ = writeln!(
                md,
                "| | ↳ {failed} of {rounds} runs failed | | | | | | | | |"
            );
        }
    }
    md.push_str(
        "\nServer CPU: the server's CPU time over the window (100 % = one core busy). Errors \
         include failed connects. A row marked **(!)** had errors, mismatches or a failed run.\n\n",
    );
    md
}

/// What each system call counter found, or why it did not run.
pub(crate) type Counts = [(Counter, Result<Vec<Trace>, String>)];

/// System calls per message, a table per counter.
fn syscall_tables(counts: &Counts, settings: &Settings) -> String {
    let mut md = format!(
        "## System calls per message\n\n\
         Each server alone again, driven for {} s without warm-up ({} connections), under a \
         system call counter; the counts of an idle run of the same server (start-up, exit) are \
         subtracted. `perf stat` counts the kernel's system call tracepoints and barely slows \
         the server. `strace -f -c` stops the server at every call, so the client has time to \
         answer in between: reads that would find the socket empty find the next message, and \
         one `epoll_wait` returns more events; its counts of those calls are lower than at full \
         speed, and its times mean nothing. Failed calls are those returning an error, for \
         these servers almost all `EAGAIN`. `≤ +x %`: up to {} × depth messages were in \
         flight when the window closed, so a figure per message may be high by at most that.\n\n",
        settings.count_window.as_secs_f64(),
        settings.connections,
        settings.connections,
    );
    for (counter, traces) in counts {
        let _ = writeln!(md, "### `{}`\n", counter.name());
        let traces = match traces {
            Ok(traces) => traces,
            Err(why) => {
                let _ = writeln!(md, "Not measured: {why}\n");
                continue;
            }
        };
        md.push_str(
            "| server | depth | messages | calls per message | failed per message | main calls per message | bound |\n\
             |---|---|---|---|---|---|---|\n",
        );
        for trace in traces {
            let main = trace
                .main_calls()
                .iter()
                .take(5)
                .map(|(name, per)| format!("{name} {per:.2}"))
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(
                md,
                "| {}{} | {} | {} | {:.2} | {:.2} | {} | ≤ +{:.1} % |",
                trace.peer.name(),
                if trace.flaws > 0 { " **(!)**" } else { "" },
                trace.depth,
                count(trace.messages as f64),
                trace.per_message(TOTAL),
                trace.per_message(FAILED),
                main,
                trace.in_flight as f64 * 100.0 / trace.messages.max(1) as f64,
            );
        }
        md.push('\n');
    }
    md
}

/// `n` and `noun`, plural unless `n` is 1: `1 round`, `3 rounds`.
pub(crate) fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

pub(crate) use crate::format::count;

/// The median over rounds of the per-CPU figure of `peer` in `scenario`, for the chart.
pub(crate) fn chart_value(rows: &[Row], scenario: Scenario, peer: Peer) -> Option<f64> {
    rows.iter()
        .find(|r| r.scenario == scenario && r.peer == peer)?
        .median(per_cpu)
}
