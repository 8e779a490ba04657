//! [`Shape`]: what the payloads seen so far have in common, as a compact tree (a type set per
//! node, the fields of objects, the merged items of arrays), and the [`Limits`] that keep it
//! small for hostile payloads.
//!
//! A shape is a value of a join-semilattice: merging is commutative, associative and
//! idempotent (see [`merge`](crate::merge)), so the schema emitted after a set of samples does
//! not depend on their order, within the limits (see [`Limits`]).

/// The JSON types, as bits of a set. Their order is the alphabetical order of their names, so
/// iterating the bits from low to high lists the names sorted (the canonical `type` array).
pub(crate) mod ty {
    pub const ARRAY: u8 = 1;
    pub const BOOLEAN: u8 = 1 << 1;
    pub const INTEGER: u8 = 1 << 2;
    pub const NULL: u8 = 1 << 3;
    pub const NUMBER: u8 = 1 << 4;
    pub const OBJECT: u8 = 1 << 5;
    pub const STRING: u8 = 1 << 6;

    /// Bits and JSON Schema names, in bit order (alphabetical).
    pub const NAMES: [(u8, &str); 7] = [
        (ARRAY, "array"),
        (BOOLEAN, "boolean"),
        (INTEGER, "integer"),
        (NULL, "null"),
        (NUMBER, "number"),
        (OBJECT, "object"),
        (STRING, "string"),
    ];

    /// `types` with `add`, `integer` folded into `number` when both are present (every integer
    /// is a number: the set stays minimal, so `integer` after `number` changes nothing).
    pub fn join(types: u8, add: u8) -> u8 {
        let joined = types | add;
        if joined & NUMBER != 0 {
            joined & !INTEGER
        } else {
            joined
        }
    }
}

/// Caps on a shape, so that a hostile or accidental payload (a map keyed by ids, a deeply
/// nested document) cannot make the schema, or the memory it takes, grow without bound.
///
/// Beyond a cap the schema says less, never something false:
/// - a value nested deeper than `max_depth` gets the permissive schema `{}`;
/// - an object node that would have more than `max_properties` distinct property names, or a
///   name longer than `max_key_len` bytes, stops listing its properties (`{"type":"object"}`);
/// - when the whole shape would have more than `max_nodes` nodes, the whole schema becomes
///   `{}` (only the `$schema` header).
///
/// The first two caps keep merging order-independent (whether a union of samples crosses them
/// does not depend on the order). The node cap can, in rare cases, depend on the order: when
/// an object crosses `max_properties` (which removes its fields) only after the whole shape
/// crossed `max_nodes`. Both outcomes are valid schemas for every sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting described (the root value is depth 0). Default 32. (The JSON parser
    /// itself refuses documents nested deeper than 128: those count as not JSON.)
    pub max_depth: usize,
    /// Most distinct property names described per object node. Default 256.
    pub max_properties: usize,
    /// Longest property name described, in bytes. Default 256.
    pub max_key_len: usize,
    /// Most nodes (values with a schema of their own) in the whole shape. Default 4096.
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 32,
            max_properties: 256,
            max_key_len: 256,
            max_nodes: 4096,
        }
    }
}

/// The merged shape of one node of the payloads: which JSON types it had, and for objects and
/// arrays, their parts. The root is the payload itself.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    /// The types seen (bits of [`ty`]), `integer` folded into `number`.
    pub(crate) types: u8,
    /// Beyond a limit: the permissive schema `{}`; nothing else is kept.
    pub(crate) any: bool,
    /// Set once an object was seen here.
    pub(crate) object: Option<Box<ObjectShape>>,
    /// Set once an array element was seen here: the merge of every element.
    pub(crate) items: Option<Box<Shape>>,
}

/// The properties of the objects seen at one node.
#[derive(Debug, Clone, Default)]
pub(crate) struct ObjectShape {
    /// Sorted by name (byte order, as emitted).
    pub fields: Vec<Field>,
    /// Past `max_properties` or `max_key_len`: the properties are no longer described.
    pub open: bool,
    /// How many of `fields` are required.
    pub required: usize,
    /// Objects visited here (scratch for the visitor: the stamp of the current visit).
    pub visits: u64,
    /// The field indexes of the last object, in its key order (scratch: a lookup hint, since
    /// successive payloads usually list their keys in the same order).
    pub order: Vec<u32>,
}

/// One property of an object node.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub name: Box<str>,
    pub shape: Shape,
    /// Present in every object seen at this node.
    pub required: bool,
    /// The visit that last saw it (scratch for the visitor).
    pub seen_at: u64,
}

