//! Writes the benchmark's event stream to standard output: the input of the `tap` and `count`
//! comparisons in BENCHMARKS.md.
//!
//! `cargo run --release -p sse-parser --example events -- 2500000 > events.sse`
//!
//! Each event is an `id` line, an `event: reading` line and one `data` line of ~150 B of JSON,
//! the shape of `benches/throughput.rs` (185 B per event on average). The output depends only
//! on the count, so every run measures the same bytes.

use std::io::{self, BufWriter, Write};

fn main() -> io::Result<()> {
    let events: u64 = match std::env::args().nth(1) {
        None => 2_500_000,
        Some(text) => text.parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("usage: events [COUNT]; `{text}` is not a count"),
            )
        })?,
    };
    let mut out = BufWriter::with_capacity(256 * 1024, io::stdout().lock());
    for seq in 0..events {
        let value = (seq % 1000) as f64 / 10.0;
        write!(
            out,
            "id: {seq}\nevent: reading\ndata: {{\"sensor\":\"temp-01\",\"site\":\"plant-3/line-2\",\
             \"value\":{value:.2},\"unit\":\"C\",\"quality\":\"good\",\"ts\":\"2026-11-27T10:00:00.000Z\",\
             \"seq\":{seq},\"ok\":true,\"flags\":[]}}\n\n"
        )?;
    }
    out.flush()
}
