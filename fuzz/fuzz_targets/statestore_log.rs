//! The embedded state store's log file (`statestore.log`), read at every start: no panic,
//! only whole records, and records written again read back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| statestore::fuzz::check_log(data));
