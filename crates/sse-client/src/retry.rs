//! When to reconnect: exponential backoff with jitter, the server's `retry:` as the base
//! delay, `Retry-After` as a floor, and a reset after a healthy period.
//!
//! Everything here is pure (the random source is a parameter in
//! [`RetryPolicy::next_delay_with`]); the stream only sleeps for what it is told.

use std::time::{Duration, SystemTime};

use http::HeaderValue;
use rand::Rng;

use crate::error::{Error, ErrorKind};

/// The longest `Retry-After` honoured; larger values are capped so that a typo or a hostile
/// server cannot park a stream for days.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(3600);

/// The shortest delay ever used, whatever the server says (`retry: 0` must not spin).
pub const MIN_DELAY: Duration = Duration::from_millis(1);

/// Backoff settings, validated at construction.
///
/// The delay before reconnect attempt `n` (1-based) is
/// `d = min(base · 2^(n−1), max)` where `base` is the server's last `retry:` (clamped to
/// `[1 ms, max]`) or else `initial`; jitter then adds a random `[0, jitter · d)`, capped at
/// `max`, so a client never comes back *earlier* than the server asked nor waits longer than
/// `max` on its own. A `Retry-After` longer than that is used
/// instead. After a connection stays up for `reset_after`, the attempt count starts over.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    initial: Duration,
    max: Duration,
    reset_after: Duration,
    jitter: f64,
}

impl Default for RetryPolicy {
    /// 1 s initial, 60 s max, reset after 60 s healthy, 50 % jitter.
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            reset_after: Duration::from_secs(60),
            jitter: 0.5,
        }
    }
}

impl RetryPolicy {
    /// Validates and builds a policy.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidConfig`] when `initial` is zero, `max < initial`, `reset_after` is
    /// zero, or `jitter` is not within `0.0..=1.0`.
    pub fn try_new(
        initial: Duration,
        max: Duration,
        reset_after: Duration,
        jitter: f64,
    ) -> Result<Self, Error> {
        let problem = if initial.is_zero() {
            Some("the initial retry delay must be greater than zero".to_owned())
        } else if max < initial {
            Some(format!(
                "the maximum retry delay ({max:?}) is below the initial delay ({initial:?})"
            ))
        } else if reset_after.is_zero() {
            Some("the healthy period that resets the backoff must be greater than zero".to_owned())
        } else if !(0.0..=1.0).contains(&jitter) {
            Some(format!(
                "the retry jitter must be between 0.0 and 1.0, not {jitter}"
            ))
        } else {
            None
        };
        match problem {
            Some(what) => Err(Error::new(
                ErrorKind::InvalidConfig,
                format!("invalid retry settings: {what}"),
            )),
            None => Ok(Self {
                initial,
                max,
                reset_after,
                jitter,
            }),
        }
    }

    /// The delay before the first attempt when the server gave no `retry:`.
    pub fn initial(&self) -> Duration {
        self.initial
    }

    /// The cap of the exponential delay (before jitter).
    pub fn max(&self) -> Duration {
        self.max
    }

    /// How long a connection must stay up before the attempt count starts over.
    pub fn reset_after(&self) -> Duration {
        self.reset_after
    }

    /// The jitter fraction.
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// The delay before jitter for attempt `attempt` (1-based; 0 is treated as 1).
    pub fn base_delay(&self, attempt: u32, server_retry: Option<Duration>) -> Duration {
        let base = server_retry.map_or(self.initial, |hint| hint.clamp(MIN_DELAY, self.max));
        let exponent = attempt.saturating_sub(1).min(31);
        base.saturating_mul(1u32 << exponent)
            .min(self.max)
            .max(base)
    }

    /// The delay before attempt `attempt`, with jitter from the thread-local generator.
    pub fn next_delay(
        &self,
        attempt: u32,
        server_retry: Option<Duration>,
        retry_after: Option<Duration>,
    ) -> Duration {
        self.next_delay_with(attempt, server_retry, retry_after, &mut rand::rng())
    }

    /// [`next_delay`](Self::next_delay) with an explicit random source (for tests).
    pub fn next_delay_with(
        &self,
        attempt: u32,
        server_retry: Option<Duration>,
        retry_after: Option<Duration>,
        rng: &mut impl Rng,
    ) -> Duration {
        let base = self.base_delay(attempt, server_retry);
        let spread = base.mul_f64(self.jitter);
        // The cap applies after jitter: `max` is the longest a stream ever waits for itself.
        let jittered = if spread.is_zero() {
            base
        } else {
            (base + spread.mul_f64(rng.random::<f64>())).min(self.max)
        };
        match retry_after {
            Some(after) => jittered.max(after.min(RETRY_AFTER_CAP)),
            None => jittered,
        }
    }
}

