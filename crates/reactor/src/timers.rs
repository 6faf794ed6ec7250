//! A reactor's deadlines: a min-heap of "look at this connection at this time".

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// One scheduled look at a connection: when, slab key, serial.
type Entry = Reverse<(Instant, usize, u64)>;

/// When to look at which connection again.
///
/// A connection keeps one entry here for its earliest deadline (idle, frame, write, linger,
/// its own timers...), and decides itself what is due when the entry fires: the heap holds
/// times, the connection holds the reasons. Entries are never removed early: a deadline that
/// moves later leaves its entry to fire early and be re-armed, one that moves earlier adds an
/// entry and leaves the old one to fire as a no-op. So the heap stays about as large as the
/// number of connections with a deadline, and an active connection, whose idle deadline moves
/// with every read, costs no heap operation per read.
#[derive(Default)]
pub(crate) struct Timers {
    /// Earliest first.
    heap: BinaryHeap<Entry>,
}

impl Timers {
    /// Schedules a look at connection `key`/`serial` at `at`.
    pub(crate) fn schedule(&mut self, at: Instant, key: usize, serial: u64) {
        self.heap.push(Reverse((at, key, serial)));
    }

    /// The earliest deadline, if any.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, ..))| *at)
    }

    /// Removes and returns one entry due at `now`: its time, key and serial.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, usize, u64)> {
        match self.heap.peek() {
            Some(Reverse((at, ..))) if *at <= now => self.heap.pop().map(|Reverse(entry)| entry),
            _ => None,
        }
    }
}
