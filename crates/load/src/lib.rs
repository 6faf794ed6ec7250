//! A load generator for echo-style TCP servers such as Turbine's `echo` example, over plain
//! TCP or TLS: load over many connections with every reply byte checked, latency percentiles,
//! and the server's CPU time and memory read from `/proc`.
//!
//! It is both this library, for benchmark harnesses, and the `turbine-load` binary:
//!
//! ```text
//! cargo build --release --example echo && target/release/examples/echo &
//! cargo run --release -p turbine-load -- --addr 127.0.0.1:7878 -c 100 --depth 16 \
//!     --duration 10s --pid $(pgrep -f examples/echo)
//! cargo run --release -p turbine-load -- --rate 50000 -c 100 --pid $(pgrep -f examples/echo)
//! cargo run --release -p turbine-load -- --churn -c 32 --pid $(pgrep -f examples/echo)
//! cargo run --release -p turbine-load -- --hold 10000 --pid $(pgrep -f examples/echo)
//! cargo run --release -p turbine-load -- --tls --ca cert.pem --addr 127.0.0.1:7443 --churn
//! ```
//!
//! # Modes
//!
//! - Closed loop, [`run()`]: each connection keeps `depth` messages in flight and sends the
//!   next when a reply arrives. It finds the throughput a server sustains, but while the
//!   server stalls it stops sending, so a stall costs only the few messages in flight.
//! - Fixed rate, [`run_at_rate()`]: messages go out on a timetable fixed in advance
//!   ([`RateConfig`]), whatever the server does, and latency counts from each intended send
//!   time, so stalls show in the percentiles as users arriving at that rate would see them (no
//!   coordinated omission). Messages that cannot go out on time are counted ([`Pacing`]).
//! - Churn, [`churn()`]: slots that connect, send one message, check its echo, close and
//!   start over; connections per second and per server CPU-second ([`ChurnReport`]).
//! - Hold, [`hold()`]: many idle connections and the server's memory per connection.
//!
//! Every mode speaks TLS when given a [`TlsConfig`] ([`LoadConfig::tls`],
//! [`HoldConfig::tls`]): the messages are then the plaintext, checked as ever. Closed-loop
//! and fixed-rate runs complete each handshake before the warm-up, so latency is that of
//! messages; a churn run makes a full handshake every cycle (sessions are never resumed) and
//! so measures handshakes per second and per server CPU-second; a hold run completes every
//! handshake before it reads the server's memory. The client is rustls (`ring` provider).
//!
//! # Layout
//!
//! - [`run()`] and [`run_at_rate()`] (`run.rs`) apply load described by a [`LoadConfig`] or
//!   [`RateConfig`] (`config.rs`) and return a [`Report`] (`report.rs`), with [`Pacing`]
//!   (`pacing.rs`) at a fixed rate. The client threads are a `Crew` (`crew.rs`): connected,
//!   released on one schedule, watched (progress, server CPU) and joined together. Each
//!   thread is a `Worker` (`worker.rs`) with its own `mio::Poll` over its `Connection`s
//!   (`connection.rs`), which keep `depth` messages in flight or send them when the
//!   `Timetable` (`timetable.rs`) says they are due; a thread's counts are its `Tally`
//!   (`tally.rs`), published for the live progress line through `Progress` (`progress.rs`).
//! - [`churn()`] (`churn.rs`) runs a `Crew` of `Churner`s (`churner.rs`), each cycling its
//!   `Slot`s (`slot.rs`), and returns a [`ChurnReport`].
//! - Message contents (`message.rs`) are a function of (connection, sequence number), so
//!   a `Reply` (`reply.rs`) regenerates what it expects and checks each byte as it arrives.
//! - [`hold()`] (`hold.rs`) opens many idle connections and reports the server's memory per
//!   connection in a [`HoldReport`].
//! - TLS: [`TlsConfig`] (`tls.rs`) makes a run's rustls client; every connection's socket is
//!   a `Stream` (`stream.rs`), plain or TLS, which drives the rustls session without
//!   blocking, so connections, slots and `hold` have one code path either way.
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
//! use turbine_load::{Framing, LoadConfig, RateConfig};
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
//!
//! // The same server at a fixed 500 messages a second, then churning connections.
//! let load = LoadConfig {
//!     addr,
//!     connections: 2,
//!     duration: Duration::from_millis(200),
//!     warmup: Duration::ZERO,
//!     progress: false,
//!     ..LoadConfig::default()
//! };
//! let paced = turbine_load::run_at_rate(&RateConfig {
//!     load: load.clone(),
//!     rate: 500,
//!     ..RateConfig::default()
//! })?;
//! assert_eq!(paced.pacing.as_ref().map(|p| p.behind()), Some(0));
//! let churned = turbine_load::churn(&load)?;
//! assert!(churned.cycles > 0);
//! println!("{paced}\n{churned}");
//! # Ok::<(), std::io::Error>(())
//! ```

mod churn;
mod churner;
mod config;
mod connection;
mod crew;
mod framing;
mod histogram;
mod hold;
mod message;
mod pacing;
mod procfs;
mod progress;
mod reply;
mod report;
mod run;
mod slot;
mod stream;
mod tally;
mod timetable;
mod tls;
mod units;
mod worker;

pub use churn::{ChurnReport, churn};
pub use config::{HoldConfig, LoadConfig, MAX_SIZE, RateConfig};
pub use framing::{Framing, ParseFramingError};
pub use histogram::Histogram;
pub use hold::{HoldReport, hold};
pub use pacing::Pacing;
pub use procfs::{CLK_TCK, server_cpu_time, server_rss};
pub use report::Report;
pub use run::{run, run_at_rate};
pub use tls::{TlsConfig, TlsVersion};
