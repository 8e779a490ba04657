//! Timestamps as AIO writes them: RFC 3339 in UTC with seconds precision and `Z`, used by the
//! CloudEvents `time` header and by status times (`lastTransitionTime`, `lastUpdateTime`).

/// RFC 3339 from milliseconds since the Unix epoch (truncated to the second):
/// `1777630530123` → `2026-05-01T10:15:30Z`.
pub fn rfc3339(millis: u64) -> String {
    let secs = millis / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Year, month, day of a day count since 1970-01-01 (proleptic Gregorian calendar; H. Hinnant's
/// `civil_from_days` for non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_seconds_across_leap_days_and_centuries() {
        let cases = [
            (0, "1970-01-01T00:00:00Z"),
            (1_777_630_530_123, "2026-05-01T10:15:30Z"),
            (951_782_400_000, "2000-02-29T00:00:00Z"),
            (4_107_542_399_999, "2100-02-28T23:59:59Z"),
        ];
        for (millis, expected) in cases {
            assert_eq!(rfc3339(millis), expected, "{millis}");
        }
    }
}
