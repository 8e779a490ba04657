//! The canonical schema text of a [`Shape`], and its name.
//!
//! Canonical text: JSON without whitespace, every object's keys sorted (byte order), the
//! draft-07 `$schema` header first (it sorts first), strings escaped as `serde_json` does
//! (`\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, other control characters as `\u00XX`). Per
//! node, in this order:
//! - `items`: the merged schema of the elements, when the node was an array with elements;
//! - `properties` (when some are listed) and `required` (the names present in every object,
//!   sorted; left out when none), when the node was an object;
//! - `type`: one name, or an array of names sorted alphabetically (`["null","string"]`);
//!
//! and `{}` for a node a limit made permissive. The same shape always gives the same bytes.
//!
//! The name is the SHA-256 of the text, in lower-case hex (64 characters): the same samples,
//! the same name, on any machine and any version of this crate that emits the same text.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use crate::shape::{Shape, ty};

/// The `$schema` of every emitted schema.
pub const DRAFT_07: &str = "http://json-schema.org/draft-07/schema#";

/// An inferred schema: its canonical text and its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Schema {
    /// JSON Schema draft-07, canonical (see the module documentation).
    pub content: String,
    /// [`name_of`] the content.
    pub name: String,
}

/// The schema of `shape`.
pub fn schema(shape: &Shape) -> Schema {
    let content = text(shape);
    Schema {
        name: name_of(&content),
        content,
    }
}

/// The name of a schema text: its SHA-256 in lower-case hex (64 characters).
pub fn name_of(content: &str) -> String {
    let digest = Sha256::digest(content.as_bytes());
    let mut name = String::with_capacity(64);
    for byte in digest.iter() {
        let _ = write!(name, "{byte:02x}");
    }
    name
}

/// The canonical text of `shape` as a root schema (with `$schema`).
pub fn text(shape: &Shape) -> String {
    let mut out = String::with_capacity(256);
    out.push_str("{\"$schema\":");
    string(&mut out, DRAFT_07);
    keywords(&mut out, shape, false);
    out.push('}');
    out
}

fn node(out: &mut String, shape: &Shape) {
    out.push('{');
    keywords(out, shape, true);
    out.push('}');
}

/// The keywords of `shape`, sorted, each preceded by a comma unless it is the `first`.
fn keywords(out: &mut String, shape: &Shape, mut first: bool) {
    if shape.any {
        return;
    }
    let mut key = |out: &mut String, name: &str| {
        if !first {
            out.push(',');
        }
        first = false;
        string(out, name);
        out.push(':');
    };
    if shape.types & ty::ARRAY != 0
        && let Some(items) = &shape.items
    {
        key(out, "items");
        node(out, items);
    }
    if shape.types & ty::OBJECT != 0
        && let Some(object) = &shape.object
        && !object.open
        && !object.fields.is_empty()
    {
        key(out, "properties");
        out.push('{');
        for (i, field) in object.fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            string(out, &field.name);
            out.push(':');
            node(out, &field.shape);
        }
        out.push('}');
        if object.required > 0 {
            key(out, "required");
            out.push('[');
            let required = object.fields.iter().filter(|f| f.required);
            for (i, field) in required.enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(out, &field.name);
            }
            out.push(']');
        }
    }
    let names: Vec<&str> = ty::NAMES
        .iter()
        .filter(|(bit, _)| shape.types & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    match names.as_slice() {
        [] => {}
        [one] => {
            key(out, "type");
            string(out, one);
        }
        many => {
            key(out, "type");
            out.push('[');
            for (i, name) in many.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(out, name);
            }
            out.push(']');
        }
    }
}

/// `value` as a JSON string, escaped like `serde_json`.
fn string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c < ' ' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer;

    #[test]
    fn the_aio_example_and_a_union() {
        let s = infer([r#"{"temp":10,"active":true}"#]).expect("JSON");
        assert_eq!(
            s.content,
            r#"{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"active":{"type":"boolean"},"temp":{"type":"integer"}},"required":["active","temp"],"type":"object"}"#
        );
        assert_eq!(s.name, name_of(&s.content));
        assert_eq!(s.name.len(), 64);
        let s = infer([
            r#"{"v":"a","n":[{"x":1}]}"#,
            r#"{"v":null,"n":[{"x":2.5,"y":"s"}]}"#,
        ])
        .expect("JSON");
        assert_eq!(
            s.content,
            r#"{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"n":{"items":{"properties":{"x":{"type":"number"},"y":{"type":"string"}},"required":["x"],"type":"object"},"type":"array"},"v":{"type":["null","string"]}},"required":["n","v"],"type":"object"}"#
        );
    }

    #[test]
    fn scalars_empty_objects_and_arrays() {
        let root = |payloads: &[&str]| infer(payloads).expect("JSON").content;
        assert_eq!(
            root(&["1", "\"x\"", "[]", "{}"]),
            r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":["array","integer","object","string"]}"#
        );
        assert_eq!(
            root(&[]),
            r#"{"$schema":"http://json-schema.org/draft-07/schema#"}"#
        );
    }

    #[test]
    fn escapes_like_serde_json() {
        let name = "q\"b\\s\u{1}\n\t\u{8}\u{c}\ré/";
        let mut out = String::new();
        string(&mut out, name);
        assert_eq!(out, serde_json::to_string(name).expect("a string"));
    }

    #[test]
    fn name_is_sha256_hex() {
        assert_eq!(
            name_of(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
