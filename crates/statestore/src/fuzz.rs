//! Entry point for the fuzz target of the embedded service's log (the repository's `fuzz/`
//! folder). Not part of the API.

use crate::persist::{crc32, decode_all, encode};

/// Reads `data` as the records of a log after its header, and once more framed as a single
/// record with a correct length and CRC (so the fuzzer reaches the record's fields). Panics
/// unless what a reopen relies on holds: only whole records are read, and the records written
/// again read back the same.
pub fn check_log(data: &[u8]) {
    let mut framed = Vec::with_capacity(data.len() + 8);
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    framed.extend_from_slice(&len.to_le_bytes());
    framed.extend_from_slice(&crc32(data).to_le_bytes());
    framed.extend_from_slice(data);
    for input in [data, &framed[..]] {
        let (records, used) = decode_all(input);
        assert!(used <= input.len(), "read past the end");
        let mut again = Vec::new();
        for record in &records {
            encode(record, &mut again);
        }
        let (reread, reused) = decode_all(&again);
        assert_eq!(reread, records, "records changed when written again");
        assert_eq!(
            reused,
            again.len(),
            "a written record was not read back whole"
        );
    }
}
