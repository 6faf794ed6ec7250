//! System calls per message: each server run under a system call counter while the load
//! drives it, in a pass of its own after the timed runs.
//!
//! Two counters, each used where it works ([`Counter::unavailable`] says why not):
//!
//! - `perf stat` on the kernel's system call tracepoints counts in the kernel and barely slows
//!   the server, so the calls it sees are those of the timed runs. It needs access to the
//!   tracepoints (root, or a low `perf_event_paranoid`).
//! - `strace -f -c` stops the server at every call, many times slower: the client then has
//!   time to answer between two of the server's calls, so a read that would have found the
//!   socket empty (`EAGAIN`) finds the next message instead, and one `epoll_wait` returns many
//!   more events. Its counts per message are therefore lower than at full speed for the calls
//!   whose outcome depends on timing; its times mean nothing.
//!
//! Each server is counted once idle (started, no connection, stopped) and once per depth under
//! load; the idle counts (process start-up, thread creation, exit) are subtracted, so what is
//! left is the cost of the connections and their messages. Connection set-up (accept,
//! `setsockopt`, registration, close: a handful of calls for each of the 100 connections) stays
//! in and is spread over the messages.
//!
//! The messages counted are the replies the load generator received in its window. Up to
//! `connections x depth` more may have reached the server when the window closed, so a count
//! per message can be high by at most that share, which each row states.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use turbine_load::{LoadConfig, Report};

use crate::child::ServerChild;
use crate::peer::Peer;
use crate::settings::Settings;

/// Pipeline depths counted.
pub(crate) const DEPTHS: [usize; 2] = [1, 16];

/// The key of all calls together, in every count.
pub(crate) const TOTAL: &str = "total";

/// The key of the calls that returned an error (for a non-blocking server, mostly `EAGAIN`).
pub(crate) const FAILED: &str = "failed";

/// The calls `perf stat` counts one by one: those an event loop, a blocking server or the
/// runtimes make per message or per connection. Every call is in [`TOTAL`] whether listed or not.
const PERF_CALLS: [&str; 14] = [
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    "recvfrom",
    "read",
    "sendto",
    "write",
    "writev",
    "recvmsg",
    "sendmsg",
    "epoll_ctl",
    "accept4",
    "futex",
    "close",
];

/// A way of counting a process's system calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Counter {
    /// `perf stat` on the system call tracepoints: in-kernel counters, full speed.
    Perf,
    /// `strace -f -c`: every call traced, the server slowed many times over.
    Strace,
}

impl Counter {
    /// Both counters, the more faithful first.
    pub(crate) const ALL: [Counter; 2] = [Counter::Perf, Counter::Strace];

    /// The command, as the report names it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Counter::Perf => "perf stat",
            Counter::Strace => "strace -f -c",
        }
    }

    /// Why this counter cannot run here, if it cannot.
    pub(crate) fn unavailable(self) -> Option<String> {
        let (program, args): (&str, &[&str]) = match self {
            Counter::Perf => (
                "perf",
                &["stat", "-x,", "-e", "raw_syscalls:sys_enter", "--", "true"],
            ),
            Counter::Strace => ("strace", &["-V"]),
        };
        match Command::new(program).args(args).output() {
            Ok(out) if out.status.success() => None,
            Ok(out) => Some(format!(
                "`{program} {}` failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(e) => Some(format!("{program} is not available: {e}")),
        }
    }

    /// The command prefix that runs a program under this counter, its summary going to `file`.
    fn wrapper(self, file: &Path) -> Vec<OsString> {
        let mut args: Vec<OsString> = match self {
            Counter::Perf => {
                let mut args: Vec<OsString> =
                    ["perf", "stat", "-x,", "-o"].map(OsString::from).to_vec();
                args.push(file.into());
                // All calls, then the failed ones: a filter applies to the event before it.
                args.extend(
                    [
                        "-e",
                        "raw_syscalls:sys_enter",
                        "-e",
                        "raw_syscalls:sys_exit",
                        "--filter",
                        "ret < 0",
                    ]
                    .map(OsString::from),
                );
                for call in PERF_CALLS {
                    args.push("-e".into());
                    args.push(format!("syscalls:sys_enter_{call}").into());
                }
                args
            }
            Counter::Strace => {
                let mut args: Vec<OsString> =
                    ["strace", "-f", "-c", "-o"].map(OsString::from).to_vec();
                args.push(file.into());
                args
            }
        };
        args.push("--".into());
        args
    }

    /// Reads the summary this counter wrote: calls per name, with [`TOTAL`] and [`FAILED`].
    ///
    /// # Errors
    ///
    /// `InvalidData` when the summary has no total.
    pub(crate) fn parse(self, summary: &str) -> io::Result<BTreeMap<String, u64>> {
        let calls = match self {
            Counter::Perf => parse_perf(summary),
            Counter::Strace => parse_strace(summary),
        };
        if calls.contains_key(TOTAL) {
            Ok(calls)
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("no total in the {} summary: {summary:?}", self.name()),
            ))
        }
    }
}

