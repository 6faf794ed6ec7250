//! `Tally`: one client thread's counts, for its share of the report and for progress lines.

use std::time::{Duration, Instant};

use crate::connection::Wait;
use crate::progress::Unpublished;
use crate::{Pacing, Report};

/// When a run starts, measures and ends, the same for every thread.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    /// When load starts: the warm-up's beginning, and time zero of a fixed-rate timetable.
    pub(crate) start: Instant,
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
    /// Empty counts for a run on `schedule`; `failed_connects` were counted before it. A
    /// fixed-rate run gives its `target` rate and gets [`Pacing`] figures.
    pub(crate) fn new(schedule: Schedule, failed_connects: u64, target: Option<u64>) -> Tally {
        Tally {
            schedule,
            report: Report {
                failed_connects,
                pacing: target.map(|target| Pacing {
                    target,
                    ..Pacing::default()
                }),
                ..Report::default()
            },
            unpublished: Unpublished::default(),
        }
    }

    /// Whether `now` is in the measured window.
    fn measured(&self, now: Instant) -> bool {
        now >= self.schedule.measure_from && now < self.schedule.until
    }

    /// The pacing figures of a fixed-rate run; only a fixed-rate run calls the methods that
    /// use them, so `None` there would be a bug, and such counts are dropped.
    fn pacing(&mut self) -> Option<&mut Pacing> {
        debug_assert!(
            self.report.pacing.is_some(),
            "a pacing count in a closed loop"
        );
        self.report.pacing.as_mut()
    }

    /// Counts a fixed-rate message, due at `intended`, handed to the socket at `now`.
    pub(crate) fn sent(&mut self, intended: Instant, now: Instant) {
        if self.measured(now) {
            let lag = nanos(now.saturating_duration_since(intended));
            if let Some(pacing) = self.pacing() {
                pacing.sent += 1;
                pacing.send_lag.record(lag);
            }
        }
    }

    /// Counts `count` fixed-rate messages that came due and had to wait, for `wait`.
    pub(crate) fn waited(&mut self, wait: Wait, count: u64) {
        if count == 0 {
            return;
        }
        self.unpublished.late += count;
        if let Some(pacing) = self.pacing() {
            match wait {
                Wait::SocketFull => pacing.late += count,
                Wait::Outstanding => pacing.backlogged += count,
            }
        }
    }

    /// Counts `count` fixed-rate messages that came due and will never be sent.
    pub(crate) fn unsent(&mut self, count: u64) {
        if count == 0 {
            return;
        }
        self.unpublished.late += count;
        if let Some(pacing) = self.pacing() {
            pacing.unsent += count;
        }
    }

    /// Counts messages still awaiting replies when the run ended.
    pub(crate) fn in_flight_at_end(&mut self, count: u64) {
        if let Some(pacing) = self.pacing() {
            pacing.in_flight_at_end += count;
        }
    }

    /// Counts a reply of `len` bytes completed at `now` for a message queued at `sent` (at a
    /// fixed rate, due at `sent`).
    pub(crate) fn reply(&mut self, now: Instant, sent: Instant, len: usize, intact: bool) {
        let ns = nanos(now.saturating_duration_since(sent));
        self.unpublished.messages += 1;
        self.unpublished.latency.record(ns);
        if !intact {
            self.mismatch();
        }
        if self.measured(now) {
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
