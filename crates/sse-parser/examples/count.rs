//! Counts the events of standard input with one parser: the reference that `sse-connector tap`
//! is measured against in BENCHMARKS.md.
//!
//! `cargo build --release -p sse-parser --example count`, then
//! `target/release/examples/count sse-parse < events.sse` (or `sse-parser` for this crate).
//!
//! Standard input is read in blocks of 256 KiB and every block is fed to the parser, whose
//! events are counted and dropped; the result is `{"events":N,"bytes":B}`, as `tap --count`
//! prints it.

use std::io::{self, Read};

use bytes::BytesMut;
use sse_parser::{Decoder, Frame};

const BLOCK: usize = 256 * 1024;

fn main() -> io::Result<()> {
    let parser = std::env::args().nth(1).unwrap_or_default();
    let mut input = io::stdin().lock();
    let (events, bytes) = match parser.as_str() {
        "sse-parse" => sse_parse(&mut input)?,
        "sse-parser" => sse_parser(&mut input)?,
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "usage: count sse-parse|sse-parser < INPUT",
            ));
        }
    };
    println!("{{\"events\":{events},\"bytes\":{bytes}}}");
    Ok(())
}

/// `sse-parse` 0.1: `feed` copies the block into the parser.
fn sse_parse(input: &mut impl Read) -> io::Result<(u64, u64)> {
    let mut parser = sse_parse::SseParser::new();
    let mut block = vec![0; BLOCK];
    let (mut events, mut bytes) = (0, 0);
    loop {
        let read = input.read(&mut block)?;
        if read == 0 {
            return Ok((events, bytes));
        }
        bytes += read as u64;
        parser.feed(&block[..read]);
        while let Some(event) = parser.next_event() {
            std::hint::black_box(event);
            events += 1;
        }
    }
}

/// This crate's decoder: each block becomes a shared buffer that events slice.
fn sse_parser(input: &mut impl Read) -> io::Result<(u64, u64)> {
    let mut decoder = Decoder::new();
    let (mut events, mut bytes) = (0, 0);
    loop {
        let mut block = BytesMut::zeroed(BLOCK);
        let read = input.read(&mut block)?;
        if read == 0 {
            return Ok((events, bytes));
        }
        bytes += read as u64;
        block.truncate(read);
        decoder.push(block.freeze());
        while let Some(frame) = decoder.next_frame().transpose() {
            if let Ok(Frame::Event(event)) = frame {
                std::hint::black_box(event);
                events += 1;
            }
        }
    }
}
