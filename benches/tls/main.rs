//! Turbine's TLS side by side with tokio-rustls: TLS echo servers with the same rustls,
//! certificate and crypto provider (ring), each on one thread, compared by work per server
//! CPU-second; the memory an idle TLS connection costs each; and how long one full handshake
//! keeps a reactor busy.
//!
//! ```text
//! cargo bench --bench tls                          # everything, 3 rounds, ~2 minutes
//! TLS_SECS=1 TLS_ROUNDS=1 TLS_HOLD=1000 cargo bench --bench tls   # a quick look
//! ```
//!
//! It prints the tables and writes them to `benches/results/tls.md`. The exit code is 1 if a
//! run failed or saw an error or a wrong echo, 2 for a bad `TLS_*` variable.
//!
//! # What is measured
//!
//! - **Handshake cost**: a rustls client and server in memory, in this process, making full
//!   handshakes (no resumption) with an ECDSA P-256 and an RSA-2048 certificate, over TLS 1.3
//!   and 1.2; only the server's calls are timed, which is what a reactor runs for a
//!   handshake, all of it on the reactor's thread.
//! - **Load runs**, each server alone in a child process pinned to core 0 and the load
//!   generator (`turbine-load`, one thread, TLS 1.3, trusting the certificate) on core 1:
//!   full handshakes per server CPU-second (connect, handshake, one 64-byte echo, close, 16 at
//!   once; ECDSA P-256), and echo messages per server CPU-second with 64 B at depth 16 and
//!   16 KiB at depth 4. Each server runs once per scenario in each round, in an order that
//!   rotates; the tables keep medians over rounds and the ratio Turbine / tokio-rustls.
//! - **Idle memory**: `TLS_HOLD` (default 10,000) connections opened on each server, every
//!   handshake completed, then the growth of the server's resident memory per connection.
//!
//! # Server mode
//!
//! ```text
//! tls --serve NAME --cert CERT.pem --key KEY.pem [--addr 127.0.0.1:0] [--core N]
//! ```
//!
//! Serves TLS echo, prints `listening on ADDR` and serves until stdin reaches end of file.
//! NAME is `turbine` or `tokio-rustls`.
//!
//! # Layout
//!
//! `certs.rs` makes the certificates and the rustls configurations; `cost.rs` times the
//! handshakes in memory; `servers.rs` holds both servers; `runs.rs` the load runs and the
//! idle connections; `report.rs` the Markdown.

mod certs;
#[path = "../common/child.rs"]
#[allow(
    dead_code,
    reason = "shared with the compare benchmark, which uses all of it"
)]
mod child;
mod cost;
#[path = "../common/echo_handlers.rs"]
#[allow(
    dead_code,
    reason = "shared with the compare benchmark, which uses all of it"
)]
mod echo_handlers;
#[path = "../common/format.rs"]
mod format;
#[path = "../common/machine.rs"]
mod machine;
mod report;
mod runs;
mod servers;

use std::fs;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use certs::{Certs, KeyKind, Pair};
use machine::Machine;
use servers::Peer;

/// How a run is set up: fixed workloads, and what the environment may change.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// Times each scenario and server is measured (`TLS_ROUNDS`, default 3).
    pub rounds: usize,
    /// Measured window of each load run (`TLS_SECS`, default 3 s).
    pub duration: Duration,
    /// Warm-up before each window.
    pub warmup: Duration,
    /// Idle TLS connections held on each server (`TLS_HOLD`, default 10,000; 0 skips it).
    pub hold: usize,
    /// The core each server child pins itself to; `None` on a machine with one core.
    pub server_core: Option<usize>,
    /// The core the load generator (this process) pins itself to; `None` with one core.
    pub load_core: Option<usize>,
}

impl Settings {
    /// The defaults with the `TLS_*` variables applied.
    ///
    /// # Errors
    ///
    /// A variable holds something other than what it accepts; the message names it.
    fn from_env() -> Result<Settings, String> {
        let secs: f64 = var(
            "TLS_SECS",
            3.0_f64,
            "seconds, more than 0 and under 3600",
            |s: &f64| s.is_finite() && *s > 0.0 && *s < 3600.0,
        )?;
        let pinned = core_affinity::get_core_ids().is_some_and(|ids| ids.len() >= 2);
        Ok(Settings {
            rounds: var("TLS_ROUNDS", 3, "1 to 100", |r| (1..=100).contains(r))?,
            duration: Duration::from_secs_f64(secs),
            warmup: Duration::from_secs(1),
            hold: var("TLS_HOLD", 10_000, "0 to 15000", |n| *n <= 15_000)?,
            server_core: pinned.then_some(0),
            load_core: pinned.then_some(1),
        })
    }

    /// The command that reproduces this run, with the variables that were set.
    pub(crate) fn command(&self) -> String {
        let mut command = String::new();
        for name in ["TLS_SECS", "TLS_ROUNDS", "TLS_HOLD"] {
            if let Ok(value) = std::env::var(name) {
                command.push_str(&format!("{name}={value} "));
            }
        }
        command + "cargo bench --bench tls"
    }
}