impl Shape {
    /// An empty shape: no sample seen (its schema is `{}`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether no value was seen here (and it is not permissive).
    pub fn is_empty(&self) -> bool {
        !self.any && self.types == 0
    }

    /// Whether a limit made this node permissive (`{}`).
    pub fn is_any(&self) -> bool {
        self.any
    }

    /// Number of nodes below this one (not counting it).
    pub(crate) fn descendants(&self) -> usize {
        let fields = self.object.as_ref().map_or(0, |o| {
            o.fields
                .iter()
                .map(|f| 1 + f.shape.descendants())
                .sum::<usize>()
        });
        let items = self.items.as_ref().map_or(0, |i| 1 + i.descendants());
        fields + items
    }

    /// Adds JSON type bits; returns whether the (normalised) set changed.
    pub(crate) fn add_types(&mut self, bits: u8) -> bool {
        let joined = ty::join(self.types, bits);
        let changed = joined != self.types;
        self.types = joined;
        changed
    }

    /// Makes this node permissive; returns the number of nodes removed below it.
    pub(crate) fn make_any(&mut self) -> usize {
        let removed = self.descendants();
        *self = Self {
            any: true,
            ..Self::default()
        };
        removed
    }
}

impl ObjectShape {
    /// Stops describing the properties; returns the number of nodes removed.
    pub fn make_open(&mut self) -> usize {
        let removed = self.fields.iter().map(|f| 1 + f.shape.descendants()).sum();
        self.fields = Vec::new();
        self.order = Vec::new();
        self.required = 0;
        self.open = true;
        removed
    }

    /// The index of field `name`, trying first the field at position `position` of the last
    /// object (the common case: the same keys in the same order), then a binary search.
    pub fn find(&mut self, name: &str, position: usize) -> Result<usize, usize> {
        if let Some(&hint) = self.order.get(position)
            && let Some(field) = self.fields.get(hint as usize)
            && &*field.name == name
        {
            return Ok(hint as usize);
        }
        let found = self.fields.binary_search_by(|f| (*f.name).cmp(name));
        if let Ok(index) = found
            && let Ok(index32) = u32::try_from(index)
        {
            if position < self.order.len() {
                self.order[position] = index32;
            } else if position == self.order.len() {
                self.order.push(index32);
            }
        }
        found
    }

    /// Inserts a new field at `index` (from [`find`](Self::find)); the lookup hints are reset
    /// since indexes moved.
    pub fn insert(&mut self, index: usize, name: &str, required: bool) {
        self.fields.insert(
            index,
            Field {
                name: name.into(),
                shape: Shape::new(),
                required,
                seen_at: 0,
            },
        );
        if required {
            self.required += 1;
        }
        self.order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_folds_into_number() {
        assert_eq!(ty::join(ty::INTEGER, ty::NUMBER), ty::NUMBER);
        assert_eq!(ty::join(ty::NUMBER, ty::INTEGER), ty::NUMBER);
        assert_eq!(
            ty::join(ty::INTEGER, ty::NULL),
            ty::INTEGER | ty::NULL,
            "other types stay"
        );
        let mut s = Shape::new();
        assert!(s.add_types(ty::NUMBER));
        assert!(!s.add_types(ty::INTEGER), "integer after number: no change");
    }

    #[test]
    fn names_are_in_bit_order_and_sorted() {
        let bits: Vec<u8> = ty::NAMES.iter().map(|(b, _)| *b).collect();
        let mut sorted_bits = bits.clone();
        sorted_bits.sort_unstable();
        assert_eq!(bits, sorted_bits);
        let names: Vec<&str> = ty::NAMES.iter().map(|(_, n)| *n).collect();
        let mut sorted_names = names.clone();
        sorted_names.sort_unstable();
        assert_eq!(names, sorted_names);
    }

    #[test]
    fn find_uses_the_order_hint_then_searches() {
        let mut o = ObjectShape::default();
        for name in ["b", "a", "c"] {
            let at = o.find(name, 0).expect_err("new");
            o.insert(at, name, true);
        }
        let names: Vec<&str> = o.fields.iter().map(|f| &*f.name).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(o.required, 3);
        assert_eq!(o.find("c", 0), Ok(2));
        assert_eq!(o.find("a", 1), Ok(0));
        assert_eq!(o.order, [2, 0]);
        assert_eq!(o.find("c", 0), Ok(2), "from the hint");
        assert_eq!(o.find("zz", 2), Err(3));
    }
}
