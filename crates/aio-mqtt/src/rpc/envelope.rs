//! The envelope of AIO's commands: the user properties every request and response carries,
//! the status codes of `__stat`, and the reading of a response's status.
//!
//! | property | on | meaning |
//! |---|---|---|
//! | `__srcId` | both | the sender's MQTT client id |
//! | `__ts` | both | a hybrid logical clock timestamp |
//! | `__protVer` | both | the protocol version (`1.0`) |
//! | `__stat` | response | HTTP-like status; `200` when the payload is the answer |
//! | `__stMsg` | response | the status, in words |
//! | `__apErr` | response | `true` when a non-200 status is the application's error |
//! | `__propName`, `__propVal` | response | the request header at fault, and its value |
//! | `__supProtMajVer`, `__requestProtVer` | response | on a version refusal: what is supported, what was asked |

/// The user property names.
pub mod property {
    /// The sender's MQTT client id.
    pub const SOURCE_ID: &str = "__srcId";
    /// Hybrid logical clock timestamp.
    pub const TIMESTAMP: &str = "__ts";
    /// Protocol version of the message.
    pub const PROTOCOL_VERSION: &str = "__protVer";
    /// HTTP-like status of a response.
    pub const STATUS: &str = "__stat";
    /// Human-readable status message.
    pub const STATUS_MESSAGE: &str = "__stMsg";
    /// `true` when a non-200 status is an application error.
    pub const APPLICATION_ERROR: &str = "__apErr";
    /// A missing or invalid request header.
    pub const INVALID_PROPERTY_NAME: &str = "__propName";
    /// The value of an invalid request header.
    pub const INVALID_PROPERTY_VALUE: &str = "__propVal";
    /// Major versions supported, space separated (on a version error).
    pub const SUPPORTED_MAJOR_VERSIONS: &str = "__supProtMajVer";
    /// The version the refused request asked for.
    pub const REQUEST_PROTOCOL_VERSION: &str = "__requestProtVer";
}

/// Response status codes (`__stat`).
pub mod status {
    /// The payload is the answer (which may still be an application error).
    pub const OK: u16 = 200;
    /// A header is missing or invalid, or the payload cannot be read.
    pub const BAD_REQUEST: u16 = 400;
    /// The request expired before it was executed.
    pub const REQUEST_TIMEOUT: u16 = 408;
    /// The content type is not the protocol's.
    pub const UNSUPPORTED_MEDIA_TYPE: u16 = 415;
    /// The service failed (for example it could not persist the change).
    pub const INTERNAL_SERVER_ERROR: u16 = 500;
    /// The service cannot serve requests now.
    pub const SERVICE_UNAVAILABLE: u16 = 503;
    /// The request's protocol major version is not supported.
    pub const VERSION_NOT_SUPPORTED: u16 = 505;
}

/// The value of user property `name` (the first one).
pub fn find_property<'a>(properties: &'a [(String, String)], name: &str) -> Option<&'a str> {
    properties
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// What a response's status says when it is not `200`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusProblem {
    /// There is no `__stat`, or it is not a number: not a response of the protocol.
    Malformed(String),
    /// The service refused the request: the status and its detail (`__stMsg`, and the
    /// property at fault with its value).
    Refused {
        /// `__stat`.
        status: u16,
        /// What the service said.
        detail: String,
    },
}

/// Reads a response's `__stat`: `Ok` for `200`.
///
/// # Errors
/// [`StatusProblem`] for any other status, or none.
pub fn response_status(properties: &[(String, String)]) -> Result<(), StatusProblem> {
    let status = find_property(properties, property::STATUS)
        .ok_or_else(|| StatusProblem::Malformed("the response has no __stat".into()))?;
    let status: u16 = status.parse().map_err(|_| {
        StatusProblem::Malformed(format!("the response status {status:?} is not a number"))
    })?;
    if status == status::OK {
        return Ok(());
    }
    let mut detail = find_property(properties, property::STATUS_MESSAGE)
        .unwrap_or("no message")
        .to_owned();
    if let Some(name) = find_property(properties, property::INVALID_PROPERTY_NAME) {
        detail.push_str(&format!(" (property {name}"));
        if let Some(value) = find_property(properties, property::INVALID_PROPERTY_VALUE) {
            detail.push_str(&format!(" = {value:?}"));
        }
        detail.push(')');
    }
    Err(StatusProblem::Refused { status, detail })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn statuses_are_read() {
        assert_eq!(response_status(&props(&[("__stat", "200")])), Ok(()));
        assert_eq!(
            response_status(&props(&[
                ("__stat", "400"),
                ("__stMsg", "bad"),
                ("__propName", "__ts"),
                ("__propVal", "x")
            ])),
            Err(StatusProblem::Refused {
                status: 400,
                detail: "bad (property __ts = \"x\")".into()
            })
        );
        assert!(matches!(
            response_status(&props(&[])),
            Err(StatusProblem::Malformed(_))
        ));
        assert!(matches!(
            response_status(&props(&[("__stat", "ok")])),
            Err(StatusProblem::Malformed(_))
        ));
    }
}
