//! The envelope of AIO's commands: the user properties every request and response carries,
//! the status codes of `__stat` and what each means ([`CommandStatus`]: one table for every
//! service), the reading of a response's status, and a request's message expiry.
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

/// What a non-200 `__stat` means, whatever the service answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandStatus {
    /// 400: a header is missing or invalid, or the payload cannot be read.
    BadRequest,
    /// 408: the request expired before it was executed.
    RequestTimeout,
    /// 415: the content type is not the protocol's.
    UnsupportedMediaType,
    /// 500: the service failed.
    InternalServerError,
    /// 503: the service cannot serve requests now.
    ServiceUnavailable,
    /// 505: the request's protocol major version is not supported.
    VersionNotSupported,
    /// Any other status.
    Other,
}

impl CommandStatus {
    /// The one table of statuses: code, meaning, name in reason codes (see
    /// [`status_reasons!`](crate::status_reasons)), and whether the same request may succeed
    /// later (the service, not the request, was at fault).
    pub const TABLE: [(u16, Self, &'static str, bool); 6] = [
        (status::BAD_REQUEST, Self::BadRequest, "bad_request", false),
        (
            status::REQUEST_TIMEOUT,
            Self::RequestTimeout,
            "request_timeout",
            true,
        ),
        (
            status::UNSUPPORTED_MEDIA_TYPE,
            Self::UnsupportedMediaType,
            "unsupported_media_type",
            false,
        ),
        (
            status::INTERNAL_SERVER_ERROR,
            Self::InternalServerError,
            "internal_error",
            true,
        ),
        (
            status::SERVICE_UNAVAILABLE,
            Self::ServiceUnavailable,
            "unavailable",
            true,
        ),
        (
            status::VERSION_NOT_SUPPORTED,
            Self::VersionNotSupported,
            "version_not_supported",
            false,
        ),
    ];

    /// The meaning of `code`.
    pub fn of(code: u16) -> Self {
        Self::TABLE
            .iter()
            .find(|(known, ..)| *known == code)
            .map_or(Self::Other, |(_, status, ..)| *status)
    }

    /// Whether a request answered with this status may succeed later: 408, 500 and 503.
    pub fn is_retryable(self) -> bool {
        Self::TABLE
            .iter()
            .any(|(_, status, _, retryable)| *status == self && *retryable)
    }
}

/// One service's reason codes (for status and metric labels) of the [`CommandStatus`]es, made
/// by [`status_reasons!`](crate::status_reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusReasons([&'static str; 7]);

impl StatusReasons {
    /// The codes in the order of [`CommandStatus`]'s variants; use
    /// [`status_reasons!`](crate::status_reasons), which keeps that order.
    #[doc(hidden)]
    pub const fn new(codes: [&'static str; 7]) -> Self {
        Self(codes)
    }

    /// The reason code of `status`; a missing status counts as [`CommandStatus::Other`].
    pub fn of(&self, status: Option<u16>) -> &'static str {
        let status = status.map_or(CommandStatus::Other, CommandStatus::of);
        self.0[status as usize]
    }
}

/// A service's [`StatusReasons`]: `$prefix` followed by each status's name in
/// [`CommandStatus::TABLE`] (`bad_request`, `request_timeout`, ...), and `$other` for any
/// other status. Reason codes are `&'static str`, so they are made at compile time.
///
/// ```
/// const REASONS: aio_mqtt::rpc::envelope::StatusReasons =
///     aio_mqtt::status_reasons!("greeter_", other = "greeter_unknown_status");
/// assert_eq!(REASONS.of(Some(503)), "greeter_unavailable");
/// assert_eq!(REASONS.of(Some(418)), "greeter_unknown_status");
/// ```
#[macro_export]
macro_rules! status_reasons {
    ($prefix:literal, other = $other:literal) => {
        $crate::rpc::envelope::StatusReasons::new([
            concat!($prefix, "bad_request"),
            concat!($prefix, "request_timeout"),
            concat!($prefix, "unsupported_media_type"),
            concat!($prefix, "internal_error"),
            concat!($prefix, "unavailable"),
            concat!($prefix, "version_not_supported"),
            $other,
        ])
    };
}

/// The Message Expiry Interval of a request that waits `timeout`: whole seconds, rounded up,
/// at least 1.
pub fn expiry_secs(timeout: std::time::Duration) -> u32 {
    let secs = timeout
        .as_secs()
        .saturating_add(u64::from(timeout.subsec_nanos() > 0));
    u32::try_from(secs.max(1)).unwrap_or(u32::MAX)
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
    fn every_status_has_one_meaning_retryability_and_reason() {
        const REASONS: StatusReasons = crate::status_reasons!("p_", other = "p_other");
        for (code, status, name, retryable) in CommandStatus::TABLE {
            assert_eq!(CommandStatus::of(code), status, "{code}");
            assert_eq!(status.is_retryable(), retryable, "{code}");
            assert_eq!(REASONS.of(Some(code)), format!("p_{name}"), "{code}");
        }
        assert_eq!(
            CommandStatus::TABLE.map(|(code, ..)| code),
            [400, 408, 415, 500, 503, 505]
        );
        for code in [0, 200, 204, 404, 422, 599, u16::MAX] {
            assert_eq!(CommandStatus::of(code), CommandStatus::Other, "{code}");
            assert_eq!(REASONS.of(Some(code)), "p_other", "{code}");
        }
        assert!(!CommandStatus::Other.is_retryable());
        assert_eq!(REASONS.of(None), "p_other");
    }

    #[test]
    fn expiry_rounds_up() {
        use std::time::Duration;
        assert_eq!(expiry_secs(Duration::ZERO), 1);
        assert_eq!(expiry_secs(Duration::from_secs(10)), 10);
        assert_eq!(expiry_secs(Duration::from_millis(10_001)), 11);
        assert_eq!(expiry_secs(Duration::MAX), u32::MAX);
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
