//! One clock for every timestamp of a run, and the percentiles of what it measured.
//!
//! The SSE server and the subscriber both live in this process, so write and receipt times
//! come from the same monotonic clock: nanoseconds since the first reading.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

static START: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds since the first call in this process (monotonic).
pub fn now_ns() -> u64 {
    let start = START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// The `p`-th percentile (nearest rank) of sorted `values`; zero when empty.
pub fn percentile(sorted: &[u64], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted.len()) - 1;
    Duration::from_nanos(sorted[index])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 50.0), Duration::from_nanos(50));
        assert_eq!(percentile(&values, 99.0), Duration::from_nanos(99));
        assert_eq!(percentile(&values, 100.0), Duration::from_nanos(100));
        assert_eq!(percentile(&[7], 1.0), Duration::from_nanos(7));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }

    #[test]
    fn clock_moves_forward() {
        let a = now_ns();
        let b = now_ns();
        assert!(b >= a);
    }
}
