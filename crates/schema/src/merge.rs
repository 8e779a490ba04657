//! The join of two shapes: what a schema must allow to describe the samples of both.
//!
//! Per node: the union of the JSON types (`integer` folded into `number`); for objects, the
//! union of the properties, a property required only when both sides require it (a property
//! one side never saw is absent from some of its objects); for arrays, the join of the items;
//! a permissive node (`{}`) absorbs anything. This join is commutative, associative and
//! idempotent, which is why the schema of a set of samples does not depend on their order.
//! The visitor in [`infer`](mod@crate::infer) computes exactly `shape ⊔ shape_of(payload)` in
//! place, without building `shape_of(payload)`.
//!
//! Limits: an object whose joined properties outnumber [`Limits::max_properties`] stops
//! listing them, and a join whose nodes outnumber [`Limits::max_nodes`] becomes `{}` (see
//! [`Limits`] for when the latter can depend on the order).

use crate::shape::{Limits, ObjectShape, Shape};

impl Shape {
    /// Joins `other` into `self`; returns whether `self` changed (its schema text did).
    ///
    /// Both shapes are expected to come from the same [`Limits`]; `max_properties` and
    /// `max_nodes` are applied to the result.
    pub fn merge(&mut self, other: &Shape, limits: &Limits) -> bool {
        let mut changed = self.join(other, limits);
        if !self.any && 1 + self.descendants() > limits.max_nodes {
            self.make_any();
            changed = true;
        }
        changed
    }

    fn join(&mut self, other: &Shape, limits: &Limits) -> bool {
        if self.any {
            return false;
        }
        if other.any {
            self.make_any();
            return true;
        }
        let mut changed = self.add_types(other.types);
        if let Some(theirs) = &other.object {
            match &mut self.object {
                Some(ours) => changed |= ours.join(theirs, limits),
                None => {
                    self.object = Some(theirs.clone());
                    changed = true;
                }
            }
        }
        if let Some(theirs) = &other.items {
            match &mut self.items {
                Some(ours) => changed |= ours.join(theirs, limits),
                None => {
                    self.items = Some(theirs.clone());
                    changed = true;
                }
            }
        }
        changed
    }
}

impl ObjectShape {
    fn join(&mut self, theirs: &ObjectShape, limits: &Limits) -> bool {
        if self.open {
            return false;
        }
        if theirs.open {
            self.make_open();
            return true;
        }
        let mut changed = false;
        // Fields of ours that `theirs` lacks are not in every object any more.
        for field in &mut self.fields {
            let in_theirs = theirs
                .fields
                .binary_search_by(|f| f.name.cmp(&field.name))
                .is_ok();
            if field.required && !in_theirs {
                field.required = false;
                self.required -= 1;
                changed = true;
            }
        }
        for field in &theirs.fields {
            match self.fields.binary_search_by(|f| f.name.cmp(&field.name)) {
                Ok(index) => {
                    let ours = &mut self.fields[index];
                    changed |= ours.shape.join(&field.shape, limits);
                    if ours.required && !field.required {
                        ours.required = false;
                        self.required -= 1;
                        changed = true;
                    }
                }
                Err(index) => {
                    self.insert(index, &field.name, false);
                    self.fields[index].shape = field.shape.clone();
                    changed = true;
                }
            }
        }
        if self.fields.len() > limits.max_properties {
            self.make_open();
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use crate::{Inferrer, Limits};

    fn shape_of(payloads: &[&str]) -> Inferrer {
        let mut inf = Inferrer::new();
        for p in payloads {
            inf.observe(p.as_bytes()).expect("JSON");
        }
        inf
    }

    #[test]
    fn merge_equals_observing_everything() {
        let a = [r#"{"a":1,"o":{"x":true}}"#, r#"{"a":2,"l":[1]}"#];
        let b = [
            r#"{"a":1.5,"o":{"y":null}}"#,
            r#"{"a":null,"o":"s","l":[]}"#,
        ];
        let all: Vec<&str> = a.iter().chain(&b).copied().collect();
        let expected = shape_of(&all).schema();
        let mut left = shape_of(&a);
        assert!(left.absorb(shape_of(&b).shape()));
        assert_eq!(left.schema(), expected);
        let mut right = shape_of(&b);
        assert!(right.absorb(shape_of(&a).shape()));
        assert_eq!(right.schema(), expected);
        assert!(!right.absorb(shape_of(&a).shape()), "idempotent");
    }

    #[test]
    fn merge_applies_the_property_cap() {
        let limits = Limits {
            max_properties: 2,
            ..Limits::default()
        };
        let mut left = Inferrer::new().with_limits(limits);
        left.observe(br#"{"a":1,"b":1}"#).expect("JSON");
        let mut right = Inferrer::new().with_limits(limits);
        right.observe(br#"{"c":1}"#).expect("JSON");
        assert!(left.absorb(right.shape()));
        assert_eq!(
            left.schema().content,
            r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"object"}"#
        );
    }
}
