//! Turbine side by side with a bare mio loop, tokio and a thread per connection: echo servers
//! compared by messages per server CPU-second, each in a process of its own.
//!
//! ```text
//! cargo bench --bench compare                   # every scenario, 3 rounds, ~3 minutes
//! COMPARE_SECS=1 COMPARE_ROUNDS=1 cargo bench --bench compare   # a quick look
//! cargo bench --bench compare -- --c10k         # 10,000 held connections per server
//! cargo bench --bench compare -- --churn        # connect, one echo, close, over and over
//! cargo bench --bench compare -- --latency      # latency against offered rate, open loop
//! cargo bench --bench compare -- --metrics      # Turbine with the metrics listener off and on
//! taskset -c 8-15 cargo bench --bench compare -- --scaling   # 1 to 8 threads (16 cores)
//! ```
//!
//! The comparison writes `benches/results/compare.md` and `benches/results/compare.svg` and
//! prints the tables; `--c10k` writes `benches/results/c10k.md`; `--churn`
//! `benches/results/churn.md`; `--latency`
//! `benches/results/latency.md` and `benches/results/latency.svg`; `--metrics`
//! `benches/results/metrics.md`; `--scaling` `benches/results/scaling.md`. The exit code is 1
//! if any run failed or saw an error or a wrong echo, 2 for a bad `COMPARE_*` variable.
//!
//! # What is measured
//!
//! Six echo servers ([`peer::Peer`]): Turbine raw and lines (one reactor), a bare mio loop,
//! tokio's echo example and tokio-util's `Framed` with a `LinesCodec` (`current_thread`
//! runtime), and a thread per connection. Four scenarios: raw and line echo, each with 1 and
//! with 16 messages in flight per connection, 100 connections, 64-byte messages.
//!
//! Each server runs alone in a child process: this binary started with `--serve NAME`, pinned
//! to core 0, while this process, the load generator (`turbine-load`, one thread), is pinned to
//! core 1. The primary figure is messages per second of the server process's CPU time: on a
//! machine with two cores the client and the server compete for CPU, and messages per second
//! depends on how the scheduler shares it, but the CPU the server spends per message does not.
//! Every server runs once per scenario in each round, in an order that rotates, so drift on a
//! shared machine hits all of them alike; the report keeps medians over rounds and the ratios
//! Turbine / peer. A last pass runs each server under `perf stat` (in-kernel counters on the
//! system call tracepoints, full speed) and under `strace -f -c` (every call traced, the server
//! slowed many times over) to count system calls per message; a counter that cannot run here is
//! skipped with the reason.
//!
//! # Server mode
//!
//! ```text
//! compare --serve NAME [--addr 127.0.0.1:0] [--core N] [--threads N]
//! ```
//!
//! Starts one server, prints `listening on ADDR` on stdout and serves until its stdin reaches
//! end of file: the parent holds the other end, so no server outlives it. NAME is one of
//! `turbine-raw`, `turbine-lines`, `mio-raw`, `tokio-raw`, `tokio-lines`, `blocking-raw`,
//! `turbine-raw-metrics`, `turbine-lines-metrics`.
//!
//! # Layout
//!
//! - `peer.rs`: the list of servers and `--serve`; one file per server: `turbine_echo.rs`,
//!   `mio_echo.rs`, `tokio_echo.rs`, `blocking_echo.rs`.
//! - `../common/child.rs`: a server in a child process; `settings.rs`: the workload and `COMPARE_*`.
//! - `rounds.rs`: the timed runs; `syscalls.rs`: the system call counts; `c10k.rs`: `--c10k`;
//!   `churn.rs`: `--churn`;
//!   `metrics_cost.rs`: `--metrics`.
//! - `../common/machine.rs`, `report.rs`, `plot.rs`: the Markdown and the SVG chart.

