//! Property tests: the decoder's output does not depend on chunking, and no input panics it.
//! These run on stable in CI; the fuzz target in `fuzz/` drives the same invariants.

use proptest::prelude::*;
use sse_parser::fuzz::check_invariants;

/// Inputs built from the pieces that matter to the grammar, so that random cases hit the edges
/// (CR/LF mixes, BOMs, NULs, split code points) far more often than random bytes would.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"data".to_vec()),
        Just(b"data: ".to_vec()),
        Just(b"event:".to_vec()),
        Just(b"id: ".to_vec()),
        Just(b"retry: ".to_vec()),
        Just(b":".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n\n".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just(b"\xEF".to_vec()),
        Just(b"\xEF\xBB".to_vec()),
        Just(b"\0".to_vec()),
        Just("\u{e9}\u{1F600}".as_bytes().to_vec()),
        Just(b"\xF0\x9F".to_vec()),
        "[0-9]{1,3}".prop_map(String::into_bytes),
        "[a-z{}\":,]{1,12}".prop_map(String::into_bytes),
        any::<u8>().prop_map(|b| vec![b]),
    ];
    proptest::collection::vec(piece, 0..64).prop_map(|pieces| pieces.concat())
}

/// Cut points, mostly near the start where the BOM and first lines are.
fn cuts() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(prop_oneof![0usize..8, 0usize..256], 0..16)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn chunking_never_changes_the_output(input in stream(), cuts in cuts()) {
        check_invariants(&input, &cuts, 1 << 20);
    }

    #[test]
    fn chunking_never_changes_the_output_under_a_small_limit(input in stream(), cuts in cuts()) {
        check_invariants(&input, &cuts, 8);
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..512), cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
        check_invariants(&input, &cuts, 64);
    }
}
