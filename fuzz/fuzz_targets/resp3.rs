//! The state store's RESP3 payloads: requests (what the embedded service reads), responses
//! and notifications (what the client reads). No panic; whatever parses encodes back to the
//! same value.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use statestore::resp3::{Notification, Request, Response};

fuzz_target!(|data: &[u8]| {
    let payload = Bytes::copy_from_slice(data);
    if let Ok(request) = Request::parse(&payload) {
        assert_eq!(Request::parse(&request.encode()), Ok(request));
    }
    if let Ok(response) = Response::parse(&payload) {
        // An error text is one line: its line breaks are written as spaces.
        let expected = match &response {
            Response::Error(text) => Response::Error(text.replace(['\r', '\n'], " ")),
            other => other.clone(),
        };
        assert_eq!(Response::parse(&response.encode()), Ok(expected));
    }
    if let Ok(notification) = Notification::parse(&payload) {
        assert_eq!(
            Notification::parse(&notification.encode()),
            Ok(notification)
        );
    }
});
