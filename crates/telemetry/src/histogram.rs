//! A lock-free latency histogram: fixed bucket bounds in milliseconds, one `AtomicU64` per
//! bucket, plus the count and the sum (in microseconds, so that the sum stays an integer).
//!
//! Recording is a binary search over 14 bounds and three relaxed `fetch_add`s: no lock, no
//! allocation, no hash lookup, so the stream tasks call it for every delivery. Readers take a
//! [`HistogramSnapshot`] at collection time; buckets are read one by one without a lock, so a
//! snapshot taken during recording may be off by the recordings in flight (each recording
//! lands in the next one), which is what every lock-free metrics library accepts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in milliseconds (the last bucket, `+Inf`, is implicit).
pub const BOUNDS_MS: [f64; 14] = [
    0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
];

/// The bounds in microseconds, for the integer comparison on the recording path.
const BOUNDS_US: [u64; 14] = [
    500, 1_000, 2_000, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000,
];

/// Number of buckets: one per bound, plus `+Inf`.
pub const BUCKETS: usize = BOUNDS_MS.len() + 1;

/// Latencies, in the fixed buckets of [`BOUNDS_MS`].
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    buckets: [AtomicU64; BUCKETS],
    count: AtomicU64,
    sum_us: AtomicU64,
}

/// A copy of a histogram at one moment. Bucket counts are per bucket (not cumulative).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// Observations per bucket: `buckets[i]` counts values `> BOUNDS_MS[i-1]` and
    /// `<= BOUNDS_MS[i]`; the last one counts values above every bound.
    pub buckets: [u64; BUCKETS],
    /// Number of observations.
    pub count: u64,
    /// Sum of the observations, in microseconds.
    pub sum_us: u64,
}

impl LatencyHistogram {
    /// Records one latency.
    #[inline]
    pub fn record(&self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let bucket = BOUNDS_US.partition_point(|&bound| bound < us);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// The histogram now.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut buckets = [0; BUCKETS];
        for (copy, bucket) in buckets.iter_mut().zip(&self.buckets) {
            *copy = bucket.load(Ordering::Relaxed);
        }
        HistogramSnapshot {
            buckets,
            count: self.count.load(Ordering::Relaxed),
            sum_us: self.sum_us.load(Ordering::Relaxed),
        }
    }
}

impl HistogramSnapshot {
    /// Sum of the observations in milliseconds.
    pub fn sum_ms(&self) -> f64 {
        self.sum_us as f64 / 1000.0
    }

    /// Adds `other`'s observations to this one (to merge label sets).
    pub fn merge(&mut self, other: &Self) {
        for (mine, theirs) in self.buckets.iter_mut().zip(other.buckets) {
            *mine += theirs;
        }
        self.count += other.count;
        self.sum_us += other.sum_us;
    }

    /// Cumulative counts per bound, as Prometheus' `le` buckets want them; the last one is
    /// `+Inf` (equal to the sum of every bucket).
    pub fn cumulative(&self) -> [u64; BUCKETS] {
        let mut total = 0;
        let mut out = [0; BUCKETS];
        for (out, bucket) in out.iter_mut().zip(self.buckets) {
            total += bucket;
            *out = total;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_land_in_their_bucket() {
        let h = LatencyHistogram::default();
        for (ms, bucket) in [
            (0.2, 0),
            (0.5, 0),
            (0.6, 1),
            (1.0, 1),
            (7.0, 4),
            (10_000.0, 13),
            (10_001.0, 14),
        ] {
            let before = h.snapshot().buckets[bucket];
            h.record(Duration::from_secs_f64(ms / 1000.0));
            assert_eq!(h.snapshot().buckets[bucket], before + 1, "{ms} ms");
        }
        let s = h.snapshot();
        assert_eq!(s.count, 7);
        assert_eq!(s.cumulative()[BUCKETS - 1], 7);
        assert!((s.sum_ms() - 20_010.3).abs() < 0.01, "{}", s.sum_ms());
    }

    #[test]
    fn bounds_agree() {
        for (ms, us) in BOUNDS_MS.iter().zip(BOUNDS_US) {
            assert_eq!((ms * 1000.0) as u64, us);
        }
    }

    #[test]
    fn merge_adds() {
        let a = LatencyHistogram::default();
        a.record(Duration::from_millis(3));
        let mut s = a.snapshot();
        s.merge(&a.snapshot());
        assert_eq!((s.count, s.buckets[3], s.sum_us), (2, 2, 6000));
    }
}
