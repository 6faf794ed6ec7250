//! `Histogram`: a fixed-size log-linear histogram of latencies in nanoseconds.

/// Linear sub-buckets per power of two, as a power of two: 2^6 = 64.
const SUB_BITS: u32 = 6;

/// Linear sub-buckets per power of two.
const SUB: u64 = 1 << SUB_BITS;

/// Values at or above 2^`TOP_BITS` ns (about 73 minutes) are recorded as the largest bucket.
const TOP_BITS: u32 = 42;

/// Largest value the buckets distinguish, in ns.
const HIGHEST: u64 = (1 << TOP_BITS) - 1;

/// Number of buckets: exact ones below `2 * SUB`, then `SUB` per further power of two.
const BUCKETS: usize = (SUB * (TOP_BITS - SUB_BITS) as u64 + SUB) as usize;

/// An HDR-style histogram of nanosecond latencies with fixed memory and bounded relative error.
///
/// Values below 128 ns are counted exactly. Above that, each power of two is split into 64
/// equal sub-buckets, so a bucket is at most 1/64 of the values it holds wide and a reported
/// percentile is within about 0.8 % of a recorded value (1.6 % in the worst case at bucket
/// edges). Values from 0 ns to about 73 minutes are distinguished; larger ones land in the
/// last bucket, while [`max`](Histogram::max) stays exact. The buckets take about 19 KiB,
/// whatever is recorded.
///
/// # Examples
///
/// ```
/// use turbine_load::Histogram;
///
/// let mut h = Histogram::new();
/// for ns in 1..=1000 {
///     h.record(ns * 1000); // 1 us .. 1 ms
/// }
/// assert_eq!(h.count(), 1000);
/// let p50 = h.percentile(50.0) as f64;
/// assert!((p50 - 500_000.0).abs() / 500_000.0 < 0.02);
/// assert_eq!(h.max(), 1_000_000);
/// ```
#[derive(Clone)]
pub struct Histogram {
    /// Count of values per bucket; see `index` for the layout.
    counts: Box<[u64]>,
    /// Number of values recorded.
    count: u64,
    /// Smallest value recorded, exact; `u64::MAX` while empty.
    min: u64,
    /// Largest value recorded, exact; 0 while empty.
    max: u64,
    /// Sum of all values recorded, for the mean; saturates instead of overflowing.
    sum: u64,
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Histogram {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            count: 0,
            min: u64::MAX,
            max: 0,
            sum: 0,
        }
    }

    /// Records one value, in nanoseconds.
    pub fn record(&mut self, ns: u64) {
        self.counts[index(ns)] += 1;
        self.count += 1;
        self.min = self.min.min(ns);
        self.max = self.max.max(ns);
        self.sum = self.sum.saturating_add(ns);
    }

    /// Adds every value recorded in `other` to this histogram.
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine += theirs;
        }
        self.count += other.count;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.sum = self.sum.saturating_add(other.sum);
    }

    /// Forgets every value, keeping the memory.
    pub fn clear(&mut self) {
        self.counts.fill(0);
        self.count = 0;
        self.min = u64::MAX;
        self.max = 0;
        self.sum = 0;
    }

    /// The value below or at which `percent` % of the recorded values lie, in nanoseconds.
    ///
    /// `percent` is a percentage, as in `percentile(99.0)` or `percentile(99.9)`, not a
    /// fraction; it is clamped to 0..=100. The answer is the middle of the bucket holding that
    /// rank, clamped to the exact [`min`](Histogram::min) and [`max`](Histogram::max), so
    /// `percentile(0.0)` is the minimum and `percentile(100.0)` the maximum. An empty
    /// histogram answers 0.
    pub fn percentile(&self, percent: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let fraction = percent.clamp(0.0, 100.0) / 100.0;
        // The rank of the value asked for, 1-based: the 50th percentile of 1..=10 is the 5th.
        let rank = ((fraction * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (i, &n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let (low, high) = bounds(i);
                return (low + (high - low) / 2).clamp(self.min, self.max);
            }
        }
        self.max
    }

    /// Number of values recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Largest value recorded, exact, in nanoseconds; 0 when empty.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Smallest value recorded, exact, in nanoseconds; 0 when empty.
    pub fn min(&self) -> u64 {
        if self.count == 0 { 0 } else { self.min }
    }

    /// Mean of the values recorded, in nanoseconds; 0 when empty.
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

impl std::fmt::Debug for Histogram {
    /// The summary, not the 2 368 buckets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count)
            .field("min", &self.min())
            .field("p50", &self.percentile(50.0))
            .field("p99", &self.percentile(99.0))
            .field("max", &self.max)
            .finish()
    }
}

