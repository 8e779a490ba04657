//! Finding every type error of a document, not only the first: deserialize, set the value at
//! fault aside, and try again.
//!
//! serde stops at the first error. To report every problem of a resource at once (`qos: Qos7`
//! *and* `enabled: "maybe"`), [`deserialize_all`] removes the value at fault from a copy of the
//! document and deserializes again, until it succeeds or nothing more can be set aside. Error
//! paths always refer to the document as written: when a list element had to be removed, the
//! indices of the elements after it are mapped back.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_path_to_error::Segment;

use crate::problem::FieldPath;

/// At most this many errors are collected from one document; the rest would be noise.
const MAX_ERRORS: usize = 50;

/// A document that did not deserialize as written.
#[derive(Debug)]
pub struct Failed<T> {
    /// Every error found, in the order found: the path of the field at fault (below the
    /// `at` given to [`deserialize_all`]) and what is wrong.
    pub errors: Vec<(FieldPath, String)>,
    /// The document with every value at fault set aside, when that deserializes and no list
    /// element had to be removed (so every path in it is a path of the document as written).
    /// Good for finding the document's other problems; never to be applied.
    pub partial: Option<T>,
}

/// One step of a path, in the document as written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Key(String),
    Index(usize),
}

/// Deserializes `value` as `T`; on failure, finds as many errors as it can. Paths are rendered
/// below `at`. A `null` document counts as an empty mapping.
pub fn deserialize_all<T: DeserializeOwned>(value: Value, at: &FieldPath) -> Result<T, Failed<T>> {
    let mut value = if value.is_null() {
        Value::Object(serde_json::Map::new())
    } else {
        value
    };
    let mut errors: Vec<(FieldPath, String)> = Vec::new();
    // Original indices removed from each list, by the list's original path; sorted.
    let mut removed: BTreeMap<Vec<Step>, Vec<usize>> = BTreeMap::new();
    loop {
        let error = match serde_path_to_error::deserialize::<_, T>(&value) {
            Ok(t) => {
                return if errors.is_empty() {
                    Ok(t)
                } else {
                    Err(Failed {
                        errors,
                        partial: removed.is_empty().then_some(t),
                    })
                };
            }
            Err(e) => e,
        };
        let current = current_steps(error.path());
        let message = error.into_inner().to_string();
        let original = current.as_ref().map(|c| to_original(c, &removed));
        let rendered = render(at, original.as_deref().unwrap_or_default());
        // A required field we removed ourselves shows up again as missing one level up: it
        // was reported already.
        let consequence = missing_field(&message)
            .is_some_and(|f| errors.iter().any(|(p, _)| *p == rendered.key(f)));
        if !consequence {
            errors.push((rendered, plain(&message)));
        }
        let (Some(current), Some(original)) = (current, original) else {
            break;
        };
        if errors.len() >= MAX_ERRORS || !remove(&mut value, &current, &original, &mut removed) {
            break;
        }
    }
    Err(Failed {
        errors,
        partial: None,
    })
}

/// The field named by serde's `missing field `x`` message.
fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
}

/// serde's message without its Markdown quotes: `unknown variant Qos7, expected Qos0 or Qos1`,
/// `missing field name` → `required field name is missing`.
fn plain(message: &str) -> String {
    match missing_field(message) {
        Some(field) => format!("required field {field} is missing"),
        None => message.replace('`', ""),
    }
}

/// serde_path_to_error's path as steps; `None` when a step cannot be followed.
fn current_steps(path: &serde_path_to_error::Path) -> Option<Vec<Step>> {
    path.iter()
        .map(|segment| match segment {
            Segment::Seq { index } => Some(Step::Index(*index)),
            Segment::Map { key } => Some(Step::Key(key.clone())),
            Segment::Enum { variant } => Some(Step::Key(variant.clone())),
            Segment::Unknown => None,
        })
        .collect()
}

/// Maps list indices of the repaired document back to the document as written.
fn to_original(current: &[Step], removed: &BTreeMap<Vec<Step>, Vec<usize>>) -> Vec<Step> {
    let mut original: Vec<Step> = Vec::with_capacity(current.len());
    for step in current {
        let mapped = match step {
            Step::Index(i) => {
                let mut index = *i;
                for r in removed.get(&original).into_iter().flatten() {
                    if *r <= index {
                        index += 1;
                    }
                }
                Step::Index(index)
            }
            Step::Key(k) => Step::Key(k.clone()),
        };
        original.push(mapped);
    }
    original
}

fn render(at: &FieldPath, steps: &[Step]) -> FieldPath {
    steps.iter().fold(at.clone(), |p, s| match s {
        Step::Key(k) => p.key(k),
        Step::Index(i) => p.index(*i),
    })
}

/// Removes the value at `current` (the error's path) from `value`; `false` when there is
/// nothing to remove (the document root, or a path that does not exist).
fn remove(
    value: &mut Value,
    current: &[Step],
    original: &[Step],
    removed: &mut BTreeMap<Vec<Step>, Vec<usize>>,
) -> bool {
    let Some((last, parents)) = current.split_last() else {
        return false;
    };
    let mut node = value;
    for step in parents {
        node = match (step, node) {
            (Step::Key(k), Value::Object(map)) => match map.get_mut(k) {
                Some(v) => v,
                None => return false,
            },
            (Step::Index(i), Value::Array(items)) => match items.get_mut(*i) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, node) {
        (Step::Key(k), Value::Object(map)) => map.remove(k).is_some(),
        (Step::Index(i), Value::Array(items)) if *i < items.len() => {
            items.remove(*i);
            if let Some((Step::Index(orig), list)) = original.split_last() {
                let entry = removed.entry(list.to_vec()).or_default();
                entry.push(*orig);
                entry.sort_unstable();
            }
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Doc {
        #[serde(default)]
        enabled: Option<bool>,
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Item {
        name: String,
        #[serde(default)]
        count: Option<u32>,
    }

    fn run(doc: Value) -> Failed<Doc> {
        deserialize_all::<Doc>(doc, &FieldPath::root().key("spec")).expect_err("fails")
    }

    #[test]
    fn every_error_is_found_with_its_path_as_written() {
        let f = run(json!({"enabled": "maybe", "items": [
            {"name": 1}, {"name": "ok", "count": -1}, {"count": 2}, {"name": "x", "count": "n"}
        ]}));
        let paths: Vec<_> = f.errors.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.enabled",
                "spec.items[0].name",
                "spec.items[1].count",
                "spec.items[2]",
                "spec.items[3].count"
            ],
            "{:#?}",
            f.errors
        );
        assert_eq!(f.errors[3].1, "required field name is missing");
        assert!(f.partial.is_none(), "elements were removed");
    }

    #[test]
    fn without_removed_elements_the_partial_document_is_kept() {
        let f = run(json!({"enabled": 3, "items": [{"name": "a", "count": "x"}]}));
        assert_eq!(f.errors.len(), 2, "{:#?}", f.errors);
        let partial = f.partial.expect("partial");
        assert_eq!(partial.items[0].name, "a");
        assert_eq!(partial.items[0].count, None);
    }

    #[test]
    fn an_unrepairable_root_stops() {
        let f = run(json!({"enabled": true}));
        assert_eq!(f.errors.len(), 1);
        assert_eq!(f.errors[0].0.as_str(), "spec");
        let ok: Doc = deserialize_all(json!({"items": []}), &FieldPath::root()).expect("valid");
        assert!(ok.items.is_empty());
    }
}
