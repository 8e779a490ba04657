//! Where a field is written: the line and column of the value at a field path.
//!
//! Documents are decoded from a `serde_json::Value`, which has no positions, so a type error
//! (`qos: Qos7`) only knows its field path. When a document fails, its text is parsed once more,
//! by the YAML parser's event stream (JSON is read the same way: it is YAML's flow style), and
//! every value's path is indexed to its position. Built only for files that have a problem.

use std::collections::BTreeMap;

use model::FieldPath;
use serde_saphyr::granit_parser::{Event, Parser};

/// Line and column (both from 1) of every value, per document of a text.
#[derive(Debug, Default)]
pub struct Positions {
    documents: Vec<BTreeMap<String, (usize, usize)>>,
}

enum Frame {
    /// A mapping; `key` is the key whose value comes next, `None` while a key is expected.
    Map {
        path: FieldPath,
        key: Option<String>,
    },
    Seq {
        path: FieldPath,
        next: usize,
    },
}

impl Positions {
    /// Indexes `text`; lines are counted from `first_line` (for a text cut out of a file).
    /// Parsing stops at the first syntax error: what came before it is indexed.
    pub fn of(text: &str, first_line: usize) -> Self {
        let mut documents = Vec::new();
        let mut current = BTreeMap::new();
        let mut stack: Vec<Frame> = Vec::new();
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else { break };
            let at = (span.start.line() + first_line - 1, span.start.col() + 1);
            let is_node = matches!(
                event,
                Event::Scalar(..)
                    | Event::Alias(_)
                    | Event::SequenceStart(..)
                    | Event::MappingStart(..)
            );
            if is_node {
                let path = match stack.last_mut() {
                    None => Some(FieldPath::root()),
                    Some(Frame::Map { path, key }) => match key.take() {
                        Some(k) => Some(path.key(&k)),
                        None => {
                            // This node is a key; a complex key is indexed under no name.
                            *key = Some(match &event {
                                Event::Scalar(v, ..) => v.to_string(),
                                _ => String::new(),
                            });
                            None
                        }
                    },
                    Some(Frame::Seq { path, next }) => {
                        *next += 1;
                        Some(path.index(*next - 1))
                    }
                };
                if let Some(p) = &path {
                    current.entry(p.as_str().to_owned()).or_insert(at);
                }
                let path = path.unwrap_or_else(|| FieldPath::new("?"));
                match event {
                    Event::MappingStart(..) => stack.push(Frame::Map { path, key: None }),
                    Event::SequenceStart(..) => stack.push(Frame::Seq { path, next: 0 }),
                    _ => {}
                }
            } else {
                match event {
                    Event::MappingEnd | Event::SequenceEnd => {
                        stack.pop();
                    }
                    Event::DocumentEnd => {
                        documents.push(std::mem::take(&mut current));
                        stack.clear();
                    }
                    _ => {}
                }
            }
        }
        if !current.is_empty() {
            documents.push(current);
        }
        Self { documents }
    }

    /// The position of the value at `path` in document `document` (from 1), or of the nearest
    /// enclosing value that is written (a missing field points at its mapping).
    pub fn find(&self, document: usize, path: &FieldPath) -> Option<(usize, usize)> {
        let map = self.documents.get(document.checked_sub(1)?)?;
        let mut key = path.as_str();
        loop {
            if let Some(at) = map.get(key) {
                return Some(*at);
            }
            key = parent(key)?;
        }
    }

    /// As [`Positions::find`], for a JSON file whose top level is an array of documents:
    /// document `n` is element `n - 1` of the only document.
    pub fn find_in_array(&self, document: usize, path: &FieldPath) -> Option<(usize, usize)> {
        let element = FieldPath::root().index(document.checked_sub(1)?);
        let full = format!("{}{}", element.as_str(), dotted(path.as_str()));
        self.find(1, &FieldPath::new(full))
    }
}

/// `a.b` → `.a.b`, `[0].a` → `[0].a` (to append a path to an index).
fn dotted(path: &str) -> String {
    if path.is_empty() || path.starts_with('[') {
        path.to_owned()
    } else {
        format!(".{path}")
    }
}

/// The path one step up: `a.b[0]` → `a.b`, `a.b` → `a`, `a` → `` (the document), `` → none.
fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    // The last step starts at the last `.` or `[` that is not inside a quoted key.
    let mut cut = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in path.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '.' | '[' if !quoted => cut = i,
            _ => {}
        }
    }
    Some(&path[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_found_by_path_in_every_document() {
        let text = "a: 1\nb:\n  c: [x, {d: Qos7}]\n  \"e.f\": 2\n---\nspec:\n  - name: n\n";
        let p = Positions::of(text, 1);
        let path = FieldPath::root().key("b").key("c").index(1).key("d");
        assert_eq!(p.find(1, &path), Some((3, 14)));
        assert_eq!(
            p.find(1, &FieldPath::root().key("b").key("e.f")),
            Some((4, 10))
        );
        // A missing field points at its mapping.
        assert_eq!(
            p.find(1, &FieldPath::root().key("b").key("zzz")),
            Some((3, 3))
        );
        let name = FieldPath::root().key("spec").index(0).key("name");
        assert_eq!(p.find(2, &name), Some((7, 11)));
        assert_eq!(Positions::of(text, 10).find(2, &name), Some((16, 11)));
    }

    #[test]
    fn json_arrays_hold_one_document_per_element() {
        let text = "[\n {\"kind\": \"Asset\"},\n {\"spec\": {\"qos\": 7}}\n]";
        let p = Positions::of(text, 1);
        let qos = FieldPath::root().key("spec").key("qos");
        assert_eq!(p.find_in_array(2, &qos), Some((3, 19)));
    }

    #[test]
    fn parents() {
        assert_eq!(parent("a.b[0]"), Some("a.b"));
        assert_eq!(parent("a[\"x.y\"]"), Some("a"));
        assert_eq!(parent("a"), Some(""));
        assert_eq!(parent(""), None);
    }
}
