//! What a server says about when to come back and what it sends: `retry:` fields in the
//! stream, the `Retry-After` header, `Content-Type` and `Location`. No panic; `Retry-After`
//! is capped; the delay before an attempt never exceeds the policy's maximum, or the capped
//! `Retry-After` when that is longer; redirect targets carry no user information.
#![no_main]

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::HeaderValue;
use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use rand::rngs::StdRng;
use sse_client::retry::{RETRY_AFTER_CAP, RetryPolicy, parse_retry_after};
use sse_parser::Frame;
use url::Url;

fuzz_target!(|data: &[u8]| {
    let Some((&attempt, rest)) = data.split_first() else {
        return;
    };
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000);
    let retry_after = HeaderValue::from_bytes(rest)
        .ok()
        .and_then(|value| parse_retry_after(&value, now));
    if let Some(after) = retry_after {
        assert!(after <= RETRY_AFTER_CAP);
    }

    let mut stream = b"retry:".to_vec();
    stream.extend_from_slice(rest);
    stream.extend_from_slice(b"\n\n");
    let frames = sse_parser::fuzz::decode_chunks([Bytes::from(stream)], 1 << 16);
    let policy = RetryPolicy::default();
    let mut rng = StdRng::seed_from_u64(u64::from(attempt));
    for frame in frames.into_iter().flatten() {
        if let Frame::Retry(ms) = frame {
            let hint = Some(Duration::from_millis(ms));
            for attempt in [0, 1, u32::from(attempt), u32::MAX] {
                let delay = policy.next_delay_with(attempt, hint, retry_after, &mut rng);
                let ceiling = policy.max().max(retry_after.unwrap_or_default());
                assert!(delay <= ceiling, "{delay:?} > {ceiling:?}");
                assert!(policy.base_delay(attempt, hint) <= policy.max());
            }
        }
    }

    let _ = sse_client::fuzz::is_event_stream(rest);
    let from = Url::parse("https://user:pw@device.local:8443/events/a?x=1").expect("URL");
    let _ = sse_client::fuzz::redirect(&from, rest);
});