/// `perf stat -x,` writes `count,unit,event,...` per event; a count may be `<not counted>`
/// or `<not supported>` (an event this kernel lacks), which is left out.
fn parse_perf(summary: &str) -> BTreeMap<String, u64> {
    let mut calls = BTreeMap::new();
    for line in summary.lines() {
        let fields: Vec<&str> = line.split(',').collect();
        let (Some(count), Some(event)) = (fields.first(), fields.get(2)) else {
            continue;
        };
        let Ok(count) = count.parse::<u64>() else {
            continue;
        };
        let name = match *event {
            "raw_syscalls:sys_enter" => TOTAL,
            "raw_syscalls:sys_exit" => FAILED,
            other => match other.strip_prefix("syscalls:sys_enter_") {
                Some(call) => call,
                None => continue,
            },
        };
        calls.insert(name.to_string(), count);
    }
    calls
}

/// `strace -c` writes one row per call and a `total` row, each `% time, seconds, usecs/call,
/// calls, [errors,] name`; the total row's errors are [`FAILED`].
fn parse_strace(summary: &str) -> BTreeMap<String, u64> {
    let mut calls = BTreeMap::new();
    for line in summary.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 5 || fields[0].parse::<f64>().is_err() {
            continue; // header, rule or a line strace added
        }
        let (Ok(n), Some(&name)) = (fields[3].parse::<u64>(), fields.last()) else {
            continue;
        };
        if name == TOTAL {
            let errors = if fields.len() >= 6 {
                fields[4].parse().ok()
            } else {
                None
            };
            calls.insert(FAILED.to_string(), errors.unwrap_or(0));
        }
        calls.insert(name.to_string(), n);
    }
    calls
}

/// One server's system calls at one depth, net of its idle run.
#[derive(Clone, Debug)]
pub(crate) struct Trace {
    /// The server counted.
    pub peer: Peer,
    /// Messages each connection kept in flight.
    pub depth: usize,
    /// Replies the load generator received (and checked) in the window.
    pub messages: u64,
    /// Most messages the server may have handled beyond `messages`: those in flight at the end.
    pub in_flight: u64,
    /// Calls per system call name, the idle run's subtracted ([`TOTAL`] and [`FAILED`]
    /// included).
    pub calls: BTreeMap<String, u64>,
    /// Errors, mismatches and failed connects the load generator saw, summed.
    pub flaws: u64,
}

impl Trace {
    /// Calls of `name` per message.
    pub(crate) fn per_message(&self, name: &str) -> f64 {
        let calls = self.calls.get(name).copied().unwrap_or(0);
        calls as f64 / self.messages.max(1) as f64
    }

