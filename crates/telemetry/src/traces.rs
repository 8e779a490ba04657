//! Traces: the tracer provider (OTLP exporter, batch processor on tokio), the spans the
//! runtime makes, and W3C `traceparent` formatting.
//!
//! Spans:
//! - `connect`: one per connection attempt of a stream, from the attempt to the response
//!   (ok) or the failure (error status with the reason code). Always recorded when traces
//!   are exported: there are few.
//! - `forward`: one per forwarded message of a *sampled* event, from the event's arrival to
//!   the delivery's completion (PUBACK for QoS 1), kind `Producer`. The message carries the
//!   span's context as a `traceparent` user property, so a consumer continues the trace.
//!
//! Sampling is decided by the runtime before anything is built ([`EventSampler`]): a
//! per-task xorshift draw against the ratio, a few nanoseconds and no allocation. Ratio 0 (or
//! no trace export) never draws. The SDK sampler is `AlwaysOn`, since what reaches it was
//! already sampled.

use std::hash::BuildHasher as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

use crate::error::Error;
use crate::metrics::SERVICE;
use crate::otlp::Endpoint;

/// Default share of events that get a `forward` span.
pub const DEFAULT_SAMPLE_RATIO: f64 = 0.01;

/// The resource of traces and logs.
pub(crate) fn resource(instance: &str) -> Resource {
    Resource::builder()
        .with_service_name(SERVICE)
        .with_attribute(KeyValue::new("service.instance.id", instance.to_owned()))
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build()
}

/// A tracer provider exporting to `endpoint`.
///
/// # Errors
/// When the exporter cannot be built.
pub(crate) fn provider(
    endpoint: &Endpoint,
    instance: &str,
    client: reqwest::Client,
) -> Result<SdkTracerProvider, Error> {
    let exporter = crate::otlp::signal_exporter!(SpanExporter, "traces", endpoint, client)?;
    let processor =
        opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
            exporter,
            opentelemetry_sdk::runtime::Tokio,
        )
        .build();
    Ok(SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(resource(instance))
        .build())
}

/// What the runtime traces with; cheap to clone. [`Tracer::disabled`] (the default) makes no
/// span and never samples.
#[derive(Clone, Default)]
pub struct Tracer {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    tracer: SdkTracer,
    threshold: u64,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer")
            .field("enabled", &self.inner.is_some())
            .finish()
    }
}

/// The draw threshold of `ratio` (clamped to 0..=1): sampled when a uniform `u64` is below
/// it; `u64::MAX` means always.
fn threshold(ratio: f64) -> u64 {
    if ratio.is_nan() || ratio <= 0.0 {
        0
    } else if ratio >= 1.0 {
        u64::MAX
    } else {
        (ratio * u64::MAX as f64) as u64
    }
}

impl Tracer {
    /// No tracing.
    pub fn disabled() -> Self {
        Self::default()
    }

    /// Traces with `provider`, sampling `ratio` of the events (0 to 1).
    pub fn new(provider: &SdkTracerProvider, ratio: f64) -> Self {
        use opentelemetry::trace::TracerProvider as _;
        Self {
            inner: Some(Arc::new(Inner {
                tracer: provider.tracer("sse-connector"),
                threshold: threshold(ratio),
            })),
        }
    }

    /// Makes spans (and `traceparent`s) that are exported nowhere: for tests, and to check
    /// the propagation without a collector.
    pub fn without_export(ratio: f64) -> Self {
        Self::new(&SdkTracerProvider::builder().build(), ratio)
    }

    /// Whether spans are made at all.
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// A sampler for one task (each task draws on its own; no shared state).
    pub fn sampler(&self) -> EventSampler {
        static SEEDS: AtomicU64 = AtomicU64::new(0);
        let seed = std::collections::hash_map::RandomState::new()
            .hash_one(SEEDS.fetch_add(1, Ordering::Relaxed));
        EventSampler {
            threshold: self.inner.as_ref().map_or(0, |i| i.threshold),
            state: seed | 1,
        }
    }

    /// Starts the `forward` span of one message of a sampled event; `None` when disabled.
    pub fn forward_span(&self, message: &ForwardAttributes<'_>) -> Option<EventSpan> {
        let inner = self.inner.as_ref()?;
        let mut attributes = vec![
            KeyValue::new("sse.operation", message.operation.to_owned()),
            KeyValue::new("messaging.destination.name", message.destination.to_owned()),
            KeyValue::new("sse.event", message.sse_event.to_owned()),
            KeyValue::new("messaging.message.body.size", message.payload_bytes as i64),
        ];
        if !message.sse_id.is_empty() {
            attributes.push(KeyValue::new("sse.id", message.sse_id.to_owned()));
        }
        let span = inner
            .tracer
            .span_builder("forward")
            .with_kind(SpanKind::Producer)
            .with_start_time(message.arrived)
            .with_attributes(attributes)
            .start(&inner.tracer);
        Some(EventSpan {
            span: Box::new(span),
        })
    }

