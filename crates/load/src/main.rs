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
//! `--help` lists every option. Exit codes: 0 when the run completed (read the report for
//! errors and mismatches), 1 when it could not run, 2 for a bad command line.

mod args;

use std::process::ExitCode;

use args::Command;

fn main() -> ExitCode {
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
                "load       {} connections, {} thread(s), depth {}, {} B {} messages to {}, \
                 {:?} after {:?} warm-up",
                config.connections,
                config.threads.min(config.connections),
                config.depth,
                config.size,
                config.framing,
                config.addr,
                config.duration,
                config.warmup,
            );
            turbine_load::run(&config).map(|report| println!("{report}"))
        }
        Command::Rate(config) => {
            let load = &config.load;
            println!(
                "load       {} msgs/s over {} connections, {} thread(s), at most {} \
                 outstanding each, {} B {} messages to {}, {:?} after {:?} warm-up",
                config.rate,
                load.connections,
                load.threads.min(load.connections),
                config.max_outstanding,
                load.size,
                load.framing,
                load.addr,
                load.duration,
                load.warmup,
            );
            turbine_load::run_at_rate(&config).map(|report| println!("{report}"))
        }
        Command::Churn(config) => {
            println!(
                "churn      {} cycles at a time, {} thread(s), one {} B {} message each, to {}, \
                 {:?} after {:?} warm-up",
                config.connections,
                config.threads.min(config.connections),
                config.size,
                config.framing,
                config.addr,
                config.duration,
                config.warmup,
            );
            turbine_load::churn(&config).map(|report| println!("{report}"))
        }
        Command::Hold(config) => {
            println!(
                "hold       {} connections, one {} B {} message each, to {}",
                config.connections, config.size, config.framing, config.addr
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
