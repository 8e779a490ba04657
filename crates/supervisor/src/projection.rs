//! Data points (DESIGN 3.2): a dataset with data points forwards, instead of the event's data,
//! the JSON object `{ "<data point name>": <value at its JSON Pointer>, ... }`.
//!
//! Decisions, each counted in [`StreamStats`](crate::StreamStats):
//! - **data that is not JSON**: nothing can be projected, so the event is not forwarded to that
//!   dataset (`not_json`, logged). Other operations of the stream still get it, and the
//!   checkpoint moves on: the event was read and a decision was made about it.
//! - **a pointer that finds nothing**: that data point is left out of the object
//!   (`missing_data_points`); the others are forwarded. An event where no pointer finds
//!   anything is forwarded as `{}`, so that consumers still see that it happened.
//!
//! Keys keep the order of the data points in the definition.

use bytes::Bytes;
use model::plan::DataPointRule;
use serde_json::Value;

/// The projected payload and the number of data points that found nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projected {
    /// The JSON object, serialized.
    pub payload: Bytes,
    /// Data points left out because their pointer found nothing.
    pub missing: usize,
}

/// Parses event data for projection; `None` when it is not JSON.
pub fn parse(data: &str) -> Option<Value> {
    serde_json::from_str(data).ok()
}

/// Projects `value` through `rules` (RFC 6901 pointers; the empty pointer is the whole value).
pub fn project(value: &Value, rules: &[DataPointRule]) -> Projected {
    let mut out = String::with_capacity(64);
    out.push('{');
    let mut missing = 0;
    let mut first = true;
    for rule in rules {
        let Some(found) = value.pointer(&rule.pointer) else {
            missing += 1;
            continue;
        };
        if !first {
            out.push(',');
        }
        first = false;
        // Serializing a string or a `Value` into a `String` cannot fail.
        out.push_str(&serde_json::to_string(&rule.name).unwrap_or_default());
        out.push(':');
        out.push_str(&serde_json::to_string(found).unwrap_or_default());
    }
    out.push('}');
    Projected {
        payload: Bytes::from(out),
        missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(pairs: &[(&str, &str)]) -> Vec<DataPointRule> {
        pairs
            .iter()
            .map(|(name, pointer)| DataPointRule {
                name: (*name).to_owned(),
                pointer: (*pointer).to_owned(),
            })
            .collect()
    }

    fn text(p: &Projected) -> &str {
        std::str::from_utf8(&p.payload).expect("utf-8")
    }

    #[test]
    fn projects_in_rule_order() {
        let v = parse(r#"{"temp":{"value":21.5,"unit":"C"},"tags":["a","b"],"a/b":1,"m~n":2}"#)
            .expect("json");
        let p = project(
            &v,
            &rules(&[
                ("z_temp", "/temp/value"),
                ("a_unit", "/temp/unit"),
                ("second", "/tags/1"),
                ("slash", "/a~1b"),
                ("tilde", "/m~0n"),
                ("obj", "/temp"),
            ]),
        );
        assert_eq!(
            text(&p),
            r#"{"z_temp":21.5,"a_unit":"C","second":"b","slash":1,"tilde":2,"obj":{"unit":"C","value":21.5}}"#
        );
        assert_eq!(p.missing, 0);
    }

    #[test]
    fn missing_pointers_are_left_out_and_counted() {
        let v = parse(r#"{"a":1}"#).expect("json");
        let p = project(
            &v,
            &rules(&[("x", "/nope"), ("a", "/a"), ("y", "/a/deeper")]),
        );
        assert_eq!(text(&p), r#"{"a":1}"#);
        assert_eq!(p.missing, 2);
        let none = project(&v, &rules(&[("x", "/nope")]));
        assert_eq!((text(&none), none.missing), ("{}", 1));
    }

    #[test]
    fn whole_document_and_scalars() {
        let v = parse("42").expect("json");
        let p = project(&v, &rules(&[("all", ""), ("x", "/x")]));
        assert_eq!((text(&p), p.missing), (r#"{"all":42}"#, 1));
        let names = project(&v, &rules(&[("quote\"name", "")]));
        assert_eq!(text(&names), r#"{"quote\"name":42}"#);
    }

    #[test]
    fn non_json_is_not_parsed() {
        assert!(parse("hello").is_none());
        assert!(parse("").is_none());
        assert!(parse(r#"{"a":1} x"#).is_none());
    }
}
