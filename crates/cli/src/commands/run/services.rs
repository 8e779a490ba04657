//! Where the state store and the schema registry run: as `--state-store` and
//! `--schema-registry` say, or, with `auto` (their default), decided at start.
//!
//! `auto` on the embedded broker is `embedded`: nothing else serves it. On an external broker
//! it asks: the client the connector uses anyway, once connected, sends a real request of the
//! service's protocol that finds nothing (a GET of a key, a `get` of a schema) with a
//! deadline of [`PROBE_TIMEOUT`]. Any answer, "not found" included, means the broker provides
//! the service (AIO's), and the connector uses it; silence means it does not (mosquitto), and
//! the connector runs the embedded one on that broker. A broker that does not accept the
//! connection within [`CONNECT_WAIT`] cannot be asked; the embedded service runs there too,
//! with a warning. Both services are asked at once (see `start_plumbing`).
//!
//! The decision is logged, and shown in the status (`connector.services`).

use std::future::Future;
use std::time::Duration;

use status::report::ServiceStatus;

/// How long a service has to answer the probe once the client is connected. AIO's
/// services answer within milliseconds; the deadline only bounds the wait on a broker
/// without them.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long the probe waits for the client's connection before it asks.
pub const CONNECT_WAIT: Duration = Duration::from_secs(10);

/// Where a service runs, decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// The connector runs the embedded service on the broker, and uses it.
    Embedded,
    /// The broker provides the service (AIO's); the connector only uses it.
    External,
    /// No service.
    Off,
}

impl Placement {
    /// `embedded`, `external` or `off`, as the status shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Embedded => "embedded",
            Self::External => "external",
            Self::Off => "off",
        }
    }
}

/// Where a service runs and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Where.
    pub placement: Placement,
    /// Why, for the status: `configured`, or what `auto` found.
    pub reason: String,
}

impl Decision {
    /// As the options, the environment or the config file asked.
    pub fn configured(placement: Placement) -> Self {
        Self {
            placement,
            reason: "configured".to_owned(),
        }
    }

    /// As the status shows it.
    pub fn status(&self) -> ServiceStatus {
        ServiceStatus {
            mode: self.placement.as_str().to_owned(),
            reason: self.reason.clone(),
        }
    }
}

/// The broker a service is decided for.
#[derive(Debug, Clone, Copy)]
pub struct Broker<'a> {
    /// `mqtt://host:port`, for the log.
    pub url: &'a str,
    /// Whether it is the embedded broker.
    pub embedded: bool,
}

/// What a probe found out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The service answered (whatever it said).
    Answered,
    /// No answer within [`PROBE_TIMEOUT`].
    Silent,
}

/// Decides where the service called `service` (`state store`, `schema registry`) runs:
/// `requested`, or with `auto` (`None`) embedded on the embedded broker, else what the
/// probe finds. `ready` completes when the probing client is connected; `ask` sends the
/// probe (polled only once connected). Logs the decision of `auto`.
///
/// # Cancel safety
/// Cancel safe: dropping it forgets the probe.
pub async fn decide(
    service: &str,
    requested: Option<Placement>,
    broker: Broker<'_>,
    ready: impl Future<Output = ()>,
    ask: impl Future<Output = Answer>,
) -> Decision {
    let decision = |placement, reason: &str| Decision {
        placement,
        reason: reason.to_owned(),
    };
    if let Some(placement) = requested {
        return Decision::configured(placement);
    }
    if broker.embedded {
        return decision(Placement::Embedded, "auto: the embedded broker");
    }
    let url = broker.url;
    if tokio::time::timeout(CONNECT_WAIT, ready).await.is_err() {
        tracing::warn!(
            "{service}: not connected to {url} within {} s to ask whether it provides the \
             service; running the embedded one on that broker",
            CONNECT_WAIT.as_secs()
        );
        return decision(
            Placement::Embedded,
            &format!(
                "auto: not connected to the broker within {}s",
                CONNECT_WAIT.as_secs()
            ),
        );
    }
    match ask.await {
        Answer::Answered => {
            tracing::info!("{service}: AIO's service on the broker answered; using it");
            decision(Placement::External, "auto: the broker's service answered")
        }
        Answer::Silent => {
            tracing::info!(
                "no {service} service answered on {url} within {} s; running the embedded \
                 one on that broker",
                PROBE_TIMEOUT.as_secs()
            );
            decision(
                Placement::Embedded,
                &format!(
                    "auto: no answer from the broker within {}s",
                    PROBE_TIMEOUT.as_secs()
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::{pending, ready};

    use super::*;

    const BROKER: Broker<'static> = Broker {
        url: "mqtt://b:1883",
        embedded: false,
    };

    async fn unused() -> Answer {
        panic!("the probe must not be sent")
    }

    #[tokio::test]
    async fn a_configured_mode_and_the_embedded_broker_need_no_probe() {
        let off = decide("s", Some(Placement::Off), BROKER, pending(), unused()).await;
        assert_eq!(off.status().mode, "off");
        assert_eq!(off.reason, "configured");
        let embedded = Broker {
            embedded: true,
            ..BROKER
        };
        let auto = decide("s", None, embedded, pending(), unused()).await;
        assert_eq!(auto.placement, Placement::Embedded);
        assert_eq!(auto.reason, "auto: the embedded broker");
    }

    #[tokio::test]
    async fn auto_follows_the_answer() {
        let answered = decide("s", None, BROKER, ready(()), ready(Answer::Answered)).await;
        assert_eq!(answered.placement, Placement::External);
        let silent = decide("s", None, BROKER, ready(()), ready(Answer::Silent)).await;
        assert_eq!(silent.placement, Placement::Embedded);
        assert_eq!(silent.reason, "auto: no answer from the broker within 2s");
    }
}
