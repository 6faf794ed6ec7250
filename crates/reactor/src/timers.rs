//! A reactor's deadlines: a min-heap of "look at this connection at this time".

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// One scheduled look at a connection: when, slab key, serial, and the turn it was scheduled in.
type Entry = Reverse<(Instant, usize, u64, u64)>;

/// When to look at which connection again.
///
/// A connection keeps one entry here for its earliest deadline (idle, frame, write, linger,
/// its own timers...), and decides itself what is due when the entry fires: the heap holds
/// times, the connection holds the reasons. Entries are never removed early: a deadline that
/// moves later leaves its entry to fire early and be re-armed, one that moves earlier adds an
/// entry and leaves the old one to fire as a no-op. So the heap stays about as large as the
/// number of connections with a deadline, and an active connection, whose idle deadline moves
/// with every read, costs no heap operation per read.
///
/// An entry is never due in the turn that scheduled it: a deadline that keeps falling due (a
/// zero-delay timer set again from `on_timer`) is looked at once per turn, and cannot hold the
/// reactor in its timer loop.
#[derive(Default)]
pub(crate) struct Timers {
    /// Earliest first.
    heap: BinaryHeap<Entry>,
    /// The reactor's current turn.
    turn: u64,
}

impl Timers {
    /// A new turn of the loop begins: what was scheduled before it may fall due.
    pub(crate) fn begin_turn(&mut self) {
        self.turn += 1;
    }

    /// Schedules a look at connection `key`/`serial` at `at`.
    pub(crate) fn schedule(&mut self, at: Instant, key: usize, serial: u64) {
        self.heap.push(Reverse((at, key, serial, self.turn)));
    }

    /// The earliest deadline, if any.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, ..))| *at)
    }

    /// Removes and returns one entry due at `now` and scheduled before this turn: its time, key
    /// and serial.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, usize, u64)> {
        match self.heap.peek() {
            Some(Reverse((at, .., turn))) if *at <= now && *turn < self.turn => {
                let Reverse((at, key, serial, _)) = self.heap.pop()?;
                Some((at, key, serial))
            }
            _ => None,
        }
    }
}
