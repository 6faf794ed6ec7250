//! A load generator for echo-style TCP servers such as Turbine's `echo` example: pipelined
//! load over many connections with every reply byte checked, latency percentiles, and the
//! server's CPU time and memory read from `/proc`.
//!
//! It is both this library, for benchmark harnesses, and the `turbine-load` binary:
//!
//! ```text
//! cargo build --release --example echo && target/release/examples/echo &
//! cargo run --release -p turbine-load -- --addr 127.0.0.1:7878 -c 100 --depth 16 \
//!     --duration 10s --pid $(pgrep -f examples/echo)
//! cargo run --release -p turbine-load -- --hold 10000 --pid $(pgrep -f examples/echo)
//! ```
//!
//! # Layout
//!
//! - [`run`] (`run.rs`) applies load described by a [`LoadConfig`] (`config.rs`) and returns
//!   a [`Report`] (`report.rs`). Each client thread is a `Worker` (`worker.rs`) with its own
//!   `mio::Poll` over its `Connection`s (`connection.rs`), which keep `depth` messages in
//!   flight; a thread's counts are its `Tally` (`tally.rs`), published for the live
//!   progress line through `Progress` (`progress.rs`).
//! - Message contents (`message.rs`) are a function of (connection, sequence number), so
//!   a `Reply` (`reply.rs`) regenerates what it expects and checks each byte as it arrives.
//! - [`hold`] (`hold.rs`) opens many idle connections and reports the server's memory per
//!   connection in a [`HoldReport`].
//! - [`Histogram`] (`histogram.rs`): log-linear latency histogram.
//! - [`server_cpu_time`] and [`server_rss`] (`procfs.rs`) read `/proc/PID/`.
//! - The binary: `main.rs` and its argument parser `args.rs`.
//!
//! # Framing
//!
//! Every message is `size` bytes on the wire, and the server must send each back unchanged:
//! [`Framing::Raw`] (arbitrary bytes, replies matched by count), [`Framing::Lines`]
//! (printable ASCII and a final `'\n'`) or [`Framing::Length`] (4-byte big-endian length,
//! then the payload), matching the echo example's `ECHO_FRAMING=raw|lines|length`.
//!
//! # Example
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::TcpListener;
//! use std::time::Duration;
//! use turbine_load::{Framing, LoadConfig};
//!
//! // A tiny echo server, one thread per connection.
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! std::thread::spawn(move || {
//!     for mut stream in listener.incoming().flatten() {
//!         std::thread::spawn(move || {
//!             let mut buf = [0; 4096];
//!             while let Ok(n @ 1..) = stream.read(&mut buf) {
//!                 if stream.write_all(&buf[..n]).is_err() {
//!                     break;
//!                 }
//!             }
//!         });
//!     }
//! });
//!
//! let report = turbine_load::run(&LoadConfig {
//!     addr,
//!     connections: 2,
//!     depth: 4,
//!     duration: Duration::from_millis(200),
//!     warmup: Duration::from_millis(50),
//!     framing: Framing::Lines,
//!     progress: false,
//!     ..LoadConfig::default()
//! })?;
//! assert!(report.messages > 0);
//! assert_eq!(report.mismatches, 0);
//! println!("{report}");
//! # Ok::<(), std::io::Error>(())
//! ```

mod config;
mod connection;
mod framing;
mod histogram;
mod hold;
mod message;
mod procfs;
mod progress;
mod reply;
mod report;
mod run;
mod tally;
mod units;
mod worker;

pub use config::{HoldConfig, LoadConfig, MAX_SIZE};
pub use framing::{Framing, ParseFramingError};
pub use histogram::Histogram;
pub use hold::{HoldReport, hold};
pub use procfs::{CLK_TCK, server_cpu_time, server_rss};
pub use report::Report;
pub use run::run;
