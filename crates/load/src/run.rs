//! `run` and `run_at_rate`: closed-loop and fixed-rate load over connections opened up front.

use std::io;

use crate::connection::{Pace, Shape};
use crate::crew::{Crew, Outcome};
use crate::progress::Columns;
use crate::tls::Tls;
use crate::worker::Worker;
use crate::{LoadConfig, RateConfig, Report, server_cpu_time};

/// Applies the load described by `config` and reports what was measured.
///
/// Runs in three phases, all bounded in time:
///
/// 1. Connect: each of `threads` client threads (named `turbine-load-N`, no more threads
///    than connections) opens its share of the connections, non-blocking, and waits up to
///    5 s for them, TLS handshakes included with [`LoadConfig::tls`]; those that fail count
///    in [`Report::failed_connects`] (failed handshakes also in
///    [`Report::failed_handshakes`]). Handshakes are thus outside the measured window.
/// 2. Warm-up, then the measured window: every connection writes `depth` messages, then
///    answers each complete reply with the next message, checking every byte of every reply.
///    Only replies completed in the `duration` after `warmup` count in `messages`, `bytes`
///    and `latency`. With `progress`, a line a second goes to stderr.
/// 3. Stop: at `warmup + duration` after the connect phase, threads drop their connections
///    (messages still in flight are abandoned) and are joined.
///
/// With `server_pid`, the server's CPU time is read when the window opens and when it closes.
///
/// # Errors
///
/// - `InvalidInput` when the configuration is out of bounds (see [`LoadConfig::validate`]).
/// - With `tls`, the error reading its certificate file, or `InvalidInput` or
///   `InvalidData` when it holds no usable certificate.
/// - The error from `/proc` when `server_pid` is given but its CPU time cannot be read.
/// - An error when a client thread cannot create its event loop or panics.
///
/// Refused or failed connections, failed TLS handshakes included, are not errors: they are
/// counted in the report.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use turbine_load::{Framing, LoadConfig};
///
/// let report = turbine_load::run(&LoadConfig {
///     addr: "127.0.0.1:7878".parse().unwrap(),
///     connections: 50,
///     depth: 8,
///     duration: Duration::from_secs(5),
///     framing: Framing::Lines,
///     ..LoadConfig::default()
/// })?;
/// println!("{report}");
/// assert_eq!(report.mismatches, 0);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn run(config: &LoadConfig) -> io::Result<Report> {
    config.validate()?;
    let pace = Pace::Replies {
        depth: config.depth,
    };
    apply(config, pace, Columns::Messages)
}

/// Applies fixed-rate (open-loop) load: messages go out on the timetable `config` describes,
/// whatever the server does, and latency counts from each message's intended send time.
///
/// The phases are those of [`run`]: connect, warm-up and measured window, stop. In between,
/// each client thread sleeps in `mio::Poll` until its next message is due, an event comes, or
/// its next progress publish (every 100 ms); a thread with nothing due uses no CPU. When it
/// wakes it hands every message now due to its connection, which writes it unless its socket
/// is full or `max_outstanding` messages await replies; then the message waits, counted as
/// late or backlogged, and goes out when a writable event or a reply makes room. See
/// [`RateConfig`] for the timetable and what it guarantees.
///
/// The [`Report`] is that of [`run`] with [`Report::pacing`] set: the target rate beside
/// the messages sent per second, the generator's own send lag, and the messages that did not
/// go out on schedule. Messages due to a connection that failed to connect or closed are
/// counted unsent, not quietly dropped from the target.
///
/// # Errors
///
/// As [`run`]; `InvalidInput` also for a `depth` other than 1, a `rate` or a
/// `max_outstanding` of 0 (see [`RateConfig::validate`]).
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use turbine_load::{LoadConfig, RateConfig};
///
/// let report = turbine_load::run_at_rate(&RateConfig {
///     load: LoadConfig {
///         addr: "127.0.0.1:7878".parse().unwrap(),
///         connections: 50,
///         duration: Duration::from_secs(10),
///         ..LoadConfig::default()
///     },
///     rate: 20_000,
///     ..RateConfig::default()
/// })?;
/// println!("{report}");
/// let pacing = report.pacing.as_ref().unwrap();
/// assert_eq!(pacing.behind(), 0, "could not keep up with {} msgs/s", pacing.target);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn run_at_rate(config: &RateConfig) -> io::Result<Report> {
    config.validate()?;
    let pace = Pace::Timetable {
        rate: config.rate,
        connections: config.load.connections as u64,
        max_outstanding: config.max_outstanding,
    };
    apply(&config.load, pace, Columns::Paced)
}

/// Connects, runs and merges the report: the body of [`run`] and [`run_at_rate`], for a
/// validated `config`.
fn apply(config: &LoadConfig, pace: Pace, columns: Columns) -> io::Result<Report> {
    if let Some(pid) = config.server_pid {
        // Fail before any load is applied rather than after it.
        server_cpu_time(pid)?;
    }
    let shape = Shape {
        framing: config.framing,
        size: config.size,
        pace,
    };
    // Read the certificates once, before anything connects; threads share the client.
    let tls = config.tls.as_ref().map(Tls::new).transpose()?;
    let addr = config.addr;
    let crew = Crew::start(config, move |ids| {
        Worker::connect(addr, ids, shape, tls.clone())
    })?;
    let Outcome { parts, server_cpu } = crew.run(config, columns)?;
    let mut report = Report::default();
    for part in &parts {
        merge(&mut report, part);
    }
    report.elapsed = config.duration;
    report.server_cpu = server_cpu;
    report.tls = config.tls.as_ref().map(|tls| tls.version);
    Ok(report)
}

/// Adds a thread's share to the report.
fn merge(report: &mut Report, part: &Report) {
    report.messages += part.messages;
    report.bytes += part.bytes;
    report.latency.merge(&part.latency);
    report.errors += part.errors;
    report.mismatches += part.mismatches;
    report.failed_connects += part.failed_connects;
    report.failed_handshakes += part.failed_handshakes;
    if let Some(theirs) = &part.pacing {
        report
            .pacing
            .get_or_insert_with(Default::default)
            .merge(theirs);
    }
}