    /// Starts the `connect` span of a connection attempt to `url` (its query left out);
    /// `None` when disabled.
    pub fn connect_span(&self, url: &url::Url, attempt: u32) -> Option<EventSpan> {
        let inner = self.inner.as_ref()?;
        let shown = format!(
            "{}://{}{}",
            url.scheme(),
            url.host_str().unwrap_or_default(),
            url.path()
        );
        let span = inner
            .tracer
            .span_builder("connect")
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new("url.full", shown),
                KeyValue::new("sse.attempt", i64::from(attempt)),
            ])
            .start(&inner.tracer);
        Some(EventSpan {
            span: Box::new(span),
        })
    }
}

/// What a `forward` span records (all from the definitions and the event's type and id; never
/// the payload).
#[derive(Debug, Clone, Copy)]
pub struct ForwardAttributes<'a> {
    /// The operation.
    pub operation: &'a str,
    /// The topic, key or file.
    pub destination: &'a str,
    /// The SSE event type.
    pub sse_event: &'a str,
    /// The SSE event id.
    pub sse_id: &'a str,
    /// Payload size.
    pub payload_bytes: usize,
    /// When the event arrived (the span's start).
    pub arrived: std::time::SystemTime,
}

/// Decides which events are traced, for one task.
#[derive(Debug, Clone)]
pub struct EventSampler {
    threshold: u64,
    state: u64,
}

impl EventSampler {
    /// Whether the next event is sampled.
    #[inline]
    pub fn sample(&mut self) -> bool {
        match self.threshold {
            0 => false,
            u64::MAX => true,
            threshold => {
                // xorshift64*
                let mut x = self.state;
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                self.state = x;
                x.wrapping_mul(0x2545_F491_4F6C_DD1D) < threshold
            }
        }
    }
}

/// A started span; ends (with its status) when [`end`](Self::end) is called or it is dropped.
#[derive(Debug)]
pub struct EventSpan {
    /// Boxed: a span is a few hundred bytes, and the runtime keeps an `Option<EventSpan>`
    /// beside every delivery in flight.
    span: Box<opentelemetry_sdk::trace::Span>,
}

impl EventSpan {
    /// The W3C `traceparent` of this span: `00-<trace id>-<span id>-<flags>`.
    pub fn traceparent(&self) -> String {
        let cx = self.span.span_context();
        traceparent(
            &cx.trace_id().to_string(),
            &cx.span_id().to_string(),
            cx.trace_flags().to_u8(),
        )
    }

    /// Ends the span, with an error status carrying `error` (a reason code or message, never
    /// a secret) when there is one.
    pub fn end(mut self, error: Option<&str>) {
        match error {
            None => self.span.set_status(Status::Ok),
            Some(error) => self.span.set_status(Status::error(error.to_owned())),
        }
        self.span.end();
    }
}

/// `00-{trace_id}-{span_id}-{flags:02x}` (W3C Trace Context, version 00).
pub fn traceparent(trace_id: &str, span_id: &str, flags: u8) -> String {
    format!("00-{trace_id}-{span_id}-{flags:02x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_bounds() {
        let sample = |ratio: f64| {
            let mut s = EventSampler {
                threshold: threshold(ratio),
                state: 0x9E37_79B9_7F4A_7C15,
            };
            (0..10_000).filter(|_| s.sample()).count()
        };
        assert_eq!(sample(0.0), 0);
        assert_eq!(sample(f64::NAN), 0);
        assert_eq!(sample(1.0), 10_000);
        assert_eq!(sample(2.0), 10_000);
        let tenth = sample(0.1);
        assert!((800..1200).contains(&tenth), "{tenth}");
    }

    #[test]
    fn disabled_tracer_never_samples_nor_spans() {
        let tracer = Tracer::disabled();
        let mut sampler = tracer.sampler();
        assert!(!(0..1000).any(|_| sampler.sample()));
        let url: url::Url = "http://h/s".parse().expect("url");
        assert!(tracer.connect_span(&url, 1).is_none());
    }

    #[test]
    fn traceparent_format() {
        assert_eq!(
            traceparent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
    }

    #[tokio::test]
    async fn spans_have_a_traceparent() {
        let provider = SdkTracerProvider::builder().build();
        let tracer = Tracer::new(&provider, 1.0);
        let span = tracer
            .forward_span(&ForwardAttributes {
                operation: "a/datasets/d",
                destination: "t",
                sse_event: "m",
                sse_id: "1",
                payload_bytes: 3,
                arrived: std::time::SystemTime::now(),
            })
            .expect("enabled");
        let tp = span.traceparent();
        assert_eq!(tp.len(), 55, "{tp}");
        assert!(tp.starts_with("00-") && tp.ends_with("-01"), "{tp}");
        span.end(None);
    }
}
