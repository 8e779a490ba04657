//! The fast path: a serde [`DeserializeSeed`] that walks a JSON payload once and merges it
//! into a [`Shape`] in place (no `serde_json::Value`, no allocation for keys without escapes
//! or for values), noting whether the shape changed. [`Inferrer`] wraps it with the sampling
//! policy and keeps the shape unchanged when a payload turns out not to be JSON halfway.

use std::fmt;
use std::num::NonZeroU64;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::emit::{self, Schema};
use crate::error::InferError;
use crate::shape::{Limits, Shape, ty};

/// Which payloads an [`Inferrer`] looks at: every one of the first `warmup`, then one in
/// `every`.
///
/// The default looks at every payload (`warmup` 100, `every` 1): the visitor costs about as
/// much as validating the JSON, so checking every event is cheap, and it keeps the guarantee
/// that every payload validates against the latest schema. With `every` > 1, a new shape is
/// noticed at the next sampled payload of that shape, and payloads in between may not
/// validate against the schema of the moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sampling {
    /// Payloads looked at unconditionally at the start.
    pub warmup: u64,
    /// After the warmup, one payload in `every` is looked at.
    pub every: NonZeroU64,
}

impl Default for Sampling {
    fn default() -> Self {
        Self {
            warmup: 100,
            every: NonZeroU64::MIN,
        }
    }
}

impl Sampling {
    /// Whether the `n`-th payload (1-based) is looked at.
    pub fn takes(&self, n: u64) -> bool {
        n <= self.warmup || (n - self.warmup).is_multiple_of(self.every.get())
    }
}

/// What [`Inferrer::observe`] did with a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// The payload widened the shape: the schema text is different now.
    Changed,
    /// The payload fits the shape as it was.
    Unchanged,
    /// Not sampled (see [`Sampling`]).
    Skipped,
}

/// Infers the schema of a sequence of JSON payloads (one data operation's), merging every
/// sampled payload into one [`Shape`].
#[derive(Debug, Clone, Default)]
pub struct Inferrer {
    shape: Shape,
    /// The shape after the last payload that changed it: restored when a payload fails to
    /// parse after it had changed the shape (a truncated or malformed document).
    committed: Shape,
    /// Nodes in `shape`, the root included.
    nodes: usize,
    limits: Limits,
    sampling: Sampling,
    payloads: u64,
}

impl Inferrer {
    /// An inferrer with the default [`Limits`] and [`Sampling`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The same with other limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The same with another sampling policy.
    pub fn with_sampling(mut self, sampling: Sampling) -> Self {
        self.sampling = sampling;
        self
    }

    /// Merges `payload` into the shape when it is sampled, and says whether that changed it.
    ///
    /// # Errors
    /// [`InferError`] of kind [`NotJson`](crate::InferErrorKind::NotJson) when `payload` is
    /// not exactly one JSON value (or nests deeper than the parser's 128 levels); the shape is
    /// then as it was before.
    pub fn observe(&mut self, payload: &[u8]) -> Result<Observed, InferError> {
        self.payloads += 1;
        if !self.sampling.takes(self.payloads) {
            return Ok(Observed::Skipped);
        }
        let mut ctx = Ctx {
            limits: &self.limits,
            changed: false,
            nodes: self.nodes.max(1),
            overflow: false,
        };
        let mut de = serde_json::Deserializer::from_slice(payload);
        let seed = ValueSeed {
            shape: &mut self.shape,
            ctx: &mut ctx,
            depth: 0,
        };
        let parsed = seed.deserialize(&mut de).and_then(|()| de.end());
        let (changed, overflow, nodes) = (ctx.changed, ctx.overflow, ctx.nodes);
        if let Err(error) = parsed {
            if changed {
                self.shape = self.committed.clone();
            }
            return Err(InferError::not_json(&error));
        }
        if !changed {
            return Ok(Observed::Unchanged);
        }
        self.nodes = nodes;
        if overflow {
            self.nodes = 1;
            self.shape.make_any();
        }
        self.committed = self.shape.clone();
        Ok(Observed::Changed)
    }

