//! Checks of a device: endpoint type, address, authentication, secrets, trust list.
//!
//! In AIO one device often has endpoints for several connectors. Endpoints of another type
//! than SSE are not checked: they are skipped with a warning, and only the assets that use
//! them are affected (see `asset.rs`).

use std::collections::BTreeMap;

use super::{NO_KEYS, Report, ResolvedDevice, ResolvedEndpoint, check_json};
use crate::device::{Device, InboundEndpoint, Method};
use crate::endpoint;
use crate::environment::{Environment, LookupError, safe_relative_path};
use crate::plan::Credentials;
use crate::problem::{FieldPath, Problem};

/// Validates a device and resolves its endpoints.
pub fn check_device(
    device: &Device,
    at: &FieldPath,
    env: &dyn Environment,
    report: &mut Report<'_>,
) -> ResolvedDevice {
    let mut endpoints = BTreeMap::new();
    let mut other_endpoints = BTreeMap::new();
    let inbound_path = at.key("endpoints").key("inbound");
    let inbound = device.endpoints.as_ref().and_then(|e| e.inbound.as_ref());
    for (name, ep) in inbound.into_iter().flatten() {
        let path = inbound_path.key(name);
        if !endpoint::is_sse(&ep.endpoint_type) {
            report.warn(
                path.key("endpointType"),
                format!(
                    "{:?} is not served by this connector (it serves {}); endpoint skipped, \
                     with the assets that use it",
                    ep.endpoint_type,
                    endpoint::SSE_ENDPOINT_TYPE
                ),
            );
            other_endpoints.insert(name.clone(), ep.endpoint_type.clone());
        } else if let Some(resolved) = check_endpoint(ep, &path, env, report) {
            endpoints.insert(name.clone(), resolved);
        }
    }
    ResolvedDevice {
        enabled: device.is_enabled(),
        uuid: device.uuid.clone(),
        external_id: device.external_device_id.clone(),
        version: device.version,
        endpoints,
        other_endpoints,
    }
}

/// Checks an SSE endpoint; `None` when it has an error.
fn check_endpoint(
    ep: &InboundEndpoint,
    at: &FieldPath,
    env: &dyn Environment,
    report: &mut Report<'_>,
) -> Option<ResolvedEndpoint> {
    let before = report.problems.len();
    let https = match endpoint::parse_address(&ep.address) {
        Ok(url) => url.scheme() == "https",
        Err(why) => {
            report.error(at.key("address"), why);
            true
        }
    };
    check_json(
        &ep.additional_configuration,
        &at.key("additionalConfiguration"),
        NO_KEYS,
        report,
    );

    let auth_path = at.key("authentication");
    let method = ep
        .authentication
        .as_ref()
        .map(|a| a.method)
        .unwrap_or_default();
    let secret = |name: &str, path: FieldPath, report: &mut Report<'_>| {
        let found = safe_relative_path(name)
            .map_err(LookupError::InvalidName)
            .and_then(|_| env.secret(name));
        match found {
            Ok(file) => Some(file),
            Err(e) => {
                report.error(path, format!("secret {name:?}: {e}"));
                None
            }
        }
    };
    let credentials = match (method, ep.authentication.as_ref()) {
        (Method::Anonymous, _) | (_, None) => Some(Credentials::Anonymous),
        (Method::UsernamePassword, Some(auth)) => {
            let p = auth_path.key("usernamePasswordCredentials");
            match &auth.username_password_credentials {
                None => {
                    report.error(p, "required with method UsernamePassword");
                    None
                }
                Some(c) => {
                    if !https {
                        report.warn(
                            at.key("address"),
                            "a password is sent over plain http; use https",
                        );
                    }
                    let username =
                        secret(&c.username_secret_name, p.key("usernameSecretName"), report);
                    let password =
                        secret(&c.password_secret_name, p.key("passwordSecretName"), report);
                    // Both looked up before either is judged: one missing secret hides nothing.
                    username.zip(password).map(|(username, password)| {
                        Credentials::UsernamePassword { username, password }
                    })
                }
            }
        }
        (Method::Certificate, Some(auth)) => {
            let p = auth_path.key("x509Credentials");
            if !https {
                report.error(
                    at.key("address"),
                    "a client certificate needs an https address",
                );
            }
            let c = auth.x509_credentials.clone().unwrap_or_default();
            let certificate = match &c.certificate_secret_name {
                None => {
                    report.error(
                        p.key("certificateSecretName"),
                        "required with method Certificate",
                    );
                    None
                }
                Some(name) => secret(name, p.key("certificateSecretName"), report),
            };
            let mut optional = |name: &Option<String>, key: &str| match name {
                None => Ok(None),
                Some(n) => secret(n, p.key(key), report).map(Some).ok_or(()),
            };
            let key = optional(&c.key_secret_name, "keySecretName");
            let intermediates = optional(
                &c.intermediate_certificates_secret_name,
                "intermediateCertificatesSecretName",
            );
            match (certificate, key, intermediates) {
                (Some(certificate), Ok(key), Ok(intermediates)) => Some(Credentials::Certificate {
                    certificate,
                    key,
                    intermediates,
                }),
                _ => None,
            }
        }
    };
    let mut trust = Vec::new();
    if let Some(list) = ep
        .trust_settings
        .as_ref()
        .and_then(|t| t.trust_list.as_ref())
    {
        let p = at.key("trustSettings").key("trustList");
        match safe_relative_path(list).map_err(LookupError::InvalidName) {
            Err(e) => report.error(p, format!("trust list {list:?}: {e}")),
            Ok(_) => match env.trust_list(list) {
                Ok(files) => trust = files,
                Err(e) => report.error(p, format!("trust list {list:?}: {e}")),
            },
        }
    }
    let failed = report.problems[before..].iter().any(Problem::is_error);
    match credentials {
        Some(credentials) if !failed => Some(ResolvedEndpoint {
            address: ep.address.clone(),
            credentials,
            trust,
        }),
        _ => None,
    }
}
