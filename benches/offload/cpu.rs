//! `OtherCpu`: how much CPU the rest of the machine used during a measurement.
//!
//! The bench shares a two-core machine: a compile or a test run elsewhere takes cores from the
//! server and the clients and shows up as latency. This measures it, so each figure comes with
//! the load it was measured under.

use std::time::{Duration, Instant};

use turbine_load::{CLK_TCK, server_cpu_time};

/// Busy CPU time of the whole machine and of our own processes, at one moment.
pub(crate) struct OtherCpu {
    /// When the counters were read.
    at: Instant,
    /// Busy time of all cores from `/proc/stat`.
    machine: Duration,
    /// CPU time of our processes (the bench and the server).
    ours: Duration,
    /// Our process ids.
    pids: Vec<u32>,
}

impl OtherCpu {
    /// Starts counting; `pids` are the processes that belong to the measurement.
    pub(crate) fn start(pids: Vec<u32>) -> OtherCpu {
        OtherCpu {
            at: Instant::now(),
            machine: machine_busy(),
            ours: ours(&pids),
            pids,
        }
    }

    /// Cores' worth of CPU that other processes used since `start` (0.0 to the core count;
    /// accurate to a few hundredths over a few seconds, the counters being in 10 ms ticks).
    pub(crate) fn cores(&self) -> f64 {
        let machine = machine_busy().saturating_sub(self.machine);
        let ours = ours(&self.pids).saturating_sub(self.ours);
        machine.saturating_sub(ours).as_secs_f64() / self.at.elapsed().as_secs_f64()
    }
}

/// CPU time used by `pids` so far (a process that is gone counts as zero).
fn ours(pids: &[u32]) -> Duration {
    pids.iter()
        .map(|&pid| server_cpu_time(pid).unwrap_or_default())
        .sum()
}

/// Busy time of every core so far: the `cpu` line of `/proc/stat` less idle and iowait.
fn machine_busy() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|field| field.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user already).
    let busy: u64 = ticks
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, t)| t)
        .sum();
    Duration::from_millis(busy * 1000 / CLK_TCK)
}

/// Waits, up to `patience`, for a second in which other processes use less than `cores`;
/// returns whether one came.
pub(crate) fn wait_quiet(cores: f64, patience: Duration) -> bool {
    let deadline = Instant::now() + patience;
    loop {
        let other = OtherCpu::start(vec![std::process::id()]);
        std::thread::sleep(Duration::from_secs(1));
        if other.cores() < cores {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
    }
}
