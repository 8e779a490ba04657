//! The event body: a JSON object of a fixed size with the event's sequence number and the
//! time it was written, padded to look like a sensor reading of ~150 bytes.

use serde::Deserialize;

/// Size of every event's data, in bytes.
pub const SIZE: usize = 150;

/// The fields the subscriber reads back.
#[derive(Debug, Deserialize)]
pub struct Stamp {
    /// Sequence number.
    pub seq: u64,
    /// Write time, [`crate::clock::now_ns`].
    pub ts: u64,
}

/// Appends the body of event `seq` written at `ts` to `out`: exactly [`SIZE`] bytes unless
/// the numbers alone are longer.
pub fn write(out: &mut Vec<u8>, seq: u64, ts: u64) {
    use std::io::Write as _;
    let start = out.len();
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        r#"{{"seq":{seq},"ts":{ts},"sensor":"line-a/press-07","temperature":21.53,"pressure":1013.25,"status":"ok","pad":""#
    );
    let used = out.len() - start + 2;
    out.resize(out.len() + SIZE.saturating_sub(used), b'x');
    out.extend_from_slice(b"\"}");
}

/// Reads the sequence number and write time of a body; `None` for anything else.
pub fn read(body: &[u8]) -> Option<Stamp> {
    serde_json::from_slice(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_fixed_size_and_reads_back() {
        for (seq, ts) in [(0, 0), (123_456, 9_876_543_210_123), (u64::MAX, u64::MAX)] {
            let mut body = Vec::new();
            write(&mut body, seq, ts);
            if seq < 1_000_000 {
                assert_eq!(body.len(), SIZE);
            }
            let stamp = read(&body).expect("valid JSON");
            assert_eq!((stamp.seq, stamp.ts), (seq, ts));
        }
        assert!(read(b"not json").is_none());
    }
}
