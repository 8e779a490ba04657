//! One case per rule of the WHATWG "interpret an event stream" algorithm, plus the standard's
//! own examples. Each case runs on the whole input and on the input fed one byte at a time.

use bytes::Bytes;
use sse_parser::fuzz::{decode_chunks, split_at};
use sse_parser::{DEFAULT_MAX_EVENT_SIZE, Decoder, Frame};

/// A frame written compactly: `E(type, data, last_event_id)`, `C(comment)`, `R(ms)`, or `X` for
/// an event dropped as too large.
#[derive(Debug, PartialEq)]
enum F {
    E(&'static str, &'static str, &'static str),
    C(&'static str),
    R(u64),
    X,
}

fn compact(frames: Vec<Result<Frame, sse_parser::DecodeError>>) -> Vec<String> {
    frames
        .into_iter()
        .map(|frame| match frame {
            Ok(Frame::Event(e)) => {
                format!("E({:?}, {:?}, {:?})", e.event_type, e.data, e.last_event_id)
            }
            Ok(Frame::Comment(c)) => format!("C({c:?})"),
            Ok(Frame::Retry(ms)) => format!("R({ms})"),
            Err(_) => "X".to_owned(),
        })
        .collect()
}

fn expected(frames: &[F]) -> Vec<String> {
    frames
        .iter()
        .map(|f| match f {
            F::E(t, d, id) => format!("E({t:?}, {d:?}, {id:?})"),
            F::C(c) => format!("C({c:?})"),
            F::R(ms) => format!("R({ms})"),
            F::X => "X".to_owned(),
        })
        .collect()
}

fn check_limit(input: &[u8], limit: usize, want: &[F]) {
    let whole = compact(decode_chunks([Bytes::copy_from_slice(input)], limit));
    assert_eq!(whole, expected(want), "whole input");
    let cuts: Vec<usize> = (0..input.len()).collect();
    let bytewise = compact(decode_chunks(split_at(input, &cuts), limit));
    assert_eq!(bytewise, expected(want), "one byte per chunk");
}

fn check(input: &[u8], want: &[F]) {
    check_limit(input, DEFAULT_MAX_EVENT_SIZE, want);
}

use F::*;

#[test]
fn utf8_invalid_bytes_become_replacement_characters() {
    check(
        b"data: a\xFFb\xC3\n\n",
        &[E("message", "a\u{FFFD}b\u{FFFD}", "")],
    );
}

#[test]
fn utf8_code_point_split_across_chunks() {
    // Checked one byte per chunk by `check` as well.
    check(
        "data: h\u{e9}\u{1F600}\n\n".as_bytes(),
        &[E("message", "h\u{e9}\u{1F600}", "")],
    );
}

#[test]
fn leading_bom_is_stripped() {
    check(b"\xEF\xBB\xBFdata: x\n\n", &[E("message", "x", "")]);
}

#[test]
fn only_the_first_bom_is_stripped() {
    check(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\n", &[]);
    check(
        b"\xEF\xBB\xBFdata: \xEF\xBB\xBFx\n\n",
        &[E("message", "\u{feff}x", "")],
    );
}

#[test]
fn bom_later_in_the_stream_is_data() {
    check(
        b"data: x\n\n\xEF\xBB\xBFdata: y\n\n",
        &[E("message", "x", "")],
    );
}

#[test]
fn bom_is_stripped_again_on_a_new_connection() {
    let mut decoder = Decoder::new();
    for _ in 0..2 {
        decoder.reset();
        decoder.push(Bytes::from_static(b"\xEF\xBB\xBFdata: x\n\n"));
        assert!(matches!(decoder.next_frame(), Ok(Some(Frame::Event(e))) if e.data == "x"));
    }
}

#[test]
fn lf_cr_and_crlf_end_lines() {
    check(b"data: a\n\n", &[E("message", "a", "")]);
    check(b"data: a\r\r", &[E("message", "a", "")]);
    check(b"data: a\r\n\r\n", &[E("message", "a", "")]);
    check(
        b"data: a\r\ndata: b\rdata: c\n\r\n",
        &[E("message", "a\nb\nc", "")],
    );
}

#[test]
fn cr_ending_a_chunk_then_lf_is_one_line_end() {
    let frames = compact(decode_chunks(
        [
            Bytes::from_static(b"data: a\r"),
            Bytes::from_static(b"\n"),
            Bytes::from_static(b"\r\n"),
        ],
        DEFAULT_MAX_EVENT_SIZE,
    ));
    assert_eq!(frames, expected(&[E("message", "a", "")]));
}

#[test]
fn cr_at_end_of_stream_ends_the_line() {
    // The final CR is a blank line: the event is dispatched without waiting for more input.
    check(b"data: a\n\r", &[E("message", "a", "")]);
}

#[test]
fn comments_are_reported_without_the_colon() {
    check(
        b": hello\n:\ndata: x\n: mid\n\n",
        &[C(" hello"), C(""), C(" mid"), E("message", "x", "")],
    );
}

#[test]
fn field_without_colon_has_an_empty_value() {
    check(b"data\n\n", &[E("message", "", "")]);
    check(b"data\ndata\n\n", &[E("message", "\n", "")]);
    check(b"event\ndata: x\n\n", &[E("message", "x", "")]);
}

#[test]
fn exactly_one_leading_space_is_stripped() {
    check(b"data:x\n\n", &[E("message", "x", "")]);
    check(b"data:  x \n\n", &[E("message", " x ", "")]);
    check(b"data:\tx\n\n", &[E("message", "\tx", "")]);
}

#[test]
fn id_containing_nul_is_ignored() {
    check(
        b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
        &[E("message", "a", "1"), E("message", "b", "1")],
    );
}

#[test]
fn empty_id_resets_the_last_event_id() {
    check(
        b"id: 1\ndata: a\n\nid\ndata: b\n\n",
        &[E("message", "a", "1"), E("message", "b", "")],
    );
}

#[test]
fn last_event_id_persists_across_events() {
    check(
        b"id: 1\ndata: a\n\ndata: b\n\n",
        &[E("message", "a", "1"), E("message", "b", "1")],
    );
}

#[test]
fn retry_only_when_all_ascii_digits() {
    check(b"retry: 1500\n", &[R(1500)]);
    check(b"retry:0\n", &[R(0)]);
    for bad in [
        &b"retry: 1a\n"[..],
        b"retry: -1\n",
        b"retry: +1\n",
        b"retry: 1.5\n",
        b"retry:\n",
        b"retry\n",
        b"retry:  15\n",
        b"retry: \xd9\xa3\n",
    ] {
        check(bad, &[]);
    }
}

#[test]
fn retry_too_large_for_u64_is_ignored() {
    check(b"retry: 99999999999999999999999\n", &[]);
}

#[test]
fn event_type_resets_after_dispatch() {
    check(
        b"event: a\ndata: 1\n\ndata: 2\n\n",
        &[E("a", "1", ""), E("message", "2", "")],
    );
}

#[test]
fn empty_event_type_means_message() {
    check(b"event:\ndata: 1\n\n", &[E("message", "1", "")]);
}

#[test]
fn blocks_without_data_are_not_dispatched() {
    check(b"event: a\n\n\n\nid: 5\n\n", &[]);
}

#[test]
fn last_event_id_is_committed_at_each_blank_line() {
    // The data-less block still moves the last event ID to 5.
    check(b"id: 5\n\ndata: x\n\n", &[E("message", "x", "5")]);
    let mut decoder = Decoder::new();
    decoder.push(Bytes::from_static(b"id: 5\n\n"));
    assert!(matches!(decoder.next_frame(), Ok(None)));
    assert_eq!(decoder.last_event_id(), "5");
}

#[test]
fn unterminated_block_is_discarded_at_end_of_stream() {
    let mut decoder = Decoder::new();
    decoder.push(Bytes::from_static(
        b"id: 1\ndata: a\n\nid: 2\ndata: partial\n",
    ));
    assert!(matches!(decoder.next_frame(), Ok(Some(Frame::Event(_)))));
    assert!(matches!(decoder.next_frame(), Ok(None)));
    decoder.reset();
    assert_eq!(
        decoder.last_event_id(),
        "1",
        "id of the partial event must not be used"
    );
    decoder.push(Bytes::from_static(b"data: b\n\n"));
    let Ok(Some(Frame::Event(event))) = decoder.next_frame() else {
        panic!("no event")
    };
    assert_eq!((&*event.data, &*event.last_event_id), ("b", "1"));
}

#[test]
fn unknown_fields_are_ignored() {
    check(
        b"foo: bar\nDATA: x\nData: y\ndata: z\n\n",
        &[E("message", "z", "")],
    );
}

#[test]
fn fields_in_any_order() {
    check(b"data: x\nid: 9\nevent: t\n\n", &[E("t", "x", "9")]);
}

#[test]
fn block_id_is_reported_only_for_its_own_event() {
    let mut decoder = Decoder::new();
    decoder.push(Bytes::from_static(b"id: 1\ndata: a\n\ndata: b\n\n"));
    let Ok(Some(Frame::Event(first))) = decoder.next_frame() else {
        panic!()
    };
    let Ok(Some(Frame::Event(second))) = decoder.next_frame() else {
        panic!()
    };
    assert_eq!(first.id(), Some("1"));
    assert_eq!(second.id(), None);
    assert_eq!(second.last_event_id, "1");
}

#[test]
fn standard_example_stock_ticker() {
    check(
        b"data: YHOO\ndata: +2\ndata: 10\n\n",
        &[E("message", "YHOO\n+2\n10", "")],
    );
}

#[test]
fn standard_example_comment_and_ids() {
    check(
        b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
        &[
            C(" test stream"),
            E("message", "first event", "1"),
            E("message", "second event", ""),
            E("message", " third event", ""),
        ],
    );
}

#[test]
fn standard_example_empty_data() {
    // Two events: "" and "\n"; the final "data:" has no blank line after it.
    check(
        b"data\n\ndata\ndata\n\ndata:",
        &[E("message", "", ""), E("message", "\n", "")],
    );
}

#[test]
fn standard_example_space_after_colon() {
    check(
        b"data:test\n\ndata: test\n\n",
        &[E("message", "test", ""), E("message", "test", "")],
    );
}

#[test]
fn oversized_event_is_dropped_and_decoding_goes_on() {
    let mut input = b"data: ".to_vec();
    input.extend(std::iter::repeat_n(b'a', 100));
    input.extend_from_slice(b"\ndata: more\n\nid: 2\ndata: ok\n\n");
    check_limit(&input, 64, &[X, E("message", "ok", "2")]);
}

#[test]
fn oversized_multi_line_event_is_dropped() {
    check_limit(
        b"data: 0123456789\ndata: 0123456789\n\ndata: ok\n\n",
        15,
        &[X, E("message", "ok", "")],
    );
}

#[test]
fn event_at_the_limit_is_accepted() {
    check_limit(
        b"data: 0123456789\n\n",
        16,
        &[E("message", "0123456789", "")],
    );
}

#[test]
fn single_line_data_is_a_zero_copy_slice_of_the_input() {
    let input = Bytes::from_static(b"data: payload\n\n");
    let range = input.as_ptr() as usize..input.as_ptr() as usize + input.len();
    let mut decoder = Decoder::new();
    decoder.push(input.clone());
    let Ok(Some(Frame::Event(event))) = decoder.next_frame() else {
        panic!()
    };
    assert!(
        range.contains(&(event.data.as_ptr() as usize)),
        "data was copied"
    );
}

#[test]
fn initial_last_event_id_is_inherited() {
    let mut decoder = Decoder::new();
    decoder.set_last_event_id("41");
    decoder.push(Bytes::from_static(b"data: x\n\n"));
    let Ok(Some(Frame::Event(event))) = decoder.next_frame() else {
        panic!()
    };
    assert_eq!(event.last_event_id, "41");
}
