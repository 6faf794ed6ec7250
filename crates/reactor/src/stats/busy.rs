//! `LoopBusy`: how long a reactor's loop turns were busy, as a histogram of fixed buckets.

use std::time::Duration;

/// Upper bounds of the buckets, in nanoseconds; a last bucket takes what is longer.
const BOUNDS_NANOS: [u64; 15] = [
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    1_000_000_000,
];

/// How long each turn of a reactor's loop was busy, from `poll`'s return to the next `poll`:
/// the event loop's lag, the longest an event that arrives meanwhile waits before it is seen.
///
/// Fixed buckets, from 10 µs to 1 s and one past it, counted once per turn (a comparison or a
/// few and an increment); [`buckets`](LoopBusy::buckets) gives them with their bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopBusy {
    /// `counts[i]` is the number of turns no longer than bound `i` and longer than bound
    /// `i - 1`; the last holds the turns longer than every bound.
    counts: [u64; BOUNDS_NANOS.len() + 1],
    /// The busy time of every turn, added up, in nanoseconds.
    sum_nanos: u64,
}

impl Default for LoopBusy {
    fn default() -> Self {
        LoopBusy {
            counts: [0; BOUNDS_NANOS.len() + 1],
            sum_nanos: 0,
        }
    }
}

impl LoopBusy {
    /// How many values [`values`](Self::values) holds: the counts, then the sum.
    pub(crate) const LEN: usize = BOUNDS_NANOS.len() + 2;

    /// Counts one turn that was busy for `busy`.
    pub(crate) fn observe(&mut self, busy: Duration) {
        let nanos = u64::try_from(busy.as_nanos()).unwrap_or(u64::MAX);
        // Most turns are short: the scan usually stops at the first bucket or two.
        let bucket = BOUNDS_NANOS
            .iter()
            .position(|&bound| nanos <= bound)
            .unwrap_or(BOUNDS_NANOS.len());
        self.counts[bucket] += 1;
        self.sum_nanos = self.sum_nanos.saturating_add(nanos);
    }

    /// Turns counted.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The busy time of every turn counted, added up.
    pub fn sum(&self) -> Duration {
        Duration::from_nanos(self.sum_nanos)
    }

    /// Each bucket's upper bound (`None` for the last, unbounded one) and the turns in it
    /// (not cumulative: a turn is counted in one bucket only).
    pub fn buckets(&self) -> impl Iterator<Item = (Option<Duration>, u64)> + use<> {
        let bounds = BOUNDS_NANOS.map(|nanos| Some(Duration::from_nanos(nanos)));
        bounds.into_iter().chain([None]).zip(self.counts)
    }

    /// Adds `other`'s turns to these.
    pub(crate) fn add(&mut self, other: &LoopBusy) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            *mine += theirs;
        }
        self.sum_nanos = self.sum_nanos.saturating_add(other.sum_nanos);
    }

    /// The counts, then the sum.
    pub(crate) fn values(&self) -> [u64; Self::LEN] {
        let mut values = [0; Self::LEN];
        values[..self.counts.len()].copy_from_slice(&self.counts);
        values[Self::LEN - 1] = self.sum_nanos;
        values
    }

    /// The histogram from [`values`](Self::values)'s order.
    pub(crate) fn from_values(values: [u64; Self::LEN]) -> Self {
        let mut busy = LoopBusy::default();
        busy.counts.copy_from_slice(&values[..Self::LEN - 1]);
        busy.sum_nanos = values[Self::LEN - 1];
        busy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A turn lands in the first bucket whose bound it does not pass; past every bound, in the
    /// last; the sum and the count follow.
    #[test]
    fn turns_land_in_their_bucket() {
        let mut busy = LoopBusy::default();
        busy.observe(Duration::from_micros(3));
        busy.observe(Duration::from_micros(10));
        busy.observe(Duration::from_micros(11));
        busy.observe(Duration::from_secs(2));
        let counts: Vec<u64> = busy.buckets().map(|(_, n)| n).collect();
        assert_eq!(counts[0], 2);
        assert_eq!(counts[1], 1);
        assert_eq!(counts[counts.len() - 1], 1);
        assert_eq!(busy.count(), 4);
        assert_eq!(busy.sum(), Duration::from_nanos(2_000_024_000));
        let (last_bound, _) = busy.buckets().last().unwrap();
        assert_eq!(last_bound, None);
        assert_eq!(LoopBusy::from_values(busy.values()), busy);
    }
}
