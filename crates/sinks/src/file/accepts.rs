//! One JSON line of a `Storage` file, as a pure function of the event.
//!
//! The format, one object per line, keys in this order:
//!
//! ```text
//! {"time":"2026-05-01T10:15:30Z","type":"DataSet","id":"6f0c…","subject":"asset/dataset","sse-event":"reading","sse-id":"42","data":{"t":21.5}}
//! ```
//!
//! | key | value |
//! |---|---|
//! | `time` | CloudEvents `time` of the event (RFC 3339, UTC) |
//! | `type` | CloudEvents `type`: `DataSet` or `Event`, with `/{typeRef}` when set |
//! | `id` | CloudEvents `id`: a new UUID v4 per line |
//! | `subject` | CloudEvents `subject`: `{asset}/{dataset}` or `{asset}/{group}/{event}` |
//! | `sse-event`, `sse-id` | the SSE event type and last event id, each only when not empty (as the MQTT user properties); `sse-id` lets a reader drop the duplicates an at-least-once replay can leave |
//! | `data` | the payload as JSON when it is one JSON value, else as a JSON string |
//!
//! A line never holds a line break but its last byte: JSON strings are escaped, and a JSON
//! payload's own line breaks (SSE data may span lines) can only be whitespace between tokens,
//! so they become spaces. The payload's JSON is otherwise copied as it is (numbers keep every
//! digit).

use bytes::Bytes;

use aio_mqtt::cloudevents;

/// The fields of one line (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// CloudEvents `time`, e.g. from [`cloudevents::time`].
    pub time: &'a str,
    /// CloudEvents `type`.
    pub event_type: &'a str,
    /// CloudEvents `id`.
    pub id: &'a str,
    /// CloudEvents `subject`.
    pub subject: &'a str,
    /// SSE event type; left out when empty.
    pub sse_event: &'a str,
    /// SSE last event id; left out when empty.
    pub sse_id: &'a str,
    /// The payload.
    pub data: &'a [u8],
}

/// One complete line: a JSON object followed by `\n`, with no other line break. Only
/// [`Line::new`] makes one, so a `Storage` file holds nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line(Bytes);

impl Line {
    /// The line of `record`.
    pub fn new(record: &Record<'_>) -> Self {
        let mut out = Vec::with_capacity(160 + record.data.len());
        out.extend_from_slice(b"{\"time\":");
        push_string(&mut out, record.time);
        out.extend_from_slice(b",\"type\":");
        push_string(&mut out, record.event_type);
        out.extend_from_slice(b",\"id\":");
        push_string(&mut out, record.id);
        out.extend_from_slice(b",\"subject\":");
        push_string(&mut out, record.subject);
        if !record.sse_event.is_empty() {
            out.extend_from_slice(b",\"sse-event\":");
            push_string(&mut out, record.sse_event);
        }
        if !record.sse_id.is_empty() {
            out.extend_from_slice(b",\"sse-id\":");
            push_string(&mut out, record.sse_id);
        }
        out.extend_from_slice(b",\"data\":");
        if cloudevents::is_json(record.data) {
            let json = record.data.trim_ascii();
            out.extend(
                json.iter()
                    .map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b }),
            );
        } else {
            push_string(&mut out, &String::from_utf8_lossy(record.data));
        }
        out.extend_from_slice(b"}\n");
        Self(Bytes::from(out))
    }

    /// The line of any JSON object (e.g. a dead-letter record). Compact JSON escapes every
    /// line break inside strings, so the line holds none but its last byte.
    ///
    /// # Errors
    /// When `value` cannot be serialized (a map with non-string keys, a failing `Serialize`).
    pub fn json(value: &impl serde::Serialize) -> Result<Self, serde_json::Error> {
        let mut out = serde_json::to_vec(value)?;
        out.push(b'\n');
        Ok(Self(Bytes::from(out)))
    }

    /// The bytes, `\n` included.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Its length in bytes, `\n` included.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true (a line holds at least `{}` and `\n`); here for clippy's sake.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Appends `text` as a JSON string (RFC 8259 section 7): `"` and `\` escaped, control
/// characters as `\n`, `\r`, `\t`, `\b`, `\f` or `\u00XX`; everything else as it is.
fn push_string(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &b in text.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x00..=0x1f => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0x0f)]);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(data: &[u8]) -> Record<'_> {
        Record {
            time: "2026-05-01T10:15:30Z",
            event_type: "DataSet",
            id: "id-1",
            subject: "a/d",
            sse_event: "reading",
            sse_id: "42",
            data,
        }
    }

    fn parse(line: &Line) -> serde_json::Value {
        let bytes = line.as_bytes();
        assert_eq!(bytes.last(), Some(&b'\n'));
        assert!(
            !bytes[..bytes.len() - 1].contains(&b'\n'),
            "one line: {line:?}"
        );
        serde_json::from_slice(bytes).expect("JSON")
    }

    #[test]
    fn exact_format_with_json_data() {
        let line = Line::new(&record(b"{\"t\":21.5}"));
        assert_eq!(
            std::str::from_utf8(line.as_bytes()).expect("utf-8"),
            "{\"time\":\"2026-05-01T10:15:30Z\",\"type\":\"DataSet\",\"id\":\"id-1\",\"subject\":\"a/d\",\"sse-event\":\"reading\",\"sse-id\":\"42\",\"data\":{\"t\":21.5}}\n"
        );
    }

    #[test]
    fn text_data_becomes_a_string_and_empty_sse_fields_are_left_out() {
        let mut r = record(b"line 1\nline \"2\"\t\x01");
        r.sse_event = "";
        r.sse_id = "";
        let v = parse(&Line::new(&r));
        assert_eq!(v["data"], "line 1\nline \"2\"\t\u{1}");
        assert!(v.get("sse-event").is_none() && v.get("sse-id").is_none());
        assert_eq!(parse(&Line::new(&record(b"")))["data"], "");
        assert_eq!(parse(&Line::new(&record(b"{\"a\":")))["data"], "{\"a\":");
    }

    #[test]
    fn multi_line_json_stays_on_one_line_and_keeps_its_digits() {
        let data = b"  {\r\n\"big\": 123456789012345678901234567890,\n\"s\": \"x\\ny\"\n}\n";
        let line = Line::new(&record(data));
        let v = parse(&line);
        assert_eq!(v["data"]["s"], "x\ny");
        let text = std::str::from_utf8(line.as_bytes()).expect("utf-8");
        assert!(text.contains("123456789012345678901234567890"), "{text}");
        assert_eq!(parse(&Line::new(&record(b"7")))["data"], 7);
        assert_eq!(parse(&Line::new(&record(b"\"s\"")))["data"], "s");
    }

    #[test]
    fn escaped_fields_round_trip() {
        let mut r = record(b"null");
        r.subject = "a\"b\\c/\u{7f}é\u{2028}";
        r.sse_id = "\n\r\x08\x0c";
        let v = parse(&Line::new(&r));
        assert_eq!(v["subject"], "a\"b\\c/\u{7f}é\u{2028}");
        assert_eq!(v["sse-id"], "\n\r\x08\x0c");
        assert!(v["data"].is_null());
    }
}
