//! Chat fan-out: deliveries per second for a room of 1,000 members with 10 senders, one reactor
//! against two, and the message-to-delivery latency.
//!
//! ```text
//! cargo bench --bench chat                               # 3 rounds of 5 s each, ~1 minute
//! CHAT_BENCH_SECS=2 CHAT_BENCH_ROUNDS=1 cargo bench --bench chat   # a quick look
//! cargo bench --bench chat -- --cluster                   # 1 instance against 3, on Redis
//! ```
//!
//! `CHAT_BENCH_WINDOW` (default 20) sets the window below, `CHAT_BENCH_MEMBERS` (default 1,000)
//! the room's size (every `members / 10`-th member sends).
//!
//! # What is measured
//!
//! The chat example's handler and registry (compiled in from `examples/chat/`) serve in a child
//! process, this binary started with `--serve REACTORS`, with `TURBINE_REACTORS` 1, then 2, and
//! the example's defaults otherwise (`CHAT_OUTBUF_LIMIT` 4 MiB). This process connects 1,000
//! members to the lobby, spread over two threads that read them with mio, and waits until every
//! `joined` notice has arrived. Then 10 of the members send lines of `<seq> <send time>` for
//! `CHAT_BENCH_SECS` seconds, as fast as a window allows: at most 20 messages may be on their
//! way (sent, and not yet received by all 999 other members), so every member keeps up and
//! none is cut off, and the rate is what the server and the members can sustain together.
//! After the senders stop, the run ends when every message has reached every other member; a
//! message missing, or a member cut off, fails the run.
//!
//! - deliveries/s: messages received by all members, per second, from the first send to the
//!   last delivery;
//! - per server CPU-second: the same deliveries divided by the CPU time the server process used
//!   meanwhile (`/proc/PID/stat`, 10 ms resolution): what the server spends per delivery, which
//!   the sharing of cores between server and members does not change;
//! - latency: from the send (just before the `write`) to the member's `read` that brought the
//!   line, into a [`turbine_load::Histogram`] for every delivery.
//!
//! The members run on the same machine as the server: on two cores, one reactor shares them
//! with two member threads, and two reactors with two member threads is four busy threads on
//! two cores. The rounds alternate between the server settings, so drift hits both alike; the
//! summary keeps the median round.
//!
//! # Cluster mode (`--cluster`)
//!
//! The same room, members and senders, served by the chat in cluster mode (`CHAT_REDIS`): one
//! instance, then three, each a child process with one reactor, all linked through one
//! `redis-server` (Debian's; the run is skipped, with the reason printed, without it), a fresh
//! one for each run. Member `i` connects to instance `i % instances`, so the ten senders and
//! the members are spread evenly. Before the senders start, a probe on each instance (in a
//! room of its own) asks `/rooms` until its instance counts every member in the lobby. Each
//! line carries its sender's instance, so the latency is split: *within* an instance (sender
//! and receiver on the same one) and *across* instances (through Redis: the sender's link
//! publishes, the receiver's instance's subscriber hands it on). CPU is reported per instance
//! and for `redis-server`, in cores (CPU time over the run's time). `instances.rs` holds it.
//!
//! # Server mode
//!
//! `chat --serve REACTORS [--redis ADDR]`: prints `listening on ADDR` (with `--redis`, once the
//! link to Redis is up) and serves until stdin closes.
//!
//! # Layout
//!
//! - `server.rs`: the server mode and the child processes (servers, `redis-server`).
//! - `members.rs`: the members' threads, the window, the latencies, the probes.
//! - `instances.rs`: the cluster mode's runs and table.

mod instances;
#[path = "../common/machine.rs"]
mod machine;
mod members;
mod server;