/// The bucket holding `ns`.
///
/// Below `2 * SUB` the value is its own index. Above, `exp` is how far the value must be shifted
/// right to keep its top `SUB_BITS + 1` bits, whose value (`SUB..2 * SUB`) picks the sub-bucket.
fn index(ns: u64) -> usize {
    let ns = ns.min(HIGHEST);
    if ns < 2 * SUB {
        return ns as usize;
    }
    let exp = (63 - ns.leading_zeros()) - SUB_BITS;
    (SUB * u64::from(exp) + (ns >> exp)) as usize
}

/// The smallest and largest value bucket `i` holds.
fn bounds(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < 2 * SUB {
        return (i, i);
    }
    // Inverse of `index`: the exponent is the row past the exact ones, the rest the sub-bucket.
    let exp = i / SUB - 1;
    let sub = i - SUB * exp;
    let low = sub << exp;
    (low, low + (1 << exp) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative distance between a reported and an exact value.
    fn error(got: u64, want: u64) -> f64 {
        (got as f64 - want as f64).abs() / want as f64
    }

    /// Every bucket's bounds map back to it, and the buckets tile 0..=HIGHEST without gaps.
    #[test]
    fn buckets_tile_the_range() {
        let mut next = 0;
        for i in 0..BUCKETS {
            let (low, high) = bounds(i);
            assert_eq!(low, next, "bucket {i}");
            assert_eq!(index(low), i);
            assert_eq!(index(high), i);
            // A bucket is at most 1/64 of its values wide.
            assert!(
                (high - low) * SUB <= low.max(1),
                "bucket {i}: {low}..={high}"
            );
            next = high + 1;
        }
        assert_eq!(next, HIGHEST + 1);
    }

    /// Percentiles of a uniform distribution are within 1 % of the exact ones.
    #[test]
    fn uniform_percentiles() {
        let mut h = Histogram::new();
        for ns in 1..=1_000_000 {
            h.record(ns);
        }
        for (p, want) in [
            (50.0, 500_000),
            (90.0, 900_000),
            (99.0, 990_000),
            (99.9, 999_000),
        ] {
            let got = h.percentile(p);
            assert!(error(got, want) < 0.01, "p{p}: {got} vs {want}");
        }
        assert_eq!(h.percentile(0.0), 1);
        assert_eq!(h.percentile(100.0), 1_000_000);
        assert_eq!(h.max(), 1_000_000);
        assert_eq!(h.min(), 1);
        assert_eq!(h.count(), 1_000_000);
        assert!(error(h.mean() as u64, 500_000) < 0.001);
    }

    /// A heavy-tailed distribution spanning nine decades keeps its relative error everywhere.
    #[test]
    fn geometric_percentiles() {
        let mut h = Histogram::new();
        let mut values = Vec::new();
        let mut v = 1.0f64;
        while v < 3.0e12 {
            values.push(v as u64);
            v *= 1.001;
        }
        for &ns in &values {
            h.record(ns);
        }
        for p in [1.0, 10.0, 50.0, 90.0, 99.0, 99.99] {
            let rank = ((p / 100.0 * values.len() as f64).ceil() as usize).max(1);
            let want = values[rank - 1];
            let got = h.percentile(p);
            assert!(error(got, want) <= 0.016, "p{p}: {got} vs {want}");
        }
    }

    /// Merging two histograms gives the same answers as recording everything into one.
    #[test]
    fn merge_equals_recording_together() {
        let (mut a, mut b, mut all) = (Histogram::new(), Histogram::new(), Histogram::new());
        for ns in (0..50_000u64).map(|i| i * 37 % 10_007 + 100) {
            a.record(ns);
            all.record(ns);
        }
        for ns in (0..20_000u64).map(|i| i * 1_000 + 5) {
            b.record(ns);
            all.record(ns);
        }
        a.merge(&b);
        assert_eq!(a.count(), all.count());
        assert_eq!(a.max(), all.max());
        assert_eq!(a.min(), all.min());
        for p in [0.0, 25.0, 50.0, 75.0, 99.0, 100.0] {
            assert_eq!(a.percentile(p), all.percentile(p));
        }
    }

    /// An empty histogram answers zeros; huge values are clamped into the last bucket but the
    /// maximum stays exact.
    #[test]
    fn empty_and_out_of_range() {
        let mut h = Histogram::new();
        assert_eq!(
            (h.count(), h.max(), h.min(), h.percentile(99.0)),
            (0, 0, 0, 0)
        );
        h.record(u64::MAX);
        assert_eq!(h.max(), u64::MAX);
        assert_eq!(h.percentile(50.0), u64::MAX);
        h.clear();
        assert_eq!(h.count(), 0);
    }
}