/// Parses a `Retry-After` value: delay seconds or an HTTP date (relative to `now`). Returns
/// `None` when it is unparseable; a date in the past gives zero; the result is capped at
/// [`RETRY_AFTER_CAP`].
pub fn parse_retry_after(value: &HeaderValue, now: SystemTime) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    let delay = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: seconds. Too many digits to fit still means "a very long time".
        Duration::from_secs(
            text.parse::<u64>()
                .unwrap_or(u64::MAX)
                .min(RETRY_AFTER_CAP.as_secs()),
        )
    } else {
        let at = httpdate::parse_http_date(text).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(delay.min(RETRY_AFTER_CAP))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn policy() -> RetryPolicy {
        RetryPolicy::try_new(
            Duration::from_millis(100),
            Duration::from_secs(10),
            Duration::from_secs(60),
            0.5,
        )
        .unwrap()
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let s = Duration::from_secs(1);
        assert!(RetryPolicy::try_new(Duration::ZERO, s, s, 0.1).is_err());
        assert!(RetryPolicy::try_new(s * 2, s, s, 0.1).is_err());
        assert!(RetryPolicy::try_new(s, s, Duration::ZERO, 0.1).is_err());
        assert!(RetryPolicy::try_new(s, s, s, 1.5).is_err());
        assert!(RetryPolicy::try_new(s, s, s, f64::NAN).is_err());
        let err = RetryPolicy::try_new(s, s, s, -0.1).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidConfig);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = policy();
        let delays: Vec<_> = (1..=9).map(|n| p.base_delay(n, None).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 6400, 10000, 10000]);
        assert_eq!(p.base_delay(0, None), Duration::from_millis(100));
        assert_eq!(p.base_delay(u32::MAX, None), Duration::from_secs(10));
    }

    #[test]
    fn server_retry_is_the_base_and_is_clamped() {
        let p = policy();
        let hint = Some(Duration::from_millis(300));
        assert_eq!(p.base_delay(1, hint), Duration::from_millis(300));
        assert_eq!(p.base_delay(2, hint), Duration::from_millis(600));
        assert_eq!(p.base_delay(1, Some(Duration::ZERO)), MIN_DELAY);
        assert_eq!(
            p.base_delay(1, Some(Duration::from_secs(3600))),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn jitter_only_adds_and_stays_within_the_fraction() {
        let p = policy();
        let mut rng = StdRng::seed_from_u64(7);
        for attempt in 1..=12 {
            let base = p.base_delay(attempt, None);
            for _ in 0..50 {
                let d = p.next_delay_with(attempt, None, None, &mut rng);
                assert!(d >= base && d <= base.mul_f64(1.5), "{d:?} vs {base:?}");
                assert!(d <= p.max(), "{d:?} above the cap");
            }
        }
        let none = RetryPolicy::try_new(
            Duration::from_secs(1),
            Duration::from_secs(1),
            Duration::from_secs(1),
            0.0,
        )
        .unwrap();
        assert_eq!(none.next_delay(3, None, None), Duration::from_secs(1));
    }

    #[test]
    fn retry_after_is_a_floor() {
        let p = policy();
        let mut rng = StdRng::seed_from_u64(1);
        let d = p.next_delay_with(1, None, Some(Duration::from_secs(5)), &mut rng);
        assert_eq!(d, Duration::from_secs(5));
        let d = p.next_delay_with(9, None, Some(Duration::from_millis(1)), &mut rng);
        assert!(d >= Duration::from_secs(10));
        let d = p.next_delay_with(1, None, Some(Duration::from_secs(1 << 40)), &mut rng);
        assert_eq!(d, RETRY_AFTER_CAP);
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let parse = |s: &'static str| parse_retry_after(&HeaderValue::from_static(s), now);
        assert_eq!(parse("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse("99999999999999999999999"), Some(RETRY_AFTER_CAP));
        assert_eq!(parse("86400"), Some(RETRY_AFTER_CAP));
        let in_90s = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&HeaderValue::from_str(&in_90s).unwrap(), now),
            Some(Duration::from_secs(90))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&HeaderValue::from_str(&past).unwrap(), now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse("-5"), None);
        assert_eq!(parse("1.5"), None);
        assert_eq!(parse("soon"), None);
        assert_eq!(parse(""), None);
    }
}