mod blocking_echo;
mod c10k;
#[path = "../common/child.rs"]
mod child;
mod churn;
#[path = "../common/format.rs"]
mod format;
mod latency;
#[path = "../common/machine.rs"]
mod machine;
mod metrics_cost;
mod mio_echo;
mod peer;
mod plot;
mod report;
mod rounds;
mod scaling;
mod settings;
mod syscalls;
mod tokio_echo;
mod turbine_echo;

use std::fs;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use machine::Machine;
use peer::Peer;
use settings::Settings;

/// What this run of the binary does, from its arguments.
enum Mode {
    /// Serve one peer until stdin closes.
    Serve {
        /// The server to run.
        peer: Peer,
        /// Where to listen.
        addr: SocketAddr,
        /// The core to pin the process to, if any.
        core: Option<usize>,
        /// Serving threads, when given (the scaling mode): Turbine's reactors, the workers of
        /// a multi-threaded tokio runtime. Without it every peer serves on one thread.
        threads: Option<usize>,
    },
    /// The timed comparison (the default).
    Compare,
    /// Hold 10,000 connections on each server.
    C10k,
    /// Connections opened and closed as fast as each server takes them.
    Churn,
    /// Latency against offered rate.
    Latency,
    /// Throughput with 1, 2, 4 and 8 serving threads.
    Scaling,
    /// Turbine with the metrics listener off and on.
    Metrics,
}

/// Reads the arguments; ignores those it does not know, such as the `--bench` cargo passes.
fn mode() -> Result<Mode, String> {
    let mut args = std::env::args().skip(1);
    let mut serve = None;
    let mut addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut core = None;
    let mut threads = None;
    let mut c10k = false;
    let mut churn = false;
    let mut latency = false;
    let mut scaling = false;
    let mut metrics = false;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--serve" => {
                let name = value("--serve")?;
                serve = Some(Peer::from_name(&name).ok_or(format!(
                    "--serve {name:?}: expected one of {}",
                    Peer::ALL.map(Peer::name).join(", ")
                ))?);
            }
            "--addr" => {
                let text = value("--addr")?;
                addr = text
                    .parse()
                    .map_err(|_| format!("--addr {text:?}: expected IP:port"))?;
            }
            "--core" => {
                let text = value("--core")?;
                core = Some(
                    text.parse()
                        .map_err(|_| format!("--core {text:?}: expected a core number"))?,
                );
            }
            "--threads" => {
                let text = value("--threads")?;
                threads = Some(
                    text.parse()
                        .ok()
                        .filter(|n| (1..=256).contains(n))
                        .ok_or(format!("--threads {text:?}: expected 1 to 256"))?,
                );
            }
            "--c10k" => c10k = true,
            "--churn" => churn = true,
            "--scaling" => scaling = true,
            "--latency" => latency = true,
            "--metrics" => metrics = true,
            _ => {}
        }
    }
    Ok(match serve {
        Some(peer) => Mode::Serve {
            peer,
            addr,
            core,
            threads,
        },
        None if c10k => Mode::C10k,
        None if churn => Mode::Churn,
        None if latency => Mode::Latency,
        None if scaling => Mode::Scaling,
        None if metrics => Mode::Metrics,
        None => Mode::Compare,
    })
}

fn main() -> ExitCode {
    match mode() {
        Ok(Mode::Serve {
            peer,
            addr,
            core,
            threads,
        }) => serve(peer, addr, core, threads),
        Ok(Mode::Compare) => compare(),
        Ok(Mode::C10k) => c10k(),
        Ok(Mode::Churn) => churn(),
        Ok(Mode::Latency) => latency(),
        Ok(Mode::Scaling) => scaling(),
        Ok(Mode::Metrics) => metrics(),
        Err(e) => {
            eprintln!("compare: {e}");
            ExitCode::from(2)
        }
    }
}

/// Pins the calling thread, and every thread it starts later, to core `id`.
///
/// The core is named directly rather than looked up in `get_core_ids`, which lists only the
/// cores of the current affinity mask: a server child inherits the load generator's core.
fn pin(id: usize) -> bool {
    core_affinity::set_for_current(core_affinity::CoreId { id })
}