    /// The schema of the payloads seen so far.
    pub fn schema(&self) -> Schema {
        emit::schema(&self.shape)
    }

    /// The merged shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// Payloads given to [`observe`](Self::observe), sampled or not, JSON or not.
    pub fn payloads(&self) -> u64 {
        self.payloads
    }

    /// Merges another inferrer's shape into this one (see [`Shape::merge`]); returns whether
    /// this shape changed.
    pub fn absorb(&mut self, other: &Shape) -> bool {
        let changed = self.shape.merge(other, &self.limits);
        if changed {
            self.nodes = 1 + self.shape.descendants();
            self.committed = self.shape.clone();
        }
        changed
    }
}

/// The schema of `payloads` merged, with the default limits.
///
/// # Errors
/// The first payload that is not JSON.
pub fn infer<P: AsRef<[u8]>>(payloads: impl IntoIterator<Item = P>) -> Result<Schema, InferError> {
    let mut inferrer = Inferrer::new();
    for payload in payloads {
        inferrer.observe(payload.as_ref())?;
    }
    Ok(inferrer.schema())
}

/// What a walk shares across nodes.
struct Ctx<'l> {
    limits: &'l Limits,
    changed: bool,
    /// Nodes in the shape, the root included.
    nodes: usize,
    /// Past `max_nodes`: the rest is skipped and the root made permissive at the end.
    overflow: bool,
}

impl Ctx<'_> {
    fn add_node(&mut self) {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            self.overflow = true;
        }
    }
}

/// Merges one value into `shape`.
struct ValueSeed<'s, 'c, 'l> {
    shape: &'s mut Shape,
    ctx: &'c mut Ctx<'l>,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.shape.any || self.ctx.overflow {
            return deserializer.deserialize_ignored_any(IgnoredAny).map(drop);
        }
        if self.depth > self.ctx.limits.max_depth {
            let removed = self.shape.make_any();
            self.ctx.nodes -= removed;
            self.ctx.changed = true;
            return deserializer.deserialize_ignored_any(IgnoredAny).map(drop);
        }
        deserializer.deserialize_any(self)
    }
}

impl ValueSeed<'_, '_, '_> {
    fn add(self, bits: u8) {
        if self.shape.add_types(bits) {
            self.ctx.changed = true;
        }
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        self.add(ty::BOOLEAN);
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        self.add(ty::INTEGER);
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        self.add(ty::INTEGER);
        Ok(())
    }

    fn visit_i128<E>(self, _: i128) -> Result<(), E> {
        self.add(ty::INTEGER);
        Ok(())
    }

    fn visit_u128<E>(self, _: u128) -> Result<(), E> {
        self.add(ty::INTEGER);
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        self.add(ty::NUMBER);
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        self.add(ty::STRING);
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.add(ty::NULL);
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        self.add(ty::NULL);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let ValueSeed { shape, ctx, depth } = self;
        if shape.add_types(ty::ARRAY) {
            ctx.changed = true;
        }
        let created = shape.items.is_none();
        let items = shape.items.get_or_insert_with(Box::default);
        let mut elements = 0usize;
        let walked = loop {
            let seed = ValueSeed {
                shape: items,
                ctx,
                depth: depth + 1,
            };
            match seq.next_element_seed(seed) {
                Ok(Some(())) => elements += 1,
                Ok(None) => break Ok(()),
                Err(error) => break Err(error),
            }
        };
        // Also on error: an element-less `items` must not stay (nothing would restore it).
        if created {
            if elements == 0 {
                shape.items = None;
            } else {
                ctx.add_node();
            }
        }
        walked
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ValueSeed { shape, ctx, depth } = self;
        if shape.add_types(ty::OBJECT) {
            ctx.changed = true;
        }
        let object = shape.object.get_or_insert_with(Box::default);
        object.visits += 1;
        let stamp = object.visits;
        // In the first object seen here every key is required; later, new keys are not.
        let first = stamp == 1;
        let mut seen_required = 0usize;
        let mut position = 0usize;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if object.open || ctx.overflow {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let name = key.as_str();
            let index = match object.find(name, position) {
                Ok(index) => index,
                Err(_)
                    if name.len() > ctx.limits.max_key_len
                        || object.fields.len() >= ctx.limits.max_properties =>
                {
                    ctx.nodes -= object.make_open();
                    ctx.changed = true;
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                Err(index) => {
                    object.insert(index, name, first);
                    ctx.add_node();
                    ctx.changed = true;
                    index
                }
            };
            position += 1;
            let Some(field) = object.fields.get_mut(index) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            if field.seen_at != stamp {
                field.seen_at = stamp;
                seen_required += usize::from(field.required);
            }
            map.next_value_seed(ValueSeed {
                shape: &mut field.shape,
                ctx,
                depth: depth + 1,
            })?;
        }
        if !object.open && seen_required < object.required {
            for field in &mut object.fields {
                if field.required && field.seen_at != stamp {
                    field.required = false;
                    object.required -= 1;
                }
            }
            ctx.changed = true;
        }
        Ok(())
    }
}