#[allow(dead_code)]
#[path = "../../examples/chat/cluster.rs"]
mod cluster;
#[allow(dead_code)]
#[path = "../../examples/chat/codec.rs"]
mod codec;
#[allow(dead_code)]
#[path = "../../examples/chat/command.rs"]
mod command;
#[allow(dead_code)]
#[path = "../../examples/chat/config.rs"]
mod config;
#[allow(dead_code)]
#[path = "../../examples/chat/feed.rs"]
mod feed;
#[allow(dead_code)]
#[path = "../../examples/chat/link.rs"]
mod link;
#[allow(dead_code)]
#[path = "../../examples/chat/member.rs"]
mod member;
#[allow(dead_code)]
#[path = "../../examples/chat/mirror.rs"]
mod mirror;
#[allow(dead_code)]
#[path = "../../examples/chat/node.rs"]
mod node;
#[allow(dead_code)]
#[path = "../../examples/chat/registry.rs"]
mod registry;
#[allow(dead_code)]
#[path = "../../examples/chat/room.rs"]
mod room;
#[allow(dead_code)]
#[path = "../../examples/chat/scripts.rs"]
mod scripts;
#[allow(dead_code)]
#[path = "../../examples/chat/wire.rs"]
mod wire;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use machine::Machine;
use members::{Outcome, Ready, Room, Shape};
use server::ServerChild;

/// The room: 1,000 members, 10 of them senders, read on two threads, 20 messages in flight.
const SHAPE: Shape = Shape {
    members: 1000,
    senders: 10,
    threads: 2,
    window: 20,
};

/// The server settings compared: reactors.
const REACTORS: [usize; 2] = [1, 2];

/// One measured run.
struct Run {
    /// The server's reactors.
    reactors: usize,
    /// What the members saw.
    outcome: Outcome,
    /// CPU time the server used during the run.
    server_cpu: Duration,
    /// CPU time everything else on the machine used during the run (other processes, and time
    /// the hypervisor took): neither the server nor this process.
    others_cpu: Duration,
}

impl Run {
    /// Deliveries per second of the run.
    fn deliveries_per_sec(&self) -> f64 {
        self.outcome.delivered as f64 / self.outcome.elapsed.as_secs_f64()
    }

    /// Deliveries per second of server CPU time.
    fn deliveries_per_cpu_sec(&self) -> f64 {
        self.outcome.delivered as f64 / self.server_cpu.as_secs_f64().max(0.01)
    }

    /// A latency percentile, in microseconds.
    fn latency_us(&self, percent: f64) -> f64 {
        self.outcome.latency.all().percentile(percent) as f64 / 1000.0
    }

