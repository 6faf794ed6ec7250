//! `--cluster`: the room served by the chat in cluster mode, one instance against three, each
//! with one reactor, all linked through one `redis-server`; and, for reference, by one
//! instance alone, without Redis.

use std::io;
use std::process::ExitCode;
use std::time::Duration;

use crate::members::{Outcome, Probe, Ready, Room, Shape};
use crate::server::{RedisChild, ServerChild};
use crate::{machine, machine_busy};

/// The setups compared, in each round.
const SETUPS: [Setup; 3] = [Setup::Alone, Setup::Linked(1), Setup::Linked(3)];

/// How the room is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Setup {
    /// One instance, not in cluster mode: no Redis.
    Alone,
    /// This many instances in cluster mode, on one Redis.
    Linked(usize),
}

impl Setup {
    /// The instances.
    fn instances(self) -> usize {
        match self {
            Setup::Alone => 1,
            Setup::Linked(n) => n,
        }
    }

    /// The table's name for it.
    fn label(self) -> String {
        match self {
            Setup::Alone => "1, no Redis".to_string(),
            Setup::Linked(n) => n.to_string(),
        }
    }
}

/// One measured run of a cluster.
struct ClusterRun {
    /// How the room was served.
    setup: Setup,
    /// What the members saw.
    outcome: Outcome,
    /// CPU time each instance used during the run.
    instance_cpu: Vec<Duration>,
    /// CPU time `redis-server` used during the run (`None` without one).
    redis_cpu: Option<Duration>,
    /// CPU time this process (the members' threads) used during the run.
    members_cpu: Duration,
    /// CPU time everything else on the machine used during the run: neither the instances,
    /// nor Redis, nor this process.
    others_cpu: Duration,
}

impl ClusterRun {
    /// Deliveries per second of the run.
    fn deliveries_per_sec(&self) -> f64 {
        self.outcome.delivered as f64 / self.outcome.elapsed.as_secs_f64()
    }

    /// `cpu` over the run's time: the cores it kept busy on average.
    fn cores(&self, cpu: Duration) -> f64 {
        cpu.as_secs_f64() / self.outcome.elapsed.as_secs_f64()
    }

    /// One table row.
    fn row(&self, label: &str) -> String {
        let per_instance: Vec<String> = (self.instance_cpu.iter())
            .map(|&cpu| format!("{:.2}", self.cores(cpu)))
            .collect();
        let ms = |ns: u64| format!("{:.2}", ns as f64 / 1e6);
        let (within, across) = (&self.outcome.latency.within, &self.outcome.latency.across);
        let split = |h: &turbine_load::Histogram| {
            if h.count() == 0 {
                ["-".to_string(), "-".to_string()]
            } else {
                [ms(h.percentile(50.0)), ms(h.percentile(99.0))]
            }
        };
        let [within_50, within_99] = split(within);
        let [across_50, across_99] = split(across);
        let redis = self
            .redis_cpu
            .map_or("-".to_string(), |cpu| format!("{:.2}", self.cores(cpu)));
        format!(
            "| {label} | {} | {} | {:.2} M | {} | {redis} | {:.2} | {within_50} | {within_99} \
             | {across_50} | {across_99} | {:.2} |",
            self.setup.label(),
            self.outcome.sent,
            self.deliveries_per_sec() / 1e6,
            per_instance.join(" / "),
            self.cores(self.members_cpu),
            self.cores(self.others_cpu),
        )
    }
}

/// Runs `rounds` rounds of each of [`SETUPS`] and prints the table; skips (and says why)
/// without `redis-server`.
pub(crate) fn compare(shape: Shape, duration: Duration, rounds: u64) -> ExitCode {
    match RedisChild::spawn() {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            println!("SKIPPED: redis-server cannot be run ({e}); install Debian's redis-server");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("redis-server: {e}");
            return ExitCode::FAILURE;
        }
    }
    println!("{}", machine());
    println!(
        "each instance 1 reactor, in cluster mode on one redis-server (but the first): {} members, {} senders, {} \
         member threads, window {} messages, {} s per run, {rounds} rounds\n",
        shape.members,
        shape.senders,
        shape.threads,
        shape.window,
        duration.as_secs()
    );
    let header = "| run | instances | messages | deliveries/s | instances' CPU (cores) | redis CPU \
                  (cores) | members' CPU (cores) | within p50 ms | within p99 ms | across p50 ms \
                  | across p99 ms | others' load (cores) |\n\
                  |---|---|---|---|---|---|---|---|---|---|---|---|";
    println!("{header}");
    let mut runs = Vec::new();
    for round in 1..=rounds {
        for setup in SETUPS {
            match measure(setup, shape, duration) {
                Ok(run) => {
                    println!("{}", run.row(&format!("round {round}")));
                    runs.push(run);
                }
                Err(e) => {
                    eprintln!("{setup:?}, round {round}: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    println!("\nmedian round by deliveries/s:\n\n{header}");
    for setup in SETUPS {
        let mut mine: Vec<&ClusterRun> = runs.iter().filter(|r| r.setup == setup).collect();
        mine.sort_by(|a, b| a.deliveries_per_sec().total_cmp(&b.deliveries_per_sec()));
        if let Some(median) = mine.get(mine.len() / 2) {
            println!("{}", median.row("median"));
        }
    }
    ExitCode::SUCCESS
}

/// One run against fresh instances (and a fresh Redis for them in cluster mode).
fn measure(setup: Setup, shape: Shape, duration: Duration) -> Result<ClusterRun, String> {
    let redis = match setup {
        Setup::Alone => None,
        Setup::Linked(_) => Some(RedisChild::spawn().map_err(|e| format!("redis-server: {e}"))?),
    };
    let servers = (0..setup.instances())
        .map(|_| ServerChild::spawn(1, redis.as_ref().map(RedisChild::addr)))
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| format!("instance: {e}"))?;
    let addrs: Vec<_> = servers.iter().map(ServerChild::addr).collect();
    let probes = (addrs.iter())
        .map(|&addr| Probe::connect(addr))
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| format!("probe: {e}"))?;
    let room =
        Room::gather(&addrs, shape, Ready::Probes(probes)).map_err(|e| format!("members: {e}"))?;
    let cpu = |pid| turbine_load::server_cpu_time(pid).map_err(|e| e.to_string());
    let cpus = |servers: &[ServerChild]| -> Result<Vec<Duration>, String> {
        servers.iter().map(|s| cpu(s.pid())).collect()
    };
    let redis_cpu = || redis.as_ref().map(|r| cpu(r.pid())).transpose();
    let (instances_before, redis_before, own_before, busy_before) = (
        cpus(&servers)?,
        redis_cpu()?,
        cpu(std::process::id())?,
        machine_busy()?,
    );
    let outcome = room.run(duration)?;
    let instance_cpu: Vec<Duration> = (cpus(&servers)?.into_iter())
        .zip(instances_before)
        .map(|(after, before)| after.saturating_sub(before))
        .collect();
    let redis_cpu = redis_cpu()?
        .zip(redis_before)
        .map(|(after, before)| after.saturating_sub(before));
    let own_cpu = cpu(std::process::id())?.saturating_sub(own_before);
    let busy = machine_busy()?.saturating_sub(busy_before);
    let ours = instance_cpu.iter().sum::<Duration>() + redis_cpu.unwrap_or_default() + own_cpu;
    Ok(ClusterRun {
        setup,
        outcome,
        instance_cpu,
        redis_cpu,
        members_cpu: own_cpu,
        others_cpu: busy.saturating_sub(ours),
    })
}
