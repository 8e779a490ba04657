//! Unknown fields: kept in every type's `extra` map (so nothing is lost when a definition is
//! read and written back) and listed here so that they can be reported as warnings.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::problem::FieldPath;

/// Fields that are not part of the model, kept verbatim.
pub type Extra = BTreeMap<String, Value>;

/// Lists the unknown fields of a value and of everything inside it.
pub trait Extras {
    /// Pushes the path of every unknown field found at or below `path`.
    fn unknown_fields(&self, path: &FieldPath, out: &mut Vec<FieldPath>);
}

impl<T: Extras> Extras for Option<T> {
    fn unknown_fields(&self, path: &FieldPath, out: &mut Vec<FieldPath>) {
        if let Some(v) = self {
            v.unknown_fields(path, out);
        }
    }
}

impl<T: Extras> Extras for Vec<T> {
    fn unknown_fields(&self, path: &FieldPath, out: &mut Vec<FieldPath>) {
        for (i, v) in self.iter().enumerate() {
            v.unknown_fields(&path.index(i), out);
        }
    }
}

impl<T: Extras> Extras for BTreeMap<String, T> {
    fn unknown_fields(&self, path: &FieldPath, out: &mut Vec<FieldPath>) {
        for (k, v) in self {
            v.unknown_fields(&path.key(k), out);
        }
    }
}

/// Implements [`Extras`] for a struct with an `extra: Extra` field; the listed fields (with
/// their serialized names) are the ones that can themselves hold unknown fields.
macro_rules! impl_extras {
    ($ty:ty { $($field:ident : $name:literal),* $(,)? }) => {
        impl $crate::extra::Extras for $ty {
            fn unknown_fields(
                &self,
                path: &$crate::problem::FieldPath,
                out: &mut Vec<$crate::problem::FieldPath>,
            ) {
                for key in self.extra.keys() {
                    out.push(path.key(key));
                }
                $( $crate::extra::Extras::unknown_fields(&self.$field, &path.key($name), out); )*
            }
        }
    };
}
pub(crate) use impl_extras;
