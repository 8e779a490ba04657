//! One connection attempt: the request (headers, credentials, `Last-Event-ID`), manual
//! redirects, and the checks that turn a response into an event stream or a classified error.

use std::sync::Arc;
use std::time::SystemTime;

use http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use http::{HeaderName, HeaderValue, StatusCode};
use sse_parser::SmolStr;
use url::Url;

use crate::classify::{self, StatusClass};
use crate::client::SseClient;
use crate::config::StreamConfig;
use crate::error::{Error, ErrorKind, Source};
use crate::redirect::{self, MAX_REDIRECTS};
use crate::retry::parse_retry_after;

/// The `Last-Event-ID` request header.
const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");

/// What a successful attempt produced.
pub(crate) enum Outcome {
    /// A `200 text/event-stream` response, ready to read.
    Stream {
        /// The response whose body is the stream.
        response: reqwest::Response,
        /// The URL that answered (after redirects).
        url: Url,
        /// Its status.
        status: StatusCode,
    },
    /// HTTP 204: stop for good.
    Closed(Error),
}

/// Performs one attempt: requests `config.url`, follows up to [`MAX_REDIRECTS`] redirects,
/// and checks status and content type. Each hop's wait for the response head is bounded by
/// the connect timeout plus the idle timeout, so a server that accepts but never answers is
/// treated like a silent stream.
pub(crate) async fn open(
    client: SseClient,
    config: Arc<StreamConfig>,
    last_event_id: SmolStr,
) -> Result<Outcome, Error> {
    let last_event_id = last_event_id_header(&last_event_id);
    let mut url = config.url.clone();
    let mut redirects = 0;
    loop {
        let same_origin = redirect::same_origin(&config.url, &url);
        let request = request(&client, &config, &url, same_origin, last_event_id.as_ref())?;
        let bound = client.connect_timeout() + config.idle_timeout;
        let sent = tokio::time::timeout(bound, client.http(same_origin).execute(request));
        let response = match sent.await {
            Err(_elapsed) => {
                return Err(Error::new(
                    ErrorKind::IdleTimeout,
                    format!(
                        "no response from {url} within {bound:?} (connect timeout + idle timeout)"
                    ),
                ));
            }
            Ok(Err(e)) => return Err(transport_error(&url, e, false)),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        match classify::status(status) {
            StatusClass::Stream => {
                let content_type = response.headers().get(CONTENT_TYPE);
                if !classify::is_event_stream(content_type) {
                    let shown = content_type.map_or_else(
                        || "no Content-Type".to_owned(),
                        |v| {
                            format!(
                                "Content-Type {:?}",
                                String::from_utf8_lossy(v.as_bytes())
                                    .chars()
                                    .take(100)
                                    .collect::<String>()
                            )
                        },
                    );
                    return Err(Error::new(
                        ErrorKind::WrongContentType,
                        format!("{url} answered {status} with {shown}"),
                    )
                    .with_status(status));
                }
                return Ok(Outcome::Stream {
                    response,
                    url,
                    status,
                });
            }
            StatusClass::Closed => {
                return Ok(Outcome::Closed(
                    Error::new(ErrorKind::ClosedByServer, format!("{status} from {url}"))
                        .with_status(status),
                ));
            }
            StatusClass::Redirect => {
                if redirects == MAX_REDIRECTS {
                    return Err(Error::new(
                        ErrorKind::TooManyRedirects,
                        format!(
                            "more than {MAX_REDIRECTS} redirects starting at {}",
                            config.url
                        ),
                    )
                    .with_status(status));
                }
                redirects += 1;
                let next = redirect::resolve_location(&url, response.headers().get(LOCATION))
                    .map_err(|e| e.with_status(status))?;
                tracing::debug!(%status, from = %url, to = %next, "following redirect");
                url = next;
            }
            StatusClass::Fail(kind) => {
                let retry_after = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| parse_retry_after(v, SystemTime::now()));
                return Err(Error::new(kind, format!("{status} from {url}"))
                    .with_status(status)
                    .with_retry_after(retry_after));
            }
        }
    }
}

/// Builds the GET. Custom headers and credentials only go to the configured origin;
/// `Accept`, `Cache-Control` and `Last-Event-ID` go everywhere.
fn request(
    client: &SseClient,
    config: &StreamConfig,
    url: &Url,
    same_origin: bool,
    last_event_id: Option<&HeaderValue>,
) -> Result<reqwest::Request, Error> {
    let mut builder = client.http(same_origin).get(url.clone());
    if same_origin {
        builder = builder.headers(config.headers.clone());
        if let Some((username, password)) = client.basic_auth() {
            builder = builder.basic_auth(username, Some(password.expose()));
        }
    }
    builder = builder
        .header(ACCEPT, HeaderValue::from_static("text/event-stream"))
        .header(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Some(id) = last_event_id {
        builder = builder.header(LAST_EVENT_ID, id.clone());
    }
    builder.build().map_err(|e| {
        Error::new(
            ErrorKind::InvalidConfig,
            format!("cannot build the request for {url}"),
        )
        .with_source(Source::Http(e.without_url()))
    })
}

/// The `Last-Event-ID` header: absent when the id is empty, and absent (with a warning)
/// when the id holds characters a header cannot carry (control characters other than tab).
fn last_event_id_header(id: &str) -> Option<HeaderValue> {
    if id.is_empty() {
        return None;
    }
    match HeaderValue::from_str(id) {
        Ok(value) => Some(value),
        Err(_) => {
            tracing::warn!(
                id_len = id.len(),
                "the last event id contains control characters and cannot be sent as Last-Event-ID; resuming without it"
            );
            None
        }
    }
}

/// Classifies and describes a failed request (`reading == false`) or body read.
pub(crate) fn transport_error(url: &Url, err: reqwest::Error, reading: bool) -> Error {
    let kind = classify::transport(&err);
    let cause = classify::root_cause(&err);
    let what = match kind {
        ErrorKind::Connect => format!("cannot connect to {url} ({cause})"),
        ErrorKind::ConnectTimeout => format!("connecting to {url} timed out ({cause})"),
        ErrorKind::ServerCertificateRejected => {
            format!("TLS verification of {url} failed ({cause})")
        }
        ErrorKind::ClientCertificateRejected => {
            format!("{url} rejected the TLS client certificate ({cause})")
        }
        ErrorKind::TlsHandshake => format!("TLS handshake with {url} failed ({cause})"),
        _ if reading => format!("reading the stream from {url} failed ({cause})"),
        _ => format!("request to {url} failed ({cause})"),
    };
    Error::new(kind, what).with_source(Source::Http(err.without_url()))
}
