//! `GET /api/v1/assets/{name}/tail`: a live feed of the messages forwarded for an asset,
//! itself as Server-Sent Events, read from the runtime's [`TailSource`].
//!
//! Each message is one event:
//!
//! ```text
//! event: message
//! id: 1
//! data: {"operation":"weather/datasets/weatherdata","destination":"plant/weather","sseEvent":"reading","sseId":"42","contentType":"application/json","time":"2026-11-27T12:00:00Z","payload":"{\"t\":21.5}","payloadBase64":false}
//! ```
//!
//! `id` counts the events of this feed from 1; `payload` is the payload as text when it is
//! UTF-8, else its base64 with `payloadBase64: true`. A reader too slow for the flow loses the
//! oldest messages, never the flow: it then gets `event: lagged` with `{"skipped": N}`, the
//! number lost. The feed has one queue, the runtime's (`broadcast`, one per asset); the
//! runtime's adapter and this route pass items on as the client takes them, so a lag can only
//! happen there and always reaches the client ([`TailFeed`]). A
//! comment (`: keep-alive`) every 15 s keeps proxies from closing a quiet feed. The feed starts
//! with the next message forwarded (there is no replay), and ends when the listener stops.
//!
//! 404 when the listener has no tail source, or when the registry (if it has one) has no
//! such asset. Like every API route it needs the bearer token when one is set: the web UI
//! reads it with `fetch` and a streaming body, not `EventSource`, which cannot send the
//! `Authorization` header (a token in a query string would end up in logs and history).
//!
//! [`TailSource`]: crate::TailSource
//! [`TailFeed`]: tail_feed::TailFeed

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use model::Kind;
use serde::Serialize;
use tail_feed::{TailItem, TailMessage};

use crate::reply;
use crate::server::AppState;
use crate::store::store;

/// How often a quiet feed gets a keep-alive comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The `data` of one `message` event.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct MessageData<'a> {
    operation: &'a str,
    destination: &'a str,
    sse_event: &'a str,
    sse_id: &'a str,
    content_type: &'a str,
    time: &'a str,
    payload: String,
    payload_base64: bool,
}

fn message_event(message: &TailMessage, id: u64) -> Event {
    let (payload, payload_base64) = match std::str::from_utf8(&message.payload) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (base64(&message.payload), true),
    };
    let data = MessageData {
        operation: &message.operation,
        destination: &message.destination,
        sse_event: &message.sse_event,
        sse_id: &message.sse_id,
        content_type: &message.content_type,
        time: &message.time,
        payload,
        payload_base64,
    };
    Event::default()
        .event("message")
        .id(id.to_string())
        .data(serde_json::to_string(&data).unwrap_or_default())
}

fn lagged_event(skipped: u64) -> Event {
    Event::default()
        .event("lagged")
        .data(serde_json::json!({ "skipped": skipped }).to_string())
}

pub(crate) async fn tail(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    let Some(source) = state.tail.clone() else {
        return reply::error(
            StatusCode::NOT_FOUND,
            "no live tail is available to this listener",
        );
    };
    if let Ok(store) = store(&state) {
        let wanted = name.clone();
        match store
            .run(false, move |registry| registry.find(Kind::Asset, &wanted))
            .await
        {
            Ok(Some(_)) => {}
            Ok(None) => {
                return reply::error(StatusCode::NOT_FOUND, &format!("no asset named {name:?}"));
            }
            Err(error) => return store.failure(&error),
        }
    }
    let mut id = 0_u64;
    let feed = source
        .subscribe(&name)
        .map(move |item| {
            Ok::<_, Infallible>(match item {
                TailItem::Message(message) => {
                    id += 1;
                    message_event(&message, id)
                }
                TailItem::Lagged(skipped) => lagged_event(skipped),
            })
        })
        .take_until(state.shutdown.clone().cancelled_owned());
    let mut response = Sse::new(feed)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive"))
        .into_response();
    // Reverse proxies must not hold the feed back.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, expected) in cases {
            assert_eq!(base64(input.as_bytes()), expected, "{input:?}");
        }
        assert_eq!(base64(&[0xff, 0xfe, 0x00]), "//4A");
    }
}