/// The `--serve` mode: one server until stdin closes.
fn serve(peer: Peer, addr: SocketAddr, core: Option<usize>, threads: Option<usize>) -> ExitCode {
    if let Some(core) = core {
        // Before the server starts: its threads inherit the affinity.
        if !pin(core) {
            eprintln!("{}: could not pin to core {core}", peer.name());
        }
    }
    let serving = match peer.serve(addr, threads) {
        Ok(serving) => serving,
        Err(e) => {
            eprintln!("{}: cannot start: {e}", peer.name());
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", serving.addr);
    let _ = io::stdout().flush();
    // The parent holds our stdin; it closes when the parent is done with us or dies.
    let _ = io::copy(&mut io::stdin().lock(), &mut io::sink());
    // Exit without Turbine's graceful shutdown, which would wait for peers that are gone.
    std::process::exit(0)
}

/// Where the reports go: `benches/results/` in this package.
fn results_dir() -> io::Result<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/results");
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The settings and the machine, with this process pinned to the load's core.
fn prepare() -> Result<(Settings, Machine), ExitCode> {
    let settings = Settings::from_env().map_err(|e| {
        eprintln!("configuration error: {e}");
        ExitCode::from(2)
    })?;
    let machine = Machine::describe(); // before pinning, or `nproc` says 1
    if let Some(core) = settings.load_core {
        if !pin(core) {
            eprintln!("warning: could not pin the load generator to core {core}");
        }
    }
    Ok((settings, machine))
}

/// The default mode: the timed comparison, the system call counts, the reports.
fn compare() -> ExitCode {
    let (settings, machine) = match prepare() {
        Ok(prepared) => prepared,
        Err(code) => return code,
    };
    println!(
        "compare: {} of {} s runs, about {} s, then the system call counts",
        report::plural(settings.rounds, "round"),
        settings.duration.as_secs_f64(),
        rounds::run_time(&settings).as_secs()
    );
    let rows = rounds::run(&settings);
    let counts: Vec<_> = syscalls::Counter::ALL
        .into_iter()
        .map(|counter| match counter.unavailable() {
            Some(why) => {
                println!("skipping the `{}` counts: {why}", counter.name());
                (counter, Err(why))
            }
            None => (counter, Ok(syscalls::trace_all(&settings, counter))),
        })
        .collect();
    let markdown = report::markdown(&machine, &settings, &rows, &counts);
    let subtitle = format!(
        "{} connections, 64-byte messages, 1 load thread; server on core 0, load on core 1; {}",
        settings.connections, machine.cpu
    );
    let svg = plot::svg(&rows, settings.rounds, &subtitle);
    println!("\n{markdown}");
    let written = results_dir().and_then(|dir| {
        fs::write(dir.join("compare.md"), &markdown)?;
        fs::write(dir.join("compare.svg"), &svg)?;
        Ok(dir)
    });
    match written {
        Ok(dir) => println!("wrote {0}/compare.md and {0}/compare.svg", dir.display()),
        Err(e) => {
            eprintln!("cannot write the reports: {e}");
            return ExitCode::FAILURE;
        }
    }
    let flawed: Vec<String> = rows
        .iter()
        .filter(|row| row.is_flawed())
        .map(|row| format!("{} {}", row.scenario.label(), row.peer.name()))
        .collect();
    let trace_flaws = counts.iter().any(|(_, traces)| {
        traces
            .as_ref()
            .is_ok_and(|traces| traces.iter().any(|t| t.flaws > 0))
    });
    if flawed.is_empty() && !trace_flaws {
        ExitCode::SUCCESS
    } else {
        println!(
            "!!! errors, wrong echoes or failed runs: {} (see the rows marked (!))",
            flawed.join("; ")
        );
        ExitCode::FAILURE
    }
}

/// The `--churn` mode.
fn churn() -> ExitCode {
    let (settings, machine) = match prepare() {
        Ok(prepared) => prepared,
        Err(code) => return code,
    };
    let cycles = churn::run(&settings);
    let markdown = churn::markdown(&machine, &settings, &cycles);
    println!("\n{markdown}");
    if let Err(e) = results_dir().and_then(|dir| fs::write(dir.join("churn.md"), &markdown)) {
        eprintln!("cannot write the report: {e}");
        return ExitCode::FAILURE;
    }
    if cycles.iter().any(|c| c.flaw().is_some()) {
        println!("!!! a run failed or saw errors (rows marked (!))");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// The `--c10k` mode.
fn c10k() -> ExitCode {
    let (settings, machine) = match prepare() {
        Ok(prepared) => prepared,
        Err(code) => return code,
    };
    let held = c10k::run(&settings);
    let markdown = c10k::markdown(&machine, &settings, &held);
    println!("\n{markdown}");
    if let Err(e) = results_dir().and_then(|dir| fs::write(dir.join("c10k.md"), &markdown)) {
        eprintln!("cannot write the report: {e}");
        return ExitCode::FAILURE;
    }
    if held.iter().all(c10k::Held::is_clean) {
        ExitCode::SUCCESS
    } else {
        println!("!!! a server did not hold and echo every connection (rows marked (!))");
        ExitCode::FAILURE
    }
}

/// The `--latency` mode.
fn latency() -> ExitCode {
    let (settings, machine) = match prepare() {
        Ok(prepared) => prepared,
        Err(code) => return code,
    };
    let curves = match latency::run(&settings) {
        Ok(curves) => curves,
        Err(e) => {
            eprintln!("latency: {e}");
            return ExitCode::FAILURE;
        }
    };
    let markdown = curves.markdown(&machine, &settings);
    let subtitle = format!(
        "{} connections, 64-byte messages, open loop; server on core 0, load on core 1; {}",
        settings.connections, machine.cpu
    );
    let svg = curves.svg(&subtitle);
    println!("\n{markdown}");
    let written = results_dir().and_then(|dir| {
        fs::write(dir.join("latency.md"), &markdown)?;
        fs::write(dir.join("latency.svg"), &svg)
    });
    if let Err(e) = written {
        eprintln!("cannot write the reports: {e}");
        return ExitCode::FAILURE;
    }
    if curves.is_flawed() {
        println!("!!! a point saw errors or unsent messages (see the lines marked !!!)");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// The `--scaling` mode.
fn scaling() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    // This process keeps the mask it was started with (`taskset -c 8-15`): the load's cores.
    let machine = Machine::describe();
    let runs = scaling::run(&settings, scaling::machine_cores());
    let markdown = scaling::markdown(&machine, &settings, &runs);
    println!("\n{markdown}");
    if let Err(e) = results_dir().and_then(|dir| fs::write(dir.join("scaling.md"), &markdown)) {
        eprintln!("cannot write the report: {e}");
        return ExitCode::FAILURE;
    }
    if runs.is_empty() || runs.iter().any(|r| r.flaw.is_some()) {
        println!("!!! no run, or a run went wrong");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// The `--metrics` mode.
fn metrics() -> ExitCode {
    let (settings, machine) = match prepare() {
        Ok(prepared) => prepared,
        Err(code) => return code,
    };
    let estimate = rounds::run_time_of(&settings, |s| metrics_cost::peers(s).len());
    println!(
        "compare --metrics: {} of {} s runs, about {} s",
        report::plural(settings.rounds, "round"),
        settings.duration.as_secs_f64(),
        estimate.as_secs()
    );
    let rows = metrics_cost::run(&settings);
    let markdown = metrics_cost::markdown(&machine, &settings, &rows);
    println!("\n{markdown}");
    if let Err(e) = results_dir().and_then(|dir| fs::write(dir.join("metrics.md"), &markdown)) {
        eprintln!("cannot write the report: {e}");
        return ExitCode::FAILURE;
    }
    if rows.iter().any(rounds::Row::is_flawed) {
        println!("!!! errors, wrong echoes or failed runs (rows marked (!))");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
