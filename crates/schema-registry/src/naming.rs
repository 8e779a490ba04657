//! How the embedded registry names and checks schemas, pure.
//!
//! - **Canonical content.** Content that parses as JSON is written again with object
//!   members sorted by key (byte order of their UTF-8), no insignificant whitespace, and
//!   strings and numbers as `serde_json` writes them. Other content is its own canonical form.
//!   So `{"b":1, "a":2}` and `{"a":2,"b":1}` are one schema.
//! - **`hash`** is the SHA-256 of the canonical content, 64 lower-case hex digits.
//! - **`name`** is the first 32 hex digits (128 bits) of the SHA-256 of
//!   `{format}\n{schemaType}\n{canonical content}`: a stable name that changes with the
//!   document, its format or its type, and with nothing else.
//! - **Versions** are decimal integers: ASCII digits, no leading zero (`"0"` itself is
//!   allowed), so two spellings never mean one version. A `put` takes `"0"` to `"9"`
//!   ([`schema::MAX_VERSION`]), as AIO's registry does: its reference says "Allowed between
//!   0-9" and AIO's stub service refuses anything else. Versions of up to 9 digits stored
//!   before that rule can still be read (`get`, the directory).
//! - **Names** asked for by `get` are 1 to 128 characters of `A-Z a-z 0-9 . _ -`, not
//!   starting with `.` (names we assign are always such); other names cannot exist.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::protocol::{PutRequest, RegistryError, error_code, format, target};

/// Length of an assigned name, in hex digits.
pub const NAME_LEN: usize = 32;

/// Longest name `get` accepts.
pub const MAX_NAME_LEN: usize = 128;

/// Most digits of a version that can be read.
pub const MAX_VERSION_DIGITS: usize = 9;