/// The variable `name` parsed and checked by `ok`, or `default` when it is not set.
fn var<T: std::str::FromStr>(
    name: &str,
    default: T,
    expected: &str,
    ok: impl Fn(&T) -> bool,
) -> Result<T, String> {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .ok()
            .filter(ok)
            .ok_or_else(|| format!("{name}={text:?}: expected {expected}")),
        Err(_) => Ok(default),
    }
}

/// What this run of the binary does.
enum Mode {
    /// Serve one peer until stdin closes.
    Serve {
        /// The server.
        peer: Peer,
        /// Its certificate and key.
        pair: Pair,
        /// Where to listen.
        addr: SocketAddr,
        /// The core to pin the process to, if any.
        core: Option<usize>,
    },
    /// Everything (the default).
    Compare,
}

/// Reads the arguments; ignores those it does not know, such as the `--bench` cargo passes.
fn mode() -> Result<Mode, String> {
    let mut args = std::env::args().skip(1);
    let (mut serve, mut cert, mut key, mut core) = (None, None, None, None);
    let mut addr = SocketAddr::from(([127, 0, 0, 1], 0));
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--serve" => {
                let name = value()?;
                let peer = Peer::from_name(&name);
                serve = Some(peer.ok_or(format!(
                    "--serve {name:?}: expected turbine or tokio-rustls"
                ))?);
            }
            "--cert" => cert = Some(PathBuf::from(value()?)),
            "--key" => key = Some(PathBuf::from(value()?)),
            "--addr" => {
                let text = value()?;
                addr = text
                    .parse()
                    .map_err(|_| format!("--addr {text:?}: expected IP:port"))?;
            }
            "--core" => {
                let text = value()?;
                core = Some(
                    text.parse()
                        .map_err(|_| format!("--core {text:?}: expected a core"))?,
                );
            }
            _ => {}
        }
    }
    Ok(match (serve, cert, key) {
        (Some(peer), Some(cert), Some(key)) => Mode::Serve {
            peer,
            pair: Pair {
                kind: KeyKind::EcdsaP256,
                cert,
                key,
            },
            addr,
            core,
        },
        (Some(_), _, _) => return Err("--serve needs --cert and --key".into()),
        (None, _, _) => Mode::Compare,
    })
}

fn main() -> ExitCode {
    match mode() {
        Ok(Mode::Serve {
            peer,
            pair,
            addr,
            core,
        }) => serve(peer, &pair, addr, core),
        Ok(Mode::Compare) => compare(),
        Err(e) => {
            eprintln!("tls: {e}");
            ExitCode::from(2)
        }
    }
}

/// Pins the calling thread, and every thread it starts later, to core `id`.
fn pin(id: usize) -> bool {
    core_affinity::set_for_current(core_affinity::CoreId { id })
}

/// The `--serve` mode: one server until stdin closes.
fn serve(peer: Peer, pair: &Pair, addr: SocketAddr, core: Option<usize>) -> ExitCode {
    if let Some(core) = core {
        // Before the server starts: its threads inherit the affinity.
        if !pin(core) {
            eprintln!("{}: could not pin to core {core}", peer.name());
        }
    }
    // Kept until the process exits: Turbine's reactors stop when `running` drops.
    let (addr, _running) = match peer.serve(addr, pair) {
        Ok(serving) => serving,
        Err(e) => {
            eprintln!("{}: cannot start: {e}", peer.name());
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {addr}");
    let _ = io::stdout().flush();
    // The parent holds our stdin; it closes when the parent is done with us or dies.
    let _ = io::copy(&mut io::stdin().lock(), &mut io::sink());
    // Exit without Turbine's graceful shutdown, which would wait for peers that are gone.
    std::process::exit(0)
}

/// The default mode: handshake costs, load runs, idle connections, the report.
fn compare() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let machine = Machine::describe(); // before pinning, or `nproc` says 1
    let certs = match Certs::make() {
        Ok(certs) => certs,
        Err(e) => {
            eprintln!("cannot make the certificates: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("tls: handshake costs in memory, then the load runs");
    let costs = report::costs(&certs);
    if let Some(core) = settings.load_core {
        if !pin(core) {
            eprintln!("warning: could not pin the load generator to core {core}");
        }
    }
    println!(
        "tls: {} load runs of about {} s",
        runs::Scenario::ALL.len() * Peer::ALL.len() * settings.rounds,
        runs::run_time(&settings).as_secs()
    );
    let rows = runs::run(&settings, &certs.ecdsa);
    let held = if settings.hold > 0 {
        runs::hold(&settings, &certs.ecdsa)
    } else {
        Vec::new()
    };
    let markdown = report::markdown(&machine, &settings, &costs, &rows, &held);
    println!("\n{markdown}");
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/results/tls.md");
    if let Err(e) = fs::write(&path, &markdown) {
        eprintln!("cannot write {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    println!("wrote {}", path.display());
    let flawed = rows.iter().any(runs::Row::is_flawed)
        || costs.iter().any(|c| c.result.is_err())
        || held.iter().any(|h| !h.is_clean(settings.hold));
    if flawed {
        println!("!!! a run failed or saw errors (marked (!) in the tables)");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
