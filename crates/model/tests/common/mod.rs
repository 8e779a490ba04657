//! Helpers shared by the model's integration tests: an in-memory environment and builders.
#![allow(dead_code, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use model::resource::{Decoded, decode};
use model::{Accepted, Build, Environment, FileRef, FileVersion, Located, LookupError, Unreadable};
use serde_json::{Value, json};

/// Secrets and trust lists held in memory; `version` bumps every file's length.
#[derive(Default)]
pub struct FakeEnv {
    pub secrets: BTreeSet<String>,
    pub trust: BTreeMap<String, usize>,
    pub version: u64,
}

impl FakeEnv {
    pub fn with(secrets: &[&str], trust: &[(&str, usize)]) -> Self {
        Self {
            secrets: secrets.iter().map(|s| s.to_string()).collect(),
            trust: trust.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
            version: 0,
        }
    }

    fn file(&self, path: PathBuf) -> FileRef {
        FileRef {
            path,
            version: FileVersion {
                len: self.version,
                modified: None,
            },
        }
    }
}

impl Environment for FakeEnv {
    fn secret(&self, name: &str) -> Result<FileRef, LookupError> {
        let path = Path::new("/secrets").join(name);
        if self.secrets.contains(name) {
            Ok(self.file(path))
        } else {
            Err(LookupError::Missing(path))
        }
    }

    fn trust_list(&self, name: &str) -> Result<Vec<FileRef>, LookupError> {
        let dir = Path::new("/trust").join(name);
        match self.trust.get(name) {
            None => Err(LookupError::Missing(dir)),
            Some(0) => Err(LookupError::NoCertificates(dir)),
            Some(n) => Ok((0..*n)
                .map(|i| self.file(dir.join(format!("ca{i}.pem"))))
                .collect()),
        }
    }
}

/// Decodes a document that must be a device or an asset.
pub fn located(file: &str, doc: Value) -> Located {
    match decode(doc, "fallback") {
        Ok(Decoded::Resource(r)) => Located {
            file: PathBuf::from(file),
            document: 1,
            resource: *r,
        },
        other => panic!("not a resource: {other:?}"),
    }
}

pub fn device(name: &str, endpoint: Value) -> Value {
    json!({
        "apiVersion": "namespaces.deviceregistry.microsoft.com/v1",
        "kind": "Device",
        "metadata": {"name": name},
        "spec": {"endpoints": {"inbound": {"ep": endpoint}}}
    })
}

pub fn anonymous_endpoint() -> Value {
    json!({"endpointType": "Microsoft.SSEHttp", "address": "https://dev.example:8443/base"})
}

pub fn asset(name: &str, spec: Value) -> Value {
    let mut spec = spec;
    if spec.get("deviceRef").is_none() {
        spec["deviceRef"] = json!({"deviceName": "dev", "endpointName": "ep"});
    }
    json!({
        "apiVersion": "namespaces.deviceregistry.microsoft.com/v1",
        "kind": "Asset",
        "metadata": {"name": name},
        "spec": spec
    })
}

pub fn mqtt(topic: &str) -> Value {
    json!([{"target": "Mqtt", "configuration": {"topic": topic}}])
}

/// Builds from scratch (no last good).
pub fn build(env: &FakeEnv, docs: Vec<Located>) -> Build {
    model::build(&docs, &Unreadable::default(), env, &Accepted::new())
}

/// Renders the errors only.
pub fn errors(b: &Build) -> Vec<String> {
    b.problems
        .iter()
        .filter(|p| p.is_error())
        .map(ToString::to_string)
        .collect()
}

/// A valid device `dev` plus an asset with `spec`; returns the errors.
pub fn asset_errors(spec: Value) -> Vec<String> {
    let env = FakeEnv::default();
    let b = build(
        &env,
        vec![
            located("d.yaml", device("dev", anonymous_endpoint())),
            located("a.yaml", asset("a", spec)),
        ],
    );
    errors(&b)
}

/// Asserts that exactly one error is reported and it contains every fragment.
pub fn assert_one_error(errors: &[String], fragments: &[&str]) {
    assert_eq!(errors.len(), 1, "expected one error, got {errors:#?}");
    for f in fragments {
        assert!(errors[0].contains(f), "{:?} lacks {f:?}", errors[0]);
    }
}
