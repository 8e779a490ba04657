//! Timestamps the envelope and the payloads need: RFC 3339 UTC and the AIO hybrid logical
//! clock text (`__ts`: 15-digit milliseconds since the epoch, 5-digit counter, node id,
//! separated by colons).

use std::time::{SystemTime, UNIX_EPOCH};

fn millis_since_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `__ts` for a message sent now by `node`.
pub fn hlc_now(node: &str) -> String {
    format!("{:0>15}:{:0>5}:{node}", millis_since_epoch(), 0)
}

/// Whether `text` is a well-formed `__ts` (three colon-separated parts, the first two integers).
pub fn is_hlc(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    parts.len() == 3 && parts[0].parse::<u64>().is_ok() && parts[1].parse::<u64>().is_ok()
}

/// Now as RFC 3339 UTC with milliseconds, e.g. `2026-05-01T10:00:00.123Z`.
pub fn rfc3339_now() -> String {
    rfc3339(millis_since_epoch())
}

/// Milliseconds since the epoch as RFC 3339 UTC.
pub fn rfc3339(millis: u64) -> String {
    let secs = millis / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        millis % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(1_777_629_601_234), "2026-05-01T10:00:01.234Z");
    }

    #[test]
    fn hlc_has_the_aio_shape() {
        let ts = hlc_now("fake-adr");
        assert!(is_hlc(&ts), "{ts}");
        assert_eq!(ts.split(':').next().map(str::len), Some(15));
        assert!(!is_hlc("12:ab:x"));
        assert!(!is_hlc("12"));
    }
}
