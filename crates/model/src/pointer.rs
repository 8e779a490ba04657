//! JSON Pointers (RFC 6901), used by data points to project an event's JSON.

use serde_json::Value;

/// Checks that `pointer` is a JSON Pointer: empty (the whole document) or `/`-separated
/// reference tokens where `~` is only ever followed by `0` or `1`.
pub fn check(pointer: &str) -> Result<(), String> {
    if !pointer.is_empty() && !pointer.starts_with('/') {
        return Err(format!(
            "{pointer:?} is not a JSON Pointer (RFC 6901): it must be empty or start with `/`"
        ));
    }
    let mut chars = pointer.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Err(format!(
                "{pointer:?} is not a JSON Pointer (RFC 6901): `~` must be followed by 0 or 1"
            ));
        }
    }
    Ok(())
}

/// The value at `pointer` in `document`, if any (RFC 6901 evaluation).
pub fn resolve<'a>(document: &'a Value, pointer: &str) -> Option<&'a Value> {
    document.pointer(pointer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6901_examples_are_valid_and_resolve() {
        let doc = serde_json::json!({"foo": ["bar", "baz"], "": 0, "a/b": 1, "m~n": 8});
        for (p, want) in [
            ("", doc.clone()),
            ("/foo/0", "bar".into()),
            ("/", 0.into()),
            ("/a~1b", 1.into()),
            ("/m~0n", 8.into()),
        ] {
            assert!(check(p).is_ok(), "{p}");
            assert_eq!(resolve(&doc, p), Some(&want), "{p}");
        }
    }

    #[test]
    fn invalid_pointers() {
        for p in ["foo", "temperature", "/a~2", "/a~", "#/foo"] {
            assert!(check(p).is_err(), "{p} accepted");
        }
    }
}
