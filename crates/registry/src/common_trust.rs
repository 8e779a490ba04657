//! Certificates every endpoint trusts: the connector-level trust list (`--trust-all-endpoints
//! DIR`, or Akri's `CONNECTOR_TRUST_SETTINGS_MOUNT_PATH`) added to each stream's own.

use std::path::Path;

use model::{FieldPath, Plan, Problem};

use crate::secrets::trust_files;

/// Adds every PEM certificate of `dir` to the trust of every stream of `plan`. A directory
/// that is missing or holds no certificate adds nothing and is reported as an error (streams
/// whose servers need it fail their TLS handshake and say so).
pub fn apply(plan: &mut Plan, dir: &Path) -> Option<Problem> {
    let files = match trust_files(dir, dir) {
        Ok(files) => files,
        Err(error) => {
            return Some(Problem::error(
                dir,
                "trust for every endpoint",
                FieldPath::root(),
                format!("cannot be used: {error}"),
            ));
        }
    };
    for operation in plan.operations.values_mut() {
        let trust = &mut operation.stream.trust;
        trust.extend(
            files
                .iter()
                .filter(|f| !trust.contains(f))
                .cloned()
                .collect::<Vec<_>>(),
        );
        trust.sort();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_directory_is_an_error_that_names_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("connector-trust");
        let problem = apply(&mut Plan::default(), &missing).expect("a problem");
        assert!(problem.is_error());
        assert!(problem.to_string().contains("connector-trust"), "{problem}");
    }
}
