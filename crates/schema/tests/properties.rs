//! Property tests of inference: every sampled payload validates against the inferred schema
//! (checked by the `jsonschema` crate, draft-07), within the default limits and tight ones;
//! the order of the samples does not change a byte of the schema; the same samples give the
//! same text and name; `Changed` is reported exactly when the text changes; merging shapes
//! equals observing all the samples.
#![allow(clippy::unwrap_used, missing_docs)]

use proptest::prelude::*;
use schema::{Inferrer, Limits, Observed};
use serde_json::Value;

/// JSON values whose objects share a few keys (so merging has something to do), with every
/// type, escapes in keys, and nesting.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        "[a-z\"\\\\\u{1}é]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("a".to_owned()),
                    Just("b".to_owned()),
                    Just("c".to_owned()),
                    Just("q\"\\".to_owned()),
                    "[a-f]{1,3}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn samples() -> impl Strategy<Value = Vec<Value>> {
    prop::collection::vec(json(), 1..8)
}

fn tight() -> Limits {
    Limits {
        max_depth: 2,
        max_properties: 3,
        max_key_len: 2,
        max_nodes: 12,
    }
}

fn infer(samples: &[Value], limits: Limits) -> Inferrer {
    let mut inferrer = Inferrer::new().with_limits(limits);
    for sample in samples {
        let bytes = serde_json::to_vec(sample).unwrap();
        inferrer.observe(&bytes).unwrap();
    }
    inferrer
}

fn assert_all_valid(samples: &[Value], limits: Limits) -> Result<(), TestCaseError> {
    let text = infer(samples, limits).schema().content;
    let schema: Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    for sample in samples {
        prop_assert!(
            validator.is_valid(sample),
            "{sample} does not validate against {text}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_sample_validates(samples in samples()) {
        assert_all_valid(&samples, Limits::default())?;
    }

    #[test]
    fn every_sample_validates_beyond_the_limits(samples in samples()) {
        assert_all_valid(&samples, tight())?;
    }

    #[test]
    fn order_does_not_change_a_byte(
        (samples, shuffled) in samples().prop_flat_map(|s| (Just(s.clone()), Just(s).prop_shuffle()))
    ) {
        let a = infer(&samples, Limits::default()).schema();
        let b = infer(&shuffled, Limits::default()).schema();
        prop_assert_eq!(&a, &b);
        // Within the property and depth caps too (no sample here crosses the node cap of 12
        // in a way that depends on the order: see `Limits`).
        let limits = Limits { max_nodes: 4096, ..tight() };
        prop_assert_eq!(infer(&samples, limits).schema(), infer(&shuffled, limits).schema());
    }

    #[test]
    fn same_samples_same_text_and_name(samples in samples()) {
        let a = infer(&samples, Limits::default()).schema();
        let b = infer(&samples, Limits::default()).schema();
        prop_assert_eq!(&a.name, &schema::name_of(&a.content));
        prop_assert_eq!(a, b);
    }

    #[test]
    fn changed_exactly_when_the_text_changes(samples in samples()) {
        let mut inferrer = Inferrer::new();
        let mut text = inferrer.schema().content;
        for sample in &samples {
            let observed = inferrer.observe(&serde_json::to_vec(sample).unwrap()).unwrap();
            let now = inferrer.schema().content;
            prop_assert_eq!(observed == Observed::Changed, now != text, "after {}", sample);
            text = now;
        }
    }

    #[test]
    fn merging_equals_observing_all(left in samples(), right in samples()) {
        let mut merged = infer(&left, Limits::default());
        merged.absorb(infer(&right, Limits::default()).shape());
        let all: Vec<Value> = left.iter().chain(&right).cloned().collect();
        prop_assert_eq!(merged.schema(), infer(&all, Limits::default()).schema());
    }

    #[test]
    fn bytes_that_are_not_json_change_nothing(samples in samples(), junk in prop::collection::vec(any::<u8>(), 0..40)) {
        let mut inferrer = infer(&samples, Limits::default());
        let before = inferrer.schema();
        let mut bad = serde_json::to_vec(&samples[0]).unwrap();
        bad.extend_from_slice(b" ,");
        bad.extend_from_slice(&junk);
        prop_assert!(inferrer.observe(&bad).is_err());
        if let Ok(observed) = inferrer.observe(&junk) {
            prop_assert!(serde_json::from_slice::<Value>(&junk).is_ok(), "{:?} {:?}", junk, observed);
        } else {
            prop_assert_eq!(inferrer.schema(), before);
        }
    }
}
