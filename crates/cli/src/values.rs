//! Parsers for option values shared by the commands: durations, byte sizes, HTTP headers.
//!
//! They are pure functions from the text the user typed to a value or an error message for
//! people. [`duration`] and [`byte_size`] serve as clap value parsers. [`header`] does not,
//! on purpose: clap quotes a rejected value in its error, and a header value is often an API
//! key, so headers are parsed after clap and their errors name only the header.

use std::time::Duration;

use http::{HeaderName, HeaderValue};

/// Units of [`duration`], longest spelling first so that `ms` is not read as `m` + `s`.
const DURATION_UNITS: &[(&str, f64)] = &[("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)];

/// Units of [`byte_size`], matched case-insensitively: IEC (powers of 1024) and SI (powers of
/// 1000) spellings, so that `16MiB` and `16MB` both mean what they say.
const SIZE_UNITS: &[(&str, u64)] = &[
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("k", 1 << 10),
    ("m", 1 << 20),
    ("g", 1 << 30),
    ("b", 1),
];

/// A positive duration: a number with an optional unit `ms`, `s`, `m` or `h` (seconds when
/// there is none), e.g. `500ms`, `30s`, `1.5m`, `90`.
///
/// # Errors
/// A message for people when the text is not such a duration or is zero.
pub fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale) = DURATION_UNITS
        .iter()
        .find_map(|&(unit, scale)| text.strip_suffix(unit).map(|n| (n, scale)))
        .unwrap_or((text, 1.0));
    let invalid = || format!("`{text}` is not a duration; write e.g. 500ms, 30s, 5m or 1h");
    let value: f64 = number.trim().parse().map_err(|_| invalid())?;
    let duration = Duration::try_from_secs_f64(value * scale).map_err(|_| invalid())?;
    if duration.is_zero() {
        return Err("the duration must be greater than zero".to_owned());
    }
    Ok(duration)
}

/// A positive number of bytes with an optional unit: `KiB`, `MiB`, `GiB` (also `K`, `M`,
/// `G`) or `kB`, `MB`, `GB`, e.g. `65536`, `64KiB`, `16MiB`.
///
/// # Errors
/// A message for people when the text is not such a size, is zero or does not fit.
pub fn byte_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let lower = text.to_ascii_lowercase();
    let (number, scale) = SIZE_UNITS
        .iter()
        .find_map(|&(unit, scale)| lower.strip_suffix(unit).map(|n| (n, scale)))
        .unwrap_or((lower.as_str(), 1));
    let invalid = || format!("`{text}` is not a size; write e.g. 65536, 64KiB or 16MiB");
    let value: u64 = number.trim().parse().map_err(|_| invalid())?;
    let bytes = value
        .checked_mul(scale)
        .and_then(|b| usize::try_from(b).ok())
        .ok_or_else(|| format!("`{text}` is too large"))?;
    if bytes == 0 {
        return Err("the size must be greater than zero".to_owned());
    }
    Ok(bytes)
}

/// An HTTP header written as `Name: Value` (as curl takes it). Whitespace around the value is
/// removed.
///
/// # Errors
/// A message that names the header but never quotes its value, which may be a secret.
pub fn header(text: &str) -> Result<(HeaderName, HeaderValue), String> {
    let Some((name, value)) = text.split_once(':') else {
        return Err("a header must be written as `Name: Value`".to_owned());
    };
    let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
        format!(
            "`{}` is not a valid header name",
            name.trim().escape_debug()
        )
    })?;
    let value = HeaderValue::from_str(value.trim())
        .map_err(|_| format!("the value of header `{name}` is not a valid header value"))?;
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn durations() {
        let ok = [
            ("500ms", Duration::from_millis(500)),
            ("30s", Duration::from_secs(30)),
            ("90", Duration::from_secs(90)),
            ("1.5m", Duration::from_secs(90)),
            ("2h", Duration::from_secs(7200)),
            (" 10 s ", Duration::from_secs(10)),
        ];
        for (text, expected) in ok {
            assert_eq!(duration(text), Ok(expected), "{text}");
        }
        for bad in ["", "s", "0", "0ms", "-1s", "ten", "5d", "inf", "NaN"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn byte_sizes() {
        let ok = [
            ("65536", 65_536),
            ("64KiB", 65_536),
            ("64k", 65_536),
            ("16MiB", 16 << 20),
            ("16mib", 16 << 20),
            ("16M", 16 << 20),
            ("1GiB", 1 << 30),
            ("2kB", 2_000),
            ("3MB", 3_000_000),
            ("100B", 100),
        ];
        for (text, expected) in ok {
            assert_eq!(byte_size(text), Ok(expected), "{text}");
        }
        for bad in [
            "",
            "0",
            "0KiB",
            "-1",
            "1.5MiB",
            "lots",
            "1TiB",
            "99999999999999999999GB",
        ] {
            assert!(byte_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn headers_parse_and_never_echo_values() {
        let (name, value) = header("X-Api-Key:  s3cret ").unwrap();
        assert_eq!(
            (name.as_str(), value.to_str().unwrap()),
            ("x-api-key", "s3cret")
        );
        let (name, value) = header("Authorization: Bearer a:b").unwrap();
        assert_eq!(
            (name.as_str(), value.to_str().unwrap()),
            ("authorization", "Bearer a:b")
        );
        assert_eq!(header("X-Empty:").unwrap().1, "");

        for bad in [
            "no colon s3cret",
            "bad name: s3cret",
            ": s3cret",
            "X-Key: s3cret\u{7f}",
        ] {
            let error = header(bad).unwrap_err();
            assert!(!error.contains("s3cret"), "{bad}: {error}");
        }
    }
}
