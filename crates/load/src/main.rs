//! `turbine-load`: applies echo load to a server and prints what it measured.
//!
//! Start a server, then load it; `--pid` adds the server's CPU time and messages per
//! server CPU-second. By default the load is closed-loop: each connection keeps `--depth`
//! messages in flight:
//!
//! ```text
//! cargo build --release --example echo
//! TURBINE_REACTORS=1 target/release/examples/echo &
//! cargo run --release -p turbine-load -- --addr 127.0.0.1:7878 -c 100 --depth 16 \
//!     --duration 10s --pid $(pgrep -f examples/echo)
//! ```
//!
//! Lines or length-prefixed messages need the server in the same framing
//! (`ECHO_FRAMING=lines`, then `--framing lines`).
//!
//! Fixed-rate (open-loop) mode sends `--rate` messages a second in all on a timetable,
//! whatever the server does, and measures latency from each message's intended send time, so
//! a server that stalls shows its real tail; the report puts the rate achieved beside the
//! target and counts messages that could not go out on time. Churn mode opens, uses once and
//! closes connections as fast as the server takes them, `-c` at a time, and reports
//! connections per second (and per server CPU-second with `--pid`):
//!
//! ```text
//! cargo run --release -p turbine-load -- --rate 50000 -c 100 --pid $(pgrep -f examples/echo)
//! cargo run --release -p turbine-load -- --churn -c 32 --pid $(pgrep -f examples/echo)
//! ```
//!
//! Hold mode opens many idle connections and reports the server's resident memory per
//! connection:
//!
//! ```text
//! cargo run --release -p turbine-load -- --hold 10000 --pid $(pgrep -f examples/echo)
//! ```
//!
//! Every mode speaks TLS with `--tls`, given the certificate to trust (`--ca`, PEM: the
//! server's self-signed certificate or its CA). The messages are then the plaintext; a churn
//! run makes a full handshake every cycle (sessions are never resumed) and reports handshakes
//! per second and per server CPU-second; a hold run completes every handshake before it reads
//! the server's memory:
//!
//! ```text
//! cargo run --release -p turbine-load -- --tls --ca cert.pem --addr 127.0.0.1:7443 \
//!     -c 100 --depth 16 --pid $SERVER_PID
//! cargo run --release -p turbine-load -- --tls --ca cert.pem --addr 127.0.0.1:7443 \
//!     --churn -c 32 --tls-version 1.2 --pid $SERVER_PID
//! ```
//!
//! Warnings and errors the library logs (the first failed TLS handshake of each client
//! thread, with rustls's reason; a server whose `/proc` files cannot be read) go to stderr.
//!
//! `--help` lists every option. Exit codes: 0 when the run completed (read the report for
//! errors and mismatches), 1 when it could not run, 2 for a bad command line.

mod args;

use std::process::ExitCode;

use args::Command;
use turbine_load::TlsConfig;

/// Prints the library's warnings and errors to stderr; the rest are dropped.
struct Logger;

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let level = match record.level() {
                log::Level::Error => "error",
                _ => "warning",
            };
            eprintln!("turbine-load: {level}: {}", record.args());
        }
    }

    fn flush(&self) {}
}

/// ` over TLS 1.3 (server name localhost)` and the like, or nothing for plain TCP: for the
/// line that describes the run.
fn over(tls: Option<&TlsConfig>) -> String {
    let Some(tls) = tls else {
        return String::new();
    };
    let alpn = match &tls.alpn {
        Some(alpn) => format!(", ALPN {alpn}"),
        None => String::new(),
    };
    format!(
        " over {} (server name {}{alpn})",
        tls.version, tls.server_name
    )
}

fn main() -> ExitCode {
    // Only fails if a logger is set already, and none is.
    static LOGGER: Logger = Logger;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Warn);
    }
    let command = match args::parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(e) => {
            eprintln!("turbine-load: {e}");
            eprintln!("Run `turbine-load --help` for the options.");
            return ExitCode::from(2);
        }
    };
    let result = match command {
        Command::Help => {
            print!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Command::Load(config) => {
            println!(
                "load       {} connections, {} thread(s), depth {}, {} B {} messages to {}{}, \
                 {:?} after {:?} warm-up",
                config.connections,
                config.threads.min(config.connections),
                config.depth,
                config.size,
                config.framing,
                config.addr,
                over(config.tls.as_ref()),
                config.duration,
                config.warmup,
            );
            turbine_load::run(&config).map(|report| println!("{report}"))
        }
        Command::Rate(config) => {
            let load = &config.load;
            println!(
                "load       {} msgs/s over {} connections, {} thread(s), at most {} \
                 outstanding each, {} B {} messages to {}{}, {:?} after {:?} warm-up",
                config.rate,
                load.connections,
                load.threads.min(load.connections),
                config.max_outstanding,
                load.size,
                load.framing,
                load.addr,
                over(load.tls.as_ref()),
                load.duration,
                load.warmup,
            );
            turbine_load::run_at_rate(&config).map(|report| println!("{report}"))
        }
        Command::Churn(config) => {
            println!(
                "churn      {} cycles at a time, {} thread(s), one {} B {} message each, to {}{}, \
                 {:?} after {:?} warm-up",
                config.connections,
                config.threads.min(config.connections),
                config.size,
                config.framing,
                config.addr,
                over(config.tls.as_ref()),
                config.duration,
                config.warmup,
            );
            turbine_load::churn(&config).map(|report| println!("{report}"))
        }
        Command::Hold(config) => {
            println!(
                "hold       {} connections, one {} B {} message each, to {}{}",
                config.connections,
                config.size,
                config.framing,
                config.addr,
                over(config.tls.as_ref()),
            );
            turbine_load::hold(&config).map(|report| println!("{report}"))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("turbine-load: {e}");
            ExitCode::FAILURE
        }
    }
}
