//! Feeds arbitrary bytes, cut into arbitrary chunks, to the decoder and checks its invariants
//! (same output for any chunking, limits kept, no panic).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    // The first bytes choose the chunk boundaries and the size limit; the rest is the stream.
    let (head, stream) = input.split_at(input.len().min(9));
    let cuts: Vec<usize> = head.iter().take(8).map(|&b| usize::from(b)).collect();
    let limit = head.get(8).map_or(1 << 20, |&b| usize::from(b).max(1) * 16);
    sse_parser::fuzz::check_invariants(stream, &cuts, limit);
});
