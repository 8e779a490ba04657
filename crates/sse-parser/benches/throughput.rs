//! Parser throughput against other Rust SSE parsers, on the same input.
//!
//! `cargo bench -p sse-parser --bench throughput`
//!
//! - `events`: 500,000 events with an `id`, an `event` type and one `data` line of ~150 B of
//!   JSON (185 B per event, 93 MB in all) in 16 KiB chunks,
//!   through our decoder, `sse-parse` 0.1 and `eventsource-stream` 0.2.
//! - `long_line`: one line of 16 KiB and of 64 KiB fed one byte per chunk; linear time means the
//!   64 KiB case costs about four times the 16 KiB one.

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt;
use sse_parser::{Decoder, Frame};

const EVENTS: usize = 500_000;
const CHUNK: usize = 16 * 1024;

fn event_stream() -> Vec<u8> {
    let mut out = Vec::with_capacity(EVENTS * 200);
    for seq in 0..EVENTS {
        let value = (seq % 1000) as f64 / 10.0;
        out.extend_from_slice(
            format!(
                "id: {seq}\nevent: reading\ndata: {{\"sensor\":\"temp-01\",\"site\":\"plant-3/line-2\",\
                 \"value\":{value:.2},\"unit\":\"C\",\"quality\":\"good\",\"ts\":\"2026-11-27T10:00:00.000Z\",\
                 \"seq\":{seq},\"ok\":true,\"flags\":[]}}\n\n"
            )
            .as_bytes(),
        );
    }
    out
}

fn chunks(input: &[u8], size: usize) -> Vec<Bytes> {
    input.chunks(size).map(Bytes::copy_from_slice).collect()
}

fn ours(chunks: &[Bytes]) -> usize {
    let mut decoder = Decoder::new();
    let mut events = 0;
    for chunk in chunks {
        decoder.push(chunk.clone());
        while let Ok(Some(frame)) = decoder.next_frame() {
            if let Frame::Event(event) = frame {
                events += 1;
                std::hint::black_box(event);
            }
        }
    }
    events
}

fn sse_parse(chunks: &[Bytes]) -> usize {
    let mut parser = sse_parse::SseParser::new();
    let mut events = 0;
    for chunk in chunks {
        parser.feed(chunk);
        while let Some(event) = parser.next_event() {
            events += 1;
            std::hint::black_box(event);
        }
    }
    events
}

fn eventsource_stream(chunks: &[Bytes]) -> usize {
    use eventsource_stream::Eventsource;
    let body = futures_util::stream::iter(
        chunks
            .iter()
            .cloned()
            .map(Ok::<_, std::convert::Infallible>),
    );
    futures_executor::block_on(body.eventsource().fold(0, |n, event| async move {
        std::hint::black_box(event).map_or(n, |_| n + 1)
    }))
}

fn events(c: &mut Criterion) {
    let input = event_stream();
    let chunks = chunks(&input, CHUNK);
    for (name, run) in [
        ("sse-parser", ours as fn(&[Bytes]) -> usize),
        ("sse-parse", sse_parse),
        ("eventsource-stream", eventsource_stream),
    ] {
        assert_eq!(run(&chunks), EVENTS, "{name} must see every event");
    }
    let mut group = c.benchmark_group("events");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("sse-parser", |b| b.iter(|| ours(&chunks)));
    group.bench_function("sse-parse", |b| b.iter(|| sse_parse(&chunks)));
    group.bench_function("eventsource-stream", |b| {
        b.iter(|| eventsource_stream(&chunks))
    });
    group.finish();
}

fn long_line(c: &mut Criterion) {
    let mut group = c.benchmark_group("long_line");
    group.sample_size(20);
    for kib in [16usize, 64] {
        let mut input = b"data: ".to_vec();
        input.extend(std::iter::repeat_n(b'x', kib * 1024));
        input.extend_from_slice(b"\n\n");
        let bytes = chunks(&input, 1);
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_with_input(BenchmarkId::new("sse-parser", kib), &bytes, |b, bytes| {
            b.iter(|| assert_eq!(ours(bytes), 1))
        });
    }
    group.finish();
}

criterion_group!(benches, events, long_line);
criterion_main!(benches);
