//! The MQTT side of the protocol, pure: topics, user properties, status codes, timestamps.
//!
//! | what | value |
//! |---|---|
//! | request topic | `statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke` |
//! | response topic | `clients/{clientId}/services/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke/response` |
//! | notification topic | `clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/{HEX(clientId)}/command/notify/{HEX(key)}` |
//! | content type | `application/octet-stream` |
//! | request properties | `__ts` (required on SET), `__ft` (optional), `__srcId`, `__protVer` = `1.0` |
//! | response properties | `__stat` (`200` ok), `__stMsg`, `__apErr`, `__ts` (the value's version) |
//!
//! `HEX` is upper-case hexadecimal of the bytes. Requests are QoS 1 with a Response Topic,
//! Correlation Data and a Message Expiry Interval equal to the request timeout.

use std::sync::Arc;
use std::time::Duration;

use aio_mqtt::hlc::HlcTimestamp;

/// The state store's service id in its topics.
pub const SERVICE_ID: &str = "FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8";

/// Where requests go.
pub const REQUEST_TOPIC: &str = "statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke";

/// Every notification topic starts with this.
pub const NOTIFICATION_PREFIX: &str = "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/";

/// Content type of requests, responses and notifications.
pub const CONTENT_TYPE: &str = "application/octet-stream";

/// The protocol version this crate speaks (`__protVer`).
pub const PROTOCOL_VERSION: &str = "1.0";

/// Major protocol versions the service accepts (`__supProtMajVer`).
pub const SUPPORTED_MAJOR_VERSIONS: &str = "1";

/// How far a request's `__ts` or `__ft` may be ahead of the service's clock.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(60);

/// The user property names: the envelope's, and the fencing token.
pub mod property {
    pub use aio_mqtt::rpc::envelope::property::*;
    /// Fencing token (an HLC timestamp).
    pub const FENCING_TOKEN: &str = "__ft";
}

/// Response status codes (`__stat`): the envelope's.
pub use aio_mqtt::rpc::envelope::status;

/// `clients/{client_id}/services/` + [`REQUEST_TOPIC`] + `/response`.
pub fn response_topic(client_id: &str) -> String {
    format!("clients/{client_id}/services/{REQUEST_TOPIC}/response")
}

/// [`NOTIFICATION_PREFIX`] + `{HEX(client_id)}/command/notify/{HEX(key)}`.
pub fn notification_topic(client_id: &str, key: &[u8]) -> String {
    format!(
        "{NOTIFICATION_PREFIX}{}/command/notify/{}",
        hex_upper(client_id.as_bytes()),
        hex_upper(key)
    )
}

/// The filter matching every notification topic of `client_id`.
pub fn notification_filter(client_id: &str) -> String {
    format!(
        "{NOTIFICATION_PREFIX}{}/command/notify/+",
        hex_upper(client_id.as_bytes())
    )
}

/// The key of a notification topic of `client_id`; `None` for any other topic.
pub fn notification_key(topic: &str, client_id: &str) -> Option<Vec<u8>> {
    let rest = topic.strip_prefix(NOTIFICATION_PREFIX)?;
    let (client, rest) = rest.split_once('/')?;
    if !client.eq_ignore_ascii_case(&hex_upper(client_id.as_bytes())) {
        return None;
    }
    from_hex(rest.strip_prefix("command/notify/")?)
}

/// Whether a response topic must be refused: the request topic itself or a notification
/// topic (answering there would feed the service its own output).
pub fn is_forbidden_response_topic(topic: &str) -> bool {
    topic == REQUEST_TOPIC
        || topic.starts_with(NOTIFICATION_PREFIX)
        || topic.is_empty()
        || topic.contains(['+', '#', '\0'])
}

/// Upper-case hexadecimal.
pub fn hex_upper(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    text
}

/// Bytes from hexadecimal of either case; `None` for an odd length or a non-hex digit.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

/// Parses the text form `{millis}:{counter}:{node id}` (the node id may itself hold `:`).
/// `None` when it is malformed.
pub fn parse_hlc(text: &str) -> Option<HlcTimestamp> {
    let mut parts = text.splitn(3, ':');
    let millis = parts.next()?;
    let counter = parts.next()?;
    let node_id = parts.next()?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(millis) || !digits(counter) {
        return None;
    }
    Some(HlcTimestamp {
        millis: millis.parse().ok()?,
        counter: counter.parse().ok()?,
        node_id: Arc::from(node_id),
    })
}

pub use aio_mqtt::rpc::envelope::{expiry_secs, find_property};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_the_reference_ones() {
        assert_eq!(
            response_topic("conn-1"),
            "clients/conn-1/services/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke/response"
        );
        assert_eq!(
            notification_topic("ab", b"k\x01"),
            "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/6162/command/notify/6B01"
        );
        assert_eq!(
            notification_filter("ab"),
            "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/6162/command/notify/+"
        );
        assert_eq!(
            notification_key(&notification_topic("ab", b"key"), "ab"),
            Some(b"key".to_vec())
        );
        assert_eq!(
            notification_key(&notification_topic("ab", b"key"), "x"),
            None
        );
        assert_eq!(notification_key("clients/other", "ab"), None);
        assert!(is_forbidden_response_topic(REQUEST_TOPIC));
        assert!(is_forbidden_response_topic(&notification_topic("a", b"k")));
        assert!(!is_forbidden_response_topic(&response_topic("a")));
    }

    #[test]
    fn hex_round_trips_and_rejects_garbage() {
        assert_eq!(hex_upper(&[0x00, 0xab, 0xff]), "00ABFF");
        assert_eq!(from_hex("00abFF"), Some(vec![0x00, 0xab, 0xff]));
        assert_eq!(from_hex(""), Some(vec![]));
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
    }

    #[test]
    fn hlc_text_parses_and_rejects_garbage() {
        let ts = parse_hlc("001696374425000:00007:node:1").expect("valid");
        assert_eq!(
            (ts.millis, ts.counter, &*ts.node_id),
            (1_696_374_425_000, 7, "node:1")
        );
        assert_eq!(parse_hlc(&ts.to_string()), Some(ts));
        for bad in ["", "1", "1:2", "a:0:n", "1:-1:n", "1:99999999999:n", ":0:n"] {
            assert_eq!(parse_hlc(bad), None, "{bad}");
        }
    }
}
