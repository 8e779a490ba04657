//! One entry point for fuzzers and property tests, with the decoder's invariants.
//!
//! The fuzz target in `fuzz/` (nightly, cargo-fuzz) and the property tests in `tests/` (stable,
//! run in CI) both drive the decoder through [`check_invariants`], so a failing fuzz input can
//! be replayed as an ordinary test.

use bytes::Bytes;

use crate::{DecodeError, Decoder, Frame, FrameKind};

/// Decodes `chunks` in order and returns everything the decoder produced.
pub fn decode_chunks<I>(chunks: I, max_event_size: usize) -> Vec<Result<Frame, DecodeError>>
where
    I: IntoIterator<Item = Bytes>,
{
    drain(chunks, max_event_size, Decoder::next_frame)
}

/// Passes over `chunks` in order with [`Decoder::skip_frame`] and returns what it reported.
pub fn skip_chunks<I>(chunks: I, max_event_size: usize) -> Vec<Result<FrameKind, DecodeError>>
where
    I: IntoIterator<Item = Bytes>,
{
    drain(chunks, max_event_size, Decoder::skip_frame)
}

/// Pushes `chunks` in order and collects what `step` takes out after each, until it says
/// "need more bytes".
fn drain<I, T>(
    chunks: I,
    max_event_size: usize,
    mut step: impl FnMut(&mut Decoder) -> Result<Option<T>, DecodeError>,
) -> Vec<Result<T, DecodeError>>
where
    I: IntoIterator<Item = Bytes>,
{
    let mut decoder = Decoder::new().with_max_event_size(max_event_size);
    let mut out = Vec::new();
    for chunk in chunks {
        decoder.push(chunk);
        loop {
            match step(&mut decoder) {
                Ok(Some(item)) => out.push(Ok(item)),
                Ok(None) => break,
                Err(error) => out.push(Err(error)),
            }
        }
    }
    out
}

/// Checks the decoder's invariants on `input`, cut into chunks at the positions in `cuts`
/// (taken modulo the input length). Panics, with the difference, when one is broken:
///
/// - the frames are the same as when the input arrives in one chunk;
/// - [`Decoder::skip_frame`] passes over frames of the same kinds, with the same errors;
/// - no frame holds more data than the maximum event size;
/// - every event's `last_event_id` is free of NUL.
pub fn check_invariants(input: &[u8], cuts: &[usize], max_event_size: usize) {
    let whole = decode_chunks([Bytes::copy_from_slice(input)], max_event_size);
    let split = decode_chunks(split_at(input, cuts), max_event_size);
    assert_eq!(whole, split, "chunking changed the output; cuts {cuts:?}");
    let kinds: Vec<_> = whole
        .iter()
        .map(|frame| frame.as_ref().map(Frame::kind).map_err(Clone::clone))
        .collect();
    let skipped = skip_chunks(split_at(input, cuts), max_event_size);
    assert_eq!(
        kinds, skipped,
        "skip_frame differs from next_frame; cuts {cuts:?}"
    );
    for frame in whole.iter().flatten() {
        if let Frame::Event(event) = frame {
            assert!(
                event.data.len() <= max_event_size,
                "event larger than the limit"
            );
            assert!(!event.last_event_id.contains('\0'), "NUL in last event id");
        }
    }
}

/// Cuts `input` at `cuts` (modulo its length, sorted, duplicates allowed: they make empty chunks).
pub fn split_at(input: &[u8], cuts: &[usize]) -> Vec<Bytes> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    points.sort_unstable();
    let mut chunks = Vec::with_capacity(points.len() + 1);
    let mut start = 0;
    for point in points {
        chunks.push(Bytes::copy_from_slice(&input[start..point]));
        start = point;
    }
    chunks.push(Bytes::copy_from_slice(&input[start..]));
    chunks
}
