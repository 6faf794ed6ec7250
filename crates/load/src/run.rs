//! `run`: starts the client threads, times the run, prints progress and merges the report.

use std::io;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::connection::Shape;
use crate::progress::{Progress, ProgressLine};
use crate::tally::Schedule;
use crate::worker::{CONNECT_TIMEOUT, Worker};
use crate::{LoadConfig, Report, server_cpu_time};

/// How often the progress line is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Applies the load described by `config` and reports what was measured.
///
/// Runs in three phases, all bounded in time:
///
/// 1. Connect: each of `threads` client threads (named `turbine-load-N`, no more threads
///    than connections) opens its share of the connections, non-blocking, and waits up to
///    5 s for them; those that fail count in [`Report::failed_connects`].
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
/// - The error from `/proc` when `server_pid` is given but its CPU time cannot be read.
/// - An error when a client thread cannot create its event loop or panics.
///
/// Refused or failed connections are not errors: they are counted in the report.
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
    if let Some(pid) = config.server_pid {
        // Fail before any load is applied rather than after it.
        server_cpu_time(pid)?;
    }
    let threads = config.threads.min(config.connections);
    let shape = Shape {
        framing: config.framing,
        size: config.size,
        depth: config.depth,
    };
    let progress = Arc::new(Progress::default());
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut clients = Vec::with_capacity(threads);
    for (n, ids) in shares(config.connections, threads).into_iter().enumerate() {
        let (schedule_tx, schedule_rx) = mpsc::channel();
        let ready_tx = ready_tx.clone();
        let progress = Arc::clone(&progress);
        let addr = config.addr;
        let handle = thread::Builder::new()
            .name(format!("turbine-load-{n}"))
            .spawn(move || client(addr, ids, shape, &ready_tx, &schedule_rx, &progress))?;
        clients.push(Client {
            schedule: schedule_tx,
            handle,
        });
    }
    drop(ready_tx);

    if let Err(e) = await_ready(&ready_rx, threads) {
        // Dropping the schedule senders tells the waiting threads to give up.
        let handles: Vec<_> = clients.into_iter().map(|c| c.handle).collect();
        for handle in handles {
            let _ = handle.join();
        }
        return Err(e);
    }

    let start = Instant::now();
    let schedule = Schedule {
        measure_from: start + config.warmup,
        until: start + config.warmup + config.duration,
    };
    let mut handles = Vec::with_capacity(clients.len());
    for client in clients {
        // A thread that already exited has nothing to run; its join says why.
        let _ = client.schedule.send(schedule);
        handles.push(client.handle);
    }

    let server_cpu = watch(config, start, schedule, &progress);

    let mut report = Report::default();
    for handle in handles {
        let part = handle
            .join()
            .map_err(|_| io::Error::other("a client thread panicked"))?;
        merge(&mut report, &part);
    }
    report.elapsed = config.duration;
    report.server_cpu = server_cpu;
    Ok(report)
}

/// The main thread's handle on one client thread.
struct Client {
    /// Sends the schedule once every thread is connected; dropped unsent to cancel.
    schedule: Sender<Schedule>,
    /// The thread, which returns its share of the report.
    handle: JoinHandle<Report>,
}

/// A client thread: connect, say so, wait for the schedule, run.
///
/// Reports `Err` on `ready` when it cannot start, and returns an empty report when the main
/// thread cancels the run.
fn client(
    addr: std::net::SocketAddr,
    ids: std::ops::Range<u64>,
    shape: Shape,
    ready: &Sender<io::Result<()>>,
    schedule: &Receiver<Schedule>,
    progress: &Progress,
) -> Report {
    let worker = match Worker::connect(addr, ids, shape) {
        Ok(worker) => worker,
        Err(e) => {
            let _ = ready.send(Err(e));
            return Report::default();
        }
    };
    if ready.send(Ok(())).is_err() {
        return Report::default();
    }
    match schedule.recv() {
        Ok(schedule) => worker.run(schedule, progress),
        Err(_) => Report::default(),
    }
}

/// Waits for `threads` client threads to finish connecting.
fn await_ready(ready: &Receiver<io::Result<()>>, threads: usize) -> io::Result<()> {
    // Connects run in parallel and each gives up after CONNECT_TIMEOUT; the margin covers
    // issuing thousands of connects and thread start-up.
    let deadline = Instant::now() + CONNECT_TIMEOUT + Duration::from_secs(10);
    for _ in 0..threads {
        let left = deadline.saturating_duration_since(Instant::now());
        match ready.recv_timeout(left) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(RecvTimeoutError::Timeout) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "client threads did not finish connecting",
                ));
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(io::Error::other("a client thread exited while connecting"));
            }
        }
    }
    Ok(())
}

/// Sleeps through the run on the main thread: prints progress, and reads the server's CPU
/// time when the window opens and closes; returns the difference.
fn watch(
    config: &LoadConfig,
    start: Instant,
    schedule: Schedule,
    progress: &Progress,
) -> Option<std::time::Duration> {
    let mut line = ProgressLine::default();
    let mut next_line = start + PROGRESS_EVERY;
    let mut last_line = start;
    let mut cpu_start = None;
    let mut cpu_taken = config.server_pid.is_none();
    loop {
        let mut wake = schedule.until;
        if !cpu_taken {
            wake = wake.min(schedule.measure_from);
        }
        if config.progress {
            wake = wake.min(next_line);
        }
        thread::sleep(wake.saturating_duration_since(Instant::now()));
        let now = Instant::now();
        if !cpu_taken && now >= schedule.measure_from {
            cpu_start = config.server_pid.and_then(read_cpu);
            cpu_taken = true;
        }
        if config.progress && now >= next_line {
            let text = line.next(
                progress,
                now - start,
                now - last_line,
                // Labelled by where the interval began: the one ending at the warm-up's end
                // was all warm-up.
                last_line < schedule.measure_from,
            );
            eprintln!("{text}");
            last_line = now;
            next_line += PROGRESS_EVERY;
        }
        if now >= schedule.until {
            let cpu_end = config.server_pid.and_then(read_cpu);
            return Some(cpu_end?.saturating_sub(cpu_start?));
        }
    }
}

/// The server's CPU time, or `None` (with a warning) if it cannot be read any more.
fn read_cpu(pid: u32) -> Option<Duration> {
    server_cpu_time(pid)
        .inspect_err(|e| log::warn!("cannot read the CPU time of process {pid}: {e}"))
        .ok()
}

/// Splits connection numbers `0..connections` into `threads` contiguous shares whose sizes
/// differ by at most one.
fn shares(connections: usize, threads: usize) -> Vec<std::ops::Range<u64>> {
    let (each, extra) = (connections / threads, connections % threads);
    let mut start = 0;
    (0..threads)
        .map(|t| {
            let len = each + usize::from(t < extra);
            let share = start as u64..(start + len) as u64;
            start += len;
            share
        })
        .collect()
}

/// Adds a thread's share to the report.
fn merge(report: &mut Report, part: &Report) {
    report.messages += part.messages;
    report.bytes += part.bytes;
    report.latency.merge(&part.latency);
    report.errors += part.errors;
    report.mismatches += part.mismatches;
    report.failed_connects += part.failed_connects;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shares cover every connection once, in order, and differ in size by at most one.
    #[test]
    fn shares_spread_the_remainder() {
        assert_eq!(shares(10, 3), [0..4, 4..7, 7..10]);
        assert_eq!(shares(2, 2), [0..1, 1..2]);
        assert_eq!(shares(5, 1).first(), Some(&(0..5)));
    }
}
