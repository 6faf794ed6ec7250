//! A connection's own timers: set by its handler, fired as [`Handler::on_timer`](crate::Handler::on_timer).

use std::fmt;
use std::time::Instant;

/// The most timers one connection may have pending at once.
///
/// A protocol needs a few (a keepalive ping, a request deadline, a retry); the bound keeps a
/// handler bug from growing a connection's memory without end.
pub const MAX_TIMERS: usize = 64;

/// Names one timer of one connection, for [`Context::cancel_timer`](crate::Context::cancel_timer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId(u64);

/// Why [`Context::set_timer`](crate::Context::set_timer) refused a timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimerError {
    /// The connection already has [`MAX_TIMERS`] timers pending.
    TooMany,
    /// The connection is closing: no callback would run.
    Closing,
}

impl fmt::Display for TimerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimerError::TooMany => "too many timers on this connection",
            TimerError::Closing => "connection closing",
        })
    }
}

impl std::error::Error for TimerError {}

/// One pending timer.
#[derive(Debug)]
struct Pending {
    /// Its name.
    id: TimerId,
    /// When it fires.
    at: Instant,
    /// What the handler gets back.
    tag: u64,
}

/// The timers of one connection, at most [`MAX_TIMERS`], earliest first.
#[derive(Debug, Default)]
pub(crate) struct ConnTimers {
    /// Pending timers sorted by time (a handful: insertion into a sorted `Vec` beats a heap).
    pending: Vec<Pending>,
    /// Number of the next timer set.
    next_id: u64,
}

impl ConnTimers {
    /// Adds a timer firing at `at` with `tag`.
    pub(crate) fn set(&mut self, at: Instant, tag: u64) -> Result<TimerId, TimerError> {
        if self.pending.len() >= MAX_TIMERS {
            return Err(TimerError::TooMany);
        }
        let id = TimerId(self.next_id);
        self.next_id += 1;
        let index = self.pending.partition_point(|p| p.at <= at);
        self.pending.insert(index, Pending { id, at, tag });
        Ok(id)
    }

    /// Removes a pending timer; `false` if it already fired or was cancelled.
    pub(crate) fn cancel(&mut self, id: TimerId) -> bool {
        let before = self.pending.len();
        self.pending.retain(|p| p.id != id);
        self.pending.len() < before
    }

    /// When the earliest timer fires.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.pending.first().map(|p| p.at)
    }

    /// How many timers are due at `now`.
    pub(crate) fn due(&self, now: Instant) -> usize {
        self.pending.partition_point(|p| p.at <= now)
    }

    /// Removes and returns the tag of the earliest timer due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<u64> {
        if self.pending.first()?.at <= now {
            Some(self.pending.remove(0).tag)
        } else {
            None
        }
    }

    /// Drops every pending timer (the connection is closing).
    pub(crate) fn clear(&mut self) {
        self.pending = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Timers fire in time order whatever order they were set in, cancelled ones never, and
    /// the bound holds.
    #[test]
    fn order_cancel_and_bound() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut timers = ConnTimers::default();
        timers.set(t0 + ms(30), 3).unwrap();
        let second = timers.set(t0 + ms(20), 2).unwrap();
        timers.set(t0 + ms(10), 1).unwrap();
        assert!(timers.cancel(second));
        assert!(!timers.cancel(second));
        assert_eq!(timers.next(), Some(t0 + ms(10)));
        assert_eq!(timers.pop_due(t0 + ms(5)), None);
        assert_eq!(timers.pop_due(t0 + ms(30)), Some(1));
        assert_eq!(timers.pop_due(t0 + ms(30)), Some(3));
        assert_eq!(timers.pop_due(t0 + ms(30)), None);
        for i in 0..MAX_TIMERS {
            timers.set(t0, i as u64).unwrap();
        }
        assert_eq!(timers.set(t0, 0), Err(TimerError::TooMany));
    }
}
