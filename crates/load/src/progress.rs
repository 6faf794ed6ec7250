//! `Progress`: running totals the client threads publish and the main thread prints.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::Histogram;
use crate::units::Nanos;

/// Totals shared by all client threads, warm-up included.
///
/// Threads count locally and publish here every [`PUBLISH_EVERY`], so the atomics and the
/// lock are touched a few times a second per thread, not once per message.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// Replies (or churn cycles) completed so far.
    messages: AtomicU64,
    /// Connections closed by errors so far.
    errors: AtomicU64,
    /// Mismatched replies so far.
    mismatches: AtomicU64,
    /// Fixed-rate messages that could not go out when due, so far.
    late: AtomicU64,
    /// Churn connects that failed, so far.
    failed_connects: AtomicU64,
    /// Latencies published since the main thread last took them.
    recent: Mutex<Histogram>,
}

/// How often a client thread publishes its counts.
pub(crate) const PUBLISH_EVERY: Duration = Duration::from_millis(100);

/// Counts a thread gathered since it last published.
#[derive(Debug, Default)]
pub(crate) struct Unpublished {
    /// Replies (or churn cycles) completed.
    pub(crate) messages: u64,
    /// Connections closed by errors.
    pub(crate) errors: u64,
    /// Mismatched replies.
    pub(crate) mismatches: u64,
    /// Fixed-rate messages late, backlogged or unsent.
    pub(crate) late: u64,
    /// Churn connects that failed.
    pub(crate) failed_connects: u64,
    /// Their latencies.
    pub(crate) latency: Histogram,
}

impl Progress {
    /// Adds a thread's counts to the totals and empties them.
    pub(crate) fn publish(&self, counts: &mut Unpublished) {
        self.messages.fetch_add(counts.messages, Ordering::Relaxed);
        self.errors.fetch_add(counts.errors, Ordering::Relaxed);
        self.mismatches
            .fetch_add(counts.mismatches, Ordering::Relaxed);
        self.late.fetch_add(counts.late, Ordering::Relaxed);
        self.failed_connects
            .fetch_add(counts.failed_connects, Ordering::Relaxed);
        if counts.latency.count() > 0 {
            // A thread that panicked while holding the lock left a histogram that is still
            // valid, so a poisoned lock is used anyway.
            let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            recent.merge(&counts.latency);
        }
        counts.messages = 0;
        counts.errors = 0;
        counts.mismatches = 0;
        counts.late = 0;
        counts.failed_connects = 0;
        counts.latency.clear();
    }

    /// Takes the latencies published since the last call, leaving an empty histogram behind:
    /// `into` is cleared and swapped in, so no memory is allocated.
    fn take_recent(&self, into: &mut Histogram) {
        into.clear();
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::swap(&mut *recent, into);
    }
}

/// Which kind of run a progress line describes, and so which figures it shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Columns {
    /// Closed loop: `msgs/s`, `p99`, `errors`, `mismatches`.
    #[default]
    Messages,
    /// Fixed rate: as `Messages`, plus `late` (late, backlogged and unsent messages).
    Paced,
    /// Churn: `conns/s`, `p99` of connect + echo, `failed` connects, `errors`, `mismatches`.
    Connections,
}

/// The main thread's side: turns the totals into one line per interval.
#[derive(Debug, Default)]
pub(crate) struct ProgressLine {
    /// Which figures to print.
    columns: Columns,
    /// Replies at the previous line, to print the rate since.
    last_messages: u64,
    /// The latencies of the last interval, reused between lines.
    recent: Histogram,
}

impl ProgressLine {
    /// Lines showing `columns`.
    pub(crate) fn new(columns: Columns) -> ProgressLine {
        ProgressLine {
            columns,
            ..ProgressLine::default()
        }
    }

    /// The line for the interval of length `interval` that ends `elapsed` after the start:
    /// `t=3s  msgs/s=123456  p99=85.0us  errors=0  mismatches=0`, with ` (warm-up)` appended
    /// while warming up; a fixed-rate run adds `late=N` and a churn run prints `conns/s` and
    /// `failed=N` instead.
    pub(crate) fn next(
        &mut self,
        progress: &Progress,
        elapsed: Duration,
        interval: Duration,
        warming_up: bool,
    ) -> String {
        let messages = progress.messages.load(Ordering::Relaxed);
        let rate = (messages - self.last_messages) as f64 / interval.as_secs_f64().max(1e-3);
        self.last_messages = messages;
        progress.take_recent(&mut self.recent);
        let (unit, extra) = match self.columns {
            Columns::Messages => ("msgs/s", String::new()),
            Columns::Paced => (
                "msgs/s",
                format!("  late={}", progress.late.load(Ordering::Relaxed)),
            ),
            Columns::Connections => (
                "conns/s",
                format!(
                    "  failed={}",
                    progress.failed_connects.load(Ordering::Relaxed)
                ),
            ),
        };
        format!(
            "t={}s  {unit}={rate:.0}  p99={}{extra}  errors={}  mismatches={}{}",
            elapsed.as_secs_f64().round(),
            Nanos(self.recent.percentile(99.0)),
            progress.errors.load(Ordering::Relaxed),
            progress.mismatches.load(Ordering::Relaxed),
            if warming_up { "  (warm-up)" } else { "" },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each kind of run labels its line with its own figures.
    #[test]
    fn columns() {
        let progress = Progress::default();
        let mut counts = Unpublished {
            messages: 10,
            late: 3,
            failed_connects: 2,
            ..Unpublished::default()
        };
        progress.publish(&mut counts);
        assert_eq!(counts.late, 0);
        let second = Duration::from_secs(1);
        let line = |columns| ProgressLine::new(columns).next(&progress, second, second, false);
        assert_eq!(
            line(Columns::Messages),
            "t=1s  msgs/s=10  p99=0ns  errors=0  mismatches=0"
        );
        assert!(line(Columns::Paced).contains("msgs/s=10  p99=0ns  late=3  errors"));
        assert!(line(Columns::Connections).contains("conns/s=10  p99=0ns  failed=2  errors"));
    }
}