/// A property name: borrowed from the payload when it has no escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Self::Borrowed(s) => s,
            Self::Owned(s) => s,
        }
    }
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key<'de>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a property name")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
        Ok(Key::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
        Ok(Key::Owned(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
        Ok(Key::Owned(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(payloads: &[&str]) -> String {
        infer(payloads.iter().map(|p| p.as_bytes()))
            .expect("JSON")
            .content
    }

    #[test]
    fn reports_changes_only_when_the_schema_text_changes() {
        let mut inf = Inferrer::new();
        let cases: [(&str, Observed); 9] = [
            (r#"{"a":1,"b":"x"}"#, Observed::Changed),
            (r#"{"b":"y","a":2}"#, Observed::Unchanged),
            (r#"{"a":1.5,"b":"x"}"#, Observed::Changed),
            (r#"{"a":3,"b":"x"}"#, Observed::Unchanged),
            (r#"{"a":3}"#, Observed::Changed),
            (r#"{"a":3}"#, Observed::Unchanged),
            (r#"{"a":3,"c":[]}"#, Observed::Changed),
            (r#"{"a":3,"c":[1]}"#, Observed::Changed),
            (r#"{"a":null,"c":[2],"b":"z"}"#, Observed::Changed),
        ];
        for (i, (payload, expected)) in cases.iter().enumerate() {
            let before = inf.schema().content;
            let got = inf.observe(payload.as_bytes()).expect("JSON");
            assert_eq!(got, *expected, "payload {i}: {payload}");
            assert_eq!(
                before != inf.schema().content,
                got == Observed::Changed,
                "payload {i}"
            );
        }
    }

    #[test]
    fn not_json_leaves_the_shape_as_it_was() {
        let mut inf = Inferrer::new();
        inf.observe(br#"{"a":1}"#).expect("JSON");
        let before = inf.schema().content;
        for bad in [
            &b"leak"[..],
            br#"{"a":"x","b":[1,2"#,
            br#"{"a":1} {"#,
            b"",
            br#"{"b":true,}"#,
        ] {
            let err = inf.observe(bad).expect_err("not JSON");
            assert_eq!(err.reason_code(), "not_json");
            assert_eq!(inf.schema().content, before);
        }
        assert_eq!(
            inf.observe(br#"{"a":2}"#).expect("JSON"),
            Observed::Unchanged
        );
        // An array cut before its first element leaves no `items` behind (found by proptest).
        let mut inf = Inferrer::new();
        inf.observe(b"[]").expect("JSON");
        let before = inf.schema();
        assert!(inf.observe(b"[").is_err());
        assert_eq!(inf.schema(), before);
    }

    #[test]
    fn sampling_skips_after_the_warmup() {
        let sampling = Sampling {
            warmup: 2,
            every: NonZeroU64::new(3).expect("not zero"),
        };
        let taken: Vec<u64> = (1..=10).filter(|n| sampling.takes(*n)).collect();
        assert_eq!(taken, [1, 2, 5, 8]);
        let mut inf = Inferrer::new().with_sampling(sampling);
        let got: Vec<Observed> = (0..5)
            .map(|i| {
                inf.observe(format!("{{\"f{i}\":1}}").as_bytes())
                    .expect("JSON")
            })
            .collect();
        use Observed::*;
        assert_eq!(got, [Changed, Changed, Skipped, Skipped, Changed]);
        assert_eq!(inf.payloads(), 5);
    }

    #[test]
    fn depth_limit_gives_a_permissive_node() {
        let limits = Limits {
            max_depth: 2,
            ..Limits::default()
        };
        let mut inf = Inferrer::new().with_limits(limits);
        inf.observe(br#"{"a":{"b":{"c":1}},"x":[[[1]]]}"#)
            .expect("JSON");
        assert_eq!(
            inf.schema().content,
            r#"{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"a":{"properties":{"b":{"properties":{"c":{}},"required":["c"],"type":"object"}},"required":["b"],"type":"object"},"x":{"items":{"items":{},"type":"array"},"type":"array"}},"required":["a","x"],"type":"object"}"#
        );
    }

    #[test]
    fn property_and_key_limits_open_the_object() {
        let limits = Limits {
            max_properties: 3,
            max_key_len: 8,
            ..Limits::default()
        };
        let open = r#"{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"m":{"type":"object"}},"required":["m"],"type":"object"}"#;
        let mut inf = Inferrer::new().with_limits(limits);
        inf.observe(br#"{"m":{"a":1,"b":2,"c":3}}"#).expect("JSON");
        assert_eq!(
            inf.observe(br#"{"m":{"d":{"deep":[1]}}}"#).expect("JSON"),
            Observed::Changed
        );
        assert_eq!(inf.schema().content, open);
        assert_eq!(inf.nodes, 2, "the fields' nodes are gone");
        assert_eq!(
            inf.observe(br#"{"m":{"e":5}}"#).expect("JSON"),
            Observed::Unchanged
        );
        let mut inf = Inferrer::new().with_limits(limits);
        inf.observe(br#"{"m":{"a_long_name":1}}"#).expect("JSON");
        assert_eq!(inf.schema().content, open);
    }

    #[test]
    fn node_limit_makes_the_whole_schema_permissive() {
        let limits = Limits {
            max_nodes: 10,
            ..Limits::default()
        };
        let mut inf = Inferrer::new().with_limits(limits);
        inf.observe(br#"{"a":1,"b":2}"#).expect("JSON");
        let wide: String = format!(
            "{{{}}}",
            (0..20)
                .map(|i| format!("\"k{i}\":{i}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert_eq!(
            inf.observe(wide.as_bytes()).expect("JSON"),
            Observed::Changed
        );
        assert_eq!(
            inf.schema().content,
            r#"{"$schema":"http://json-schema.org/draft-07/schema#"}"#
        );
        assert_eq!(
            inf.observe(br#"{"z":[{"y":1}]}"#).expect("JSON"),
            Observed::Unchanged
        );
    }

    #[test]
    fn escaped_and_duplicate_keys() {
        let t = text(&[r#"{"a\"b":1,"x":1,"x":2}"#, r#"{"a\"b":2,"x":3}"#]);
        assert_eq!(
            t,
            r#"{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"a\"b":{"type":"integer"},"x":{"type":"integer"}},"required":["a\"b","x"],"type":"object"}"#
        );
        // A duplicated key does not stand in for a missing one.
        let t = text(&[r#"{"a":1,"b":1}"#, r#"{"a":1,"a":2}"#]);
        assert!(t.contains(r#""required":["a"]"#), "{t}");
    }
}
