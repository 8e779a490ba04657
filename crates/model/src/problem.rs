//! Problems found while reading or validating definitions, and the field paths that locate them.
//!
//! Every problem renders as one line, `FILE: RESOURCE: field.path: what is wrong`, so that
//! `sse-connector validate` can print them as they are and editors can jump to them.

use std::fmt;
use std::path::{Path, PathBuf};

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The resource is not accepted (its last good version, if any, stays in force).
    Error,
    /// The resource is accepted; something deserves attention (e.g. an unknown field, kept).
    Warning,
}

/// A path to a field inside a resource document, e.g. `spec.datasets[0].destinations[0].configuration.topic`.
///
/// Map keys that are not plain identifiers are quoted: `spec.attributes["a.b"]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldPath(String);

impl FieldPath {
    /// The empty path (the document itself).
    pub fn root() -> Self {
        Self(String::new())
    }

    /// A path from its rendered form, e.g. `spec.deviceRef`.
    pub fn new(rendered: impl Into<String>) -> Self {
        Self(rendered.into())
    }

    /// This path extended by a map key or field name.
    pub fn key(&self, key: &str) -> Self {
        let plain = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        let mut s = self.0.clone();
        if plain {
            if !s.is_empty() {
                s.push('.');
            }
            s.push_str(key);
        } else {
            s.push_str(&format!("[{key:?}]"));
        }
        Self(s)
    }

    /// This path extended by a sequence index.
    pub fn index(&self, index: usize) -> Self {
        Self(format!("{}[{index}]", self.0))
    }

    /// The rendered path.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("(document)")
        } else {
            f.write_str(&self.0)
        }
    }
}

/// One thing wrong (or worth a warning) in the definitions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Problem {
    /// The file that holds the resource.
    pub file: PathBuf,
    /// `Kind/name` of the resource, or `document N` when the name could not be read.
    pub resource: String,
    /// Where in the resource; for syntax errors, `line L, column C`.
    pub path: FieldPath,
    /// What is wrong, in words; never contains a secret value.
    pub message: String,
    /// Error or warning.
    pub severity: Severity,
}

impl Problem {
    /// An error.
    pub fn error(
        file: &Path,
        resource: impl Into<String>,
        path: FieldPath,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: file.to_path_buf(),
            resource: resource.into(),
            path,
            message: message.into(),
            severity: Severity::Error,
        }
    }

    /// A warning.
    pub fn warning(
        file: &Path,
        resource: impl Into<String>,
        path: FieldPath,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(file, resource, path, message)
        }
    }

    /// Whether this problem rejects the resource.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// `FILE: RESOURCE: field.path: what is wrong`, exactly.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {}: {}",
            self.file.display(),
            self.resource,
            self.path,
            self.message
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_file_resource_path_message() {
        let p = Problem::error(
            Path::new("assets/a.yaml"),
            "Asset/a",
            FieldPath::root()
                .key("spec")
                .key("datasets")
                .index(0)
                .key("name"),
            "required",
        );
        assert_eq!(
            p.to_string(),
            "assets/a.yaml: Asset/a: spec.datasets[0].name: required"
        );
    }

    #[test]
    fn odd_keys_are_quoted_and_root_is_named() {
        let path = FieldPath::root().key("attributes").key("a.b");
        assert_eq!(path.as_str(), "attributes[\"a.b\"]");
        assert_eq!(FieldPath::root().to_string(), "(document)");
    }
}
