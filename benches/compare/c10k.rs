//! The `--c10k` mode: 10,000 idle connections held open on each server, and what they cost it.

use std::fmt::Write as _;
use std::io;

use turbine_load::{Framing, HoldConfig, HoldReport};

use crate::child::ServerChild;
use crate::machine::Machine;
use crate::peer::Peer;
use crate::report::count;
use crate::settings::Settings;

/// Connections held open on each server.
pub(crate) const CONNECTIONS: usize = 10_000;

/// The most resident memory Turbine may grow by per held connection, in bytes.
const GOAL_BYTES: f64 = 1024.0;

/// The servers tried: Turbine, the bare mio loop (the least a mio server can hold per
/// connection), tokio and a thread per connection.
const PEERS: [Peer; 4] = [
    Peer::TurbineRaw,
    Peer::MioRaw,
    Peer::TokioRaw,
    Peer::BlockingRaw,
];

/// One server's outcome.
pub(crate) struct Held {
    /// The server.
    pub peer: Peer,
    /// What the load generator measured, or why it could not.
    pub report: Result<HoldReport, String>,
}

impl Held {
    /// Whether every connection was opened and echoed correctly.
    pub(crate) fn is_clean(&self) -> bool {
        match &self.report {
            Ok(r) => {
                r.failed_connects == 0
                    && r.mismatches == 0
                    && r.errors == 0
                    && r.echoed_ok == CONNECTIONS
            }
            Err(_) => false,
        }
    }
}

/// Holds [`CONNECTIONS`] connections on each server in turn, each in its own child process.
pub(crate) fn run(settings: &Settings) -> Vec<Held> {
    PEERS
        .into_iter()
        .map(|peer| {
            let report = hold(peer, settings).map_err(|e| e.to_string());
            match &report {
                Ok(r) => println!(
                    "c10k {:<13} {} connections, {} failed, {} echoed correctly, RSS {} -> {}, {} per connection",
                    peer.name(),
                    r.connections,
                    r.failed_connects,
                    r.echoed_ok,
                    mib(r.rss_before),
                    mib(r.rss_after),
                    per_connection(r)
                ),
                Err(e) => println!("!!! c10k {}: {e}", peer.name()),
            }
            Held { peer, report }
        })
        .collect()
}

/// Starts `peer`, holds the connections, kills it.
fn hold(peer: Peer, settings: &Settings) -> io::Result<HoldReport> {
    let server = ServerChild::spawn(peer.name(), &peer.serve_args(), settings.server_core, None)?;
    let report = turbine_load::hold(&HoldConfig {
        addr: server.addr(),
        connections: CONNECTIONS,
        server_pid: Some(server.pid()),
        size: settings.size,
        framing: Framing::Raw,
        tls: None,
    });
    server.kill()?;
    report
}

/// The report of the `--c10k` mode.
pub(crate) fn markdown(machine: &Machine, settings: &Settings, held: &[Held]) -> String {
    let mut md = String::from("# C10K: memory per held connection\n\n");
    let _ = writeln!(
        md,
        "Written by `{}` (`benches/compare/`).\n",
        settings.command("--c10k")
    );
    md.push_str(&machine.markdown());
    let _ = writeln!(
        md,
        "\nEach server runs alone in a child process. The load generator (`turbine_load::hold`) \
         reads the server's resident set size (`VmRSS`), opens {} connections one after the \
         other, waits 500 ms and reads the RSS again with every connection open and idle (none \
         has sent a byte yet); then it sends one {}-byte message on each connection in turn and \
         checks the echo. Growth per connection = (RSS after - RSS before) / connections held; \
         kernel socket buffers are not part of a process's RSS. Turbine's goal: at most {} \
         bytes per connection.\n",
        count(CONNECTIONS as f64),
        settings.size,
        GOAL_BYTES
    );
    md.push_str(
        "| server | held | failed connects | echoed correctly | RSS before | RSS after | growth per connection |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for h in held {
        let mark = if h.is_clean() { "" } else { " **(!)**" };
        match &h.report {
            Ok(r) => {
                let _ = writeln!(
                    md,
                    "| {}{mark} | {} | {} | {} | {} | {} | {} |",
                    h.peer.name(),
                    count(r.connections as f64),
                    r.failed_connects,
                    count(r.echoed_ok as f64),
                    mib(r.rss_before),
                    mib(r.rss_after),
                    per_connection(r)
                );
            }
            Err(e) => {
                let _ = writeln!(md, "| {}{mark} | failed: {e} | | | | | |", h.peer.name());
            }
        }
    }
    if let Some(Ok(turbine)) = held
        .iter()
        .find(|h| h.peer == Peer::TurbineRaw)
        .map(|h| h.report.as_ref())
    {
        let verdict = match turbine.rss_growth_per_connection() {
            Some(bytes) if bytes <= GOAL_BYTES => format!("met ({bytes:.0} B)"),
            Some(bytes) => format!("**missed** ({bytes:.0} B)"),
            None => "not measured (no RSS figures)".to_string(),
        };
        let _ = writeln!(
            md,
            "\nTurbine's goal of at most {GOAL_BYTES} B per connection: {verdict}."
        );
    }
    md
}

/// A resident set size in MiB, or `n/a`.
fn mib(bytes: Option<u64>) -> String {
    bytes.map_or("n/a".into(), |b| {
        format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
    })
}

/// RSS growth per held connection, or `n/a`.
fn per_connection(report: &HoldReport) -> String {
    report
        .rss_growth_per_connection()
        .map_or("n/a".into(), |b| format!("{b:.0} B"))
}
