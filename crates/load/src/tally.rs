//! `Tally`: one client thread's counts, for its share of the report and for progress lines.

use std::time::{Duration, Instant};

use crate::Report;
use crate::progress::Unpublished;

/// When a run measures and when it ends, the same for every thread.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    /// Replies completed at or after this instant are measured: the end of the warm-up.
    pub(crate) measure_from: Instant,
    /// The end of the run; replies completed later are not measured.
    pub(crate) until: Instant,
}

/// A client thread's counts: the window's, for the report, and recent ones, for progress.
#[derive(Debug)]
pub(crate) struct Tally {
    /// The measured window.
    schedule: Schedule,
    /// This thread's share of the final report (`elapsed` and `server_cpu` left unset).
    pub(crate) report: Report,
    /// Counts since the last publish, warm-up included.
    pub(crate) unpublished: Unpublished,
}

impl Tally {
    /// Empty counts for a run on `schedule`; `failed_connects` were counted before it.
    pub(crate) fn new(schedule: Schedule, failed_connects: u64) -> Tally {
        Tally {
            schedule,
            report: Report {
                failed_connects,
                ..Report::default()
            },
            unpublished: Unpublished::default(),
        }
    }

    /// Counts a reply of `len` bytes completed at `now` for a message queued at `sent`.
    pub(crate) fn reply(&mut self, now: Instant, sent: Instant, len: usize, intact: bool) {
        let ns = nanos(now.saturating_duration_since(sent));
        self.unpublished.messages += 1;
        self.unpublished.latency.record(ns);
        if !intact {
            self.mismatch();
        }
        if now >= self.schedule.measure_from && now < self.schedule.until {
            self.report.messages += 1;
            self.report.bytes += len as u64;
            self.report.latency.record(ns);
        }
    }

    /// Counts a connection whose replies could no longer be delimited as a mismatch.
    pub(crate) fn desync(&mut self) {
        self.mismatch();
    }

    /// Counts a connection closed by an error.
    pub(crate) fn error(&mut self) {
        self.report.errors += 1;
        self.unpublished.errors += 1;
    }

    /// Counts one mismatch, in the report and for progress.
    fn mismatch(&mut self) {
        self.report.mismatches += 1;
        self.unpublished.mismatches += 1;
    }
}

/// `d` in nanoseconds, saturating at `u64::MAX` (584 years).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