    /// The calls that make up most of the work, most frequent first, with their count per
    /// message; those under 0.01 per message are left out.
    pub(crate) fn main_calls(&self) -> Vec<(String, f64)> {
        let mut calls: Vec<(String, f64)> = self
            .calls
            .keys()
            .filter(|name| *name != TOTAL && *name != FAILED)
            .map(|name| (name.clone(), self.per_message(name)))
            .filter(|(_, per)| *per >= 0.01)
            .collect();
        calls.sort_by(|a, b| b.1.total_cmp(&a.1));
        calls
    }
}

/// Counts every peer idle and at each of [`DEPTHS`] with `counter`; a peer whose count fails is
/// reported and left out.
pub(crate) fn trace_all(settings: &Settings, counter: Counter) -> Vec<Trace> {
    let mut traces = Vec::new();
    for peer in Peer::ALL {
        let idle = match trace(peer, settings, counter, "idle", |_addr| Ok(())) {
            Ok((calls, ())) => calls,
            Err(e) => {
                println!(
                    "!!! {} {}: idle run failed: {e}",
                    counter.name(),
                    peer.name()
                );
                continue;
            }
        };
        for depth in DEPTHS {
            let label = format!("depth{depth}");
            let drive = |addr| load(peer, settings, depth, addr);
            match trace(peer, settings, counter, &label, drive) {
                Ok((calls, report)) => {
                    let calls = calls
                        .into_iter()
                        .map(|(name, n)| {
                            let base = idle.get(&name).copied().unwrap_or(0);
                            (name, n.saturating_sub(base))
                        })
                        .collect();
                    let trace = Trace {
                        peer,
                        depth,
                        messages: report.messages,
                        in_flight: (settings.connections * depth) as u64,
                        calls,
                        flaws: report.errors + report.mismatches + report.failed_connects,
                    };
                    println!(
                        "{:<12} {:<14} depth {depth:>2}: {:>9} messages, {:.3} system calls per message",
                        counter.name(),
                        peer.name(),
                        trace.messages,
                        trace.per_message(TOTAL)
                    );
                    if trace.flaws > 0 {
                        println!(
                            "!!! {} {} depth {depth}: {} errors, mismatches or failed connects",
                            counter.name(),
                            peer.name(),
                            trace.flaws
                        );
                    }
                    traces.push(trace);
                }
                Err(e) => println!("!!! {} {} depth {depth}: {e}", counter.name(), peer.name()),
            }
        }
    }
    traces
}

/// Runs `peer` under `counter` while `drive` works on its address, then stops it and returns its
/// call counts with what `drive` returned.
fn trace<R>(
    peer: Peer,
    settings: &Settings,
    counter: Counter,
    label: &str,
    drive: impl FnOnce(SocketAddr) -> io::Result<R>,
) -> io::Result<(BTreeMap<String, u64>, R)> {
    // In the temporary directory, named after this process so concurrent runs do not collide.
    let file = std::env::temp_dir().join(format!(
        "turbine-compare-{}-{}-{label}.calls",
        std::process::id(),
        peer.name()
    ));
    let wrapper = counter.wrapper(&file);
    let server = ServerChild::spawn(
        peer.name(),
        &peer.serve_args(),
        settings.server_core,
        Some(&wrapper),
    )?;
    let outcome = drive(server.addr());
    let status = server.finish();
    let text = fs::read_to_string(&file);
    let _ = fs::remove_file(&file);
    let outcome = outcome?;
    status?;
    Ok((counter.parse(&text?)?, outcome))
}

/// A load run of `settings.count_window` at `depth`, without warm-up, so that every message
/// the server handled is in the window.
fn load(peer: Peer, settings: &Settings, depth: usize, addr: SocketAddr) -> io::Result<Report> {
    turbine_load::run(&LoadConfig {
        addr,
        connections: settings.connections,
        threads: 1,
        size: settings.size,
        depth,
        duration: settings.count_window,
        warmup: Duration::ZERO,
        framing: peer.wire().framing(),
        server_pid: None,
        progress: false,
        tls: None,
    })
}
