//! `Timetable`: when each message of a fixed-rate run is meant to be sent.

use std::ops::Range;
use std::time::{Duration, Instant};

/// Nanoseconds per second.
const NANOS: u128 = 1_000_000_000;

/// The intended send times of a fixed-rate run, and one client thread's place in them.
///
/// The run's messages are numbered `n = 0, 1, 2, ...` and message `n` is due at
/// `start + n / rate`: evenly spaced over the whole run, whatever the server does. Message `n`
/// belongs to connection `n % connections` and is that connection's message number
/// `n / connections`, so the connections take turns and each gets `rate / connections`
/// messages per second, offset from its neighbours by `1 / rate`. The times are computed from
/// `n` in integers each time, so they do not drift however long the run.
///
/// A thread owns a contiguous range of connections; in time order its messages are round
/// after round of its connections in order, which is what the cursor walks.
#[derive(Debug, Clone)]
pub(crate) struct Timetable {
    /// Time zero: message 0 is due then.
    start: Instant,
    /// Messages per second, all connections of all threads together; at least 1.
    rate: u64,
    /// Connections in the whole run; at least 1.
    connections: u64,
    /// The first of this thread's connection numbers.
    first: u64,
    /// How many connections this thread has; at least 1.
    len: u64,
    /// The cursor's round: every connection's message number of the next message due.
    round: u64,
    /// The cursor's connection, as an index into this thread's range.
    slot: u64,
}

impl Timetable {
    /// The timetable of a run starting at `start` with `rate` messages per second over
    /// `connections`, positioned at the first message of this thread's connections `ids`.
    pub(crate) fn new(start: Instant, rate: u64, connections: u64, ids: Range<u64>) -> Self {
        debug_assert!(rate > 0 && !ids.is_empty() && ids.end <= connections);
        Timetable {
            start,
            rate,
            connections,
            first: ids.start,
            len: ids.end - ids.start,
            round: 0,
            slot: 0,
        }
    }

    /// When message number `seq` of connection `id` is due.
    pub(crate) fn intended(&self, id: u64, seq: u64) -> Instant {
        let n = u128::from(seq) * u128::from(self.connections) + u128::from(id);
        let nanos = n * NANOS / u128::from(self.rate);
        self.start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// The next message due on this thread: the index of its connection in this thread's
    /// range, and when it is due.
    pub(crate) fn next(&self) -> (usize, Instant) {
        let id = self.first + self.slot;
        (self.slot as usize, self.intended(id, self.round))
    }

    /// Moves the cursor past the message [`next`](Timetable::next) returned.
    pub(crate) fn advance(&mut self) {
        self.slot += 1;
        if self.slot == self.len {
            self.slot = 0;
            self.round += 1;
        }
    }

    /// How many of this thread's messages due before `until` the cursor has not reached: the
    /// ones a thread that fell behind never handed out.
    pub(crate) fn left_before(&self, until: Instant) -> u64 {
        let offset = until.saturating_duration_since(self.start).as_nanos();
        // Message n is due before `until` when floor(n * 1e9 / rate) < offset, that is when
        // n < offset * rate / 1e9: the first n not due before it is that quotient rounded up.
        let end = (offset * u128::from(self.rate)).div_ceil(NANOS);
        let c = u128::from(self.connections);
        let (rounds, rest) = (end / c, end % c);
        let partial = rest
            .saturating_sub(u128::from(self.first))
            .min(u128::from(self.len));
        let due = rounds * u128::from(self.len) + partial;
        let reached = u128::from(self.round) * u128::from(self.len) + u128::from(self.slot);
        u64::try_from(due.saturating_sub(reached)).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Milliseconds from `start` to `t`.
    fn ms(start: Instant, t: Instant) -> u128 {
        (t - start).as_millis()
    }

    /// A thread's messages come in time order, one every `1 / rate` across the whole run, its
    /// connections taking turns.
    #[test]
    fn evenly_spaced_round_robin() {
        let start = Instant::now();
        // 1000 messages/s over 4 connections; this thread has connections 2 and 3.
        let mut t = Timetable::new(start, 1000, 4, 2..4);
        let mut seen = Vec::new();
        for _ in 0..6 {
            let (slot, at) = t.next();
            seen.push((slot, ms(start, at)));
            t.advance();
        }
        assert_eq!(seen, [(0, 2), (1, 3), (0, 6), (1, 7), (0, 10), (1, 11)]);
        assert_eq!(t.intended(3, 2), start + Duration::from_millis(11));
    }

    /// Rates that do not divide a second keep exact times: no drift accumulates.
    #[test]
    fn no_drift() {
        let start = Instant::now();
        let t = Timetable::new(start, 3, 1, 0..1);
        assert_eq!(t.intended(0, 1) - start, Duration::from_nanos(333_333_333));
        assert_eq!(
            t.intended(0, 3_000_000) - start,
            Duration::from_secs(1_000_000)
        );
    }

    /// What is left before an instant counts only this thread's messages due before it.
    #[test]
    fn left_before() {
        let start = Instant::now();
        let mut t = Timetable::new(start, 1000, 4, 2..4);
        let at = |ms| start + Duration::from_millis(ms);
        // Messages 0..10 are due before 10 ms; this thread's are 2, 3, 6, 7.
        assert_eq!(t.left_before(at(10)), 4);
        // Before 11 ms message 10 is due too: connection 2's third.
        assert_eq!(t.left_before(at(10) + Duration::from_nanos(1)), 5);
        t.advance();
        t.advance();
        t.advance();
        assert_eq!(t.left_before(at(10)), 1);
        assert_eq!(t.left_before(start), 0);
    }
}
