//! `Crew`: the client threads of one run, connected, released, watched and joined together.

use std::io;
use std::ops::Range;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::progress::{Columns, Progress, ProgressLine};
use crate::tally::Schedule;
use crate::worker::CONNECT_TIMEOUT;
use crate::{LoadConfig, server_cpu_time};

/// How often the progress line is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// What a client thread does once it is ready: run on the schedule and return its share of
/// the report.
pub(crate) trait Client {
    /// The thread's share of the report.
    type Report: Send + 'static;

    /// Applies load from `schedule.start` to `schedule.until`, publishing counts to
    /// `progress` as it goes.
    fn run(self, schedule: Schedule, progress: &Progress) -> Self::Report;
}

/// The client threads of a run, each ready (connected) and waiting for the schedule.
#[derive(Debug)]
pub(crate) struct Crew<R> {
    /// One handle per thread.
    members: Vec<Member<R>>,
    /// The totals every thread publishes to.
    progress: Arc<Progress>,
}

/// The main thread's handle on one client thread.
#[derive(Debug)]
struct Member<R> {
    /// Sends the schedule once every thread is ready; dropped unsent to cancel.
    schedule: Sender<Schedule>,
    /// The thread, which returns its share of the report (or `None` when cancelled).
    handle: JoinHandle<Option<R>>,
}

/// What a run's threads returned, and what the main thread measured.
#[derive(Debug)]
pub(crate) struct Outcome<R> {
    /// Each thread's share of the report.
    pub(crate) parts: Vec<R>,
    /// The server's CPU time over the window, when its pid was given and could be read.
    pub(crate) server_cpu: Option<Duration>,
}

impl<R: Send + 'static> Crew<R> {
    /// Starts `min(config.threads, config.connections)` threads named `turbine-load-N`; each
    /// calls `ready` with its contiguous share of the connection numbers
    /// `0..config.connections` (shares differ in size by at most one) and waits. Returns once
    /// every thread is ready.
    ///
    /// # Errors
    ///
    /// A thread cannot be spawned, a thread's `ready` fails (its error is returned), or the
    /// threads are not all ready within the connect timeout and a margin.
    pub(crate) fn start<C, F>(config: &LoadConfig, ready: F) -> io::Result<Crew<R>>
    where
        C: Client<Report = R>,
        F: Fn(Range<u64>) -> io::Result<C> + Clone + Send + 'static,
    {
        let threads = config.threads.min(config.connections);
        let progress = Arc::new(Progress::default());
        let (ready_tx, ready_rx) = mpsc::channel();
        let mut members = Vec::with_capacity(threads);
        for (n, ids) in shares(config.connections, threads).into_iter().enumerate() {
            let (schedule_tx, schedule_rx) = mpsc::channel();
            let ready_tx = ready_tx.clone();
            let progress = Arc::clone(&progress);
            let ready = ready.clone();
            let handle = thread::Builder::new()
                .name(format!("turbine-load-{n}"))
                .spawn(move || member(ready(ids), &ready_tx, &schedule_rx, &progress))?;
            members.push(Member {
                schedule: schedule_tx,
                handle,
            });
        }
        drop(ready_tx);
        if let Err(e) = await_ready(&ready_rx, threads) {
            // Dropping the schedule senders tells the waiting threads to give up.
            let handles: Vec<_> = members.into_iter().map(|m| m.handle).collect();
            for handle in handles {
                let _ = handle.join();
            }
            return Err(e);
        }
        Ok(Crew { members, progress })
    }

    /// Releases every thread on one schedule (warm-up, then `duration` measured), prints
    /// progress lines of `columns` when `config.progress`, reads the server's CPU time when
    /// the window opens and closes, and joins the threads.
    ///
    /// # Errors
    ///
    /// A client thread panicked.
    pub(crate) fn run(self, config: &LoadConfig, columns: Columns) -> io::Result<Outcome<R>> {
        let start = Instant::now();
        let schedule = Schedule {
            start,
            measure_from: start + config.warmup,
            until: start + config.warmup + config.duration,
        };
        let mut handles = Vec::with_capacity(self.members.len());
        for member in self.members {
            // A thread that already exited has nothing to run; its join says why.
            let _ = member.schedule.send(schedule);
            handles.push(member.handle);
        }
        let server_cpu = watch(config, columns, schedule, &self.progress);
        let mut parts = Vec::with_capacity(handles.len());
        for handle in handles {
            let part = handle
                .join()
                .map_err(|_| io::Error::other("a client thread panicked"))?;
            parts.extend(part);
        }
        Ok(Outcome { parts, server_cpu })
    }
}

/// A client thread: say whether it is ready, wait for the schedule, run.
///
/// Returns `None` when it could not get ready or the main thread cancelled the run.
fn member<C: Client>(
    client: io::Result<C>,
    ready: &Sender<io::Result<()>>,
    schedule: &Receiver<Schedule>,
    progress: &Progress,
) -> Option<C::Report> {
    let client = match client {
        Ok(client) => client,
        Err(e) => {
            let _ = ready.send(Err(e));
            return None;
        }
    };
    ready.send(Ok(())).ok()?;
    let schedule = schedule.recv().ok()?;
    Some(client.run(schedule, progress))
}

/// Waits for `threads` client threads to get ready.
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
    columns: Columns,
    schedule: Schedule,
    progress: &Progress,
) -> Option<Duration> {
    let start = schedule.start;
    let mut line = ProgressLine::new(columns);
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
fn shares(connections: usize, threads: usize) -> Vec<Range<u64>> {
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
