//! A reactor's deadlines: a min-heap of "look at this connection at this time".

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// What a deadline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TimerKind {
    /// Check the idle timeout (re-armed from the last input while the connection is active).
    Idle,
    /// End a lingering close.
    Linger,
    /// Check the age of an unfinished frame.
    Frame,
    /// Check that pending output is moving.
    Write,
}

/// One scheduled check.
type Entry = Reverse<(Instant, usize, u64, TimerKind)>;

/// Deadlines for the connections of one reactor.
///
/// Entries are never removed early: when one fires, the reactor checks whether the connection
/// (same slot *and* generation) is still there and still due, and re-arms it if not. A
/// connection has at most one entry of each kind, so the heap stays as small as the number of
/// connections with a timeout, and an active connection costs no heap operation per read.
#[derive(Default)]
pub(crate) struct Timers {
    /// Earliest deadline first.
    heap: BinaryHeap<Entry>,
}

impl Timers {
    /// Schedules a check of connection `key`/`generation` at `at`.
    pub(crate) fn schedule(&mut self, at: Instant, key: usize, generation: u64, kind: TimerKind) {
        self.heap.push(Reverse((at, key, generation, kind)));
    }

    /// The earliest deadline, if any.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, ..))| *at)
    }

    /// Removes and returns one entry that is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(usize, u64, TimerKind)> {
        match self.heap.peek() {
            Some(Reverse((at, ..))) if *at <= now => {
                let Reverse((_, key, generation, kind)) = self.heap.pop()?;
                Some((key, generation, kind))
            }
            _ => None,
        }
    }
}