    /// One table row.
    fn row(&self, label: &str) -> String {
        format!(
            "| {label} | {} | {} | {:.2} M | {:.2} M | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} |",
            self.reactors,
            self.outcome.sent,
            self.deliveries_per_sec() / 1e6,
            self.deliveries_per_cpu_sec() / 1e6,
            self.latency_us(50.0),
            self.latency_us(99.0),
            self.latency_us(99.9),
            self.outcome.latency.all().max() as f64 / 1000.0,
            self.others_cpu.as_secs_f64() / self.outcome.elapsed.as_secs_f64(),
        )
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Other arguments (such as the `--bench` cargo passes) are ignored.
    let after = |flag: &str| {
        let at = args.iter().position(|a| a == flag)?;
        Some(args.get(at + 1).map(String::as_str))
    };
    if let Some(reactors) = after("--serve") {
        let redis = after("--redis").map(|addr| addr.and_then(|a| a.parse::<SocketAddr>().ok()));
        return match (reactors.and_then(|n| n.parse().ok()), redis) {
            (Some(reactors), None) => server::serve(reactors, None),
            (Some(reactors), Some(Some(redis))) => server::serve(reactors, Some(redis)),
            (None, _) => {
                eprintln!("chat: --serve needs a number of reactors");
                ExitCode::from(2)
            }
            (_, Some(None)) => {
                eprintln!("chat: --redis needs an IP address and port");
                ExitCode::from(2)
            }
        };
    }
    let settings = (
        setting("CHAT_BENCH_SECS", 5),
        setting("CHAT_BENCH_ROUNDS", 3),
        setting("CHAT_BENCH_WINDOW", SHAPE.window),
        setting("CHAT_BENCH_MEMBERS", SHAPE.members as u64),
    );
    let (secs, rounds, window, members) = match settings {
        (Ok(secs), Ok(rounds), Ok(window), Ok(members)) => (secs, rounds, window, members),
        (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(members) = usize::try_from(members)
        .ok()
        .filter(|&m| m >= SHAPE.senders)
    else {
        eprintln!(
            "configuration error: CHAT_BENCH_MEMBERS={members}: at least {} (the senders)",
            SHAPE.senders
        );
        return ExitCode::from(2);
    };
    let shape = Shape {
        window,
        members,
        ..SHAPE
    };
    if args.iter().any(|a| a == "--cluster") {
        return instances::compare(shape, Duration::from_secs(secs), rounds);
    }
    println!("{}", machine());
    println!(
        "{} members, {} senders, {} member threads, window {} messages, {secs} s per run, \
         {rounds} rounds\n",
        shape.members, shape.senders, shape.threads, shape.window
    );
    let header = "| run | reactors | messages | deliveries/s | per server CPU-s | p50 µs | p99 µs \
                  | p99.9 µs | max µs | others' load (cores) |\n|---|---|---|---|---|---|---|---|---|---|";
    println!("{header}");
    let mut runs = Vec::new();
    for round in 1..=rounds {
        for reactors in REACTORS {
            match measure(reactors, shape, Duration::from_secs(secs)) {
                Ok(run) => {
                    println!("{}", run.row(&format!("round {round}")));
                    runs.push(run);
                }
                Err(e) => {
                    eprintln!("{reactors} reactor(s), round {round}: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    println!("\nmedian round by deliveries/s:\n\n{header}");
    for reactors in REACTORS {
        let mut mine: Vec<&Run> = runs.iter().filter(|r| r.reactors == reactors).collect();
        mine.sort_by(|a, b| a.deliveries_per_sec().total_cmp(&b.deliveries_per_sec()));
        if let Some(median) = mine.get(mine.len() / 2) {
            println!("{}", median.row("median"));
        }
    }
    ExitCode::SUCCESS
}

/// One run against a fresh server with `reactors` reactors.
fn measure(reactors: usize, shape: Shape, duration: Duration) -> Result<Run, String> {
    let server = ServerChild::spawn(reactors, None).map_err(|e| format!("server: {e}"))?;
    let room = Room::gather(&[server.addr()], shape, Ready::Notices)
        .map_err(|e| format!("members: {e}"))?;
    let cpu = |pid| turbine_load::server_cpu_time(pid).map_err(|e| e.to_string());
    let (server_before, own_before, busy_before) = (
        cpu(server.pid())?,
        cpu(std::process::id())?,
        machine_busy()?,
    );
    let outcome = room.run(duration)?;
    let server_cpu = cpu(server.pid())?.saturating_sub(server_before);
    let own_cpu = cpu(std::process::id())?.saturating_sub(own_before);
    let busy = machine_busy()?.saturating_sub(busy_before);
    Ok(Run {
        reactors,
        outcome,
        server_cpu,
        others_cpu: busy.saturating_sub(server_cpu + own_cpu),
    })
}

/// CPU time the whole machine has been busy since boot, all cores together: user, nice,
/// system, interrupts and steal from the first line of `/proc/stat`, in clock ticks.
pub(crate) fn machine_busy() -> Result<Duration, String> {
    let stat = std::fs::read_to_string("/proc/stat").map_err(|e| format!("/proc/stat: {e}"))?;
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("cpu "))
        .map(|l| {
            l.split_whitespace()
                .filter_map(|f| f.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let [user, nice, system, _idle, _iowait, irq, softirq, steal, ..] = ticks[..] else {
        return Err("/proc/stat: no cpu line".to_string());
    };
    let busy = user + nice + system + irq + softirq + steal;
    Ok(Duration::from_millis(busy * 1000 / turbine_load::CLK_TCK))
}

/// A whole number from the environment variable `name`, or `default` when it is unset.
fn setting(name: &str, default: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(value) => match value.trim().parse() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{name}={value:?}: expected a whole number above 0")),
        },
    }
}

/// The machine, toolchain and commit the figures come from.
pub(crate) fn machine() -> String {
    Machine::describe().markdown()
}
