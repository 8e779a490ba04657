//! Where each failure lands in the **configuration status** (`error`): what only a change of
//! the definition, a secret or a trust list fixes. A definition's validation errors go on its
//! device or asset ([`config_status`]); a stream that failed for good (401, 404, TLS…) on each
//! dataset and event reading it, and also on the device's endpoint when the cause is the
//! endpoint's ([`is_endpoint_wide`]: credentials, TLS, trust), naming the secrets to check
//! ([`stream_error`]). What [`assemble`](crate::assemble) puts on each part.

use std::path::{Path, PathBuf};

use model::plan::{Credentials, Operation};

use crate::aio::{ConfigError, ConfigStatus, ErrorDetail};

/// The configuration status of a device or asset at `version` with its validation `problems`.
pub(crate) fn config_status(version: Option<u64>, problems: Vec<&model::Problem>) -> ConfigStatus {
    let error = match problems.as_slice() {
        [] => None,
        [only] => Some(ConfigError {
            code: Some("invalid_definition".into()),
            message: Some(format!(
                "{}: {}: {}",
                only.file.display(),
                only.path.as_str(),
                only.message
            )),
            details: vec![detail(only)],
        }),
        [first, ..] => Some(ConfigError {
            code: Some("invalid_definition".into()),
            message: Some(format!(
                "{} problems in {}; the first: {}: {}",
                problems.len(),
                first.file.display(),
                first.path.as_str(),
                first.message
            )),
            details: problems.iter().map(|p| detail(p)).collect(),
        }),
    };
    ConfigStatus {
        version,
        last_transition_time: String::new(),
        error,
    }
}

fn detail(problem: &model::Problem) -> ErrorDetail {
    ErrorDetail {
        code: Some("invalid_definition".into()),
        message: Some(problem.message.clone()),
        info: Some(format!(
            "{}: {}",
            problem.file.display(),
            problem.path.as_str()
        )),
    }
}

/// Failures whose cause is the endpoint's settings (credentials, TLS, trust), not one path.
pub(crate) fn is_endpoint_wide(code: &str) -> bool {
    matches!(
        code,
        "http_unauthorized"
            | "http_forbidden"
            | "tls_server_certificate_rejected"
            | "tls_client_certificate_rejected"
            | "tls_handshake_failed"
            | "trust_list_invalid"
            | "client_certificate_invalid"
            | "secret_unreadable"
    )
}

/// The HTTP status behind a reason code, as AIO's examples show codes (`"400"`).
fn http_code(code: &str) -> Option<&'static str> {
    Some(match code {
        "http_bad_request" => "400",
        "http_unauthorized" => "401",
        "http_forbidden" => "403",
        "http_not_found" => "404",
        "http_method_not_allowed" => "405",
        "http_not_acceptable" => "406",
        "http_gone" => "410",
        _ => return None,
    })
}

/// The configuration error of a stream that failed for good, with the secrets to check when
/// the credentials were refused (their names, never their values).
pub(crate) fn stream_error(
    code: &str,
    reason: &str,
    op: &Operation,
    secrets_dir: &Path,
) -> ConfigError {
    let secrets: Vec<String> = match (&op.stream.credentials, code) {
        (
            Credentials::UsernamePassword { username, password },
            "http_unauthorized" | "http_forbidden",
        ) => vec![
            secret_name(&username.path, secrets_dir),
            secret_name(&password.path, secrets_dir),
        ],
        (
            Credentials::Certificate {
                certificate, key, ..
            },
            "tls_client_certificate_rejected" | "client_certificate_invalid",
        ) => std::iter::once(&certificate.path)
            .chain(key.iter().map(|k| &k.path))
            .map(|p| secret_name(p, secrets_dir))
            .collect(),
        _ => Vec::new(),
    };
    let message = if secrets.is_empty() {
        reason.to_owned()
    } else {
        format!("{reason}; check secret {}", secrets.join(" and "))
    };
    ConfigError::new(http_code(code).unwrap_or(code), message)
}

/// `sse-creds/password` for `<secrets>/sse-creds/password`.
fn secret_name(path: &Path, secrets_dir: &Path) -> String {
    path.strip_prefix(secrets_dir)
        .map(PathBuf::from)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_of_the_endpoint_are_told_apart_from_those_of_a_path() {
        assert!(is_endpoint_wide("http_unauthorized"));
        assert!(is_endpoint_wide("tls_server_certificate_rejected"));
        assert!(!is_endpoint_wide("http_not_found"));
        assert_eq!(http_code("http_not_found"), Some("404"));
        assert_eq!(http_code("wrong_content_type"), None);
    }

    #[test]
    fn secret_names_are_relative_to_the_secrets_directory() {
        assert_eq!(
            secret_name(
                Path::new("/r/secrets/sse-creds/password"),
                Path::new("/r/secrets")
            ),
            "sse-creds/password"
        );
    }
}
