//! A hybrid logical clock (HLC): the `__ts` user property of every AIO message.
//!
//! An HLC timestamp is a wall-clock time in milliseconds, a counter and the id of the node that
//! made it. Timestamps from one clock strictly increase even when the system clock stands
//! still or steps backwards (NTP corrections, a VM resumed): the clock never goes below the
//! last time it handed out, and within one millisecond the counter orders the timestamps.
//!
//! Text form (AIO's): `{millis, 15 digits}:{counter, 5 digits}:{node id}`, for example
//! `001696374425000:00000:3b1c5d2e-8f4a-4b6c-9d0e-1f2a3b4c5d6e`.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

/// The largest counter the 5-digit text form can show; past it the clock moves on by one
/// millisecond instead (a clock can thus run ahead of the wall clock by at most the excess of
/// a burst of more than 100,000 timestamps in one millisecond).
pub const MAX_COUNTER: u32 = 99_999;

/// One timestamp of a [`HybridLogicalClock`]; ordered by time, then counter, then node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HlcTimestamp {
    /// Milliseconds since the Unix epoch.
    pub millis: u64,
    /// Orders timestamps of the same millisecond; `0..=MAX_COUNTER`.
    pub counter: u32,
    /// The node that made it.
    pub node_id: Arc<str>,
}

/// `{millis:015}:{counter:05}:{node_id}`, e.g. `001696374425000:00000:node-1`.
impl fmt::Display for HlcTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:015}:{:05}:{}",
            self.millis, self.counter, self.node_id
        )
    }
}

/// A hybrid logical clock, safe to share between tasks (a short mutex around two integers).
#[derive(Debug)]
pub struct HybridLogicalClock {
    node_id: Arc<str>,
    /// The last timestamp handed out: (millis, counter).
    last: Mutex<(u64, u32)>,
}

impl HybridLogicalClock {
    /// A clock whose node id is a new random UUID v4, as AIO's SDK does.
    pub fn new() -> Self {
        Self::with_node_id(crate::cloudevents::uuid_v4())
    }

    /// A clock with the given node id.
    pub fn with_node_id(node_id: impl Into<Arc<str>>) -> Self {
        Self {
            node_id: node_id.into(),
            last: Mutex::new((0, 0)),
        }
    }

    /// The node id.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The next timestamp at the current system time.
    pub fn now(&self) -> HlcTimestamp {
        self.tick(wall_millis())
    }

    /// The next timestamp given the wall clock reads `wall_millis`: `wall_millis` with counter
    /// 0 when it is later than the last timestamp, else the last time with the counter plus
    /// one (the last time plus 1 ms and counter 0 once the counter would pass
    /// [`MAX_COUNTER`]). Every result is greater than the one before.
    pub fn tick(&self, wall_millis: u64) -> HlcTimestamp {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let (millis, counter) = next(*last, wall_millis);
        *last = (millis, counter);
        HlcTimestamp {
            millis,
            counter,
            node_id: self.node_id.clone(),
        }
    }
}

impl Default for HybridLogicalClock {
    fn default() -> Self {
        Self::new()
    }
}

/// The step of the clock, pure: from the last `(millis, counter)` and the wall clock.
fn next((last_millis, last_counter): (u64, u32), wall_millis: u64) -> (u64, u32) {
    if wall_millis > last_millis {
        (wall_millis, 0)
    } else if last_counter < MAX_COUNTER {
        (last_millis, last_counter + 1)
    } else {
        (last_millis.saturating_add(1), 0)
    }
}

/// Milliseconds since the Unix epoch by the system clock (0 if it reads before 1970).
pub fn wall_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_is_zero_padded() {
        let ts = HlcTimestamp {
            millis: 1_696_374_425_000,
            counter: 7,
            node_id: "3b1c".into(),
        };
        assert_eq!(ts.to_string(), "001696374425000:00007:3b1c");
        let zero = HlcTimestamp {
            millis: 0,
            counter: 0,
            node_id: "n".into(),
        };
        assert_eq!(zero.to_string(), "000000000000000:00000:n");
    }

    #[test]
    fn later_wall_clock_resets_the_counter() {
        let clock = HybridLogicalClock::with_node_id("n");
        assert_eq!((clock.tick(100).millis, clock.tick(100).counter), (100, 1));
        let ts = clock.tick(250);
        assert_eq!((ts.millis, ts.counter), (250, 0));
    }

    #[test]
    fn same_millisecond_counts_up() {
        let clock = HybridLogicalClock::with_node_id("n");
        let stamps: Vec<_> = (0..4).map(|_| clock.tick(500)).collect();
        let counters: Vec<_> = stamps.iter().map(|t| t.counter).collect();
        assert_eq!(counters, [0, 1, 2, 3]);
        assert!(stamps.iter().all(|t| t.millis == 500));
    }

    #[test]
    fn clock_stepping_backwards_never_goes_backwards() {
        let clock = HybridLogicalClock::with_node_id("n");
        let a = clock.tick(10_000);
        let b = clock.tick(9_000); // NTP stepped the clock back one second
        let c = clock.tick(9_500);
        let d = clock.tick(10_001);
        assert_eq!((b.millis, b.counter), (10_000, 1));
        assert_eq!((c.millis, c.counter), (10_000, 2));
        assert_eq!((d.millis, d.counter), (10_001, 0));
        assert!(a < b && b < c && c < d);
    }

    #[test]
    fn counter_overflow_moves_to_the_next_millisecond() {
        assert_eq!(next((5, MAX_COUNTER - 1), 5), (5, MAX_COUNTER));
        assert_eq!(next((5, MAX_COUNTER), 5), (6, 0));
        assert_eq!(next((5, MAX_COUNTER), 3), (6, 0));
        assert_eq!(next((u64::MAX, MAX_COUNTER), 0), (u64::MAX, 0), "saturates");
    }

    #[test]
    fn strictly_increasing_under_a_random_clock() {
        let clock = HybridLogicalClock::with_node_id("n");
        let mut previous = clock.tick(0);
        let mut wall: u64 = 1_000;
        for i in 0..10_000u64 {
            // Jump around: forward, backward, stand still.
            wall = match i % 7 {
                0 => wall + 3,
                1 | 2 => wall.saturating_sub(5),
                _ => wall,
            };
            let ts = clock.tick(wall);
            assert!(ts > previous, "{ts} after {previous}");
            assert!(ts.counter <= MAX_COUNTER);
            previous = ts;
        }
    }

    #[test]
    fn shared_between_threads_no_duplicates() {
        let clock = Arc::new(HybridLogicalClock::with_node_id("n"));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let clock = clock.clone();
                std::thread::spawn(move || (0..1_000).map(|_| clock.now()).collect::<Vec<_>>())
            })
            .collect();
        let mut all: Vec<_> = handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n, "every timestamp is unique");
    }

    #[test]
    fn new_clocks_get_uuid_node_ids() {
        let clock = HybridLogicalClock::new();
        assert_eq!(clock.node_id().len(), 36);
        assert_ne!(clock.node_id(), HybridLogicalClock::new().node_id());
        assert!(clock.now().millis > 1_600_000_000_000, "system time");
    }
}
