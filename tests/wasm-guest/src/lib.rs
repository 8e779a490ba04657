//! The test module of `crates/transform`: AIO's `map`, `filter` and `branch` operators, each
//! doing what the `mode` parameter of its `init` configuration says.
//!
//! | mode | map | filter | branch |
//! |---|---|---|---|
//! | `pass` (default) | the message unchanged (payload handed back unread) | keep | `False` arm |
//! | `json` | adds `"transformed": true` to the JSON object payload (wraps other JSON as `{"value": ..}`) | – | – |
//! | `topic:T` | publishes to topic `T` | – | – |
//! | `drop` | – | drop | – |
//! | `drop-event:E` | – | drops events whose `sse-event` property is `E` | – |
//! | `true` | – | – | `True` arm |
//! | `field:F` | – | keep if the JSON payload has field `F` | `True` arm if it has field `F` |
//! | `loop` | runs forever | runs forever | runs forever |
//! | `panic` | panics | panics | panics |
//! | `oom` | allocates until memory runs out | same | same |
//! | `error` | returns an `error` | same | same |
//! | `init-fails` | `init` returns false | same | same |
//! | `fail-every:N` | every Nth call returns an `error`, others as `pass` | same | same |

use std::cell::RefCell;

wit_bindgen::generate!({
    path: "../../crates/transform/wit",
    world: "operators",
    generate_all,
});

use exports::wasm_graph::processor::{branch, filter, r#map};
use wasm_graph::processor::hybrid_logical_clock::HybridLogicalClock;
use wasm_graph::processor::types::{
    BufferOrBytes, BufferOrString, DataModel, Error, Message, ModuleConfiguration,
};

thread_local! {
    static MODE: RefCell<String> = const { RefCell::new(String::new()) };
    static CALLS: RefCell<u64> = const { RefCell::new(0) };
}

struct Operators;

fn init(configuration: &ModuleConfiguration) -> bool {
    let mode = configuration
        .properties
        .iter()
        .find(|(k, _)| k == "mode")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| "pass".to_owned());
    let ok = mode != "init-fails";
    MODE.with(|m| *m.borrow_mut() = mode);
    ok
}

fn mode() -> String {
    MODE.with(|m| m.borrow().clone())
}

/// The common failure modes; `Some` ends the call.
fn fail(mode: &str) -> Option<Error> {
    match mode {
        "loop" => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        "panic" => panic!("the test module panics on purpose"),
        "oom" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "error" => Some(Error {
            message: "the test module fails on purpose".into(),
        }),
        m => {
            let every: u64 = m.strip_prefix("fail-every:")?.parse().ok()?;
            let n = CALLS.with(|c| {
                *c.borrow_mut() += 1;
                *c.borrow()
            });
            (every > 0 && n.is_multiple_of(every)).then(|| Error {
                message: format!("call {n} fails on purpose"),
            })
        }
    }
}

fn bytes(value: &BufferOrBytes) -> Vec<u8> {
    match value {
        BufferOrBytes::Buffer(b) => b.read(),
        BufferOrBytes::Bytes(b) => b.clone(),
    }
}

fn string(value: &BufferOrString) -> String {
    match value {
        BufferOrString::Buffer(b) => String::from_utf8_lossy(&b.read()).into_owned(),
        BufferOrString::String(s) => s.clone(),
    }
}

fn message(data: &DataModel) -> Result<&Message, Error> {
    match data {
        DataModel::Message(m) => Ok(m),
        _ => Err(Error {
            message: "the test module takes messages only".into(),
        }),
    }
}

fn has_field(m: &Message, field: &str) -> bool {
    serde_json::from_slice::<serde_json::Value>(&bytes(&m.payload))
        .ok()
        .and_then(|v| v.get(field).cloned())
        .is_some()
}

impl r#map::Guest for Operators {
    fn init(configuration: ModuleConfiguration) -> bool {
        init(&configuration)
    }

    fn process(data: DataModel) -> Result<DataModel, Error> {
        let mode = mode();
        if let Some(e) = fail(&mode) {
            return Err(e);
        }
        let DataModel::Message(mut m) = data else {
            return Err(Error {
                message: "the test module takes messages only".into(),
            });
        };
        if mode == "json" {
            let value: serde_json::Value =
                serde_json::from_slice(&bytes(&m.payload)).map_err(|e| Error {
                    message: format!("the payload is not JSON: {e}"),
                })?;
            let mut object = match value {
                serde_json::Value::Object(o) => o,
                other => {
                    let mut o = serde_json::Map::new();
                    o.insert("value".into(), other);
                    o
                }
            };
            object.insert("transformed".into(), serde_json::Value::Bool(true));
            let out = serde_json::to_vec(&object).map_err(|e| Error {
                message: e.to_string(),
            })?;
            m.payload = BufferOrBytes::Bytes(out);
        } else if let Some(topic) = mode.strip_prefix("topic:") {
            m.topic = BufferOrBytes::Bytes(topic.as_bytes().to_vec());
        }
        Ok(DataModel::Message(m))
    }
}

impl filter::Guest for Operators {
    fn init(configuration: ModuleConfiguration) -> bool {
        init(&configuration)
    }

    fn process(data: DataModel) -> Result<bool, Error> {
        let mode = mode();
        if let Some(e) = fail(&mode) {
            return Err(e);
        }
        let m = message(&data)?;
        if mode == "drop" {
            return Ok(false);
        }
        if let Some(event) = mode.strip_prefix("drop-event:") {
            let is = m
                .properties
                .user_properties
                .iter()
                .any(|(k, v)| string(k) == "sse-event" && string(v) == event);
            return Ok(!is);
        }
        if let Some(field) = mode.strip_prefix("field:") {
            return Ok(has_field(m, field));
        }
        Ok(true)
    }
}

impl branch::Guest for Operators {
    fn init(configuration: ModuleConfiguration) -> bool {
        init(&configuration)
    }

    fn process(_timestamp: HybridLogicalClock, data: DataModel) -> Result<bool, Error> {
        let mode = mode();
        if let Some(e) = fail(&mode) {
            return Err(e);
        }
        let m = message(&data)?;
        if mode == "true" {
            return Ok(true);
        }
        if let Some(field) = mode.strip_prefix("field:") {
            return Ok(has_field(m, field));
        }
        Ok(false)
    }
}

export!(Operators);