/// The canonical form of `content` (see the module docs).
pub fn canonical_content(content: &str) -> String {
    match serde_json::from_str::<Value>(content) {
        Ok(value) => {
            let mut out = String::with_capacity(content.len());
            write_canonical(&value, &mut out);
            out
        }
        Err(_) => content.to_owned(),
    }
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut members: Vec<_> = map.iter().collect();
            members.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, value)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::from(key.as_str()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// SHA-256 of the canonical content, lower-case hex.
pub fn content_hash(canonical: &str) -> String {
    sha256_hex(&[canonical.as_bytes()])
}

/// The name of a schema (see the module docs).
pub fn schema_name(format: &str, schema_type: &str, canonical: &str) -> String {
    let mut name = sha256_hex(&[
        format.as_bytes(),
        b"\n",
        schema_type.as_bytes(),
        b"\n",
        canonical.as_bytes(),
    ]);
    name.truncate(NAME_LEN);
    name
}

/// Whether `version` is a version number that can be read (stored or asked for).
pub fn is_valid_version(version: &str) -> bool {
    let bytes = version.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_VERSION_DIGITS
        && bytes.iter().all(u8::is_ascii_digit)
        && (bytes[0] != b'0' || bytes.len() == 1)
}

/// Whether a `put` may store `version`: `"0"` to `"9"`.
pub fn is_accepted_version(version: &str) -> bool {
    version_number(version).is_some_and(|number| number <= schema::MAX_VERSION)
}

/// The number of a valid version, for ordering.
pub fn version_number(version: &str) -> Option<u32> {
    is_valid_version(version)
        .then(|| version.parse().ok())
        .flatten()
}

/// Whether `name` could be a schema name here (also what makes it safe as a directory name).
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Checks a `put` request; the error is the `{"error": ...}` to answer with.
///
/// # Errors
/// Code 400 naming the member: an unknown format, empty content, JSON Schema content that
/// is not JSON, a version other than `"0"` to `"9"`, an empty display name, or an empty tag
/// key.
pub fn check_put(request: &PutRequest) -> Result<(), RegistryError> {
    let bad = |message: String, member| {
        Err(RegistryError::new(
            error_code::BAD_REQUEST,
            message,
            Some(member),
        ))
    };
    if request.format != format::JSON_SCHEMA_DRAFT_07 && request.format != format::DELTA_1 {
        return bad(
            format!(
                "format {:?} is not supported; use {} or {}",
                request.format,
                format::JSON_SCHEMA_DRAFT_07,
                format::DELTA_1
            ),
            target::FORMAT,
        );
    }
    if request.schema_content.trim().is_empty() {
        return bad("the schema content is empty".into(), target::SCHEMA_CONTENT);
    }
    if request.format == format::JSON_SCHEMA_DRAFT_07
        && serde_json::from_str::<serde::de::IgnoredAny>(&request.schema_content).is_err()
    {
        return bad(
            "the schema content of a JsonSchema/draft-07 schema is not JSON".into(),
            target::SCHEMA_CONTENT,
        );
    }
    if !is_accepted_version(&request.version) {
        return bad(
            format!(
                "version {:?} is not an integer from 0 to {}",
                request.version,
                schema::MAX_VERSION
            ),
            target::VERSION,
        );
    }
    if request.display_name.as_deref().is_some_and(str::is_empty) {
        return bad("the display name is empty".into(), target::DISPLAY_NAME);
    }
    if request
        .tags
        .as_ref()
        .is_some_and(|tags| tags.keys().any(String::is_empty))
    {
        return bad("a tag has an empty key".into(), target::TAGS);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canonical_form_is_canonical_for_numbers_that_round() {
        // Found by the `schema_registry` fuzz target: without exact float parsing, the
        // canonical form of this number was not its own canonical form.
        let content = "66666666666666666666666666666666666666666666";
        let canonical = canonical_content(content);
        assert_eq!(canonical, "6.666666666666666e+43");
        assert_eq!(canonical_content(&canonical), canonical);
    }

    #[test]
    fn canonical_json_sorts_members_and_drops_whitespace() {
        assert_eq!(
            canonical_content(
                "{ \"b\": [1, 2.5, {\"y\":null,\"x\":true}],\n \"a\": \"\\u00e9\\n\" }"
            ),
            "{\"a\":\"é\\n\",\"b\":[1,2.5,{\"x\":true,\"y\":null}]}"
        );
        assert_eq!(canonical_content("not json {"), "not json {");
        assert_eq!(
            canonical_content("{\"b\":1,\"a\":2}"),
            canonical_content("{\"a\":2,   \"b\":1}")
        );
    }

    #[test]
    fn names_and_hashes_are_stable() {
        let canonical = canonical_content(r#"{"type":"object"}"#);
        // printf '%s' '{"type":"object"}' | sha256sum
        assert_eq!(
            content_hash(&canonical),
            "a2c799262a3ce3c19ef5cdd983bf3d12b43ab3c426227091b909dcb7054738c0"
        );
        // printf 'JsonSchema/draft-07\nMessageSchema\n{"type":"object"}' | sha256sum
        assert_eq!(
            schema_name("JsonSchema/draft-07", "MessageSchema", &canonical),
            "df0c030310f2692463d6758b1991c04a"
        );
        let name = schema_name("JsonSchema/draft-07", "MessageSchema", &canonical);
        assert_eq!(name.len(), NAME_LEN);
        assert!(is_valid_name(&name));
        assert_ne!(name, schema_name("Delta/1.0", "MessageSchema", &canonical));
        assert_ne!(
            name,
            schema_name("JsonSchema/draft-07", "MessageSchema", "{}")
        );
    }

    #[test]
    fn versions_are_decimal_numbers() {
        for good in ["0", "1", "9", "10", "123456789"] {
            assert!(is_valid_version(good), "{good}");
        }
        for bad in ["", "01", "1.0", "-1", "a", "1234567890", " 1", "１"] {
            assert!(!is_valid_version(bad), "{bad}");
        }
        assert_eq!(version_number("10"), Some(10));
        assert_eq!(version_number("01"), None);
        for accepted in ["0", "1", "9"] {
            assert!(is_accepted_version(accepted), "{accepted}");
        }
        for refused in ["10", "123456789", "01", "", "x"] {
            assert!(!is_accepted_version(refused), "{refused}");
        }
    }

    #[test]
    fn names_are_safe_path_segments() {
        assert!(is_valid_name("abc-1_2.x"));
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            "a/b",
            "a\\b",
            "a b",
            &"x".repeat(129),
        ] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn put_checks_name_the_member() {
        let ok = PutRequest::json_schema(r#"{"type":"object"}"#, "1");
        assert_eq!(check_put(&ok), Ok(()));
        let cases: Vec<(PutRequest, &str)> = vec![
            (
                PutRequest {
                    format: "Avro".into(),
                    ..ok.clone()
                },
                target::FORMAT,
            ),
            (PutRequest::json_schema(" ", "1"), target::SCHEMA_CONTENT),
            (PutRequest::json_schema("{", "1"), target::SCHEMA_CONTENT),
            (PutRequest::json_schema("{}", "01"), target::VERSION),
            (PutRequest::json_schema("{}", "10"), target::VERSION),
            (
                PutRequest {
                    display_name: Some(String::new()),
                    ..ok.clone()
                },
                target::DISPLAY_NAME,
            ),
            (
                PutRequest {
                    tags: Some([(String::new(), "v".to_owned())].into()),
                    ..ok.clone()
                },
                target::TAGS,
            ),
        ];
        for (request, member) in cases {
            let error = check_put(&request).expect_err(member);
            assert_eq!((error.code, error.target.as_deref()), (400, Some(member)));
        }
    }
}
